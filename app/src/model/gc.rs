//! Garbage collection as the page sees it.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GcRunView {
    pub id: String,
    pub actor: String,
    pub dry_run: bool,
    /// running, succeeded, failed, cancelled, interrupted.
    pub status: String,
    /// What a running run does now: starting, read-only, collecting, read-write.
    pub phase: String,
    pub started_at_ms: i64,
    pub finished_at_ms: Option<i64>,
    /// Bytes under the storage directory; none where not measured (S3).
    pub bytes_before: Option<i64>,
    pub bytes_after: Option<i64>,
    /// Blobs removed (or, dry, that would be).
    pub blob_count: i64,
    pub error: String,
}

impl GcRunView {
    pub fn is_running(&self) -> bool {
        self.status == "running"
    }

    /// Bytes the run freed (a real run that measured both ends).
    pub fn bytes_freed(&self) -> Option<i64> {
        match (self.dry_run, self.bytes_before, self.bytes_after) {
            (false, Some(before), Some(after)) => Some(before - after),
            _ => None,
        }
    }

    pub fn duration_ms(&self) -> Option<i64> {
        self.finished_at_ms.map(|end| (end - self.started_at_ms).max(0))
    }
}

/// One run with what it removed and its log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GcRunDetail {
    pub run: GcRunView,
    /// The digests it removed (or would remove), at most the first 10,000.
    pub blobs: Vec<String>,
    /// The collector's output, its middle left out when long.
    pub log: String,
}

/// One step of the procedure for a registry Wharf does not manage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcedureStep {
    pub text: String,
    /// A command or configuration to copy; empty when none.
    pub code: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GcOverview {
    /// Wharf runs the collection (managed registry); else the procedure is shown.
    pub managed: bool,
    /// Where the images are (managed).
    pub storage: Option<String>,
    pub running: Option<GcRunView>,
    pub runs: Vec<GcRunView>,
    pub page: u32,
    pub pages: u32,
    /// Cron syntax, empty: none.
    pub schedule: String,
    pub next_run_at_ms: Option<i64>,
    pub schedule_updated_by: String,
    /// Blobs and bytes that deleted images left for the collector; none when they cannot be
    /// computed (the index has no manifest → blob table).
    pub collectable_blobs: Option<i64>,
    pub collectable_bytes: Option<i64>,
    pub procedure: Vec<ProcedureStep>,
}
