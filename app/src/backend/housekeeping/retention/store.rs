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
    for table in PLAN_TABLES {
        sqlx::query(&format!(
            "DELETE FROM {table} WHERE run_id IN (SELECT id FROM retention_runs WHERE policy_id = $1)"
        ))
        .bind(id)
        .execute(&mut *conn)
        .await?;
    }
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

/// Items of `run_id` after `after_seq`, at most `limit`, in seq order: the rows the run acts on
/// and the packed ones together.
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
    let mut items: Vec<ItemRow> = sqlx::query_as(&format!(
        "SELECT seq, repository, digest, tags, pushed_at, last_pulled_at, size_bytes, keep, reason, grp, state, error \
         FROM retention_run_items WHERE run_id = $1 AND seq > $2{condition} ORDER BY seq LIMIT {limit}"
    ))
    .bind(run_id)
    .bind(after_seq)
    .fetch_all(&mut *conn)
    .await?;
    items.extend(packed_items(conn, run_id, filter, after_seq, limit).await?);
    items.sort_by_key(|item| item.seq);
    items.truncate(usize::try_from(limit).unwrap_or(0));
    Ok(items)
}

/// Packs read per query while listing items.
const PACKS_PER_READ: i64 = 16;

/// The first `limit` packed items of `run_id` after `after_seq` that `filter` lets through.
async fn packed_items(
    conn: &mut AnyConnection,
    run_id: &str,
    filter: ItemFilter,
    after_seq: i64,
    limit: i64,
) -> Result<Vec<ItemRow>, sqlx::Error> {
    let condition = match filter {
        ItemFilter::All => "",
        ItemFilter::Removed => " AND skipped > 0",
        ItemFilter::Kept => " AND kept > 0",
    };
    let limit = usize::try_from(limit).unwrap_or(0);
    let mut items = Vec::new();
    let mut after_pack = after_seq;
    // Every pack but the first one read holds an item that is let through, so this ends
    // after limit / PACKS_PER_READ + 1 reads at most.
    while items.len() < limit {
        let packs: Vec<PackRow> = sqlx::query_as(&format!(
            "SELECT first_seq, last_seq, repository, items FROM retention_run_packs \
             WHERE run_id = $1 AND last_seq > $2{condition} ORDER BY last_seq LIMIT {PACKS_PER_READ}"
        ))
        .bind(run_id)
        .bind(after_pack)
        .fetch_all(&mut *conn)
        .await?;
        for pack in &packs {
            let wanted = |item: &ItemRow| {
                item.seq > after_seq
                    && match filter {
                        ItemFilter::All => true,
                        ItemFilter::Removed => item.keep == 0,
                        ItemFilter::Kept => item.keep == 1,
                    }
            };
            items.extend(pack.unpack().into_iter().filter(wanted));
        }
        match packs.last() {
            Some(last) if packs.len() as i64 == PACKS_PER_READ => after_pack = last.last_seq,
            _ => break,
        }
    }
    items.truncate(limit);
    Ok(items)
}

/// The tables a run's plan is written to.
const PLAN_TABLES: [&str; 2] = ["retention_run_items", "retention_run_packs"];

/// One stored pack: consecutive decided images of one repository that nothing acts on (kept, or
/// removals over the policy's cap), read back as items.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
struct PackRow {
    first_seq: i64,
    last_seq: i64,
    repository: String,
    items: String,
}

impl PackRow {
    /// Its items as rows; a pack that does not parse (written by hand) has none.
    fn unpack(&self) -> Vec<ItemRow> {
        let items: Vec<PackedItem> = serde_json::from_str(&self.items).unwrap_or_default();
        (self.first_seq..)
            .zip(items)
            .map(|(seq, item)| item.into_row(seq, &self.repository))
            .collect()
    }
}

/// How an item is kept in a pack's JSON: its own type, so that renaming a field elsewhere
/// cannot change what is stored. Short keys, and no tags, pull time or group when there is
/// none: a plan packs a million of them.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct PackedItem {
    #[serde(rename = "d")]
    pub digest: String,
    #[serde(rename = "t", default)]
    pub tags: Vec<String>,
    #[serde(rename = "p")]
    pub pushed_at: i64,
    #[serde(rename = "l", default)]
    pub last_pulled_at: Option<i64>,
    #[serde(rename = "s")]
    pub size_bytes: i64,
    #[serde(rename = "r")]
    pub reason: Reason,
    /// Its removal group; 0 when kept.
    #[serde(rename = "g", default)]
    pub grp: i64,
}

impl PackedItem {
    /// The row it stands for: kept, or a removal over the cap (skipped).
    fn into_row(self, seq: i64, repository: &str) -> ItemRow {
        let keep = self.reason.keeps();
        ItemRow {
            seq,
            repository: repository.to_string(),
            digest: self.digest,
            tags: serde_json::to_string(&self.tags).unwrap_or_else(|_| "[]".into()),
            pushed_at: self.pushed_at,
            last_pulled_at: self.last_pulled_at,
            size_bytes: self.size_bytes,
            keep: i64::from(keep),
            reason: serde_json::to_string(&self.reason).unwrap_or_else(|_| "{}".into()),
            grp: self.grp,
            state: if keep { "kept" } else { "skipped" }.to_string(),
            error: None,
        }
    }
}

/// [`PackedItem`] as it is written, from borrowed parts (a plan packs a million of them).
#[derive(Debug, serde::Serialize)]
pub struct PackedItemRef<'a> {
    #[serde(rename = "d")]
    pub digest: &'a str,
    #[serde(rename = "t", skip_serializing_if = "<[String]>::is_empty")]
    pub tags: &'a [String],
    #[serde(rename = "p")]
    pub pushed_at: i64,
    #[serde(rename = "l", skip_serializing_if = "Option::is_none")]
    pub last_pulled_at: Option<i64>,
    #[serde(rename = "s")]
    pub size_bytes: i64,
    #[serde(rename = "r")]
    pub reason: &'a Reason,
    #[serde(rename = "g", skip_serializing_if = "is_zero")]
    pub grp: i64,
}

fn is_zero(n: &i64) -> bool {
    *n == 0
}

/// A pack to write: `items` (JSON of [`PackedItem`]s) hold the seqs `first_seq..=last_seq`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPack {
    pub first_seq: i64,
    pub last_seq: i64,
    pub repository: String,
    pub kept: i64,
    pub skipped: i64,
    pub items: String,
}

/// Packs per insert statement (six values each, and the run). Few: SQLite finds a bound
/// parameter's name by walking the list of them, so binding costs the square of their number
/// (500 packs a statement spent a fifth of a dry run there).
const PACKS_PER_INSERT: usize = 25;

/// Writes the packs of run `run_id`, several per statement.
pub async fn insert_packs(conn: &mut AnyConnection, run_id: &str, packs: &[NewPack]) -> Result<(), sqlx::Error> {
    for chunk in packs.chunks(PACKS_PER_INSERT) {
        // Placeholders numbered by hand: sqlx's QueryBuilder writes `?` for the Any driver.
        let values: Vec<String> = (0..chunk.len())
            .map(|i| {
                let n = 2 + i * 6;
                format!(
                    "($1, ${}, ${}, ${}, ${}, ${}, ${})",
                    n,
                    n + 1,
                    n + 2,
                    n + 3,
                    n + 4,
                    n + 5
                )
            })
            .collect();
        let sql = format!(
            "INSERT INTO retention_run_packs (run_id, first_seq, last_seq, repository, kept, skipped, items) VALUES {}",
            values.join(", ")
        );
        let mut query = sqlx::query(&sql).bind(run_id);
        for pack in chunk {
            query = query
                .bind(pack.first_seq)
                .bind(pack.last_seq)
                .bind(&pack.repository)
                .bind(pack.kept)
                .bind(pack.skipped)
                .bind(&pack.items);
        }
        query.execute(&mut *conn).await?;
    }
    Ok(())
}

/// Removals over the cap in a run's plan: packed ones and rows skipped since.
pub async fn skipped_count(conn: &mut AnyConnection, run_id: &str) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT CAST((SELECT COUNT(*) FROM retention_run_items WHERE run_id = $1 AND state = 'skipped') + \
         (SELECT COALESCE(SUM(skipped), 0) FROM retention_run_packs WHERE run_id = $1) AS BIGINT)",
    )
    .bind(run_id)
    .fetch_one(conn)
    .await
}

/// Forgets a run's plan.
pub async fn delete_plan(conn: &mut AnyConnection, run_id: &str) -> Result<u64, sqlx::Error> {
    let mut removed = 0;
    for table in PLAN_TABLES {
        removed += sqlx::query(&format!("DELETE FROM {table} WHERE run_id = $1"))
            .bind(run_id)
            .execute(&mut *conn)
            .await?
            .rows_affected();
    }
    Ok(removed)
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
        removed += delete_plan(&mut *conn, &id).await?;
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_packed_item_reads_back_as_the_row_it_stands_for() {
        let tags = vec!["v1".to_string(), "v1.0".to_string()];
        let kept = Reason::TagPattern { pattern: "v*".into() };
        let over_cap = Reason::NoKeepRule;
        let written = [
            PackedItemRef {
                digest: "sha256:aa",
                tags: &tags,
                pushed_at: 5,
                last_pulled_at: Some(7),
                size_bytes: 100,
                reason: &kept,
                grp: 0,
            },
            PackedItemRef {
                digest: "sha256:bb",
                tags: &[],
                pushed_at: 6,
                last_pulled_at: None,
                size_bytes: 200,
                reason: &over_cap,
                grp: 41,
            },
        ];
        let pack = PackRow {
            first_seq: 41,
            last_seq: 42,
            repository: "team/app".into(),
            items: serde_json::to_string(&written).unwrap(),
        };
        let rows = pack.unpack();
        assert_eq!(rows.len(), 2);
        let (first, second) = (&rows[0], &rows[1]);
        assert_eq!(
            (first.seq, first.repository.as_str(), first.digest.as_str()),
            (41, "team/app", "sha256:aa")
        );
        assert_eq!(first.tags(), tags);
        assert_eq!(
            (first.pushed_at, first.last_pulled_at, first.size_bytes),
            (5, Some(7), 100)
        );
        assert_eq!((first.keep, first.state.as_str(), first.grp), (1, "kept", 0));
        assert_eq!(first.reason(), Some(kept));
        assert_eq!(
            (second.seq, second.keep, second.state.as_str(), second.grp),
            (42, 0, "skipped", 41)
        );
        assert_eq!((second.last_pulled_at, second.error.as_deref()), (None, None));
        assert_eq!(second.reason(), Some(over_cap));
    }

    #[test]
    fn a_pack_that_does_not_parse_has_no_items() {
        let pack = PackRow {
            first_seq: 1,
            last_seq: 1,
            repository: "team/app".into(),
            items: "{not json".into(),
        };
        assert!(pack.unpack().is_empty());
    }
}
