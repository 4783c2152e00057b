use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::api::events::{list_events, RetryEvent};
use crate::components::error_panel::ErrorPanel;
use crate::components::format::{human_size, ms_to_display, percent_encode, rfc3339_to_display, short_digest};
use crate::model::{EventsPage as Page, QuarantinedEvent};

#[component]
pub fn EventsPage() -> impl IntoView {
    let query = use_query_map();
    let cursor = move || query.read().get("before");
    let retry = ServerAction::<RetryEvent>::new();
    provide_context(retry);
    let page = Resource::new(
        move || (cursor(), retry.version().get()),
        |(cursor, _)| list_events(cursor),
    );
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
    let quarantine = (!page.quarantined.is_empty()).then(|| view! { <QuarantineList items=page.quarantined.clone()/> });
    if page.events.is_empty() {
        return view! {
            {quarantine}
            <div class="panel empty">
                <p><strong>"No events yet."</strong>" Pushes and deletes show here as the registry reports them."</p>
            </div>
        }
        .into_any();
    }
    let next = page
        .next
        .map(|cursor| format!("/events?before={}", percent_encode(&cursor, false)));
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
            {(!newest).then(|| view! { <a href="/events">"← Newest"</a> })}
            {next.map(|href| view! { <a href=href rel="next">"Older →"</a> })}
        </nav>
    }
    .into_any()
}

/// Events the registry sent that Wharf could not use: kept aside with the reason.
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
