use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(axum::http::StatusCode::NOT_FOUND);
    }
    view! {
        <Title text="Not found"/>
        <h1>"Page not found"</h1>
        <div class="panel empty">
            <p>"There is nothing at this address."</p>
            <a class="button" href="/">"Go to the catalog"</a>
        </div>
    }
}
