//! `GET /api/stream`: index updates as server-sent events, for signed-in users. Each message is
//! an `IndexUpdate` in JSON; pages refetch what concerns them. The stream ends at shutdown.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::stream::{self, Stream};
use tokio::sync::broadcast::error::RecvError;
use tower_sessions::Session;

use app::backend::{session, AppState};
use app::model::IndexUpdate;

pub async fn stream(State(state): State<AppState>, session: Session) -> Response {
    match session::current_user(&state, &session).await {
        Ok(Some(_)) => {}
        Ok(None) => return (StatusCode::UNAUTHORIZED, "sign in to follow live updates").into_response(),
        Err(_) => return StatusCode::SERVICE_UNAVAILABLE.into_response(),
    }
    Sse::new(updates(&state))
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response()
}

fn updates(state: &AppState) -> impl Stream<Item = Result<Event, Infallible>> {
    let receiver = state.sync.subscribe();
    let stopping = state.sync.stopping();
    // The first message is the current status, so a page knows where reconcile stands.
    let first = Some(IndexUpdate::Sync {
        status: state.sync.status(),
    });
    stream::unfold(
        (receiver, stopping, first),
        |(mut receiver, mut stopping, first)| async move {
            if let Some(update) = first {
                return Some((Ok(to_event(&update)), (receiver, stopping, None)));
            }
            if *stopping.borrow() {
                return None;
            }
            tokio::select! {
                received = receiver.recv() => match received {
                    Ok(update) => Some((Ok(to_event(&update)), (receiver, stopping, None))),
                    // A slow reader missed some: tell it to refetch everything.
                    Err(RecvError::Lagged(_)) => {
                        Some((Ok(Event::default().event("lagged").data("{}")), (receiver, stopping, None)))
                    }
                    Err(RecvError::Closed) => None,
                },
                _ = stopping.changed() => None,
            }
        },
    )
}

fn to_event(update: &IndexUpdate) -> Event {
    Event::default().data(serde_json::to_string(update).unwrap_or_else(|_| "{}".into()))
}
