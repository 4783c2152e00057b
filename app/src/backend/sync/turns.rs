//! One reconcile at a time among replicas on one PostgreSQL database. A replica reconciles only
//! while it holds a session advisory lock ([`Db::session_lock`]); the one row of
//! `reconcile_turns` says since when a run goes on and when the last finished one had started.
//!
//! - A replica that wants a run waits for the lock, then skips the run if one that answers it
//!   finished meanwhile: for a request or a start, a run started after it asked; on the timer, a
//!   run started within the last half interval. So N replicas make one run per interval, and a
//!   request made on any replica is answered by a run started after it.
//! - A replica killed in the middle of a run loses its lock with its connection; another one
//!   sees the run marked as going on with nobody holding the lock ([`abandoned`]) and runs it
//!   again, within [`TAKEOVER_CHECK`].
//!
//! On SQLite (one process) every turn is taken at once.

use std::time::Duration;

use crate::backend::db::{now_ms, Db, DbKind, SessionLock};

/// The advisory lock key of the reconcile ("WHARF" and 2).
const RECONCILE_LOCK_KEY: i64 = 0x5748_4152_4600_0002;
/// How often a replica looks for a reconcile abandoned by a replica that died.
pub const TAKEOVER_CHECK: Duration = Duration::from_secs(15);

/// Why a replica wants to reconcile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Why {
    /// The process started, or an administrator asked, at this time (ms).
    AskedAt(i64),
    /// The timer, every so often.
    Timer(Duration),
}

/// The right to run one reconcile; [`Turn::finish`] it.
pub struct Turn {
    lock: SessionLock,
    started_at: i64,
}

/// Waits for this replica's turn; `None` when a run that answers `why` finished meanwhile.
pub async fn take(db: &Db, why: Why) -> Result<Option<Turn>, sqlx::Error> {
    let lock = db.session_lock(RECONCILE_LOCK_KEY).await?;
    if db.kind == DbKind::Postgres {
        let (last_started,): (Option<i64>,) =
            sqlx::query_as("SELECT last_started_at FROM reconcile_turns WHERE id = 1")
                .fetch_one(&db.pool)
                .await?;
        if answered(why, last_started, now_ms()) {
            lock.release().await;
            return Ok(None);
        }
    }
    begin(db, lock).await.map(Some)
}

/// A run that a replica began and never finished, with nobody holding the lock now: its replica
/// died. Returns the turn to run it again (PostgreSQL only).
pub async fn abandoned(db: &Db) -> Result<Option<Turn>, sqlx::Error> {
    if db.kind != DbKind::Postgres {
        return Ok(None);
    }
    let (running_since,): (Option<i64>,) = sqlx::query_as("SELECT running_since FROM reconcile_turns WHERE id = 1")
        .fetch_one(&db.pool)
        .await?;
    if running_since.is_none() {
        return Ok(None);
    }
    let Some(lock) = db.try_session_lock(RECONCILE_LOCK_KEY).await? else {
        return Ok(None);
    };
    // Finished between the two looks?
    let (running_since,): (Option<i64>,) = sqlx::query_as("SELECT running_since FROM reconcile_turns WHERE id = 1")
        .fetch_one(&db.pool)
        .await?;
    if running_since.is_none() {
        lock.release().await;
        return Ok(None);
    }
    begin(db, lock).await.map(Some)
}

/// Whether the run that last finished (started at `last_started`) answers `why`, at `now`.
fn answered(why: Why, last_started: Option<i64>, now: i64) -> bool {
    let Some(last_started) = last_started else {
        return false;
    };
    match why {
        Why::AskedAt(asked) => last_started >= asked,
        Why::Timer(every) => last_started > now - (every.as_millis() / 2) as i64,
    }
}

async fn begin(db: &Db, lock: SessionLock) -> Result<Turn, sqlx::Error> {
    let started_at = now_ms();
    if db.kind == DbKind::Postgres {
        sqlx::query("UPDATE reconcile_turns SET running_since = $1 WHERE id = 1")
            .bind(started_at)
            .execute(&db.pool)
            .await?;
    }
    Ok(Turn { lock, started_at })
}

impl Turn {
    /// Records the run as finished (`succeeded`: it answers what was asked before it started)
    /// and lets the next replica have its turn.
    pub async fn finish(self, db: &Db, succeeded: bool) {
        if db.kind == DbKind::Postgres {
            let recorded = sqlx::query(
                "UPDATE reconcile_turns SET running_since = NULL, \
                 last_started_at = CASE WHEN $1 THEN $2 ELSE last_started_at END WHERE id = 1",
            )
            .bind(succeeded)
            .bind(self.started_at)
            .execute(&db.pool)
            .await;
            if let Err(err) = recorded {
                tracing::warn!(error = %err, "cannot record the end of the reconcile");
            }
        }
        self.lock.release().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_finished_run_answers_what_was_asked_before_it_started() {
        let every = Duration::from_secs(600);
        assert!(!answered(Why::AskedAt(1_000), None, 2_000));
        assert!(answered(Why::AskedAt(1_000), Some(1_000), 2_000));
        assert!(answered(Why::AskedAt(1_000), Some(1_500), 2_000));
        assert!(!answered(Why::AskedAt(1_000), Some(999), 2_000));
        // The timer: a run in the last half interval is enough.
        let now = 10_000_000;
        assert!(answered(Why::Timer(every), Some(now - 299_000), now));
        assert!(!answered(Why::Timer(every), Some(now - 301_000), now));
        assert!(!answered(Why::Timer(every), None, now));
    }
}
