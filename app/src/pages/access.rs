//! Access: who may do what. Tabs for role assignments, users, teams, robots, every user's
//! personal access tokens, the "Why?" explainer and single sign-on. Every form works without JavaScript; what a tab shows is what its reader may
//! manage (the server decides, the page only follows).

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use super::access_sso::{SsoData, SsoTab};
use super::profile::{TokenRow, TokensHead};
use crate::api::access::{
    access_page, AddAssignment, CreateRobot, CreateTeam, CreateUser, DeleteRobot, DeleteTeam, Explain, RegenerateRobot,
    RemoveAssignment, ResetPassword, RevokeToken, SetRobotEnabled, SetUserDisabled, TeamMember,
};
use crate::api::sso::SetTeamGroup;
use crate::components::confirm_form::ConfirmForm;
use crate::components::error_panel::ErrorPanel;
use crate::components::new_secret::NewSecretPanel;
use crate::format::{count, ms_to_display};
use crate::model::{AccessView, AppError, AssignmentView, Explanation, NewSecret, RobotView, TeamView, UserView};

const TABS: [(&str, &str); 7] = [
    ("assignments", "Role assignments"),
    ("users", "Users"),
    ("teams", "Teams"),
    ("robots", "Robots"),
    ("tokens", "Tokens"),
    ("why", "Why?"),
    ("sso", "Single sign-on"),
];

/// Every action of the page; the data is fetched again after any of them.
#[derive(Clone, Copy)]
struct Actions {
    add: ServerAction<AddAssignment>,
    remove: ServerAction<RemoveAssignment>,
    create_user: ServerAction<CreateUser>,
    disable_user: ServerAction<SetUserDisabled>,
    reset_password: ServerAction<ResetPassword>,
    create_team: ServerAction<CreateTeam>,
    delete_team: ServerAction<DeleteTeam>,
    team_member: ServerAction<TeamMember>,
    team_group: ServerAction<SetTeamGroup>,
    create_robot: ServerAction<CreateRobot>,
    regenerate_robot: ServerAction<RegenerateRobot>,
    robot_enabled: ServerAction<SetRobotEnabled>,
    delete_robot: ServerAction<DeleteRobot>,
    explain: ServerAction<Explain>,
    revoke_token: ServerAction<RevokeToken>,
}

impl Actions {
    fn new() -> Actions {
        Actions {
            add: ServerAction::new(),
            remove: ServerAction::new(),
            create_user: ServerAction::new(),
            disable_user: ServerAction::new(),
            reset_password: ServerAction::new(),
            create_team: ServerAction::new(),
            delete_team: ServerAction::new(),
            team_member: ServerAction::new(),
            team_group: ServerAction::new(),
            create_robot: ServerAction::new(),
            regenerate_robot: ServerAction::new(),
            robot_enabled: ServerAction::new(),
            delete_robot: ServerAction::new(),
            explain: ServerAction::new(),
            revoke_token: ServerAction::new(),
        }
    }

    fn versions(&self) -> [usize; 14] {
        [
            self.add.version().get(),
            self.remove.version().get(),
            self.create_user.version().get(),
            self.disable_user.version().get(),
            self.reset_password.version().get(),
            self.create_team.version().get(),
            self.delete_team.version().get(),
            self.team_member.version().get(),
            self.team_group.version().get(),
            self.create_robot.version().get(),
            self.regenerate_robot.version().get(),
            self.robot_enabled.version().get(),
            self.delete_robot.version().get(),
            self.revoke_token.version().get(),
        ]
    }
}

#[component]
pub fn AccessPage() -> impl IntoView {
    let actions = Actions::new();
    let query = use_query_map();
    let tab = Memo::new(move |_| {
        let asked = query.read().get("tab").unwrap_or_default();
        TABS.iter()
            .find(|(id, _)| *id == asked)
            .map_or("assignments", |(id, _)| id)
            .to_string()
    });
    let data = Resource::new(move || actions.versions(), |_| access_page());
    let sso = SsoData::new(move || tab.get() == "sso");
    view! {
        <Title text="Access"/>
        <h1>"Access"</h1>
        <p class="hint">
            "Roles as in Azure Container Registry: " <strong>"Reader"</strong> " browses and pulls, "
            <strong>"Contributor"</strong> " also pushes, deletes and manages webhooks, " <strong>"Owner"</strong>
            " also manages access. Robots get " <strong>"Puller"</strong> ", " <strong>"Pusher"</strong> " or "
            <strong>"Deleter"</strong> ". A scope is the whole registry, a namespace (" <code>"team-a/"</code>
            ") or repositories (" <code>"team-a/api-*"</code> "). They apply to the console and to "
            <code>"docker pull"</code> " / " <code>"push"</code> " alike."
        </p>
        <nav class="tabs" aria-label="Access sections">
            {TABS
                .iter()
                .map(|(id, label)| {
                    let href = format!("/access?tab={id}");
                    let current = move || (tab.get() == *id).then_some("page");
                    view! { <a href=href aria-current=current>{*label}</a> }
                })
                .collect_view()}
        </nav>
        <Transition fallback=|| view! { <p class="loading">"Loading access…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(view_data) => {
                        view! { <AccessBody view_data actions sso tab=tab.get_untracked()/> }.into_any()
                    }
                    Err(error) => view! { <ErrorPanel error/> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn AccessBody(view_data: AccessView, actions: Actions, sso: SsoData, tab: String) -> impl IntoView {
    match tab.as_str() {
        "users" => view! { <UsersTab view_data actions/> }.into_any(),
        "teams" => view! { <TeamsTab view_data actions/> }.into_any(),
        "robots" => view! { <RobotsTab view_data actions/> }.into_any(),
        "tokens" => view! { <TokensTab view_data actions/> }.into_any(),
        "why" => view! { <WhyTab actions/> }.into_any(),
        "sso" => view! { <SsoTab can_administer=view_data.can_administer sso/> }.into_any(),
        _ => view! { <AssignmentsTab view_data actions/> }.into_any(),
    }
}

/// The error of the last run of an action, if it failed.
fn failure<T: Clone + Send + Sync + 'static>(
    value: impl Get<Value = Option<Result<T, AppError>>> + Send + Sync + 'static,
) -> impl IntoView {
    move || {
        value
            .get()
            .and_then(|r| r.err())
            .map(|error| view! { <ErrorPanel error/> })
    }
}

/// A secret from the last run of an action, shown once.
fn shown_once(value: impl Get<Value = Option<Result<NewSecret, AppError>>> + Send + Sync + 'static) -> impl IntoView {
    move || {
        value.get().map(|result| match result {
            Ok(secret) => view! { <NewSecretPanel secret/> }.into_any(),
            Err(error) => view! { <ErrorPanel error/> }.into_any(),
        })
    }
}

#[component]
fn AssignmentsTab(view_data: AccessView, actions: Actions) -> impl IntoView {
    let filter = RwSignal::new(String::new());
    let assignments = view_data.assignments.clone();
    let rows = move || {
        let needle = filter.get().to_lowercase();
        let shown: Vec<AssignmentView> = assignments
            .iter()
            .filter(|a| {
                needle.is_empty()
                    || a.principal_name.to_lowercase().contains(&needle)
                    || a.scope.contains(&needle)
                    || a.role.to_lowercase().contains(&needle)
            })
            .cloned()
            .collect();
        if shown.is_empty() {
            return view! { <tr><td colspan="4" class="muted">"No assignments match."</td></tr> }.into_any();
        }
        shown
            .into_iter()
            .map(|a| view! { <AssignmentRow assignment=a remove=actions.remove/> })
            .collect_view()
            .into_any()
    };
    view! {
        <section>
            <h2>"Add a role"</h2>
            <ActionForm action=actions.add attr:class="form-row">
                <label>"Given to"
                    <select name="principal_kind">
                        <option value="user">"User"</option>
                        <option value="team">"Team"</option>
                        <option value="robot">"Robot"</option>
                        <option value="anonymous">"Anyone (public, no sign-in)"</option>
                    </select>
                </label>
                <label>"Name" <input type="text" name="principal_name" maxlength="64" placeholder="alice, web, robot-ci"/></label>
                <label>"Role"
                    <select name="role">
                        <option value="reader">"Reader"</option>
                        <option value="contributor">"Contributor"</option>
                        <option value="owner">"Owner"</option>
                        <option value="puller">"Puller (robots)"</option>
                        <option value="pusher">"Pusher (robots)"</option>
                        <option value="deleter">"Deleter (robots)"</option>
                    </select>
                </label>
                <label>"Scope" <input type="text" name="scope" maxlength="255" placeholder="empty: whole registry; team-a/; team-a/api-*"/></label>
                <button type="submit" class="primary">"Add"</button>
            </ActionForm>
            {failure(actions.add.value())}
            {failure(actions.remove.value())}
        </section>
        <section>
            <div class="table-head">
                <h2>{count(view_data.assignments.len() as i64, "assignment", "assignments")}</h2>
                <input
                    type="search"
                    placeholder="Filter by name, role or scope"
                    aria-label="Filter assignments"
                    on:input=move |ev| filter.set(event_target_value(&ev))
                />
            </div>
            <table class="data assignments">
                <thead>
                    <tr>
                        <th scope="col">"Given to"</th>
                        <th scope="col">"Role"</th>
                        <th scope="col">"Scope"</th>
                        <th scope="col"><span class="visually-hidden">"Actions"</span></th>
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </section>
    }
}

#[component]
fn AssignmentRow(assignment: AssignmentView, remove: ServerAction<RemoveAssignment>) -> impl IntoView {
    let scope = assignment.scope_label();
    let who = format!("{} {}", assignment.principal_kind, assignment.principal_name);
    let label = format!(
        "Remove {} from {} in {scope}",
        assignment.role, assignment.principal_name
    );
    view! {
        <tr>
            <td><span class="badge">{assignment.principal_kind.clone()}</span> " " {assignment.principal_name.clone()}</td>
            <td>{assignment.role.clone()}</td>
            <td><code>{scope.clone()}</code></td>
            <td>
                <ConfirmForm summary="Remove…" summary_label=label action=remove id=assignment.id.clone()
                    warning=format!("{who} loses {} in {scope}.", assignment.role) button="Remove"/>
            </td>
        </tr>
    }
}

#[component]
fn UsersTab(view_data: AccessView, actions: Actions) -> impl IntoView {
    if !view_data.can_administer {
        return view! { <p class="panel">"Users are managed by the registry's administrators (Owner of the whole registry)."</p> }
            .into_any();
    }
    view! {
        <section>
            <h2>"New user"</h2>
            <ActionForm action=actions.create_user attr:class="form-row">
                <label>"User name" <input type="text" name="username" required maxlength="64" pattern="[a-z0-9][a-z0-9._\\-]*" autocomplete="off"/></label>
                <label>"Password" <input type="password" name="password" maxlength="1024" autocomplete="new-password" placeholder="empty: generate one"/></label>
                <button type="submit" class="primary">"Create user"</button>
            </ActionForm>
            {shown_once(actions.create_user.value())}
            {shown_once(actions.reset_password.value())}
            {failure(actions.disable_user.value())}
        </section>
        <table class="data users">
            <thead>
                <tr>
                    <th scope="col">"User"</th>
                    <th scope="col">"Created"</th>
                    <th scope="col">"Status"</th>
                    <th scope="col"><span class="visually-hidden">"Actions"</span></th>
                </tr>
            </thead>
            <tbody>
                {view_data
                    .users
                    .into_iter()
                    .map(|user| view! { <UserRow user actions/> })
                    .collect_view()}
            </tbody>
        </table>
    }
    .into_any()
}

#[component]
fn UserRow(user: UserView, actions: Actions) -> impl IntoView {
    let UserView {
        id,
        username,
        disabled,
        created_at_ms,
    } = user;
    let toggle = if disabled { "Enable" } else { "Disable" };
    let status = if disabled {
        view! { <span class="badge badge-danger">"disabled"</span> }.into_any()
    } else {
        view! { <span class="badge badge-ok">"active"</span> }.into_any()
    };
    let toggle_label = format!("{toggle} {username}");
    let reset_label = format!("Reset the password of {username}");
    let reset_id = id.clone();
    view! {
        <tr>
            <td>{username}</td>
            <td class="time">{ms_to_display(created_at_ms)}</td>
            <td>{status}</td>
            <td class="actions">
                <ActionForm action=actions.disable_user attr:class="inline">
                    <input type="hidden" name="id" value=id/>
                    <input type="hidden" name="disabled" value=(!disabled).to_string()/>
                    <button type="submit">{toggle_label}</button>
                </ActionForm>
                <ConfirmForm summary="Reset password…" action=actions.reset_password id=reset_id
                    warning="A new password is generated and shown once; the old one and the user's refresh tokens stop working."
                    button=reset_label/>
            </td>
        </tr>
    }
}

/// Every user's personal access tokens, for administrators: who has which, when it was last
/// used, and Revoke (a leaked token, someone who left).
#[component]
fn TokensTab(view_data: AccessView, actions: Actions) -> impl IntoView {
    if !view_data.can_administer {
        return view! { <p class="panel">"Every user's tokens are shown to the registry's administrators. Yours are on your profile."</p> }
            .into_any();
    }
    let now = view_data.generated_at_ms;
    let filter = RwSignal::new(String::new());
    let tokens = view_data.tokens.clone();
    let shown = move || {
        let needle = filter.get().to_lowercase();
        tokens
            .iter()
            .filter(|t| {
                needle.is_empty() || t.owner.to_lowercase().contains(&needle) || t.name.to_lowercase().contains(&needle)
            })
            .cloned()
            .map(|token| view! { <TokenRow token revoke=actions.revoke_token now show_owner=true/> })
            .collect_view()
    };
    view! {
        <p class="hint">
            "Personal access tokens work like their user's password for registry clients. Users make and revoke their own on "
            <a href="/profile">"their profile"</a> "; revoking one here refuses its clients at once."
        </p>
        {failure(actions.revoke_token.value())}
        {if view_data.tokens.is_empty() {
            view! { <p class="panel empty">"Nobody has a personal access token yet."</p> }.into_any()
        } else {
            view! {
                <div class="table-head">
                    <label>"Filter " <input type="search" placeholder="user or token name" prop:value=filter on:input=move |ev| filter.set(event_target_value(&ev))/></label>
                </div>
                <table class="data tokens">
                    <TokensHead show_owner=true/>
                    <tbody>{shown}</tbody>
                </table>
            }
            .into_any()
        }}
    }
    .into_any()
}

#[component]
fn TeamsTab(view_data: AccessView, actions: Actions) -> impl IntoView {
    if !view_data.can_administer {
        return view! { <p class="panel">"Teams are managed by the registry's administrators (Owner of the whole registry)."</p> }
            .into_any();
    }
    view! {
        <section>
            <h2>"New team"</h2>
            <ActionForm action=actions.create_team attr:class="form-row">
                <label>"Team name" <input type="text" name="name" required maxlength="64" autocomplete="off"/></label>
                <button type="submit" class="primary">"Create team"</button>
            </ActionForm>
            {failure(actions.create_team.value())}
            {failure(actions.team_member.value())}
            {failure(actions.delete_team.value())}
            {failure(actions.team_group.value())}
        </section>
        {if view_data.teams.is_empty() {
            view! { <p class="panel empty">"No teams yet. A role given to a team applies to each of its members."</p> }.into_any()
        } else {
            view_data.teams.into_iter().map(|team| view! { <TeamCard team actions/> }).collect_view().into_any()
        }}
    }
    .into_any()
}

#[component]
fn TeamCard(team: TeamView, actions: Actions) -> impl IntoView {
    let TeamView {
        id,
        name,
        members,
        sso_group,
    } = team;
    let group_team = name.clone();
    let follows = match &sso_group {
        Some(group) => format!("Follows the provider group {group}: members are set at each single sign-on."),
        None => "Follows no provider group.".to_string(),
    };
    let member_count = count(members.len() as i64, "member", "members");
    let member_items = members
        .into_iter()
        .map(|member| view! { <TeamMemberItem team=name.clone() member action=actions.team_member/> })
        .collect_view();
    let add_team = name.clone();
    let delete_label = format!("Delete team {name}");
    view! {
        <div class="panel team">
            <h3>{name} " " <span class="muted small">{member_count}</span></h3>
            <ul class="members">{member_items}</ul>
            <p class="muted small">{follows}</p>
            <ActionForm action=actions.team_group attr:class="form-row">
                <input type="hidden" name="team" value=group_team/>
                <label>"Provider group (single sign-on)" <input type="text" name="group" maxlength="256" value=sso_group.unwrap_or_default() placeholder="e.g. wharf-team-a"/></label>
                <button type="submit">"Set group"</button>
            </ActionForm>
            <ActionForm action=actions.team_member attr:class="form-row">
                <input type="hidden" name="team" value=add_team/>
                <input type="hidden" name="member" value="true"/>
                <label>"Add member" <input type="text" name="username" required maxlength="64"/></label>
                <button type="submit">"Add"</button>
            </ActionForm>
            <ConfirmForm summary="Delete team…" action=actions.delete_team id=id
                warning="Its members lose the roles given to the team." button=delete_label/>
        </div>
    }
}

#[component]
fn TeamMemberItem(team: String, member: String, action: ServerAction<TeamMember>) -> impl IntoView {
    let label = format!("Remove {member}");
    view! {
        <li>
            {member.clone()} " "
            <ActionForm action attr:class="inline">
                <input type="hidden" name="team" value=team/>
                <input type="hidden" name="username" value=member/>
                <input type="hidden" name="member" value="false"/>
                <button type="submit" class="link-button">{label}</button>
            </ActionForm>
        </li>
    }
}

#[component]
fn RobotsTab(view_data: AccessView, actions: Actions) -> impl IntoView {
    let days_hint = if view_data.robot_max_days == 0 {
        "0: never expires".to_string()
    } else {
        format!("at most {}", view_data.robot_max_days)
    };
    let default_days = if view_data.robot_max_days == 0 {
        90
    } else {
        view_data.robot_max_days.min(90)
    };
    let now = view_data.generated_at_ms;
    view! {
        <section>
            <h2>"New robot account"</h2>
            <p class="hint">"For CI and Kubernetes: a name and a generated secret. Give it a Puller, Pusher or Deleter role within its scope afterwards."</p>
            <ActionForm action=actions.create_robot attr:class="form-row">
                <label>"Name" <input type="text" name="name" required maxlength="64" placeholder="robot-ci" pattern="[a-z0-9][a-z0-9._\\-]*" autocomplete="off"/></label>
                <label>"Description" <input type="text" name="description" maxlength="200"/></label>
                <label>"Belongs to (scope)" <input type="text" name="scope" maxlength="255" placeholder="empty: whole registry; team-a/"/></label>
                <label>{format!("Expires in days ({days_hint})")} <input type="number" name="days" min="0" value=default_days.to_string() required/></label>
                <button type="submit" class="primary">"Create robot"</button>
            </ActionForm>
            {shown_once(actions.create_robot.value())}
            {shown_once(actions.regenerate_robot.value())}
            {failure(actions.robot_enabled.value())}
            {failure(actions.delete_robot.value())}
        </section>
        {if view_data.robots.is_empty() {
            view! { <p class="panel empty">"No robot accounts yet."</p> }.into_any()
        } else {
            view! {
                <table class="data robots">
                    <thead>
                        <tr>
                            <th scope="col">"Robot"</th>
                            <th scope="col">"Scope"</th>
                            <th scope="col">"Expires"</th>
                            <th scope="col">"Last used"</th>
                            <th scope="col"><span class="visually-hidden">"Actions"</span></th>
                        </tr>
                    </thead>
                    <tbody>
                        {view_data.robots.into_iter().map(|robot| view! { <RobotRow robot actions now/> }).collect_view()}
                    </tbody>
                </table>
            }
            .into_any()
        }}
    }
}

#[component]
fn RobotRow(robot: RobotView, actions: Actions, now: i64) -> impl IntoView {
    let expired = robot.expires_at_ms.is_some_and(|at| at <= now);
    let status = match (robot.enabled, expired) {
        (false, _) => Some(view! { <span class="badge">"disabled"</span> }),
        (true, true) => Some(view! { <span class="badge badge-danger">"expired"</span> }),
        _ => None,
    };
    let toggle = if robot.enabled { "Disable" } else { "Enable" };
    let scope = if robot.scope.is_empty() {
        "whole registry".to_string()
    } else {
        robot.scope.clone()
    };
    let (toggle_id, regenerate_id, delete_id) = (robot.id.clone(), robot.id.clone(), robot.id.clone());
    let toggle_label = format!("{toggle} {}", robot.name);
    let regenerate_label = format!("Regenerate the secret of {}", robot.name);
    let delete_label = format!("Delete {}", robot.name);
    view! {
        <tr>
            <td class="name">{robot.name.clone()} " " {status} <div class="muted small">{robot.description.clone()}</div></td>
            <td><code>{scope}</code></td>
            <td class="time">{robot.expires_at_ms.map(ms_to_display).unwrap_or_else(|| "never".into())}</td>
            <td class="time">{robot.last_used_at_ms.map(ms_to_display).unwrap_or_else(|| "never".into())}</td>
            <td class="actions">
                <ActionForm action=actions.robot_enabled attr:class="inline">
                    <input type="hidden" name="id" value=toggle_id/>
                    <input type="hidden" name="enabled" value=(!robot.enabled).to_string()/>
                    <button type="submit">{toggle_label}</button>
                </ActionForm>
                <ConfirmForm summary="Regenerate…" action=actions.regenerate_robot id=regenerate_id
                    warning="The current secret stops working at once: update every place that uses it."
                    button=regenerate_label/>
                <ConfirmForm summary="Delete…" action=actions.delete_robot id=delete_id
                    warning="Its roles go with it." button=delete_label/>
            </td>
        </tr>
    }
}

#[component]
fn WhyTab(actions: Actions) -> impl IntoView {
    view! {
        <section>
            <h2>"Why can (or can't) someone do something?"</h2>
            <p class="hint">"The same decision the token server and every page make, with the assignments behind it."</p>
            <ActionForm action=actions.explain attr:class="form-row">
                <label>"Who"
                    <select name="principal_kind">
                        <option value="user">"User"</option>
                        <option value="robot">"Robot"</option>
                        <option value="anonymous">"Anyone (no sign-in)"</option>
                    </select>
                </label>
                <label>"Name" <input type="text" name="principal_name" maxlength="64"/></label>
                <label>"Repository" <input type="text" name="repository" required maxlength="255" placeholder="team-a/api"/></label>
                <label>"Action"
                    <select name="action">
                        <option value="pull">"pull"</option>
                        <option value="push">"push"</option>
                        <option value="delete">"delete"</option>
                        <option value="manage webhooks">"manage webhooks"</option>
                        <option value="manage access">"manage access"</option>
                    </select>
                </label>
                <button type="submit" class="primary">"Explain"</button>
            </ActionForm>
            {move || actions.explain.value().get().map(|result| match result {
                Ok(explanation) => view! { <ExplanationPanel explanation/> }.into_any(),
                Err(error) => view! { <ErrorPanel error/> }.into_any(),
            })}
        </section>
    }
}

#[component]
fn ExplanationPanel(explanation: Explanation) -> impl IntoView {
    let verdict = format!(
        "{} {} {} {}.",
        explanation.principal,
        if explanation.allowed { "may" } else { "may not" },
        explanation.action,
        explanation.repository
    );
    let list = |items: Vec<AssignmentView>| {
        items
            .into_iter()
            .map(|a| {
                view! {
                    <li>
                        {format!("{} {} is {} in ", a.principal_kind, a.principal_name, a.role)}
                        <code>{a.scope_label()}</code>
                    </li>
                }
            })
            .collect_view()
    };
    let elsewhere = explanation
        .granted_elsewhere
        .then_some("A role outside the scopes you manage allows it too; it is not shown.");
    let detail = if explanation.allowed && explanation.matched.is_empty() {
        view! { <p>"A role outside the scopes you manage allows it; it is not shown."</p> }.into_any()
    } else if explanation.allowed {
        view! { <p>"Because:"</p> <ul>{list(explanation.matched)}</ul> <p class="hint">{elsewhere}</p> }.into_any()
    } else if explanation.considered.is_empty() {
        view! { <p>"No role within the scopes you manage is given to them (or their teams, or anyone)."</p> }.into_any()
    } else {
        view! {
            <p>"None of their roles covers it. What they have, within the scopes you manage:"</p>
            <ul>{list(explanation.considered)}</ul>
        }
        .into_any()
    };
    view! {
        <div class=if explanation.allowed { "panel verdict allowed" } else { "panel verdict denied" } role="status">
            <p><strong>{verdict}</strong></p>
            {detail}
        </div>
    }
}
