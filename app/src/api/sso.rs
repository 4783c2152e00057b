//! Single sign-on: the sign-in page's option, and the settings for administrators.

// The save function takes the form's fields one by one, as the form posts them.
#![allow(clippy::too_many_arguments)]

use leptos::prelude::*;

use crate::model::{AppError, SsoLoginOption, SsoSettingsView};

/// Whether the sign-in page offers single sign-on, and the last attempt's failure (once).
#[server(prefix = "/api", endpoint = "sso_login")]
pub async fn sso_sign_in_option() -> Result<SsoLoginOption, AppError> {
    use crate::backend::session::{self, SSO_ERROR_KEY};
    use crate::backend::{sso, AppState};
    crate::backend::responses::with_status(
        async move {
            let state = AppState::from_context()?;
            let session = session::current_session().await?;
            let settings = sso::settings::load(&state.db).await?;
            let error = session.remove::<String>(SSO_ERROR_KEY).await.ok().flatten();
            Ok(SsoLoginOption {
                label: settings.is_enabled().then(|| settings.label.clone()),
                error,
            })
        }
        .await,
    )
    .await
}

/// The settings (administrators), with the last test sign-in's result (once).
#[server(prefix = "/api", endpoint = "sso_settings")]
pub async fn sso_settings() -> Result<SsoSettingsView, AppError> {
    use crate::backend::access::{teams, Action, Target};
    use crate::backend::session::{self, SSO_TEST_KEY};
    use crate::backend::sso;
    use crate::backend::sso::flow::Identity;
    use crate::model::SsoTestResult;
    crate::backend::responses::with_status(
        async move {
            let (state, _) = session::authorize(Target::Registry, Action::Administer, "change single sign-on").await?;
            let settings = sso::settings::load(&state.db).await?;
            let session = session::current_session().await?;
            let tested = session.remove::<Identity>(SSO_TEST_KEY).await.ok().flatten();
            let test_result = match tested {
                Some(identity) => {
                    let names = teams::list(&state.db)
                        .await?
                        .into_iter()
                        .filter(|team| team.sso_group.as_ref().is_some_and(|g| identity.groups.contains(g)))
                        .map(|team| team.name)
                        .collect();
                    Some(SsoTestResult {
                        username: identity.username,
                        groups: identity.groups,
                        subject: identity.subject,
                        teams: names,
                    })
                }
                None => None,
            };
            Ok(SsoSettingsView {
                enabled: settings.enabled != 0,
                issuer_url: settings.issuer_url,
                client_id: settings.client_id,
                has_secret: !settings.client_secret.is_empty(),
                username_claim: settings.username_claim,
                groups_claim: settings.groups_claim,
                create_users: settings.create_users != 0,
                label: settings.label,
                callback_url: state
                    .settings
                    .public_url
                    .join("/auth/sso/callback")
                    .map(|u| u.to_string())
                    .unwrap_or_default(),
                test_result,
            })
        }
        .await,
    )
    .await
}

/// Saves the settings. An empty `client_secret` keeps the stored one.
#[server(prefix = "/api", endpoint = "save_sso")]
pub async fn save_sso_settings(
    enabled: Option<String>,
    issuer_url: String,
    client_id: String,
    client_secret: String,
    username_claim: String,
    groups_claim: String,
    create_users: Option<String>,
    label: String,
) -> Result<(), AppError> {
    use crate::backend::access::{Action, Target};
    use crate::backend::audit::AuditAction;
    use crate::backend::session;
    use crate::backend::sso::settings::{self, SsoSettings};
    crate::backend::responses::with_status(
        async move {
            let (state, caller) =
                session::authorize(Target::Registry, Action::Administer, "change single sign-on").await?;
            let issuer_url = issuer_url.trim().to_string();
            let enabled = enabled.is_some();
            let too_long = [&issuer_url, &client_id, &username_claim, &groups_claim, &label]
                .iter()
                .any(|v| v.len() > 512)
                || client_secret.len() > 2048;
            if too_long {
                return Err(AppError::BadRequest("A setting is too long.".into()));
            }
            if !issuer_url.is_empty() {
                let parsed = url::Url::parse(&issuer_url)
                    .map_err(|_| AppError::BadRequest(format!("{issuer_url:?} is not a URL.")))?;
                if !matches!(parsed.scheme(), "https" | "http") || parsed.host().is_none() {
                    return Err(AppError::BadRequest(
                        "The issuer URL must be an http(s) address.".into(),
                    ));
                }
            }
            if enabled && (issuer_url.is_empty() || client_id.trim().is_empty()) {
                return Err(AppError::BadRequest(
                    "To turn single sign-on on, give the issuer URL and the client ID.".into(),
                ));
            }
            let claim = |text: &str, default: &str| {
                let text = text.trim();
                if text.is_empty() {
                    default.to_string()
                } else {
                    text.to_string()
                }
            };
            settings::save(
                &state.db,
                &SsoSettings {
                    enabled: i64::from(enabled),
                    issuer_url,
                    client_id: client_id.trim().to_string(),
                    client_secret,
                    username_claim: claim(&username_claim, "preferred_username"),
                    groups_claim: claim(&groups_claim, "groups"),
                    create_users: i64::from(create_users.is_some()),
                    label: claim(&label, "single sign-on"),
                },
            )
            .await?;
            caller
                .audit(
                    &state,
                    AuditAction::SsoSettingsSaved,
                    "single sign-on",
                    if enabled { "on" } else { "off" },
                )
                .await;
            Ok(())
        }
        .await,
    )
    .await
}

/// Makes a team follow a provider group (empty: no group).
#[server(prefix = "/api", endpoint = "team_group")]
pub async fn set_team_group(team: String, group: String) -> Result<(), AppError> {
    use crate::backend::access::{teams, Action, Target};
    use crate::backend::session;
    crate::backend::responses::with_status(
        async move {
            let (state, _) = session::authorize(Target::Registry, Action::Administer, "change teams").await?;
            if group.len() > 256 {
                return Err(AppError::BadRequest("A group name is at most 256 characters.".into()));
            }
            let team = teams::find_by_name(&state.db, team.trim())
                .await?
                .ok_or_else(|| AppError::NotFound("That team".into()))?;
            teams::set_sso_group(&state.db, &team.id, group.trim()).await?;
            state.access_changed();
            Ok(())
        }
        .await,
    )
    .await
}
