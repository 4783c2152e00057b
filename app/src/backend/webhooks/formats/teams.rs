//! Microsoft Teams through a Workflows webhook ("Post to a channel when a webhook request is
//! received"): a `message` whose one attachment is an Adaptive Card; or, for custom flows, the
//! bare card.
//!
//! Invariants: the card is version 1.4 (Workflows refuse newer cards); its only actions are
//! `Action.OpenUrl`; the whole body stays under [`MAX_BODY_BYTES`] (Teams drops larger messages),
//! which is kept by cutting long values and lists ("and N more") tighter until it fits.

use serde_json::{json, Value};

use super::message::{chars, list_with_more, truncate, FactValue, Message, OPEN_IN_WHARF};
use super::{RenderError, Rendered};
use crate::backend::webhooks::event::WebhookEvent;

/// Teams refuses messages over about 28 KB; stay under with room for the envelope's headers.
pub const MAX_BODY_BYTES: usize = 28_000;

pub const CARD_VERSION: &str = "1.4";

pub const CARD_CONTENT_TYPE: &str = "application/vnd.microsoft.card.adaptive";

/// How much of each value is shown; tried in order until the body fits.
struct Budget {
    value_chars: usize,
    list_items: usize,
    list_chars: usize,
}

const BUDGETS: [Budget; 4] = [
    Budget {
        value_chars: 1_000,
        list_items: 30,
        list_chars: 2_000,
    },
    Budget {
        value_chars: 300,
        list_items: 10,
        list_chars: 600,
    },
    Budget {
        value_chars: 100,
        list_items: 5,
        list_chars: 200,
    },
    Budget {
        value_chars: 40,
        list_items: 2,
        list_chars: 60,
    },
];

/// The Workflows message: `{"type":"message","attachments":[{…card…}]}`.
pub fn render_message(event: &WebhookEvent) -> Result<Rendered, RenderError> {
    fit(event, |card| {
        json!({
            "type": "message",
            "attachments": [{
                "contentType": CARD_CONTENT_TYPE,
                "contentUrl": null,
                "content": card,
            }],
        })
    })
}

/// The Adaptive Card alone.
pub fn render_card(event: &WebhookEvent) -> Result<Rendered, RenderError> {
    fit(event, |card| card)
}

fn fit(event: &WebhookEvent, wrap: impl Fn(Value) -> Value) -> Result<Rendered, RenderError> {
    let message = Message::for_event(event);
    for budget in &BUDGETS {
        let body = serde_json::to_vec(&wrap(card(&message, budget))).map_err(|e| RenderError::Json(e.to_string()))?;
        if body.len() <= MAX_BODY_BYTES {
            return Ok(Rendered {
                content_type: "application/json".to_string(),
                headers: Vec::new(),
                body,
            });
        }
    }
    Err(RenderError::BodyTooLarge { max: MAX_BODY_BYTES })
}

fn card(message: &Message, budget: &Budget) -> Value {
    let mut body = vec![json!({
        "type": "TextBlock",
        "text": truncate(&message.title, budget.value_chars, chars),
        "size": "Medium",
        "weight": "Bolder",
        "wrap": true,
    })];
    if let Some(text) = &message.text {
        body.push(json!({
            "type": "TextBlock",
            "text": truncate(text, budget.value_chars, chars),
            "wrap": true,
        }));
    }
    let facts: Vec<Value> = message
        .facts
        .iter()
        .map(|fact| {
            let value = match &fact.value {
                FactValue::Text(text) => truncate(text, budget.value_chars, chars),
                FactValue::List(items) => {
                    list_with_more(items, budget.list_items, budget.value_chars, budget.list_chars, chars)
                }
            };
            json!({ "title": fact.title, "value": value })
        })
        .collect();
    body.push(json!({ "type": "FactSet", "facts": facts }));
    let mut card = json!({
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": CARD_VERSION,
        "body": body,
    });
    if let Some(link) = &message.link {
        // A link too long to fit is useless cut, so the button is dropped instead.
        if link.len() <= 2_048 {
            card["actions"] = json!([{ "type": "Action.OpenUrl", "title": OPEN_IN_WHARF, "url": link }]);
        }
    }
    card
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::webhooks::event::Platform;
    use crate::backend::webhooks::formats::test_events::{self, pretty_json};

    fn body_json(rendered: &Rendered) -> Value {
        serde_json::from_slice(&rendered.body).expect("body is JSON")
    }

    fn huge_event() -> WebhookEvent {
        let mut event = test_events::push_index();
        event.platforms = (0..500)
            .map(|i| Platform {
                os: "linux".to_string(),
                architecture: format!("arch{i}"),
                variant: Some("v".repeat(100)),
            })
            .collect();
        event.repository = "r".repeat(40_000);
        event.tag = Some("t".repeat(40_000));
        // Control characters take six bytes each once escaped in JSON.
        event.actor = Some("\u{1}".repeat(40_000));
        event
    }

    #[test]
    fn message_wraps_a_version_1_4_card_with_only_open_url_actions() {
        let body = body_json(&render_message(&test_events::push_index()).expect("renders"));
        assert_eq!(body["type"], "message");
        assert_eq!(body["attachments"].as_array().map(Vec::len), Some(1));
        let attachment = &body["attachments"][0];
        assert_eq!(attachment["contentType"], CARD_CONTENT_TYPE);
        assert!(attachment["contentUrl"].is_null());
        let card = &attachment["content"];
        assert_eq!(card["type"], "AdaptiveCard");
        assert_eq!(card["version"], "1.4");
        for action in card["actions"].as_array().expect("actions") {
            assert_eq!(action["type"], "Action.OpenUrl");
        }
    }

    #[test]
    fn bare_card_is_the_attachment_content() {
        let event = test_events::push_single();
        let message = body_json(&render_message(&event).expect("renders"));
        let card = body_json(&render_card(&event).expect("renders"));
        assert_eq!(message["attachments"][0]["content"], card);
    }

    #[test]
    fn no_button_without_a_wharf_url() {
        let mut event = test_events::push_single();
        event.wharf_url = None;
        let card = body_json(&render_card(&event).expect("renders"));
        assert!(card.get("actions").is_none());
    }

    #[test]
    fn huge_events_stay_under_the_size_limit() {
        for rendered in [render_message(&huge_event()), render_card(&huge_event())] {
            let rendered = rendered.expect("renders");
            assert!(rendered.body.len() <= MAX_BODY_BYTES, "{} bytes", rendered.body.len());
            let text = String::from_utf8(rendered.body).expect("UTF-8");
            assert!(text.contains(" more"), "the platform list says how many are hidden");
            assert!(text.contains('…'), "long values are cut visibly");
        }
    }

    #[test]
    fn many_platforms_are_listed_with_and_n_more() {
        let mut event = test_events::push_index();
        event.platforms = (0..500)
            .map(|i| Platform {
                os: "linux".to_string(),
                architecture: format!("arch{i}"),
                variant: None,
            })
            .collect();
        let card = body_json(&render_card(&event).expect("renders"));
        let facts = card["body"][1]["facts"].as_array().expect("facts");
        let platforms = facts
            .iter()
            .find(|f| f["title"] == "Platforms")
            .expect("platforms fact");
        let value = platforms["value"].as_str().expect("text");
        assert!(value.starts_with("linux/arch0, linux/arch1,"), "{value}");
        assert!(value.ends_with(" and 470 more"), "{value}");
    }

    #[test]
    fn snapshots() {
        for (name, event) in test_events::all() {
            insta::assert_snapshot!(
                format!("message_{name}"),
                pretty_json(&render_message(&event).expect("renders").body)
            );
            insta::assert_snapshot!(
                format!("card_{name}"),
                pretty_json(&render_card(&event).expect("renders").body)
            );
        }
    }
}
