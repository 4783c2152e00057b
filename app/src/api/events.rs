use leptos::prelude::*;

use crate::model::{AppError, EventsPage};

/// A page of stored registry events, newest first.
#[server(prefix = "/api", endpoint = "events")]
pub async fn list_events(cursor: Option<String>) -> Result<EventsPage, AppError> {
    use crate::backend::{events, session, AppState};
    crate::backend::responses::with_status(
        async move {
            let state = AppState::from_context()?;
            let session = leptos_axum::extract::<tower_sessions::Session>().await?;
            session::require_user(&state, &session).await?;
            events::list(&state.db, cursor.as_deref().filter(|c| !c.is_empty()))
                .await
                .map_err(session::internal)
        }
        .await,
    )
    .await
}
