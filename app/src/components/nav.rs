use leptos::prelude::*;
use leptos_router::components::A;

use crate::Auth;

/// The top bar: product name, sections, and who is signed in.
#[component]
pub fn Nav() -> impl IntoView {
    let auth = expect_context::<Auth>();
    view! {
        <header class="topbar">
            <a class="brand" href="/">"Wharf"</a>
            <nav class="sections" aria-label="Sections">
                <A href="/" exact=true>"Catalog"</A>
                <A href="/events">"Events"</A>
                <A href="/webhooks">"Webhooks"</A>
                <A href="/access">"Access"</A>
                <A href="/audit">"Audit"</A>
                <A href="/settings">"Settings"</A>
            </nav>
            <div class="account">
                <Transition fallback=|| ()>
                    {move || Suspend::new(async move {
                        match auth.user.await {
                            Ok(Some(user)) => view! {
                                <a class="user" href="/profile" title=if user.can_administer { "Administrator: your profile and tokens" } else { "Your profile and tokens" }>{user.username}</a>
                                <ActionForm action=auth.logout attr:class="inline">
                                    <button type="submit" class="link-button">"Sign out"</button>
                                </ActionForm>
                            }
                                .into_any(),
                            _ => view! { <a href="/login">"Sign in"</a> }.into_any(),
                        }
                    })}
                </Transition>
            </div>
        </header>
    }
}
