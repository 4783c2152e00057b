//! The retention decision: the facts of one repository's images in, keep or remove (with the
//! rule that decided) out. Pure, so the dry run and the real run call the very same function
//! and cannot disagree.
//!
//! Images that belong to another are decided with it, never on their own: a platform image of
//! a multi-platform index is kept when any index that lists it is kept, and a signature,
//! attestation or SBOM (a manifest with a subject, or a cosign `sha256-….sig` tag) stays or
//! goes with the image it is attached to.

use std::collections::HashMap;

use super::rules::TagMatcher;
use crate::model::{Reason, RetentionRules};

const DAY_MS: i64 = 24 * 60 * 60 * 1000;

/// What the index knows of one image (manifest) in a repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageFacts {
    pub digest: String,
    /// Its own tags (a cosign signature's tag is the signature's).
    pub tags: Vec<String>,
    /// The newest push of its tags; when it was first seen for an untagged image.
    pub pushed_at: i64,
    pub last_pulled_at: Option<i64>,
    /// The platform images of an index.
    pub children: Vec<String>,
    /// The image this one is attached to (signature, attestation, SBOM).
    pub subject: Option<String>,
}

/// A policy's rules, checked and compiled.
pub struct Policy<'a> {
    pub rules: &'a RetentionRules,
    pub tags: &'a TagMatcher,
}

/// Decides every image of one repository at time `now`; the answer is in the order of `images`.
pub fn decide(policy: &Policy<'_>, images: &[ImageFacts], now: i64) -> Vec<Reason> {
    let by_digest: HashMap<&str, usize> = images.iter().enumerate().map(|(i, f)| (f.digest.as_str(), i)).collect();
    let mut parents: Vec<Vec<usize>> = vec![Vec::new(); images.len()];
    for (i, image) in images.iter().enumerate() {
        for child in &image.children {
            if let Some(&c) = by_digest.get(child.as_str()) {
                if c != i {
                    parents[c].push(i);
                }
            }
        }
    }
    let subject = |i: usize| {
        images[i]
            .subject
            .as_deref()
            .and_then(|s| by_digest.get(s).copied())
            .filter(|&s| s != i)
    };
    // Decided by its own rules: what is not attached to another image, and is either tagged or
    // in no index (a tagged platform image can be kept by its own tag too).
    let own_rules: Vec<usize> = (0..images.len())
        .filter(|&i| subject(i).is_none() && (parents[i].is_empty() || !images[i].tags.is_empty()))
        .collect();
    let mut own = vec![None; images.len()];
    for (i, reason) in decide_top_level(policy, images, &own_rules, now) {
        own[i] = Some(reason);
    }
    let mut resolver = Resolver {
        images,
        parents: &parents,
        own,
        decided: vec![None; images.len()],
        visiting: vec![false; images.len()],
    };
    (0..images.len()).map(|i| resolver.resolve(i, &subject)).collect()
}

/// Follows the links of images that belong to another, remembering what it decided.
struct Resolver<'a> {
    images: &'a [ImageFacts],
    parents: &'a [Vec<usize>],
    /// What the policy's rules say of the image itself.
    own: Vec<Option<Reason>>,
    decided: Vec<Option<Reason>>,
    visiting: Vec<bool>,
}

impl Resolver<'_> {
    fn resolve(&mut self, i: usize, subject: &dyn Fn(usize) -> Option<usize>) -> Reason {
        if let Some(reason) = &self.decided[i] {
            return reason.clone();
        }
        if let Some(reason) = self.own[i].clone().filter(Reason::keeps) {
            return self.finish(i, reason);
        }
        if self.visiting[i] {
            // A cycle of references (only a hand-made manifest has one): keep what is in it.
            return Reason::InKeptIndex {
                index: self.images[i].digest.clone(),
            };
        }
        self.visiting[i] = true;
        let mut removed_by = self.own[i].clone();
        for p in self.parents[i].clone() {
            let index = self.images[p].digest.clone();
            if self.resolve(p, subject).keeps() {
                return self.finish(i, Reason::InKeptIndex { index });
            }
            removed_by.get_or_insert(Reason::WithRemovedIndex { index });
        }
        if let Some(s) = subject(i) {
            let digest = self.images[s].digest.clone();
            if self.resolve(s, subject).keeps() {
                return self.finish(i, Reason::AttachedToKept { subject: digest });
            }
            removed_by = Some(Reason::AttachedToRemoved { subject: digest });
        }
        let reason = removed_by.unwrap_or(Reason::NoKeepRule);
        self.finish(i, reason)
    }

    fn finish(&mut self, i: usize, reason: Reason) -> Reason {
        self.decided[i] = Some(reason.clone());
        reason
    }
}

/// Decides the images that belong to no other, rule by rule.
fn decide_top_level(policy: &Policy<'_>, images: &[ImageFacts], top: &[usize], now: i64) -> Vec<(usize, Reason)> {
    let rules = policy.rules;
    let targeted = |i: usize| {
        if images[i].tags.is_empty() {
            rules.remove_untagged
        } else {
            rules.has_keep_rule()
        }
    };
    let mut newest: Vec<usize> = top.iter().copied().filter(|&i| targeted(i)).collect();
    newest.sort_by(|&a, &b| {
        images[b]
            .pushed_at
            .cmp(&images[a].pushed_at)
            .then(images[a].digest.cmp(&images[b].digest))
    });
    let mut among_last = vec![false; images.len()];
    for &i in newest.iter().take(rules.keep_last.unwrap_or(0) as usize) {
        among_last[i] = true;
    }
    top.iter()
        .map(|&i| {
            let image = &images[i];
            let reason = if !targeted(i) {
                if image.tags.is_empty() {
                    Reason::UntaggedNotTargeted
                } else {
                    Reason::TaggedNotTargeted
                }
            } else {
                keep_reason(policy, image, among_last[i], now).unwrap_or(if image.tags.is_empty() {
                    Reason::Untagged
                } else {
                    Reason::NoKeepRule
                })
            };
            (i, reason)
        })
        .collect()
}

/// The first rule that keeps `image`, in the order the page lists them.
fn keep_reason(policy: &Policy<'_>, image: &ImageFacts, among_last: bool, now: i64) -> Option<Reason> {
    let rules = policy.rules;
    if rules.keep_latest && image.tags.iter().any(|t| t == "latest") {
        return Some(Reason::Latest);
    }
    if let Some(pattern) = image.tags.iter().find_map(|t| policy.tags.first_match(t)) {
        return Some(Reason::TagPattern {
            pattern: pattern.to_string(),
        });
    }
    if let Some(days) = rules.keep_pushed_days {
        if image.pushed_at >= now - i64::from(days) * DAY_MS {
            return Some(Reason::PushedWithin { days });
        }
    }
    if let Some(days) = rules.keep_pulled_days {
        if image
            .last_pulled_at
            .is_some_and(|at| at >= now - i64::from(days) * DAY_MS)
        {
            return Some(Reason::PulledWithin { days });
        }
    }
    if among_last {
        return rules.keep_last.map(|count| Reason::AmongLast { count });
    }
    None
}

#[cfg(test)]
mod tests;
