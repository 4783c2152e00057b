//! Keeping the storage aggregates in step with the index, with bounded work per transaction.
//!
//! The index marks a repository dirty whenever its images change ([`mark_dirty`], in the
//! transaction that changed them). The refresher takes up to [`REFRESH_BATCH`] dirty
//! repositories at a time; for each, it compares the blobs its images reference now
//! (`repository_manifests` ⋈ `manifest_blobs`) with the blobs it held, adjusts the blob counts
//! (in how many repositories and namespaces a blob is), and recomputes the rows of the
//! repositories and namespaces whose figures those changes move: the repository itself, and
//! the one other holder of a blob that becomes shared or stops being shared. Registry totals
//! move by the same differences. Everything a batch writes commits together, so a killed
//! process leaves the repositories dirty and the next batch redoes them.
//!
//! The first computation (after the upgrade that adds these tables) is [`rebuild`]: the same
//! figures by whole-table statements, in one transaction. Tests check that the incremental
//! path and the rebuild agree.

use std::collections::{BTreeMap, BTreeSet};

use sqlx::{AnyConnection, Row};

use crate::backend::db::{now_ms, Db, DbKind, WRITE_BUDGET};
use crate::backend::index::store::namespace_of;

pub use crate::model::DAY_MS;
/// Dirty repositories refreshed per transaction at most (fewer once it has held the writer's
/// turn for [`WRITE_BUDGET`]): a short one, since the notification intake's next transaction
/// waits for it (SQLite has one writer at a time).
pub const REFRESH_BATCH: i64 = 16;
/// One refresher at a time among replicas on one PostgreSQL ("WHARF" and 24).
const REFRESH_LOCK_KEY: i64 = 0x5748_4152_4600_0024;

/// The UTC day (days since the Unix epoch) of a time in milliseconds.
pub fn day_of(ms: i64) -> i64 {
    ms.div_euclid(DAY_MS)
}

/// Marks `repository`'s storage figures out of date; the refresher recomputes them.
pub async fn mark_dirty(conn: &mut AnyConnection, repository: &str) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO storage_dirty (repository, marked_at) VALUES ($1, $2) \
         ON CONFLICT (repository) DO UPDATE SET marked_at = excluded.marked_at",
    )
    .bind(repository)
    .bind(now_ms())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Counts one tag push of `repository` on the day it happened (the registry's event time).
pub async fn count_push(conn: &mut AnyConnection, repository: &str, pushed_at_ms: i64) -> Result<(), sqlx::Error> {
    let day = day_of(pushed_at_ms);
    sqlx::query(
        "INSERT INTO storage_daily (day, bytes, pushes) VALUES ($1, NULL, 1) \
         ON CONFLICT (day) DO UPDATE SET pushes = storage_daily.pushes + 1",
    )
    .bind(day)
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "INSERT INTO storage_daily_namespaces (day, namespace, bytes, pushes) VALUES ($1, $2, NULL, 1) \
         ON CONFLICT (day, namespace) DO UPDATE SET pushes = storage_daily_namespaces.pushes + 1",
    )
    .bind(day)
    .bind(namespace_of(repository))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// What a batch changed: registry totals by difference, and the repositories and namespaces
/// whose rows must be recomputed.
#[derive(Debug, Default)]
struct Changes {
    bytes: i64,
    shared: i64,
    blobs: i64,
    repositories: BTreeSet<String>,
    namespaces: BTreeSet<String>,
}

/// Takes the refresher's turn: the write transaction, and on PostgreSQL the lock that keeps
/// replicas from refreshing at the same time (their differences would add up twice).
async fn begin(db: &Db) -> Result<crate::backend::db::WriteTx, sqlx::Error> {
    let mut tx = db.begin_write().await?;
    if db.kind == DbKind::Postgres {
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(REFRESH_LOCK_KEY)
            .execute(&mut *tx)
            .await?;
    }
    Ok(tx)
}

/// Whether the aggregates have been computed once ([`rebuild`]).
pub async fn is_built(conn: &mut AnyConnection) -> Result<bool, sqlx::Error> {
    let built: Option<i64> = sqlx::query_scalar("SELECT built FROM storage_totals WHERE id = 1")
        .fetch_optional(&mut *conn)
        .await?;
    Ok(built.unwrap_or(0) != 0)
}

/// Refreshes up to `limit` dirty repositories in one transaction, fewer once it has held the
/// writer's turn for [`WRITE_BUDGET`]; returns how many, and whether it left some of those it
/// read for the next batch.
pub async fn refresh_batch(db: &Db, limit: i64) -> Result<(usize, bool), sqlx::Error> {
    // Most of the time nothing is dirty: found without taking the writer's turn.
    if sqlx::query("SELECT 1 FROM storage_dirty LIMIT 1")
        .fetch_optional(&db.pool)
        .await?
        .is_none()
    {
        return Ok((0, false));
    }
    let mut tx = begin(db).await?;
    let started = std::time::Instant::now();
    let dirty: Vec<(String, i64)> =
        sqlx::query_as("SELECT repository, marked_at FROM storage_dirty ORDER BY marked_at, repository LIMIT $1")
            .bind(limit)
            .fetch_all(&mut *tx)
            .await?;
    if dirty.is_empty() {
        return Ok((0, false));
    }
    let mut changes = Changes::default();
    let mut done = 0;
    for (repository, _) in &dirty {
        refresh_repository_blobs(&mut tx, repository, &mut changes).await?;
        done += 1;
        if started.elapsed() >= WRITE_BUDGET {
            break;
        }
    }
    let dirty_read = dirty.len();
    let dirty = &dirty[..done];
    write_changes(&mut tx, &changes).await?;
    for (repository, marked_at) in dirty {
        // A mark made after this batch read it stays for the next one.
        sqlx::query("DELETE FROM storage_dirty WHERE repository = $1 AND marked_at <= $2")
            .bind(repository)
            .bind(marked_at)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok((done, done < dirty_read))
}

/// Recomputes the rows `changes` names and moves the totals by its differences.
async fn write_changes(conn: &mut AnyConnection, changes: &Changes) -> Result<(), sqlx::Error> {
    for repository in &changes.repositories {
        recompute_repository(conn, repository).await?;
    }
    for namespace in &changes.namespaces {
        recompute_namespace(conn, namespace).await?;
    }
    let now = now_ms();
    sqlx::query(
        "UPDATE storage_totals SET bytes = bytes + $1, shared_bytes = shared_bytes + $2, blobs = blobs + $3, \
         updated_at = $4 WHERE id = 1",
    )
    .bind(changes.bytes)
    .bind(changes.shared)
    .bind(changes.blobs)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    record_day(conn, day_of(now), changes.namespaces.iter().map(String::as_str)).await
}

/// Brings `repository`'s blob rows in line with the images it holds now.
async fn refresh_repository_blobs(
    conn: &mut AnyConnection,
    repository: &str,
    changes: &mut Changes,
) -> Result<(), sqlx::Error> {
    let namespace = namespace_of(repository).to_string();
    let wanted: BTreeMap<String, i64> = sqlx::query_as(
        "SELECT mb.blob_digest, CAST(MAX(mb.size) AS BIGINT) AS size FROM repository_manifests rm \
         JOIN manifest_blobs mb ON mb.manifest_digest = rm.digest WHERE rm.repository = $1 GROUP BY mb.blob_digest",
    )
    .bind(repository)
    .fetch_all(&mut *conn)
    .await?
    .into_iter()
    .collect();
    let held: BTreeMap<String, i64> =
        sqlx::query_as("SELECT blob_digest, size FROM storage_repository_blobs WHERE repository = $1")
            .bind(repository)
            .fetch_all(&mut *conn)
            .await?
            .into_iter()
            .collect();
    let holder = Holder {
        repository,
        namespace: &namespace,
    };
    for (digest, size) in wanted.iter().filter(|(d, _)| !held.contains_key(*d)) {
        add_blob(conn, &holder, digest, *size, changes).await?;
    }
    for digest in held.keys().filter(|d| !wanted.contains_key(*d)) {
        remove_blob(conn, &holder, digest, changes).await?;
    }
    changes.repositories.insert(repository.to_string());
    changes.namespaces.insert(namespace);
    Ok(())
}

/// The repository whose blobs change, and its namespace.
struct Holder<'a> {
    repository: &'a str,
    namespace: &'a str,
}

/// A blob's size and in how many repositories and namespaces it is.
async fn blob_counts(conn: &mut AnyConnection, digest: &str) -> Result<Option<(i64, i64, i64)>, sqlx::Error> {
    sqlx::query_as("SELECT size, repositories, namespaces FROM storage_blobs WHERE blob_digest = $1")
        .bind(digest)
        .fetch_optional(&mut *conn)
        .await
}

/// Whether a repository of `namespace` other than `holder` holds the blob.
async fn in_namespace(conn: &mut AnyConnection, digest: &str, holder: &Holder<'_>) -> Result<bool, sqlx::Error> {
    let found = sqlx::query(
        "SELECT 1 FROM storage_repository_blobs WHERE blob_digest = $1 AND namespace = $2 AND repository <> $3 LIMIT 1",
    )
    .bind(digest)
    .bind(holder.namespace)
    .bind(holder.repository)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(found.is_some())
}

/// Another holder of the blob than `holder` (when a count says there is exactly one), marked
/// for recomputing: its repository when `repository`, and its namespace.
async fn mark_other_holder(
    conn: &mut AnyConnection,
    digest: &str,
    holder: &Holder<'_>,
    repository: bool,
    changes: &mut Changes,
) -> Result<(), sqlx::Error> {
    let condition = if repository {
        "repository <> $2"
    } else {
        "namespace <> $2"
    };
    let other = sqlx::query(&format!(
        "SELECT repository, namespace FROM storage_repository_blobs WHERE blob_digest = $1 AND {condition} LIMIT 1"
    ))
    .bind(digest)
    .bind(if repository {
        holder.repository
    } else {
        holder.namespace
    })
    .fetch_optional(&mut *conn)
    .await?;
    if let Some(row) = other {
        if repository {
            changes.repositories.insert(row.try_get("repository")?);
        }
        changes.namespaces.insert(row.try_get("namespace")?);
    }
    Ok(())
}

async fn add_blob(
    conn: &mut AnyConnection,
    holder: &Holder<'_>,
    digest: &str,
    size: i64,
    changes: &mut Changes,
) -> Result<(), sqlx::Error> {
    let new_in_namespace = !in_namespace(conn, digest, holder).await?;
    let size = match blob_counts(conn, digest).await? {
        Some((known_size, repositories, namespaces)) => {
            sqlx::query("UPDATE storage_blobs SET repositories = $2, namespaces = $3 WHERE blob_digest = $1")
                .bind(digest)
                .bind(repositories + 1)
                .bind(namespaces + i64::from(new_in_namespace))
                .execute(&mut *conn)
                .await?;
            if repositories == 1 {
                changes.shared += known_size;
                mark_other_holder(conn, digest, holder, true, changes).await?;
            }
            if new_in_namespace && namespaces == 1 {
                mark_other_holder(conn, digest, holder, false, changes).await?;
            }
            known_size
        }
        None => {
            sqlx::query(
                "INSERT INTO storage_blobs (blob_digest, size, repositories, namespaces) VALUES ($1, $2, 1, 1)",
            )
            .bind(digest)
            .bind(size)
            .execute(&mut *conn)
            .await?;
            changes.bytes += size;
            changes.blobs += 1;
            size
        }
    };
    if new_in_namespace {
        sqlx::query("INSERT INTO storage_namespace_blobs (namespace, blob_digest) VALUES ($1, $2)")
            .bind(holder.namespace)
            .bind(digest)
            .execute(&mut *conn)
            .await?;
    }
    sqlx::query(
        "INSERT INTO storage_repository_blobs (repository, namespace, blob_digest, size) VALUES ($1, $2, $3, $4)",
    )
    .bind(holder.repository)
    .bind(holder.namespace)
    .bind(digest)
    .bind(size)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

async fn remove_blob(
    conn: &mut AnyConnection,
    holder: &Holder<'_>,
    digest: &str,
    changes: &mut Changes,
) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM storage_repository_blobs WHERE repository = $1 AND blob_digest = $2")
        .bind(holder.repository)
        .bind(digest)
        .execute(&mut *conn)
        .await?;
    let left_namespace = !in_namespace(conn, digest, holder).await?;
    if left_namespace {
        sqlx::query("DELETE FROM storage_namespace_blobs WHERE namespace = $1 AND blob_digest = $2")
            .bind(holder.namespace)
            .bind(digest)
            .execute(&mut *conn)
            .await?;
    }
    let Some((size, repositories, namespaces)) = blob_counts(conn, digest).await? else {
        return Ok(());
    };
    if repositories <= 1 {
        sqlx::query("DELETE FROM storage_blobs WHERE blob_digest = $1")
            .bind(digest)
            .execute(&mut *conn)
            .await?;
        changes.bytes -= size;
        changes.blobs -= 1;
        return Ok(());
    }
    sqlx::query("UPDATE storage_blobs SET repositories = $2, namespaces = $3 WHERE blob_digest = $1")
        .bind(digest)
        .bind(repositories - 1)
        .bind((namespaces - i64::from(left_namespace)).max(1))
        .execute(&mut *conn)
        .await?;
    if repositories == 2 {
        changes.shared -= size;
        mark_other_holder(conn, digest, holder, true, changes).await?;
    }
    if left_namespace && namespaces == 2 {
        mark_other_holder(conn, digest, holder, false, changes).await?;
    }
    Ok(())
}

/// A repository's row from its blob rows (removed when it holds none).
async fn recompute_repository(conn: &mut AnyConnection, repository: &str) -> Result<(), sqlx::Error> {
    let row = sqlx::query(
        "SELECT COUNT(*) AS blobs, CAST(COALESCE(SUM(b.size), 0) AS BIGINT) AS bytes, \
           CAST(COALESCE(SUM(CASE WHEN b.repositories > 1 THEN b.size ELSE 0 END), 0) AS BIGINT) AS shared \
         FROM storage_repository_blobs rb JOIN storage_blobs b ON b.blob_digest = rb.blob_digest \
         WHERE rb.repository = $1",
    )
    .bind(repository)
    .fetch_one(&mut *conn)
    .await?;
    let blobs: i64 = row.try_get("blobs")?;
    if blobs == 0 {
        sqlx::query("DELETE FROM storage_repositories WHERE repository = $1")
            .bind(repository)
            .execute(&mut *conn)
            .await?;
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO storage_repositories (repository, namespace, bytes, shared_bytes, blobs) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (repository) DO UPDATE SET bytes = excluded.bytes, shared_bytes = excluded.shared_bytes, \
         blobs = excluded.blobs",
    )
    .bind(repository)
    .bind(namespace_of(repository))
    .bind(row.try_get::<i64, _>("bytes")?)
    .bind(row.try_get::<i64, _>("shared")?)
    .bind(blobs)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// A namespace's row, each of its blobs once (removed when it holds none).
async fn recompute_namespace(conn: &mut AnyConnection, namespace: &str) -> Result<(), sqlx::Error> {
    let row = sqlx::query(
        "SELECT COUNT(*) AS blobs, CAST(COALESCE(SUM(b.size), 0) AS BIGINT) AS bytes, \
           CAST(COALESCE(SUM(CASE WHEN b.repositories > 1 THEN b.size ELSE 0 END), 0) AS BIGINT) AS shared, \
           CAST(COALESCE(SUM(CASE WHEN b.namespaces > 1 THEN b.size ELSE 0 END), 0) AS BIGINT) AS crossing, \
           (SELECT COUNT(*) FROM storage_repositories sr WHERE sr.namespace = $1) AS repositories \
         FROM storage_blobs b WHERE b.blob_digest IN \
           (SELECT nb.blob_digest FROM storage_namespace_blobs nb WHERE nb.namespace = $1)",
    )
    .bind(namespace)
    .fetch_one(&mut *conn)
    .await?;
    if row.try_get::<i64, _>("blobs")? == 0 {
        sqlx::query("DELETE FROM storage_namespaces WHERE namespace = $1")
            .bind(namespace)
            .execute(&mut *conn)
            .await?;
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO storage_namespaces (namespace, bytes, shared_bytes, cross_bytes, repositories) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (namespace) DO UPDATE SET bytes = excluded.bytes, \
         shared_bytes = excluded.shared_bytes, cross_bytes = excluded.cross_bytes, repositories = excluded.repositories",
    )
    .bind(namespace)
    .bind(row.try_get::<i64, _>("bytes")?)
    .bind(row.try_get::<i64, _>("shared")?)
    .bind(row.try_get::<i64, _>("crossing")?)
    .bind(row.try_get::<i64, _>("repositories")?)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Today's bytes: the registry's, and those of `namespaces` (0 for one that holds nothing now).
async fn record_day<'a>(
    conn: &mut AnyConnection,
    day: i64,
    namespaces: impl Iterator<Item = &'a str>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO storage_daily (day, bytes, pushes) SELECT $1, bytes, 0 FROM storage_totals WHERE id = 1 \
         ON CONFLICT (day) DO UPDATE SET bytes = excluded.bytes",
    )
    .bind(day)
    .execute(&mut *conn)
    .await?;
    for namespace in namespaces {
        sqlx::query(
            "INSERT INTO storage_daily_namespaces (day, namespace, bytes, pushes) \
             SELECT $1, $2, COALESCE((SELECT bytes FROM storage_namespaces WHERE namespace = $2), 0), 0 \
             WHERE 1 = 1 ON CONFLICT (day, namespace) DO UPDATE SET bytes = excluded.bytes",
        )
        .bind(day)
        .bind(namespace)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// The first refresh of a day writes every namespace's bytes for it, so each day of the growth
/// series has a point even where nothing changed. Returns whether it did.
pub async fn snapshot_day(db: &Db, now: i64) -> Result<bool, sqlx::Error> {
    let day = day_of(now);
    let recorded: Option<Option<i64>> = sqlx::query_scalar("SELECT bytes FROM storage_daily WHERE day = $1")
        .bind(day)
        .fetch_optional(&db.pool)
        .await?;
    if recorded.flatten().is_some() {
        return Ok(false);
    }
    let mut tx = begin(db).await?;
    snapshot_all(&mut tx, day).await?;
    tx.commit().await?;
    Ok(true)
}

async fn snapshot_all(conn: &mut AnyConnection, day: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO storage_daily_namespaces (day, namespace, bytes, pushes) \
         SELECT $1, namespace, bytes, 0 FROM storage_namespaces WHERE 1 = 1 \
         ON CONFLICT (day, namespace) DO UPDATE SET bytes = excluded.bytes",
    )
    .bind(day)
    .execute(&mut *conn)
    .await?;
    record_day(conn, day, std::iter::empty()).await
}

/// Computes every aggregate from the index with whole-table statements, in one transaction,
/// and marks them built: the first computation after the upgrade (and the benchmark's seed).
pub async fn rebuild(db: &Db) -> Result<(), sqlx::Error> {
    let mut tx = begin(db).await?;
    for sql in REBUILD {
        sqlx::query(sql).execute(&mut *tx).await?;
    }
    let now = now_ms();
    sqlx::query(
        "UPDATE storage_totals SET \
           bytes = (SELECT CAST(COALESCE(SUM(size), 0) AS BIGINT) FROM storage_blobs), \
           shared_bytes = (SELECT CAST(COALESCE(SUM(size), 0) AS BIGINT) FROM storage_blobs WHERE repositories > 1), \
           blobs = (SELECT COUNT(*) FROM storage_blobs), built = 1, updated_at = $1 WHERE id = 1",
    )
    .bind(now)
    .execute(&mut *tx)
    .await?;
    snapshot_all(&mut tx, day_of(now)).await?;
    tx.commit().await
}

/// The statements of [`rebuild`], in order.
const REBUILD: [&str; 11] = [
    "DELETE FROM storage_dirty",
    "DELETE FROM storage_repository_blobs",
    "INSERT INTO storage_repository_blobs (repository, namespace, blob_digest, size) \
     SELECT rm.repository, r.namespace, mb.blob_digest, CAST(MAX(mb.size) AS BIGINT) FROM repository_manifests rm \
     JOIN repositories r ON r.name = rm.repository JOIN manifest_blobs mb ON mb.manifest_digest = rm.digest \
     GROUP BY rm.repository, r.namespace, mb.blob_digest",
    "DELETE FROM storage_namespace_blobs",
    "INSERT INTO storage_namespace_blobs (namespace, blob_digest) \
     SELECT DISTINCT namespace, blob_digest FROM storage_repository_blobs",
    "DELETE FROM storage_blobs",
    "INSERT INTO storage_blobs (blob_digest, size, repositories, namespaces) \
     SELECT blob_digest, CAST(MAX(size) AS BIGINT), COUNT(*), COUNT(DISTINCT namespace) \
     FROM storage_repository_blobs GROUP BY blob_digest",
    "DELETE FROM storage_repositories",
    "INSERT INTO storage_repositories (repository, namespace, bytes, shared_bytes, blobs) \
     SELECT rb.repository, rb.namespace, CAST(SUM(b.size) AS BIGINT), \
       CAST(SUM(CASE WHEN b.repositories > 1 THEN b.size ELSE 0 END) AS BIGINT), COUNT(*) \
     FROM storage_repository_blobs rb JOIN storage_blobs b ON b.blob_digest = rb.blob_digest \
     GROUP BY rb.repository, rb.namespace",
    "DELETE FROM storage_namespaces",
    "INSERT INTO storage_namespaces (namespace, bytes, shared_bytes, cross_bytes, repositories) \
     SELECT d.namespace, CAST(SUM(b.size) AS BIGINT), \
       CAST(SUM(CASE WHEN b.repositories > 1 THEN b.size ELSE 0 END) AS BIGINT), \
       CAST(SUM(CASE WHEN b.namespaces > 1 THEN b.size ELSE 0 END) AS BIGINT), \
       (SELECT COUNT(*) FROM storage_repositories sr WHERE sr.namespace = d.namespace) \
     FROM storage_namespace_blobs d \
     JOIN storage_blobs b ON b.blob_digest = d.blob_digest GROUP BY d.namespace",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_are_utc_days() {
        assert_eq!(day_of(0), 0);
        assert_eq!(day_of(DAY_MS - 1), 0);
        assert_eq!(day_of(DAY_MS), 1);
        assert_eq!(day_of(-1), -1);
    }
}
