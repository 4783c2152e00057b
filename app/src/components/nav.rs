use leptos::prelude::*;
use leptos_router::components::A;

use crate::model::CurrentUser;
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
                // Only the sections the signed-in user may use.
                <Transition fallback=|| ()>
                    {move || Suspend::new(async move {
                        let user = auth.user.await.ok().flatten();
                        let can = |pick: fn(&CurrentUser) -> bool| user.as_ref().is_some_and(pick);
                        view! {
                            {user.is_some().then(|| view! { <A href=crate::urls::STORAGE>"Housekeeping"</A> })}
                            {can(|u| u.manages_webhooks).then(|| view! { <A href="/webhooks">"Webhooks"</A> })}
                            {can(|u| u.manages_access).then(|| view! { <A href="/access">"Access"</A> })}
                            {can(|u| u.can_administer).then(|| view! { <A href="/audit">"Audit"</A> })}
                            {can(|u| u.can_administer).then(|| view! { <A href="/settings">"Settings"</A> })}
                        }
                    })}
                </Transition>
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
