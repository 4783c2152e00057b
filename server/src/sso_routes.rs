//! `/auth/sso/start` and `/auth/sso/callback`: the browser's way through the OpenID Connect
//! provider. The state, nonce and PKCE verifier wait in the session between the two; a failure
//! is kept in the session for the sign-in page to show (never reflected from the URL: a
//! provider's `error_description` is logged, and the page says what its `error` code means in
//! our words), and an administrator's test sign-in is kept for the Single sign-on settings to
//! show, under an id the redirect carries, so the page reads it as often as it renders.

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
use app::backend::sso::flow::{self, Identity, PendingLogin, SsoError, TestSignIn};
use app::backend::sso::settings::SsoSettings;
use app::backend::sso::{accounts, allow_list, settings};
use app::backend::AppState;
use app::format::capitalized;

const PENDING_KEY: &str = "sso_pending";
/// At most this much of a provider's `error_description` reaches the log.
const MAX_LOGGED_DESCRIPTION: usize = 200;

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

/// What the sign-in page says for an `error` code of the provider's answer (RFC 6749 §4.1.2.1,
/// OpenID Connect Core §3.1.2.6); its own description is not shown, it is the provider's text.
fn provider_refusal(code: &str) -> &'static str {
    match code {
        "access_denied" => "The provider did not let you sign in (you, or its policy, declined).",
        "login_required" | "interaction_required" | "account_selection_required" | "consent_required" => {
            "The provider needs you to sign in there first; start again."
        }
        "temporarily_unavailable" | "server_error" => "The provider could not answer just now; try again shortly.",
        "invalid_request" | "unauthorized_client" | "unsupported_response_type" | "invalid_scope"
        | "invalid_request_uri" | "invalid_request_object" | "request_not_supported" | "request_uri_not_supported"
        | "registration_not_supported" => {
            "The provider refused Wharf's request: an administrator must check the single sign-on settings there and here."
        }
        _ => "The provider refused the sign-in.",
    }
}

/// The provider's `error` answer: logged (its description capped, control characters dropped),
/// shown in our words.
async fn refused_by_provider(
    state: &AppState,
    session: &Session,
    error: &str,
    description: Option<&str>,
    address: Option<std::net::IpAddr>,
) -> Response {
    let clean = |text: &str, max: usize| -> String { text.chars().filter(|c| !c.is_control()).take(max).collect() };
    let code = clean(error, 64);
    let description = clean(description.unwrap_or_default(), MAX_LOGGED_DESCRIPTION);
    tracing::warn!(error = %code, description = %description, "the provider refused a single sign-on");
    failed(state, session, provider_refusal(&code).to_string(), address).await
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
    if let Some(error) = query.error.as_deref() {
        return refused_by_provider(&state, &session, error, query.error_description.as_deref(), address).await;
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
        Err(err) => return finish_failed(&state, &session, err, address).await,
    };
    if pending.test {
        return show_test(&session, identity).await;
    }
    sign_in(&state, &session, &settings, &identity, &pending.next, address).await
}

/// A failed code exchange or token check. A provider's answer is logged, not shown: it is the
/// provider's text.
async fn finish_failed(
    state: &AppState,
    session: &Session,
    err: SsoError,
    address: Option<std::net::IpAddr>,
) -> Response {
    let message = match &err {
        SsoError::Provider(_) => {
            // The provider's text: one line, capped, in the log only.
            let detail: String = err.to_string().chars().filter(|c| !c.is_control()).take(1000).collect();
            tracing::warn!(error = %detail, "single sign-on failed");
            "Single sign-on failed: the provider could not be reached or answered wrongly (the server's log says more)."
                .to_string()
        }
        _ => format!("Single sign-on failed: {err}."),
    };
    failed(state, session, message, address).await
}

/// An administrator's test sign-in: kept for the settings page under a fresh id.
async fn show_test(session: &Session, identity: Identity) -> Response {
    let tested = TestSignIn::new(identity);
    if session.insert(SSO_TEST_KEY, &tested).await.is_err() {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    Redirect::to(&format!("/access?tab=sso&test={}", tested.id)).into_response()
}

/// The allow-list, then the Wharf user (created if allowed), then the session.
async fn sign_in(
    state: &AppState,
    session: &Session,
    settings: &SsoSettings,
    identity: &Identity,
    next: &str,
    address: Option<std::net::IpAddr>,
) -> Response {
    if let Some(refusal) = allow_list::refusal(settings, identity) {
        return failed(
            state,
            session,
            format!("{}.", capitalized(&refusal.to_string())),
            address,
        )
        .await;
    }
    let user = match accounts::user_for(&state.db, settings, identity).await {
        Ok(user) => user,
        Err(accounts::AccountError::Db(err)) => {
            tracing::error!(error = %err, "single sign-on: database error");
            return StatusCode::SERVICE_UNAVAILABLE.into_response();
        }
        Err(err) => return failed(state, session, format!("{}.", capitalized(&err.to_string())), address).await,
    };
    if session::sign_in(&state.db, session, &user).await.is_err() {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    state.access_changed();
    audit::signed_in(&state.db, &user.username, "single sign-on", address).await;
    Redirect::to(next).into_response()
}
