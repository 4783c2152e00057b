//! Repository → Access: who can do what here, and through which assignment. Shown to those who
//! manage access over the repository; the "Why?" explainer answers for one person.

use leptos::prelude::*;

use crate::api::access::repository_access;
use crate::components::error_panel::ErrorPanel;
use crate::model::{RepositoryAccessEntry, RepositoryAccessView};

#[component]
pub fn RepositoryAccess(name: String) -> impl IntoView {
    let data = Resource::new(move || name.clone(), repository_access);
    view! {
        <Transition fallback=|| view! { <p class="loading">"Loading access…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(view_data) => view! { <AccessTable view_data/> }.into_any(),
                    Err(error) => view! { <ErrorPanel error/> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn AccessTable(view_data: RepositoryAccessView) -> impl IntoView {
    if view_data.entries.is_empty() {
        return view! { <p class="panel empty">"No role reaches this repository: only the console itself can use it."</p> }
            .into_any();
    }
    view! {
        <p class="hint">
            "Every role assignment whose scope covers " <code>{view_data.repository.clone()}</code>
            ". Team roles apply to each member. "
            <a href="/access?tab=why">"Why? — ask about one person"</a>
        </p>
        <table class="data repository-access">
            <thead>
                <tr>
                    <th scope="col">"Who"</th>
                    <th scope="col">"Role"</th>
                    <th scope="col">"Through the scope"</th>
                    <th scope="col">"May here"</th>
                </tr>
            </thead>
            <tbody>
                {view_data.entries.into_iter().map(|entry| view! { <AccessRow entry/> }).collect_view()}
            </tbody>
        </table>
    }
    .into_any()
}

#[component]
fn AccessRow(entry: RepositoryAccessEntry) -> impl IntoView {
    let a = entry.assignment;
    view! {
        <tr>
            <td><span class="badge">{a.principal_kind.clone()}</span> " " {a.principal_name.clone()}</td>
            <td>{a.role.clone()}</td>
            <td><code>{a.scope_label()}</code></td>
            <td>{entry.actions.join(", ")}</td>
        </tr>
    }
}
