//! Which replicas are alive. Each one writes the time into its row of `replicas` every
//! [`HEARTBEAT`]; every replica looks, as often, for rows silent for [`GONE_AFTER`]. A silent
//! replica was killed (or cut off): the events and deliveries it had claimed are released at
//! once, so another replica takes them over within seconds instead of when their lease runs
//! out, and the others are woken to do so. A replica cut off but still running finds its claims
//! taken: finishing is fenced by the claim token (see `work`), so its late results change
//! nothing.

use std::time::Duration;

use tokio::sync::watch;

use super::this_replica;
use crate::backend::db::{now_ms, Db, DbKind};
use crate::backend::notifier::{Notifier, Signal};
use crate::backend::work;

/// How often a replica says it is alive and looks for silent ones.
pub const HEARTBEAT: Duration = Duration::from_secs(2);
/// A replica silent this long is taken for gone.
pub const GONE_AFTER: Duration = Duration::from_secs(10);

/// With PostgreSQL, says this replica is alive and releases the work of gone ones, until
/// shutdown (then removes this replica's row). Nothing on SQLite.
pub fn start(db: Db, notifier: std::sync::Arc<Notifier>, mut stop: watch::Receiver<bool>) {
    if db.kind != DbKind::Postgres {
        return;
    }
    tokio::spawn(async move {
        loop {
            if let Err(err) = beat(&db).await {
                tracing::warn!(error = %err, "cannot tell the other replicas this one is alive");
            }
            match release_gone(&db, now_ms()).await {
                Ok(gone) => {
                    for (replica, released) in &gone {
                        tracing::warn!(%replica, released, "a replica stopped answering; its work is taken over");
                    }
                    if !gone.is_empty() {
                        notifier.publish(Signal::EventsStored);
                        notifier.publish(Signal::DeliveriesQueued);
                    }
                }
                Err(err) => tracing::warn!(error = %err, "cannot look for replicas that are gone"),
            }
            tokio::select! {
                _ = tokio::time::sleep(HEARTBEAT) => {}
                _ = stop.changed() => break,
            }
        }
        let _ = sqlx::query("DELETE FROM replicas WHERE id = $1")
            .bind(this_replica())
            .execute(&db.pool)
            .await;
    });
}

async fn beat(db: &Db) -> Result<(), sqlx::Error> {
    let now = now_ms();
    sqlx::query(
        "INSERT INTO replicas (id, started_at, seen_at) VALUES ($1, $2, $2) \
         ON CONFLICT (id) DO UPDATE SET seen_at = excluded.seen_at",
    )
    .bind(this_replica())
    .bind(now)
    .execute(&db.pool)
    .await?;
    Ok(())
}

/// Releases the claims of every replica silent since before `now − GONE_AFTER` and forgets it.
/// Returns each one with the number of rows released.
pub async fn release_gone(db: &Db, now: i64) -> Result<Vec<(String, u64)>, sqlx::Error> {
    let silent_since = now - GONE_AFTER.as_millis() as i64;
    let gone: Vec<(String,)> = sqlx::query_as("SELECT id FROM replicas WHERE seen_at < $1 AND id <> $2")
        .bind(silent_since)
        .bind(this_replica())
        .fetch_all(&db.pool)
        .await?;
    let mut released = Vec::new();
    for (replica,) in gone {
        let mut tx = db.begin_write().await?;
        // Gone once: the replica that deletes the row releases the claims.
        let forgotten = sqlx::query("DELETE FROM replicas WHERE id = $1 AND seen_at < $2")
            .bind(&replica)
            .bind(silent_since)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if forgotten == 0 {
            continue;
        }
        let mut rows = 0;
        for queue in work::queues() {
            let sql = format!(
                "UPDATE {table} SET claimed_by = NULL, lease_until = NULL \
                 WHERE lease_until IS NOT NULL AND substr(claimed_by, 1, length($1)) = $1",
                table = queue.table
            );
            rows += sqlx::query(&sql)
                .bind(format!("{replica}/"))
                .execute(&mut *tx)
                .await?
                .rows_affected();
        }
        tx.commit().await?;
        released.push((replica, rows));
    }
    Ok(released)
}
