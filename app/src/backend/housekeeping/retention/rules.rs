//! Checking a policy's rules before they are stored, and matching tags against its patterns.
//!
//! A pattern is a glob (`v*`, `release-?`) unless it starts with `^`: then it is a regular
//! expression (`^release-\d+$`). Patterns are bounded in number, length and compiled size, so a
//! policy cannot make a run slow or big.

use globset::{GlobBuilder, GlobMatcher};
use regex::{Regex, RegexBuilder};

use crate::model::RetentionRules;

pub const MAX_PATTERNS: usize = 20;
pub const MAX_PATTERN_LEN: usize = 200;
/// Days and counts above this are surely a typo (about 27 years).
pub const MAX_NUMBER: u32 = 10_000;
const REGEX_SIZE_LIMIT: usize = 64 * 1024;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RuleError {
    #[error("at most {MAX_PATTERNS} tag patterns")]
    TooManyPatterns,
    #[error("a tag pattern is empty")]
    EmptyPattern,
    #[error("tag pattern longer than {MAX_PATTERN_LEN} characters")]
    PatternTooLong,
    #[error("tag pattern {pattern}: {reason}")]
    BadPattern { pattern: String, reason: String },
    #[error("{what} must be between 1 and {MAX_NUMBER}")]
    OutOfRange { what: &'static str },
    #[error("the policy has no rule: add a keep rule, or remove untagged images")]
    NoRule,
}

/// One compiled tag pattern.
#[derive(Debug, Clone)]
enum Pattern {
    Glob(GlobMatcher),
    Regex(Regex),
}

/// The compiled tag patterns of a policy, with their source text.
#[derive(Debug, Clone, Default)]
pub struct TagMatcher {
    patterns: Vec<(String, Pattern)>,
}

impl TagMatcher {
    /// The first pattern `tag` matches.
    pub fn first_match(&self, tag: &str) -> Option<&str> {
        self.patterns
            .iter()
            .find(|(_, pattern)| match pattern {
                Pattern::Glob(glob) => glob.is_match(tag),
                Pattern::Regex(regex) => regex.is_match(tag),
            })
            .map(|(text, _)| text.as_str())
    }
}

/// Checks `rules` and compiles their patterns.
pub fn check(rules: &RetentionRules) -> Result<TagMatcher, RuleError> {
    if !rules.has_keep_rule() && !rules.remove_untagged {
        return Err(RuleError::NoRule);
    }
    for (what, value) in [
        ("keep the last", rules.keep_last),
        ("pushed within (days)", rules.keep_pushed_days),
        ("pulled within (days)", rules.keep_pulled_days),
    ] {
        if value.is_some_and(|n| n == 0 || n > MAX_NUMBER) {
            return Err(RuleError::OutOfRange { what });
        }
    }
    if rules.keep_tags.len() > MAX_PATTERNS {
        return Err(RuleError::TooManyPatterns);
    }
    let patterns = rules
        .keep_tags
        .iter()
        .map(|text| Ok((text.clone(), compile(text)?)))
        .collect::<Result<_, RuleError>>()?;
    Ok(TagMatcher { patterns })
}

fn compile(text: &str) -> Result<Pattern, RuleError> {
    if text.trim().is_empty() {
        return Err(RuleError::EmptyPattern);
    }
    if text.len() > MAX_PATTERN_LEN {
        return Err(RuleError::PatternTooLong);
    }
    let bad = |reason: String| RuleError::BadPattern {
        pattern: text.to_string(),
        reason,
    };
    if text.starts_with('^') {
        RegexBuilder::new(text)
            .size_limit(REGEX_SIZE_LIMIT)
            .build()
            .map(Pattern::Regex)
            .map_err(|e| bad(first_line(&e.to_string())))
    } else {
        GlobBuilder::new(text)
            .literal_separator(true)
            .build()
            .map(|glob| Pattern::Glob(glob.compile_matcher()))
            .map_err(|e| bad(e.kind().to_string()))
    }
}

fn first_line(text: &str) -> String {
    text.lines().last().unwrap_or(text).trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(patterns: &[&str]) -> RetentionRules {
        RetentionRules {
            keep_tags: patterns.iter().map(|p| p.to_string()).collect(),
            ..Default::default()
        }
    }

    #[test]
    fn globs_and_regular_expressions_match_tags() {
        let matcher = check(&rules(&["v*", r"^release-\d+$"])).unwrap();
        assert_eq!(matcher.first_match("v1.2"), Some("v*"));
        assert_eq!(matcher.first_match("release-12"), Some(r"^release-\d+$"));
        assert_eq!(matcher.first_match("release-x"), None);
        assert_eq!(matcher.first_match("dev"), None);
    }

    #[test]
    fn bad_rules_are_refused_with_a_reason() {
        assert_eq!(check(&RetentionRules::default()).unwrap_err(), RuleError::NoRule);
        assert!(matches!(
            check(&rules(&["^(unclosed"])),
            Err(RuleError::BadPattern { .. })
        ));
        assert!(matches!(check(&rules(&["[z-a]"])), Err(RuleError::BadPattern { .. })));
        assert_eq!(check(&rules(&[" "])).unwrap_err(), RuleError::EmptyPattern);
        assert_eq!(
            check(&rules(&[&"a".repeat(201)])).unwrap_err(),
            RuleError::PatternTooLong
        );
        let many: Vec<String> = (0..21).map(|i| format!("t{i}")).collect();
        let many: Vec<&str> = many.iter().map(String::as_str).collect();
        assert_eq!(check(&rules(&many)).unwrap_err(), RuleError::TooManyPatterns);
        let zero = RetentionRules {
            keep_last: Some(0),
            ..Default::default()
        };
        assert!(matches!(check(&zero), Err(RuleError::OutOfRange { .. })));
        // A regular expression whose compiled form is huge.
        assert!(matches!(
            check(&rules(&[r"^\w{1000}\w{1000}$"])),
            Err(RuleError::BadPattern { .. })
        ));
    }
}
