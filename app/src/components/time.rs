use leptos::prelude::*;

use crate::format::{ms_to_display, rfc3339_to_display, time_ago};

/// "5 minutes ago", with the exact time on hover; marked when the time is an estimate.
#[component]
pub fn TimeAgo(at_ms: i64, now_ms: i64, #[prop(optional)] estimated: bool) -> impl IntoView {
    let exact = ms_to_display(at_ms);
    let title = if estimated {
        format!("{exact} (estimated from the image's creation time: Wharf did not see this push)")
    } else {
        exact.clone()
    };
    view! {
        <time datetime=exact title=title class:estimated=estimated>
            {time_ago(at_ms, now_ms)}
            {estimated.then_some("*")}
        </time>
    }
}

/// When clients last pulled an image and how often ("never" when none has since Wharf counts).
#[component]
pub fn LastPull(pulls: Option<crate::model::PullStats>, now_ms: i64) -> impl IntoView {
    match pulls {
        Some(pulls) => view! {
            <span class="last-pull">
                <TimeAgo at_ms=pulls.last_pulled_at_ms now_ms/>
                <small class="muted pull-count">
                    {format!(" · {}", crate::format::count(pulls.pull_count, "pull", "pulls"))}
                </small>
            </span>
        }
        .into_any(),
        None => view! { <span class="muted last-pull">"never"</span> }.into_any(),
    }
}

/// An RFC 3339 time as written in an image config, shown as is (UTC when it says so).
#[component]
pub fn CreatedAt(created: Option<String>) -> impl IntoView {
    match created {
        Some(created) => view! { <time datetime=created.clone()>{rfc3339_to_display(&created)}</time> }.into_any(),
        None => view! { <span class="muted">"—"</span> }.into_any(),
    }
}
