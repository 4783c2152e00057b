//! The catalog: every repository in the index, searchable as you type, sortable, filterable by
//! namespace, 50 per page. All of it lives in the URL, so a view can be shared and the back
//! button works; without JavaScript the search form submits as a plain GET.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_navigate, use_query_map};
use leptos_router::NavigateOptions;

use crate::api::catalog::list_repositories;
use crate::components::error_panel::ErrorPanel;
use crate::components::format::{count, grouped, human_size, noun, percent_encode};
use crate::components::live::use_live_changes;
use crate::components::pager::Pager;
use crate::components::sync_banner::{IndexingProgress, StaleBanner};
use crate::components::time::TimeAgo;
use crate::components::typing_history::TypingHistory;
use crate::model::{CatalogPage as Page, CatalogQuery, CatalogSort, NamespaceCount, RepositoryRow};

/// The catalog address for a query (defaults left out, so the plain `/` stays plain).
pub fn catalog_href(query: &CatalogQuery) -> String {
    let mut params = Vec::new();
    if !query.search.is_empty() {
        params.push(format!("q={}", percent_encode(&query.search, true)));
    }
    if !query.namespace.is_empty() {
        params.push(format!("ns={}", percent_encode(&query.namespace, true)));
    }
    if query.sort != CatalogSort::default() {
        params.push(format!("sort={}", query.sort.as_param()));
    }
    if query.page > 1 {
        params.push(format!("page={}", query.page));
    }
    if params.is_empty() {
        "/".to_string()
    } else {
        format!("/?{}", params.join("&"))
    }
}

pub use crate::urls::repository as repository_href;

#[component]
pub fn CatalogPage() -> impl IntoView {
    let query_map = use_query_map();
    let query = Memo::new(move |_| {
        let map = query_map.read();
        CatalogQuery {
            search: map.get("q").unwrap_or_default(),
            sort: CatalogSort::from_param(&map.get("sort").unwrap_or_default()),
            namespace: map.get("ns").unwrap_or_default(),
            page: map.get("page").and_then(|p| p.parse().ok()).unwrap_or(1),
        }
    });
    let changes = use_live_changes();
    let page = Resource::new(
        move || (query.get(), changes.get()),
        |(query, _)| list_repositories(query),
    );
    view! {
        <Title text="Catalog"/>
        <h1>"Catalog"</h1>
        <SearchBar query/>
        <Transition fallback=|| view! { <p class="loading">"Loading repositories…"</p> }>
            {move || Suspend::new(async move {
                match page.await {
                    Ok(page) => view! { <CatalogTable page query=query.get_untracked()/> }.into_any(),
                    Err(error) => view! { <ErrorPanel error/> }.into_any(),
                }
            })}
        </Transition>
    }
}

/// Search box, namespace filter and sort: a GET form that also navigates as you type.
#[component]
fn SearchBar(query: Memo<CatalogQuery>) -> impl IntoView {
    let navigate = use_navigate();
    let history = TypingHistory::new();
    let go = move |change: &dyn Fn(&mut CatalogQuery)| {
        let mut next = query.get_untracked();
        change(&mut next);
        next.page = 1;
        navigate(
            &catalog_href(&next),
            NavigateOptions {
                replace: history.replace(),
                scroll: false,
                ..NavigateOptions::default()
            },
        );
    };
    let on_input = {
        let go = go.clone();
        move |ev: leptos::ev::Event| {
            let value = event_target_value(&ev);
            go(&|q: &mut CatalogQuery| q.search = value.clone());
        }
    };
    let on_submit = {
        let go = go.clone();
        move |ev: leptos::ev::SubmitEvent| {
            ev.prevent_default();
            go(&|_: &mut CatalogQuery| {});
        }
    };
    view! {
        <form class="toolbar" method="get" action="/" role="search" on:submit=on_submit>
            <label class="visually-hidden" for="catalog-search">"Search repositories"</label>
            <input
                id="catalog-search"
                type="search"
                name="q"
                placeholder="Search repositories (team/ for a namespace)"
                autocomplete="off"
                value=move || query.read().search.clone()
                prop:value=move || query.read().search.clone()
                on:input=on_input
                on:focus=move |_| history.restart()
            />
            <input type="hidden" name="sort" value=move || query.read().sort.as_param()/>
            <input type="hidden" name="ns" value=move || query.read().namespace.clone()/>
            <button type="submit">"Search"</button>
        </form>
    }
}

#[component]
fn CatalogTable(page: Page, query: CatalogQuery) -> impl IntoView {
    if page.total == 0 {
        if let Some(empty) = empty_catalog(&page) {
            return empty;
        }
    }
    let reconcile = page.sync.reconcile.clone();
    let totals = totals(&page);
    let pages = page.page_count();
    view! {
        <StaleBanner status=page.sync.clone()/>
        <IndexingProgress initial=reconcile/>
        <NamespaceLinks namespaces=page.namespaces query=query.clone()/>
        <div class="table-head">
            <span class="totals">{totals}</span>
            <SortLinks query=query.clone()/>
        </div>
        <table class="data catalog">
            <thead>
                <tr>
                    <th scope="col">"Repository"</th>
                    <th scope="col" class="num">"Tags"</th>
                    <th scope="col" class="num">"Size"</th>
                    <th scope="col">"Last push"</th>
                    <th scope="col">"Pull from"</th>
                </tr>
            </thead>
            <tbody>
                <CatalogRows repositories=page.repositories now=page.generated_at_ms/>
            </tbody>
        </table>
        <Pager
            page=page.page
            pages
            href=move |n| catalog_href(&CatalogQuery { page: n, ..query.clone() })
        />
    }
    .into_any()
}

/// What an empty catalog shows: the first index under way, a registry not read yet, or how to
/// push the first image. `None` while a later reconcile runs (the table shows then).
fn empty_catalog(page: &Page) -> Option<AnyView> {
    let stale = view! { <StaleBanner status=page.sync.clone()/> };
    let reconcile = page.sync.reconcile.clone();
    if reconcile.running && reconcile.first_index {
        return Some(
            view! {
                {stale}
                <IndexingProgress initial=reconcile/>
                <div class="panel empty"><p>"Repositories show here as soon as they are read."</p></div>
            }
            .into_any(),
        );
    }
    if reconcile.running {
        return None;
    }
    if page.sync.registry_error.is_some() {
        return Some(
            view! {
                {stale}
                <div class="panel empty">
                    <p>"Wharf has not been able to read the registry yet. Its repositories show here as soon as it answers."</p>
                </div>
            }
            .into_any(),
        );
    }
    Some(view! { {stale} <EmptyCatalog host=page.registry_host.clone()/> }.into_any())
}

/// "1,234 repositories", or "12 of 1,234 repositories match".
fn totals(page: &Page) -> String {
    if page.matching == page.total {
        count(page.total, "repository", "repositories")
    } else {
        format!(
            "{} of {} {}",
            grouped(page.matching),
            count(page.total, "repository", "repositories"),
            noun(page.matching, "matches", "match")
        )
    }
}

#[component]
fn SortLinks(query: CatalogQuery) -> impl IntoView {
    let links = CatalogSort::ALL
        .into_iter()
        .map(|sort| {
            let href = catalog_href(&CatalogQuery {
                sort,
                page: 1,
                ..query.clone()
            });
            let current = sort == query.sort;
            view! {
                <a href=href aria-current=current.then_some("true") class:current=current>{sort.label()}</a>
            }
        })
        .collect_view();
    view! {
        <nav class="sort" aria-label="Sort by">
            <span class="muted">"Sort:"</span>
            {links}
        </nav>
    }
}

#[component]
fn NamespaceLinks(namespaces: Vec<NamespaceCount>, query: CatalogQuery) -> impl IntoView {
    (!namespaces.is_empty()).then(|| {
        let all_href = catalog_href(&CatalogQuery {
            namespace: String::new(),
            page: 1,
            ..query.clone()
        });
        let links = namespaces
            .iter()
            .map(|ns| {
                let href = catalog_href(&CatalogQuery {
                    namespace: ns.namespace.clone(),
                    page: 1,
                    ..query.clone()
                });
                let current = ns.namespace == query.namespace;
                view! {
                    <a href=href class:current=current aria-current=current.then_some("true")>
                        {ns.namespace.clone()}
                        <span class="count">{ns.repositories}</span>
                    </a>
                }
            })
            .collect_view();
        view! {
            <nav class="namespaces" aria-label="Namespaces">
                <span class="muted">"Namespace:"</span>
                <a href=all_href class:current=query.namespace.is_empty()>"All"</a>
                {links}
            </nav>
        }
    })
}

#[component]
fn CatalogRows(repositories: Vec<RepositoryRow>, now: i64) -> impl IntoView {
    if repositories.is_empty() {
        return view! {
            <tr>
                <td colspan="5" class="empty-row">
                    "No repository matches. "
                    <a href="/">"Clear the search"</a>
                </td>
            </tr>
        }
        .into_any();
    }
    repositories
        .into_iter()
        .map(|repo| {
            let href = repository_href(&repo.name);
            view! {
                <tr>
                    <td class="name"><a href=href>{repo.name.clone()}</a></td>
                    <td class="num">{repo.tag_count}</td>
                    <td class="num">{human_size(repo.size_bytes)}</td>
                    <td>
                        {match repo.last_push_at_ms {
                            Some(at) => view! { <TimeAgo at_ms=at now_ms=now/> }.into_any(),
                            None => view! { <span class="muted">"—"</span> }.into_any(),
                        }}
                    </td>
                    <td><code class="pull">{repo.reference}</code></td>
                </tr>
            }
        })
        .collect_view()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalog_addresses_carry_the_state() {
        assert_eq!(catalog_href(&CatalogQuery::default()), "/");
        assert_eq!(
            catalog_href(&CatalogQuery {
                search: "team/a b".into(),
                sort: CatalogSort::Size,
                namespace: "team".into(),
                page: 3,
            }),
            "/?q=team/a%20b&ns=team&sort=size&page=3"
        );
        assert_eq!(repository_href("team/app"), "/r/team/app");
    }
}
