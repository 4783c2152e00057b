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
    /// Applying it to the index failed too often: set aside, retryable.
    pub set_aside: bool,
    /// Not applied to the index yet (waiting or being retried).
    pub pending: bool,
    /// Why the last attempt to apply it failed.
    pub last_error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventsPage {
    pub events: Vec<EventRow>,
    /// Cursor for the next (older) page.
    pub next: Option<String>,
    /// On the first unfiltered page, for administrators only: the newest events Wharf could not
    /// use (kept aside, answered 200). Empty for everyone else.
    pub quarantined: Vec<QuarantinedEvent>,
}

/// An event of a well-formed envelope that Wharf could not use, with the reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuarantinedEvent {
    pub id: String,
    pub received_at_ms: i64,
    pub reason: String,
    pub payload: String,
}
