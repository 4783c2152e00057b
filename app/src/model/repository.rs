use serde::{Deserialize, Serialize};

use super::sync::SyncStatus;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlatformRow {
    pub os: String,
    pub architecture: String,
    pub variant: Option<String>,
    pub digest: String,
    /// Compressed size of this platform's image (config + layers).
    pub size: i64,
}

impl PlatformRow {
    /// `linux/arm64/v8`; "details coming" while the image's config is not read yet.
    pub fn label(&self) -> String {
        if self.os.is_empty() && self.architecture.is_empty() {
            return "details coming".to_string();
        }
        match &self.variant {
            Some(variant) => format!("{}/{}/{}", self.os, self.architecture, variant),
            None => format!("{}/{}", self.os, self.architecture),
        }
    }
}

/// A cosign-style attachment tag (`sha256-<hex>.sig`), shown on the digest it belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    /// `sig`, `att` or `sbom`.
    pub kind: String,
    pub tag: String,
    pub digest: String,
}

/// When an image was last pulled by a client and how often (the console's own reads do not
/// count); none when no client has pulled it since Wharf counts pulls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PullStats {
    pub last_pulled_at_ms: i64,
    /// Downloads of the manifest (a client's HEAD check moves the time only).
    pub pull_count: i64,
}

/// One image (digest) of a repository with every tag that points at it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageRow {
    pub digest: String,
    pub tags: Vec<String>,
    pub media_type: String,
    /// `image`, `index` or `unknown`.
    pub kind: String,
    pub platforms: Vec<PlatformRow>,
    pub size: i64,
    pub created: Option<String>,
    pub pushed_at_ms: i64,
    /// The push time is the image's creation time: only reconcile saw this tag.
    pub push_estimated: bool,
    pub attachments: Vec<Attachment>,
    pub pulls: Option<PullStats>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Label {
    pub key: String,
    pub value: String,
    /// Set for well-known keys whose value is a web address.
    pub link: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepositoryView {
    pub name: String,
    pub registry_host: String,
    pub images: Vec<ImageRow>,
    /// Images matching the filter.
    pub matching: i64,
    pub tag_count: i64,
    pub size_bytes: i64,
    pub last_push_at_ms: Option<i64>,
    pub page: u32,
    pub page_size: u32,
    /// Well-known OCI labels of the newest image.
    pub labels: Vec<Label>,
    pub sync: SyncStatus,
    /// Server time of this answer: relative times ("5 minutes ago") are computed against it, so
    /// the server-rendered page and the hydrated one agree.
    pub generated_at_ms: i64,
    /// The reader may delete tags and images here.
    pub can_delete: bool,
}

impl RepositoryView {
    pub fn page_count(&self) -> u32 {
        (self.matching.max(1) as u32).div_ceil(self.page_size.max(1))
    }
}
