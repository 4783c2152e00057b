//! Access → Single sign-on: the OpenID Connect provider's settings, the redirect URI to register
//! there, who may sign in (the allow-list), and a test sign-in that shows what the provider says
//! without signing in. The test's result is named by the `test` id in the page's address, so it
//! shows however often the page fetches its data.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use crate::api::sso::{sso_settings, SaveSsoSettings};
use crate::components::copy_button::CopyButton;
use crate::components::error_panel::ErrorPanel;
use crate::model::{AppError, SsoSettingsView, SsoTestResult};

/// The tab's data: the settings, fetched only while the tab is shown, and the save action. Made
/// by the page itself, before its Transition: a resource made inside a Suspend that resolves is
/// numbered by when it resolves, and the browser, hydrating, could number it otherwise than the
/// server did; hydration then failed now and then, and the form fell back to a plain POST.
#[derive(Clone, Copy)]
pub struct SsoData {
    save: ServerAction<SaveSsoSettings>,
    data: Resource<Result<Option<SsoSettingsView>, AppError>>,
}

impl SsoData {
    /// `shown`: whether the tab is the one shown.
    pub fn new(shown: impl Fn() -> bool + Send + Sync + 'static) -> SsoData {
        let save = ServerAction::<SaveSsoSettings>::new();
        let query = use_query_map();
        let data = Resource::new(
            move || shown().then(|| (save.version().get(), query.read().get("test"))),
            |key| async move {
                match key {
                    Some((_, test)) => sso_settings(test).await.map(Some),
                    None => Ok(None),
                }
            },
        );
        SsoData { save, data }
    }
}

#[component]
pub fn SsoTab(can_administer: bool, sso: SsoData) -> impl IntoView {
    if !can_administer {
        return view! { <p class="panel">"Single sign-on is set up by the registry's administrators (Owner of the whole registry)."</p> }
            .into_any();
    }
    let SsoData { save, data } = sso;
    view! {
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(Some(settings)) => view! { <SsoForm settings save/> }.into_any(),
                    Ok(None) => ().into_any(),
                    Err(error) => view! { <ErrorPanel error/> }.into_any(),
                }
            })}
        </Transition>
    }
    .into_any()
}

#[component]
fn SsoForm(settings: SsoSettingsView, save: ServerAction<SaveSsoSettings>) -> impl IntoView {
    let secret_hint = if settings.has_secret {
        "stored; leave empty to keep it"
    } else {
        "none stored"
    };
    let test = settings
        .test_result
        .clone()
        .map(|result| view! { <TestResult result/> });
    view! {
        <section>
            <h2>"Single sign-on (OpenID Connect)"</h2>
            <p class="hint">
                "Entra ID, Keycloak, Dex, Google or any OpenID Connect provider. Register Wharf there as a web application with this redirect URI; local sign-in stays available."
            </p>
            <div class="copy-row">
                <code>{settings.callback_url.clone()}</code>
                <CopyButton text=settings.callback_url.clone() label="Copy redirect URI"/>
            </div>
            {test}
            <ActionForm action=save attr:class="stack sso-form">
                <label class="check"><input type="checkbox" name="enabled" checked=settings.enabled/> " Offer single sign-on on the sign-in page"</label>
                <label>"Issuer URL" <input type="url" name="issuer_url" value=settings.issuer_url.clone() maxlength="512" placeholder="https://login.microsoftonline.com/TENANT/v2.0"/></label>
                <label>"Client ID" <input type="text" name="client_id" value=settings.client_id.clone() maxlength="512"/></label>
                <label>{format!("Client secret ({secret_hint})")} <input type="password" name="client_secret" maxlength="2048" autocomplete="off"/></label>
                <label>"User name claim" <input type="text" name="username_claim" value=settings.username_claim.clone() maxlength="128"/></label>
                <label>"Groups claim" <input type="text" name="groups_claim" value=settings.groups_claim.clone() maxlength="128"/></label>
                <label class="check"><input type="checkbox" name="create_users" checked=settings.create_users/> " Create a Wharf user on first sign-in"</label>
                <label>"Button text" <input type="text" name="label" value=settings.label.clone() maxlength="128" placeholder="Entra ID"/></label>
                <label>
                    "Allowed provider groups (one a line; empty: anyone the provider accepts)"
                    <textarea name="allowed_groups" rows="3" maxlength="25800">{settings.allowed_groups.join("\n")}</textarea>
                </label>
                <label>
                    "Allowed e-mail domains (one a line, like example.com; empty: any)"
                    <textarea name="allowed_domains" rows="3" maxlength="25800">{settings.allowed_domains.join("\n")}</textarea>
                </label>
                <p class="hint">"With groups listed, a user needs one of them; with domains listed, a verified e-mail address in one of them (subdomains are listed on their own). Checked at every single sign-on."</p>
                <button type="submit" class="primary">"Save"</button>
            </ActionForm>
            {move || save.value().get().map(|result| match result {
                Ok(()) => view! { <p class="banner banner-ok" role="status">"Saved."</p> }.into_any(),
                Err(error) => view! { <ErrorPanel error/> }.into_any(),
            })}
            <p>
                // A server route, not a page: `external` keeps the in-browser router out.
                <a class="button" href="/auth/sso/start?test=1" rel="external">"Test sign-in"</a>
                " Signs in at the provider and shows the user name and groups it sends, without signing you in as that user."
            </p>
        </section>
    }
}

#[component]
fn TestResult(result: SsoTestResult) -> impl IntoView {
    let groups = if result.groups.is_empty() {
        "none".to_string()
    } else {
        result.groups.join(", ")
    };
    let teams = if result.teams.is_empty() {
        "none".to_string()
    } else {
        result.teams.join(", ")
    };
    let email = result.email.unwrap_or_else(|| "none".to_string());
    let (class, verdict) = match result.refusal {
        None => ("panel verdict test-result allowed", "Allowed to sign in.".to_string()),
        Some(refusal) => (
            "panel verdict test-result denied",
            format!("Refused by the allow-list: {refusal}."),
        ),
    };
    view! {
        <div class=class role="status">
            <p><strong>"Test sign-in worked."</strong> " " {verdict}</p>
            <ul>
                <li>"User name: " <code>{result.username}</code></li>
                <li>"E-mail: " {email}</li>
                <li>"Groups: " {groups}</li>
                <li>"Teams it would be a member of: " {teams}</li>
                <li class="muted small">"Subject: " {result.subject}</li>
            </ul>
        </div>
    }
}
