//! Reads and writes of the index tables, on the caller's connection or transaction, so a unit of
//! work (one event, one repository of a reconcile) commits all its writes together. Manifests and
//! cached blobs are content-addressed and never change once written; tags and repositories follow
//! the registry.

use std::collections::BTreeMap;

use sqlx::{AnyConnection, Row};

use super::parse::attachment_of;
use crate::backend::db::now_ms;
use crate::backend::housekeeping::insights;
use crate::model::PlatformRow;

/// A manifest as the index keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestRecord {
    pub digest: String,
    pub media_type: String,
    pub manifest_size: i64,
    pub total_size: i64,
    pub kind: String,
    pub config_digest: Option<String>,
    pub platforms: Vec<PlatformRow>,
    pub created: Option<String>,
    pub layer_count: i64,
    pub annotations: BTreeMap<String, String>,
    pub labels: BTreeMap<String, String>,
    pub subject: Option<String>,
    /// Indexed without its config yet: platform, creation time and labels are still coming.
    pub details_pending: bool,
}

/// Everything before the last `/` of a repository name.
pub fn namespace_of(repository: &str) -> &str {
    repository.rsplit_once('/').map(|(ns, _)| ns).unwrap_or("")
}

pub async fn cached_blob(conn: &mut AnyConnection, digest: &str) -> Result<Option<(String, String)>, sqlx::Error> {
    let row = sqlx::query("SELECT media_type, content FROM blob_cache WHERE digest = $1")
        .bind(digest)
        .fetch_optional(&mut *conn)
        .await?;
    row.map(|r| Ok((r.try_get("media_type")?, r.try_get("content")?)))
        .transpose()
}

pub async fn cache_blob(
    conn: &mut AnyConnection,
    digest: &str,
    media_type: &str,
    content: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO blob_cache (digest, media_type, content, stored_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (digest) DO NOTHING",
    )
    .bind(digest)
    .bind(media_type)
    .bind(content)
    .bind(now_ms())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub async fn manifest(conn: &mut AnyConnection, digest: &str) -> Result<Option<ManifestRecord>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT digest, media_type, manifest_size, total_size, kind, config_digest, platforms, created, \
         layer_count, annotations, labels, subject, details_pending FROM manifests WHERE digest = $1",
    )
    .bind(digest)
    .fetch_optional(&mut *conn)
    .await?;
    row.map(|row| manifest_from_row(&row)).transpose()
}

pub fn manifest_from_row(row: &sqlx::any::AnyRow) -> Result<ManifestRecord, sqlx::Error> {
    let json = |column: &str| -> Result<String, sqlx::Error> { row.try_get(column) };
    Ok(ManifestRecord {
        digest: row.try_get("digest")?,
        media_type: row.try_get("media_type")?,
        manifest_size: row.try_get("manifest_size")?,
        total_size: row.try_get("total_size")?,
        kind: row.try_get("kind")?,
        config_digest: row.try_get("config_digest")?,
        platforms: serde_json::from_str(&json("platforms")?).unwrap_or_default(),
        created: row.try_get("created")?,
        layer_count: row.try_get("layer_count")?,
        annotations: serde_json::from_str(&json("annotations")?).unwrap_or_default(),
        labels: serde_json::from_str(&json("labels")?).unwrap_or_default(),
        subject: row.try_get("subject")?,
        // Queries that do not ask for it read manifests whose details are in.
        details_pending: row.try_get::<i64, _>("details_pending").unwrap_or(0) != 0,
    })
}

pub async fn put_manifest(conn: &mut AnyConnection, record: &ManifestRecord) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO manifests (digest, media_type, manifest_size, total_size, kind, config_digest, platforms, \
         created, layer_count, annotations, labels, subject, indexed_at, details_pending) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) ON CONFLICT (digest) DO NOTHING",
    )
    .bind(&record.digest)
    .bind(&record.media_type)
    .bind(record.manifest_size)
    .bind(record.total_size)
    .bind(&record.kind)
    .bind(&record.config_digest)
    .bind(serde_json::to_string(&record.platforms).unwrap_or_else(|_| "[]".into()))
    .bind(&record.created)
    .bind(record.layer_count)
    .bind(serde_json::to_string(&record.annotations).unwrap_or_else(|_| "{}".into()))
    .bind(serde_json::to_string(&record.labels).unwrap_or_else(|_| "{}".into()))
    .bind(&record.subject)
    .bind(now_ms())
    .bind(i64::from(record.details_pending))
    .execute(&mut *conn)
    .await?;
    // Repositories that listed it before it was indexed get its facts now.
    sqlx::query(&format!(
        "UPDATE repository_manifests SET kind = m.kind, image_size = {IMAGE_SIZE}, subject = m.subject, \
         index_platforms = {INDEX_PLATFORMS} FROM manifests m WHERE m.digest = $1 AND repository_manifests.digest = $1 AND repository_manifests.kind IS NULL"
    ))
    .bind(&record.digest)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The facts of a manifest (`m`) that `repository_manifests` keeps a copy of for retention
/// (migration 20261207000040), so that planning a run reads them without a join: the bytes a
/// plan counts (an index: its own manifest only) and an index's platforms.
const IMAGE_SIZE: &str = "CASE WHEN m.kind = 'index' THEN m.manifest_size ELSE m.total_size END";
const INDEX_PLATFORMS: &str = "CASE WHEN m.kind = 'index' THEN m.platforms END";

pub async fn ensure_repository(conn: &mut AnyConnection, name: &str) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO repositories (name, namespace, indexed_at) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING",
    )
    .bind(name)
    .bind(namespace_of(name))
    .bind(now_ms())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub async fn add_repository_manifest(
    conn: &mut AnyConnection,
    repository: &str,
    digest: &str,
) -> Result<(), sqlx::Error> {
    // The facts are copied from the manifest when it is indexed already (it always is when
    // reconcile or an event brings it), else when it comes (`put_manifest`). `WHERE true`:
    // SQLite's parser needs it between a join's `ON` and `ON CONFLICT`.
    sqlx::query(&format!(
        "INSERT INTO repository_manifests (repository, digest, first_seen_at, kind, image_size, subject, index_platforms) \
         SELECT $1, $2, $3, m.kind, {IMAGE_SIZE}, m.subject, {INDEX_PLATFORMS} FROM (SELECT 1 AS one) AS here \
         LEFT JOIN manifests m ON m.digest = $2 WHERE true ON CONFLICT (repository, digest) DO NOTHING"
    ))
    .bind(repository)
    .bind(digest)
    .bind(now_ms())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Points a tag at a digest. An exact push time (from an event) replaces an estimated one.
pub async fn set_tag(
    conn: &mut AnyConnection,
    repository: &str,
    tag: &str,
    digest: &str,
    pushed_at_ms: i64,
    estimated: bool,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO tags (repository, tag, digest, pushed_at, push_estimated, attached_to) VALUES ($1, $2, $3, $4, $5, $6) \
         ON CONFLICT (repository, tag) DO UPDATE SET digest = excluded.digest, pushed_at = excluded.pushed_at, \
         push_estimated = excluded.push_estimated, attached_to = excluded.attached_to",
    )
    .bind(repository)
    .bind(tag)
    .bind(digest)
    .bind(pushed_at_ms)
    .bind(i64::from(estimated))
    .bind(attachment_of(tag).map(|(_, digest)| digest))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub async fn remove_tag(conn: &mut AnyConnection, repository: &str, tag: &str) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("DELETE FROM tags WHERE repository = $1 AND tag = $2")
        .bind(repository)
        .bind(tag)
        .execute(&mut *conn)
        .await?;
    Ok(done.rows_affected() > 0)
}

/// Removes a manifest from a repository, with every tag that pointed at it.
pub async fn remove_manifest(conn: &mut AnyConnection, repository: &str, digest: &str) -> Result<u64, sqlx::Error> {
    let tags = sqlx::query("DELETE FROM tags WHERE repository = $1 AND digest = $2")
        .bind(repository)
        .bind(digest)
        .execute(&mut *conn)
        .await?;
    let manifests = sqlx::query("DELETE FROM repository_manifests WHERE repository = $1 AND digest = $2")
        .bind(repository)
        .bind(digest)
        .execute(&mut *conn)
        .await?;
    Ok(tags.rows_affected() + manifests.rows_affected())
}

pub async fn remove_repository(conn: &mut AnyConnection, name: &str) -> Result<(), sqlx::Error> {
    for sql in [
        "DELETE FROM tags WHERE repository = $1",
        "DELETE FROM repository_manifests WHERE repository = $1",
        "DELETE FROM repositories WHERE name = $1",
    ] {
        sqlx::query(sql).bind(name).execute(&mut *conn).await?;
    }
    insights::mark_dirty(conn, name).await
}

/// The tags of a repository as the index has them: tag → digest.
pub async fn repository_tags(
    conn: &mut AnyConnection,
    repository: &str,
) -> Result<BTreeMap<String, String>, sqlx::Error> {
    let rows = sqlx::query("SELECT tag, digest FROM tags WHERE repository = $1")
        .bind(repository)
        .fetch_all(&mut *conn)
        .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("tag")?, r.try_get("digest")?)))
        .collect()
}

/// Up to `limit` manifests whose details are still coming, `kind` `image` or `index`, each with
/// a repository that holds it (to fetch its config from).
pub async fn pending_details(
    conn: &mut AnyConnection,
    kind: &str,
    limit: i64,
) -> Result<Vec<(String, Option<String>)>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT m.digest, (SELECT MIN(rm.repository) FROM repository_manifests rm WHERE rm.digest = m.digest) AS repository \
         FROM manifests m WHERE m.details_pending = 1 AND m.kind = $1 ORDER BY m.digest LIMIT $2",
    )
    .bind(kind)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("digest")?, r.try_get("repository")?)))
        .collect()
}

/// How many manifests wait for their details.
pub async fn pending_details_count(conn: &mut AnyConnection) -> Result<i64, sqlx::Error> {
    sqlx::query("SELECT COUNT(*) AS n FROM manifests WHERE details_pending = 1")
        .fetch_one(&mut *conn)
        .await?
        .try_get("n")
}

/// Fills in what a manifest's config (or, for an index, its platforms' configs) tells, and moves
/// the estimated push time of its tags to the image's creation time. Returns the repositories
/// whose tags moved.
pub async fn complete_details(
    conn: &mut AnyConnection,
    record: &ManifestRecord,
    created_ms: Option<i64>,
) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query(
        "UPDATE manifests SET platforms = $1, created = $2, labels = $3, details_pending = 0 WHERE digest = $4",
    )
    .bind(serde_json::to_string(&record.platforms).unwrap_or_else(|_| "[]".into()))
    .bind(&record.created)
    .bind(serde_json::to_string(&record.labels).unwrap_or_else(|_| "{}".into()))
    .bind(&record.digest)
    .execute(&mut *conn)
    .await?;
    let Some(created_ms) = created_ms else {
        return Ok(Vec::new());
    };
    let rows = sqlx::query("SELECT DISTINCT repository FROM tags WHERE digest = $1 AND push_estimated = 1")
        .bind(&record.digest)
        .fetch_all(&mut *conn)
        .await?;
    sqlx::query("UPDATE tags SET pushed_at = $1 WHERE digest = $2 AND push_estimated = 1")
        .bind(created_ms)
        .bind(&record.digest)
        .execute(&mut *conn)
        .await?;
    rows.iter().map(|r| r.try_get("repository")).collect()
}

/// How many repositories the index holds.
pub async fn repository_count(conn: &mut AnyConnection) -> Result<i64, sqlx::Error> {
    sqlx::query("SELECT COUNT(*) AS n FROM repositories")
        .fetch_one(&mut *conn)
        .await?
        .try_get("n")
}

pub async fn repository_names(conn: &mut AnyConnection) -> Result<Vec<String>, sqlx::Error> {
    let rows = sqlx::query("SELECT name FROM repositories")
        .fetch_all(&mut *conn)
        .await?;
    rows.iter().map(|r| r.try_get("name")).collect()
}

/// Recomputes a repository's tag count, size and last push from its tags, and marks its storage
/// figures for the storage refresher.
pub async fn refresh_repository(conn: &mut AnyConnection, name: &str) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE repositories SET \
           tag_count = (SELECT COUNT(*) FROM tags WHERE repository = $1), \
           size_bytes = COALESCE((SELECT CAST(SUM(m.total_size) AS BIGINT) FROM manifests m \
               WHERE m.digest IN (SELECT DISTINCT t.digest FROM tags t WHERE t.repository = $1 AND t.attached_to IS NULL)), 0), \
           last_push_at = COALESCE((SELECT MAX(pushed_at) FROM tags WHERE repository = $1), 0), \
           indexed_at = $2 \
         WHERE name = $1",
    )
    .bind(name)
    .bind(now_ms())
    .execute(&mut *conn)
    .await?;
    // Its storage figures follow, counted by the storage refresher.
    insights::mark_dirty(conn, name).await
}

#[cfg(test)]
mod tests {
    use super::namespace_of;

    #[test]
    fn namespaces() {
        assert_eq!(namespace_of("team/app"), "team");
        assert_eq!(namespace_of("a/b/c"), "a/b");
        assert_eq!(namespace_of("alpine"), "");
    }
}
