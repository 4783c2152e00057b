//! One garbage collection run, managed mode: its row first (one run at a time), then in the
//! background: space before, read-only, the collector, read-write (always, once read-only was
//! asked for), space after, the row finished, the audit log, a live update at each step.

use std::sync::{Arc, Mutex};

use futures::FutureExt;
use tokio::sync::watch;

use super::{store, CollectorOutput, RegistryMaintenance};
use crate::backend::audit::{self, AuditAction};
use crate::backend::notifier::Signal;
use crate::backend::AppState;
use crate::model::IndexUpdate;

/// Garbage collection's part of the application state: the managed registry's maintenance
/// (`None` in external mode) and the way to cancel the run going on in this process.
pub struct Collector {
    maintenance: Option<Arc<dyn RegistryMaintenance>>,
    cancel: Mutex<Option<(String, watch::Sender<bool>)>>,
}

impl Collector {
    pub fn new(maintenance: Option<Arc<dyn RegistryMaintenance>>) -> Collector {
        Collector {
            maintenance,
            cancel: Mutex::new(None),
        }
    }

    /// Wharf runs the collection itself (managed mode).
    pub fn is_managed(&self) -> bool {
        self.maintenance.is_some()
    }

    pub fn storage_description(&self) -> Option<String> {
        self.maintenance.as_ref().map(|m| m.storage_description())
    }

    /// Asks the run `id` to stop its collector; false when it does not run in this process.
    pub fn cancel(&self, id: &str) -> bool {
        let guard = self.cancel.lock().unwrap_or_else(|e| e.into_inner());
        match guard.as_ref() {
            Some((running, sender)) if running == id => sender.send(true).is_ok(),
            _ => false,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("Wharf does not manage this registry: run its collector as the page shows.")]
    NotManaged,
    #[error("A garbage collection is running already; wait for it to finish.")]
    Busy,
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// Starts a run for `actor` (asking from `address`) and returns its id; the work goes on in the
/// background.
pub async fn start(
    state: &AppState,
    actor: &str,
    address: Option<std::net::IpAddr>,
    dry_run: bool,
) -> Result<String, StartError> {
    let maintenance = state.gc.maintenance.clone().ok_or(StartError::NotManaged)?;
    let id = store::begin_run(&state.db, actor, dry_run)
        .await?
        .ok_or(StartError::Busy)?;
    let what = if dry_run { "dry run started" } else { "started" };
    record(state, actor, &id, what, address).await;
    let (sender, receiver) = watch::channel(false);
    *state.gc.cancel.lock().unwrap_or_else(|e| e.into_inner()) = Some((id.clone(), sender));
    publish(state, &id);
    let run = Run {
        state: state.clone(),
        id: id.clone(),
        actor: actor.to_string(),
        dry_run,
        maintenance,
    };
    tokio::spawn(run.execute(receiver));
    Ok(id)
}

struct Run {
    state: AppState,
    id: String,
    actor: String,
    dry_run: bool,
    maintenance: Arc<dyn RegistryMaintenance>,
}

impl Run {
    async fn execute(self, cancel: watch::Receiver<bool>) {
        let before = self.maintenance.storage_bytes().await;
        self.note(store::set_bytes_before(&self.state.db, &self.id, before).await);
        let mut errors = Vec::new();
        let output = if self.dry_run {
            self.collect(cancel.clone()).await
        } else {
            self.phase("read-only").await;
            let output = match self.maintenance.set_read_only(true).await {
                Ok(()) => self.collect(cancel.clone()).await,
                Err(err) => {
                    errors.push(format!("could not make the registry read-only: {err}"));
                    CollectorOutput::default()
                }
            };
            self.phase("read-write").await;
            if let Err(err) = self.maintenance.set_read_only(false).await {
                tracing::error!(error = %err, "the registry could not be made read-write again after garbage collection");
                errors.push(format!("could not make the registry read-write again: {err}"));
            }
            output
        };
        errors.extend(output.error.clone());
        let after = self.maintenance.storage_bytes().await;
        let cancelled = *cancel.borrow();
        self.finish(output, errors, after, cancelled).await;
    }

    async fn collect(&self, cancel: watch::Receiver<bool>) -> CollectorOutput {
        self.phase("collecting").await;
        let cancelled = async move {
            let mut cancel = cancel;
            if cancel.wait_for(|c| *c).await.is_err() {
                std::future::pending::<()>().await;
            }
        };
        self.maintenance.garbage_collect(self.dry_run, cancelled.boxed()).await
    }

    async fn finish(self, output: CollectorOutput, errors: Vec<String>, after: Option<u64>, cancelled: bool) {
        let status = match (cancelled, errors.is_empty()) {
            (true, _) => store::CANCELLED,
            (false, true) => store::SUCCEEDED,
            (false, false) => store::FAILED,
        };
        let error = errors.join("; ");
        let finish = store::Finish {
            status,
            bytes_after: after,
            output: &output,
            error: &error,
        };
        self.note(store::finish_run(&self.state.db, &self.id, &finish).await);
        if !self.dry_run {
            // Notifications of the restarted registry's last moments may be lost: reconcile.
            self.state.sync.request_resync();
        }
        if status == store::SUCCEEDED && !self.dry_run {
            match store::record_collected(&self.state.db).await {
                Ok(_) => {}
                Err(err) => tracing::warn!(error = %err, "cannot record the collected blobs"),
            }
        }
        {
            let mut guard = self.state.gc.cancel.lock().unwrap_or_else(|e| e.into_inner());
            if guard.as_ref().is_some_and(|(id, _)| *id == self.id) {
                *guard = None;
            }
        }
        let blobs = if self.dry_run { "would remove" } else { "removed" };
        let detail = format!("{status}: {blobs} {} blobs{}", output.blob_count, bracket(&error));
        record(&self.state, &self.actor, &self.id, &detail, None).await;
        publish(&self.state, &self.id);
    }

    async fn phase(&self, phase: &str) {
        self.note(store::set_phase(&self.state.db, &self.id, phase).await);
        publish(&self.state, &self.id);
    }

    fn note(&self, result: Result<(), sqlx::Error>) {
        if let Err(err) = result {
            tracing::warn!(run = %self.id, error = %err, "cannot record the garbage collection's progress");
        }
    }
}

fn bracket(error: &str) -> String {
    if error.is_empty() {
        String::new()
    } else {
        format!(" ({error})")
    }
}

async fn record(state: &AppState, actor: &str, id: &str, detail: &str, address: Option<std::net::IpAddr>) {
    audit::record(
        &state.db,
        audit::Entry {
            actor,
            action: AuditAction::GarbageCollection,
            target: &format!("run {id}"),
            detail,
            address,
        },
    )
    .await;
}

fn publish(state: &AppState, id: &str) {
    state
        .notifier
        .publish(Signal::Live(IndexUpdate::GarbageCollection { run_id: id.to_string() }));
}
