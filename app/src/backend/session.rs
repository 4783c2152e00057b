//! Signed-in state: the session (tower-sessions, stored in the database) holds the user id and
//! the user's session generation at sign-in. A password change, a reset or disabling the user
//! raises the generation (see [`users::session_generation`]), which ends every session signed in
//! before at its next request, on any replica, without finding the sessions in the store.

use tower_sessions::Session;

use super::access::{self, Action, Grants, Subject, Target};
use super::audit::{self, AuditAction, Entry};
use super::db::Db;
use super::state::AppState;
use super::users::{self, User};
use crate::model::{AppError, NewSecret};

const USER_ID_KEY: &str = "user_id";
/// Why the last single sign-on failed, for the sign-in page (shown once).
pub const SSO_ERROR_KEY: &str = "sso_error";
/// An administrator's last test sign-in, for the settings page (shown once).
pub const SSO_TEST_KEY: &str = "sso_test";
const SIGNED_IN_AT_KEY: &str = "signed_in_at";
const SEEN_AT_KEY: &str = "seen_at";
/// The user's session generation when this session signed in (absent: 0, from before it existed).
const GENERATION_KEY: &str = "generation";
/// A personal access token created by a form posted without JavaScript, shown once by the next
/// Profile page: (created at, the token).
const NEW_TOKEN_KEY: &str = "new_token";
/// How long such a token waits to be shown before it is dropped unseen.
const NEW_TOKEN_SHOWN_WITHIN_MS: i64 = 5 * 60 * 1000;

/// A session ends this long after sign-in, however active.
pub const ABSOLUTE_LIFETIME_MS: i64 = 7 * 24 * 3600 * 1000;
/// The idle timer (the store's expiry) is pushed back at most this often, so an active session
/// does not write to the database on every request.
const TOUCH_EVERY_MS: i64 = 5 * 60 * 1000;

pub async fn sign_in(db: &Db, session: &Session, user: &User) -> Result<(), AppError> {
    let generation = users::session_generation(db, &user.id)
        .await
        .map_err(internal)?
        .ok_or(AppError::Unauthorized)?;
    // A new id on sign-in, so a session id planted before sign-in is worthless after it.
    session.cycle_id().await.map_err(internal)?;
    let now = super::db::now_ms();
    session.insert(SIGNED_IN_AT_KEY, now).await.map_err(internal)?;
    session.insert(SEEN_AT_KEY, now).await.map_err(internal)?;
    session.insert(GENERATION_KEY, generation).await.map_err(internal)?;
    session.insert(USER_ID_KEY, &user.id).await.map_err(internal)
}

/// After the user changed their password from this session (which ended all their sessions):
/// this one goes on, under a new id and the new generation.
pub async fn keep_after_password_change(db: &Db, session: &Session, user: &User) -> Result<(), AppError> {
    let generation = users::session_generation(db, &user.id)
        .await
        .map_err(internal)?
        .ok_or(AppError::Unauthorized)?;
    session.cycle_id().await.map_err(internal)?;
    session.insert(GENERATION_KEY, generation).await.map_err(internal)
}

pub async fn sign_out(session: &Session) -> Result<(), AppError> {
    session.flush().await.map_err(internal)
}

/// The signed-in user, if any (a session whose user was deleted counts as signed out).
/// A session past its absolute lifetime is ended here; an active one has its idle timer pushed
/// back (a changed session is saved with a new expiry).
pub async fn current_user(state: &AppState, session: &Session) -> Result<Option<User>, AppError> {
    let Some(id) = session.get::<String>(USER_ID_KEY).await.map_err(internal)? else {
        return Ok(None);
    };
    let now = super::db::now_ms();
    let signed_in_at = session
        .get::<i64>(SIGNED_IN_AT_KEY)
        .await
        .map_err(internal)?
        .unwrap_or(0);
    if now - signed_in_at > ABSOLUTE_LIFETIME_MS {
        session.flush().await.map_err(internal)?;
        return Ok(None);
    }
    let generation = session.get::<i64>(GENERATION_KEY).await.map_err(internal)?.unwrap_or(0);
    let Some(user) = users::find_signed_in(&state.db, &id, generation)
        .await
        .map_err(internal)?
    else {
        // Deleted, disabled, or its password changed since: this session is over for good.
        session.flush().await.map_err(internal)?;
        return Ok(None);
    };
    let seen_at = session.get::<i64>(SEEN_AT_KEY).await.map_err(internal)?.unwrap_or(0);
    if now - seen_at > TOUCH_EVERY_MS {
        session.insert(SEEN_AT_KEY, now).await.map_err(internal)?;
    }
    Ok(Some(user))
}

/// Keeps a new personal access token for the next Profile page (a form posted without
/// JavaScript is answered with a redirect, which cannot carry it).
pub async fn keep_new_token(session: &Session, token: &NewSecret) -> Result<(), AppError> {
    session
        .insert(NEW_TOKEN_KEY, (super::db::now_ms(), token))
        .await
        .map_err(internal)
}

/// The token kept by [`keep_new_token`], once: it is removed from the session as it is read,
/// and dropped unseen when it waited too long.
pub async fn take_new_token(session: &Session) -> Result<Option<NewSecret>, AppError> {
    // Read first: removing marks the session changed (a write), which most page loads need not.
    let Some((at, token)) = session.get::<(i64, NewSecret)>(NEW_TOKEN_KEY).await.map_err(internal)? else {
        return Ok(None);
    };
    session.remove_value(NEW_TOKEN_KEY).await.map_err(internal)?;
    Ok((super::db::now_ms() - at <= NEW_TOKEN_SHOWN_WITHIN_MS).then_some(token))
}

/// The signed-in user or `Unauthorized`.
pub async fn require_user(state: &AppState, session: &Session) -> Result<User, AppError> {
    current_user(state, session).await?.ok_or(AppError::Unauthorized)
}

pub fn internal(err: impl std::fmt::Display) -> AppError {
    tracing::error!(error = %err, "internal error");
    match request_id() {
        Some(id) => AppError::Internal(format!("request id {id}")),
        None => AppError::Internal("see the server log".into()),
    }
}

/// The id of the request being served (its `x-request-id`, set by the server for every request),
/// so an error a user sees names the log lines that explain it.
fn request_id() -> Option<String> {
    let parts = leptos::prelude::use_context::<axum::http::request::Parts>()?;
    let id = parts.headers.get("x-request-id")?.to_str().ok()?;
    Some(id.to_string())
}

/// A signed-in user with everything their assignments grant.
pub struct Caller {
    pub user: User,
    pub grants: Grants,
}

impl Caller {
    /// `Forbidden` with `what` ("delete images in team/app") unless [`decide`] allows it.
    ///
    /// [`decide`]: super::access::decide
    pub fn require(&self, target: Target<'_>, action: Action, what: &str) -> Result<(), AppError> {
        if self.grants.allows(target, action) {
            Ok(())
        } else {
            Err(AppError::Forbidden(what.to_string()))
        }
    }

    /// A registry administrator: may see what is not scoped to repositories (raw events,
    /// registry errors, receivers' answers).
    pub fn is_administrator(&self) -> bool {
        self.grants.allows(Target::Registry, Action::Administer)
    }
}

impl Caller {
    /// Writes `action` on `target` by this caller to the audit log.
    pub async fn audit(&self, state: &AppState, action: AuditAction, target: &str, detail: &str) {
        audit::record(
            &state.db,
            Entry {
                actor: &self.user.username,
                action,
                target,
                detail,
                address: client_address().await,
            },
        )
        .await;
    }
}

/// The address the current server function call came from.
pub async fn client_address() -> Option<std::net::IpAddr> {
    leptos_axum::extract::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .await
        .ok()
        .map(|info| info.0.ip())
}

/// The signed-in user and their grants, or `Unauthorized`.
pub async fn require_caller(state: &AppState, session: &Session) -> Result<Caller, AppError> {
    let user = require_user(state, session).await?;
    let grants = access::assignments::grants_of(&state.db, &Subject::User(user.clone()))
        .await
        .map_err(internal)?;
    Ok(Caller { user, grants })
}

/// The session of the current server function call.
pub async fn current_session() -> Result<Session, AppError> {
    Ok(leptos_axum::extract::<Session>().await?)
}

/// The first step of a server function that reads a list it filters itself: the app state and
/// the signed-in caller.
pub async fn signed_in() -> Result<(AppState, Caller), AppError> {
    let state = AppState::from_context()?;
    let session = current_session().await?;
    let caller = require_caller(&state, &session).await?;
    Ok((state, caller))
}

/// The first step of every other server function: the app state and the caller, once the
/// signed-in user may do `action` on `target` (else `Unauthorized` or `Forbidden` with `what`).
pub async fn authorize(target: Target<'_>, action: Action, what: &str) -> Result<(AppState, Caller), AppError> {
    let (state, caller) = signed_in().await?;
    caller.require(target, action, what)?;
    Ok((state, caller))
}

#[cfg(test)]
mod tests {
    use leptos::prelude::{provide_context, Owner};

    use super::internal;
    use crate::model::AppError;

    #[test]
    fn an_internal_error_names_the_request_being_served() {
        Owner::new().with(|| {
            assert_eq!(internal("boom"), AppError::Internal("see the server log".into()));
            let request = axum::http::Request::get("/api/x").header("x-request-id", "req-9");
            provide_context(request.body(()).unwrap().into_parts().0);
            assert_eq!(
                internal("boom").to_string(),
                "Something went wrong on the server: request id req-9. Try again; if it persists, check the server log."
            );
        });
    }
}
