use leptos::prelude::*;

use crate::model::{AppError, CurrentUser};

/// Who is signed in, or `None`.
#[server(prefix = "/api", endpoint = "me")]
pub async fn who_am_i() -> Result<Option<CurrentUser>, AppError> {
    use crate::backend::access::{assignments, Action, Subject, Target};
    use crate::backend::{session, AppState};
    crate::backend::responses::with_status(
        async move {
            let state = AppState::from_context()?;
            let session = leptos_axum::extract::<tower_sessions::Session>().await?;
            let Some(user) = session::current_user(&state, &session).await? else {
                return Ok(None);
            };
            let subject = Subject::User(user.clone());
            let grants = assignments::grants_of(&state.db, &subject)
                .await
                .map_err(session::internal)?;
            Ok(Some(CurrentUser {
                can_administer: grants.allows(Target::Registry, Action::Administer),
                manages_webhooks: !grants.scopes_for(Action::ManageWebhooks).is_empty(),
                manages_access: !grants.scopes_for(Action::ManageAccess).is_empty(),
                username: user.username,
            }))
        }
        .await,
    )
    .await
}

/// Signs in with a user name and password, then sends the browser to `next` (a local path) or `/`.
#[server(prefix = "/api", endpoint = "login")]
pub async fn login(username: String, password: String, next: Option<String>) -> Result<(), AppError> {
    use crate::backend::access::credentials::{Purpose, Refusal};
    use crate::backend::access::Subject;
    use crate::backend::audit::{self, AuditAction};
    use crate::backend::{session, AppState};
    crate::backend::responses::with_status(
        async move {
            let state = AppState::from_context()?;
            let session = leptos_axum::extract::<tower_sessions::Session>().await?;
            let username = username.trim();
            if username.is_empty() || password.is_empty() {
                return Err(AppError::BadRequest("Enter your user name and password.".into()));
            }
            if username.len() > 256 || password.len() > 1024 {
                return Err(AppError::BadRequest("User name or password is too long.".into()));
            }
            let client = session::client_address().await;
            let failed = |detail: &'static str| audit::Entry {
                // Throttled attempts are counted per address, whatever name they try.
                actor: if detail == "throttled" { "(throttled)" } else { username },
                action: AuditAction::SignInFailed,
                target: "console",
                detail,
                address: client,
            };
            let verified = match state
                .credentials
                .verify(&state.db, Purpose::Console, username, &password, client)
                .await
            {
                Ok(verified) => verified,
                Err(Refusal::Wrong) => {
                    audit::record(&state.db, failed("wrong user name or password")).await;
                    return Err(AppError::BadRequest("Wrong user name or password.".into()));
                }
                Err(Refusal::Throttled(wait)) => {
                    audit::record(&state.db, failed("throttled")).await;
                    return Err(Refusal::too_many_requests(wait));
                }
                Err(Refusal::Unavailable(err)) => return Err(session::internal(err)),
            };
            let Subject::User(user) = verified.subject else {
                return Err(AppError::BadRequest("Wrong user name or password.".into()));
            };
            session::sign_in(&state.db, &session, &user).await?;
            audit::signed_in(&state.db, &user.username, "", client).await;
            tracing::info!(user = %user.username, "signed in");
            leptos_axum::redirect(&safe_next(next.as_deref()));
            Ok(())
        }
        .await,
    )
    .await
}

#[server(prefix = "/api", endpoint = "logout")]
pub async fn logout() -> Result<(), AppError> {
    use crate::backend::session;
    crate::backend::responses::with_status(
        async move {
            let session = leptos_axum::extract::<tower_sessions::Session>().await?;
            session::sign_out(&session).await?;
            // A live stream opened with this session ends at its next check: tell it now.
            if let Ok(state) = crate::backend::AppState::from_context() {
                state.notifier.publish(crate::backend::notifier::Signal::AccessChanged);
            }
            leptos_axum::redirect("/login");
            Ok(())
        }
        .await,
    )
    .await
}

/// Only paths on Wharf itself are followed after sign-in, never another site. `next` is resolved
/// the way a browser resolves it (the WHATWG URL parser drops tabs and line breaks, so
/// `/<TAB>/evil.example` is `//evil.example`, another host); what comes back is the resolved path,
/// query and fragment, percent-encoded, so it is always a valid `Location` header.
#[cfg(feature = "ssr")]
pub fn safe_next(next: Option<&str>) -> String {
    const BASE: &str = "http://wharf.invalid/";
    let Some(next) = next.filter(|n| n.starts_with('/') && n.len() <= 2048) else {
        return "/".to_string();
    };
    let base = url::Url::parse(BASE).expect("a valid base URL");
    match base.join(next) {
        Ok(resolved) if resolved.origin() == base.origin() && !next.contains('\\') => {
            resolved[url::Position::BeforePath..].to_string()
        }
        _ => "/".to_string(),
    }
}

#[cfg(all(test, feature = "ssr"))]
mod tests {
    use super::safe_next;

    #[test]
    fn next_is_local_only() {
        assert_eq!(safe_next(Some("/events")), "/events");
        assert_eq!(safe_next(Some("/r/shop/api?tab=tags#x")), "/r/shop/api?tab=tags#x");
        assert_eq!(safe_next(Some("//evil.example")), "/");
        assert_eq!(safe_next(Some("https://evil.example")), "/");
        assert_eq!(safe_next(Some("/\\evil")), "/");
        assert_eq!(safe_next(Some("/\t/evil.example")), "/");
        assert_eq!(safe_next(Some("/\n/evil.example")), "/");
        assert_eq!(safe_next(Some("/\r\n/evil.example")), "/");
        assert_eq!(safe_next(Some("evil.example")), "/");
        assert_eq!(safe_next(None), "/");
        // A line break inside a path cannot split the header: it is dropped or encoded.
        let crlf = safe_next(Some("/events\r\nSet-Cookie: x=1"));
        assert!(
            !crlf.contains('\r') && !crlf.contains('\n') && crlf.starts_with('/'),
            "{crlf}"
        );
        let spaced = safe_next(Some("/events page"));
        assert_eq!(spaced, "/events%20page");
    }
}
