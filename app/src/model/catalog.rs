use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepositoryRow {
    pub name: String,
    /// `host:port/name`, ready for `docker pull`.
    pub reference: String,
}

/// One page of the registry catalog.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogPage {
    pub repositories: Vec<RepositoryRow>,
    /// The `last` cursor of the next page, when there is one.
    pub next: Option<String>,
    /// Set when the registry could not be read; the page then shows a banner instead of rows.
    pub registry_error: Option<String>,
    /// The registry address users push to, e.g. `127.0.0.1:5000`.
    pub registry_host: String,
}
