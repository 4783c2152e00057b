use serde::{Deserialize, Serialize};

/// The index's view of the registry: is it reachable, and what reconcile is doing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct SyncStatus {
    /// Set while the registry cannot be reached: index pages then say their data may be stale.
    pub registry_error: Option<String>,
    pub reconcile: ReconcileProgress,
}

/// What readers other than administrators are told while the registry does not answer.
pub const REGISTRY_UNREACHABLE: &str = "The registry cannot be reached.";
/// What they are told about a failed reconcile.
pub const RECONCILE_FAILED: &str = "The last reconcile failed.";

impl SyncStatus {
    /// The status as a reader may see it: the registry's address and the raw errors (which name
    /// internal hosts and quote the registry's answers) are for administrators; others learn
    /// only that the registry cannot be reached or that a reconcile failed.
    pub fn for_reader(mut self, administrator: bool) -> SyncStatus {
        if !administrator {
            if self.registry_error.is_some() {
                self.registry_error = Some(REGISTRY_UNREACHABLE.to_string());
            }
            if self.reconcile.last_error.is_some() {
                self.reconcile.last_error = Some(RECONCILE_FAILED.to_string());
            }
        }
        self
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct ReconcileProgress {
    pub running: bool,
    pub repositories_done: u64,
    pub repositories_total: u64,
    pub started_at_ms: Option<i64>,
    /// When `repositories_done` last changed (server time): with `started_at_ms`, the rate.
    pub updated_at_ms: Option<i64>,
    /// The index held no repository when this run started: the first index is being built.
    pub first_index: bool,
    /// When every repository's tags were in (the first pass); the details follow.
    pub index_ready_at_ms: Option<i64>,
    /// The second pass: image details (configs) read so far, of how many.
    pub details_done: u64,
    pub details_total: u64,
    pub finished_at_ms: Option<i64>,
    /// What the last finished run changed, e.g. "3 tags added, 1 removed".
    pub last_result: Option<String>,
    pub last_error: Option<String>,
}

impl ReconcileProgress {
    /// Repositories per second so far, from the server's own clock (no browser clock involved).
    pub fn rate_per_sec(&self) -> Option<f64> {
        let (started, updated) = (self.started_at_ms?, self.updated_at_ms?);
        let elapsed_ms = updated - started;
        (self.repositories_done > 0 && elapsed_ms > 0)
            .then(|| self.repositories_done as f64 * 1000.0 / elapsed_ms as f64)
    }

    /// Seconds left at the rate so far.
    pub fn seconds_left(&self) -> Option<u64> {
        let rate = self.rate_per_sec()?;
        let left = self.repositories_total.saturating_sub(self.repositories_done);
        Some((left as f64 / rate).ceil() as u64)
    }
}

/// What the live stream (`/api/stream`) sends: pages refetch what concerns them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum IndexUpdate {
    /// Tags or manifests of this repository changed (or it appeared or vanished).
    Repository { name: String },
    /// Reconcile progress or registry reachability changed.
    Sync { status: SyncStatus },
    /// A delivery of this webhook was attempted (its log and health changed).
    Delivery { webhook_id: String },
    /// A retention run in this access scope progressed.
    Housekeeping { scope: String },
    /// A garbage collection run began, moved on to another phase, or ended (administrators).
    GarbageCollection { run_id: String },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_administrators_see_the_registrys_errors() {
        let status = SyncStatus {
            registry_error: Some("error sending request for url (http://registry.internal:5000/v2/)".into()),
            reconcile: ReconcileProgress {
                last_error: Some("GET http://registry.internal:5000/v2/_catalog answered 500: {\"detail\"}".into()),
                last_result: Some("3 tags added".into()),
                ..ReconcileProgress::default()
            },
        };
        assert_eq!(status.clone().for_reader(true), status);
        let reader = status.clone().for_reader(false);
        assert_eq!(reader.registry_error.as_deref(), Some(REGISTRY_UNREACHABLE));
        assert_eq!(reader.reconcile.last_error.as_deref(), Some(RECONCILE_FAILED));
        assert_eq!(reader.reconcile.last_result, status.reconcile.last_result);
        assert!(!format!("{reader:?}").contains("registry.internal"));
        let healthy = SyncStatus::default();
        assert_eq!(healthy.clone().for_reader(false), healthy);
    }
}
