use leptos::prelude::*;
use leptos_router::hooks::use_location;

use crate::format::percent_encode;
use crate::model::AppError;

/// Shows an error from a server function; "sign in" errors offer the sign-in link.
#[component]
pub fn ErrorPanel(error: AppError) -> impl IntoView {
    let location = use_location();
    match error {
        AppError::Unauthorized => {
            let next = location.pathname.get_untracked();
            let href = format!("/login?next={}", percent_encode(&next, true));
            view! {
                <div class="panel signin-needed">
                    <p>"Sign in to see this page."</p>
                    <a class="button" href=href>"Sign in"</a>
                </div>
            }
            .into_any()
        }
        other => view! { <div class="banner banner-error" role="alert">{other.to_string()}</div> }.into_any(),
    }
}
