use serde::{Deserialize, Serialize};

use super::repository::{Attachment, Label, PlatformRow, PullStats};
use super::sync::SyncStatus;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LayerRow {
    pub digest: String,
    pub media_type: String,
    pub size: i64,
    /// Sum of this and every layer below it.
    pub cumulative: i64,
}

/// One step of the image's history, like a line of `docker history`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryRow {
    pub created: Option<String>,
    pub created_by: String,
    pub comment: Option<String>,
    pub empty_layer: bool,
    /// The layer this step produced (none for empty layers).
    pub layer_digest: Option<String>,
    pub layer_size: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct ImageConfigView {
    pub config_digest: String,
    pub os: String,
    pub architecture: String,
    pub variant: Option<String>,
    pub created: Option<String>,
    pub author: Option<String>,
    pub env: Vec<String>,
    pub entrypoint: Vec<String>,
    pub cmd: Vec<String>,
    pub working_dir: Option<String>,
    pub user: Option<String>,
    pub exposed_ports: Vec<String>,
    pub volumes: Vec<String>,
    pub labels: Vec<Label>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageDetail {
    /// None when the config blob could not be read or parsed (a warning says why).
    pub config: Option<ImageConfigView>,
    pub history: Vec<HistoryRow>,
    pub layers: Vec<LayerRow>,
    pub total_size: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestView {
    pub repository: String,
    pub registry_host: String,
    pub digest: String,
    pub media_type: String,
    pub manifest_size: i64,
    /// `image`, `index` or `unknown`.
    pub kind: String,
    pub tags: Vec<String>,
    /// The platforms of an index, each linking to its manifest.
    pub platforms: Vec<PlatformRow>,
    pub image: Option<ImageDetail>,
    pub annotations: Vec<Label>,
    pub subject: Option<String>,
    pub attachments: Vec<Attachment>,
    /// The manifest as stored, pretty-printed when it is JSON.
    pub raw: String,
    /// Set when the manifest or its config could not be understood; the raw text is still shown.
    pub warnings: Vec<String>,
    pub sync: SyncStatus,
    /// Pulls of this manifest in this repository.
    pub pulls: Option<PullStats>,
    pub generated_at_ms: i64,
}

/// What a delete did, for the confirmation message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeleteOutcome {
    pub repository: String,
    pub message: String,
}
