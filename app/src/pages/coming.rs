use leptos::prelude::*;
use leptos_meta::Title;

/// A section that is planned but not built yet.
#[component]
pub fn ComingPage(title: &'static str, what: &'static str) -> impl IntoView {
    view! {
        <Title text=title/>
        <h1>{title}</h1>
        <div class="panel empty">
            <p><strong>"Coming soon."</strong></p>
            <p>{what}</p>
        </div>
    }
}
