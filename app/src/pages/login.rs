use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use leptos::server_fn::error::ServerFnUrlError;

use crate::api::sso::sso_sign_in_option;
use crate::format::percent_encode;
use crate::model::AppError;
use crate::Auth;

#[component]
pub fn LoginPage() -> impl IntoView {
    let auth = expect_context::<Auth>();
    let query = use_query_map();
    let next = move || query.read().get("next").unwrap_or_else(|| "/".to_string());
    // Without JavaScript the form posts natively and a failure comes back encoded in the URL.
    let url_error = move || {
        query
            .read()
            .get("__err")
            .map(|encoded| ServerFnUrlError::<AppError>::decode_err(&encoded).to_string())
    };
    let sso = Resource::new(|| (), |_| sso_sign_in_option());
    let error = move || match auth.login.value().get() {
        Some(Err(err)) => Some(err.to_string()),
        Some(Ok(())) => None,
        None => url_error(),
    };
    view! {
        <Title text="Sign in"/>
        <section class="login">
            <h1>"Sign in to Wharf"</h1>
            <ActionForm action=auth.login attr:class="stack">
                <input type="hidden" name="next" value=next/>
                <label>
                    "User name"
                    <input type="text" name="username" autocomplete="username" required autofocus/>
                </label>
                <label>
                    "Password"
                    <input type="password" name="password" autocomplete="current-password" required/>
                </label>
                <button type="submit" class="button primary" disabled=move || auth.login.pending().get()>"Sign in"</button>
            </ActionForm>
            {move || error().map(|message| view! { <p class="banner banner-error" role="alert">{message}</p> })}
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move {
                    let option = sso.await.ok()?;
                    let sso_error = option.error.map(|message| view! { <p class="banner banner-error" role="alert">{message}</p> });
                    let button = option.label.map(|label| {
                        let href = format!("/auth/sso/start?next={}", percent_encode(&next(), true));
                        // A server route, not a page: `external` keeps the in-browser router out.
                        view! { <p class="sso"><a class="button" href=href rel="external">{format!("Sign in with {label}")}</a></p> }
                    });
                    Some(view! { {sso_error} {button} })
                })}
            </Suspense>
            <p class="hint">"The first administrator is "<code>"admin"</code>". Its password was printed when the server first started, or set with "<code>"WHARF_ADMIN_PASSWORD"</code>"."</p>
        </section>
    }
}
