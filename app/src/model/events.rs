use serde::{Deserialize, Serialize};

/// A stored registry notification event, as listed on the Events page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventRow {
    pub id: String,
    pub action: String,
    pub repository: String,
    pub tag: Option<String>,
    pub digest: Option<String>,
    pub media_type: Option<String>,
    pub size: Option<i64>,
    pub actor: Option<String>,
    /// When the registry says it happened (RFC 3339).
    pub occurred_at: String,
    /// When Wharf stored it, Unix milliseconds.
    pub received_at_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventsPage {
    pub events: Vec<EventRow>,
    /// Cursor for the next (older) page.
    pub next: Option<String>,
    pub total: i64,
}
