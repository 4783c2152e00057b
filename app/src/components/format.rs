//! Formatting of sizes, digests and times for display.

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
