//! Scheduled retention runs: a policy's cron expression (five fields, UTC, parsed by `croner`)
//! gives its next run time; the worker asks for a run when it is due and moves the time on.
//! The move is fenced on the old time, so with several replicas one of them asks.

use super::store::{self, RequestError};
use crate::backend::db::now_ms;
use crate::backend::housekeeping::cron;
use crate::backend::AppState;

pub use cron::parse;

/// The first time after `after_ms` that `expression` names (Unix ms), if any.
pub fn next_after(expression: &str, after_ms: i64) -> Option<i64> {
    cron::next_after(&parse(expression).ok()?, after_ms)
}

/// The schedule in words, for the page.
pub fn describe(expression: &str) -> Option<String> {
    parse(expression).ok().map(|cron| cron.describe())
}

/// Asks for a run of every policy whose scheduled time has come.
pub async fn request_due(state: &AppState) -> Result<(), sqlx::Error> {
    let now = now_ms();
    let due: Vec<(String, String, i64)> = sqlx::query_as(
        "SELECT id, schedule, next_run_at FROM retention_policies \
         WHERE schedule IS NOT NULL AND next_run_at IS NOT NULL AND next_run_at <= $1 LIMIT 100",
    )
    .bind(now)
    .fetch_all(&state.db.pool)
    .await?;
    for (id, expression, at) in due {
        let next = next_after(&expression, now);
        let mut tx = state.db.begin_write().await?;
        let moved = sqlx::query("UPDATE retention_policies SET next_run_at = $3 WHERE id = $1 AND next_run_at = $2")
            .bind(&id)
            .bind(at)
            .bind(next)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        if moved.rows_affected() != 1 {
            continue;
        }
        match store::request_run(&state.db, &id, false, "schedule", "schedule").await {
            Ok(_) => {}
            Err(RequestError::Busy) => tracing::info!(policy = id, "scheduled retention run skipped: one is going"),
            Err(RequestError::Database(err)) => return Err(err),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Utc};

    use super::*;

    #[test]
    fn next_times_and_bad_expressions() {
        // 2026-12-06 10:00:00 UTC.
        let at = 1_796_551_200_000;
        let next = next_after("0 3 * * *", at).unwrap();
        assert_eq!(
            DateTime::<Utc>::from_timestamp_millis(next).unwrap().to_rfc3339(),
            "2026-12-07T03:00:00+00:00"
        );
        assert!(parse("0 3 * *").is_err());
        assert!(parse("99 3 * * *").is_err());
        assert!(parse(&"1 ".repeat(60)).is_err());
        assert!(parse("0 0 3 * * *").is_err(), "no seconds field");
        assert!(describe("*/15 * * * *").is_some());
    }
}
