use leptos::prelude::*;

/// "Previous / Page N of M / Next" links; `href(n)` builds the address of page n.
#[component]
pub fn Pager(page: u32, pages: u32, href: impl Fn(u32) -> String + 'static) -> impl IntoView {
    (pages > 1).then(|| {
        let previous = (page > 1).then(|| href(page - 1));
        let next = (page < pages).then(|| href(page + 1));
        let first = (page > 2).then(|| href(1));
        view! {
            <nav class="pager" aria-label="Pages">
                {first.map(|h| view! { <a href=h>"« First"</a> })}
                {previous.map(|h| view! { <a href=h rel="prev">"← Previous"</a> })}
                <span class="muted">{format!("Page {page} of {pages}")}</span>
                {next.map(|h| view! { <a href=h rel="next">"Next →"</a> })}
            </nav>
        }
    })
}
