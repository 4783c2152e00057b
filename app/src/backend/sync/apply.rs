//! Applying stored registry events to the index, in the order they were received.

use sqlx::Row;

use crate::backend::db::{now_ms, Db};
use crate::backend::index::fetch::{index_manifest, FetchError};
use crate::backend::index::store;
use crate::backend::registry::RegistryClient;

use super::hub::SyncHub;

const BATCH: i64 = 100;

/// One stored event, as much as the index needs of it.
#[derive(Debug, Clone)]
pub struct PendingEvent {
    pub id: String,
    pub action: String,
    pub repository: String,
    pub tag: Option<String>,
    pub digest: Option<String>,
    pub media_type: Option<String>,
    pub occurred_at: String,
}

/// Applies pending events until none are left or the registry stops answering.
/// Returns how many were applied.
pub async fn apply_pending(db: &Db, registry: &RegistryClient, hub: &SyncHub) -> Result<usize, FetchError> {
    let mut applied = 0;
    loop {
        let rows = sqlx::query(
            "SELECT id, action, repository, tag, digest, media_type, occurred_at FROM registry_events \
             WHERE indexed_at IS NULL ORDER BY received_at, id LIMIT $1",
        )
        .bind(BATCH)
        .fetch_all(&db.pool)
        .await?;
        if rows.is_empty() {
            return Ok(applied);
        }
        for row in rows {
            let event = PendingEvent {
                id: row.try_get("id")?,
                action: row.try_get("action")?,
                repository: row.try_get("repository")?,
                tag: row.try_get("tag")?,
                digest: row.try_get("digest")?,
                media_type: row.try_get("media_type")?,
                occurred_at: row.try_get("occurred_at")?,
            };
            match apply(db, registry, &event).await {
                Ok(true) => hub.repository_changed(&event.repository),
                Ok(false) => {}
                Err(err) if err.is_not_found() => {
                    // Gone from the registry since: a later event or reconcile says the rest.
                    tracing::debug!(event = %event.id, "event target no longer in the registry");
                }
                // Retrying cannot help; skip it rather than block every later event.
                Err(err) if !err.is_transient() => {
                    tracing::warn!(event = %event.id, error = %err, "cannot apply a registry event; skipped");
                }
                Err(err) => return Err(err),
            }
            sqlx::query("UPDATE registry_events SET indexed_at = $1 WHERE id = $2")
                .bind(now_ms())
                .bind(&event.id)
                .execute(&db.pool)
                .await?;
            applied += 1;
        }
    }
}

fn is_manifest_event(event: &PendingEvent) -> bool {
    event.tag.is_some()
        || event
            .media_type
            .as_deref()
            .is_some_and(|m| m.contains("manifest") || m.contains("image.index"))
}

/// Applies one event; `true` when the index changed.
pub async fn apply(db: &Db, registry: &RegistryClient, event: &PendingEvent) -> Result<bool, FetchError> {
    match event.action.as_str() {
        "push" if is_manifest_event(event) => {
            let Some(digest) = event.digest.as_deref() else {
                return Ok(false);
            };
            store::ensure_repository(db, &event.repository).await?;
            index_manifest(db, registry, &event.repository, digest).await?;
            if let Some(tag) = &event.tag {
                let pushed_at = rfc3339_ms(&event.occurred_at).unwrap_or_else(now_ms);
                store::set_tag(db, &event.repository, tag, digest, pushed_at, false).await?;
            }
            store::refresh_repository(db, &event.repository).await?;
            Ok(true)
        }
        "delete" => {
            let mut changed = false;
            if let Some(digest) = event.digest.as_deref().filter(|d| !d.is_empty()) {
                changed |= store::remove_manifest(db, &event.repository, digest).await? > 0;
            }
            if let Some(tag) = &event.tag {
                changed |= store::remove_tag(db, &event.repository, tag).await?;
            }
            if changed {
                store::refresh_repository(db, &event.repository).await?;
            }
            Ok(changed)
        }
        _ => Ok(false),
    }
}

/// RFC 3339 → Unix milliseconds.
pub fn rfc3339_ms(timestamp: &str) -> Option<i64> {
    let parsed = time::OffsetDateTime::parse(timestamp, &time::format_description::well_known::Rfc3339).ok()?;
    Some((parsed.unix_timestamp_nanos() / 1_000_000) as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_times() {
        assert_eq!(rfc3339_ms("1970-01-01T00:00:01.5Z"), Some(1500));
        assert_eq!(rfc3339_ms("yesterday"), None);
    }

    #[test]
    fn tells_manifest_events_from_blob_events() {
        let event = |media_type: &str, tag: Option<&str>| PendingEvent {
            id: "1".into(),
            action: "push".into(),
            repository: "a".into(),
            tag: tag.map(str::to_string),
            digest: Some("sha256:1".into()),
            media_type: Some(media_type.into()),
            occurred_at: String::new(),
        };
        assert!(is_manifest_event(&event(
            "application/vnd.oci.image.manifest.v1+json",
            None
        )));
        assert!(is_manifest_event(&event(
            "application/vnd.oci.image.index.v1+json",
            None
        )));
        assert!(is_manifest_event(&event("application/octet-stream", Some("1.0"))));
        assert!(!is_manifest_event(&event(
            "application/vnd.oci.image.layer.v1.tar+gzip",
            None
        )));
    }
}
