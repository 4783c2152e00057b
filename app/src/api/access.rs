//! Access management: role assignments, users, teams, robots, personal access tokens and the
//! "Why?" explainer. Every function authorizes through the one decision function: registry
//! administrators (Owner of the whole registry) manage users and teams; whoever may manage
//! access over all of a scope manages the assignments and robots in it. Every change forgets the
//! verified credentials cached by the token server and makes open live streams check their
//! reader again ([`AppState::access_changed`]), so it applies at once.
//!
//! [`AppState::access_changed`]: crate::backend::AppState::access_changed

use leptos::prelude::*;

use crate::model::{AccessView, AppError, AssignmentView, Explanation, NewSecret, ProfileView};

#[cfg(feature = "ssr")]
use crate::backend::audit::AuditAction;

#[cfg(feature = "ssr")]
mod server {
    use crate::backend::access::assignments::NamedAssignment;
    use crate::backend::access::{pull_secret, robots, Action, Scope, Target};
    use crate::backend::session::Caller;
    use crate::backend::AppState;
    use crate::model::{AppError, AssignmentView, NewSecret, RobotView};

    pub fn assignment_view(named: &NamedAssignment) -> AssignmentView {
        AssignmentView {
            id: named.assignment.id.clone(),
            principal_kind: named.assignment.principal.kind().to_string(),
            principal_name: named.principal_name.clone(),
            role: named.assignment.role.label().to_string(),
            scope: named.assignment.scope.to_text(),
        }
    }

    pub fn robot_view(robot: robots::RobotRecord) -> RobotView {
        RobotView {
            id: robot.id,
            name: robot.name,
            description: robot.description,
            scope: robot.scope,
            enabled: robot.enabled != 0,
            expires_at_ms: robot.expires_at,
            created_at_ms: robot.created_at,
            last_used_at_ms: robot.last_used_at,
        }
    }

    pub fn parse_scope(text: &str) -> Result<Scope, AppError> {
        Scope::parse(text).map_err(|err| AppError::BadRequest(format!("{err}.")))
    }

    /// Whether the current call is a form a browser posted by itself (JavaScript off): it asks
    /// for HTML, and leptos_axum answers it with a redirect back to the page.
    pub async fn posted_without_javascript() -> bool {
        leptos_axum::extract::<axum::http::HeaderMap>()
            .await
            .ok()
            .and_then(|headers| {
                headers
                    .get(axum::http::header::ACCEPT)?
                    .to_str()
                    .ok()
                    .map(str::to_owned)
            })
            .is_some_and(|accept| accept.contains("text/html"))
    }

    /// Users and teams are the registry administrators' business.
    pub fn require_administrator(caller: &Caller, what: &str) -> Result<(), AppError> {
        caller.require(Target::Registry, Action::Administer, what)
    }

    /// Managing what lies in `scope` needs the right to manage access over all of it.
    pub fn require_manage(caller: &Caller, scope: &Scope) -> Result<(), AppError> {
        caller.require(
            Target::Within(scope),
            Action::ManageAccess,
            &format!("manage access in {}", scope.describe()),
        )
    }

    /// The robot `id`, once the caller may manage its scope.
    pub async fn managed_robot(state: &AppState, caller: &Caller, id: &str) -> Result<robots::RobotRecord, AppError> {
        let robot = robots::find(&state.db, id)
            .await?
            .ok_or_else(|| AppError::NotFound("That robot".into()))?;
        require_manage(caller, &parse_scope(&robot.scope)?)?;
        Ok(robot)
    }

    pub fn docker_login(state: &AppState, login: &str) -> String {
        format!("docker login {} -u {login}", state.settings.registry_host)
    }

    /// A robot's secret, shown once, with its imagePullSecret.
    pub fn robot_secret(state: &AppState, name: &str, secret: String) -> NewSecret {
        NewSecret {
            login: name.to_string(),
            docker_login: docker_login(state, name),
            pull_secret: Some(pull_secret::pull_secret(&state.settings.registry_host, name, &secret)),
            secret,
        }
    }

    /// The enabled user, usable robot or anyone the explainer is asked about.
    pub async fn explained_subject(
        state: &AppState,
        principal_kind: &str,
        name: &str,
    ) -> Result<crate::backend::access::Subject, AppError> {
        use crate::backend::access::Subject;
        use crate::backend::users;
        match principal_kind {
            "user" => users::find_record_by_name(&state.db, name)
                .await?
                .filter(|u| u.disabled == 0)
                .map(|u| {
                    Subject::User(crate::backend::users::User {
                        id: u.id,
                        username: u.username,
                        is_admin: false,
                    })
                }),
            "robot" => robots::find_by_name(&state.db, name)
                .await?
                .filter(|r| r.usable_at(crate::backend::db::now_ms()))
                .map(|r| Subject::Robot(robots::Robot { id: r.id, name: r.name })),
            "anonymous" => Some(Subject::Anonymous),
            _ => return Err(AppError::BadRequest("Ask about a user, a robot or anyone.".into())),
        }
        .ok_or_else(|| AppError::BadRequest(format!("There is no enabled {principal_kind} named {name:?}.")))
    }

    /// A user-chosen name for a token, team or description: trimmed, bounded, printable.
    pub fn bounded_text(text: &str, what: &str, max: usize) -> Result<String, AppError> {
        let text = text.trim();
        if text.chars().count() > max || text.chars().any(char::is_control) {
            return Err(AppError::BadRequest(format!(
                "The {what} must be at most {max} characters, without line breaks."
            )));
        }
        Ok(text.to_string())
    }

    /// Days from now as Unix ms; `None` for "never" (0 days).
    pub fn expiry(days: &str, max_days: u32) -> Result<Option<i64>, AppError> {
        let days: u32 = days
            .trim()
            .parse()
            .map_err(|_| AppError::BadRequest("Give the lifetime in whole days.".into()))?;
        if days == 0 && max_days > 0 {
            return Err(AppError::BadRequest(format!(
                "Robots must expire: choose at most {max_days} days."
            )));
        }
        if max_days > 0 && days > max_days {
            return Err(AppError::BadRequest(format!(
                "At most {max_days} days are allowed here."
            )));
        }
        Ok((days > 0).then(|| crate::backend::db::now_ms() + i64::from(days) * 86_400_000))
    }
}

/// The Access page: what the caller may manage.
#[server(prefix = "/api", endpoint = "access")]
pub async fn access_page() -> Result<AccessView, AppError> {
    use crate::backend::access::{assignments, robots, teams, Action, Target};
    use crate::backend::{session, users};
    use crate::model::{TeamView, UserView};
    use server::*;
    crate::backend::responses::with_status(
        async move {
            let (state, caller) = session::signed_in().await?;
            let manages_any = caller
                .grants
                .assignments
                .iter()
                .any(|a| a.role.allows(Action::ManageAccess));
            if !manages_any {
                return Err(AppError::Forbidden("manage access".into()));
            }
            let manages = |scope: &crate::backend::access::Scope| {
                caller.grants.allows(Target::Within(scope), Action::ManageAccess)
            };
            let assignments = assignments::list(&state.db)
                .await?
                .iter()
                .filter(|named| manages(&named.assignment.scope))
                .map(assignment_view)
                .collect();
            let robots = robots::list(&state.db)
                .await?
                .into_iter()
                .filter(|robot| parse_scope(&robot.scope).is_ok_and(|scope| manages(&scope)))
                .map(robot_view)
                .collect();
            let can_administer = caller.grants.allows(Target::Registry, Action::Administer);
            let (users, teams, tokens) = if can_administer {
                let users = users::list(&state.db)
                    .await?
                    .into_iter()
                    .map(|u| UserView {
                        id: u.id,
                        username: u.username,
                        disabled: u.disabled != 0,
                        created_at_ms: u.created_at,
                    })
                    .collect();
                let mut members = teams::member_names(&state.db).await?;
                let team_views = teams::list(&state.db)
                    .await?
                    .into_iter()
                    .map(|team| TeamView {
                        members: members.remove(&team.id).unwrap_or_default(),
                        sso_group: team.sso_group,
                        id: team.id,
                        name: team.name,
                    })
                    .collect();
                let tokens = crate::backend::access::personal_tokens::list_all(&state.db)
                    .await?
                    .into_iter()
                    .map(|owned| crate::model::TokenView {
                        id: owned.token.id,
                        name: owned.token.name,
                        owner: owned.username,
                        expires_at_ms: owned.token.expires_at,
                        created_at_ms: owned.token.created_at,
                        last_used_at_ms: owned.token.last_used_at,
                    })
                    .collect();
                (users, team_views, tokens)
            } else {
                (Vec::new(), Vec::new(), Vec::new())
            };
            Ok(AccessView {
                assignments,
                users,
                teams,
                robots,
                tokens,
                can_administer,
                robot_max_days: state.settings.robot_max_days,
                generated_at_ms: crate::backend::db::now_ms(),
            })
        }
        .await,
    )
    .await
}

/// Gives `role` to a user, team, robot or anyone (`principal_kind` "anonymous") within `scope`.
#[server(prefix = "/api", endpoint = "add_assignment")]
pub async fn add_assignment(
    principal_kind: String,
    principal_name: String,
    role: String,
    scope: String,
) -> Result<AssignmentView, AppError> {
    use crate::backend::access::assignments::{self, AssignError, NamedAssignment};
    use crate::backend::access::{robots, teams, Principal, Role};
    use crate::backend::{session, users};
    use server::*;
    crate::backend::responses::with_status(
        async move {
            let (state, caller) = session::signed_in().await?;
            let scope = parse_scope(&scope)?;
            require_manage(&caller, &scope)?;
            let role = Role::parse(&role).ok_or_else(|| {
                AppError::BadRequest("Choose a role: Reader, Contributor, Owner, Puller, Pusher or Deleter.".into())
            })?;
            let name = principal_name.trim();
            let not_found = |what: &str| AppError::BadRequest(format!("There is no {what} named {name:?}."));
            let principal = match principal_kind.as_str() {
                "user" => Principal::User(
                    users::find_record_by_name(&state.db, name)
                        .await?
                        .ok_or_else(|| not_found("user"))?
                        .id,
                ),
                "team" => Principal::Team(
                    teams::find_by_name(&state.db, name)
                        .await?
                        .ok_or_else(|| not_found("team"))?
                        .id,
                ),
                "robot" => {
                    let robot = robots::find_by_name(&state.db, name)
                        .await?
                        .ok_or_else(|| not_found("robot"))?;
                    // A robot's roles stay within the scope it belongs to.
                    if !parse_scope(&robot.scope)?.contains(&scope) {
                        return Err(AppError::BadRequest(format!(
                            "Robot {name} belongs to {}: give it roles there only.",
                            parse_scope(&robot.scope)?.describe()
                        )));
                    }
                    Principal::Robot(robot.id)
                }
                "anonymous" => Principal::Anonymous,
                _ => return Err(AppError::BadRequest("Assign to a user, team, robot or anyone.".into())),
            };
            let assignment = assignments::add(&state.db, &principal, role, &scope, Some(&caller.user.username))
                .await
                .map_err(|err| match err {
                    AssignError::Db(err) => AppError::from(err),
                    other => AppError::BadRequest(format!("{}.", crate::format::capitalized(&other.to_string()))),
                })?;
            state.access_changed();
            let principal_name = if principal == Principal::Anonymous {
                "anyone".to_string()
            } else {
                name.to_string()
            };
            let detail = format!("{} {} in {}", role.label(), principal_name, scope.describe());
            caller
                .audit(&state, AuditAction::RoleAssigned, &principal_name, &detail)
                .await;
            Ok(assignment_view(&NamedAssignment {
                assignment,
                principal_name,
            }))
        }
        .await,
    )
    .await
}

#[server(prefix = "/api", endpoint = "remove_assignment")]
pub async fn remove_assignment(id: String) -> Result<(), AppError> {
    use crate::backend::access::assignments;
    use crate::backend::session;
    use server::*;
    crate::backend::responses::with_status(
        async move {
            let (state, caller) = session::signed_in().await?;
            let assignment = assignments::find(&state.db, &id)
                .await?
                .ok_or_else(|| AppError::NotFound("That assignment".into()))?;
            require_manage(&caller, &assignment.scope)?;
            assignments::remove(&state.db, &id).await?;
            state.access_changed();
            let detail = format!("{} in {}", assignment.role.label(), assignment.scope.describe());
            caller
                .audit(
                    &state,
                    AuditAction::RoleRemoved,
                    &format!("{} {}", assignment.principal.kind(), assignment.principal.id()),
                    &detail,
                )
                .await;
            Ok(())
        }
        .await,
    )
    .await
}

/// Creates a local user. An empty password generates one, shown once.
#[server(prefix = "/api", endpoint = "create_user")]
pub async fn create_user(username: String, password: String) -> Result<NewSecret, AppError> {
    use crate::backend::access::robots::valid_name;
    use crate::backend::{passwords, session, users};
    use server::*;
    crate::backend::responses::with_status(
        async move {
            let (state, caller) = session::signed_in().await?;
            require_administrator(&caller, "create users")?;
            let username = username.trim();
            if !valid_name(username) {
                return Err(AppError::BadRequest(
                    "A user name is 1 to 64 lower-case letters, digits, '.', '_' or '-'.".into(),
                ));
            }
            if password.len() > passwords::MAX_PASSWORD_BYTES || (!password.is_empty() && password.len() < 8) {
                return Err(AppError::BadRequest("A password is 8 to 1024 characters.".into()));
            }
            if users::name_taken(&state.db, username).await? {
                return Err(AppError::BadRequest(format!(
                    "A user or robot named {username} exists already."
                )));
            }
            let password = if password.is_empty() {
                passwords::generate()
            } else {
                password
            };
            users::create(&state.db, username, &password, false).await?;
            caller.audit(&state, AuditAction::UserCreated, username, "").await;
            Ok(NewSecret {
                login: username.to_string(),
                docker_login: docker_login(&state, username),
                secret: password,
                pull_secret: None,
            })
        }
        .await,
    )
    .await
}

/// Disables or enables a user (not oneself).
#[server(prefix = "/api", endpoint = "set_user_disabled")]
pub async fn set_user_disabled(id: String, disabled: bool) -> Result<(), AppError> {
    use crate::backend::access::refresh_tokens;
    use crate::backend::{session, users};
    use server::*;
    crate::backend::responses::with_status(
        async move {
            let (state, caller) = session::signed_in().await?;
            require_administrator(&caller, "disable users")?;
            if id == caller.user.id {
                return Err(AppError::BadRequest("You cannot disable yourself.".into()));
            }
            if !users::set_disabled(&state.db, &id, disabled).await? {
                return Err(AppError::NotFound("That user".into()));
            }
            if disabled {
                refresh_tokens::revoke_all(&state.db, "user", &id).await?;
            }
            state.access_changed();
            let action = if disabled {
                AuditAction::UserDisabled
            } else {
                AuditAction::UserEnabled
            };
            caller.audit(&state, action, &id, "").await;
            Ok(())
        }
        .await,
    )
    .await
}

/// Gives a user a new generated password, shown once.
#[server(prefix = "/api", endpoint = "reset_password")]
pub async fn reset_password(id: String) -> Result<NewSecret, AppError> {
    use crate::backend::{passwords, session, users};
    use server::*;
    crate::backend::responses::with_status(
        async move {
            let (state, caller) = session::signed_in().await?;
            require_administrator(&caller, "reset passwords")?;
            let user = users::list(&state.db)
                .await?
                .into_iter()
                .find(|u| u.id == id)
                .ok_or_else(|| AppError::NotFound("That user".into()))?;
            let password = passwords::generate();
            users::set_password(&state.db, &id, &password).await?;
            state.access_changed();
            caller
                .audit(&state, AuditAction::PasswordReset, &user.username, "")
                .await;
            Ok(NewSecret {
                docker_login: docker_login(&state, &user.username),
                login: user.username,
                secret: password,
                pull_secret: None,
            })
        }
        .await,
    )
    .await
}

#[server(prefix = "/api", endpoint = "create_team")]
pub async fn create_team(name: String) -> Result<(), AppError> {
    use crate::backend::access::{robots::valid_name, teams};
    use crate::backend::session;
    use server::*;
    crate::backend::responses::with_status(
        async move {
            let (state, caller) = session::signed_in().await?;
            require_administrator(&caller, "create teams")?;
            let name = name.trim();
            if !valid_name(name) {
                return Err(AppError::BadRequest(
                    "A team name is 1 to 64 lower-case letters, digits, '.', '_' or '-'.".into(),
                ));
            }
            teams::create(&state.db, name)
                .await?
                .ok_or_else(|| AppError::BadRequest(format!("A team named {name} exists already.")))?;
            caller.audit(&state, AuditAction::TeamCreated, name, "").await;
            Ok(())
        }
        .await,
    )
    .await
}

#[server(prefix = "/api", endpoint = "delete_team")]
pub async fn delete_team(id: String) -> Result<(), AppError> {
    use crate::backend::access::teams;
    use crate::backend::session;
    use server::*;
    crate::backend::responses::with_status(
        async move {
            let (state, caller) = session::signed_in().await?;
            require_administrator(&caller, "delete teams")?;
            if !teams::delete(&state.db, &id).await? {
                return Err(AppError::NotFound("That team".into()));
            }
            state.access_changed();
            caller.audit(&state, AuditAction::TeamDeleted, &id, "").await;
            Ok(())
        }
        .await,
    )
    .await
}

/// Adds (`member` true) or removes a user from a team.
#[server(prefix = "/api", endpoint = "team_member")]
pub async fn team_member(team: String, username: String, member: bool) -> Result<(), AppError> {
    use crate::backend::access::teams;
    use crate::backend::{session, users};
    use server::*;
    crate::backend::responses::with_status(
        async move {
            let (state, caller) = session::signed_in().await?;
            require_administrator(&caller, "change teams")?;
            let team = teams::find_by_name(&state.db, team.trim())
                .await?
                .ok_or_else(|| AppError::NotFound("That team".into()))?;
            let user = users::find_record_by_name(&state.db, username.trim())
                .await?
                .ok_or_else(|| AppError::BadRequest(format!("There is no user named {:?}.", username.trim())))?;
            let action = if member {
                teams::add_member(&state.db, &team.id, &user.id).await?;
                AuditAction::TeamMemberAdded
            } else {
                teams::remove_member(&state.db, &team.id, &user.id).await?;
                AuditAction::TeamMemberRemoved
            };
            state.access_changed();
            caller.audit(&state, action, &team.name, &user.username).await;
            Ok(())
        }
        .await,
    )
    .await
}

/// Creates a robot belonging to `scope`; its secret is shown once.
#[server(prefix = "/api", endpoint = "create_robot")]
pub async fn create_robot(
    name: String,
    description: String,
    scope: String,
    days: String,
) -> Result<NewSecret, AppError> {
    use crate::backend::access::robots::{self, valid_name, RobotError};
    use crate::backend::session;
    use server::*;
    crate::backend::responses::with_status(
        async move {
            let (state, caller) = session::signed_in().await?;
            let scope = parse_scope(&scope)?;
            require_manage(&caller, &scope)?;
            let name = name.trim();
            if !valid_name(name) {
                return Err(AppError::BadRequest(
                    "A robot name is 1 to 64 lower-case letters, digits, '.', '_' or '-' (e.g. robot-ci).".into(),
                ));
            }
            let description = bounded_text(&description, "description", 200)?;
            let expires_at = expiry(&days, state.settings.robot_max_days)?;
            let (robot, secret) = robots::create(&state.db, name, &description, &scope, expires_at)
                .await
                .map_err(|err| match err {
                    RobotError::Taken(name) => {
                        AppError::BadRequest(format!("A user or robot named {name} exists already."))
                    }
                    RobotError::Db(err) => AppError::from(err),
                })?;
            caller
                .audit(
                    &state,
                    AuditAction::RobotCreated,
                    &robot.name,
                    &format!("in {}", scope.describe()),
                )
                .await;
            Ok(robot_secret(&state, &robot.name, secret))
        }
        .await,
    )
    .await
}

/// A new secret for a robot; the old one stops working at once.
#[server(prefix = "/api", endpoint = "regenerate_robot")]
pub async fn regenerate_robot(id: String) -> Result<NewSecret, AppError> {
    use crate::backend::access::robots;
    use crate::backend::session;
    use server::*;
    crate::backend::responses::with_status(
        async move {
            let (state, caller) = session::signed_in().await?;
            let robot = managed_robot(&state, &caller, &id).await?;
            let secret = robots::regenerate(&state.db, &id)
                .await?
                .ok_or_else(|| AppError::NotFound("That robot".into()))?;
            state.access_changed();
            caller
                .audit(&state, AuditAction::RobotSecretRegenerated, &robot.name, "")
                .await;
            Ok(robot_secret(&state, &robot.name, secret))
        }
        .await,
    )
    .await
}

#[server(prefix = "/api", endpoint = "set_robot_enabled")]
pub async fn set_robot_enabled(id: String, enabled: bool) -> Result<(), AppError> {
    use crate::backend::access::robots;
    use crate::backend::session;
    use server::*;
    crate::backend::responses::with_status(
        async move {
            let (state, caller) = session::signed_in().await?;
            let robot = managed_robot(&state, &caller, &id).await?;
            robots::set_enabled(&state.db, &id, enabled).await?;
            state.access_changed();
            let action = if enabled {
                AuditAction::RobotEnabled
            } else {
                AuditAction::RobotDisabled
            };
            caller.audit(&state, action, &robot.name, "").await;
            Ok(())
        }
        .await,
    )
    .await
}

#[server(prefix = "/api", endpoint = "delete_robot")]
pub async fn delete_robot(id: String) -> Result<(), AppError> {
    use crate::backend::access::robots;
    use crate::backend::session;
    use server::*;
    crate::backend::responses::with_status(
        async move {
            let (state, caller) = session::signed_in().await?;
            let robot = managed_robot(&state, &caller, &id).await?;
            robots::delete(&state.db, &id).await?;
            state.access_changed();
            caller.audit(&state, AuditAction::RobotDeleted, &robot.name, "").await;
            Ok(())
        }
        .await,
    )
    .await
}

/// The signed-in user's profile: tokens, registry logins and the `docker login` line (and a
/// token just created without JavaScript, once).
#[server(prefix = "/api", endpoint = "profile")]
pub async fn profile() -> Result<ProfileView, AppError> {
    use crate::backend::access::{personal_tokens, refresh_tokens};
    use crate::backend::session;
    use crate::model::{RefreshTokenView, TokenView};
    use server::*;
    crate::backend::responses::with_status(
        async move {
            let (state, caller) = session::signed_in().await?;
            let tokens = personal_tokens::list_for_user(&state.db, &caller.user.id)
                .await?
                .into_iter()
                .map(|t| TokenView {
                    id: t.id,
                    name: t.name,
                    owner: caller.user.username.clone(),
                    expires_at_ms: t.expires_at,
                    created_at_ms: t.created_at,
                    last_used_at_ms: t.last_used_at,
                })
                .collect();
            let lifetime = state.settings.refresh_token_lifetime;
            let refresh_tokens = refresh_tokens::list_for_user(&state.db, &caller.user.id, lifetime)
                .await?
                .into_iter()
                .map(|t| RefreshTokenView {
                    expires_at_ms: t.expires_at(lifetime),
                    id: t.id,
                    client: t.client,
                    token_name: t.token_name,
                    created_at_ms: t.created_at,
                    last_used_at_ms: t.last_used_at,
                })
                .collect();
            let new_token = session::take_new_token(&session::current_session().await?).await?;
            Ok(ProfileView {
                docker_login: docker_login(&state, &caller.user.username),
                username: caller.user.username,
                tokens,
                refresh_tokens,
                new_token,
                generated_at_ms: crate::backend::db::now_ms(),
            })
        }
        .await,
    )
    .await
}

/// Ends one of the signed-in user's registry logins (a refresh token): the client holding it
/// must log in again.
#[server(prefix = "/api", endpoint = "revoke_refresh_token")]
pub async fn revoke_refresh_token(id: String) -> Result<(), AppError> {
    use crate::backend::access::refresh_tokens;
    use crate::backend::session;
    crate::backend::responses::with_status(
        async move {
            let (state, caller) = session::signed_in().await?;
            if !refresh_tokens::revoke(&state.db, &caller.user.id, &id).await? {
                return Err(AppError::NotFound("That registry login".into()));
            }
            state.access_changed();
            let target = format!("registry login of {}", caller.user.username);
            caller.audit(&state, AuditAction::AccessTokenRevoked, &target, "").await;
            Ok(())
        }
        .await,
    )
    .await
}

/// A personal access token for registry clients, shown once. `days` 0: never expires.
#[server(prefix = "/api", endpoint = "create_token")]
pub async fn create_token(name: String, days: String) -> Result<NewSecret, AppError> {
    use crate::backend::access::personal_tokens::{self, TokenError};
    use crate::backend::session;
    use server::*;
    crate::backend::responses::with_status(
        async move {
            let (state, caller) = session::signed_in().await?;
            let name = bounded_text(&name, "token name", 64)?;
            if name.is_empty() {
                return Err(AppError::BadRequest("Name the token (e.g. laptop, ci).".into()));
            }
            let expires_at = expiry(&days, 0)?;
            let (token, secret) = personal_tokens::create(&state.db, &caller.user.id, &name, expires_at)
                .await
                .map_err(|err| match err {
                    TokenError::Taken(name) => AppError::BadRequest(format!("You already have a token named {name}.")),
                    TokenError::Db(err) => AppError::from(err),
                })?;
            caller
                .audit(&state, AuditAction::AccessTokenCreated, &token.name, "")
                .await;
            let created = NewSecret {
                docker_login: docker_login(&state, &caller.user.username),
                login: caller.user.username,
                secret,
                pull_secret: None,
            };
            if posted_without_javascript().await {
                // The answer is a redirect back to Profile, which shows the token once.
                session::keep_new_token(&session::current_session().await?, &created).await?;
            }
            Ok(created)
        }
        .await,
    )
    .await
}

#[server(prefix = "/api", endpoint = "revoke_token")]
pub async fn revoke_token(id: String) -> Result<(), AppError> {
    use crate::backend::access::{personal_tokens, Action, Target};
    use crate::backend::session;
    crate::backend::responses::with_status(
        async move {
            let (state, caller) = session::signed_in().await?;
            // One's own token, or (for administrators) anyone's: to others, a token that is not
            // theirs does not exist.
            let token = personal_tokens::find(&state.db, &id)
                .await?
                .filter(|t| {
                    t.token.user_id == caller.user.id || caller.grants.allows(Target::Registry, Action::Administer)
                })
                .ok_or_else(|| AppError::NotFound("That token".into()))?;
            if !personal_tokens::revoke(&state.db, &token.token.user_id, &id).await? {
                return Err(AppError::NotFound("That token".into()));
            }
            state.access_changed();
            let target = format!("{} ({})", token.token.name, token.username);
            caller.audit(&state, AuditAction::AccessTokenRevoked, &target, "").await;
            Ok(())
        }
        .await,
    )
    .await
}

/// Changes the signed-in user's own password (the current one is checked first).
#[server(prefix = "/api", endpoint = "change_password")]
pub async fn change_password(current: String, new_password: String) -> Result<(), AppError> {
    use crate::backend::access::credentials::{Purpose, Refusal};
    use crate::backend::access::Subject;
    use crate::backend::{passwords, session, users};
    crate::backend::responses::with_status(
        async move {
            let (state, caller) = session::signed_in().await?;
            if new_password.len() < 8 || new_password.len() > passwords::MAX_PASSWORD_BYTES {
                return Err(AppError::BadRequest("A password is 8 to 1024 characters.".into()));
            }
            // Throttled like a sign-in: a session left open must not become a way to guess.
            let client = session::client_address().await;
            let checked = state
                .credentials
                .verify(&state.db, Purpose::Console, &caller.user.username, &current, client)
                .await;
            match checked {
                Ok(verified) if matches!(&verified.subject, Subject::User(u) if u.id == caller.user.id) => {}
                Ok(_) | Err(Refusal::Wrong) => {
                    return Err(AppError::BadRequest("The current password is wrong.".into()))
                }
                Err(Refusal::Throttled(wait)) => return Err(Refusal::too_many_requests(wait)),
                Err(Refusal::Unavailable(err)) => return Err(err.into()),
            }
            users::set_password(&state.db, &caller.user.id, &new_password).await?;
            // Every other session of the user has ended; this one goes on.
            session::keep_after_password_change(&state.db, &session::current_session().await?, &caller.user).await?;
            state.access_changed();
            caller
                .audit(&state, AuditAction::PasswordChanged, &caller.user.username, "")
                .await;
            Ok(())
        }
        .await,
    )
    .await
}

/// Who can do what in `repository`, and through which assignment (for those who manage access
/// there).
#[server(prefix = "/api", endpoint = "repository_access")]
pub async fn repository_access(repository: String) -> Result<crate::model::RepositoryAccessView, AppError> {
    use crate::backend::access::{assignments, Action, Target};
    use crate::backend::session;
    use crate::model::{RepositoryAccessEntry, RepositoryAccessView};
    use server::*;
    crate::backend::responses::with_status(
        async move {
            crate::names::RepositoryName::parse(&repository)?;
            let (state, _) = session::authorize(
                Target::Repository(&repository),
                Action::ManageAccess,
                &format!("see who has access to {repository}"),
            )
            .await?;
            let entries = assignments::list(&state.db)
                .await?
                .iter()
                .filter(|named| named.assignment.scope.covers(&repository))
                .map(|named| RepositoryAccessEntry {
                    assignment: assignment_view(named),
                    actions: [
                        Action::Pull,
                        Action::Push,
                        Action::Delete,
                        Action::ManageWebhooks,
                        Action::ManageAccess,
                    ]
                    .into_iter()
                    .filter(|a| named.assignment.role.allows(*a))
                    .map(|a| a.label().to_string())
                    .collect(),
                })
                .collect();
            Ok(RepositoryAccessView { repository, entries })
        }
        .await,
    )
    .await
}

/// Why may (or may not) a user, team member or robot do `action` on `repository`? Answers with
/// the assignments within the scopes the caller manages access in, and says when others (out of
/// the caller's sight) allow it.
#[server(prefix = "/api", endpoint = "explain")]
pub async fn explain(
    principal_kind: String,
    principal_name: String,
    repository: String,
    action: String,
) -> Result<Explanation, AppError> {
    use crate::backend::access::assignments::{self, NamedAssignment};
    use crate::backend::access::{decide, Action, Subject, Target};
    use crate::backend::session;
    use server::*;
    crate::backend::responses::with_status(
        async move {
            let (state, caller) = session::signed_in().await?;
            let repository = repository.trim().to_string();
            if repository.is_empty() {
                return Err(AppError::BadRequest("Name a repository (e.g. team-a/api).".into()));
            }
            crate::names::RepositoryName::parse(&repository)?;
            caller.require(
                Target::Repository(&repository),
                Action::ManageAccess,
                &format!("see who may do what in {repository}"),
            )?;
            let action = Action::parse(action.trim()).ok_or_else(|| {
                AppError::BadRequest("Choose pull, push, delete, manage webhooks or manage access.".into())
            })?;
            let name = principal_name.trim();
            let subject = explained_subject(&state, &principal_kind, name).await?;
            let grants = assignments::grants_of(&state.db, &subject).await?;
            let decision = decide(&grants, Target::Repository(&repository), action);
            let names = assignments::list(&state.db).await?;
            let view = |a: &crate::backend::access::Assignment| {
                names
                    .iter()
                    .find(|n| n.assignment.id == a.id)
                    .map(assignment_view)
                    .unwrap_or_else(|| {
                        assignment_view(&NamedAssignment {
                            assignment: a.clone(),
                            principal_name: String::new(),
                        })
                    })
            };
            // Only what lies within the scopes the caller manages: an Owner of one namespace
            // learns nothing of the subject's roles elsewhere.
            let shown = |a: &&crate::backend::access::Assignment| {
                caller.grants.allows(Target::Within(&a.scope), Action::ManageAccess)
            };
            let matched: Vec<_> = decision.matched.iter().filter(shown).map(view).collect();
            Ok(Explanation {
                allowed: decision.allowed,
                granted_elsewhere: decision.allowed && matched.len() < decision.matched.len(),
                principal: if matches!(subject, Subject::Anonymous) {
                    "anyone".into()
                } else {
                    name.to_string()
                },
                repository,
                action: action.label().to_string(),
                matched,
                considered: grants.assignments.iter().filter(shown).map(view).collect(),
            })
        }
        .await,
    )
    .await
}
