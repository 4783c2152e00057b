use leptos::prelude::*;

use crate::model::{AppError, EventsPage};

/// A page of stored registry events, newest first, narrowed by repository (or `namespace/`),
/// action and pusher, within the repositories the caller may pull. Administrators also get the
/// newest quarantined events on the first unfiltered page (raw events of any repository, with
/// client addresses: nobody else's to read).
#[server(prefix = "/api", endpoint = "events")]
pub async fn list_events(
    cursor: Option<String>,
    repository: Option<String>,
    action: Option<String>,
    pusher: Option<String>,
) -> Result<EventsPage, AppError> {
    use crate::backend::{events, session};
    let (repository, action, pusher) = (
        repository.unwrap_or_default(),
        action.unwrap_or_default(),
        pusher.unwrap_or_default(),
    );
    crate::backend::responses::with_status(
        async move {
            let (state, caller) = session::signed_in().await?;
            if !matches!(action.as_str(), "" | "push" | "delete") {
                return Err(AppError::BadRequest("Filter by push or delete.".into()));
            }
            if repository.len() > 256 || pusher.len() > 256 {
                return Err(AppError::BadRequest("The filter is too long.".into()));
            }
            let filter = events::EventFilter {
                repository,
                action,
                pusher,
                visible: caller.grants.readable(),
            };
            let cursor = cursor.as_deref().filter(|c| !c.is_empty());
            let mut page = events::list(&state.db, &filter, cursor)
                .await
                .map_err(session::internal)?;
            if caller.is_administrator() && cursor.is_none() && filter.is_empty() {
                page.quarantined = events::quarantined(&state.db, 20).await.map_err(session::internal)?;
            }
            Ok(page)
        }
        .await,
    )
    .await
}

/// Applies a set-aside event again (administrators): it gets a fresh set of attempts.
#[server(prefix = "/api", endpoint = "retry_event")]
pub async fn retry_event(id: String) -> Result<(), AppError> {
    use crate::backend::access::{Action, Target};
    use crate::backend::session;
    use crate::backend::sync::apply::QUEUE;
    crate::backend::responses::with_status(
        async move {
            let (state, _) = session::authorize(Target::Registry, Action::Administer, "retry registry events").await?;
            let mut conn = state.db.pool.acquire().await.map_err(session::internal)?;
            if !crate::backend::work::revive(&mut conn, &QUEUE, &id)
                .await
                .map_err(session::internal)?
            {
                return Err(AppError::NotFound("That event".into()));
            }
            state.notifier.publish(crate::backend::notifier::Signal::EventsStored);
            Ok(())
        }
        .await,
    )
    .await
}
