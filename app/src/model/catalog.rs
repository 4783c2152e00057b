use serde::{Deserialize, Serialize};

use super::sync::SyncStatus;

/// How the catalog is ordered; the URL carries it as `sort=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum CatalogSort {
    #[default]
    Name,
    LastPush,
    Tags,
    Size,
}

impl CatalogSort {
    pub const ALL: [CatalogSort; 4] = [
        CatalogSort::Name,
        CatalogSort::LastPush,
        CatalogSort::Tags,
        CatalogSort::Size,
    ];

    pub fn as_param(self) -> &'static str {
        match self {
            CatalogSort::Name => "name",
            CatalogSort::LastPush => "pushed",
            CatalogSort::Tags => "tags",
            CatalogSort::Size => "size",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            CatalogSort::Name => "Name",
            CatalogSort::LastPush => "Last push",
            CatalogSort::Tags => "Tags",
            CatalogSort::Size => "Size",
        }
    }

    /// Unknown values fall back to the default order rather than failing the page.
    pub fn from_param(value: &str) -> CatalogSort {
        CatalogSort::ALL
            .into_iter()
            .find(|sort| sort.as_param() == value)
            .unwrap_or_default()
    }
}

/// What the catalog page asks for: everything here lives in the URL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct CatalogQuery {
    /// Substring of the name; ending in `/` means "this namespace and below".
    pub search: String,
    pub sort: CatalogSort,
    /// Exact namespace ('' is no filter).
    pub namespace: String,
    /// 1-based.
    pub page: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepositoryRow {
    pub name: String,
    /// `host:port/name`, ready for `docker pull`.
    pub reference: String,
    pub tag_count: i64,
    pub size_bytes: i64,
    pub last_push_at_ms: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NamespaceCount {
    pub namespace: String,
    pub repositories: i64,
}

/// One page of the catalog, read from the index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogPage {
    pub repositories: Vec<RepositoryRow>,
    /// Repositories matching the search and namespace filter.
    pub matching: i64,
    /// Repositories in the index.
    pub total: i64,
    pub page: u32,
    pub page_size: u32,
    pub namespaces: Vec<NamespaceCount>,
    /// The registry address users push to, e.g. `127.0.0.1:5000`.
    pub registry_host: String,
    pub sync: SyncStatus,
    /// Server time of this answer: relative times ("5 minutes ago") are computed against it, so
    /// the server-rendered page and the hydrated one agree.
    pub generated_at_ms: i64,
}

impl CatalogPage {
    pub fn page_count(&self) -> u32 {
        (self.matching.max(1) as u32).div_ceil(self.page_size.max(1))
    }
}
