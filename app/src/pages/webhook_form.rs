//! The webhook form, for a new webhook and for changing one. Secrets stay write-only: the URL
//! and header values are never sent back to the browser; left empty they keep what is stored.
//! The template format has a live preview rendered from a real recent event.

use leptos::prelude::*;

use crate::api::webhooks::{PreviewTemplate, SaveWebhook};
use crate::components::copy_button::CopyButton;
use crate::components::error_panel::ErrorPanel;
use crate::model::{AppError, SavedWebhook, WebhookView};
use crate::urls;

#[component]
pub fn WebhookForm(view_data: WebhookView, save: ServerAction<SaveWebhook>) -> impl IntoView {
    let form = view_data.form.clone();
    let editing = form.id.is_some();
    let id = form.id.clone().unwrap_or_default();
    let format = RwSignal::new(form.format.clone());
    let headers_text: String = form.headers.iter().map(|h| format!("{}:\n", h.name)).collect();
    let format_options = view_data
        .formats
        .iter()
        .map(|option| {
            let label = if option.signed {
                format!("{} (signed)", option.label)
            } else {
                option.label.clone()
            };
            view! { <option value=option.value.clone() selected=option.value == form.format>{label}</option> }
        })
        .collect_view();
    let url_hint = if editing {
        format!("Stored: {}. Leave empty to keep it.", form.url_masked)
    } else {
        "Where Wharf POSTs each event.".to_string()
    };
    view! {
        <ActionForm action=save attr:class="stack webhook-form">
            <input type="hidden" name="id" value=id.clone()/>
            <label>"Name" <input type="text" name="name" required maxlength="100" value=form.name.clone()/></label>
            <label>
                "URL"
                <input type="url" name="url" required=!editing maxlength="2048" autocomplete="off"
                    placeholder=if editing { form.url_masked.clone() } else { "https://".to_string() }/>
            </label>
                <span class="hint">{url_hint}</span>
            <label>
                "Format"
                <select name="format" on:change=move |ev| format.set(event_target_value(&ev))>{format_options}</select>
            </label>
            <fieldset>
                <legend>"Events"</legend>
                <label class="check"><input type="checkbox" name="push" checked=form.push/>" Push"</label>
                <label class="check"><input type="checkbox" name="delete" checked=form.delete/>" Delete"</label>
                <label class="check">
                    <input type="checkbox" name="platform_manifests" checked=form.platform_manifests/>
                    " Also each platform manifest of a multi-arch push (normally one event, for the tag)"
                </label>
            </fieldset>
            <OwnerField choices=view_data.owner_choices.clone() current=form.owner_scope.clone()/>
            <label>
                "Scope"
                <textarea name="scope" rows="3" placeholder="shop/*:v*">{form.scope.clone()}</textarea>
            </label>
                <span class="hint">
                    "One " <code>"repository:tag"</code> " pattern per line, as in Azure Container Registry: "
                    <code>"shop/*:v*"</code> ", " <code>"base:*"</code> "; a repository alone means its "
                    <code>"latest"</code> " tag; empty means the whole registry."
                </span>
            <label>
                "Pushed by"
                <input type="text" name="pusher" maxlength="256" value=form.pusher.clone() placeholder="anyone"/>
            </label>
                <span class="hint">"Only pushes by this user or robot."</span>
            <TemplateField id=id.clone() template=form.template.clone() format/>
            <label>
                "Custom headers"
                <textarea name="headers" rows="3" placeholder="Authorization: Bearer …" autocomplete="off">{headers_text}</textarea>
            </label>
                <span class="hint">"One " <code>"Name: value"</code> " per line. Values are secret: stored ones show without their value and are kept when left empty."</span>
            <label>
                "Timeout (seconds)"
                <input type="number" name="timeout_secs" min="1" max="60" value=form.timeout_secs.to_string()/>
            </label>
            <label class="check"><input type="checkbox" name="ordered" checked=form.ordered/>" Deliver in event order (one at a time)"</label>
            <label class="check"><input type="checkbox" name="enabled" checked=form.enabled/>" Enabled"</label>
            <div>
                <button type="submit" class="button primary" disabled=move || save.pending().get()>
                    {if editing { "Save" } else { "Create webhook" }}
                </button>
            </div>
        </ActionForm>
        {move || save.value().get().map(|result| view! { <SaveResult result/> })}
    }
}

#[component]
fn SaveResult(result: Result<SavedWebhook, AppError>) -> impl IntoView {
    match result {
        Ok(SavedWebhook {
            id,
            secret: Some(secret),
        }) => view! {
            <div class="banner banner-ok" role="status">
                <p><strong>"Webhook created."</strong> " Its signing secret, shown this once:"</p>
                <code class="secret">{secret.clone()}</code>
                <CopyButton text=secret label="Copy"/>
                <p><a href=urls::webhook(&id)>"Open the webhook"</a> " to ping it and watch its deliveries."</p>
            </div>
        }
        .into_any(),
        Ok(_) => view! { <p class="banner banner-ok" role="status">"Saved."</p> }.into_any(),
        Err(error) => view! { <ErrorPanel error/> }.into_any(),
    }
}

/// The template, with a preview rendered on the server from a recent event.
#[component]
fn TemplateField(id: String, template: String, format: RwSignal<String>) -> impl IntoView {
    let preview = ServerAction::<PreviewTemplate>::new();
    let text = RwSignal::new(template.clone());
    view! {
        <div class="template-field" class:hidden=move || format.get() != "template">
            <label>
                "Template"
                <textarea name="template" rows="8" spellcheck="false"
                    on:input=move |ev| text.set(event_target_value(&ev))>{template}</textarea>
            </label>
                <span class="hint">
                    "A minijinja template; " <code>"{{ event.repository }}"</code> ", "
                    <code>"{{ event.tag }}"</code> ", " <code>"{{ event | tojson }}"</code> "… (see docs/webhooks-formats.md)."
                </span>
            <button type="button" on:click=move |_| {
                preview.dispatch(PreviewTemplate { id: id.clone(), template: text.get_untracked() });
            }>"Preview"</button>
            {move || preview.value().get().map(|r| match r {
                Ok(body) => view! { <pre class="preview">{body}</pre> }.into_any(),
                Err(error) => view! { <ErrorPanel error/> }.into_any(),
            })}
        </div>
    }
}

/// Where the webhook belongs: one of the scopes the caller manages webhooks in. With a single
/// choice it is stated, not asked.
#[component]
fn OwnerField(choices: Vec<(String, String)>, current: String) -> impl IntoView {
    if let [(value, label)] = choices.as_slice() {
        if *value == current {
            return view! {
                <input type="hidden" name="owner_scope" value=value.clone()/>
                <p class="hint">"Belongs to " {label.clone()} "."</p>
            }
            .into_any();
        }
    }
    let known = choices.iter().any(|(value, _)| *value == current);
    let options = choices
        .into_iter()
        .map(|(value, label)| view! { <option value=value.clone() selected=value == current>{label}</option> })
        .collect_view();
    view! {
        <label>
            "Belongs to"
            <select name="owner_scope">
                {(!known).then(|| view! { <option value=current.clone() selected=true>{current.clone()}</option> })}
                {options}
            </select>
        </label>
        <span class="hint">
            "Who manages this webhook: those who may manage webhooks there. It hears only of repositories inside it."
        </span>
    }
    .into_any()
}
