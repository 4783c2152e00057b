//! Wharf's own JSON body, documented in `docs/webhooks-formats.md`: the ACR fields (`id`,
//! `timestamp`, `action`, `target`, `request`) plus what Wharf knows beyond them (`platforms`,
//! `pusher`, `registry`, `pull`, `wharf_url`). It is also the `data` of the CloudEvents formats.
//!
//! Invariants: every key is always present, in the documented order; a value Wharf does not know
//! is `null` (unlike the ACR format, which must keep ACR's types). Keys are only ever added, never
//! renamed or removed, so receivers written against the docs keep working.

use serde::Serialize;

use super::{RenderError, Rendered};
use crate::backend::webhooks::event::{Platform, WebhookEvent};

#[derive(Debug, Serialize)]
pub struct GenericEvent<'a> {
    pub id: &'a str,
    pub timestamp: &'a str,
    pub action: &'a str,
    pub target: GenericTarget<'a>,
    pub request: GenericRequest<'a>,
    pub platforms: &'a [Platform],
    pub pusher: Option<&'a str>,
    pub registry: &'a str,
    pub pull: Option<String>,
    pub wharf_url: Option<&'a str>,
}

#[derive(Debug, Serialize)]
pub struct GenericTarget<'a> {
    #[serde(rename = "mediaType")]
    pub media_type: Option<&'a str>,
    pub size: Option<i64>,
    pub digest: Option<&'a str>,
    pub length: Option<i64>,
    pub repository: &'a str,
    pub tag: Option<&'a str>,
}

#[derive(Debug, Serialize)]
pub struct GenericRequest<'a> {
    pub id: &'a str,
    pub host: &'a str,
    pub method: &'a str,
    pub useragent: &'a str,
}

impl<'a> GenericEvent<'a> {
    pub fn new(event: &'a WebhookEvent) -> GenericEvent<'a> {
        GenericEvent {
            id: &event.id,
            timestamp: &event.timestamp,
            action: event.action.as_str(),
            target: GenericTarget {
                media_type: event.media_type.as_deref(),
                size: event.size,
                digest: event.digest.as_deref(),
                length: event.size,
                repository: &event.repository,
                tag: event.tag.as_deref(),
            },
            request: GenericRequest {
                id: &event.request.id,
                host: &event.request.host,
                method: &event.request.method,
                useragent: &event.request.useragent,
            },
            platforms: &event.platforms,
            pusher: event.actor.as_deref(),
            registry: &event.registry_host,
            pull: event.pull_reference(),
            wharf_url: event.wharf_url.as_deref(),
        }
    }
}

pub fn render(event: &WebhookEvent) -> Result<Rendered, RenderError> {
    Rendered::json("application/json", &GenericEvent::new(event))
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;
    use crate::backend::webhooks::formats::acr;
    use crate::backend::webhooks::formats::test_events::{self, pretty_json};

    #[test]
    fn push_is_a_superset_of_the_acr_body() {
        let event = test_events::push_index();
        let acr: Value = serde_json::from_slice(&acr::render(&event).expect("renders").body).expect("JSON");
        let generic: Value = serde_json::from_slice(&render(&event).expect("renders").body).expect("JSON");
        for (key, value) in acr.as_object().expect("object") {
            assert_eq!(&generic[key], value, "{key}");
        }
        assert_eq!(generic["pull"], "registry.example.com:5000/shop/web:2.0.0");
        assert_eq!(generic["platforms"][1]["variant"], "v8");
    }

    #[test]
    fn unknown_values_are_null_not_missing() {
        let generic: Value =
            serde_json::from_slice(&render(&test_events::ping()).expect("renders").body).expect("JSON");
        assert!(generic["target"]["tag"].is_null());
        assert!(generic["pusher"].is_null());
        assert!(generic.as_object().expect("object").contains_key("pull"));
    }

    #[test]
    fn snapshots() {
        for (name, event) in test_events::all() {
            insta::assert_snapshot!(name, pretty_json(&render(&event).expect("renders").body));
        }
    }
}
