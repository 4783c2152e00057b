//! The one input every webhook format renders: a registry event (or a ping) together with what
//! the index knows about it (platforms, Wharf's page for it).
//!
//! Invariants: `timestamp` is the registry's RFC 3339 text, passed on unchanged; text fields the
//! registry did not send are empty strings in `request` and `None` elsewhere; a ping has an empty
//! `repository` and no tag or digest. Nothing here knows about HTTP or the database.

use serde::{Deserialize, Serialize};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// What happened. Registry pulls are never delivered, so they have no variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EventAction {
    Push,
    Delete,
    /// A test delivery asked for from the webhook's page.
    Ping,
}

impl EventAction {
    pub fn as_str(self) -> &'static str {
        match self {
            EventAction::Push => "push",
            EventAction::Delete => "delete",
            EventAction::Ping => "ping",
        }
    }
}

/// The registry request that caused the event; empty strings when the registry did not say.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestInfo {
    pub id: String,
    pub host: String,
    pub method: String,
    pub useragent: String,
}

/// One platform of an image (`linux/arm64/v8`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Platform {
    pub os: String,
    pub architecture: String,
    pub variant: Option<String>,
}

impl Platform {
    /// `linux/arm64/v8`, or `linux/amd64` without a variant.
    pub fn label(&self) -> String {
        match &self.variant {
            Some(variant) => format!("{}/{}/{}", self.os, self.architecture, variant),
            None => format!("{}/{}", self.os, self.architecture),
        }
    }
}

/// What a webhook delivers: one registry event (or a ping), with what the index knows about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookEvent {
    /// Registry event id (for a ping: a fresh id).
    pub id: String,
    pub action: EventAction,
    /// RFC 3339 as the registry sent it.
    pub timestamp: String,
    pub repository: String,
    pub tag: Option<String>,
    pub digest: Option<String>,
    pub media_type: Option<String>,
    pub size: Option<i64>,
    /// Who pushed or deleted (the token subject), when the registry said.
    pub actor: Option<String>,
    pub request: RequestInfo,
    /// Platforms of a multi-arch image or the one platform of an image, when indexed.
    pub platforms: Vec<Platform>,
    /// The registry host clients pull from, e.g. "registry.example.com:5000".
    pub registry_host: String,
    /// Wharf's page for the tag (or digest), absolute URL, when known.
    pub wharf_url: Option<String>,
}

/// The sample's digest: a real-looking sha256 so receivers that parse digests accept it.
const SAMPLE_DIGEST: &str = "sha256:4f2a9c3e8b1d7f6a5e0c9b8a7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1b0c9d8e";

impl WebhookEvent {
    /// A realistic push of a multi-arch tag, for "Send test" when no real event is in scope.
    /// Fresh id and current time; see [`WebhookEvent::sample_at`] for the fixed parts.
    pub fn sample(registry_host: &str, wharf_base_url: Option<&str>) -> WebhookEvent {
        WebhookEvent::sample_at(
            registry_host,
            wharf_base_url,
            &uuid::Uuid::new_v4().to_string(),
            &now_rfc3339(),
        )
    }

    /// [`WebhookEvent::sample`] with a given id and timestamp (deterministic, for tests and previews).
    pub fn sample_at(registry_host: &str, wharf_base_url: Option<&str>, id: &str, timestamp: &str) -> WebhookEvent {
        let repository = "shop/api";
        let tag = "v1.4.2";
        WebhookEvent {
            id: id.to_string(),
            action: EventAction::Push,
            timestamp: timestamp.to_string(),
            repository: repository.to_string(),
            tag: Some(tag.to_string()),
            digest: Some(SAMPLE_DIGEST.to_string()),
            media_type: Some("application/vnd.oci.image.index.v1+json".to_string()),
            size: Some(1_609),
            actor: Some("ci-robot".to_string()),
            request: RequestInfo {
                id: "5b3c1e7a-2d4f-4a8b-9c6e-0f1a2b3c4d5e".to_string(),
                host: registry_host.to_string(),
                method: "PUT".to_string(),
                useragent: "skopeo/1.15.1".to_string(),
            },
            platforms: vec![
                Platform {
                    os: "linux".to_string(),
                    architecture: "amd64".to_string(),
                    variant: None,
                },
                Platform {
                    os: "linux".to_string(),
                    architecture: "arm64".to_string(),
                    variant: Some("v8".to_string()),
                },
            ],
            registry_host: registry_host.to_string(),
            wharf_url: wharf_base_url
                .map(|base| format!("{}{}", base.trim_end_matches('/'), crate::urls::tag(repository, tag))),
        }
    }

    /// A ping: no repository, tag or digest; a fresh id and the current time.
    pub fn ping(registry_host: &str, wharf_base_url: Option<&str>) -> WebhookEvent {
        WebhookEvent::ping_at(
            registry_host,
            wharf_base_url,
            &uuid::Uuid::new_v4().to_string(),
            &now_rfc3339(),
        )
    }

    /// [`WebhookEvent::ping`] with a given id and timestamp.
    pub fn ping_at(registry_host: &str, wharf_base_url: Option<&str>, id: &str, timestamp: &str) -> WebhookEvent {
        WebhookEvent {
            id: id.to_string(),
            action: EventAction::Ping,
            timestamp: timestamp.to_string(),
            repository: String::new(),
            tag: None,
            digest: None,
            media_type: None,
            size: None,
            actor: None,
            request: RequestInfo::default(),
            platforms: Vec::new(),
            registry_host: registry_host.to_string(),
            wharf_url: wharf_base_url.map(|base| format!("{}/", base.trim_end_matches('/'))),
        }
    }

    /// `shop/api:v1.4.2`, or `shop/api@sha256:…` for an untagged manifest; `None` for a ping.
    pub fn subject(&self) -> Option<String> {
        if self.repository.is_empty() {
            return None;
        }
        Some(match (&self.tag, &self.digest) {
            (Some(tag), _) => format!("{}:{tag}", self.repository),
            (None, Some(digest)) => format!("{}@{digest}", self.repository),
            (None, None) => self.repository.clone(),
        })
    }

    /// What `docker pull` takes: `registry.example.com:5000/shop/api:v1.4.2` (or `…@sha256:…`).
    /// `None` for a ping and for a deleted image, which can no longer be pulled.
    pub fn pull_reference(&self) -> Option<String> {
        if self.action != EventAction::Push || (self.tag.is_none() && self.digest.is_none()) {
            return None;
        }
        let subject = self.subject()?;
        Some(format!("{}/{subject}", self.registry_host))
    }

    /// Platform labels in the order the index listed them.
    pub fn platform_labels(&self) -> Vec<String> {
        self.platforms.iter().map(Platform::label).collect()
    }
}

fn now_rfc3339() -> String {
    // Formatting the current UTC time as RFC 3339 cannot fail for years 0..=9999.
    OffsetDateTime::now_utc().format(&Rfc3339).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subject_and_pull_reference_follow_tag_then_digest() {
        let mut event = WebhookEvent::sample_at("reg.example:5000", None, "e1", "2026-11-23T10:00:00Z");
        assert_eq!(event.subject().as_deref(), Some("shop/api:v1.4.2"));
        assert_eq!(
            event.pull_reference().as_deref(),
            Some("reg.example:5000/shop/api:v1.4.2")
        );
        event.tag = None;
        assert_eq!(
            event.pull_reference(),
            Some(format!("reg.example:5000/shop/api@{SAMPLE_DIGEST}"))
        );
        event.action = EventAction::Delete;
        assert_eq!(event.pull_reference(), None);
        let ping = WebhookEvent::ping_at("reg.example:5000", None, "p1", "2026-11-23T10:00:00Z");
        assert_eq!(ping.subject(), None);
        assert_eq!(ping.pull_reference(), None);
    }

    #[test]
    fn sample_links_to_the_tag_page() {
        let event = WebhookEvent::sample("reg.example", Some("https://wharf.example/"));
        assert_eq!(
            event.wharf_url.as_deref(),
            Some("https://wharf.example/r/shop/api:v1.4.2")
        );
        assert!(OffsetDateTime::parse(&event.timestamp, &Rfc3339).is_ok());
        assert_eq!(event.platform_labels(), ["linux/amd64", "linux/arm64/v8"]);
    }

    #[test]
    fn action_serializes_lowercase() {
        assert_eq!(
            serde_json::to_string(&EventAction::Delete).ok().as_deref(),
            Some("\"delete\"")
        );
    }
}
