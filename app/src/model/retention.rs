//! Retention policies as pages and server functions see them.

use serde::{Deserialize, Serialize};

/// The rules of a policy. An image is kept when any rule keeps it; tagged images are removed
/// only by a policy with at least one keep rule, untagged ones only with `remove_untagged`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetentionRules {
    /// Keep the N most recently pushed images of each repository.
    pub keep_last: Option<u32>,
    /// Keep images pushed within this many days.
    pub keep_pushed_days: Option<u32>,
    /// Keep images pulled within this many days.
    pub keep_pulled_days: Option<u32>,
    /// Keep images with a tag matching one of these: a glob (`v*`), or a regular expression
    /// when it starts with `^` (`^release-\d+$`).
    pub keep_tags: Vec<String>,
    /// Keep images tagged `latest`.
    pub keep_latest: bool,
    /// Remove images without tags (which no kept index or image refers to).
    pub remove_untagged: bool,
}

impl RetentionRules {
    /// Whether any rule keeps tagged images (without one, tagged images are never touched).
    pub fn has_keep_rule(&self) -> bool {
        self.keep_last.is_some()
            || self.keep_pushed_days.is_some()
            || self.keep_pulled_days.is_some()
            || !self.keep_tags.is_empty()
    }

    /// The rules in words, for lists.
    pub fn summary(&self) -> String {
        let mut parts = Vec::new();
        if let Some(n) = self.keep_last {
            parts.push(format!("keep the last {n}"));
        }
        if let Some(days) = self.keep_pushed_days {
            parts.push(format!("keep pushed within {days} d"));
        }
        if let Some(days) = self.keep_pulled_days {
            parts.push(format!("keep pulled within {days} d"));
        }
        if !self.keep_tags.is_empty() {
            parts.push(format!("keep tags {}", self.keep_tags.join(", ")));
        }
        if self.keep_latest {
            parts.push("keep latest".into());
        }
        if self.remove_untagged {
            parts.push("remove untagged".into());
        }
        parts.join("; ")
    }
}

/// Why an image stays or goes: the first rule that decided it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "rule", rename_all = "snake_case")]
pub enum Reason {
    // Kept.
    Latest,
    TagPattern {
        pattern: String,
    },
    PushedWithin {
        days: u32,
    },
    PulledWithin {
        days: u32,
    },
    AmongLast {
        count: u32,
    },
    /// Untagged, and the policy does not remove untagged images.
    UntaggedNotTargeted,
    /// Tagged, and the policy has no keep rule (it removes untagged images only).
    TaggedNotTargeted,
    /// A platform image of a kept multi-platform index.
    InKeptIndex {
        index: String,
    },
    /// A signature, attestation or SBOM of a kept image.
    AttachedToKept {
        subject: String,
    },
    // Removed.
    NoKeepRule,
    Untagged,
    /// A platform image of a removed index that no kept index refers to.
    WithRemovedIndex {
        index: String,
    },
    /// A signature, attestation or SBOM of a removed image.
    AttachedToRemoved {
        subject: String,
    },
}

impl Reason {
    pub fn keeps(&self) -> bool {
        !matches!(
            self,
            Reason::NoKeepRule | Reason::Untagged | Reason::WithRemovedIndex { .. } | Reason::AttachedToRemoved { .. }
        )
    }

    /// The reason in words.
    pub fn describe(&self) -> String {
        let short = |digest: &str| digest.chars().take(19).collect::<String>();
        match self {
            Reason::Latest => "tagged latest".into(),
            Reason::TagPattern { pattern } => format!("tag matches {pattern}"),
            Reason::PushedWithin { days } => format!("pushed within {days} days"),
            Reason::PulledWithin { days } => format!("pulled within {days} days"),
            Reason::AmongLast { count } => format!("among the {count} most recently pushed"),
            Reason::UntaggedNotTargeted => "untagged; the policy keeps untagged images".into(),
            Reason::TaggedNotTargeted => "tagged; the policy removes untagged images only".into(),
            Reason::InKeptIndex { index } => format!("platform image of kept index {}", short(index)),
            Reason::AttachedToKept { subject } => format!("attached to kept image {}", short(subject)),
            Reason::NoKeepRule => "no rule keeps it".into(),
            Reason::Untagged => "untagged".into(),
            Reason::WithRemovedIndex { index } => format!("platform image of removed index {}", short(index)),
            Reason::AttachedToRemoved { subject } => format!("attached to removed image {}", short(subject)),
        }
    }
}

/// A policy as its pages show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetentionPolicyView {
    pub id: String,
    pub name: String,
    /// The access scope's text (`''`, `team-a/`, `team-a/api-*`) and its description.
    pub scope: String,
    pub scope_label: String,
    pub rules: RetentionRules,
    pub schedule: Option<String>,
    /// The schedule in words.
    pub schedule_text: Option<String>,
    pub next_run_at: Option<i64>,
    pub max_deletions: i64,
    pub last_run: Option<RetentionRunView>,
}

/// One run of a policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetentionRunView {
    pub id: String,
    pub dry_run: bool,
    /// `manual` or `schedule`.
    pub trigger: String,
    pub actor: String,
    /// `queued`, `planning`, `deleting`, `done`, `failed`.
    pub status: String,
    pub requested_at: i64,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
    pub repositories_total: i64,
    pub repositories_done: i64,
    pub images_kept: i64,
    /// Planned for removal (within the cap).
    pub images_removed: i64,
    pub images_deleted: i64,
    pub images_failed: i64,
    /// Over the cap, or changed since planned.
    pub images_skipped: i64,
    /// Compressed size of the planned images (a layer shared by two of them counted twice).
    pub bytes_removed: i64,
    /// What garbage collection gives back after the run: the blobs only planned images hold.
    pub bytes_freed: i64,
    pub bytes_deleted: i64,
    /// The plan had more to remove than the policy's cap.
    pub capped: bool,
    pub error: Option<String>,
}

impl RetentionRunView {
    pub fn finished(&self) -> bool {
        self.finished_at.is_some()
    }

    /// Progress in percent: planning counts repositories, deleting counts images.
    pub fn percent(&self) -> u32 {
        let (done, total) = if self.status == "deleting" {
            (self.images_deleted + self.images_failed, self.images_removed)
        } else {
            (self.repositories_done, self.repositories_total)
        };
        if self.finished() {
            100
        } else if total <= 0 {
            0
        } else {
            ((done * 100) / total).clamp(0, 100) as u32
        }
    }
}

/// One decided image of a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetentionItemView {
    pub seq: i64,
    pub repository: String,
    pub digest: String,
    pub tags: Vec<String>,
    pub pushed_at: i64,
    pub last_pulled_at: Option<i64>,
    pub size_bytes: i64,
    pub keep: bool,
    pub reason: String,
    /// `kept`, `planned`, `deleted`, `failed`, `skipped`.
    pub state: String,
    pub error: Option<String>,
}

/// The policies page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetentionOverview {
    pub policies: Vec<RetentionPolicyView>,
    /// Where the caller may put a policy: (scope text, description).
    pub scopes: Vec<(String, String)>,
}

/// One policy's page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetentionPolicyDetail {
    pub policy: RetentionPolicyView,
    pub runs: Vec<RetentionRunView>,
    pub scopes: Vec<(String, String)>,
}

/// A page of a run's items.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetentionItemsPage {
    pub run: RetentionRunView,
    pub items: Vec<RetentionItemView>,
    /// The `after` of the next page.
    pub next: Option<i64>,
}
