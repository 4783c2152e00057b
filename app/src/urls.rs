//! Every in-app address, built in one place and encoded the same way everywhere. Pages and the
//! backend (links in webhook messages) import these instead of formatting paths themselves.

use crate::format::percent_encode;

/// The repository page.
pub fn repository(name: &str) -> String {
    format!("/r/{}", percent_encode(name, true))
}

/// The manifest page, by digest.
pub fn manifest(repository: &str, digest: &str) -> String {
    format!("/r/{repository}@{digest}")
}

/// The manifest page, by tag.
pub fn tag(repository: &str, tag: &str) -> String {
    format!("/r/{}:{}", percent_encode(repository, true), percent_encode(tag, false))
}

/// A webhook's page.
pub fn webhook(id: &str) -> String {
    format!("/webhooks/{}", percent_encode(id, false))
}

/// The storage insights page.
pub const STORAGE: &str = "/housekeeping/storage";
/// The retention policies page.
pub const RETENTION: &str = "/housekeeping/retention";
/// The garbage collection page.
pub const GC: &str = "/housekeeping/gc";

/// The storage page with the images not pulled listed for `namespace` (all: empty), at `page`.
pub fn storage_unpulled(namespace: &str, page: u32) -> String {
    let mut params = Vec::new();
    if !namespace.is_empty() {
        params.push(format!("namespace={}", percent_encode(namespace, false)));
    }
    if page > 1 {
        params.push(format!("page={page}"));
    }
    if params.is_empty() {
        format!("{STORAGE}#unpulled")
    } else {
        format!("{STORAGE}?{}#unpulled", params.join("&"))
    }
}

/// A retention policy's page.
pub fn retention_policy(id: &str) -> String {
    format!("/housekeeping/retention/{}", percent_encode(id, false))
}

/// A new retention policy, its scope (and a "pulled within" rule) filled in.
pub fn retention_new(scope: &str, pulled_days: Option<u32>) -> String {
    let mut url = format!("/housekeeping/retention/new?scope={}", percent_encode(scope, false));
    if let Some(days) = pulled_days {
        url.push_str(&format!("&pulled_days={days}"));
    }
    url
}

/// A retention run's decided images as CSV.
pub fn retention_items_csv(run_id: &str) -> String {
    format!(
        "/housekeeping/retention/runs/{}/items.csv",
        percent_encode(run_id, false)
    )
}

/// The garbage collection page, on history page `page` (from 1), showing the run `run` (empty:
/// none).
pub fn gc(page: u32, run: &str) -> String {
    let mut params = Vec::new();
    if page > 1 {
        params.push(format!("page={page}"));
    }
    if !run.is_empty() {
        params.push(format!("run={}", percent_encode(run, false)));
    }
    if params.is_empty() {
        "/housekeeping/gc".to_string()
    } else {
        format!("/housekeeping/gc?{}", params.join("&"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_addresses() {
        assert_eq!(repository("team/app"), "/r/team/app");
        assert_eq!(manifest("team/app", "sha256:1"), "/r/team/app@sha256:1");
        assert_eq!(tag("team/app", "v1.0"), "/r/team/app:v1.0");
        assert_eq!(gc(1, ""), "/housekeeping/gc");
        assert_eq!(gc(2, "a b"), "/housekeeping/gc?page=2&run=a%20b");
        assert_eq!(
            retention_new("team-a/api-*", Some(90)),
            "/housekeeping/retention/new?scope=team-a%2Fapi-%2A&pulled_days=90"
        );
        assert_eq!(
            retention_new("", Some(90)),
            "/housekeeping/retention/new?scope=&pulled_days=90"
        );
        assert_eq!(storage_unpulled("", 1), "/housekeeping/storage#unpulled");
        assert_eq!(
            storage_unpulled("a b", 2),
            "/housekeeping/storage?namespace=a%20b&page=2#unpulled"
        );
    }
}
