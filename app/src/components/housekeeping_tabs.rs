//! The sub-navigation of the housekeeping pages: storage, retention, garbage collection.

use leptos::prelude::*;
use leptos_router::components::A;

#[component]
pub fn HousekeepingTabs() -> impl IntoView {
    view! {
        <nav class="tabs" aria-label="Housekeeping">
            <A href="/housekeeping/storage">"Storage"</A>
            <A href="/housekeeping/retention">"Retention"</A>
            <A href="/housekeeping/gc">"Garbage collection"</A>
        </nav>
    }
}
