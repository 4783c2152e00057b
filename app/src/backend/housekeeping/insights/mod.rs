//! Storage insights: how many bytes each repository and namespace holds, counting each blob
//! once; what is shared between repositories; the registry's growth and pushes per day; images
//! nobody pulled for a while. The page reads aggregates that [`refresh`] keeps up to date from
//! the index (never a scan of the index per request), filtered by what the reader may see.

pub mod read;
pub mod refresh;

use std::time::Duration;

use tokio::sync::watch;

pub use refresh::{count_push, day_of, mark_dirty, DAY_MS};

use crate::backend::db::{now_ms, Db};
use crate::backend::index::blobs;

/// How often the refresher looks for dirty repositories when it found none.
const IDLE_WAIT: Duration = Duration::from_secs(2);
/// After a database failure.
const FAILURE_WAIT: Duration = Duration::from_secs(15);

/// Starts the refresher: the blob backfill and first computation if they are due, then dirty
/// repositories in batches, until `stopping`.
pub fn spawn(db: Db, stopping: watch::Receiver<bool>) {
    tokio::spawn(run(db, stopping));
}

async fn run(db: Db, mut stopping: watch::Receiver<bool>) {
    loop {
        if *stopping.borrow() {
            return;
        }
        let wait = match step(&db).await {
            Ok(true) => Duration::ZERO,
            Ok(false) => IDLE_WAIT,
            Err(err) => {
                tracing::warn!(error = %err, "cannot refresh the storage figures; trying again");
                FAILURE_WAIT
            }
        };
        if !wait.is_zero() {
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = stopping.changed() => {}
            }
        } else {
            tokio::task::yield_now().await;
        }
    }
}

/// One step of the refresher; `true` when there is more to do at once.
pub async fn step(db: &Db) -> Result<bool, sqlx::Error> {
    let mut conn = db.pool.acquire().await?;
    if !blobs::backfill_done(&mut conn).await? {
        drop(conn);
        blobs::backfill(db).await?;
        return Ok(true);
    }
    if !refresh::is_built(&mut conn).await? {
        drop(conn);
        let started = std::time::Instant::now();
        refresh::rebuild(db).await?;
        tracing::info!(
            seconds = started.elapsed().as_secs_f64(),
            "computed the storage figures"
        );
        return Ok(true);
    }
    drop(conn);
    refresh::snapshot_day(db, now_ms()).await?;
    // A batch that took every dirty repository caught up: what a burst of pushes marks
    // meanwhile waits for the next look, and is refreshed once for many pushes.
    let (refreshed, left) = refresh::refresh_batch(db, refresh::REFRESH_BATCH).await?;
    Ok(left || refreshed as i64 >= refresh::REFRESH_BATCH)
}

/// Runs the refresher until nothing is dirty (tests, benchmarks); bounded by `max_steps`.
pub async fn refresh_all(db: &Db, max_steps: usize) -> Result<bool, sqlx::Error> {
    for _ in 0..max_steps {
        if !step(db).await? {
            return Ok(true);
        }
    }
    Ok(false)
}
