use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::api::catalog::list_repositories;
use crate::components::error_panel::ErrorPanel;
use crate::components::format::percent_encode;
use crate::model::CatalogPage as Page;

#[component]
pub fn CatalogPage() -> impl IntoView {
    let query = use_query_map();
    let last = move || query.read().get("last");
    let page = Resource::new(last, list_repositories);
    view! {
        <Title text="Catalog"/>
        <h1>"Catalog"</h1>
        <Transition fallback=|| view! { <p class="loading">"Loading repositories…"</p> }>
            {move || Suspend::new(async move {
                let first = last().is_none();
                match page.await {
                    Ok(page) => view! { <CatalogTable page first/> }.into_any(),
                    Err(error) => view! { <ErrorPanel error/> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn CatalogTable(page: Page, first: bool) -> impl IntoView {
    if let Some(error) = page.registry_error {
        return view! {
            <div class="banner banner-error" role="alert">
                <strong>"The registry cannot be reached. "</strong>
                {error}
                " Check that it is running; this page shows repositories as soon as it answers again."
            </div>
        }
        .into_any();
    }
    if page.repositories.is_empty() {
        return view! { <EmptyCatalog host=page.registry_host/> }.into_any();
    }
    let next = page.next.map(|last| format!("/?last={}", percent_encode(&last, false)));
    view! {
        <table class="data catalog">
            <thead>
                <tr>
                    <th scope="col">"Repository"</th>
                    <th scope="col">"Image"</th>
                </tr>
            </thead>
            <tbody>
                {page
                    .repositories
                    .into_iter()
                    .map(|repo| {
                        view! {
                            <tr>
                                <td class="name">{repo.name}</td>
                                <td><code class="pull">{repo.reference}</code></td>
                            </tr>
                        }
                    })
                    .collect_view()}
            </tbody>
        </table>
        <nav class="pager" aria-label="Pages">
            {(!first).then(|| view! { <a href="/">"← First page"</a> })}
            {next.map(|href| view! { <a href=href rel="next">"Next page →"</a> })}
        </nav>
    }
    .into_any()
}

/// What to type to get the first image in.
#[component]
fn EmptyCatalog(host: String) -> impl IntoView {
    view! {
        <div class="panel empty">
            <p><strong>"No repositories yet."</strong>" Push an image to see it here:"</p>
            <pre class="commands">
                {format!("docker login {host}\ndocker tag alpine:latest {host}/demo/alpine:latest\ndocker push {host}/demo/alpine:latest")}
            </pre>
        </div>
    }
}
