//! The shared sync state: registry reachability and reconcile progress, published as live
//! updates through the notifier, and the shutdown signal of the workers and live streams.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use tokio::sync::watch;

use crate::backend::notifier::{Notifier, Signal};
use crate::model::{IndexUpdate, ReconcileProgress, SyncStatus};

pub struct SyncHub {
    status: RwLock<SyncStatus>,
    notifier: Arc<Notifier>,
    /// Set once at shutdown: workers and live streams end.
    stop: watch::Sender<bool>,
    /// Moves on whenever a repository changes: what was counted before may be stale.
    generation: AtomicU64,
    /// Counts administrators' requests for a reconcile; the reconcile worker follows it (a
    /// watch, not a broadcast signal: a request is never lost to a busy worker, and a burst of
    /// other signals is never taken for one).
    resync: watch::Sender<u64>,
    /// When the reconcile progress was last told to the other replicas.
    progress_told: Mutex<Option<Instant>>,
}

/// A running reconcile tells the other replicas its progress at most this often.
const PROGRESS_EVERY: Duration = Duration::from_millis(250);

impl SyncHub {
    pub fn new(notifier: Arc<Notifier>) -> SyncHub {
        SyncHub {
            status: RwLock::new(SyncStatus::default()),
            notifier,
            stop: watch::channel(false).0,
            generation: AtomicU64::new(0),
            resync: watch::channel(0).0,
            progress_told: Mutex::new(None),
        }
    }

    /// Ends the workers and the live streams (graceful shutdown waits for open streams).
    pub fn stop(&self) {
        let _ = self.stop.send(true);
    }

    /// Changes once, when [`SyncHub::stop`] is called.
    pub fn stopping(&self) -> watch::Receiver<bool> {
        self.stop.subscribe()
    }

    /// Asks the reconcile worker for a reconcile (one more right after the current one, if one runs).
    pub fn request_resync(&self) {
        self.resync.send_modify(|requests| *requests += 1);
    }

    /// Changes when a reconcile is requested.
    pub fn resync_requests(&self) -> watch::Receiver<u64> {
        self.resync.subscribe()
    }

    /// The index generation: changes after every committed change to a repository.
    pub fn index_generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    pub fn status(&self) -> SyncStatus {
        self.status.read().expect("sync status lock").clone()
    }

    /// Tells live pages that a repository changed (call it once the change is committed).
    pub fn repository_changed(&self, name: &str) {
        self.generation.fetch_add(1, Ordering::Release);
        self.notifier
            .publish(Signal::Live(IndexUpdate::Repository { name: name.to_string() }));
    }

    /// Another replica changed a repository: counts here are stale too.
    pub fn repository_changed_elsewhere(&self, name: &str) {
        self.generation.fetch_add(1, Ordering::Release);
        self.notifier
            .publish_here(Signal::Live(IndexUpdate::Repository { name: name.to_string() }));
    }

    /// Events were applied to the index: the pushes among them may now be delivered to webhooks.
    pub fn index_applied(&self) {
        self.notifier.publish(Signal::DeliveriesQueued);
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

    /// Changes the progress of the reconcile this process runs; the other replicas show it too
    /// (every change that starts or ends a run, others at most every [`PROGRESS_EVERY`]).
    pub fn update_reconcile(&self, change: impl FnOnce(&mut ReconcileProgress)) {
        let (progress, started_or_ended) = {
            let mut status = self.status.write().expect("sync status lock");
            let was_running = status.reconcile.running;
            change(&mut status.reconcile);
            (status.reconcile.clone(), was_running != status.reconcile.running)
        };
        let tell = {
            let mut told = self.progress_told.lock().expect("progress lock");
            let due = started_or_ended || told.is_none_or(|at| at.elapsed() >= PROGRESS_EVERY);
            if due {
                *told = Some(Instant::now());
            }
            due
        };
        if tell {
            self.notifier.tell_others(Signal::ReconcileProgress(progress));
        }
        self.broadcast_status();
    }

    /// The progress of the reconcile another replica runs.
    pub fn adopt_reconcile(&self, progress: ReconcileProgress) {
        self.status.write().expect("sync status lock").reconcile = progress;
        self.broadcast_status();
    }

    /// Tells this process's live pages (each replica tells its own of its own status).
    fn broadcast_status(&self) {
        self.notifier
            .publish_here(Signal::Live(IndexUpdate::Sync { status: self.status() }));
    }
}
