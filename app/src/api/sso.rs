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

/// The settings (administrators), with the result of the test sign-in `test` names (the id the
/// test's redirect put in the page's address).
#[server(prefix = "/api", endpoint = "sso_settings")]
pub async fn sso_settings(test: Option<String>) -> Result<SsoSettingsView, AppError> {
    use crate::backend::access::{Action, Target};
    use crate::backend::session::{self, SSO_TEST_KEY};
    use crate::backend::sso::{self, allow_list, flow::TestSignIn};
    crate::backend::responses::with_status(
        async move {
            let (state, _) = session::authorize(Target::Registry, Action::Administer, "change single sign-on").await?;
            let settings = sso::settings::load(&state.db).await?;
            let session = session::current_session().await?;
            let tested = match test.filter(|id| !id.is_empty()) {
                Some(id) => session
                    .get::<TestSignIn>(SSO_TEST_KEY)
                    .await
                    .ok()
                    .flatten()
                    .filter(|tested| tested.id == id),
                None => None,
            };
            let test_result = match tested {
                Some(tested) => Some(test_result(&state, &settings, tested.identity).await?),
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
                allowed_groups: allow_list::entries(&settings.allowed_groups),
                allowed_domains: allow_list::entries(&settings.allowed_domains),
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

/// What a test sign-in would mean: the teams that follow its groups, the allow-list's verdict.
#[cfg(feature = "ssr")]
async fn test_result(
    state: &crate::backend::AppState,
    settings: &crate::backend::sso::settings::SsoSettings,
    identity: crate::backend::sso::flow::Identity,
) -> Result<crate::model::SsoTestResult, AppError> {
    use crate::backend::access::teams;
    use crate::backend::sso::allow_list;
    let names = teams::list(&state.db)
        .await?
        .into_iter()
        .filter(|team| team.sso_group.as_ref().is_some_and(|g| identity.groups.contains(g)))
        .map(|team| team.name)
        .collect();
    let refusal = allow_list::refusal(settings, &identity).map(|refusal| refusal.to_string());
    Ok(crate::model::SsoTestResult {
        username: identity.username,
        groups: identity.groups,
        subject: identity.subject,
        teams: names,
        email: identity.email,
        refusal,
    })
}

/// An allow-list as typed (one a line, or separated by commas), checked and normalized.
#[cfg(feature = "ssr")]
fn allow_list_setting(text: Option<String>, what: &str, domains: bool) -> Result<String, AppError> {
    use crate::backend::sso::allow_list::{entries, normalized_domain, MAX_ENTRIES, MAX_ENTRY};
    let text = text.unwrap_or_default();
    if text.len() > MAX_ENTRIES * (MAX_ENTRY + 2) {
        return Err(AppError::BadRequest(format!("The allowed {what} list is too long.")));
    }
    let mut list = entries(&text);
    if domains {
        list = list.iter().map(|d| normalized_domain(d)).collect();
    }
    if list.len() > MAX_ENTRIES || list.iter().any(|entry| entry.chars().count() > MAX_ENTRY) {
        return Err(AppError::BadRequest(format!(
            "At most {MAX_ENTRIES} allowed {what}, each at most {MAX_ENTRY} characters."
        )));
    }
    let domain_like = |d: &str| {
        d.contains('.')
            && !d.starts_with('.')
            && !d.ends_with('.')
            && d.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-'))
    };
    if let Some(bad) = list.iter().find(|d| domains && !domain_like(d)) {
        return Err(AppError::BadRequest(format!(
            "{bad:?} is not an e-mail domain (like example.com)."
        )));
    }
    let mut unique: Vec<String> = Vec::with_capacity(list.len());
    for entry in list {
        if !unique.contains(&entry) {
            unique.push(entry);
        }
    }
    Ok(unique.join("\n"))
}

/// Saves the settings. An empty `client_secret` keeps the stored one; the allow-lists are typed
/// one entry a line.
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
    allowed_groups: Option<String>,
    allowed_domains: Option<String>,
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
            let allowed_groups = allow_list_setting(allowed_groups, "groups", false)?;
            let allowed_domains = allow_list_setting(allowed_domains, "domains", true)?;
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
                    allowed_groups,
                    allowed_domains,
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
