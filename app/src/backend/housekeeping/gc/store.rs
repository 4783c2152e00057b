//! The tables of garbage collection (migrations/20261207000004): `gc_runs`, one row per run;
//! `gc_settings`, the schedule; `gc_collected_blobs`, what collections removed, so the
//! "collectable" figure starts again from zero after one.

use sqlx::FromRow;

use crate::backend::db::{now_ms, Db};

/// A run's outcome as stored.
pub const RUNNING: &str = "running";
pub const SUCCEEDED: &str = "succeeded";
pub const FAILED: &str = "failed";
pub const CANCELLED: &str = "cancelled";
pub const INTERRUPTED: &str = "interrupted";

/// Runs listed per page.
pub const PAGE_SIZE: i64 = 20;

#[derive(Debug, Clone, FromRow)]
pub struct RunRow {
    pub id: String,
    pub actor: String,
    pub dry_run: i64,
    pub status: String,
    pub phase: String,
    pub started_at: i64,
    pub finished_at: Option<i64>,
    pub bytes_before: Option<i64>,
    pub bytes_after: Option<i64>,
    pub blob_count: i64,
    pub error: String,
}

/// A run with its log and the digests it named.
#[derive(Debug, Clone, FromRow)]
pub struct RunDetail {
    #[sqlx(flatten)]
    pub run: RunRow,
    pub blobs: String,
    pub log: String,
}

const RUN_COLUMNS: &str =
    "id, actor, dry_run, status, phase, started_at, finished_at, bytes_before, bytes_after, blob_count, error";

/// Starts a run's row, unless a run goes on already (`None`): one at a time, also among replicas
/// (the unique index on `active`).
pub async fn begin_run(db: &Db, actor: &str, dry_run: bool) -> Result<Option<String>, sqlx::Error> {
    let id = uuid::Uuid::now_v7().to_string();
    let mut tx = db.begin_write().await?;
    let (busy,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM gc_runs WHERE active = 1")
        .fetch_one(&mut *tx)
        .await?;
    if busy > 0 {
        return Ok(None);
    }
    let inserted = sqlx::query(
        "INSERT INTO gc_runs (id, actor, dry_run, status, phase, active, started_at) VALUES ($1, $2, $3, $4, 'starting', 1, $5)",
    )
    .bind(&id)
    .bind(actor)
    .bind(i64::from(dry_run))
    .bind(RUNNING)
    .bind(now_ms())
    .execute(&mut *tx)
    .await;
    match inserted {
        Ok(_) => {
            tx.commit().await?;
            Ok(Some(id))
        }
        // Another replica's run began between the count and the insert.
        Err(sqlx::Error::Database(err)) if err.is_unique_violation() => Ok(None),
        Err(err) => Err(err),
    }
}

pub async fn set_phase(db: &Db, id: &str, phase: &str) -> Result<(), sqlx::Error> {
    let mut tx = db.begin_write().await?;
    sqlx::query("UPDATE gc_runs SET phase = $1 WHERE id = $2")
        .bind(phase)
        .bind(id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await
}

pub async fn set_bytes_before(db: &Db, id: &str, bytes: Option<u64>) -> Result<(), sqlx::Error> {
    let mut tx = db.begin_write().await?;
    sqlx::query("UPDATE gc_runs SET bytes_before = $1 WHERE id = $2")
        .bind(bytes.map(|b| b as i64))
        .bind(id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await
}

/// How a run ended.
pub struct Finish<'a> {
    pub status: &'a str,
    pub bytes_after: Option<u64>,
    pub output: &'a super::CollectorOutput,
    pub error: &'a str,
}

pub async fn finish_run(db: &Db, id: &str, finish: &Finish<'_>) -> Result<(), sqlx::Error> {
    let mut tx = db.begin_write().await?;
    sqlx::query(
        "UPDATE gc_runs SET status = $1, phase = '', active = NULL, finished_at = $2, bytes_after = $3, \
         blob_count = $4, blobs = $5, error = $6, log = $7 WHERE id = $8",
    )
    .bind(finish.status)
    .bind(now_ms())
    .bind(finish.bytes_after.map(|b| b as i64))
    .bind(finish.output.blob_count as i64)
    .bind(finish.output.blobs.join("\n"))
    .bind(finish.error)
    .bind(&finish.output.log)
    .bind(id)
    .execute(&mut *tx)
    .await?;
    tx.commit().await
}

/// At start: a run that was going on when the process died is marked so (its registry was
/// restarted read-write with the process). Returns how many.
pub async fn mark_interrupted(db: &Db) -> Result<u64, sqlx::Error> {
    let mut tx = db.begin_write().await?;
    let done = sqlx::query(
        "UPDATE gc_runs SET status = $1, phase = '', active = NULL, finished_at = $2, \
         error = 'Wharf stopped during the collection; the registry was started read-write again.' WHERE active = 1",
    )
    .bind(INTERRUPTED)
    .bind(now_ms())
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(done.rows_affected())
}

/// The run going on, if any.
pub async fn running(db: &Db) -> Result<Option<RunRow>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {RUN_COLUMNS} FROM gc_runs WHERE active = 1"))
        .fetch_optional(&db.pool)
        .await
}

/// Page `page` (from 1) of the runs, newest first, and how many runs there are.
pub async fn list_runs(db: &Db, page: u32) -> Result<(Vec<RunRow>, i64), sqlx::Error> {
    let offset = i64::from(page.max(1) - 1) * PAGE_SIZE;
    let rows = sqlx::query_as(&format!(
        "SELECT {RUN_COLUMNS} FROM gc_runs ORDER BY started_at DESC, id DESC LIMIT $1 OFFSET $2"
    ))
    .bind(PAGE_SIZE)
    .bind(offset)
    .fetch_all(&db.pool)
    .await?;
    let (total,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM gc_runs")
        .fetch_one(&db.pool)
        .await?;
    Ok((rows, total))
}

pub async fn get_run(db: &Db, id: &str) -> Result<Option<RunDetail>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {RUN_COLUMNS}, blobs, log FROM gc_runs WHERE id = $1"))
        .bind(id)
        .fetch_optional(&db.pool)
        .await
}

#[derive(Debug, Clone, FromRow, PartialEq, Eq)]
pub struct ScheduleRow {
    pub schedule: String,
    pub next_run_at: Option<i64>,
    pub updated_by: String,
    pub updated_at: Option<i64>,
}

pub async fn schedule(db: &Db) -> Result<ScheduleRow, sqlx::Error> {
    sqlx::query_as("SELECT schedule, next_run_at, updated_by, updated_at FROM gc_settings WHERE id = 1")
        .fetch_one(&db.pool)
        .await
}

/// Sets the schedule (empty: none) and when it fires next.
pub async fn save_schedule(db: &Db, schedule: &str, next_run_at: Option<i64>, by: &str) -> Result<(), sqlx::Error> {
    let mut tx = db.begin_write().await?;
    sqlx::query(
        "UPDATE gc_settings SET schedule = $1, next_run_at = $2, updated_by = $3, updated_at = $4 WHERE id = 1",
    )
    .bind(schedule)
    .bind(next_run_at)
    .bind(by)
    .bind(now_ms())
    .execute(&mut *tx)
    .await?;
    tx.commit().await
}

/// Moves the schedule's next time from `due` to `next`, if nobody did (another replica, or a
/// change of schedule): true when this caller is the one to run it.
pub async fn take_due(db: &Db, schedule: &str, due: i64, next: Option<i64>) -> Result<bool, sqlx::Error> {
    let mut tx = db.begin_write().await?;
    let done =
        sqlx::query("UPDATE gc_settings SET next_run_at = $1 WHERE id = 1 AND schedule = $2 AND next_run_at = $3")
            .bind(next)
            .bind(schedule)
            .bind(due)
            .execute(&mut *tx)
            .await?;
    tx.commit().await?;
    Ok(done.rows_affected() == 1)
}

/// Blobs (layers and configs in `manifest_blobs`, and the bodies of manifests) that only
/// manifests gone from every repository reference, less those a collection already removed:
/// what the next collection frees.
const COLLECTABLE: &str = "\
    SELECT mb.blob_digest AS digest, MAX(mb.size) AS size FROM manifest_blobs mb \
    WHERE NOT EXISTS (SELECT 1 FROM manifest_blobs live JOIN repository_manifests rm ON rm.digest = live.manifest_digest \
                      WHERE live.blob_digest = mb.blob_digest) \
      AND NOT EXISTS (SELECT 1 FROM repository_manifests rm WHERE rm.digest = mb.blob_digest) \
      AND NOT EXISTS (SELECT 1 FROM gc_collected_blobs c WHERE c.blob_digest = mb.blob_digest) \
    GROUP BY mb.blob_digest \
    UNION \
    SELECT m.digest AS digest, m.manifest_size AS size FROM manifests m \
    WHERE NOT EXISTS (SELECT 1 FROM repository_manifests rm WHERE rm.digest = m.digest) \
      AND NOT EXISTS (SELECT 1 FROM manifest_blobs live JOIN repository_manifests rm ON rm.digest = live.manifest_digest \
                      WHERE live.blob_digest = m.digest) \
      AND NOT EXISTS (SELECT 1 FROM gc_collected_blobs c WHERE c.blob_digest = m.digest)";

/// How many blobs, of how many bytes, the next collection frees.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Collectable {
    pub blobs: i64,
    pub bytes: i64,
}

pub async fn collectable(db: &Db) -> Result<Collectable, sqlx::Error> {
    let (blobs, bytes): (i64, Option<i64>) = sqlx::query_as(&format!(
        "SELECT COUNT(*), CAST(SUM(size) AS BIGINT) FROM ({COLLECTABLE}) collectable"
    ))
    .fetch_one(&db.pool)
    .await?;
    Ok(Collectable {
        blobs,
        bytes: bytes.unwrap_or(0),
    })
}

/// After a successful collection: what was collectable is gone, and a blob referenced again since
/// an earlier collection counts again once it is unreferenced. Returns the blobs recorded.
pub async fn record_collected(db: &Db) -> Result<u64, sqlx::Error> {
    let mut tx = db.begin_write().await?;
    sqlx::query(
        "DELETE FROM gc_collected_blobs WHERE \
         EXISTS (SELECT 1 FROM manifest_blobs live JOIN repository_manifests rm ON rm.digest = live.manifest_digest \
                 WHERE live.blob_digest = gc_collected_blobs.blob_digest) \
         OR EXISTS (SELECT 1 FROM repository_manifests rm WHERE rm.digest = gc_collected_blobs.blob_digest)",
    )
    .execute(&mut *tx)
    .await?;
    let done = sqlx::query(&format!(
        "INSERT INTO gc_collected_blobs (blob_digest, collected_at) SELECT digest, $1 FROM ({COLLECTABLE}) collectable \
         WHERE 1 = 1 ON CONFLICT (blob_digest) DO NOTHING"
    ))
    .bind(now_ms())
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(done.rows_affected())
}
