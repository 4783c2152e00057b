//! What the chat formats (Teams, Slack) say about an event: a title, a sentence for a ping, and a
//! list of facts, before each format lays them out and fits them into its receiver's limits.
//!
//! Invariants: values are raw user or registry text (each format escapes for its own markup);
//! facts the event does not know are left out rather than shown empty.

use crate::backend::webhooks::event::{EventAction, WebhookEvent};
use crate::format::{human_size, rfc3339_to_display, short_digest};

/// One labelled value of the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum FactValue {
    Text(String),
    /// Shown as `a, b, c and N more` when it does not fit.
    List(Vec<String>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Fact {
    pub title: &'static str,
    pub value: FactValue,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Message {
    pub title: String,
    /// A sentence under the title (pings only).
    pub text: Option<String>,
    pub facts: Vec<Fact>,
    /// Wharf's page for the event, shown as an "Open in Wharf" link.
    pub link: Option<String>,
}

pub(super) const OPEN_IN_WHARF: &str = "Open in Wharf";

impl Message {
    pub fn for_event(event: &WebhookEvent) -> Message {
        let subject = event.subject().unwrap_or_default();
        let (title, text) = match event.action {
            EventAction::Push => (format!("Pushed {subject}"), None),
            EventAction::Delete => (format!("Deleted {subject}"), None),
            EventAction::Ping => (
                "Wharf webhook test".to_string(),
                Some(format!(
                    "This webhook works: Wharf ({}) reached it.",
                    event.registry_host
                )),
            ),
        };
        let mut facts = Vec::new();
        let mut text_fact = |title: &'static str, value: Option<String>| {
            if let Some(value) = value.filter(|v| !v.is_empty()) {
                facts.push(Fact {
                    title,
                    value: FactValue::Text(value),
                });
            }
        };
        if event.action == EventAction::Ping {
            text_fact("Registry", Some(event.registry_host.clone()));
        } else {
            text_fact("Repository", Some(event.repository.clone()));
            text_fact("Tag", event.tag.clone());
            // `short_digest` slices bytes: only registry-made (ASCII) digests are shortened.
            let digest = event
                .digest
                .as_deref()
                .map(|d| if d.is_ascii() { short_digest(d) } else { d.to_string() });
            text_fact("Digest", digest);
            if event.action == EventAction::Push {
                text_fact("Size", event.size.map(human_size));
            }
        }
        let actor_title = match event.action {
            EventAction::Delete => "Deleted by",
            _ => "Pushed by",
        };
        text_fact(actor_title, event.actor.clone());
        text_fact("Time", Some(rfc3339_to_display(&event.timestamp)));
        text_fact("Pull", event.pull_reference());
        if !event.platforms.is_empty() {
            // Platforms go last: the one fact that can be long.
            facts.push(Fact {
                title: "Platforms",
                value: FactValue::List(event.platform_labels()),
            });
        }
        Message {
            title,
            text,
            facts,
            link: event.wharf_url.clone(),
        }
    }
}

/// `value` cut to at most `max` units as counted by `len`, ending in `…` when cut.
pub(super) fn truncate(value: &str, max: usize, len: fn(&str) -> usize) -> String {
    if len(value) <= max {
        return value.to_string();
    }
    let budget = max.saturating_sub(len("…"));
    let mut used = 0;
    let mut out = String::new();
    for c in value.chars() {
        let mut buf = [0u8; 4];
        let width = len(c.encode_utf8(&mut buf));
        if used + width > budget {
            break;
        }
        used += width;
        out.push(c);
    }
    out.push('…');
    out
}

/// `a, b, c and 497 more`: as many items as fit in `max` units (and at most `max_items`), each
/// item cut to `max_item` units first.
pub(super) fn list_with_more(
    items: &[String],
    max_items: usize,
    max_item: usize,
    max: usize,
    len: fn(&str) -> usize,
) -> String {
    let mut out = String::new();
    for (shown, item) in items.iter().enumerate() {
        let item = truncate(item, max_item, len);
        let separator = if shown == 0 { "" } else { ", " };
        let rest = items.len() - shown - 1;
        let suffix = if rest == 0 { String::new() } else { more(rest) };
        let fits = len(&out) + len(separator) + len(&item) + len(&suffix) <= max;
        if shown == max_items || !fits {
            let hidden = items.len() - shown;
            return if shown == 0 {
                more_alone(hidden)
            } else {
                out + &more(hidden)
            };
        }
        out.push_str(separator);
        out.push_str(&item);
    }
    out
}

fn more(hidden: usize) -> String {
    format!(" and {hidden} more")
}

fn more_alone(hidden: usize) -> String {
    format!("{hidden} in all")
}

/// Characters, as Teams counts them.
pub(super) fn chars(value: &str) -> usize {
    value.chars().count()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::webhooks::formats::test_events;

    fn labels(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("linux/arch{i}")).collect()
    }

    #[test]
    fn truncate_marks_the_cut() {
        assert_eq!(truncate("abcdef", 6, chars), "abcdef");
        assert_eq!(truncate("abcdef", 4, chars), "abc…");
        assert_eq!(truncate("ééééé", 3, chars), "éé…");
    }

    #[test]
    fn list_says_how_many_are_hidden() {
        assert_eq!(
            list_with_more(&labels(3), 10, 100, 100, chars),
            "linux/arch0, linux/arch1, linux/arch2"
        );
        assert_eq!(
            list_with_more(&labels(500), 2, 100, 1000, chars),
            "linux/arch0, linux/arch1 and 498 more"
        );
        let fitted = list_with_more(&labels(500), 500, 100, 60, chars);
        assert!(chars(&fitted) <= 60, "{fitted}");
        assert!(fitted.ends_with("more"), "{fitted}");
        assert_eq!(list_with_more(&labels(5), 5, 100, 5, chars), "5 in all");
    }

    #[test]
    fn ping_says_it_works() {
        let message = Message::for_event(&test_events::ping());
        assert_eq!(message.title, "Wharf webhook test");
        assert!(message.text.is_some());
        let titles: Vec<&str> = message.facts.iter().map(|f| f.title).collect();
        assert_eq!(titles, ["Registry", "Time"]);
    }

    #[test]
    fn odd_digests_do_not_panic() {
        let mut event = test_events::push_single();
        event.digest = Some("sha256:ééééééééééééé".to_string());
        let message = Message::for_event(&event);
        assert!(message
            .facts
            .iter()
            .any(|f| f.value == FactValue::Text("sha256:ééééééééééééé".to_string())));
    }

    #[test]
    fn delete_names_who_deleted_and_has_no_pull() {
        let message = Message::for_event(&test_events::delete_tag());
        let titles: Vec<&str> = message.facts.iter().map(|f| f.title).collect();
        assert_eq!(titles, ["Repository", "Tag", "Digest", "Deleted by", "Time"]);
    }
}
