//! `POST /registry/events`: the registry's notification intake. Authenticated by the shared
//! secret, checked before the body is read; a body that is not an envelope is refused with a
//! reason; an event Wharf cannot use is quarantined; events are stored once (on SQLite, answered
//! once journaled, and stored moments later: see `intake_journal`); pulls of manifests are
//! counted (`pulls`). A well-formed
//! envelope is always answered 200, since the registry retries 4xx/5xx forever and blocks its
//! queue meanwhile.

use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use subtle::ConstantTimeEq;

use app::backend::intake::Accepted;
use app::backend::metrics;
use app::backend::notifier::Signal;
use app::backend::{events, AppState};

/// Notification envelopes are small; anything bigger is not from the registry.
pub const BODY_LIMIT: usize = 4 * 1024 * 1024;

pub async fn receive(State(state): State<AppState>, request: Request) -> Response {
    let headers = request.headers();
    let expected = format!("Bearer {}", state.settings.notification_secret);
    let presented = headers
        .get(header::AUTHORIZATION)
        .map(|v| v.as_bytes())
        .unwrap_or_default();
    if !bool::from(presented.ct_eq(expected.as_bytes())) {
        metrics::notification_refused("unauthorized");
        return reply(
            StatusCode::UNAUTHORIZED,
            serde_json::json!({"error": "missing or wrong Authorization header; use the registry config Wharf generated"}),
        );
    }
    let body = match axum::body::to_bytes(request.into_body(), BODY_LIMIT).await {
        Ok(body) => body,
        Err(_) => {
            metrics::notification_refused("too_large");
            return reply(
                StatusCode::PAYLOAD_TOO_LARGE,
                serde_json::json!({"error": format!("a notification envelope is at most {BODY_LIMIT} bytes")}),
            );
        }
    };
    let split = match events::split_envelope(&body) {
        Ok(parsed) => parsed,
        Err(err) => {
            tracing::warn!(error = %err, "refused a notification envelope");
            metrics::notification_refused("malformed");
            return reply(StatusCode::BAD_REQUEST, serde_json::json!({"error": err.to_string()}));
        }
    };
    match state.intake.accept(&body, split).await {
        Ok(accepted) => {
            count_events(&accepted);
            if let Accepted::Stored(outcome) = accepted {
                tracing::info!(
                    stored = outcome.stored,
                    duplicates = outcome.duplicates,
                    pulls = outcome.pulls,
                    pulls_dropped = outcome.dropped,
                    quarantined = outcome.quarantined,
                    deliveries = outcome.deliveries,
                    "registry events received"
                );
                if outcome.stored > 0 {
                    state.notifier.publish(Signal::EventsStored);
                }
                if outcome.deliveries > 0 {
                    state.notifier.publish(Signal::DeliveriesQueued);
                }
            }
            reply(StatusCode::OK, serde_json::to_value(accepted).unwrap_or_default())
        }
        Err(err) => {
            // Not stored: let the registry retry.
            tracing::error!(error = %err, "cannot store registry events");
            metrics::notification_refused("unavailable");
            reply(
                StatusCode::SERVICE_UNAVAILABLE,
                serde_json::json!({"error": "database unavailable"}),
            )
        }
    }
}

/// The events of an accepted envelope, in `/metrics`: duplicates the registry sent again count
/// as taken in (they are found out when stored).
fn count_events(accepted: &Accepted) {
    match *accepted {
        Accepted::Stored(outcome) => metrics::events_received(
            outcome.stored + outcome.duplicates,
            outcome.quarantined,
            outcome.pulls,
            outcome.dropped,
        ),
        Accepted::Journaled {
            journaled,
            pulls,
            dropped,
            quarantined,
        } => metrics::events_received(journaled, quarantined, pulls, dropped),
    }
}

fn reply(status: StatusCode, body: serde_json::Value) -> Response {
    (status, Json(body)).into_response()
}
