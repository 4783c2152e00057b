//! The request bodies a webhook can send: one [`Format`] per kind of receiver, each a plain
//! function from a [`WebhookEvent`] to a [`Rendered`] body with its content type and extra headers.
//!
//! Invariants: rendering is pure (same event, same bytes), so formats are checked with snapshot
//! tests; every body respects its receiver's size limits or fails with a [`RenderError`] whose
//! message can be shown to the user as is. Signing happens after rendering, in `signing`.
//! User-written templates are compiled and rendered only in a child process ([`sandbox`]).

pub mod acr;
pub mod cloudevents;
pub mod generic;
mod message;
pub mod sandbox;
pub mod slack;
pub mod teams;
pub mod template;

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::event::WebhookEvent;

/// How a webhook's body is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// Azure Container Registry's webhook schema, so Logic Apps built for ACR work unchanged.
    Acr,
    /// A Microsoft Teams Workflows message carrying an Adaptive Card.
    Teams,
    /// The bare Adaptive Card, for custom Power Automate flows.
    TeamsCard,
    /// A Slack incoming-webhook message.
    Slack,
    /// CloudEvents 1.0, structured mode (`application/cloudevents+json`).
    #[serde(rename = "cloudevents")]
    CloudEvents,
    /// CloudEvents 1.0, binary mode (`ce-*` headers, the data as the body).
    #[serde(rename = "cloudevents_binary")]
    CloudEventsBinary,
    /// Wharf's own JSON: the ACR fields plus platforms, pusher, pull reference and Wharf link.
    Generic,
    /// A user-written minijinja template.
    Template,
}

impl Format {
    pub const ALL: [Format; 8] = [
        Format::Generic,
        Format::Acr,
        Format::Teams,
        Format::TeamsCard,
        Format::Slack,
        Format::CloudEvents,
        Format::CloudEventsBinary,
        Format::Template,
    ];

    /// The stored name; the same as the serde name.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Acr => "acr",
            Format::Teams => "teams",
            Format::TeamsCard => "teams_card",
            Format::Slack => "slack",
            Format::CloudEvents => "cloudevents",
            Format::CloudEventsBinary => "cloudevents_binary",
            Format::Generic => "generic",
            Format::Template => "template",
        }
    }

    /// The name shown in the webhook form.
    pub fn label(self) -> &'static str {
        match self {
            Format::Acr => "ACR-compatible (Logic Apps)",
            Format::Teams => "Microsoft Teams (Workflows)",
            Format::TeamsCard => "Adaptive Card only (custom flows)",
            Format::Slack => "Slack",
            Format::CloudEvents => "CloudEvents 1.0 (structured)",
            Format::CloudEventsBinary => "CloudEvents 1.0 (binary)",
            Format::Generic => "Wharf JSON",
            Format::Template => "Custom template",
        }
    }

    /// Whether the body shows the image's platforms, which the index learns from the registry
    /// after the push: a push's delivery in such a format waits for the index (a few seconds at
    /// most). ACR's schema has no platforms, so its deliveries go at once.
    pub fn shows_platforms(self) -> bool {
        !matches!(self, Format::Acr)
    }

    /// Whether deliveries carry Standard Webhooks signature headers. Teams and Slack authenticate
    /// the sender by their secret URL and have no use for them.
    pub fn is_signed(self) -> bool {
        !matches!(self, Format::Teams | Format::Slack)
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown webhook format \"{0}\"")]
pub struct UnknownFormat(pub String);

impl FromStr for Format {
    type Err = UnknownFormat;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Format::ALL
            .into_iter()
            .find(|format| format.as_str() == s)
            .ok_or_else(|| UnknownFormat(s.to_string()))
    }
}

/// A rendered request body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub content_type: String,
    /// Headers the format itself needs (CloudEvents binary mode), besides `Content-Type`.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Rendered {
    fn json(content_type: &str, value: &impl Serialize) -> Result<Rendered, RenderError> {
        Ok(Rendered {
            content_type: content_type.to_string(),
            headers: Vec::new(),
            body: serde_json::to_vec(value).map_err(|e| RenderError::Json(e.to_string()))?,
        })
    }
}

/// Why a body could not be rendered; the messages are meant for the webhook's page. (Serialized:
/// the template renderer's child process answers with it.)
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum RenderError {
    #[error("this webhook uses a custom template, but the template is empty")]
    TemplateMissing,
    #[error("the template is {size} bytes; templates are limited to {max} bytes")]
    TemplateTooLarge { size: usize, max: usize },
    #[error("template syntax error{}: {message}", on_line(*.line))]
    TemplateSyntax { line: Option<usize>, message: String },
    #[error("the template failed{}: {message}", on_line(*.line))]
    TemplateFailed { line: Option<usize>, message: String },
    #[error("the template did too much work (a loop that never ends?) and was stopped")]
    TemplateTooMuchWork,
    #[error(
        "the template needed more than {max_mib} MiB of memory (strings or lists grown too large) and was stopped"
    )]
    TemplateTooMuchMemory { max_mib: u64 },
    #[error("the template ran longer than {secs} seconds and was stopped")]
    TemplateTimedOut { secs: u64 },
    #[error("the template renderer is busy; try again in a moment")]
    RendererBusy,
    #[error("the template could not be rendered: {0}")]
    RendererFailed(String),
    #[error("the rendered body is larger than {max} bytes")]
    BodyTooLarge { max: usize },
    #[error("could not write the JSON body: {0}")]
    Json(String),
}

fn on_line(line: Option<usize>) -> String {
    line.map(|line| format!(" on line {line}")).unwrap_or_default()
}

/// Renders `event` in `format`. `template` is the webhook's template source, used (and required)
/// only by [`Format::Template`], which `templates` renders in a child process.
pub async fn render(
    format: Format,
    event: &WebhookEvent,
    template: Option<&str>,
    templates: &sandbox::TemplateSandbox,
) -> Result<Rendered, RenderError> {
    match format {
        Format::Acr => acr::render(event),
        Format::Teams => teams::render_message(event),
        Format::TeamsCard => teams::render_card(event),
        Format::Slack => slack::render(event),
        Format::CloudEvents => cloudevents::render_structured(event),
        Format::CloudEventsBinary => cloudevents::render_binary(event),
        Format::Generic => generic::render(event),
        Format::Template => match template {
            Some(source) if !source.trim().is_empty() => templates.render(source, event).await,
            _ => Err(RenderError::TemplateMissing),
        },
    }
}

#[cfg(test)]
pub(crate) mod test_events {
    //! The deterministic events every format's snapshot tests render.

    use crate::backend::webhooks::event::{EventAction, Platform, RequestInfo, WebhookEvent};

    fn platform(os: &str, architecture: &str, variant: Option<&str>) -> Platform {
        Platform {
            os: os.to_string(),
            architecture: architecture.to_string(),
            variant: variant.map(str::to_string),
        }
    }

    /// A single-platform image pushed with docker.
    pub fn push_single() -> WebhookEvent {
        WebhookEvent {
            id: "0df7389b-8905-498f-989d-9f80568b9b71".to_string(),
            action: EventAction::Push,
            timestamp: "2026-11-23T10:00:00.123456789Z".to_string(),
            repository: "shop/api".to_string(),
            tag: Some("v1.4.2".to_string()),
            digest: Some("sha256:bcd0588795040673a589dea695b5902ffb9f83c2338efdbaeadefec4d935c794".to_string()),
            media_type: Some("application/vnd.oci.image.manifest.v1+json".to_string()),
            size: Some(1579),
            actor: Some("alice".to_string()),
            request: RequestInfo {
                id: "67a46a97-cec3-4200-adcf-0b39e366db64".to_string(),
                host: "registry.example.com:5000".to_string(),
                method: "PUT".to_string(),
                useragent: "docker/27.3.1 go/go1.22.7 os/linux arch/amd64".to_string(),
            },
            platforms: vec![platform("linux", "amd64", None)],
            registry_host: "registry.example.com:5000".to_string(),
            wharf_url: Some("https://wharf.example.com/r/shop/api:v1.4.2".to_string()),
        }
    }

    /// A multi-arch index pushed by a robot with skopeo.
    pub fn push_index() -> WebhookEvent {
        WebhookEvent {
            id: "7c1f0a2e-3b4d-4e5f-8a9b-0c1d2e3f4a5b".to_string(),
            action: EventAction::Push,
            timestamp: "2026-11-23T10:05:00.5Z".to_string(),
            repository: "shop/web".to_string(),
            tag: Some("2.0.0".to_string()),
            digest: Some("sha256:9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c8b7a6f5e4d3c2b1a0f9e8d".to_string()),
            media_type: Some("application/vnd.oci.image.index.v1+json".to_string()),
            size: Some(1_609),
            actor: Some("robot$ci".to_string()),
            request: RequestInfo {
                id: "a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d".to_string(),
                host: "registry.example.com:5000".to_string(),
                method: "PUT".to_string(),
                useragent: "skopeo/1.15.1".to_string(),
            },
            platforms: vec![
                platform("linux", "amd64", None),
                platform("linux", "arm64", Some("v8")),
                platform("linux", "arm", Some("v7")),
                platform("linux", "s390x", None),
            ],
            registry_host: "registry.example.com:5000".to_string(),
            wharf_url: Some("https://wharf.example.com/r/shop/web:2.0.0".to_string()),
        }
    }

    /// A tag deleted from Wharf: repository, tag and the digest it pointed to.
    pub fn delete_tag() -> WebhookEvent {
        WebhookEvent {
            id: "e4d3c2b1-a0f9-4e8d-9c7b-6a5f4e3d2c1b".to_string(),
            action: EventAction::Delete,
            timestamp: "2026-11-23T11:30:00Z".to_string(),
            repository: "shop/api".to_string(),
            tag: Some("v1.4.1".to_string()),
            digest: Some("sha256:3d78b540ab614f75a9e37ca9ecf559b30123456789abcdef0123456789abcdef".to_string()),
            media_type: Some("application/vnd.oci.image.manifest.v1+json".to_string()),
            size: None,
            actor: Some("bob".to_string()),
            request: RequestInfo {
                id: "3d78b540-ab61-4f75-a9e3-7ca9ecf559b3".to_string(),
                host: "registry.example.com:5000".to_string(),
                method: "DELETE".to_string(),
                useragent: "wharf/0.1.0".to_string(),
            },
            platforms: Vec::new(),
            registry_host: "registry.example.com:5000".to_string(),
            wharf_url: Some("https://wharf.example.com/r/shop/api".to_string()),
        }
    }

    /// A ping from the webhook's page.
    pub fn ping() -> WebhookEvent {
        WebhookEvent::ping_at(
            "registry.example.com:5000",
            Some("https://wharf.example.com"),
            "5f0c6d1e-9a8b-4c7d-8e6f-1a2b3c4d5e6f",
            "2026-11-23T12:00:00Z",
        )
    }

    /// All four, named for snapshot files.
    pub fn all() -> [(&'static str, WebhookEvent); 4] {
        [
            ("push_single", push_single()),
            ("push_index", push_index()),
            ("delete_tag", delete_tag()),
            ("ping", ping()),
        ]
    }

    /// The body as pretty JSON, for readable snapshots.
    pub fn pretty_json(body: &[u8]) -> String {
        let value: serde_json::Value = serde_json::from_slice(body).expect("body is JSON");
        serde_json::to_string_pretty(&value).expect("JSON value serializes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_names_round_trip_through_str_and_serde() {
        for format in Format::ALL {
            assert_eq!(format.as_str().parse::<Format>(), Ok(format));
            let json = serde_json::to_string(&format).expect("serializes");
            assert_eq!(json, format!("\"{}\"", format.as_str()));
            assert!(!format.label().is_empty());
        }
        assert_eq!("teams2".parse::<Format>(), Err(UnknownFormat("teams2".to_string())));
    }

    #[test]
    fn only_chat_formats_are_unsigned() {
        let unsigned: Vec<Format> = Format::ALL.into_iter().filter(|f| !f.is_signed()).collect();
        assert_eq!(unsigned, [Format::Teams, Format::Slack]);
    }

    #[tokio::test]
    async fn template_format_needs_a_template() {
        let event = test_events::push_single();
        let templates = sandbox::TemplateSandbox::in_this_process();
        assert_eq!(
            render(Format::Template, &event, None, &templates).await,
            Err(RenderError::TemplateMissing)
        );
        assert_eq!(
            render(Format::Template, &event, Some("  "), &templates).await,
            Err(RenderError::TemplateMissing)
        );
        let rendered = render(Format::Template, &event, Some("{{ event.repository }}"), &templates)
            .await
            .expect("renders");
        assert_eq!(rendered.body, b"shop/api");
    }

    #[tokio::test]
    async fn every_format_renders_every_test_event() {
        let templates = sandbox::TemplateSandbox::in_this_process();
        for (_, event) in test_events::all() {
            for format in Format::ALL {
                let rendered = render(format, &event, Some("{{ event.id }}"), &templates)
                    .await
                    .expect("renders");
                assert!(!rendered.body.is_empty(), "{format} rendered nothing");
            }
        }
    }

    #[test]
    fn error_messages_name_the_line() {
        let error = RenderError::TemplateSyntax {
            line: Some(3),
            message: "unexpected end of input".to_string(),
        };
        assert_eq!(
            error.to_string(),
            "template syntax error on line 3: unexpected end of input"
        );
        let error = RenderError::TemplateFailed {
            line: None,
            message: "x".to_string(),
        };
        assert_eq!(error.to_string(), "the template failed: x");
    }
}
