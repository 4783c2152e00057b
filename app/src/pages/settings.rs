//! Settings: which registry mode is on, what each mode can and cannot do, the notification
//! stanza for a registry Wharf does not manage, and the index's reconcile with a Resync button.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::sync::{settings, Resync};
use crate::components::copy_button::CopyButton;
use crate::components::error_panel::ErrorPanel;
use crate::components::live::use_live_changes;
use crate::components::sync_banner::IndexingProgress;
use crate::format::ms_to_display;
use crate::model::{ReconcileProgress, SettingsView};

#[component]
pub fn SettingsPage() -> impl IntoView {
    let resync = ServerAction::<Resync>::new();
    let changes = use_live_changes();
    let data = Resource::new(move || (resync.version().get(), changes.get()), |_| settings());
    view! {
        <Title text="Settings"/>
        <h1>"Settings"</h1>
        <Transition fallback=|| view! { <p class="loading">"Loading settings…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(view_data) => view! { <SettingsBody view_data resync/> }.into_any(),
                    Err(error) => view! { <ErrorPanel error/> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn SettingsBody(view_data: SettingsView, resync: ServerAction<Resync>) -> impl IntoView {
    let mode = if view_data.managed_registry {
        view! {
            <h2>"Registry: managed by Wharf"</h2>
            <p>
                "Wharf started the registry at " <code>{view_data.registry_url.clone()}</code>
                " and is its token server (" <code>{view_data.token_realm.clone()}</code> ", service "
                <code>{view_data.token_service.clone()}</code> ")."
            </p>
            <ul>
                <li>"Roles apply to the console and to " <code>"docker pull"</code> " / " <code>"push"</code> " alike."</li>
                <li>"Every push and delete reaches Wharf as a notification: the catalog updates within a second."</li>
                <li>"A periodic reconcile repairs anything missed while Wharf was down."</li>
            </ul>
        }
        .into_any()
    } else {
        let auth = match &view_data.registry_username {
            Some(user) => format!("with basic credentials of user {user}"),
            None => "without credentials".to_string(),
        };
        view! {
            <h2>"Registry: not managed by Wharf"</h2>
            <p>"Wharf browses the registry at " <code>{view_data.registry_url.clone()}</code> " " {auth} "."</p>
            <ul>
                <li>"Roles govern the console only, not " <code>"docker pull"</code> " or " <code>"push"</code> ": the registry keeps its own authentication."</li>
                <li>"The index is filled by reconcile. For live updates, add this endpoint to the registry's configuration and restart it:"</li>
            </ul>
            <pre class="yaml">{view_data.notification_stanza.clone()}</pre>
            <CopyButton text=view_data.notification_stanza.clone() label="Copy configuration"/>
            <p class="hint">"It contains the shared secret that authenticates notifications; keep it out of version control."</p>
        }
        .into_any()
    };
    let interval = if view_data.reconcile_interval_secs == 0 {
        "only at start and on request".to_string()
    } else {
        format!("every {} minutes", view_data.reconcile_interval_secs.div_ceil(60))
    };
    view! {
        <section class="panel">{mode}</section>
        <section class="panel">
            <h2>"Index"</h2>
            <p>"Wharf reconciles its index with the registry " {interval} "."</p>
            <ReconcileState progress=view_data.sync.reconcile.clone()/>
            {view_data.sync.registry_error.map(|e| view! { <div class="banner banner-warning">"Registry unreachable: " {e}</div> })}
            <ActionForm action=resync>
                <button type="submit">"Resync now"</button>
            </ActionForm>
        </section>
    }
}

/// The running reconcile's progress (live), or how the last one ended.
#[component]
fn ReconcileState(progress: ReconcileProgress) -> impl IntoView {
    let current = crate::components::live::use_live_reconcile(progress.clone());
    view! {
        <IndexingProgress initial=progress every_run=true/>
        {move || {
            let progress = current.get();
            (!progress.running).then(|| view! { <LastReconcile progress/> })
        }}
    }
}

#[component]
fn LastReconcile(progress: ReconcileProgress) -> impl IntoView {
    let text = {
        match (progress.finished_at_ms, &progress.last_error, &progress.last_result) {
            (Some(at), Some(error), _) => format!("Last reconcile at {} failed: {error}", ms_to_display(at)),
            (Some(at), None, Some(result)) => format!("Last reconcile at {}: {result}.", ms_to_display(at)),
            _ => "No reconcile has finished yet.".to_string(),
        }
    };
    view! { <p class="reconcile-state" role="status">{text}</p> }
}
