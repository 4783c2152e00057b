//! The Webhooks list: every webhook with its health (success rate over 24 hours, last success
//! and failure, failures in a row, queued deliveries, attempts per hour), and the way to a new one.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::webhooks::list_webhooks;
use crate::components::error_panel::ErrorPanel;
use crate::components::live::use_live_deliveries;
use crate::format::ms_to_display;
use crate::model::{WebhookHealth, WebhookSummary};
use crate::urls;

#[component]
pub fn WebhooksPage() -> impl IntoView {
    let deliveries = use_live_deliveries();
    let hooks = Resource::new(move || deliveries.get(), |_| list_webhooks());
    view! {
        <Title text="Webhooks"/>
        <div class="table-head">
            <h1>"Webhooks"</h1>
            <a class="button primary" href="/webhooks/new">"New webhook"</a>
        </div>
        <p class="hint">
            "Registry pushes and deletes, delivered to Microsoft Teams, Slack, Logic Apps, CloudEvents receivers or any HTTP endpoint: signed, retried, logged."
        </p>
        <Transition fallback=|| view! { <p class="loading">"Loading webhooks…"</p> }>
            {move || Suspend::new(async move {
                match hooks.await {
                    Ok(hooks) if hooks.is_empty() => view! { <NoWebhooks/> }.into_any(),
                    Ok(hooks) => view! { <WebhookTable hooks/> }.into_any(),
                    Err(error) => view! { <ErrorPanel error/> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn NoWebhooks() -> impl IntoView {
    view! {
        <div class="panel empty">
            <p><strong>"No webhooks yet."</strong></p>
            <p>
                "Create one to tell a Teams channel, a Slack channel or a deploy pipeline about new tags. "
                "Use " <em>"Ping"</em> " on its page to check the receiver before the first push."
            </p>
            <a class="button primary" href="/webhooks/new">"New webhook"</a>
        </div>
    }
}

#[component]
fn WebhookTable(hooks: Vec<WebhookSummary>) -> impl IntoView {
    view! {
        <table class="data webhooks">
            <thead>
                <tr>
                    <th scope="col">"Name"</th>
                    <th scope="col">"Format"</th>
                    <th scope="col">"Events"</th>
                    <th scope="col">"Health (24 h)"</th>
                    <th scope="col">"Last success"</th>
                    <th scope="col">"Last failure"</th>
                    <th scope="col" class="num">"Queued"</th>
                    <th scope="col">"Deliveries per hour"</th>
                </tr>
            </thead>
            <tbody>
                {hooks.into_iter().map(|hook| view! { <WebhookRow hook/> }).collect_view()}
            </tbody>
        </table>
    }
}

#[component]
fn WebhookRow(hook: WebhookSummary) -> impl IntoView {
    let scope = if hook.scope.is_empty() {
        "whole registry".to_string()
    } else {
        hook.scope.join(", ")
    };
    let status = match (&hook.disabled_reason, hook.enabled) {
        (Some(reason), _) => {
            Some(view! { <span class="badge badge-danger" title=reason.clone()>"stopped"</span> }.into_any())
        }
        (None, false) => Some(view! { <span class="badge">"disabled"</span> }.into_any()),
        (None, true) => None,
    };
    let health = hook.health.clone();
    view! {
        <tr>
            <td class="name">
                <a href=urls::webhook(&hook.id)>{hook.name.clone()}</a>
                " " {status}
                <div class="muted small">{hook.url.clone()}</div>
                <div class="muted small">"Belongs to " {hook.owner.clone()}</div>
            </td>
            <td>{hook.format.clone()}</td>
            <td>{hook.actions.join(", ")} <div class="muted small">{scope}</div></td>
            <td><HealthBadge health=health.clone()/></td>
            <td class="time">{health.last_success_ms.map(ms_to_display).unwrap_or_else(|| "—".into())}</td>
            <td class="time">{health.last_failure_ms.map(ms_to_display).unwrap_or_else(|| "—".into())}</td>
            <td class="num">{health.queued}</td>
            <td><Sparkline counts=health.hourly.clone()/></td>
        </tr>
    }
}

/// "98% · 2 failing in a row", coloured by how it goes.
#[component]
pub fn HealthBadge(health: WebhookHealth) -> impl IntoView {
    let (class, text) = match health.success_rate() {
        None => ("badge", "no deliveries".to_string()),
        Some(rate) if health.consecutive_failures == 0 => ("badge badge-ok", format!("{rate:.0}% delivered")),
        Some(rate) => (
            "badge badge-danger",
            format!(
                "{rate:.0}% delivered · {} failing in a row",
                health.consecutive_failures
            ),
        ),
    };
    let dead = (health.dead > 0)
        .then(|| view! { <span class="badge badge-danger">{format!("{} failed", health.dead)}</span> });
    view! { <span class=class>{text}</span> " " {dead} }
}

/// Attempts per hour over the last 24 hours as a tiny bar chart.
#[component]
pub fn Sparkline(counts: Vec<i64>) -> impl IntoView {
    let max = counts.iter().copied().max().unwrap_or(0).max(1);
    let total: i64 = counts.iter().sum();
    let bars = counts
        .iter()
        .enumerate()
        .map(|(i, n)| {
            let height = (*n as f64 / max as f64 * 20.0)
                .ceil()
                .max(if *n > 0 { 2.0 } else { 0.0 });
            view! { <rect x=(i * 4).to_string() y=(20.0 - height).to_string() width="3" height=height.to_string()/> }
        })
        .collect_view();
    view! {
        <svg class="sparkline" width="96" height="20" viewBox="0 0 96 20" role="img"
            aria-label=format!("{total} attempts in 24 hours")>
            <title>{format!("{total} attempts in 24 hours")}</title>
            {bars}
        </svg>
    }
}
