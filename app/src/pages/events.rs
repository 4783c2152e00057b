use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::api::events::{list_events, RetryEvent};
use crate::components::error_panel::ErrorPanel;
use crate::components::live::use_live_changes;
use crate::format::{human_size, ms_to_display, percent_encode, rfc3339_to_display, short_digest};
use crate::model::{EventsPage as Page, QuarantinedEvent};

/// The Events page's filters, as the address carries them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Filters {
    repository: String,
    action: String,
    pusher: String,
}

impl Filters {
    /// The query string for these filters, `&` joined, without `before`.
    fn query(&self) -> String {
        [
            ("repository", &self.repository),
            ("action", &self.action),
            ("pusher", &self.pusher),
        ]
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| format!("{k}={}", percent_encode(v, true)))
        .collect::<Vec<_>>()
        .join("&")
    }
}

#[component]
pub fn EventsPage() -> impl IntoView {
    let query = use_query_map();
    let cursor = move || query.read().get("before");
    let filters = Memo::new(move |_| {
        let query = query.read();
        Filters {
            repository: query.get("repository").unwrap_or_default(),
            action: query.get("action").unwrap_or_default(),
            pusher: query.get("pusher").unwrap_or_default(),
        }
    });
    let retry = ServerAction::<RetryEvent>::new();
    provide_context(retry);
    let live = use_live_changes();
    let page = Resource::new(
        move || (cursor(), filters.get(), retry.version().get(), live.get()),
        |(cursor, filters, ..)| {
            list_events(
                cursor,
                Some(filters.repository),
                Some(filters.action),
                Some(filters.pusher),
            )
        },
    );
    view! {
        <Title text="Events"/>
        <h1>"Registry events"</h1>
        <p class="hint">"Every push and delete the registry reported, newest first; live."</p>
        <EventFilters filters=filters.get_untracked()/>
        <Transition fallback=|| view! { <p class="loading">"Loading events…"</p> }>
            {move || Suspend::new(async move {
                let newest = cursor().is_none();
                let filters = filters.get_untracked();
                match page.await {
                    Ok(page) => view! { <EventsTable page newest filters/> }.into_any(),
                    Err(error) => view! { <ErrorPanel error/> }.into_any(),
                }
            })}
        </Transition>
    }
}

/// A GET form: works without JavaScript, and the address keeps the filters.
#[component]
fn EventFilters(filters: Filters) -> impl IntoView {
    let action = filters.action.clone();
    view! {
        <form method="get" action="/events" class="toolbar filters" role="search">
            <label class="visually-hidden" for="events-repository">"Repository"</label>
            <input id="events-repository" type="search" name="repository" maxlength="256"
                placeholder="Repository, or namespace/" value=filters.repository/>
            <label class="visually-hidden" for="events-action">"Action"</label>
            <select id="events-action" name="action">
                <option value="" selected=action.is_empty()>"Any action"</option>
                <option value="push" selected=action == "push">"push"</option>
                <option value="delete" selected=action == "delete">"delete"</option>
            </select>
            <label class="visually-hidden" for="events-pusher">"Pushed by"</label>
            <input id="events-pusher" type="search" name="pusher" maxlength="256" placeholder="Pushed by" value=filters.pusher/>
            <button type="submit">"Filter"</button>
        </form>
    }
}

#[component]
fn EventsTable(page: Page, newest: bool, filters: Filters) -> impl IntoView {
    let quarantine = (!page.quarantined.is_empty()).then(|| view! { <QuarantineList items=page.quarantined.clone()/> });
    if page.events.is_empty() {
        return view! {
            {quarantine}
            <div class="panel empty">
                <p><strong>{if filters == Filters::default() { "No events yet." } else { "No events match." }}</strong>
                    " Pushes and deletes show here as the registry reports them."</p>
            </div>
        }
        .into_any();
    }
    let filter_query = filters.query();
    let next = page.next.map(|cursor| {
        let sep = if filter_query.is_empty() { "" } else { "&" };
        format!("/events?{filter_query}{sep}before={}", percent_encode(&cursor, false))
    });
    let newest_href = if filter_query.is_empty() {
        "/events".to_string()
    } else {
        format!("/events?{filter_query}")
    };
    view! {
        {quarantine}
        <table class="data events">
            <thead>
                <tr>
                    <th scope="col">"When"</th>
                    <th scope="col">"Action"</th>
                    <th scope="col">"Repository"</th>
                    <th scope="col">"Tag"</th>
                    <th scope="col">"Digest"</th>
                    <th scope="col">"Size"</th>
                    <th scope="col">"Actor"</th>
                </tr>
            </thead>
            <tbody>
                {page
                    .events
                    .into_iter()
                    .map(|event| {
                        let digest = event.digest.clone().unwrap_or_default();
                        view! {
                            <tr>
                                <td class="time">{rfc3339_to_display(&event.occurred_at)}</td>
                                <td>
                                    <span class=format!("badge action-{}", event.action)>{event.action.clone()}</span>
                                    {event.set_aside.then(|| view! { <SetAside id=event.id.clone() error=event.last_error.clone().unwrap_or_default()/> })}
                                </td>
                                <td class="name">{event.repository}</td>
                                <td>{event.tag.unwrap_or_default()}</td>
                                <td><code title=digest.clone()>{short_digest(&digest)}</code></td>
                                <td class="num">{event.size.map(human_size).unwrap_or_default()}</td>
                                <td>{event.actor.unwrap_or_default()}</td>
                            </tr>
                        }
                    })
                    .collect_view()}
            </tbody>
        </table>
        <nav class="pager" aria-label="Pages">
            {(!newest).then(|| view! { <a href=newest_href>"← Newest"</a> })}
            {next.map(|href| view! { <a href=href rel="next">"Older →"</a> })}
        </nav>
    }
    .into_any()
}

/// Events the registry sent that Wharf could not use: kept aside with the reason. Only
/// administrators get them from the server, so only they see this list.
#[component]
fn QuarantineList(items: Vec<QuarantinedEvent>) -> impl IntoView {
    view! {
        <section class="panel quarantine">
            <h2>"Quarantined events"</h2>
            <p class="hint">
                "The registry sent these, but Wharf cannot use them. They were acknowledged so the registry's queue keeps moving; nothing was applied."
            </p>
            <table class="data">
                <thead>
                    <tr>
                        <th scope="col">"Received"</th>
                        <th scope="col">"Reason"</th>
                        <th scope="col">"Event"</th>
                    </tr>
                </thead>
                <tbody>
                    {items
                        .into_iter()
                        .map(|item| view! {
                            <tr>
                                <td class="time">{ms_to_display(item.received_at_ms)}</td>
                                <td>{item.reason}</td>
                                <td><details><summary>"JSON"</summary><pre class="body">{item.payload}</pre></details></td>
                            </tr>
                        })
                        .collect_view()}
                </tbody>
            </table>
        </section>
    }
}

/// An event the index could not apply: why, and a retry.
#[component]
fn SetAside(id: String, error: String) -> impl IntoView {
    let retry = expect_context::<ServerAction<RetryEvent>>();
    view! {
        <span class="badge badge-danger" title=error.clone()>"not applied"</span>
        <ActionForm action=retry attr:class="inline">
            <input type="hidden" name="id" value=id/>
            <button type="submit" class="link-button" title=error>"Retry"</button>
        </ActionForm>
    }
}
