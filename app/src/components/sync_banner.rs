use leptos::prelude::*;

use crate::model::SyncStatus;

/// The banner on index pages when the registry does not answer: the data may be stale.
#[component]
pub fn StaleBanner(status: SyncStatus) -> impl IntoView {
    status.registry_error.map(|error| {
        view! {
            <div class="banner banner-warning" role="status">
                <strong>"The registry cannot be reached; what you see may be out of date. "</strong>
                {error}
            </div>
        }
    })
}
