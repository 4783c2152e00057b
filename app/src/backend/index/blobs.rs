//! Which blobs each image manifest references (`manifest_blobs`): its config and its layers with
//! their sizes. Storage insights count the bytes of a repository from it, each blob once, and
//! see which blobs several repositories share; retention and garbage collection tell from it
//! which bytes an image holds.
//!
//! Rows are written with the manifest, in the same transaction ([`super::fetch::Fetched::write`]),
//! and never change afterwards: a manifest's content is fixed by its digest. An index
//! (multi-platform) manifest has no rows; its platform manifests have them. Manifests indexed
//! before this table existed get their rows once, at start, from the manifest bytes kept in
//! `blob_cache` ([`backfill`]), in bounded batches that a restart resumes.

use sqlx::{AnyConnection, Row};

use super::parse::{parse_manifest, ParsedManifest, Reference};
use crate::backend::db::Db;

/// Manifests read per backfill transaction.
pub const BACKFILL_BATCH: i64 = 500;

/// A descriptor's size is the pusher's word: anything beyond this (1 TiB) is taken as this, so
/// no sum over millions of rows can overflow.
pub const MAX_BLOB_SIZE: i64 = 1 << 40;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlobKind {
    Config,
    Layer,
}

impl BlobKind {
    pub fn as_str(self) -> &'static str {
        match self {
            BlobKind::Config => "config",
            BlobKind::Layer => "layer",
        }
    }

    pub fn parse(text: &str) -> Option<BlobKind> {
        match text {
            "config" => Some(BlobKind::Config),
            "layer" => Some(BlobKind::Layer),
            _ => None,
        }
    }
}

/// One blob of an image manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestBlob {
    pub digest: String,
    pub size: i64,
    pub kind: BlobKind,
}

/// The blobs of an image manifest: its config, then its layers, each digest once (a layer
/// listed twice takes its place on disk once). Empty for anything that is not an image.
pub fn blobs_of(parsed: &ParsedManifest) -> Vec<ManifestBlob> {
    let ParsedManifest::Image { config, layers, .. } = parsed else {
        return Vec::new();
    };
    image_blobs(config, layers)
}

/// The blobs of an image from its config and layer descriptors (see [`blobs_of`]).
pub fn image_blobs(config: &Reference, layers: &[Reference]) -> Vec<ManifestBlob> {
    let mut blobs: Vec<ManifestBlob> = Vec::with_capacity(layers.len() + 1);
    let described = std::iter::once((config, BlobKind::Config)).chain(layers.iter().map(|l| (l, BlobKind::Layer)));
    for (reference, kind) in described {
        if reference.digest.is_empty() || blobs.iter().any(|b| b.digest == reference.digest) {
            continue;
        }
        blobs.push(ManifestBlob {
            digest: reference.digest.clone(),
            size: reference.size.clamp(0, MAX_BLOB_SIZE),
            kind,
        });
    }
    blobs
}

/// Records the blobs of `manifest_digest` (idempotent: rows already there stay as they are).
pub async fn store(conn: &mut AnyConnection, manifest_digest: &str, blobs: &[ManifestBlob]) -> Result<(), sqlx::Error> {
    for blob in blobs {
        sqlx::query(
            "INSERT INTO manifest_blobs (manifest_digest, blob_digest, size, kind) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (manifest_digest, blob_digest) DO NOTHING",
        )
        .bind(manifest_digest)
        .bind(&blob.digest)
        .bind(blob.size)
        .bind(blob.kind.as_str())
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// The blobs recorded for a manifest, config first.
pub async fn of_manifest(conn: &mut AnyConnection, manifest_digest: &str) -> Result<Vec<ManifestBlob>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT blob_digest, size, kind FROM manifest_blobs WHERE manifest_digest = $1 \
         ORDER BY CASE kind WHEN 'config' THEN 0 ELSE 1 END, blob_digest",
    )
    .bind(manifest_digest)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(ManifestBlob {
                digest: r.try_get("blob_digest")?,
                size: r.try_get("size")?,
                kind: BlobKind::parse(&r.try_get::<String, _>("kind")?).unwrap_or(BlobKind::Layer),
            })
        })
        .collect()
}

/// What one backfill batch did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BackfillBatch {
    /// Image manifests read from the cache.
    pub manifests: u64,
    /// Of those, manifests that had no rows yet and got them.
    pub filled: u64,
    /// No manifest is left after this batch.
    pub done: bool,
}

/// One batch of the backfill, in one transaction with its progress: up to `limit` image
/// manifests after the last one done, read from `blob_cache`. Manifests whose bytes are not
/// cached are passed over (nothing says what they hold).
pub async fn backfill_batch(conn: &mut AnyConnection, limit: i64) -> Result<BackfillBatch, sqlx::Error> {
    let progress = sqlx::query("SELECT after_digest, done FROM manifest_blobs_backfill WHERE id = 1")
        .fetch_optional(&mut *conn)
        .await?;
    let Some(progress) = progress else {
        return Ok(BackfillBatch {
            done: true,
            ..BackfillBatch::default()
        });
    };
    if progress.try_get::<i64, _>("done")? != 0 {
        return Ok(BackfillBatch {
            done: true,
            ..BackfillBatch::default()
        });
    }
    let after: String = progress.try_get("after_digest")?;
    let rows = sqlx::query(
        "SELECT m.digest, c.media_type, c.content, \
           (SELECT COUNT(*) FROM manifest_blobs b WHERE b.manifest_digest = m.digest) AS known \
         FROM manifests m JOIN blob_cache c ON c.digest = m.digest \
         WHERE m.kind = 'image' AND m.digest > $1 ORDER BY m.digest LIMIT $2",
    )
    .bind(&after)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?;
    let mut batch = BackfillBatch {
        manifests: rows.len() as u64,
        done: (rows.len() as i64) < limit,
        ..BackfillBatch::default()
    };
    let mut last = after;
    for row in &rows {
        let digest: String = row.try_get("digest")?;
        if row.try_get::<i64, _>("known")? == 0 {
            let media_type: String = row.try_get("media_type")?;
            let content: String = row.try_get("content")?;
            let found = blobs_of(&parse_manifest(&media_type, content.as_bytes()));
            store(conn, &digest, &found).await?;
            batch.filled += u64::from(!found.is_empty());
        }
        last = digest;
    }
    sqlx::query("UPDATE manifest_blobs_backfill SET after_digest = $1, done = $2 WHERE id = 1")
        .bind(&last)
        .bind(i64::from(batch.done))
        .execute(&mut *conn)
        .await?;
    Ok(batch)
}

/// Whether the backfill has finished (then every indexed image manifest whose bytes were cached
/// has its rows).
pub async fn backfill_done(conn: &mut AnyConnection) -> Result<bool, sqlx::Error> {
    let done: Option<i64> = sqlx::query_scalar("SELECT done FROM manifest_blobs_backfill WHERE id = 1")
        .fetch_optional(&mut *conn)
        .await?;
    Ok(done.is_none_or(|d| d != 0))
}

/// Runs the backfill to its end, one batch per write transaction; returns the manifests filled.
/// Cheap once done (one read). Several replicas may run it at once: every write is idempotent.
pub async fn backfill(db: &Db) -> Result<u64, sqlx::Error> {
    let mut filled = 0;
    loop {
        let mut tx = db.begin_write().await?;
        let batch = backfill_batch(&mut tx, BACKFILL_BATCH).await?;
        tx.commit().await?;
        filled += batch.filled;
        if batch.done {
            break;
        }
        // Gives the writers queued meanwhile (event intake) their turn.
        tokio::task::yield_now().await;
    }
    if filled > 0 {
        tracing::info!(
            manifests = filled,
            "recorded the blobs of the image manifests indexed before"
        );
    }
    Ok(filled)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reference(digest: &str, size: i64) -> Reference {
        Reference {
            digest: digest.into(),
            media_type: String::new(),
            size,
        }
    }

    #[test]
    fn config_first_each_digest_once() {
        let blobs = image_blobs(
            &reference("sha256:c", 10),
            &[
                reference("sha256:a", 100),
                reference("sha256:b", 200),
                reference("sha256:a", 100),
            ],
        );
        let digests: Vec<_> = blobs.iter().map(|b| (b.digest.as_str(), b.kind)).collect();
        assert_eq!(
            digests,
            [
                ("sha256:c", BlobKind::Config),
                ("sha256:a", BlobKind::Layer),
                ("sha256:b", BlobKind::Layer)
            ]
        );
    }

    #[test]
    fn hostile_sizes_are_bounded() {
        let blobs = image_blobs(&reference("sha256:c", -5), &[reference("sha256:a", i64::MAX)]);
        assert_eq!(blobs[0].size, 0);
        assert_eq!(blobs[1].size, MAX_BLOB_SIZE);
        // A million such layers still sum within an i64.
        assert!(MAX_BLOB_SIZE.checked_mul(1_000_000).is_some());
    }

    #[test]
    fn an_index_or_unknown_manifest_has_no_blobs_of_its_own() {
        let index = ParsedManifest::Index {
            manifests: Vec::new(),
            annotations: Default::default(),
            subject: None,
        };
        assert!(blobs_of(&index).is_empty());
        assert!(blobs_of(&ParsedManifest::Unknown { reason: "x".into() }).is_empty());
        assert_eq!(BlobKind::parse("layer"), Some(BlobKind::Layer));
        assert_eq!(BlobKind::parse("other"), None);
    }
}
