//! The audit log: who signed in (or failed to), changed users, teams, roles, robots, tokens and
//! webhooks, deleted images, or was refused a token. Filters live in the URL, so the page works
//! without JavaScript and a filtered view can be shared.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::api::audit::read_audit_log;
use crate::components::error_panel::ErrorPanel;
use crate::format::{count, ms_to_display, percent_encode};
use crate::model::{AuditEntryView, AuditPage};

#[derive(Clone, Debug, PartialEq, Default)]
struct Filters {
    actor: String,
    action: String,
    since: String,
    cursor: String,
}

impl Filters {
    /// The address of this view with another cursor.
    fn href(&self, cursor: &str) -> String {
        let mut params = Vec::new();
        for (key, value) in [("actor", &self.actor), ("action", &self.action), ("since", &self.since)] {
            if !value.is_empty() {
                params.push(format!("{key}={}", percent_encode(value, false)));
            }
        }
        if !cursor.is_empty() {
            params.push(format!("cursor={}", percent_encode(cursor, false)));
        }
        if params.is_empty() {
            "/audit".to_string()
        } else {
            format!("/audit?{}", params.join("&"))
        }
    }
}

#[component]
pub fn AuditLogPage() -> impl IntoView {
    let query = use_query_map();
    let filters = Memo::new(move |_| {
        let map = query.read();
        Filters {
            actor: map.get("actor").unwrap_or_default(),
            action: map.get("action").unwrap_or_default(),
            since: map.get("since").unwrap_or_default(),
            cursor: map.get("cursor").unwrap_or_default(),
        }
    });
    let data = Resource::new(
        move || filters.get(),
        |f| read_audit_log(f.actor, f.action, f.since, f.cursor),
    );
    view! {
        <Title text="Audit log"/>
        <h1>"Audit log"</h1>
        <Transition fallback=|| view! { <p class="loading">"Loading the audit log…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(page) => view! { <AuditBody page filters=filters.get_untracked()/> }.into_any(),
                    Err(error) => view! { <ErrorPanel error/> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn AuditBody(page: AuditPage, filters: Filters) -> impl IntoView {
    let options = page
        .actions
        .iter()
        .map(|action| {
            let selected = *action == filters.action;
            view! { <option value=action.clone() selected=selected>{action.clone()}</option> }
        })
        .collect_view();
    let older = page.next.as_ref().map(|cursor| {
        let href = filters.href(cursor);
        view! { <a class="button" href=href>"Older entries"</a> }
    });
    let newest = (!filters.cursor.is_empty()).then(|| {
        let href = filters.href("");
        view! { <a class="button" href=href>"Newest"</a> }
    });
    view! {
        <p class="hint">{format!(
            "Kept {} (--audit-retention-days). Refused tokens and failed sign-ins are counted per name, target and hour.",
            count(page.retention_days as i64, "day", "days")
        )}</p>
        <form method="get" action="/audit" class="form-row">
            <label>"Actor" <input type="text" name="actor" value=filters.actor.clone() maxlength="256" placeholder="user or robot name"/></label>
            <label>"Action"
                <select name="action">
                    <option value="" selected=filters.action.is_empty()>"any"</option>
                    {options}
                </select>
            </label>
            <label>"Since (UTC date)" <input type="date" name="since" value=filters.since.clone()/></label>
            <button type="submit">"Filter"</button>
        </form>
        {if page.entries.is_empty() {
            view! { <p class="panel empty">"No entries match."</p> }.into_any()
        } else {
            view! {
                <table class="data audit">
                    <thead>
                        <tr>
                            <th scope="col">"When"</th>
                            <th scope="col">"Who"</th>
                            <th scope="col">"What"</th>
                            <th scope="col">"On"</th>
                            <th scope="col">"Details"</th>
                            <th scope="col">"From"</th>
                        </tr>
                    </thead>
                    <tbody>
                        {page.entries.into_iter().map(|entry| view! { <AuditRow entry/> }).collect_view()}
                    </tbody>
                </table>
            }
            .into_any()
        }}
        <div class="pager">{newest} {older}</div>
    }
}

#[component]
fn AuditRow(entry: AuditEntryView) -> impl IntoView {
    let times = (entry.count > 1).then(|| view! { " " <span class="badge">{format!("×{}", entry.count)}</span> });
    view! {
        <tr>
            <td class="time">{ms_to_display(entry.at_ms)}</td>
            <td>{entry.actor}</td>
            <td>{entry.action} {times}</td>
            <td><code>{entry.target}</code></td>
            <td>{entry.detail}</td>
            <td class="muted">{entry.address}</td>
        </tr>
    }
}
