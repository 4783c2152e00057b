//! `/auth/sso/start` and `/auth/sso/callback`: the browser's way through the OpenID Connect
//! provider. The state, nonce and PKCE verifier wait in the session between the two; a failure
//! is kept in the session for the sign-in page to show (never reflected from the URL), and an
//! administrator's test sign-in is kept for the Single sign-on settings to show.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use subtle::ConstantTimeEq;
use tower_sessions::Session;

use app::api::auth::safe_next;
use app::backend::access::{Action, Target};
use app::backend::audit::{self, AuditAction};
use app::backend::session::{self, SSO_ERROR_KEY, SSO_TEST_KEY};
use app::backend::sso::flow::{self, PendingLogin, SsoError};
use app::backend::sso::{accounts, settings};
use app::backend::AppState;
use app::format::capitalized;

const PENDING_KEY: &str = "sso_pending";

#[derive(Deserialize)]
pub struct StartQuery {
    next: Option<String>,
    test: Option<String>,
    login_hint: Option<String>,
}

#[derive(Deserialize)]
pub struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

fn callback_url(state: &AppState) -> String {
    state
        .settings
        .public_url
        .join("/auth/sso/callback")
        .map(|u| u.to_string())
        .unwrap_or_default()
}

/// Back to the sign-in page with `message` waiting in the session.
async fn failed(state: &AppState, session: &Session, message: String, address: Option<std::net::IpAddr>) -> Response {
    audit::record(
        &state.db,
        audit::Entry {
            actor: "(single sign-on)",
            action: AuditAction::SignInFailed,
            target: "console",
            detail: &message,
            address,
        },
    )
    .await;
    let message: String = message.chars().take(300).collect();
    if session.insert(SSO_ERROR_KEY, message).await.is_err() {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    Redirect::to("/login?sso=failed").into_response()
}

pub async fn start(
    State(state): State<AppState>,
    session: Session,
    client: Option<axum::Extension<axum::extract::ConnectInfo<std::net::SocketAddr>>>,
    Query(query): Query<StartQuery>,
) -> Response {
    let address = client.map(|c| c.0 .0.ip());
    let test = query.test.as_deref() == Some("1");
    if test {
        // Only an administrator may try the settings out.
        let allowed = match session::require_caller(&state, &session).await {
            Ok(caller) => caller.grants.allows(Target::Registry, Action::Administer),
            Err(_) => false,
        };
        if !allowed {
            return (StatusCode::FORBIDDEN, "Only administrators can test single sign-on.").into_response();
        }
    }
    let settings = match settings::load(&state.db).await {
        Ok(settings) => settings,
        Err(_) => return StatusCode::SERVICE_UNAVAILABLE.into_response(),
    };
    let next = safe_next(query.next.as_deref());
    match flow::start(
        &settings,
        &callback_url(&state),
        next,
        test,
        query.login_hint.as_deref(),
    )
    .await
    {
        Ok((url, pending)) => {
            if session.insert(PENDING_KEY, &pending).await.is_err() {
                return StatusCode::SERVICE_UNAVAILABLE.into_response();
            }
            Redirect::to(&url).into_response()
        }
        Err(err) => {
            tracing::warn!(error = %err, "single sign-on could not start");
            failed(&state, &session, format!("Single sign-on failed: {err}."), address).await
        }
    }
}

pub async fn callback(
    State(state): State<AppState>,
    session: Session,
    client: Option<axum::Extension<axum::extract::ConnectInfo<std::net::SocketAddr>>>,
    Query(query): Query<CallbackQuery>,
) -> Response {
    let address = client.map(|c| c.0 .0.ip());
    let pending: Option<PendingLogin> = session.remove(PENDING_KEY).await.ok().flatten();
    let Some(pending) = pending else {
        return failed(
            &state,
            &session,
            "The single sign-on attempt expired or was already used; start again.".into(),
            address,
        )
        .await;
    };
    if let Some(error) = query.error {
        let description = query.error_description.unwrap_or_default();
        let message = format!("The provider refused the sign-in: {error} {description}");
        return failed(&state, &session, message.trim().to_string(), address).await;
    }
    let same_state = query
        .state
        .as_deref()
        .is_some_and(|s| bool::from(s.as_bytes().ct_eq(pending.state.as_bytes())));
    let (true, Some(code)) = (same_state, query.code) else {
        return failed(
            &state,
            &session,
            "The sign-in answer did not match this browser's request; start again.".into(),
            address,
        )
        .await;
    };
    let settings = match settings::load(&state.db).await {
        Ok(settings) => settings,
        Err(_) => return StatusCode::SERVICE_UNAVAILABLE.into_response(),
    };
    let identity = match flow::finish(&settings, &callback_url(&state), &pending, &code).await {
        Ok(identity) => identity,
        Err(err) => {
            if !matches!(err, SsoError::Rejected(_)) {
                tracing::warn!(error = %err, "single sign-on failed");
            }
            return failed(&state, &session, format!("Single sign-on failed: {err}."), address).await;
        }
    };
    if pending.test {
        let saved = session.insert(SSO_TEST_KEY, &identity).await;
        if saved.is_err() {
            return StatusCode::SERVICE_UNAVAILABLE.into_response();
        }
        return Redirect::to("/access?tab=sso").into_response();
    }
    let user = match accounts::user_for(&state.db, &settings, &identity).await {
        Ok(user) => user,
        Err(accounts::AccountError::Db(err)) => {
            tracing::error!(error = %err, "single sign-on: database error");
            return StatusCode::SERVICE_UNAVAILABLE.into_response();
        }
        Err(err) => return failed(&state, &session, format!("{}.", capitalized(&err.to_string())), address).await,
    };
    if session::sign_in(&state.db, &session, &user).await.is_err() {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    state.access_changed();
    audit::signed_in(&state.db, &user.username, "single sign-on", address).await;
    Redirect::to(&pending.next).into_response()
}
