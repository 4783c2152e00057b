//! CloudEvents 1.0 over HTTP, in structured mode (the whole event as
//! `application/cloudevents+json`) and binary mode (attributes in `ce-*` headers, the data as the
//! body). The data is always Wharf's generic JSON.
//!
//! Attributes: `source` is `wharf://<registry host>/<repository>` (`wharf://<registry host>` for
//! a ping), so `source` + `id` (the registry's event id) is unique as the spec requires; `type` is
//! one of [`TYPE_PUSHED`], [`TYPE_DELETED`], [`TYPE_PING`]; `subject` is `repo:tag` or
//! `repo@digest` (absent for a ping); `time` is the registry's timestamp unchanged.
//!
//! Invariant: binary-mode header values are percent-encoded as the HTTP binding requires
//! (anything outside printable ASCII, space, `"` and `%`), so any repository or tag is safe in a
//! header.

use serde::Serialize;

use super::generic::GenericEvent;
use super::{RenderError, Rendered};
use crate::backend::webhooks::event::{EventAction, WebhookEvent};

pub const SPEC_VERSION: &str = "1.0";
pub const TYPE_PUSHED: &str = "io.wharf.image.pushed";
pub const TYPE_DELETED: &str = "io.wharf.image.deleted";
pub const TYPE_PING: &str = "io.wharf.ping";
pub const STRUCTURED_CONTENT_TYPE: &str = "application/cloudevents+json";

#[derive(Serialize)]
struct StructuredEvent<'a> {
    specversion: &'static str,
    id: &'a str,
    source: String,
    #[serde(rename = "type")]
    event_type: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    subject: Option<String>,
    time: &'a str,
    datacontenttype: &'static str,
    data: GenericEvent<'a>,
}

/// The CloudEvents `type` of an action.
pub fn event_type(action: EventAction) -> &'static str {
    match action {
        EventAction::Push => TYPE_PUSHED,
        EventAction::Delete => TYPE_DELETED,
        EventAction::Ping => TYPE_PING,
    }
}

/// `wharf://registry.example.com:5000/shop/api`.
pub fn source(event: &WebhookEvent) -> String {
    if event.repository.is_empty() {
        format!("wharf://{}", event.registry_host)
    } else {
        format!("wharf://{}/{}", event.registry_host, event.repository)
    }
}

pub fn render_structured(event: &WebhookEvent) -> Result<Rendered, RenderError> {
    let structured = StructuredEvent {
        specversion: SPEC_VERSION,
        id: &event.id,
        source: source(event),
        event_type: event_type(event.action),
        subject: event.subject(),
        time: &event.timestamp,
        datacontenttype: "application/json",
        data: GenericEvent::new(event),
    };
    Rendered::json(STRUCTURED_CONTENT_TYPE, &structured)
}

pub fn render_binary(event: &WebhookEvent) -> Result<Rendered, RenderError> {
    let mut headers = vec![
        ("ce-specversion", SPEC_VERSION.to_string()),
        ("ce-id", event.id.clone()),
        ("ce-source", source(event)),
        ("ce-type", event_type(event.action).to_string()),
    ];
    if let Some(subject) = event.subject() {
        headers.push(("ce-subject", subject));
    }
    headers.push(("ce-time", event.timestamp.clone()));
    let mut rendered = Rendered::json("application/json", &GenericEvent::new(event))?;
    rendered.headers = headers
        .into_iter()
        .map(|(name, value)| (name.to_string(), percent_encode_header(&value)))
        .collect();
    Ok(rendered)
}

/// The HTTP binding's encoding of attribute values in headers.
fn percent_encode_header(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        match byte {
            b'!'..=b'~' if byte != b'"' && byte != b'%' => out.push(byte as char),
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;
    use crate::backend::webhooks::formats::generic;
    use crate::backend::webhooks::formats::test_events::{self, pretty_json};

    #[test]
    fn structured_has_the_required_attributes_and_generic_data() {
        let event = test_events::push_index();
        let rendered = render_structured(&event).expect("renders");
        assert_eq!(rendered.content_type, "application/cloudevents+json");
        let body: Value = serde_json::from_slice(&rendered.body).expect("JSON");
        assert_eq!(body["specversion"], "1.0");
        assert_eq!(body["id"], event.id.as_str());
        assert_eq!(body["source"], "wharf://registry.example.com:5000/shop/web");
        assert_eq!(body["type"], "io.wharf.image.pushed");
        assert_eq!(body["subject"], "shop/web:2.0.0");
        assert_eq!(body["time"], "2026-11-23T10:05:00.5Z");
        let data: Value = serde_json::from_slice(&generic::render(&event).expect("renders").body).expect("JSON");
        assert_eq!(body["data"], data);
    }

    #[test]
    fn binary_puts_attributes_in_headers_and_data_in_the_body() {
        let event = test_events::delete_tag();
        let rendered = render_binary(&event).expect("renders");
        assert_eq!(rendered.content_type, "application/json");
        assert_eq!(rendered.body, generic::render(&event).expect("renders").body);
        let header = |name: &str| {
            rendered
                .headers
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(header("ce-type"), Some("io.wharf.image.deleted"));
        assert_eq!(header("ce-subject"), Some("shop/api:v1.4.1"));
        let ping = render_binary(&test_events::ping()).expect("renders");
        assert!(ping.headers.iter().all(|(n, _)| n != "ce-subject"));
        assert!(ping.headers.iter().any(|(n, v)| n == "ce-type" && v == "io.wharf.ping"));
    }

    #[test]
    fn header_values_are_percent_encoded() {
        assert_eq!(percent_encode_header("shop/api:v1"), "shop/api:v1");
        assert_eq!(percent_encode_header("a b\"c%d€"), "a%20b%22c%25d%E2%82%AC");
    }

    #[test]
    fn snapshots() {
        for (name, event) in test_events::all() {
            insta::assert_snapshot!(
                format!("structured_{name}"),
                pretty_json(&render_structured(&event).expect("renders").body)
            );
            let binary = render_binary(&event).expect("renders");
            let headers: Vec<String> = binary.headers.iter().map(|(n, v)| format!("{n}: {v}")).collect();
            insta::assert_snapshot!(
                format!("binary_{name}"),
                format!(
                    "Content-Type: {}\n{}\n\n{}",
                    binary.content_type,
                    headers.join("\n"),
                    pretty_json(&binary.body)
                )
            );
        }
    }
}
