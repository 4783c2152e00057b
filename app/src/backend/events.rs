//! Registry notification events: validated from the envelope, stored once per event id, listed
//! newest first; events of a well-formed envelope that Wharf cannot use are quarantined.

use serde::Deserialize;
use sqlx::{AnyConnection, Row};

use super::db::{now_ms, Db};
use super::index::queries::like_escape;
use crate::model::{EventRow, EventsPage};
use crate::names::{Digest, NameError, RepositoryName, Tag};

/// One event as the registry sends it; only the fields Wharf relies on are required.
#[derive(Debug, Clone, Deserialize)]
pub struct RegistryEvent {
    pub id: String,
    pub timestamp: String,
    pub action: String,
    pub target: Target,
    #[serde(default)]
    pub actor: Option<Actor>,
    #[serde(default)]
    pub request: Option<serde_json::Value>,
    #[serde(default)]
    pub source: Option<Source>,
    /// The event exactly as received, stored for replay.
    #[serde(skip)]
    pub raw: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Target {
    #[serde(rename = "mediaType", default)]
    pub media_type: Option<String>,
    #[serde(default)]
    pub size: Option<i64>,
    #[serde(default)]
    pub digest: Option<String>,
    pub repository: String,
    #[serde(default)]
    pub tag: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Actor {
    #[serde(default)]
    pub name: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Source {
    #[serde(default)]
    pub addr: Option<String>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EnvelopeError {
    #[error("body is not a JSON notification envelope: {0}")]
    NotJson(String),
    #[error("envelope has no \"events\" array")]
    NoEvents,
    #[error("event {index} is invalid: {reason}")]
    InvalidEvent { index: usize, reason: String },
}

/// Longest accepted values: a repository name (the registry's own limit is 255), a tag (OCI: 128),
/// a digest (sha512 in hex with its prefix), and the rest; and one event's whole JSON.
const MAX_ID: usize = 256;
const MAX_ACTION: usize = 64;
const MAX_REPOSITORY: usize = 256;
const MAX_TAG: usize = 128;
const MAX_DIGEST: usize = 160;
const MAX_TEXT: usize = 256;
pub const MAX_EVENT_BYTES: usize = 64 * 1024;

/// An event of a well-formed envelope that Wharf cannot use, kept aside with the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quarantined {
    pub index: usize,
    pub reason: String,
    /// The event's JSON, cut to [`MAX_EVENT_BYTES`].
    pub raw: String,
}

impl Quarantined {
    /// Kept aside for `reason`, its JSON `raw` cut to [`MAX_EVENT_BYTES`].
    pub fn new(index: usize, reason: String, mut raw: String) -> Quarantined {
        if raw.len() > MAX_EVENT_BYTES {
            let mut end = MAX_EVENT_BYTES;
            while !raw.is_char_boundary(end) {
                end -= 1;
            }
            raw.truncate(end);
        }
        Quarantined { index, reason, raw }
    }
}

/// Parses one event of an envelope, checking every field Wharf keeps.
fn parse_event(index: usize, raw: &serde_json::Value) -> Result<RegistryEvent, EnvelopeError> {
    let invalid = |reason: String| EnvelopeError::InvalidEvent { index, reason };
    let text = raw.to_string();
    if text.len() > MAX_EVENT_BYTES {
        return Err(invalid(format!("the event is larger than {MAX_EVENT_BYTES} bytes")));
    }
    let mut event: RegistryEvent = serde_json::from_value(raw.clone()).map_err(|e| invalid(e.to_string()))?;
    let check = |name: &str, value: Option<&str>, max: usize, required: bool| match value {
        None | Some("") if required => Err(invalid(format!("\"{name}\" must be a non-empty string"))),
        Some(v) if v.len() > max => Err(invalid(format!("\"{name}\" is longer than {max} bytes"))),
        _ => Ok(()),
    };
    check("id", Some(&event.id), MAX_ID, true)?;
    check("action", Some(&event.action), MAX_ACTION, true)?;
    check(
        "target.repository",
        Some(&event.target.repository),
        MAX_REPOSITORY,
        true,
    )?;
    check("target.tag", event.target.tag.as_deref(), MAX_TAG, false)?;
    check("target.digest", event.target.digest.as_deref(), MAX_DIGEST, false)?;
    check("target.mediaType", event.target.media_type.as_deref(), MAX_TEXT, false)?;
    check("timestamp", Some(&event.timestamp), MAX_TEXT, true)?;
    check(
        "actor.name",
        event.actor.as_ref().and_then(|a| a.name.as_deref()),
        MAX_TEXT,
        false,
    )?;
    check(
        "source.addr",
        event.source.as_ref().and_then(|s| s.addr.as_deref()),
        MAX_TEXT,
        false,
    )?;
    time::OffsetDateTime::parse(&event.timestamp, &time::format_description::well_known::Rfc3339)
        .map_err(|e| invalid(format!("\"timestamp\" is not RFC 3339: {e}")))?;
    check_names(&event.target).map_err(|e| invalid(e.to_string()))?;
    event.raw = text;
    Ok(event)
}

/// The target's repository, tag and digest in the registry's grammar: an event naming anything
/// else is not from the registry, and is kept aside before a name from it reaches a query, a
/// webhook or a registry URL.
fn check_names(target: &Target) -> Result<(), NameError> {
    RepositoryName::parse(&target.repository)?;
    if let Some(tag) = target.tag.as_deref().filter(|t| !t.is_empty()) {
        Tag::parse(tag)?;
    }
    if let Some(digest) = target.digest.as_deref().filter(|d| !d.is_empty()) {
        Digest::parse(digest)?;
    }
    Ok(())
}

fn envelope_events(body: &[u8]) -> Result<Vec<serde_json::Value>, EnvelopeError> {
    let mut value: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| EnvelopeError::NotJson(e.to_string()))?;
    match value.get_mut("events").map(serde_json::Value::take) {
        Some(serde_json::Value::Array(events)) => Ok(events),
        _ => Err(EnvelopeError::NoEvents),
    }
}

/// Parses and validates a whole envelope; any invalid event rejects all of it.
pub fn parse_envelope(body: &[u8]) -> Result<Vec<RegistryEvent>, EnvelopeError> {
    envelope_events(body)?
        .iter()
        .enumerate()
        .map(|(index, raw)| parse_event(index, raw))
        .collect()
}

/// An envelope as the intake takes it in.
#[derive(Debug, Default)]
pub struct Split {
    /// Events to store.
    pub events: Vec<RegistryEvent>,
    /// Events Wharf cannot use, kept aside.
    pub quarantined: Vec<Quarantined>,
    /// Pulls of manifests (see [`super::pulls`]): counted, not stored.
    pub pulls: Vec<super::pulls::Pull>,
    /// Pull events that name no manifest properly: dropped.
    pub pulls_dropped: usize,
}

/// Parses an envelope as the intake does: a body that is not an envelope is an error; an event
/// in it that Wharf cannot use is quarantined, and the others are kept (the registry would
/// retry a refused envelope forever, holding up everything behind it). Pull events go apart:
/// one that is not a proper pull of a manifest is dropped (a debug log says why), never
/// quarantined.
pub fn split_envelope(body: &[u8]) -> Result<Split, EnvelopeError> {
    let mut split = Split::default();
    for (index, raw) in envelope_events(body)?.iter().enumerate() {
        if super::pulls::is_pull(raw) {
            match super::pulls::parse(raw) {
                Ok(pull) => split.pulls.push(pull),
                Err(reason) => {
                    tracing::debug!(index, reason, "a pull event dropped");
                    split.pulls_dropped += 1;
                }
            }
            continue;
        }
        match parse_event(index, raw) {
            Ok(event) => split.events.push(event),
            Err(err) => split
                .quarantined
                .push(Quarantined::new(index, err.to_string(), raw.to_string())),
        }
    }
    Ok(split)
}

/// Keeps quarantined events (once each: the same JSON is one row) on the caller's transaction.
pub async fn quarantine(conn: &mut AnyConnection, quarantined: &[Quarantined]) -> Result<(), sqlx::Error> {
    use sha2::Digest;
    for item in quarantined {
        let id = hex::encode(sha2::Sha256::digest(item.raw.as_bytes()));
        sqlx::query(
            "INSERT INTO quarantined_events (id, received_at, reason, payload) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (id) DO NOTHING",
        )
        .bind(id)
        .bind(now_ms())
        .bind(&item.reason)
        .bind(&item.raw)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// The newest quarantined events (at most `limit`).
pub async fn quarantined(db: &Db, limit: i64) -> Result<Vec<crate::model::QuarantinedEvent>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT id, received_at, reason, payload FROM quarantined_events ORDER BY received_at DESC, id DESC LIMIT $1",
    )
    .bind(limit)
    .fetch_all(&db.pool)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(crate::model::QuarantinedEvent {
                id: row.try_get("id")?,
                received_at_ms: row.try_get("received_at")?,
                reason: row.try_get("reason")?,
                payload: row.try_get("payload")?,
            })
        })
        .collect()
}

/// Stores events on the caller's transaction; an id already stored is skipped (the registry
/// retries). Returns, per event, whether it was new.
pub async fn store(
    conn: &mut AnyConnection,
    events: &[RegistryEvent],
    received_at: i64,
) -> Result<Vec<bool>, sqlx::Error> {
    let mut new = Vec::with_capacity(events.len());
    for event in events {
        let result = sqlx::query(
            "INSERT INTO registry_events (id, received_at, occurred_at, action, repository, tag, digest, media_type, size, actor, source_addr, payload, next_attempt_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) ON CONFLICT (id) DO NOTHING",
        )
        .bind(&event.id)
        .bind(received_at)
        .bind(&event.timestamp)
        .bind(&event.action)
        .bind(&event.target.repository)
        .bind(&event.target.tag)
        .bind(&event.target.digest)
        .bind(&event.target.media_type)
        .bind(event.target.size)
        .bind(event.actor.as_ref().and_then(|a| a.name.clone()))
        .bind(event.source.as_ref().and_then(|s| s.addr.clone()))
        .bind(&event.raw)
        .bind(received_at)
        .execute(&mut *conn)
        .await?;
        new.push(result.rows_affected() == 1);
    }
    Ok(new)
}

pub const PAGE_SIZE: i64 = 50;

/// A page of events, newest first, narrowed by `filter`. `cursor` is the `next` of the previous
/// page.
pub async fn list(db: &Db, filter: &EventFilter, cursor: Option<&str>) -> Result<EventsPage, sqlx::Error> {
    let (before_at, before_id) = cursor
        .and_then(parse_cursor)
        .unwrap_or((i64::MAX, "\u{10FFFF}".to_string()));
    // Placeholders are numbered by hand: sqlx's QueryBuilder writes `?` for the Any driver, which
    // PostgreSQL does not take.
    let mut conditions = vec!["(received_at < $1 OR (received_at = $1 AND id < $2))".to_string()];
    let mut binds: Vec<String> = Vec::new();
    let mut bind = |condition: &str, value: String| {
        binds.push(value);
        conditions.push(condition.replace("{}", &format!("${}", binds.len() + 2)));
    };
    let repository = filter.repository.trim();
    if let Some(namespace) = repository.strip_suffix('/') {
        // A namespace: everything in it (LIKE wildcards in the name are taken literally).
        bind(
            "repository LIKE {} ESCAPE '\\'",
            format!("{}/%", like_escape(namespace)),
        );
    } else if !repository.is_empty() {
        bind("repository = {}", repository.to_string());
    }
    if !filter.action.is_empty() {
        bind("action = {}", filter.action.clone());
    }
    if !filter.pusher.trim().is_empty() {
        bind("actor = {}", filter.pusher.trim().to_string());
    }
    if let Some((condition, patterns)) = filter.visible.sql_condition("repository", binds.len() + 3) {
        conditions.push(condition);
        binds.extend(patterns);
    }
    let sql = format!(
        "SELECT id, received_at, occurred_at, action, repository, tag, digest, media_type, size, actor, \
         indexed_at, dead_at, last_error FROM registry_events WHERE {} ORDER BY received_at DESC, id DESC LIMIT {}",
        conditions.join(" AND "),
        PAGE_SIZE + 1
    );
    let mut query = sqlx::query(&sql).bind(before_at).bind(before_id);
    for value in binds {
        query = query.bind(value);
    }
    let rows = query.fetch_all(&db.pool).await?;
    let mut events = rows
        .iter()
        .map(|row| {
            Ok(EventRow {
                id: row.try_get("id")?,
                received_at_ms: row.try_get("received_at")?,
                occurred_at: row.try_get("occurred_at")?,
                action: row.try_get("action")?,
                repository: row.try_get("repository")?,
                tag: row.try_get("tag")?,
                digest: row.try_get("digest")?,
                media_type: row.try_get("media_type")?,
                size: row.try_get("size")?,
                actor: row.try_get("actor")?,
                set_aside: row.try_get::<Option<i64>, _>("dead_at")?.is_some(),
                pending: row.try_get::<Option<i64>, _>("indexed_at")?.is_none(),
                last_error: row.try_get("last_error")?,
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
    let next = if events.len() as i64 > PAGE_SIZE {
        events.truncate(PAGE_SIZE as usize);
        events.last().map(|e| format!("{}_{}", e.received_at_ms, e.id))
    } else {
        None
    };
    // The quarantine is raw JSON of any repository: the server function adds it for
    // administrators ([`quarantined`]).
    Ok(EventsPage {
        events,
        next,
        quarantined: Vec::new(),
    })
}

/// What the Events page narrows the list to; empty fields do not narrow it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventFilter {
    /// A repository, or a namespace when it ends with `/`.
    pub repository: String,
    /// push or delete
    pub action: String,
    /// The user or robot that pushed or deleted.
    pub pusher: String,
    /// The repositories the reader may see.
    pub visible: crate::backend::access::Visibility,
}

impl EventFilter {
    pub fn is_empty(&self) -> bool {
        self.repository.trim().is_empty() && self.action.is_empty() && self.pusher.trim().is_empty()
    }
}

fn parse_cursor(cursor: &str) -> Option<(i64, String)> {
    let (at, id) = cursor.split_once('_')?;
    Some((at.parse().ok()?, id.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIXTURE: &str = r#"{"events":[{"id":"e1","timestamp":"2026-11-23T10:00:00.123456789Z","action":"push",
        "target":{"mediaType":"application/vnd.oci.image.manifest.v1+json","size":525,"digest":"sha256:abaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","length":525,
        "repository":"team/app","url":"http://x/v2/team/app/manifests/sha256:abaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","tag":"1.0"},
        "request":{"id":"r","addr":"127.0.0.1:1","host":"127.0.0.1:5000","method":"PUT","useragent":"skopeo"},
        "actor":{"name":"admin"},"source":{"addr":"host:5000","instanceID":"i"}}]}"#;

    #[test]
    fn parses_a_registry_envelope() {
        let events = parse_envelope(FIXTURE.as_bytes()).unwrap();
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].target.tag.as_deref(), Some("1.0"));
        assert_eq!(events[0].actor.as_ref().unwrap().name.as_deref(), Some("admin"));
        assert!(events[0].raw.contains("\"instanceID\""));
    }

    #[test]
    fn rejects_bad_envelopes_with_a_reason() {
        assert!(matches!(parse_envelope(b"not json"), Err(EnvelopeError::NotJson(_))));
        assert_eq!(parse_envelope(b"{}").unwrap_err(), EnvelopeError::NoEvents);
        assert_eq!(
            parse_envelope(br#"{"events":{}}"#).unwrap_err(),
            EnvelopeError::NoEvents
        );
        let no_repo = r#"{"events":[{"id":"x","timestamp":"2026-11-23T10:00:00Z","action":"push","target":{}}]}"#;
        assert!(matches!(
            parse_envelope(no_repo.as_bytes()),
            Err(EnvelopeError::InvalidEvent { index: 0, .. })
        ));
        let bad_time = r#"{"events":[{"id":"x","timestamp":"yesterday","action":"push","target":{"repository":"a"}}]}"#;
        assert!(matches!(
            parse_envelope(bad_time.as_bytes()),
            Err(EnvelopeError::InvalidEvent { .. })
        ));
        let empty_id =
            r#"{"events":[{"id":"","timestamp":"2026-11-23T10:00:00Z","action":"push","target":{"repository":"a"}}]}"#;
        assert!(matches!(
            parse_envelope(empty_id.as_bytes()),
            Err(EnvelopeError::InvalidEvent { .. })
        ));
    }

    #[test]
    fn quarantines_events_whose_names_are_not_the_registry_grammar() {
        let event = |target: serde_json::Value| serde_json::json!({"id": "e", "timestamp": "2026-11-23T10:00:00Z", "action": "push", "target": target});
        let digest = format!("sha256:{}", "a".repeat(64));
        let body = serde_json::json!({"events": [
            event(serde_json::json!({"repository": "team-a/app", "tag": "v1", "digest": digest})),
            event(serde_json::json!({"repository": "team-a/../secret/app", "tag": "v1"})),
            event(serde_json::json!({"repository": "team-a/app", "tag": "../latest"})),
            event(serde_json::json!({"repository": "team-a/app", "digest": "sha256:x/../latest"})),
            event(serde_json::json!({"repository": "Team-A/app"})),
            event(serde_json::json!({"repository": "team-a/app", "tag": "", "digest": ""})),
        ]});
        let Split {
            events, quarantined, ..
        } = split_envelope(body.to_string().as_bytes()).unwrap();
        assert_eq!(events.len(), 2);
        assert_eq!(quarantined.iter().map(|q| q.index).collect::<Vec<_>>(), [1, 2, 3, 4]);
        assert!(
            quarantined[0].reason.contains("not a valid repository name"),
            "{quarantined:?}"
        );
        assert!(quarantined[1].reason.contains("not a valid tag"));
        assert!(quarantined[2].reason.contains("not a valid digest"));
    }

    #[test]
    fn quarantines_unusable_events_and_keeps_the_rest() {
        let body = serde_json::json!({"events": [
            {"id": "ok", "timestamp": "2026-11-23T10:00:00Z", "action": "push", "target": {"repository": "a"}},
            {"id": "x", "timestamp": "2026-11-23T10:00:00Z", "action": "push", "target": {"repository": "a", "digest": "d".repeat(500)}},
            {"id": "y", "timestamp": "2026-11-23T10:00:00Z", "action": "push", "target": {"repository": "a"}, "actor": {"name": "n".repeat(300)}},
            {"id": "z", "timestamp": "2026-11-23T10:00:00Z", "action": "push", "target": {"repository": "a"}, "pad": "p".repeat(MAX_EVENT_BYTES)},
            "not an object"
        ]});
        let Split {
            events, quarantined, ..
        } = split_envelope(body.to_string().as_bytes()).unwrap();
        assert_eq!(events.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(), ["ok"]);
        assert_eq!(quarantined.iter().map(|q| q.index).collect::<Vec<_>>(), [1, 2, 3, 4]);
        assert!(quarantined[0].reason.contains("target.digest"));
        assert!(quarantined[1].reason.contains("actor.name"));
        assert!(quarantined[2].raw.len() <= MAX_EVENT_BYTES);
        assert!(matches!(split_envelope(b"[]"), Err(EnvelopeError::NoEvents)));
        assert!(matches!(split_envelope(b"nope"), Err(EnvelopeError::NotJson(_))));
    }

    #[test]
    fn pull_events_go_apart_and_bad_ones_are_dropped_not_quarantined() {
        let digest = format!("sha256:{}", "b".repeat(64));
        let pull = |target: serde_json::Value| serde_json::json!({"id": "p", "timestamp": "2026-11-23T10:00:00Z", "action": "pull", "target": target});
        let manifest = "application/vnd.oci.image.manifest.v1+json";
        let body = serde_json::json!({"events": [
            pull(serde_json::json!({"repository": "team-a/app", "digest": digest, "mediaType": manifest})),
            pull(serde_json::json!({"repository": "team-a/../app", "digest": digest, "mediaType": manifest})),
            pull(serde_json::json!({"repository": "team-a/app", "digest": digest, "mediaType": "application/vnd.oci.image.layer.v1.tar"})),
            pull(serde_json::json!({"repository": "r".repeat(100_000), "digest": digest, "mediaType": manifest})),
            {"id": "p", "timestamp": "2026-11-23T10:00:00Z", "action": "pull"},
            {"id": "ok", "timestamp": "2026-11-23T10:00:00Z", "action": "push", "target": {"repository": "a"}},
        ]});
        let split = split_envelope(body.to_string().as_bytes()).unwrap();
        assert_eq!(split.pulls.len(), 1);
        assert_eq!(split.pulls[0].repository.as_str(), "team-a/app");
        assert_eq!(split.pulls_dropped, 4);
        assert!(split.quarantined.is_empty(), "{:?}", split.quarantined);
        assert_eq!(split.events.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(), ["ok"]);
    }

    #[test]
    fn cursor_round_trips() {
        assert_eq!(parse_cursor("12_abc-def"), Some((12, "abc-def".to_string())));
        assert_eq!(parse_cursor("x_1"), None);
    }
}
