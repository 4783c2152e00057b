//! The audit log as the page sees it.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntryView {
    pub id: String,
    pub at_ms: i64,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub detail: String,
    pub address: String,
    /// How many times it happened (within the hour, for counted kinds).
    pub count: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditPage {
    pub entries: Vec<AuditEntryView>,
    /// The cursor of the next (older) page, if there is one.
    pub next: Option<String>,
    /// Every action name, for the filter.
    pub actions: Vec<String>,
    pub retention_days: u64,
}
