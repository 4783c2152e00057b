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
