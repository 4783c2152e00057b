use leptos::prelude::*;

/// A "Copy" button for a value that is also shown as selectable text (so it is usable without
/// JavaScript). Says "Copied" for a moment after a click.
#[component]
pub fn CopyButton(text: String, #[prop(optional, into)] label: Option<String>) -> impl IntoView {
    let copied = RwSignal::new(false);
    let label = label.unwrap_or_else(|| "Copy".to_string());
    let aria = format!("{label} to the clipboard");
    let on_click = move |_| {
        #[cfg(feature = "hydrate")]
        {
            let clipboard = window().navigator().clipboard();
            let _ = clipboard.write_text(&text);
            copied.set(true);
            set_timeout(move || copied.set(false), std::time::Duration::from_millis(1500));
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = &text;
    };
    view! {
        <button type="button" class="copy" aria-label=aria on:click=on_click>
            {move || if copied.get() { "Copied".to_string() } else { label.clone() }}
        </button>
    }
}
