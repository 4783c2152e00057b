//! Live updates: one `EventSource` on `/api/stream` for the whole app (browser only). Pages read
//! [`LiveUpdates::changes`] as a resource source, so they refetch when the index changes.

use leptos::prelude::*;

use crate::model::{ReconcileProgress, SyncStatus};

#[derive(Clone, Copy)]
pub struct LiveUpdates {
    /// Bumped (at most about once a second) after repositories changed.
    pub changes: RwSignal<u64>,
    /// Bumped (likewise) after webhook deliveries were attempted.
    pub deliveries: RwSignal<u64>,
    /// Bumped (likewise) after a retention run progressed.
    pub housekeeping: RwSignal<u64>,
    /// Bumped (likewise) when a garbage collection run began, moved on or ended.
    pub gc: RwSignal<u64>,
    /// The latest registry and reconcile status the stream sent (none yet: the page's own).
    pub sync: RwSignal<Option<SyncStatus>>,
}

/// Provides [`LiveUpdates`] and, in the browser, opens the stream once signed in.
pub fn provide_live_updates(signed_in: Signal<bool>) {
    let live = LiveUpdates {
        changes: RwSignal::new(0),
        deliveries: RwSignal::new(0),
        housekeeping: RwSignal::new(0),
        gc: RwSignal::new(0),
        sync: RwSignal::new(None),
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

/// The latest sync status from the stream, when one came (None forever without a provider).
pub fn use_live_sync() -> Signal<Option<SyncStatus>> {
    match use_context::<LiveUpdates>() {
        Some(live) => live.sync.into(),
        None => Signal::derive(|| None),
    }
}

/// The reconcile's progress: live when the stream has sent some, else `initial` (what the page
/// was rendered with).
pub fn use_live_reconcile(initial: ReconcileProgress) -> Signal<ReconcileProgress> {
    let live = use_live_sync();
    Signal::derive(move || {
        live.get()
            .map(|status| status.reconcile)
            .unwrap_or_else(|| initial.clone())
    })
}

/// Bumped when a garbage collection run changed (0 forever when no provider is above).
pub fn use_live_gc() -> Signal<u64> {
    match use_context::<LiveUpdates>() {
        Some(live) => live.gc.into(),
        None => Signal::derive(|| 0),
    }
}

/// Bumped when webhook deliveries were attempted (0 forever when no provider is above).
pub fn use_live_deliveries() -> Signal<u64> {
    match use_context::<LiveUpdates>() {
        Some(live) => live.deliveries.into(),
        None => Signal::derive(|| 0),
    }
}

/// Bumped when a housekeeping run progressed (0 forever when no provider is above).
pub fn use_live_housekeeping() -> Signal<u64> {
    match use_context::<LiveUpdates>() {
        Some(live) => live.housekeeping.into(),
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

    #[derive(Clone, Copy, PartialEq, Eq)]
    enum Refetch {
        Index,
        Deliveries,
        Gc,
        Retention,
        All,
    }

    pub fn connect(live: LiveUpdates, signed_in: Signal<bool>) {
        let source = StoredValue::new_local(None::<EventSource>);
        // Owned by the app, not by one run of the effect: a stream closed by sign-out may still
        // deliver an event after the effect has run again.
        let debounced = |counter: RwSignal<u64>| {
            let pending = StoredValue::new_local(false);
            move || {
                if !pending.try_get_value().unwrap_or(true) {
                    pending.set_value(true);
                    set_timeout(
                        move || {
                            pending.try_set_value(false);
                            counter.try_update(|n| *n += 1);
                        },
                        DEBOUNCE,
                    );
                }
            }
        };
        let bump = debounced(live.changes);
        let bump_deliveries = debounced(live.deliveries);
        let bump_housekeeping = debounced(live.housekeeping);
        let bump_gc = debounced(live.gc);
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
                // A repository update, a delivery, or "lagged" (updates were missed: refetch all).
                let relevant = messages.filter_map(|message| {
                    let update = message
                        .ok()
                        .and_then(|(_, event)| event.data().as_string())
                        .and_then(|data| serde_json::from_str::<IndexUpdate>(&data).ok());
                    futures::future::ready(match update {
                        // Progress and reachability are shown as they come, without a refetch.
                        // A reconcile that just ended: pages refetch what it wrote.
                        Some(IndexUpdate::Sync { status }) => {
                            let was_running = live
                                .sync
                                .try_get_untracked()
                                .flatten()
                                .is_some_and(|s| s.reconcile.running);
                            let ended = was_running && !status.reconcile.running;
                            live.sync.try_set(Some(status));
                            ended.then_some(Refetch::Index)
                        }
                        Some(IndexUpdate::Repository { .. }) => Some(Refetch::Index),
                        Some(IndexUpdate::Delivery { .. }) => Some(Refetch::Deliveries),
                        Some(IndexUpdate::Housekeeping { .. }) => Some(Refetch::Retention),
                        Some(IndexUpdate::GarbageCollection { .. }) => Some(Refetch::Gc),
                        None => None,
                    })
                });
                // Errors (the stream closed at sign-out, or a network failure the browser retries)
                // are no updates.
                let lagged = lagged.filter_map(|message| futures::future::ready(message.ok().map(|_| Refetch::All)));
                let mut merged = futures::stream::select(relevant, lagged);
                while let Some(refetch) = merged.next().await {
                    match refetch {
                        Refetch::Index => bump(),
                        Refetch::Deliveries => bump_deliveries(),
                        Refetch::Gc => bump_gc(),
                        Refetch::Retention => bump_housekeeping(),
                        Refetch::All => {
                            bump();
                            bump_deliveries();
                            bump_gc();
                            bump_housekeeping();
                        }
                    }
                }
            });
        });
    }
}
