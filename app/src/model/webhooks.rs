use serde::{Deserialize, Serialize};

/// A webhook's health over the last 24 hours, from its delivery attempts.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WebhookHealth {
    pub attempts_24h: i64,
    pub succeeded_24h: i64,
    pub last_success_ms: Option<i64>,
    pub last_failure_ms: Option<i64>,
    /// Failed attempts since the last success.
    pub consecutive_failures: i64,
    /// Deliveries waiting to go (or going).
    pub queued: i64,
    /// Deliveries set aside after their last attempt.
    pub dead: i64,
    /// Attempts per hour, oldest first, the last entry being the current hour (24 entries).
    pub hourly: Vec<i64>,
}

impl WebhookHealth {
    /// Percentage of successful attempts in 24 h, when there were any.
    pub fn success_rate(&self) -> Option<f64> {
        (self.attempts_24h > 0).then(|| 100.0 * self.succeeded_24h as f64 / self.attempts_24h as f64)
    }
}

/// A line of the Webhooks list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebhookSummary {
    pub id: String,
    pub name: String,
    /// The URL with its secret parts masked.
    pub url: String,
    pub enabled: bool,
    pub format: String,
    pub actions: Vec<String>,
    pub scope: Vec<String>,
    /// The access scope it belongs to, described ("the registry", "namespace team-a/").
    pub owner: String,
    /// Why Wharf stopped delivering, when it did.
    pub disabled_reason: Option<String>,
    pub health: WebhookHealth,
}

/// A custom header as the form shows it: the value is never sent back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeaderField {
    pub name: String,
}

/// A format the form offers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FormatOption {
    pub value: String,
    pub label: String,
    pub signed: bool,
}

/// A webhook as its edit form shows it (no secrets).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct WebhookForm {
    pub id: Option<String>,
    pub name: String,
    /// The URL with its secret parts masked (empty for a new webhook).
    pub url_masked: String,
    pub enabled: bool,
    pub push: bool,
    pub delete: bool,
    /// One `repository:tag` glob per line.
    pub scope: String,
    /// The access scope it belongs to, as text (`''` is the registry).
    pub owner_scope: String,
    pub pusher: String,
    pub platform_manifests: bool,
    pub format: String,
    pub template: String,
    pub headers: Vec<HeaderField>,
    pub timeout_secs: u64,
    pub ordered: bool,
}

/// The webhook page: the form, the formats, and the state of deliveries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebhookView {
    pub form: WebhookForm,
    pub formats: Vec<FormatOption>,
    pub disabled_reason: Option<String>,
    pub health: WebhookHealth,
    /// The previous signing secret still signs until then (a rotation's overlap).
    pub rotation_until_ms: Option<i64>,
    /// The registry host, for the sample payloads and help texts.
    pub registry_host: String,
    /// Where the caller may put a webhook: (scope text, description), widest first.
    pub owner_choices: Vec<(String, String)>,
}

/// What saving a webhook returns: its id, and its signing secret when it was just made (shown
/// once).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedWebhook {
    pub id: String,
    pub secret: Option<String>,
}

/// A line of a delivery log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryRow {
    /// The `webhook-id` header of every attempt.
    pub id: String,
    pub webhook_id: String,
    /// event, ping or test
    pub kind: String,
    /// "push shop/api:v1", "delete shop/api@sha256:…", "ping".
    pub summary: String,
    pub created_at_ms: i64,
    /// queued, sending, retrying, delivered or failed
    pub state: String,
    pub attempts: i64,
    pub last_status: Option<i64>,
    pub last_duration_ms: Option<i64>,
    pub last_error: Option<String>,
    pub next_attempt_at_ms: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveriesPage {
    pub deliveries: Vec<DeliveryRow>,
    /// Cursor of the next (older) page.
    pub next: Option<String>,
}

/// One attempt as sent and as answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttemptView {
    pub attempt: i64,
    pub started_at_ms: i64,
    pub duration_ms: i64,
    pub url: String,
    pub request_headers: Vec<(String, String)>,
    pub request_body: String,
    pub response_status: Option<i64>,
    pub response_headers: Vec<(String, String)>,
    pub response_body: Option<String>,
    /// The receiver answered with a body that only administrators may read.
    #[serde(default)]
    pub response_body_hidden: bool,
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryDetail {
    pub delivery: DeliveryRow,
    pub webhook_name: String,
    pub format: String,
    /// Newest first.
    pub attempts: Vec<AttemptView>,
}
