//! Formatting of sizes, digests and times for display: plain functions shared by the views
//! (compiled to wasm) and the backend (webhook messages), so neither imports the other.

/// `1536` → `1.5 KiB`.
pub fn human_size(bytes: i64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// `1002` → `1,002`.
pub fn grouped(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    if n < 0 {
        out.insert(0, '-');
    }
    out
}

/// The noun for `n` of something: `noun(1, "tag", "tags")` → `tag`.
pub fn noun<'a>(n: i64, one: &'a str, many: &'a str) -> &'a str {
    if n == 1 {
        one
    } else {
        many
    }
}

/// `count(1, "tag", "tags")` → `1 tag`; `count(1002, "tag", "tags")` → `1,002 tags`.
pub fn count(n: i64, one: &str, many: &str) -> String {
    format!("{} {}", grouped(n), noun(n, one, many))
}

/// `sha256:0123456789abcdef…` → `sha256:0123456789ab`.
pub fn short_digest(digest: &str) -> String {
    match digest.split_once(':') {
        Some((algo, hex)) => format!("{algo}:{}", &hex[..hex.len().min(12)]),
        None => digest.chars().take(19).collect(),
    }
}

/// `2026-11-23T10:00:00.123456789Z` → `2026-11-23 10:00:00 UTC`.
pub fn rfc3339_to_display(timestamp: &str) -> String {
    let (date, rest) = match timestamp.split_once('T') {
        Some(parts) => parts,
        None => return timestamp.to_string(),
    };
    let clock: String = rest.chars().take(8).collect();
    let zone = if rest.ends_with('Z') {
        "UTC".to_string()
    } else {
        rest.chars().skip_while(|c| *c != '+' && *c != '-').collect()
    };
    format!("{date} {clock} {zone}")
}

/// The text with its first letter upper-case (error messages made into sentences).
pub fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// Percent-encodes a value for a query string (`/` kept when `keep_slash`, for paths).
pub fn percent_encode(value: &str, keep_slash: bool) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            b'/' if keep_slash => "/".to_string(),
            other => format!("%{other:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_agree_with_their_nouns() {
        assert_eq!(count(1, "tag", "tags"), "1 tag");
        assert_eq!(count(0, "tag", "tags"), "0 tags");
        assert_eq!(count(1002, "repository", "repositories"), "1,002 repositories");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(1_000_000), "1,000,000");
        assert_eq!(grouped(-12345), "-12,345");
    }

    #[test]
    fn formats() {
        assert_eq!(human_size(512), "512 B");
        assert_eq!(human_size(1536), "1.5 KiB");
        assert_eq!(human_size(5 * 1024 * 1024), "5.0 MiB");
        assert_eq!(short_digest("sha256:0123456789abcdef0123"), "sha256:0123456789ab");
        assert_eq!(
            rfc3339_to_display("2026-11-23T10:00:00.123456789Z"),
            "2026-11-23 10:00:00 UTC"
        );
        assert_eq!(
            rfc3339_to_display("2026-11-23T10:00:00+01:00"),
            "2026-11-23 10:00:00 +01:00"
        );
    }
}

/// `now - then` in words: "just now", "5 minutes ago", "3 days ago".
pub fn time_ago(then_ms: i64, now_ms: i64) -> String {
    let seconds = (now_ms - then_ms).max(0) / 1000;
    let (value, unit) = match seconds {
        s if s < 45 => return "just now".to_string(),
        s if s < 3600 => ((s + 30) / 60, "minute"),
        s if s < 86_400 => ((s + 1800) / 3600, "hour"),
        s if s < 30 * 86_400 => ((s + 43_200) / 86_400, "day"),
        s if s < 365 * 86_400 => (s / (30 * 86_400), "month"),
        s => (s / (365 * 86_400), "year"),
    };
    let value = value.max(1);
    format!("{value} {unit}{} ago", if value == 1 { "" } else { "s" })
}

/// Unix milliseconds → `2026-11-23 10:00:00 UTC` (no time zone database in the browser bundle).
pub fn ms_to_display(ms: i64) -> String {
    let days = ms.div_euclid(86_400_000);
    let rest = ms.rem_euclid(86_400_000) / 1000;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

/// Days since 1970-01-01 → (year, month, day); Howard Hinnant's civil-from-days algorithm.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod time_tests {
    use super::*;

    #[test]
    fn relative_and_exact_times() {
        let now = 1_000_000_000_000;
        assert_eq!(time_ago(now - 10_000, now), "just now");
        assert_eq!(time_ago(now - 5 * 60_000, now), "5 minutes ago");
        assert_eq!(time_ago(now - 3_600_000, now), "1 hour ago");
        assert_eq!(time_ago(now - 3 * 86_400_000, now), "3 days ago");
        assert_eq!(time_ago(now + 5000, now), "just now");
        assert_eq!(ms_to_display(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(ms_to_display(1_795_437_296_000), "2026-11-23 12:34:56 UTC");
        assert_eq!(ms_to_display(951_782_400_000), "2000-02-29 00:00:00 UTC");
    }
}
