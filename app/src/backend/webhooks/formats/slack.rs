//! Slack incoming webhooks: a `text` fallback (notifications, old clients) and Block Kit
//! `blocks`; and the reading of Slack's plain-text error answers.
//!
//! Invariants: every value from the registry or a user is escaped for mrkdwn (`&`, `<`, `>`) so it
//! can neither break the markup nor mention `@channel`; Slack's limits hold whatever the event
//! (≤ [`MAX_BLOCKS`] blocks, header ≤ 150, field ≤ 2,000 and section text ≤ 3,000 characters,
//! counted in UTF-16 units as Slack does), long values ending in `…` and long lists in "and N more".

use serde_json::{json, Value};

use super::message::{list_with_more, FactValue, Message, OPEN_IN_WHARF};
use super::{RenderError, Rendered};
use crate::backend::webhooks::event::WebhookEvent;

pub const MAX_BLOCKS: usize = 50;
pub const MAX_SECTION_TEXT: usize = 3_000;
pub const MAX_FIELD_TEXT: usize = 2_000;
pub const MAX_FIELDS: usize = 10;
pub const MAX_HEADER_TEXT: usize = 150;
/// Each fact value is cut well below the field limit so that a field stays readable.
const MAX_VALUE: usize = 500;

pub fn render(event: &WebhookEvent) -> Result<Rendered, RenderError> {
    Rendered::json("application/json", &payload(&Message::for_event(event)))
}

fn payload(message: &Message) -> Value {
    let mut blocks = vec![json!({
        "type": "header",
        "text": { "type": "plain_text", "text": cut_plain(&message.title, MAX_HEADER_TEXT), "emoji": false },
    })];
    if let Some(text) = &message.text {
        blocks.push(section_text(escape_within(text, MAX_SECTION_TEXT)));
    }
    let mut fields = Vec::new();
    for fact in &message.facts {
        let label = format!("*{}*\n", fact.title);
        let room = MAX_FIELD_TEXT.min(MAX_SECTION_TEXT) - utf16(&label);
        match &fact.value {
            FactValue::Text(value) => {
                let value = escape_within(value, MAX_VALUE.min(room));
                // Digests and references are code: they are long and never contain a backtick.
                let value = if matches!(fact.title, "Digest" | "Pull") {
                    format!("`{value}`")
                } else {
                    value
                };
                fields.push(json!({ "type": "mrkdwn", "text": label + &value }));
            }
            FactValue::List(items) => {
                let items: Vec<String> = items.iter().map(|item| escape_within(item, MAX_VALUE)).collect();
                let room = MAX_SECTION_TEXT - utf16(&label);
                blocks.push(section_text(
                    label + &list_with_more(&items, usize::MAX, MAX_VALUE, room, utf16),
                ));
            }
        }
    }
    fields.truncate(MAX_FIELDS);
    if !fields.is_empty() {
        // The facts section goes right after the header and the ping sentence.
        let position = if message.text.is_some() { 2 } else { 1 };
        blocks.insert(position, json!({ "type": "section", "fields": fields }));
    }
    if let Some(link) = &message.link {
        blocks.push(json!({
            "type": "context",
            "elements": [{ "type": "mrkdwn", "text": format!("<{}|{OPEN_IN_WHARF}>", link_target(link)) }],
        }));
    }
    blocks.truncate(MAX_BLOCKS);
    json!({
        "text": escape_within(&message.title, MAX_SECTION_TEXT),
        "blocks": blocks,
    })
}

fn section_text(text: String) -> Value {
    json!({ "type": "section", "text": { "type": "mrkdwn", "text": text } })
}

/// Slack counts characters as JavaScript does.
fn utf16(value: &str) -> usize {
    value.encode_utf16().count()
}

fn escape(c: char) -> Option<&'static str> {
    match c {
        '&' => Some("&amp;"),
        '<' => Some("&lt;"),
        '>' => Some("&gt;"),
        _ => None,
    }
}

/// `value` escaped for mrkdwn, at most `max` UTF-16 units, ending in `…` when cut (never inside an
/// escape).
fn escape_within(value: &str, max: usize) -> String {
    let escaped_len: usize = value.chars().map(|c| escape(c).map_or(c.len_utf16(), str::len)).sum();
    let budget = if escaped_len <= max { max } else { max.saturating_sub(1) };
    let mut out = String::new();
    let mut used = 0;
    for c in value.chars() {
        let mut buf = [0u8; 4];
        let piece = escape(c).unwrap_or_else(|| c.encode_utf8(&mut buf));
        let width = utf16(piece);
        if used + width > budget {
            out.push('…');
            break;
        }
        used += width;
        out.push_str(piece);
    }
    out
}

/// Plain text (the header) needs no escaping, only the length limit.
fn cut_plain(value: &str, max: usize) -> String {
    super::message::truncate(value, max, utf16)
}

/// A URL for `<url|text>`: `|` and `>` would end it early.
fn link_target(url: &str) -> String {
    url.replace('&', "&amp;")
        .replace('<', "%3C")
        .replace('>', "%3E")
        .replace('|', "%7C")
}

/// An error Slack answered a webhook post with, from its plain-text body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SlackError {
    #[error("Slack refused the message as malformed (invalid_payload)")]
    InvalidPayload,
    #[error("Slack does not know this webhook URL (no_service): it was removed or revoked")]
    NoService,
    #[error("the webhook's Slack channel no longer exists (channel_not_found)")]
    ChannelNotFound,
    #[error("the webhook's Slack channel is archived (channel_is_archived)")]
    ChannelIsArchived,
    #[error("the Slack app behind this webhook has no active webhooks (no_active_hooks)")]
    NoActiveHooks,
    #[error("the Slack workspace forbids this post (action_prohibited)")]
    ActionProhibited,
    #[error("Slack refused a message without text (no_text)")]
    NoText,
    #[error("Slack refused the message: too many attachments (too_many_attachments)")]
    TooManyAttachments,
    /// A 404 or 410 whose body Wharf does not recognise: the URL is gone all the same.
    #[error("Slack answered {0}: this webhook URL no longer works")]
    WebhookGone(u16),
}

impl SlackError {
    /// Retrying cannot help: the webhook is broken until someone fixes it in Slack or Wharf.
    pub fn is_permanent(self) -> bool {
        matches!(
            self,
            SlackError::NoService
                | SlackError::ChannelNotFound
                | SlackError::ChannelIsArchived
                | SlackError::NoActiveHooks
                | SlackError::ActionProhibited
                | SlackError::WebhookGone(_)
        )
    }

    /// What went wrong, for the delivery log and the webhook's banner.
    pub fn message(self) -> String {
        self.to_string()
    }

    /// Slack's own code, as it appears in the response body.
    pub fn code(self) -> &'static str {
        match self {
            SlackError::InvalidPayload => "invalid_payload",
            SlackError::NoService => "no_service",
            SlackError::ChannelNotFound => "channel_not_found",
            SlackError::ChannelIsArchived => "channel_is_archived",
            SlackError::NoActiveHooks => "no_active_hooks",
            SlackError::ActionProhibited => "action_prohibited",
            SlackError::NoText => "no_text",
            SlackError::TooManyAttachments => "too_many_attachments",
            SlackError::WebhookGone(_) => "gone",
        }
    }
}

/// Reads a Slack webhook answer: `None` for success or an answer Slack is not known to give.
pub fn classify_slack_error(status: u16, body: &str) -> Option<SlackError> {
    if (200..300).contains(&status) {
        return None;
    }
    let known = match body.trim() {
        "invalid_payload" => Some(SlackError::InvalidPayload),
        "no_service" => Some(SlackError::NoService),
        "channel_not_found" => Some(SlackError::ChannelNotFound),
        "channel_is_archived" => Some(SlackError::ChannelIsArchived),
        "no_active_hooks" => Some(SlackError::NoActiveHooks),
        "action_prohibited" => Some(SlackError::ActionProhibited),
        "no_text" => Some(SlackError::NoText),
        "too_many_attachments" => Some(SlackError::TooManyAttachments),
        _ => None,
    };
    known.or(match status {
        404 | 410 => Some(SlackError::WebhookGone(status)),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::webhooks::event::Platform;
    use crate::backend::webhooks::formats::test_events::{self, pretty_json};

    fn body_json(event: &WebhookEvent) -> Value {
        serde_json::from_slice(&render(event).expect("renders").body).expect("body is JSON")
    }

    /// Every mrkdwn or plain text in the blocks, with the kind of place it sits in.
    fn texts(body: &Value) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        for block in body["blocks"].as_array().expect("blocks") {
            match block["type"].as_str() {
                Some("header") => out.push(("header", block["text"]["text"].as_str().unwrap_or_default().into())),
                Some("section") => {
                    if let Some(text) = block["text"]["text"].as_str() {
                        out.push(("section", text.to_string()));
                    }
                    for field in block["fields"].as_array().into_iter().flatten() {
                        out.push(("field", field["text"].as_str().unwrap_or_default().into()));
                    }
                }
                Some("context") => {
                    for element in block["elements"].as_array().into_iter().flatten() {
                        out.push(("context", element["text"].as_str().unwrap_or_default().into()));
                    }
                }
                other => panic!("unexpected block {other:?}"),
            }
        }
        out
    }

    #[test]
    fn user_values_are_escaped_for_mrkdwn() {
        let mut event = test_events::push_single();
        event.actor = Some("<!channel> & <https://evil.example|click>".to_string());
        let body = body_json(&event);
        let pushed_by = texts(&body)
            .into_iter()
            .find(|(_, text)| text.starts_with("*Pushed by*"))
            .expect("pushed by field")
            .1;
        assert_eq!(
            pushed_by,
            "*Pushed by*\n&lt;!channel&gt; &amp; &lt;https://evil.example|click&gt;"
        );
    }

    #[test]
    fn links_to_wharf_when_known() {
        let body = body_json(&test_events::push_single());
        let context = texts(&body)
            .into_iter()
            .find(|(kind, _)| *kind == "context")
            .expect("context")
            .1;
        assert_eq!(context, "<https://wharf.example.com/r/shop/api:v1.4.2|Open in Wharf>");
        let mut event = test_events::push_single();
        event.wharf_url = None;
        assert!(texts(&body_json(&event)).iter().all(|(kind, _)| *kind != "context"));
        assert_eq!(link_target("https://x/?a=1&b=<2>|"), "https://x/?a=1&amp;b=%3C2%3E%7C");
    }

    #[test]
    fn limits_hold_for_huge_events() {
        let mut event = test_events::push_index();
        event.platforms = (0..500)
            .map(|i| Platform {
                os: "linux".to_string(),
                architecture: format!("arch{i}"),
                variant: Some("<v>".repeat(20)),
            })
            .collect();
        event.repository = "r".repeat(10_000);
        event.tag = Some("&".repeat(10_000));
        event.actor = Some("😀".repeat(10_000));
        let body = body_json(&event);
        let blocks = body["blocks"].as_array().expect("blocks");
        assert!(blocks.len() <= MAX_BLOCKS);
        for block in blocks {
            assert!(block["fields"].as_array().map_or(0, Vec::len) <= MAX_FIELDS);
        }
        for (kind, text) in texts(&body) {
            let max = match kind {
                "header" => MAX_HEADER_TEXT,
                "field" => MAX_FIELD_TEXT,
                _ => MAX_SECTION_TEXT,
            };
            assert!(utf16(&text) <= max, "{kind} is {} long", utf16(&text));
            assert!(
                !text.contains("&am…") && !text.contains("&a…") && !text.contains("&…"),
                "cut inside an escape"
            );
        }
        let platforms = texts(&body)
            .into_iter()
            .find(|(_, text)| text.starts_with("*Platforms*"))
            .expect("platforms")
            .1;
        assert!(platforms.ends_with(" more"), "{platforms}");
        assert!(utf16(body["text"].as_str().expect("text")) <= MAX_SECTION_TEXT);
    }

    #[test]
    fn escape_within_never_splits_an_escape() {
        assert_eq!(escape_within("a<b", 10), "a&lt;b");
        assert_eq!(escape_within("a<b", 6), "a&lt;b");
        assert_eq!(escape_within("a<bc", 6), "a&lt;…");
        assert_eq!(escape_within("<<", 5), "&lt;…");
        assert_eq!(escape_within("😀😀", 3), "😀…");
    }

    #[test]
    fn slack_errors_are_classified() {
        assert_eq!(classify_slack_error(200, "ok"), None);
        assert_eq!(
            classify_slack_error(400, "invalid_payload"),
            Some(SlackError::InvalidPayload)
        );
        assert_eq!(classify_slack_error(404, "no_service\n"), Some(SlackError::NoService));
        assert_eq!(
            classify_slack_error(404, "channel_not_found"),
            Some(SlackError::ChannelNotFound)
        );
        assert_eq!(
            classify_slack_error(410, "channel_is_archived"),
            Some(SlackError::ChannelIsArchived)
        );
        assert_eq!(
            classify_slack_error(404, "no_active_hooks"),
            Some(SlackError::NoActiveHooks)
        );
        assert_eq!(
            classify_slack_error(403, "action_prohibited"),
            Some(SlackError::ActionProhibited)
        );
        assert_eq!(classify_slack_error(400, "no_text"), Some(SlackError::NoText));
        assert_eq!(
            classify_slack_error(400, "too_many_attachments"),
            Some(SlackError::TooManyAttachments)
        );
        assert_eq!(
            classify_slack_error(410, "<html>gone</html>"),
            Some(SlackError::WebhookGone(410))
        );
        assert_eq!(classify_slack_error(404, ""), Some(SlackError::WebhookGone(404)));
        assert_eq!(classify_slack_error(500, "rollup_error"), None);
        assert_eq!(classify_slack_error(429, "rate limited"), None);

        for error in [
            SlackError::NoService,
            SlackError::ChannelNotFound,
            SlackError::ChannelIsArchived,
            SlackError::NoActiveHooks,
            SlackError::ActionProhibited,
            SlackError::WebhookGone(404),
        ] {
            assert!(error.is_permanent(), "{error}");
        }
        for error in [
            SlackError::InvalidPayload,
            SlackError::NoText,
            SlackError::TooManyAttachments,
        ] {
            assert!(!error.is_permanent(), "{error}");
        }
        assert_eq!(
            SlackError::ChannelIsArchived.message(),
            "the webhook's Slack channel is archived (channel_is_archived)"
        );
    }

    #[test]
    fn snapshots() {
        for (name, event) in test_events::all() {
            insta::assert_snapshot!(name, pretty_json(&render(&event).expect("renders").body));
        }
    }
}
