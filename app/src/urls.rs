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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_addresses() {
        assert_eq!(repository("team/app"), "/r/team/app");
        assert_eq!(manifest("team/app", "sha256:1"), "/r/team/app@sha256:1");
        assert_eq!(tag("team/app", "v1.0"), "/r/team/app:v1.0");
    }
}
