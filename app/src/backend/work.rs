//! Durable work: background work that must survive a crash is a row in a queue table, not a
//! task in memory. A worker claims rows with a lease, does the work, and in the same transaction
//! as the work's own writes marks each row done, due again later, or dead.
//!
//! Invariants:
//! - A claim writes a fresh token into `claimed_by` and counts an attempt, so a row that kills
//!   its worker still reaches the dead bound; finishing is fenced by that token, so a worker
//!   whose lease ran out (and whose row another worker took) changes nothing.
//! - A row whose lease ran out is claimed again: a killed process loses nothing.
//! - On PostgreSQL the claim locks its candidates with `FOR UPDATE SKIP LOCKED`, so two replicas
//!   never take the same row; SQLite has one writer at a time, so the claim is atomic there.
//! - A dead row is set aside: it blocks nothing behind it and can be retried.
//!
//! Each queue's table owns its claim query (what is due, in which order); this module runs it.

use std::time::Duration;

use sqlx::AnyConnection;

use super::db::{now_ms, Db, DbKind};

/// A queue table and how its rows are marked done.
#[derive(Debug, Clone, Copy)]
pub struct Queue {
    pub table: &'static str,
    /// The column set to the completion time.
    pub done_column: &'static str,
    /// How the claim locks its candidates on PostgreSQL (`FOR UPDATE OF alias SKIP LOCKED` when
    /// the candidate query joins other tables).
    pub lock: &'static str,
}

/// Every queue of durable work: what a restart or a gone replica leaves claimed.
pub fn queues() -> [&'static Queue; 3] {
    [
        &super::sync::apply::QUEUE,
        &super::webhooks::deliveries::QUEUE,
        &super::housekeeping::retention::store::QUEUE,
    ]
}

/// The identity of a worker in this process, in every claim token it writes.
#[derive(Debug, Clone)]
pub struct WorkerId(String);

impl WorkerId {
    /// `replica/name/random` (the replica: [`this_replica`]): readable in the database, unique
    /// across restarts and replicas.
    ///
    /// [`this_replica`]: super::replicas::this_replica
    pub fn new(name: &str) -> WorkerId {
        let nonce = uuid::Uuid::new_v4().simple().to_string();
        WorkerId(format!("{}/{name}/{}", super::replicas::this_replica(), &nonce[..8]))
    }

    /// A fresh claim token of this worker.
    pub fn token(&self) -> String {
        format!("{}/{}", self.0, uuid::Uuid::new_v4().simple())
    }
}

/// The rows one claim took: find them with `WHERE claimed_by = token`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    pub token: String,
    pub count: u64,
}

/// Claims the rows that `candidates` selects (a `SELECT id FROM <table> ... ORDER BY ... LIMIT`
/// whose `$1` is the current time), leasing them for `lease`.
///
/// The candidate query must only select free rows that are due: `next_attempt_at <= $1 AND
/// (lease_until IS NULL OR lease_until < $1)` plus the queue's own conditions.
pub async fn claim(
    db: &Db,
    queue: &Queue,
    worker: &WorkerId,
    candidates: &str,
    lease: Duration,
) -> Result<Claim, sqlx::Error> {
    let token = worker.token();
    let count = claim_as(db, queue, &token, candidates, lease).await?;
    Ok(Claim { token, count })
}

/// [`claim`] under a given token (from [`WorkerId::token`]): several candidate queries can
/// make one claim. Returns how many rows were taken.
pub async fn claim_as(
    db: &Db,
    queue: &Queue,
    token: &str,
    candidates: &str,
    lease: Duration,
) -> Result<u64, sqlx::Error> {
    let now = now_ms();
    // Nothing due (the common case when woken often): no write transaction at all.
    let due: Option<(String,)> = sqlx::query_as(candidates).bind(now).fetch_optional(&db.pool).await?;
    if due.is_none() {
        return Ok(0);
    }
    let lock = match db.kind {
        DbKind::Postgres => queue.lock,
        DbKind::Sqlite => "",
    };
    let sql = format!(
        "UPDATE {table} SET claimed_by = $2, lease_until = $3, attempts = attempts + 1 \
         WHERE id IN ({candidates} {lock})",
        table = queue.table
    );
    let mut tx = db.begin_write().await?;
    let done = sqlx::query(&sql)
        .bind(now)
        .bind(token)
        .bind(now + lease.as_millis() as i64)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(done.rows_affected())
}

/// Claims the given rows (those still free and unfinished) under an existing claim's token:
/// for work that belongs with rows claimed before. Returns how many were taken.
pub async fn claim_ids(
    conn: &mut AnyConnection,
    queue: &Queue,
    ids: &[String],
    token: &str,
    lease_until: i64,
    now: i64,
) -> Result<u64, sqlx::Error> {
    if ids.is_empty() {
        return Ok(0);
    }
    let placeholders: Vec<String> = (0..ids.len()).map(|i| format!("${}", i + 4)).collect();
    let sql = format!(
        "UPDATE {table} SET claimed_by = $1, lease_until = $2, attempts = attempts + 1 \
         WHERE {done} IS NULL AND dead_at IS NULL AND (lease_until IS NULL OR lease_until < $3) AND id IN ({ids})",
        table = queue.table,
        done = queue.done_column,
        ids = placeholders.join(", ")
    );
    let mut query = sqlx::query(&sql).bind(token).bind(lease_until).bind(now);
    for id in ids {
        query = query.bind(id);
    }
    Ok(query.execute(conn).await?.rows_affected())
}

/// Marks a claimed row done. `false` when the claim was lost (the lease ran out and another
/// worker took the row): the caller's transaction should then be rolled back.
pub async fn complete(conn: &mut AnyConnection, queue: &Queue, id: &str, token: &str) -> Result<bool, sqlx::Error> {
    let sql = format!(
        "UPDATE {table} SET {done} = $1, claimed_by = NULL, lease_until = NULL, last_error = NULL \
         WHERE id = $2 AND claimed_by = $3",
        table = queue.table,
        done = queue.done_column
    );
    let done = sqlx::query(&sql)
        .bind(now_ms())
        .bind(id)
        .bind(token)
        .execute(conn)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Releases a claimed row to be tried again at `next_attempt_at`, recording why it failed.
pub async fn retry(
    conn: &mut AnyConnection,
    queue: &Queue,
    id: &str,
    token: &str,
    next_attempt_at: i64,
    error: &str,
) -> Result<bool, sqlx::Error> {
    let sql = format!(
        "UPDATE {table} SET next_attempt_at = $1, last_error = $2, claimed_by = NULL, lease_until = NULL \
         WHERE id = $3 AND claimed_by = $4",
        table = queue.table
    );
    let done = sqlx::query(&sql)
        .bind(next_attempt_at)
        .bind(truncate(error))
        .bind(id)
        .bind(token)
        .execute(conn)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Gives a claimed row back without counting the attempt: the failure was not the row's
/// (the registry is unreachable), so it must not bring the row closer to dead.
pub async fn release(
    conn: &mut AnyConnection,
    queue: &Queue,
    token: &str,
    next_attempt_at: i64,
) -> Result<u64, sqlx::Error> {
    let sql = format!(
        "UPDATE {table} SET next_attempt_at = $1, attempts = attempts - 1, claimed_by = NULL, lease_until = NULL \
         WHERE claimed_by = $2",
        table = queue.table
    );
    let done = sqlx::query(&sql)
        .bind(next_attempt_at)
        .bind(token)
        .execute(conn)
        .await?;
    Ok(done.rows_affected())
}

/// Gives one claimed row back without counting the attempt (claimed, but not to be worked on now).
pub async fn release_one(conn: &mut AnyConnection, queue: &Queue, id: &str, token: &str) -> Result<bool, sqlx::Error> {
    let sql = format!(
        "UPDATE {table} SET attempts = attempts - 1, claimed_by = NULL, lease_until = NULL \
         WHERE id = $1 AND claimed_by = $2",
        table = queue.table
    );
    Ok(sqlx::query(&sql)
        .bind(id)
        .bind(token)
        .execute(conn)
        .await?
        .rows_affected()
        == 1)
}

/// Sets a claimed row aside as dead, recording why.
pub async fn bury(
    conn: &mut AnyConnection,
    queue: &Queue,
    id: &str,
    token: &str,
    error: &str,
) -> Result<bool, sqlx::Error> {
    let sql = format!(
        "UPDATE {table} SET dead_at = $1, last_error = $2, claimed_by = NULL, lease_until = NULL \
         WHERE id = $3 AND claimed_by = $4",
        table = queue.table
    );
    let done = sqlx::query(&sql)
        .bind(now_ms())
        .bind(truncate(error))
        .bind(id)
        .bind(token)
        .execute(conn)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Makes a dead (or waiting) row due now, with a fresh attempt count: the "retry" of the UI.
pub async fn revive(conn: &mut AnyConnection, queue: &Queue, id: &str) -> Result<bool, sqlx::Error> {
    let sql = format!(
        "UPDATE {table} SET dead_at = NULL, {done} = NULL, attempts = 0, next_attempt_at = $1, \
         claimed_by = NULL, lease_until = NULL WHERE id = $2",
        table = queue.table,
        done = queue.done_column
    );
    let done = sqlx::query(&sql).bind(now_ms()).bind(id).execute(conn).await?;
    Ok(done.rows_affected() == 1)
}

/// Frees every leased row of a queue: for start-up on SQLite, where no other process can be
/// working on them (several consoles share a database only on PostgreSQL), so the work of a
/// killed console resumes at once instead of when its leases run out. The attempts stay counted.
pub async fn release_all(db: &Db, queue: &Queue) -> Result<u64, sqlx::Error> {
    if db.kind != DbKind::Sqlite {
        return Ok(0);
    }
    let sql = format!(
        "UPDATE {table} SET claimed_by = NULL, lease_until = NULL WHERE claimed_by IS NOT NULL",
        table = queue.table
    );
    Ok(sqlx::query(&sql).execute(&db.pool).await?.rows_affected())
}

/// How much work a queue holds: for `/metrics`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backlog {
    /// Rows neither finished nor dead (due, leased, or waiting for a retry).
    pub depth: i64,
    /// When the oldest row that is due at `now` (or leased) came, by `since_column`.
    pub oldest_due_at: Option<i64>,
}

/// The queue's [`Backlog`]: one read of its pending rows (the queue's partial index of rows
/// neither finished nor dead), `since_column` being when a row came (`received_at`, `created_at`).
pub async fn backlog(db: &Db, queue: &Queue, since_column: &str, now: i64) -> Result<Backlog, sqlx::Error> {
    let sql = format!(
        "SELECT COUNT(*), MIN(CASE WHEN next_attempt_at <= $1 THEN {since_column} END) FROM {table} \
         WHERE {done} IS NULL AND dead_at IS NULL",
        table = queue.table,
        done = queue.done_column
    );
    let (depth, oldest_due_at): (i64, Option<i64>) = sqlx::query_as(&sql).bind(now).fetch_one(&db.pool).await?;
    Ok(Backlog { depth, oldest_due_at })
}

/// Error texts kept in a row are short: the first 2,000 characters.
fn truncate(error: &str) -> String {
    error.chars().take(2000).collect()
}

/// Exponential backoff for the `attempts`-th failure: `base × 2^(attempts-1)`, capped, with up
/// to 20% jitter so a burst of failures does not come back all at once.
pub fn backoff(attempts: i64, base: Duration, cap: Duration) -> Duration {
    let exponent = attempts.clamp(1, 30) as u32 - 1;
    let plain = base.saturating_mul(2u32.saturating_pow(exponent)).min(cap);
    jitter(plain)
}

/// Up to 20% more than `delay`, at random.
pub fn jitter(delay: Duration) -> Duration {
    use rand::Rng;
    let extra = rand::thread_rng().gen_range(0.0..0.2);
    delay + delay.mul_f64(extra)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap_with_bounded_jitter() {
        let base = Duration::from_secs(1);
        let cap = Duration::from_secs(60);
        for (attempts, plain) in [(1, 1), (2, 2), (3, 4), (7, 60), (100, 60)] {
            let delay = backoff(attempts, base, cap);
            let plain = Duration::from_secs(plain);
            assert!(delay >= plain && delay <= plain.mul_f64(1.2), "{attempts}: {delay:?}");
        }
        assert!(backoff(0, base, cap) >= base);
    }

    #[test]
    fn tokens_are_unique_per_claim() {
        let worker = WorkerId::new("events");
        assert_ne!(worker.token(), worker.token());
        assert!(worker.token().starts_with(&worker.0));
    }

    #[test]
    fn error_texts_are_capped() {
        assert_eq!(truncate(&"é".repeat(5000)).chars().count(), 2000);
    }
}
