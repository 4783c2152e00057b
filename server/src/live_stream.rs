//! `GET /api/stream`: index updates as server-sent events, for signed-in users. Each message is
//! an `IndexUpdate` in JSON; pages refetch what concerns them. A reader only hears of the
//! repositories it may pull and, if it manages webhooks, of deliveries (its grants are read when
//! the stream opens). The stream ends at shutdown.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::stream::{self, Stream};
use tower_sessions::Session;

use app::backend::access::{Action, Visibility};
use app::backend::notifier::{Received, Signal, Subscription};
use app::backend::{session, AppState};
use app::model::{AppError, IndexUpdate};

pub async fn stream(State(state): State<AppState>, session: Session) -> Response {
    let caller = match session::require_caller(&state, &session).await {
        Ok(caller) => caller,
        Err(AppError::Unauthorized) => {
            return (StatusCode::UNAUTHORIZED, "sign in to follow live updates").into_response()
        }
        Err(_) => return StatusCode::SERVICE_UNAVAILABLE.into_response(),
    };
    let audience = Audience {
        visible: caller.grants.readable(),
        // A delivery update carries only the webhook's id; the page it makes refetch checks the rest.
        deliveries: !caller.grants.scopes_for(Action::ManageWebhooks).is_empty(),
    };
    Sse::new(updates(&state, audience))
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response()
}

/// What one reader may hear of.
struct Audience {
    visible: Visibility,
    deliveries: bool,
}

impl Audience {
    fn hears(&self, update: &IndexUpdate) -> bool {
        match update {
            IndexUpdate::Repository { name } => self.visible.includes(name),
            IndexUpdate::Sync { .. } => true,
            IndexUpdate::Delivery { .. } => self.deliveries,
        }
    }
}

fn updates(state: &AppState, audience: Audience) -> impl Stream<Item = Result<Event, Infallible>> {
    let receiver = state.notifier.subscribe();
    let stopping = state.sync.stopping();
    // The first message is the current status, so a page knows where reconcile stands.
    let first = Some(IndexUpdate::Sync {
        status: state.sync.status(),
    });
    stream::unfold(
        (receiver, stopping, first, audience),
        |(mut receiver, mut stopping, first, audience)| async move {
            if let Some(update) = first {
                return Some((Ok(to_event(&update)), (receiver, stopping, None, audience)));
            }
            if *stopping.borrow() {
                return None;
            }
            tokio::select! {
                received = next_live(&mut receiver, &audience) => match received {
                    Received::Signal(Signal::Live(update)) => {
                        Some((Ok(to_event(&update)), (receiver, stopping, None, audience)))
                    }
                    // A slow reader missed some: tell it to refetch everything.
                    Received::Lagged => Some((
                        Ok(Event::default().event("lagged").data("{}")),
                        (receiver, stopping, None, audience),
                    )),
                    Received::Signal(_) | Received::Closed => None,
                },
                _ = stopping.changed() => None,
            }
        },
    )
}

/// The next live update this reader may hear of (worker wake-ups are not for browsers).
async fn next_live(receiver: &mut Subscription, audience: &Audience) -> Received {
    loop {
        let received = receiver.recv().await;
        let skip = match &received {
            Received::Signal(Signal::Live(update)) => !audience.hears(update),
            Received::Signal(_) => true,
            Received::Lagged | Received::Closed => false,
        };
        if !skip {
            return received;
        }
    }
}

fn to_event(update: &IndexUpdate) -> Event {
    Event::default().data(serde_json::to_string(update).unwrap_or_else(|_| "{}".into()))
}
