//! One delivery: every attempt as sent (headers with secrets masked, body) and as answered
//! (status, headers, body), and Redeliver.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

use crate::api::webhooks::{webhook_delivery, Redeliver};
use crate::components::error_panel::ErrorPanel;
use crate::components::live::use_live_deliveries;
use crate::format::ms_to_display;
use crate::model::{AttemptView, DeliveryDetail};
use crate::urls;

#[component]
pub fn DeliveryPage() -> impl IntoView {
    let params = use_params_map();
    let key = Memo::new(move |_| {
        let params = params.read();
        (
            params.get("id").unwrap_or_default(),
            params.get("delivery").unwrap_or_default(),
        )
    });
    let redeliver = ServerAction::<Redeliver>::new();
    let live = use_live_deliveries();
    let detail = Resource::new(
        move || (key.get(), live.get(), redeliver.version().get()),
        |((id, delivery), ..)| webhook_delivery(id, delivery),
    );
    view! {
        <Title text="Delivery"/>
        <Transition fallback=|| view! { <p class="loading">"Loading the delivery…"</p> }>
            {move || Suspend::new(async move {
                match detail.await {
                    Ok(detail) => view! { <DeliveryBody detail redeliver/> }.into_any(),
                    Err(error) => view! { <ErrorPanel error/> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn DeliveryBody(detail: DeliveryDetail, redeliver: ServerAction<Redeliver>) -> impl IntoView {
    let delivery = detail.delivery.clone();
    let webhook_href = urls::webhook(&delivery.webhook_id);
    let attempts = if detail.attempts.is_empty() {
        view! { <p class="muted">"Not attempted yet."</p> }.into_any()
    } else {
        detail
            .attempts
            .into_iter()
            .map(|attempt| view! { <Attempt attempt/> })
            .collect_view()
            .into_any()
    };
    view! {
        <p class="breadcrumbs"><a href="/webhooks">"Webhooks"</a> " / " <a href=webhook_href>{detail.webhook_name.clone()}</a></p>
        <h1>{delivery.summary.clone()}</h1>
        <dl class="facts">
            <dt>"Delivery id (webhook-id)"</dt><dd><code>{delivery.id.clone()}</code></dd>
            <dt>"Queued"</dt><dd>{ms_to_display(delivery.created_at_ms)}</dd>
            <dt>"State"</dt><dd><span class=format!("badge delivery-{}", delivery.state)>{delivery.state.clone()}</span></dd>
            <dt>"Attempts"</dt><dd>{delivery.attempts}</dd>
            <dt>"Format"</dt><dd>{detail.format.clone()}</dd>
            {delivery.last_error.clone().map(|e| view! { <dt>"Last error"</dt><dd>{e}</dd> })}
            {delivery.next_attempt_at_ms.map(|at| view! { <dt>"Next attempt"</dt><dd>{ms_to_display(at)}</dd> })}
        </dl>
        <ActionForm action=redeliver>
            <input type="hidden" name="id" value=delivery.webhook_id.clone()/>
            <input type="hidden" name="delivery" value=delivery.id.clone()/>
            <button type="submit">"Redeliver"</button>
        </ActionForm>
        {move || redeliver.value().get().map(|r| match r {
            Ok(_) => view! { <p class="banner banner-ok" role="status">"Queued again."</p> }.into_any(),
            Err(error) => view! { <ErrorPanel error/> }.into_any(),
        })}
        <h2>"Attempts"</h2>
        {attempts}
    }
}

/// Shown instead of a receiver's answer body to those who may not read it.
pub const HIDDEN_BODY: &str = "The receiver answered with a body; administrators can read it.";

#[component]
fn Attempt(attempt: AttemptView) -> impl IntoView {
    let answer = match (attempt.response_status, &attempt.error) {
        (Some(status), _) => format!("answered {status}"),
        (None, Some(error)) => error.clone(),
        (None, None) => "no answer".to_string(),
    };
    let headers = |pairs: Vec<(String, String)>| {
        pairs
            .into_iter()
            .map(|(name, value)| format!("{name}: {value}\n"))
            .collect::<String>()
    };
    view! {
        <section class="panel attempt">
            <h3>{format!("Attempt {} · {} · {} · {} ms", attempt.attempt, ms_to_display(attempt.started_at_ms), answer, attempt.duration_ms)}</h3>
            <p class="muted">"POST " {attempt.url.clone()}</p>
            <div class="two-columns">
                <div>
                    <h4>"Request"</h4>
                    <pre class="headers">{headers(attempt.request_headers)}</pre>
                    <pre class="body">{attempt.request_body}</pre>
                </div>
                <div>
                    <h4>"Response"</h4>
                    <pre class="headers">{headers(attempt.response_headers)}</pre>
                    {attempt.response_body_hidden.then(|| view! { <p class="hint">{HIDDEN_BODY}</p> })}
                    <pre class="body">{attempt.response_body.unwrap_or_default()}</pre>
                </div>
            </div>
        </section>
    }
}
