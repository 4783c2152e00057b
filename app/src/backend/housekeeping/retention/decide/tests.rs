use proptest::prelude::*;

use super::*;
use crate::backend::housekeeping::retention::rules::check;

const NOW: i64 = 1_000 * DAY_MS;

fn image(digest: &str, tags: &[&str], pushed_days_ago: i64) -> ImageFacts {
    ImageFacts {
        digest: digest.into(),
        tags: tags.iter().map(|t| t.to_string()).collect(),
        pushed_at: NOW - pushed_days_ago * DAY_MS,
        last_pulled_at: None,
        children: Vec::new(),
        subject: None,
    }
}

fn run(rules: &RetentionRules, images: &[ImageFacts]) -> Vec<Reason> {
    let tags = check(rules).unwrap();
    decide(&Policy { rules, tags: &tags }, images, NOW)
}

#[test]
fn each_rule_keeps_what_it_names_and_the_rest_goes() {
    let rules = RetentionRules {
        keep_last: Some(1),
        keep_pushed_days: Some(7),
        keep_pulled_days: Some(30),
        keep_tags: vec!["v*".into(), r"^release-\d+$".into()],
        keep_latest: true,
        remove_untagged: true,
    };
    let mut pulled = image("d-pulled", &["old-but-pulled"], 400);
    pulled.last_pulled_at = Some(NOW - 3 * DAY_MS);
    let images = vec![
        image("d-latest", &["latest"], 500),
        image("d-v1", &["v1"], 500),
        image("d-release", &["release-7"], 500),
        image("d-recent", &["dev"], 2),
        pulled,
        image("d-newest", &["ci-99"], 1),
        image("d-old", &["ci-1"], 300),
        image("d-untagged", &[], 300),
    ];
    let reasons = run(&rules, &images);
    assert_eq!(reasons[0], Reason::Latest);
    assert_eq!(reasons[1], Reason::TagPattern { pattern: "v*".into() });
    assert_eq!(
        reasons[2],
        Reason::TagPattern {
            pattern: r"^release-\d+$".into()
        }
    );
    assert_eq!(reasons[3], Reason::PushedWithin { days: 7 });
    assert_eq!(reasons[4], Reason::PulledWithin { days: 30 });
    // The newest is also pushed within 7 days: the earlier rule names it.
    assert_eq!(reasons[5], Reason::PushedWithin { days: 7 });
    assert_eq!(reasons[6], Reason::NoKeepRule);
    assert_eq!(reasons[7], Reason::Untagged);
}

#[test]
fn keep_last_counts_the_most_recently_pushed() {
    let rules = RetentionRules {
        keep_last: Some(2),
        ..Default::default()
    };
    let images = vec![
        image("a", &["1"], 30),
        image("b", &["2"], 10),
        image("c", &["3"], 20),
        image("d", &[], 1),
    ];
    let reasons = run(&rules, &images);
    assert_eq!(reasons[0], Reason::NoKeepRule);
    assert_eq!(reasons[1], Reason::AmongLast { count: 2 });
    assert_eq!(reasons[2], Reason::AmongLast { count: 2 });
    // Untagged images are not removed (nor counted) unless the policy says so.
    assert_eq!(reasons[3], Reason::UntaggedNotTargeted);
}

#[test]
fn latest_goes_when_the_policy_does_not_keep_it() {
    let rules = RetentionRules {
        keep_tags: vec!["v*".into()],
        ..Default::default()
    };
    assert_eq!(run(&rules, &[image("a", &["latest"], 1)])[0], Reason::NoKeepRule);
}

#[test]
fn untagged_only_policy_leaves_tagged_images_alone() {
    let rules = RetentionRules {
        remove_untagged: true,
        ..Default::default()
    };
    let reasons = run(&rules, &[image("a", &["x"], 900), image("b", &[], 900)]);
    assert_eq!(reasons, vec![Reason::TaggedNotTargeted, Reason::Untagged]);
}

#[test]
fn platform_images_and_signatures_follow_their_image() {
    let rules = RetentionRules {
        keep_tags: vec!["keep".into()],
        remove_untagged: true,
        ..Default::default()
    };
    let mut kept_index = image("kept-index", &["keep"], 100);
    kept_index.children = vec!["amd64".into(), "shared".into()];
    let mut gone_index = image("gone-index", &["old"], 100);
    gone_index.children = vec!["arm64".into(), "shared".into()];
    let mut signature = image("sig", &["sha256-gone-index.sig"], 100);
    signature.subject = Some("gone-index".into());
    let mut sbom = image("sbom", &[], 100);
    sbom.subject = Some("kept-index".into());
    let images = vec![
        kept_index,
        gone_index,
        image("amd64", &[], 100),
        image("arm64", &[], 100),
        image("shared", &[], 100),
        signature,
        sbom,
    ];
    let reasons = run(&rules, &images);
    assert_eq!(reasons[0], Reason::TagPattern { pattern: "keep".into() });
    assert_eq!(reasons[1], Reason::NoKeepRule);
    assert_eq!(
        reasons[2],
        Reason::InKeptIndex {
            index: "kept-index".into()
        }
    );
    assert_eq!(
        reasons[3],
        Reason::WithRemovedIndex {
            index: "gone-index".into()
        }
    );
    assert_eq!(
        reasons[4],
        Reason::InKeptIndex {
            index: "kept-index".into()
        }
    );
    assert_eq!(
        reasons[5],
        Reason::AttachedToRemoved {
            subject: "gone-index".into()
        }
    );
    assert_eq!(
        reasons[6],
        Reason::AttachedToKept {
            subject: "kept-index".into()
        }
    );
}

#[test]
fn a_reference_cycle_keeps_its_images() {
    let rules = RetentionRules {
        remove_untagged: true,
        ..Default::default()
    };
    let mut a = image("a", &[], 100);
    a.children = vec!["b".into()];
    let mut b = image("b", &[], 100);
    b.children = vec!["a".into()];
    let reasons = run(&rules, &[a, b]);
    assert!(reasons.iter().all(Reason::keeps), "{reasons:?}");
}

/// A repository: plain images, indexes over some of them, and referrers attached to some.
fn repository() -> impl Strategy<Value = Vec<ImageFacts>> {
    let plain = prop::collection::vec((prop::option::of(0..6u8), 0..60i64, prop::option::of(0..60i64)), 1..14);
    (
        plain,
        prop::collection::vec(prop::collection::vec(any::<prop::sample::Index>(), 1..4), 0..4),
        prop::collection::vec((any::<prop::sample::Index>(), any::<bool>()), 0..5),
    )
        .prop_map(|(plain, indexes, referrers)| {
            let mut images: Vec<ImageFacts> = plain
                .iter()
                .enumerate()
                .map(|(i, (tag, days, pulled))| {
                    let tags =
                        tag.map(|t| vec![["latest", "v1", "v2", "dev", "ci-1", "release-3"][t as usize].to_string()]);
                    let mut facts = image(&format!("img{i}"), &[], *days);
                    facts.tags = tags.unwrap_or_default();
                    facts.last_pulled_at = pulled.map(|d| NOW - d * DAY_MS);
                    facts
                })
                .collect();
            let count = images.len();
            for (n, members) in indexes.iter().enumerate() {
                let mut index = image(
                    &format!("index{n}"),
                    &[["latest", "v9", "nightly"][n % 3]],
                    n as i64 * 20,
                );
                index.children = members.iter().map(|m| format!("img{}", m.index(count))).collect();
                images.push(index);
            }
            let targets = images.len();
            for (n, (subject, tagged)) in referrers.iter().enumerate() {
                let subject = images[subject.index(targets)].digest.clone();
                let mut referrer = image(&format!("ref{n}"), &[], 50);
                if *tagged {
                    referrer.tags = vec![format!("sha256-{subject}.sig")];
                }
                referrer.subject = Some(subject);
                images.push(referrer);
            }
            images
        })
}

fn rules() -> impl Strategy<Value = RetentionRules> {
    (
        prop::option::of(1..5u32),
        prop::option::of(1..60u32),
        prop::option::of(1..60u32),
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(
            |(keep_last, pushed, pulled, patterns, keep_latest, remove_untagged)| RetentionRules {
                keep_last,
                keep_pushed_days: pushed,
                keep_pulled_days: pulled,
                keep_tags: if patterns {
                    vec!["v*".into(), r"^release-\d+$".into()]
                } else {
                    Vec::new()
                },
                keep_latest,
                remove_untagged,
            },
        )
        .prop_filter("a policy has a rule", |r| r.has_keep_rule() || r.remove_untagged)
}

proptest! {
    #[test]
    fn what_belongs_to_a_kept_image_is_kept_and_goes_only_with_it(images in repository(), rules in rules()) {
        let reasons = run(&rules, &images);
        let kept = |digest: &str| images.iter().position(|f| f.digest == digest).map(|i| reasons[i].keeps());
        for (image, reason) in images.iter().zip(&reasons) {
            if reason.keeps() {
                for child in &image.children {
                    prop_assert_eq!(kept(child), Some(true), "child {} of kept {}", child, image.digest);
                }
            }
            if let Some(subject) = &image.subject {
                // A referrer is removed exactly when its image is.
                prop_assert_eq!(kept(subject), Some(reason.keeps()), "referrer {}", image.digest);
            }
            if rules.keep_latest && image.tags.iter().any(|t| t == "latest") && image.subject.is_none() {
                prop_assert!(reason.keeps());
            }
            if !rules.has_keep_rule() && !image.tags.is_empty() && image.subject.is_none() {
                prop_assert!(reason.keeps(), "a tagged image under an untagged-only policy");
            }
        }
        let among = reasons.iter().filter(|r| matches!(r, Reason::AmongLast { .. })).count();
        prop_assert!(among <= rules.keep_last.unwrap_or(0) as usize);
    }

    #[test]
    fn another_keep_rule_never_removes_more(images in repository(), rules in rules(), days in 1..60u32) {
        let before = run(&rules, &images);
        let more = RetentionRules { keep_pushed_days: Some(rules.keep_pushed_days.map_or(days, |d| d.max(days))), ..rules.clone() };
        let after = run(&more, &images);
        for (b, a) in before.iter().zip(&after) {
            prop_assert!(!b.keeps() || a.keeps() || !rules.has_keep_rule());
        }
    }
}
