//! The tables of retention: policies, runs and their items.

use sqlx::{AnyConnection, FromRow, Row};

use crate::backend::db::{now_ms, Db};
use crate::backend::work::Queue;
use crate::model::{Reason, RetentionRules};

/// Runs are durable work: claimed with a lease, finished when `finished_at` is set.
pub const QUEUE: Queue = Queue {
    table: "retention_runs",
    done_column: "finished_at",
    lock: "FOR UPDATE SKIP LOCKED",
};

/// Unfinished runs that are due and free, oldest first; `$1` is now.
pub const CANDIDATES: &str = "SELECT id FROM retention_runs \
     WHERE finished_at IS NULL AND dead_at IS NULL AND next_attempt_at <= $1 \
     AND (lease_until IS NULL OR lease_until < $1) ORDER BY requested_at, id LIMIT 1";

/// A stored policy.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct PolicyRow {
    pub id: String,
    pub name: String,
    pub scope: String,
    /// JSON of [`StoredRules`].
    pub rules: String,
    pub schedule: Option<String>,
    pub next_run_at: Option<i64>,
    pub max_deletions: i64,
    pub created_by: String,
    pub created_at: i64,
    pub updated_at: i64,
}

/// How rules are stored: its own type, so renaming a field of the page's shape cannot change
/// what is in the database.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StoredRules {
    keep_last: Option<u32>,
    keep_pushed_days: Option<u32>,
    keep_pulled_days: Option<u32>,
    keep_tags: Vec<String>,
    keep_latest: bool,
    remove_untagged: bool,
}

impl From<&RetentionRules> for StoredRules {
    fn from(r: &RetentionRules) -> StoredRules {
        StoredRules {
            keep_last: r.keep_last,
            keep_pushed_days: r.keep_pushed_days,
            keep_pulled_days: r.keep_pulled_days,
            keep_tags: r.keep_tags.clone(),
            keep_latest: r.keep_latest,
            remove_untagged: r.remove_untagged,
        }
    }
}

impl From<StoredRules> for RetentionRules {
    fn from(r: StoredRules) -> RetentionRules {
        RetentionRules {
            keep_last: r.keep_last,
            keep_pushed_days: r.keep_pushed_days,
            keep_pulled_days: r.keep_pulled_days,
            keep_tags: r.keep_tags,
            keep_latest: r.keep_latest,
            remove_untagged: r.remove_untagged,
        }
    }
}

impl PolicyRow {
    /// The rules; a row that does not parse (written by hand) keeps everything.
    pub fn rules(&self) -> Option<RetentionRules> {
        serde_json::from_str::<StoredRules>(&self.rules).ok().map(Into::into)
    }
}

pub fn rules_json(rules: &RetentionRules) -> String {
    serde_json::to_string(&StoredRules::from(rules)).expect("rules serialize")
}

const POLICY_COLUMNS: &str =
    "id, name, scope, rules, schedule, next_run_at, max_deletions, created_by, created_at, updated_at";

pub async fn policies(conn: &mut AnyConnection) -> Result<Vec<PolicyRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {POLICY_COLUMNS} FROM retention_policies ORDER BY name, id"
    ))
    .fetch_all(conn)
    .await
}

pub async fn policy(conn: &mut AnyConnection, id: &str) -> Result<Option<PolicyRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {POLICY_COLUMNS} FROM retention_policies WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(conn)
    .await
}

pub async fn insert_policy(conn: &mut AnyConnection, row: &PolicyRow) -> Result<(), sqlx::Error> {
    sqlx::query(&format!(
        "INSERT INTO retention_policies ({POLICY_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
    ))
    .bind(&row.id)
    .bind(&row.name)
    .bind(&row.scope)
    .bind(&row.rules)
    .bind(&row.schedule)
    .bind(row.next_run_at)
    .bind(row.max_deletions)
    .bind(&row.created_by)
    .bind(row.created_at)
    .bind(row.updated_at)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn update_policy(conn: &mut AnyConnection, row: &PolicyRow) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE retention_policies SET name = $2, scope = $3, rules = $4, schedule = $5, next_run_at = $6, \
         max_deletions = $7, updated_at = $8 WHERE id = $1",
    )
    .bind(&row.id)
    .bind(&row.name)
    .bind(&row.scope)
    .bind(&row.rules)
    .bind(&row.schedule)
    .bind(row.next_run_at)
    .bind(row.max_deletions)
    .bind(row.updated_at)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Deletes a policy with its finished runs; `false` while one of its runs is going.
pub async fn delete_policy(conn: &mut AnyConnection, id: &str) -> Result<bool, sqlx::Error> {
    if active_run(&mut *conn, id).await?.is_some() {
        return Ok(false);
    }
    sqlx::query("DELETE FROM retention_run_items WHERE run_id IN (SELECT id FROM retention_runs WHERE policy_id = $1)")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    sqlx::query("DELETE FROM retention_runs WHERE policy_id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    sqlx::query("DELETE FROM retention_policies WHERE id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(true)
}

/// A run as stored.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct RunRow {
    pub id: String,
    pub policy_id: String,
    pub dry_run: i64,
    pub trigger_kind: String,
    pub actor: String,
    pub status: String,
    pub requested_at: i64,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
    pub repositories_total: i64,
    pub repositories_done: i64,
    pub images_kept: i64,
    pub images_removed: i64,
    pub images_deleted: i64,
    pub images_failed: i64,
    pub images_skipped: i64,
    pub bytes_removed: i64,
    pub bytes_freed: i64,
    pub bytes_deleted: i64,
    pub capped: i64,
    pub last_error: Option<String>,
}

const RUN_COLUMNS: &str = "id, policy_id, dry_run, trigger_kind, actor, status, requested_at, started_at, \
     finished_at, repositories_total, repositories_done, images_kept, images_removed, images_deleted, images_failed, \
     images_skipped, bytes_removed, bytes_freed, bytes_deleted, capped, last_error";

pub async fn run(conn: &mut AnyConnection, id: &str) -> Result<Option<RunRow>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {RUN_COLUMNS} FROM retention_runs WHERE id = $1"))
        .bind(id)
        .fetch_optional(conn)
        .await
}

pub async fn active_run(conn: &mut AnyConnection, policy_id: &str) -> Result<Option<RunRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {RUN_COLUMNS} FROM retention_runs WHERE active_policy = $1"
    ))
    .bind(policy_id)
    .fetch_optional(conn)
    .await
}

/// The newest runs of a policy, before `before` (requested_at) when paging.
pub async fn runs(
    conn: &mut AnyConnection,
    policy_id: &str,
    before: i64,
    limit: i64,
) -> Result<Vec<RunRow>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {RUN_COLUMNS} FROM retention_runs WHERE policy_id = $1 AND requested_at < $2 \
         ORDER BY requested_at DESC, id DESC LIMIT {limit}"
    ))
    .bind(policy_id)
    .bind(before)
    .fetch_all(conn)
    .await
}

/// Why a run could not be asked for.
#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    #[error("a run of this policy is already going")]
    Busy,
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// Asks for a run of `policy_id`; refused while another run of it is going.
pub async fn request_run(
    db: &Db,
    policy_id: &str,
    dry_run: bool,
    trigger: &str,
    actor: &str,
) -> Result<String, RequestError> {
    let mut tx = db.begin_write().await?;
    if active_run(&mut tx, policy_id).await?.is_some() {
        return Err(RequestError::Busy);
    }
    let id = uuid::Uuid::new_v4().to_string();
    let now = now_ms();
    sqlx::query(
        "INSERT INTO retention_runs (id, policy_id, dry_run, trigger_kind, actor, status, active_policy, \
         requested_at, next_attempt_at) VALUES ($1, $2, $3, $4, $5, 'queued', $2, $6, $6)",
    )
    .bind(&id)
    .bind(policy_id)
    .bind(i64::from(dry_run))
    .bind(trigger)
    .bind(actor)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(id)
}

/// The items of a run that the page lists, in plan order.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct ItemRow {
    pub seq: i64,
    pub repository: String,
    pub digest: String,
    pub tags: String,
    pub pushed_at: i64,
    pub last_pulled_at: Option<i64>,
    pub size_bytes: i64,
    pub keep: i64,
    pub reason: String,
    pub grp: i64,
    pub state: String,
    pub error: Option<String>,
}

impl ItemRow {
    pub fn tags(&self) -> Vec<String> {
        serde_json::from_str(&self.tags).unwrap_or_default()
    }

    pub fn reason(&self) -> Option<Reason> {
        serde_json::from_str(&self.reason).ok()
    }
}

/// Which items to list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemFilter {
    All,
    Removed,
    Kept,
}

/// Items of `run_id` after `after_seq`, at most `limit`.
pub async fn items(
    conn: &mut AnyConnection,
    run_id: &str,
    filter: ItemFilter,
    after_seq: i64,
    limit: i64,
) -> Result<Vec<ItemRow>, sqlx::Error> {
    let condition = match filter {
        ItemFilter::All => "",
        ItemFilter::Removed => " AND keep = 0",
        ItemFilter::Kept => " AND keep = 1",
    };
    sqlx::query_as(&format!(
        "SELECT seq, repository, digest, tags, pushed_at, last_pulled_at, size_bytes, keep, reason, grp, state, error \
         FROM retention_run_items WHERE run_id = $1 AND seq > $2{condition} ORDER BY seq LIMIT {limit}"
    ))
    .bind(run_id)
    .bind(after_seq)
    .fetch_all(conn)
    .await
}

/// The bytes a run's plan frees once garbage is collected: each blob (config or layer) of a
/// planned image counted once, unless an image that stays (in any repository) holds it too.
pub async fn freed_bytes(conn: &mut AnyConnection, run_id: &str) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT CAST(COALESCE(SUM(b.size), 0) AS BIGINT) FROM ( \
           SELECT mb.blob_digest, MAX(mb.size) AS size FROM retention_run_items i \
           JOIN manifest_blobs mb ON mb.manifest_digest = i.digest \
           WHERE i.run_id = $1 AND i.state = 'planned' GROUP BY mb.blob_digest \
         ) b WHERE NOT EXISTS ( \
           SELECT 1 FROM manifest_blobs other JOIN repository_manifests rm ON rm.digest = other.manifest_digest \
           WHERE other.blob_digest = b.blob_digest AND NOT EXISTS ( \
             SELECT 1 FROM retention_run_items p WHERE p.run_id = $1 AND p.digest = rm.digest \
             AND p.repository = rm.repository AND p.state = 'planned'))",
    )
    .bind(run_id)
    .fetch_one(conn)
    .await
}

/// The items of one removal group, in deletion order.
pub async fn group_items(conn: &mut AnyConnection, run_id: &str, group: i64) -> Result<Vec<ItemRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT seq, repository, digest, tags, pushed_at, last_pulled_at, size_bytes, keep, reason, grp, state, error \
         FROM retention_run_items WHERE run_id = $1 AND grp = $2 ORDER BY seq",
    )
    .bind(run_id)
    .bind(group)
    .fetch_all(conn)
    .await
}

/// Keeps the items of the newest `keep` runs of a policy: older runs keep their counts only.
pub async fn prune_items(conn: &mut AnyConnection, policy_id: &str, keep: i64) -> Result<u64, sqlx::Error> {
    let old: Vec<String> = sqlx::query(&format!(
        "SELECT id FROM retention_runs WHERE policy_id = $1 AND finished_at IS NOT NULL \
         ORDER BY requested_at DESC, id DESC LIMIT 1000 OFFSET {keep}"
    ))
    .bind(policy_id)
    .fetch_all(&mut *conn)
    .await?
    .iter()
    .map(|row| row.try_get("id"))
    .collect::<Result<_, _>>()?;
    let mut removed = 0;
    for id in old {
        removed += sqlx::query("DELETE FROM retention_run_items WHERE run_id = $1")
            .bind(&id)
            .execute(&mut *conn)
            .await?
            .rows_affected();
    }
    Ok(removed)
}
