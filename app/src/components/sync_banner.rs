//! Banners about the index's view of the registry: stale data while the registry does not
//! answer, and the progress of a reconcile, kept up to date by the live stream.

use leptos::prelude::*;

use crate::components::live::use_live_reconcile;
use crate::format::{count, grouped};
use crate::model::{ReconcileProgress, SyncStatus, REGISTRY_UNREACHABLE};

/// The banner on index pages when the registry does not answer: the data may be stale. The
/// error's detail comes only to administrators (others get [`REGISTRY_UNREACHABLE`], not
/// repeated here).
#[component]
pub fn StaleBanner(status: SyncStatus) -> impl IntoView {
    status.registry_error.map(|error| {
        let detail = (error != REGISTRY_UNREACHABLE).then_some(error);
        view! {
            <div class="banner banner-warning" role="status">
                <strong>"The registry cannot be reached; what you see may be out of date. "</strong>
                {detail}
            </div>
        }
    })
}

/// A reconcile's progress as a bar with "Indexing 420 of 1,002 repositories · 12 per second ·
/// about 48 s left", following the live stream from `initial` (what the page was rendered with).
/// `every_run`: shown for any reconcile (Settings); otherwise only while the first index is built
/// (the catalog), when the pages are still filling.
#[component]
pub fn IndexingProgress(initial: ReconcileProgress, #[prop(optional)] every_run: bool) -> impl IntoView {
    let progress = use_live_reconcile(initial);
    move || {
        let progress = progress.get();
        (progress.running && (every_run || progress.first_index)).then(|| {
            let (done, total) = if progress.index_ready_at_ms.is_some() {
                (progress.details_done, progress.details_total)
            } else {
                (progress.repositories_done, progress.repositories_total)
            };
            let bar = if total == 0 {
                // The catalog is still being read: an indeterminate bar.
                view! { <progress aria-label="Indexing progress"></progress> }.into_any()
            } else {
                view! { <progress aria-label="Indexing progress" max=total.to_string() value=done.to_string()></progress> }
                    .into_any()
            };
            let title = if progress.first_index {
                "Wharf is building its index of the registry."
            } else {
                "Reconcile running."
            };
            view! {
                <div class="banner banner-info indexing" role="status" aria-live="polite">
                    <strong>{title}</strong>
                    " "
                    {bar}
                    " "
                    <span class="indexing-text">{progress_text(&progress)}</span>
                    {progress.first_index.then(|| view! {
                        <span class="hint">" Repositories appear below as they are read; the rest are still coming."</span>
                    })}
                </div>
            }
        })
    }
}

/// "Indexing 420 of 1,002 repositories · 12 per second · about 48 s left".
pub fn progress_text(progress: &ReconcileProgress) -> String {
    let (done, total) = (progress.repositories_done, progress.repositories_total);
    if total == 0 {
        return "Reading the registry's catalog…".to_string();
    }
    if progress.index_ready_at_ms.is_some() {
        return format!(
            "All {} indexed; reading image details (platform, creation time, labels): {} of {}",
            count(total as i64, "repository", "repositories"),
            grouped(progress.details_done as i64),
            grouped(progress.details_total as i64)
        );
    }
    let mut text = format!(
        "Indexing {} of {}",
        grouped(done as i64),
        count(total as i64, "repository", "repositories")
    );
    if let Some(rate) = progress.rate_per_sec() {
        let rate = if rate >= 10.0 {
            format!("{rate:.0}")
        } else {
            format!("{rate:.1}")
        };
        text.push_str(&format!(" · {rate} per second"));
    }
    if let Some(left) = progress.seconds_left().filter(|_| done < total) {
        text.push_str(&format!(" · about {} left", duration_text(left)));
    }
    text
}

/// "48 s", "3 min", "1 h 5 min".
fn duration_text(secs: u64) -> String {
    match secs {
        0..=59 => format!("{secs} s"),
        60..=3599 => format!("{} min", secs.div_ceil(60)),
        _ => format!("{} h {} min", secs / 3600, (secs % 3600) / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn running(done: u64, total: u64, elapsed_ms: i64) -> ReconcileProgress {
        ReconcileProgress {
            running: true,
            first_index: true,
            repositories_done: done,
            repositories_total: total,
            started_at_ms: Some(1_000_000),
            updated_at_ms: Some(1_000_000 + elapsed_ms),
            ..ReconcileProgress::default()
        }
    }

    #[test]
    fn says_how_far_how_fast_and_how_long() {
        assert_eq!(progress_text(&running(0, 0, 0)), "Reading the registry's catalog…");
        assert_eq!(
            progress_text(&running(420, 1002, 35_000)),
            "Indexing 420 of 1,002 repositories · 12 per second · about 49 s left"
        );
        assert_eq!(progress_text(&running(0, 1, 500)), "Indexing 0 of 1 repository");
        assert_eq!(
            progress_text(&running(10, 10_000, 4_000)),
            "Indexing 10 of 10,000 repositories · 2.5 per second · about 1 h 6 min left"
        );
        assert_eq!(
            progress_text(&running(1000, 1000, 81_000)),
            "Indexing 1,000 of 1,000 repositories · 12 per second"
        );
        assert_eq!(duration_text(120), "2 min");
        let details = ReconcileProgress {
            index_ready_at_ms: Some(1),
            details_done: 5000,
            details_total: 20_000,
            ..running(1000, 1000, 80_000)
        };
        assert_eq!(
            progress_text(&details),
            "All 1,000 repositories indexed; reading image details (platform, creation time, labels): 5,000 of 20,000"
        );
    }
}
