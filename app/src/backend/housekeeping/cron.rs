//! Schedules of housekeeping work (retention policies, garbage collection): standard five-field
//! cron lines (minute hour day-of-month month day-of-week), in UTC, parsed by `croner`.

use chrono::{DateTime, TimeZone, Utc};
use croner::parser::{CronParser, Seconds, Year};
use croner::Cron;

/// A schedule longer than this is refused (it is a cron line, not a program).
pub const MAX_LEN: usize = 100;

/// Parses `text` (five fields, no seconds, no year); a message a user can act on otherwise.
pub fn parse(text: &str) -> Result<Cron, String> {
    let text = text.trim();
    if text.len() > MAX_LEN {
        return Err(format!("A schedule has at most {MAX_LEN} characters."));
    }
    let parser = CronParser::builder()
        .seconds(Seconds::Disallowed)
        .year(Year::Disallowed)
        .build();
    parser
        .parse(text)
        .map_err(|e| format!("{text:?} is not a cron schedule ({e}); for example 0 3 * * 0 is Sundays at 03:00 UTC."))
}

/// The first time (ms) after `after_ms` that `cron` fires, in UTC.
pub fn next_after(cron: &Cron, after_ms: i64) -> Option<i64> {
    let start: DateTime<Utc> = Utc.timestamp_millis_opt(after_ms).single()?;
    cron.find_next_occurrence(&start, false)
        .ok()
        .map(|next| next.timestamp_millis())
}
