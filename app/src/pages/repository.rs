//! A repository: its images (one row per digest, with every tag on it), newest push first,
//! filterable and paged; labels; pull commands; delete.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_navigate, use_query_map};
use leptos_router::NavigateOptions;

use super::catalog::repository_href;
use super::delete_forms::DeleteForms;
use super::not_found::NotFound;
use super::reference::manifest_href;
use super::repository_access::RepositoryAccess;
use crate::api::images::{DeleteImage, DeleteTag};
use crate::api::repository::repository;
use crate::components::copy_button::CopyButton;
use crate::components::error_panel::ErrorPanel;
use crate::components::live::use_live_changes;
use crate::components::pager::Pager;
use crate::components::pull_commands::PullCommands;
use crate::components::sync_banner::StaleBanner;
use crate::components::time::{CreatedAt, LastPull, TimeAgo};
use crate::components::typing_history::TypingHistory;
use crate::format::{human_size, percent_encode, short_digest};
use crate::model::{AppError, ImageRow, Label, RepositoryView};

fn repository_query_href(name: &str, filter: &str, page: u32) -> String {
    let mut params = Vec::new();
    if !filter.is_empty() {
        params.push(format!("filter={}", percent_encode(filter, false)));
    }
    if page > 1 {
        params.push(format!("page={page}"));
    }
    let base = repository_href(name);
    if params.is_empty() {
        base
    } else {
        format!("{base}?{}", params.join("&"))
    }
}

#[component]
pub fn RepositoryPage(name: String) -> impl IntoView {
    let query = use_query_map();
    let filter = Memo::new(move |_| query.read().get("filter").unwrap_or_default());
    let access_tab = Memo::new(move |_| query.read().get("tab").as_deref() == Some("access"));
    let page_number = Memo::new(move |_| query.read().get("page").and_then(|p| p.parse().ok()).unwrap_or(1u32));
    let changes = use_live_changes();
    let delete_image = ServerAction::<DeleteImage>::new();
    let delete_tag = ServerAction::<DeleteTag>::new();
    let name_for_source = name.clone();
    let view_data = Resource::new(
        move || {
            (
                name_for_source.clone(),
                filter.get(),
                page_number.get(),
                changes.get(),
                delete_image.version().get() + delete_tag.version().get(),
            )
        },
        |(name, filter, page, _, _)| repository(name, filter, page),
    );
    let title = name.clone();
    view! {
        <Title text=title.clone()/>
        <nav class="breadcrumbs" aria-label="Breadcrumbs">
            <a href="/">"Catalog"</a>
            " / "
            <span>{title.clone()}</span>
        </nav>
        <h1 class="repo-name">{title}</h1>
        <nav class="tabs" aria-label="Repository sections">
            <a href=repository_href(&name) aria-current=move || (!access_tab.get()).then_some("page")>"Tags"</a>
            <a href=format!("{}?tab=access", repository_href(&name)) aria-current=move || access_tab.get().then_some("page")>"Access"</a>
        </nav>
        <Show when=move || access_tab.get()>
            <RepositoryAccess name=name.clone()/>
        </Show>
        <Show when=move || !access_tab.get()>
            <DeleteMessages delete_image delete_tag/>
            <Transition fallback=|| view! { <p class="loading">"Loading tags…"</p> }>
                {move || Suspend::new(async move {
                    match view_data.await {
                        Ok(view_data) => view! { <RepositoryBody view_data filter delete_image delete_tag/> }.into_any(),
                        Err(AppError::NotFound(_)) => view! { <NotFound/> }.into_any(),
                        Err(error) => view! { <ErrorPanel error/> }.into_any(),
                    }
                })}
            </Transition>
        </Show>
    }
}

/// The outcome of the last delete, success or error.
#[component]
pub fn DeleteMessages(delete_image: ServerAction<DeleteImage>, delete_tag: ServerAction<DeleteTag>) -> impl IntoView {
    let outcome = RwSignal::new(None);
    Effect::new(move |_| {
        if let Some(result) = delete_image.value().get() {
            outcome.set(Some(result));
        }
    });
    Effect::new(move |_| {
        if let Some(result) = delete_tag.value().get() {
            outcome.set(Some(result));
        }
    });
    let message = move || outcome.get();
    move || {
        message().map(|result| match result {
            Ok(outcome) => view! {
                <div class="banner banner-ok" role="status">
                    {outcome.message}
                    " Disk space is freed only when the registry's garbage collection runs ("
                    <a href="https://github.com/distribution/distribution/blob/main/docs/content/about/garbage-collection.md">"how"</a>
                    ", and docs/garbage-collection.md)."
                </div>
            }
            .into_any(),
            Err(error) => view! { <div class="banner banner-error" role="alert">{error.to_string()}</div> }.into_any(),
        })
    }
}

#[component]
fn RepositoryBody(
    view_data: RepositoryView,
    filter: Memo<String>,
    delete_image: ServerAction<DeleteImage>,
    delete_tag: ServerAction<DeleteTag>,
) -> impl IntoView {
    let can_delete = Signal::derive({
        let allowed = view_data.can_delete;
        move || allowed
    });
    let newest = view_data.images.first().cloned();
    let name = view_data.name.clone();
    let host = view_data.registry_host.clone();
    let reference = format!("{host}/{name}");
    let stats = format!(
        "{} · {} · ",
        crate::format::count(view_data.tag_count, "tag", "tags"),
        human_size(view_data.size_bytes)
    );
    let now = view_data.generated_at_ms;
    let last_push = view_data.last_push_at_ms;
    let pages = view_data.page_count();
    let page = view_data.page;
    let pager_name = name.clone();
    let pager_filter = filter.get_untracked();
    let rows = if view_data.images.is_empty() {
        let text = if filter.get_untracked().is_empty() {
            "This repository has no tags. Its images were deleted, or only untagged manifests are left."
        } else {
            "No tag matches the filter."
        };
        view! { <tr><td colspan="8" class="empty-row">{text}</td></tr> }.into_any()
    } else {
        view_data
            .images
            .into_iter()
            .map(|image| view! { <ImageRowView repository=name.clone() image now can_delete delete_image delete_tag/> })
            .collect_view()
            .into_any()
    };
    view! {
        <StaleBanner status=view_data.sync/>
        <p class="repo-meta">
            <code class="pull">{reference.clone()}</code>
            <CopyButton text=reference/>
            <span class="muted">
                {stats}
                {match last_push {
                    Some(at) => view! { "last push " <TimeAgo at_ms=at now_ms=now/> }.into_any(),
                    None => view! { "never pushed" }.into_any(),
                }}
            </span>
        </p>
        <Labels labels=view_data.labels/>
        <TagFilter name=name.clone() filter/>
        <table class="data tags">
            <thead>
                <tr>
                    <th scope="col">"Tags"</th>
                    <th scope="col">"Digest"</th>
                    <th scope="col">"Platforms"</th>
                    <th scope="col" class="num">"Size"</th>
                    <th scope="col">"Created"</th>
                    <th scope="col">"Pushed"</th>
                    <th scope="col">"Pulled"</th>
                    <th scope="col"><span class="visually-hidden">"Actions"</span></th>
                </tr>
            </thead>
            <tbody>{rows}</tbody>
        </table>
        <Pager page pages href=move |n| repository_query_href(&pager_name, &pager_filter, n)/>
        {newest.map(|image| {
            view! {
                <PullCommands
                    host=host.clone()
                    repository=name.clone()
                    tag=image.tags.first().cloned()
                    digest=Some(image.digest.clone())
                />
            }
        })}
    }
}

#[component]
fn Labels(labels: Vec<Label>) -> impl IntoView {
    (!labels.is_empty()).then(|| {
        view! {
            <dl class="labels panel">
                {labels
                    .into_iter()
                    .map(|label| {
                        let key = label.key.trim_start_matches("org.opencontainers.image.").to_string();
                        view! {
                            <dt title=label.key.clone()>{key}</dt>
                            <dd>
                                {match label.link {
                                    // An image's label may point anywhere, this console's own server routes included.
                                    Some(href) => view! { <a href=href rel="external noopener noreferrer nofollow">{label.value}</a> }.into_any(),
                                    None => view! { <span>{label.value}</span> }.into_any(),
                                }}
                            </dd>
                        }
                    })
                    .collect_view()}
            </dl>
        }
    })
}

/// The tag filter: a GET form, filtering as you type with JavaScript.
#[component]
fn TagFilter(name: String, filter: Memo<String>) -> impl IntoView {
    let navigate = use_navigate();
    let action = repository_href(&name);
    let history = TypingHistory::new();
    let go = move |value: String| {
        navigate(
            &repository_query_href(&name, &value, 1),
            NavigateOptions {
                replace: history.replace(),
                scroll: false,
                ..NavigateOptions::default()
            },
        );
    };
    let on_input = {
        let go = go.clone();
        move |ev: leptos::ev::Event| go(event_target_value(&ev))
    };
    view! {
        <form class="toolbar" method="get" action=action role="search" on:submit=|ev| ev.prevent_default()>
            <label class="visually-hidden" for="tag-filter">"Filter tags"</label>
            <input
                id="tag-filter"
                type="search"
                name="filter"
                placeholder="Filter tags"
                autocomplete="off"
                value=move || filter.get()
                prop:value=move || filter.get()
                on:input=on_input
                on:focus=move |_| history.restart()
            />
            <button type="submit">"Filter"</button>
        </form>
    }
}

#[component]
fn ImageRowView(
    repository: String,
    image: ImageRow,
    now: i64,
    can_delete: Signal<bool>,
    delete_image: ServerAction<DeleteImage>,
    delete_tag: ServerAction<DeleteTag>,
) -> impl IntoView {
    let href = manifest_href(&repository, &image.digest);
    let platforms = if image.platforms.is_empty() {
        view! { <span class="muted">{image.kind.clone()}</span> }.into_any()
    } else {
        let multi = image.platforms.len() > 1;
        image
            .platforms
            .iter()
            .map(|p| {
                let title = if multi {
                    format!("{} · {}", short_digest(&p.digest), human_size(p.size))
                } else {
                    short_digest(&p.digest)
                };
                view! {
                    <span class="platform" title=title>
                        {p.label()}
                        {multi.then(|| view! { <small class="muted">{format!(" {}", human_size(p.size))}</small> })}
                    </span>
                }
            })
            .collect_view()
            .into_any()
    };
    let attachments = image
        .attachments
        .iter()
        .map(|a| {
            view! { <span class=format!("badge badge-{}", a.kind) title=a.tag.clone()>{a.kind.clone()}</span> }
        })
        .collect_view();
    let tags = image.tags.clone();
    let digest = image.digest.clone();
    view! {
        <tr>
            <td class="tag-list">
                {image.tags.iter().map(|t| view! { <span class="tag">{t.clone()}</span> }).collect_view()}
                {image.tags.is_empty().then(|| view! { <span class="muted">"untagged"</span> })}
                {attachments}
            </td>
            <td class="digest">
                <a href=href><code>{short_digest(&image.digest)}</code></a>
                <CopyButton text=image.digest.clone()/>
            </td>
            <td class="platforms">{platforms}</td>
            <td class="num">{human_size(image.size)}</td>
            <td><CreatedAt created=image.created.clone()/></td>
            <td><TimeAgo at_ms=image.pushed_at_ms now_ms=now estimated=image.push_estimated/></td>
            <td><LastPull pulls=image.pulls now_ms=now/></td>
            <td class="actions">
                {move || {
                    can_delete
                        .get()
                        .then(|| {
                            view! {
                                <DeleteForms
                                    repository=repository.clone()
                                    digest=digest.clone()
                                    tags=tags.clone()
                                    delete_image
                                    delete_tag
                                />
                            }
                        })
                }}
            </td>
        </tr>
    }
}
