//! Live updates: one `EventSource` on `/api/stream` for the whole app (browser only). Pages read
//! [`LiveUpdates::changes`] as a resource source, so they refetch when the index changes.

use leptos::prelude::*;

#[derive(Clone, Copy)]
pub struct LiveUpdates {
    /// Bumped (at most about once a second) after repositories changed.
    pub changes: RwSignal<u64>,
}

/// Provides [`LiveUpdates`] and, in the browser, opens the stream once signed in.
pub fn provide_live_updates(signed_in: Signal<bool>) {
    let live = LiveUpdates {
        changes: RwSignal::new(0),
    };
    provide_context(live);
    #[cfg(feature = "hydrate")]
    browser::connect(live, signed_in);
    #[cfg(not(feature = "hydrate"))]
    let _ = signed_in;
}

/// The app's live-update counter (0 forever when no provider is above).
pub fn use_live_changes() -> Signal<u64> {
    match use_context::<LiveUpdates>() {
        Some(live) => live.changes.into(),
        None => Signal::derive(|| 0),
    }
}

#[cfg(feature = "hydrate")]
mod browser {
    use std::time::Duration;

    use futures::StreamExt;
    use gloo_net::eventsource::futures::EventSource;
    use leptos::prelude::*;

    use super::LiveUpdates;
    use crate::model::IndexUpdate;

    const DEBOUNCE: Duration = Duration::from_millis(800);

    pub fn connect(live: LiveUpdates, signed_in: Signal<bool>) {
        let source = StoredValue::new_local(None::<EventSource>);
        // Owned by the app, not by one run of the effect: a stream closed by sign-out may still
        // deliver an event after the effect has run again.
        let pending = StoredValue::new_local(false);
        let bump = move || {
            if !pending.try_get_value().unwrap_or(true) {
                pending.set_value(true);
                set_timeout(
                    move || {
                        pending.try_set_value(false);
                        live.changes.try_update(|n| *n += 1);
                    },
                    DEBOUNCE,
                );
            }
        };
        Effect::new(move |_| {
            // Reconnect when the sign-in state changes (the stream refuses anonymous readers).
            if !signed_in.get() {
                source.set_value(None);
                return;
            }
            let Ok(mut events) = EventSource::new("/api/stream") else {
                return;
            };
            let Ok(messages) = events.subscribe("message") else {
                return;
            };
            let Ok(lagged) = events.subscribe("lagged") else {
                return;
            };
            source.set_value(Some(events));
            leptos::task::spawn_local(async move {
                // A repository update, or "lagged" (updates were missed): both mean refetch.
                let relevant = messages.filter_map(|message| {
                    let repository_changed = message
                        .ok()
                        .and_then(|(_, event)| event.data().as_string())
                        .is_some_and(|data| {
                            matches!(
                                serde_json::from_str::<IndexUpdate>(&data),
                                Ok(IndexUpdate::Repository { .. })
                            )
                        });
                    futures::future::ready(repository_changed.then_some(()))
                });
                // Errors (the stream closed at sign-out, or a network failure the browser retries)
                // are no updates.
                let lagged = lagged.filter_map(|message| futures::future::ready(message.ok().map(|_| ())));
                let mut merged = futures::stream::select(relevant, lagged);
                while merged.next().await.is_some() {
                    bump();
                }
            });
        });
    }
}
