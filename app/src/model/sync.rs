use serde::{Deserialize, Serialize};

/// The index's view of the registry: is it reachable, and what reconcile is doing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct SyncStatus {
    /// Set while the registry cannot be reached: index pages then say their data may be stale.
    pub registry_error: Option<String>,
    pub reconcile: ReconcileProgress,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct ReconcileProgress {
    pub running: bool,
    pub repositories_done: u64,
    pub repositories_total: u64,
    pub started_at_ms: Option<i64>,
    pub finished_at_ms: Option<i64>,
    /// What the last finished run changed, e.g. "3 tags added, 1 removed".
    pub last_result: Option<String>,
    pub last_error: Option<String>,
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
}
