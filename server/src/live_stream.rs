//! `GET /api/stream`: index updates as server-sent events, for signed-in users. Each message is
//! an `IndexUpdate` in JSON; pages refetch what concerns them. The stream ends at shutdown.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::stream::{self, Stream};
use tower_sessions::Session;

use app::backend::notifier::{Received, Signal, Subscription};
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
    let receiver = state.notifier.subscribe();
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
                received = next_live(&mut receiver) => match received {
                    Received::Signal(Signal::Live(update)) => Some((Ok(to_event(&update)), (receiver, stopping, None))),
                    // A slow reader missed some: tell it to refetch everything.
                    Received::Lagged => {
                        Some((Ok(Event::default().event("lagged").data("{}")), (receiver, stopping, None)))
                    }
                    Received::Signal(_) | Received::Closed => None,
                },
                _ = stopping.changed() => None,
            }
        },
    )
}

/// The next live update (worker wake-ups are not for browsers).
async fn next_live(receiver: &mut Subscription) -> Received {
    loop {
        let received = receiver.recv().await;
        if !matches!(received, Received::Signal(ref signal) if !matches!(signal, Signal::Live(_))) {
            return received;
        }
    }
}

fn to_event(update: &IndexUpdate) -> Event {
    Event::default().data(serde_json::to_string(update).unwrap_or_else(|_| "{}".into()))
}
