//! One webhook: its health, Ping and Send test with the answer shown at once, the delivery log
//! (live, filter failed, Redeliver), the edit form, secret rotation and delete. `/webhooks/new`
//! is the same form for a new webhook. Forms work without JavaScript.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};

use super::webhook_form::WebhookForm;
use super::webhooks::{HealthBadge, Sparkline};
use crate::api::webhooks::{
    webhook_deliveries, webhook_page, DeleteWebhook, PingWebhook, Redeliver, RotateWebhookSecret, SaveWebhook,
    TestWebhook,
};
use crate::components::copy_button::CopyButton;
use crate::components::error_panel::ErrorPanel;
use crate::components::live::use_live_deliveries;
use crate::format::{ms_to_display, percent_encode};
use crate::model::{AppError, DeliveriesPage, DeliveryDetail, DeliveryRow, WebhookView};
use crate::urls;

#[component]
pub fn WebhookPage() -> impl IntoView {
    let params = use_params_map();
    let id = Memo::new(move |_| params.read().get("id").filter(|id| id != "new").unwrap_or_default());
    let save = ServerAction::<SaveWebhook>::new();
    let rotate = ServerAction::<RotateWebhookSecret>::new();
    let live = use_live_deliveries();
    let page = Resource::new(
        move || (id.get(), save.version().get(), rotate.version().get(), live.get()),
        |(id, ..)| webhook_page(id),
    );
    view! {
        <Title text="Webhook"/>
        <p class="breadcrumbs"><a href="/webhooks">"Webhooks"</a></p>
        <Transition fallback=|| view! { <p class="loading">"Loading the webhook…"</p> }>
            {move || Suspend::new(async move {
                match page.await {
                    Ok(view_data) if view_data.form.id.is_none() => view! {
                        <h1>"New webhook"</h1>
                        <WebhookForm view_data save/>
                    }
                    .into_any(),
                    Ok(view_data) => view! { <WebhookDetail view_data save rotate/> }.into_any(),
                    Err(error) => view! { <ErrorPanel error/> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn WebhookDetail(
    view_data: WebhookView,
    save: ServerAction<SaveWebhook>,
    rotate: ServerAction<RotateWebhookSecret>,
) -> impl IntoView {
    let id = view_data.form.id.clone().unwrap_or_default();
    let stopped = view_data.disabled_reason.clone().map(|reason| {
        view! {
            <div class="banner banner-error" role="alert">
                <strong>"Wharf stopped delivering to this webhook: "</strong>{reason}
                ". Fix the receiver, check it with Ping, then save the form with Enabled ticked."
            </div>
        }
    });
    let paused = (!view_data.form.enabled && view_data.disabled_reason.is_none())
        .then(|| view! { <div class="banner banner-warning">"Disabled: events are not queued for it."</div> });
    let rotation = view_data.rotation_until_ms.map(|until| {
        view! { <p class="hint">{format!("The previous signing secret also signs until {}.", ms_to_display(until))}</p> }
    });
    view! {
        <h1>{view_data.form.name.clone()}</h1>
        <p class="muted">{view_data.form.url_masked.clone()}</p>
        {stopped}
        {paused}
        <section class="panel">
            <h2>"Health"</h2>
            <p><HealthBadge health=view_data.health.clone()/> " " <Sparkline counts=view_data.health.hourly.clone()/></p>
            <p class="hint">{format!(
                "{} queued · {} in 24 hours",
                crate::format::grouped(view_data.health.queued),
                crate::format::count(view_data.health.attempts_24h, "attempt", "attempts")
            )}</p>
            <TryIt id=id.clone()/>
        </section>
        <DeliveryLog id=id.clone()/>
        <section class="panel">
            <h2>"Settings"</h2>
            <WebhookForm view_data=view_data.clone() save/>
        </section>
        <section class="panel">
            <h2>"Signing secret"</h2>
            <p class="hint">"Receivers verify the " <code>"webhook-signature"</code> " header with it (Standard Webhooks). It is shown once, when made."</p>
            {rotation}
            <SecretRotation id=id.clone() rotate/>
        </section>
        <DeleteWebhookForm id name=view_data.form.name.clone()/>
    }
}

/// Ping and Send test, with the receiver's answer.
#[component]
fn TryIt(id: String) -> impl IntoView {
    let ping = ServerAction::<PingWebhook>::new();
    let test = ServerAction::<TestWebhook>::new();
    let result = move || ping.value().get().or_else(|| test.value().get());
    let ping_id = id.clone();
    view! {
        <div class="toolbar">
            <ActionForm action=ping attr:class="inline">
                <input type="hidden" name="id" value=ping_id/>
                <button type="submit" disabled=move || ping.pending().get()>"Ping"</button>
            </ActionForm>
            <ActionForm action=test attr:class="inline">
                <input type="hidden" name="id" value=id/>
                <button type="submit" disabled=move || test.pending().get()
                    title="The most recent real event in scope, or a realistic sample">"Send test"</button>
            </ActionForm>
        </div>
        {move || (ping.pending().get() || test.pending().get()).then(|| view! { <p class="loading">"Sending…"</p> })}
        {move || result().map(|r| view! { <AttemptResult result=r/> })}
    }
}

#[component]
fn AttemptResult(result: Result<DeliveryDetail, AppError>) -> impl IntoView {
    let detail = match result {
        Ok(detail) => detail,
        Err(error) => return view! { <ErrorPanel error/> }.into_any(),
    };
    let Some(attempt) = detail.attempts.first().cloned() else {
        return view! { <div class="banner banner-warning" role="status">"Queued; no answer yet. It shows in the log below."</div> }.into_any();
    };
    let ok = attempt.response_status.is_some_and(|s| (200..300).contains(&s));
    let headline = match (attempt.response_status, &attempt.error) {
        (Some(status), _) => format!("The receiver answered {status} in {} ms.", attempt.duration_ms),
        (None, Some(error)) => format!("Failed after {} ms: {error}", attempt.duration_ms),
        (None, None) => "No answer.".to_string(),
    };
    let teams_note = (attempt.response_status == Some(202) && detail.format.contains("Teams"))
        .then_some(" Teams Workflows accept first and report failures in the flow's run history.");
    let href = delivery_href(&detail.delivery);
    view! {
        <div class=if ok { "banner banner-ok" } else { "banner banner-error" } role="status">
            {headline} {teams_note} " " <a href=href>"Details"</a>
            {attempt.response_body.filter(|b| !b.is_empty()).map(|body| view! { <pre class="response">{body}</pre> })}
            {attempt.response_body_hidden.then(|| view! { <p class="hint">{crate::pages::delivery::HIDDEN_BODY}</p> })}
        </div>
    }
    .into_any()
}

fn delivery_href(delivery: &DeliveryRow) -> String {
    format!(
        "{}/deliveries/{}",
        urls::webhook(&delivery.webhook_id),
        percent_encode(&delivery.id, false)
    )
}

/// The delivery log, newest first, live; `?failed=1` keeps the failing ones, `?before=` pages.
#[component]
fn DeliveryLog(id: String) -> impl IntoView {
    let query = use_query_map();
    let failed_only = Memo::new(move |_| query.read().get("failed").is_some_and(|f| f == "1"));
    let cursor = Memo::new(move |_| query.read().get("before"));
    let live = use_live_deliveries();
    let redeliver = ServerAction::<Redeliver>::new();
    let hook = id.clone();
    let log = Resource::new(
        move || {
            (
                hook.clone(),
                failed_only.get(),
                cursor.get(),
                live.get(),
                redeliver.version().get(),
            )
        },
        |(id, failed, cursor, ..)| webhook_deliveries(id, failed, cursor),
    );
    let base = urls::webhook(&id);
    let filter_links = {
        let base = base.clone();
        move || {
            if failed_only.get() {
                view! { <a href=base.clone()>"Show all"</a> }.into_any()
            } else {
                view! { <a href=format!("{base}?failed=1")>"Failed only"</a> }.into_any()
            }
        }
    };
    view! {
        <section class="panel">
            <div class="table-head">
                <h2>"Deliveries"</h2>
                <div class="toolbar">
                    {filter_links}
                    <ActionForm action=redeliver attr:class="inline">
                        <input type="hidden" name="id" value=id.clone()/>
                        <button type="submit">"Redeliver all failed"</button>
                    </ActionForm>
                </div>
            </div>
            {move || redeliver.value().get().map(|r| match r {
                Ok(n) => view! { <p class="banner banner-ok" role="status">{format!("{n} queued again.")}</p> }.into_any(),
                Err(error) => view! { <ErrorPanel error/> }.into_any(),
            })}
            <Transition fallback=|| view! { <p class="loading">"Loading deliveries…"</p> }>
                {move || {
                    let base = base.clone();
                    Suspend::new(async move {
                        match log.await {
                            Ok(page) => view! { <DeliveryTable page base failed=failed_only.get_untracked()/> }.into_any(),
                            Err(error) => view! { <ErrorPanel error/> }.into_any(),
                        }
                    })
                }}
            </Transition>
        </section>
    }
}

#[component]
fn DeliveryTable(page: DeliveriesPage, base: String, failed: bool) -> impl IntoView {
    if page.deliveries.is_empty() {
        let text = if failed {
            "No failed deliveries."
        } else {
            "No deliveries yet. Push an image, or use Ping."
        };
        return view! { <p class="muted">{text}</p> }.into_any();
    }
    let next = page.next.map(|cursor| {
        let failed = if failed { "failed=1&" } else { "" };
        format!("{base}?{failed}before={}", percent_encode(&cursor, false))
    });
    view! {
        <table class="data deliveries">
            <thead>
                <tr>
                    <th scope="col">"Time"</th>
                    <th scope="col">"Event"</th>
                    <th scope="col">"State"</th>
                    <th scope="col" class="num">"Attempts"</th>
                    <th scope="col" class="num">"Response"</th>
                    <th scope="col" class="num">"Duration"</th>
                </tr>
            </thead>
            <tbody>
                {page.deliveries.into_iter().map(|d| view! { <DeliveryLine delivery=d/> }).collect_view()}
            </tbody>
        </table>
        <nav class="pager" aria-label="Pages">
            {next.map(|href| view! { <a href=href rel="next">"Older →"</a> })}
        </nav>
    }
    .into_any()
}

#[component]
fn DeliveryLine(delivery: DeliveryRow) -> impl IntoView {
    let href = delivery_href(&delivery);
    let state_class = format!("badge delivery-{}", delivery.state);
    let waiting = delivery
        .next_attempt_at_ms
        .filter(|_| delivery.state == "retrying")
        .map(|at| format!("next attempt {}", ms_to_display(at)));
    view! {
        <tr>
            <td class="time"><a href=href>{ms_to_display(delivery.created_at_ms)}</a></td>
            <td>{delivery.summary.clone()}</td>
            <td>
                <span class=state_class title=delivery.last_error.clone().unwrap_or_default()>{delivery.state.clone()}</span>
                {waiting.map(|w| view! { <div class="muted small">{w}</div> })}
            </td>
            <td class="num">{delivery.attempts}</td>
            <td class="num">{delivery.last_status.map(|s| s.to_string()).unwrap_or_else(|| "—".into())}</td>
            <td class="num">{delivery.last_duration_ms.map(|d| format!("{d} ms")).unwrap_or_default()}</td>
        </tr>
    }
}

#[component]
fn SecretRotation(id: String, rotate: ServerAction<RotateWebhookSecret>) -> impl IntoView {
    view! {
        <ActionForm action=rotate>
            <input type="hidden" name="id" value=id/>
            <button type="submit">"Rotate secret"</button>
        </ActionForm>
        {move || rotate.value().get().map(|r| match r {
            Ok(secret) => view! {
                <div class="banner banner-ok" role="status">
                    <p>"New signing secret (shown once; the previous one keeps signing for 24 hours):"</p>
                    <code class="secret">{secret.clone()}</code>
                    <CopyButton text=secret label="Copy"/>
                </div>
            }
            .into_any(),
            Err(error) => view! { <ErrorPanel error/> }.into_any(),
        })}
    }
}

#[component]
fn DeleteWebhookForm(id: String, name: String) -> impl IntoView {
    let delete = ServerAction::<DeleteWebhook>::new();
    let navigate = leptos_router::hooks::use_navigate();
    Effect::new(move |_| {
        if let Some(Ok(())) = delete.value().get() {
            navigate("/webhooks", Default::default());
        }
    });
    view! {
        <section class="panel">
            <details class="delete">
                <summary>"Delete this webhook…"</summary>
                <ActionForm action=delete attr:class="delete-form">
                    <input type="hidden" name="id" value=id/>
                    <p>"Its queued deliveries and its delivery log go with it."</p>
                    <label for="confirm-webhook">"Type " <code>{name.clone()}</code> " to confirm"</label>
                    <input id="confirm-webhook" type="text" name="confirm" required autocomplete="off"/>
                    <button type="submit" class="danger">"Delete webhook"</button>
                </ActionForm>
                {move || delete.value().get().and_then(|r| r.err()).map(|error| view! { <ErrorPanel error/> })}
            </details>
        </section>
    }
}
