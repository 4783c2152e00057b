//! Azure Container Registry's webhook schema, so a Logic App or function built for ACR works
//! unchanged against Wharf.
//!
//! Invariants: a push (and a ping) has exactly the keys of ACR's push payload, in ACR's order and
//! with ACR's JSON types (`id`, `timestamp`, `action`, `target{mediaType, size, digest, length,
//! repository, tag}`, `request{id, host, method, useragent}`): a value Wharf does not know is sent
//! as `""` or `0`, never `null` or left out, because schemas generated from a sample payload mark
//! every key required. A delete has ACR's delete shape, `target{mediaType, digest, repository}`,
//! plus `tag` when a tag (rather than a manifest) was deleted.

use serde::Serialize;

use super::{RenderError, Rendered};
use crate::backend::webhooks::event::{EventAction, WebhookEvent};

#[derive(Serialize)]
struct AcrEvent<'a> {
    id: &'a str,
    timestamp: &'a str,
    action: &'a str,
    target: AcrTarget<'a>,
    request: AcrRequest<'a>,
}

/// Field order is ACR's; `size`, `length` and `tag` are absent only from deletes.
#[derive(Serialize)]
struct AcrTarget<'a> {
    #[serde(rename = "mediaType")]
    media_type: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    size: Option<i64>,
    digest: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    length: Option<i64>,
    repository: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    tag: Option<&'a str>,
}

#[derive(Serialize)]
struct AcrRequest<'a> {
    id: &'a str,
    host: &'a str,
    method: &'a str,
    useragent: &'a str,
}

pub fn render(event: &WebhookEvent) -> Result<Rendered, RenderError> {
    let media_type = event.media_type.as_deref().unwrap_or_default();
    let digest = event.digest.as_deref().unwrap_or_default();
    let target = match event.action {
        EventAction::Push | EventAction::Ping => AcrTarget {
            media_type,
            size: Some(event.size.unwrap_or(0)),
            digest,
            length: Some(event.size.unwrap_or(0)),
            repository: &event.repository,
            tag: Some(event.tag.as_deref().unwrap_or_default()),
        },
        EventAction::Delete => AcrTarget {
            media_type,
            size: None,
            digest,
            length: None,
            repository: &event.repository,
            tag: event.tag.as_deref(),
        },
    };
    let payload = AcrEvent {
        id: &event.id,
        timestamp: &event.timestamp,
        action: event.action.as_str(),
        target,
        request: AcrRequest {
            id: &event.request.id,
            host: &event.request.host,
            method: &event.request.method,
            useragent: &event.request.useragent,
        },
    };
    Rendered::json("application/json", &payload)
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;
    use crate::backend::webhooks::event::RequestInfo;
    use crate::backend::webhooks::formats::test_events::{self, pretty_json};

    const ACR_PUSH_FIXTURE: &str = include_str!("testdata/acr-push-event.json");

    fn str_at(value: &Value, pointer: &str) -> String {
        value
            .pointer(pointer)
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("fixture has a string at {pointer}"))
            .to_string()
    }

    /// Recursively: same keys in the same order, same JSON types, same values.
    fn assert_same_json(expected: &Value, actual: &Value, path: &str) {
        match (expected, actual) {
            (Value::Object(expected), Value::Object(actual)) => {
                let expected_keys: Vec<&String> = expected.keys().collect();
                let actual_keys: Vec<&String> = actual.keys().collect();
                assert_eq!(expected_keys, actual_keys, "keys (and their order) differ at {path}");
                for (key, expected_value) in expected {
                    assert_same_json(expected_value, &actual[key], &format!("{path}.{key}"));
                }
            }
            (Value::Number(expected), Value::Number(actual)) => {
                assert_eq!(expected.is_i64(), actual.is_i64(), "integer vs float at {path}");
                assert_eq!(expected, actual, "value differs at {path}");
            }
            _ => {
                assert_eq!(
                    std::mem::discriminant(expected),
                    std::mem::discriminant(actual),
                    "JSON type differs at {path}: {expected} vs {actual}"
                );
                assert_eq!(expected, actual, "value differs at {path}");
            }
        }
    }

    #[test]
    fn push_matches_the_acr_fixture_key_for_key_and_type_for_type() {
        let fixture: Value = serde_json::from_str(ACR_PUSH_FIXTURE).expect("fixture is JSON");
        let event = WebhookEvent {
            id: str_at(&fixture, "/id"),
            action: EventAction::Push,
            timestamp: str_at(&fixture, "/timestamp"),
            repository: str_at(&fixture, "/target/repository"),
            tag: Some(str_at(&fixture, "/target/tag")),
            digest: Some(str_at(&fixture, "/target/digest")),
            media_type: Some(str_at(&fixture, "/target/mediaType")),
            size: fixture.pointer("/target/size").and_then(Value::as_i64),
            actor: Some("someone".to_string()),
            request: RequestInfo {
                id: str_at(&fixture, "/request/id"),
                host: str_at(&fixture, "/request/host"),
                method: str_at(&fixture, "/request/method"),
                useragent: str_at(&fixture, "/request/useragent"),
            },
            platforms: test_events::push_index().platforms,
            registry_host: str_at(&fixture, "/request/host"),
            wharf_url: Some("https://wharf.example.com/r/base:flask".to_string()),
        };
        let rendered = render(&event).expect("renders");
        assert_eq!(rendered.content_type, "application/json");
        let actual: Value = serde_json::from_slice(&rendered.body).expect("body is JSON");
        assert_same_json(&fixture, &actual, "$");
    }

    #[test]
    fn push_with_unknown_values_keeps_types() {
        let fixture: Value = serde_json::from_str(ACR_PUSH_FIXTURE).expect("fixture is JSON");
        let mut event = test_events::push_single();
        event.tag = None;
        event.size = None;
        event.media_type = None;
        let actual: Value = serde_json::from_slice(&render(&event).expect("renders").body).expect("JSON");
        let target = actual["target"].as_object().expect("target");
        let fixture_target = fixture["target"].as_object().expect("target");
        assert_eq!(
            target.keys().collect::<Vec<_>>(),
            fixture_target.keys().collect::<Vec<_>>()
        );
        assert_eq!(actual["target"]["tag"], "");
        assert_eq!(actual["target"]["size"], 0);
        assert_eq!(actual["target"]["mediaType"], "");
    }

    #[test]
    fn delete_has_acrs_delete_shape_plus_the_tag() {
        let actual: Value =
            serde_json::from_slice(&render(&test_events::delete_tag()).expect("renders").body).expect("JSON");
        let keys: Vec<&String> = actual["target"].as_object().expect("target").keys().collect();
        assert_eq!(keys, ["mediaType", "digest", "repository", "tag"]);
        let mut manifest_delete = test_events::delete_tag();
        manifest_delete.tag = None;
        let actual: Value = serde_json::from_slice(&render(&manifest_delete).expect("renders").body).expect("JSON");
        let keys: Vec<&String> = actual["target"].as_object().expect("target").keys().collect();
        assert_eq!(keys, ["mediaType", "digest", "repository"]);
    }

    #[test]
    fn snapshots() {
        for (name, event) in test_events::all() {
            let rendered = render(&event).expect("renders");
            insta::assert_snapshot!(name, pretty_json(&rendered.body));
        }
    }
}
