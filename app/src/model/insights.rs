//! Storage insights as the page shows them (see `backend::housekeeping::insights`).

use serde::{Deserialize, Serialize};

/// A day in milliseconds (days are UTC days since the Unix epoch).
pub const DAY_MS: i64 = 86_400_000;

/// Images not pulled for this many days are listed as candidates for a retention policy.
pub const UNPULLED_DAYS: i64 = 90;

/// The storage page's figures, over what the reader may see.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct StorageInsights {
    /// The reader sees the whole registry (else: the namespaces and repositories it may read).
    pub whole_registry: bool,
    /// Bytes of the blobs of every repository seen, each blob once.
    pub total_bytes: i64,
    /// Of those, bytes of blobs that more than one repository holds.
    pub shared_bytes: i64,
    pub repositories: i64,
    /// Namespaces seen, largest first (at most [`StorageInsights::LISTED`]).
    pub namespaces: Vec<NamespaceStorage>,
    pub namespace_count: i64,
    /// The largest repositories seen.
    pub largest: Vec<RepositoryStorage>,
    /// The last days, oldest first: bytes held and tags pushed.
    pub days: Vec<DayPoint>,
    /// Some namespaces are seen only in part: the daily series leave them out.
    pub days_partial: bool,
    /// The figures are still being computed for the first time, or lag behind recent changes.
    pub computing: bool,
    /// The figures' last refresh (Unix ms; 0: never).
    pub updated_at_ms: i64,
}

impl StorageInsights {
    pub const LISTED: usize = 15;
    /// Days in the growth and pushes series.
    pub const DAYS: i64 = 90;
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NamespaceStorage {
    /// `""` for repositories at the top level.
    pub namespace: String,
    pub bytes: i64,
    pub shared_bytes: i64,
    pub repositories: i64,
    /// The reader sees only some of its repositories: the figures are over those.
    pub partial: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepositoryStorage {
    pub repository: String,
    pub bytes: i64,
    pub shared_bytes: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DayPoint {
    /// UTC days since the Unix epoch.
    pub day: i64,
    /// Bytes held at the day's last refresh; `None`: not recorded that day (the value before holds).
    pub bytes: Option<i64>,
    pub pushes: i64,
}

/// A page of the images not pulled for [`UNPULLED_DAYS`] days.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct UnpulledQuery {
    /// Only this namespace (and those below it); empty: everything the reader sees.
    #[serde(default)]
    pub namespace: String,
    #[serde(default)]
    pub page: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct UnpulledPage {
    pub images: Vec<UnpulledImage>,
    pub page: u32,
    pub page_size: u32,
    pub has_more: bool,
    pub namespace: String,
    pub days: i64,
    /// The retention scope these images are in, for a dry run (`team-a/`; `` for the registry);
    /// `None` when the reader sees parts of several namespaces and chose none.
    pub scope: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnpulledImage {
    pub repository: String,
    pub digest: String,
    /// One of its tags (the first by name), and how many more it has.
    pub tag: String,
    pub other_tags: i64,
    pub pushed_at_ms: i64,
    pub size: i64,
    /// `None`: never pulled since pulls are recorded.
    pub last_pulled_at_ms: Option<i64>,
}
