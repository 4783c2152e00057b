//! A destructive action behind a disclosure: "Delete…" opens what will happen and the red
//! button, so one click never destroys anything.

use leptos::prelude::*;
use leptos::server_fn::client::Client;
use leptos::server_fn::codec::PostUrl;
use leptos::server_fn::request::ClientReq;
use leptos::server_fn::{Http, ServerFn};
use leptos::web_sys::FormData;
use serde::de::DeserializeOwned;

/// `<details>` with `summary` ("Delete…"), then a form posting `id` to `action`, `warning` and
/// a danger button reading `button`. `summary_label` names the disclosure for screen readers
/// where the visible text is the same on every row.
#[component]
pub fn ConfirmForm<ServFn, OutputProtocol>(
    summary: &'static str,
    #[prop(optional, into)] summary_label: Option<String>,
    action: ServerAction<ServFn>,
    #[prop(into)] id: String,
    #[prop(into)] warning: String,
    #[prop(into)] button: String,
) -> impl IntoView
where
    ServFn: DeserializeOwned + ServerFn<Protocol = Http<PostUrl, OutputProtocol>> + Clone + Send + Sync + 'static,
    <<ServFn::Client as Client<ServFn::Error>>::Request as ClientReq<ServFn::Error>>::FormData: From<FormData>,
    ServFn::Output: Send + Sync + 'static,
    ServFn::Error: Send + Sync + 'static,
    <ServFn as ServerFn>::Client: Client<<ServFn as ServerFn>::Error>,
    OutputProtocol: 'static,
{
    view! {
        <details class="confirm">
            <summary aria-label=summary_label>{summary}</summary>
            <ActionForm action attr:class="inline">
                <input type="hidden" name="id" value=id/>
                <span>{warning}</span>
                " "
                <button type="submit" class="danger">{button}</button>
            </ActionForm>
        </details>
    }
}
