//! Signed-in state: the session (tower-sessions, stored in the database) holds the user id.

use tower_sessions::Session;

use super::state::AppState;
use super::users::{self, User};
use crate::model::AppError;

const USER_ID_KEY: &str = "user_id";

pub async fn sign_in(session: &Session, user: &User) -> Result<(), AppError> {
    // A new id on sign-in, so a session id planted before sign-in is worthless after it.
    session.cycle_id().await.map_err(internal)?;
    session.insert(USER_ID_KEY, &user.id).await.map_err(internal)
}

pub async fn sign_out(session: &Session) -> Result<(), AppError> {
    session.flush().await.map_err(internal)
}

/// The signed-in user, if any (a session whose user was deleted counts as signed out).
pub async fn current_user(state: &AppState, session: &Session) -> Result<Option<User>, AppError> {
    let Some(id) = session.get::<String>(USER_ID_KEY).await.map_err(internal)? else {
        return Ok(None);
    };
    users::find_by_id(&state.db, &id).await.map_err(internal)
}

/// The signed-in user or `Unauthorized`.
pub async fn require_user(state: &AppState, session: &Session) -> Result<User, AppError> {
    current_user(state, session).await?.ok_or(AppError::Unauthorized)
}

pub fn internal(err: impl std::fmt::Display) -> AppError {
    tracing::error!(error = %err, "internal error");
    AppError::Internal("see the server log".into())
}

/// The signed-in user, if `allowed_actions` grants them `action` on the resource; otherwise
/// `Unauthorized` (signed out) or `Forbidden` with `what` ("delete images in team/app").
pub async fn require_access(
    state: &AppState,
    session: &Session,
    resource_type: &str,
    resource_name: &str,
    action: &str,
    what: &str,
) -> Result<User, AppError> {
    let user = require_user(state, session).await?;
    let subject = super::access::Subject::User(user.clone());
    let granted = super::access::allowed_actions(&subject, resource_type, resource_name, &[action.to_string()]);
    if granted.iter().any(|a| a == action) {
        Ok(user)
    } else {
        Err(AppError::Forbidden(what.to_string()))
    }
}

/// The session of the current server function call.
pub async fn current_session() -> Result<Session, AppError> {
    Ok(leptos_axum::extract::<Session>().await?)
}

/// The first step of a server function: the app state, once the signed-in user may perform
/// `action` on the resource (see [`require_access`]).
pub async fn authorize(
    resource_type: &str,
    resource_name: &str,
    action: &str,
    what: &str,
) -> Result<AppState, AppError> {
    let state = AppState::from_context()?;
    let session = current_session().await?;
    require_access(&state, &session, resource_type, resource_name, action, what).await?;
    Ok(state)
}
