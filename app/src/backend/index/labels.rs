//! Image labels for display: the well-known OCI annotation keys first, with web links.

use std::collections::BTreeMap;

use crate::model::Label;

/// The OCI keys shown in a repository's "about" box, in this order.
pub const WELL_KNOWN: [&str; 5] = [
    "org.opencontainers.image.description",
    "org.opencontainers.image.version",
    "org.opencontainers.image.source",
    "org.opencontainers.image.revision",
    "org.opencontainers.image.url",
];

/// Only the well-known keys, in [`WELL_KNOWN`] order.
pub fn well_known_labels(labels: &BTreeMap<String, String>) -> Vec<Label> {
    WELL_KNOWN
        .iter()
        .filter_map(|key| labels.get(*key).map(|value| label(key, value)))
        .collect()
}

/// Every label, sorted by key.
pub fn all_labels(labels: &BTreeMap<String, String>) -> Vec<Label> {
    labels.iter().map(|(key, value)| label(key, value)).collect()
}

/// A label; its value becomes a link only when it is an http(s) address.
pub fn label(key: &str, value: &str) -> Label {
    let is_web = (value.starts_with("https://") || value.starts_with("http://"))
        && url::Url::parse(value).is_ok_and(|u| u.host().is_some());
    Label {
        key: key.to_string(),
        value: value.to_string(),
        link: is_web.then(|| value.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_only_web_addresses() {
        assert_eq!(
            label("org.opencontainers.image.source", "https://example.com/x")
                .link
                .as_deref(),
            Some("https://example.com/x")
        );
        assert_eq!(label("k", "javascript:alert(1)").link, None);
        assert_eq!(label("k", "<script>alert(1)</script>").link, None);
        let labels: BTreeMap<String, String> = [
            ("org.opencontainers.image.version".to_string(), "1".to_string()),
            ("other".to_string(), "x".to_string()),
        ]
        .into_iter()
        .collect();
        assert_eq!(well_known_labels(&labels).len(), 1);
        assert_eq!(all_labels(&labels).len(), 2);
    }
}
