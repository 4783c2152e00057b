//! The sub-navigation of the housekeeping pages.

use leptos::prelude::*;
use leptos_router::components::A;

use crate::urls;

/// Storage · Retention · Garbage collection, the current one marked.
#[component]
pub fn HousekeepingTabs() -> impl IntoView {
    view! {
        <nav class="tabs" aria-label="Housekeeping">
            <A href=urls::STORAGE>"Storage"</A>
            <A href=urls::RETENTION>"Retention"</A>
            <A href=urls::GC>"Garbage collection"</A>
        </nav>
    }
}
