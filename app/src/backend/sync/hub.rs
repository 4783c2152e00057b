//! The shared sync state: registry reachability, reconcile progress, the wake-ups of the
//! workers and the broadcast channel that `/api/stream` forwards to browsers.

use std::sync::RwLock;

use tokio::sync::{broadcast, watch, Notify};

use crate::model::{IndexUpdate, ReconcileProgress, SyncStatus};

pub struct SyncHub {
    status: RwLock<SyncStatus>,
    updates: broadcast::Sender<IndexUpdate>,
    /// New events were stored: the event worker applies them now instead of at its next tick.
    pub events_stored: Notify,
    /// An administrator asked for a reconcile.
    pub resync_requested: Notify,
    /// Set once at shutdown: workers and live streams end.
    stop: watch::Sender<bool>,
}

impl Default for SyncHub {
    fn default() -> Self {
        SyncHub {
            status: RwLock::new(SyncStatus::default()),
            updates: broadcast::channel(256).0,
            events_stored: Notify::new(),
            resync_requested: Notify::new(),
            stop: watch::channel(false).0,
        }
    }
}

impl SyncHub {
    /// Ends the workers and the live streams (graceful shutdown waits for open streams).
    pub fn stop(&self) {
        let _ = self.stop.send(true);
    }

    /// Changes once, when [`SyncHub::stop`] is called.
    pub fn stopping(&self) -> watch::Receiver<bool> {
        self.stop.subscribe()
    }

    pub fn status(&self) -> SyncStatus {
        self.status.read().expect("sync status lock").clone()
    }

    pub fn subscribe(&self) -> broadcast::Receiver<IndexUpdate> {
        self.updates.subscribe()
    }

    /// Tells live pages that a repository changed.
    pub fn repository_changed(&self, name: &str) {
        // No subscriber is fine: nobody is looking.
        let _ = self.updates.send(IndexUpdate::Repository { name: name.to_string() });
    }

    /// Records whether the registry answers; broadcasts only on a change.
    pub fn set_registry_error(&self, error: Option<String>) {
        let changed = {
            let mut status = self.status.write().expect("sync status lock");
            let changed = status.registry_error != error;
            status.registry_error = error;
            changed
        };
        if changed {
            self.broadcast_status();
        }
    }

    pub fn update_reconcile(&self, change: impl FnOnce(&mut ReconcileProgress)) {
        {
            let mut status = self.status.write().expect("sync status lock");
            change(&mut status.reconcile);
        }
        self.broadcast_status();
    }

    fn broadcast_status(&self) {
        let _ = self.updates.send(IndexUpdate::Sync { status: self.status() });
    }
}
