//! The collection's schedule: standard five-field cron syntax (minute hour day month weekday, in
//! UTC), parsed by `croner`; and the worker that starts a scheduled run when it is due.

use std::time::Duration;

use croner::Cron;

use super::{runner, store};
use crate::backend::AppState;

pub use crate::backend::housekeeping::cron::{next_after, MAX_LEN};
/// Scheduled runs come at most this often: a collection makes the registry read-only.
pub const MIN_INTERVAL_MS: i64 = 3_600_000;
/// How often the worker looks whether a run is due.
const CHECK_EVERY: Duration = Duration::from_secs(10);
/// Who the audit log and the run history name for scheduled runs.
pub const SCHEDULE_ACTOR: &str = "schedule";

/// Parses `text` (five fields, no seconds, no year); a message a user can act on otherwise.
pub fn parse(text: &str) -> Result<Cron, String> {
    let cron = crate::backend::housekeeping::cron::parse(text)?;
    let first = next_after(&cron, 0).ok_or("That schedule never fires.")?;
    let second = next_after(&cron, first).ok_or("That schedule never fires again.")?;
    let gap = (second - first).max(0);
    if gap < MIN_INTERVAL_MS {
        return Err("Collect at most once an hour: the registry takes no pushes while it runs.".into());
    }
    Ok(cron)
}

/// Starts scheduled runs until shutdown (managed mode only: the caller does not start it
/// otherwise). Among replicas, the one that moves `next_run_at` on runs it.
pub async fn run_worker(state: AppState) {
    let mut stopping = state.sync.stopping();
    loop {
        if let Err(err) = start_if_due(&state).await {
            tracing::warn!(error = %err, "cannot read the garbage collection schedule");
        }
        tokio::select! {
            _ = tokio::time::sleep(CHECK_EVERY) => {}
            _ = stopping.wait_for(|stop| *stop) => return,
        }
    }
}

async fn start_if_due(state: &AppState) -> Result<(), sqlx::Error> {
    let row = store::schedule(&state.db).await?;
    let (Some(due), Ok(cron)) = (row.next_run_at, parse(&row.schedule)) else {
        return Ok(());
    };
    let now = crate::backend::db::now_ms();
    if due > now {
        return Ok(());
    }
    let next = next_after(&cron, now);
    if !store::take_due(&state.db, &row.schedule, due, next).await? {
        return Ok(());
    }
    match runner::start(state, SCHEDULE_ACTOR, None, false).await {
        Ok(_) => {}
        Err(err) => tracing::warn!(error = %err, "the scheduled garbage collection did not start"),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEC_6_2026_11H: i64 = 1_796_554_800_000;

    #[test]
    fn a_nightly_schedule_fires_at_its_hour_in_utc() {
        let cron = parse("0 3 * * *").unwrap();
        let next = next_after(&cron, DEC_6_2026_11H).unwrap();
        assert_eq!(next - DEC_6_2026_11H, 16 * 3_600_000, "next day at 03:00");
        assert_eq!(next_after(&cron, next).unwrap() - next, 24 * 3_600_000);
    }

    #[test]
    fn bad_schedules_say_why() {
        for (text, says) in [
            ("", "not a cron schedule"),
            ("0 3 * *", "not a cron schedule"),
            ("61 3 * * *", "not a cron schedule"),
            ("0 0 3 * * *", "not a cron schedule"),
            ("*/5 * * * *", "at most once an hour"),
            ("0 0 31 2 *", "never fires"),
        ] {
            let err = parse(text).unwrap_err();
            assert!(err.contains(says), "{text:?}: {err}");
        }
        assert!(parse(&"1".repeat(MAX_LEN + 1)).unwrap_err().contains("at most"));
        assert!(parse("@daily").is_ok() && parse("0 4 * * SUN").is_ok());
    }
}
