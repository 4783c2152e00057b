use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::api::events::list_events;
use crate::components::error_panel::ErrorPanel;
use crate::components::format::{human_size, percent_encode, rfc3339_to_display, short_digest};
use crate::model::EventsPage as Page;

#[component]
pub fn EventsPage() -> impl IntoView {
    let query = use_query_map();
    let cursor = move || query.read().get("before");
    let page = Resource::new(cursor, list_events);
    view! {
        <Title text="Events"/>
        <h1>"Registry events"</h1>
        <p class="hint">"Every push and delete the registry reported, newest first."</p>
        <Transition fallback=|| view! { <p class="loading">"Loading events…"</p> }>
            {move || Suspend::new(async move {
                let newest = cursor().is_none();
                match page.await {
                    Ok(page) => view! { <EventsTable page newest/> }.into_any(),
                    Err(error) => view! { <ErrorPanel error/> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn EventsTable(page: Page, newest: bool) -> impl IntoView {
    if page.events.is_empty() {
        return view! {
            <div class="panel empty">
                <p><strong>"No events yet."</strong>" Pushes and deletes show here as the registry reports them."</p>
            </div>
        }
        .into_any();
    }
    let total = page.total;
    let next = page
        .next
        .map(|cursor| format!("/events?before={}", percent_encode(&cursor, false)));
    view! {
        <p class="totals">{format!("{total} events stored")}</p>
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
                                <td><span class=format!("badge action-{}", event.action)>{event.action.clone()}</span></td>
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
            {(!newest).then(|| view! { <a href="/events">"← Newest"</a> })}
            {next.map(|href| view! { <a href=href rel="next">"Older →"</a> })}
        </nav>
    }
    .into_any()
}
