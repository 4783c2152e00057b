//! Registry notification events: validated from the envelope, stored once per event id, listed
//! newest first.

use serde::Deserialize;
use sqlx::{AnyConnection, Row};

use super::db::{now_ms, Db};
use crate::model::{EventRow, EventsPage};

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

const MAX_FIELD: usize = 1024;

/// Parses and validates a whole envelope; any invalid event rejects all of it.
pub fn parse_envelope(body: &[u8]) -> Result<Vec<RegistryEvent>, EnvelopeError> {
    let value: serde_json::Value = serde_json::from_slice(body).map_err(|e| EnvelopeError::NotJson(e.to_string()))?;
    let events = value
        .get("events")
        .and_then(|e| e.as_array())
        .ok_or(EnvelopeError::NoEvents)?;
    events
        .iter()
        .enumerate()
        .map(|(index, raw)| {
            let invalid = |reason: String| EnvelopeError::InvalidEvent { index, reason };
            let mut event: RegistryEvent = serde_json::from_value(raw.clone()).map_err(|e| invalid(e.to_string()))?;
            if event.id.is_empty() || event.id.len() > MAX_FIELD {
                return Err(invalid("\"id\" must be a non-empty string".into()));
            }
            if event.action.is_empty() || event.action.len() > 64 {
                return Err(invalid("\"action\" must be a short non-empty string".into()));
            }
            if event.target.repository.is_empty() || event.target.repository.len() > MAX_FIELD {
                return Err(invalid("\"target.repository\" must be a non-empty string".into()));
            }
            time::OffsetDateTime::parse(&event.timestamp, &time::format_description::well_known::Rfc3339)
                .map_err(|e| invalid(format!("\"timestamp\" is not RFC 3339: {e}")))?;
            event.raw = raw.to_string();
            Ok(event)
        })
        .collect()
}

/// Stores events on the caller's transaction; an id already stored is skipped (the registry
/// retries). Returns, per event, whether it was new.
pub async fn store(conn: &mut AnyConnection, events: &[RegistryEvent]) -> Result<Vec<bool>, sqlx::Error> {
    let received_at = now_ms();
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

/// A page of events, newest first. `cursor` is the `next` of the previous page.
pub async fn list(db: &Db, cursor: Option<&str>) -> Result<EventsPage, sqlx::Error> {
    let (before_at, before_id) = cursor.and_then(parse_cursor).unwrap_or((i64::MAX, String::new()));
    let rows = sqlx::query(
        "SELECT id, received_at, occurred_at, action, repository, tag, digest, media_type, size, actor \
         FROM registry_events \
         WHERE received_at < $1 OR (received_at = $1 AND id < $2) \
         ORDER BY received_at DESC, id DESC LIMIT $3",
    )
    .bind(before_at)
    .bind(if before_at == i64::MAX {
        "\u{10FFFF}".to_string()
    } else {
        before_id
    })
    .bind(PAGE_SIZE + 1)
    .fetch_all(&db.pool)
    .await?;
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
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
    let next = if events.len() as i64 > PAGE_SIZE {
        events.truncate(PAGE_SIZE as usize);
        events.last().map(|e| format!("{}_{}", e.received_at_ms, e.id))
    } else {
        None
    };
    let total: i64 = sqlx::query("SELECT COUNT(*) AS n FROM registry_events")
        .fetch_one(&db.pool)
        .await?
        .try_get("n")?;
    Ok(EventsPage { events, next, total })
}

fn parse_cursor(cursor: &str) -> Option<(i64, String)> {
    let (at, id) = cursor.split_once('_')?;
    Some((at.parse().ok()?, id.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIXTURE: &str = r#"{"events":[{"id":"e1","timestamp":"2026-11-23T10:00:00.123456789Z","action":"push",
        "target":{"mediaType":"application/vnd.oci.image.manifest.v1+json","size":525,"digest":"sha256:ab","length":525,
        "repository":"team/app","url":"http://x/v2/team/app/manifests/sha256:ab","tag":"1.0"},
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
    fn cursor_round_trips() {
        assert_eq!(parse_cursor("12_abc-def"), Some((12, "abc-def".to_string())));
        assert_eq!(parse_cursor("x_1"), None);
    }
}
