//! The delete forms of an image row: remove one tag, or the whole image. Each asks for the tag
//! (or digest prefix) to be typed, says what goes with it, and works without JavaScript.

use leptos::prelude::*;

use crate::api::images::{image_confirmation, DeleteImage, DeleteTag};

#[component]
pub fn DeleteForms(
    repository: String,
    digest: String,
    tags: Vec<String>,
    delete_image: ServerAction<DeleteImage>,
    delete_tag: ServerAction<DeleteTag>,
) -> impl IntoView {
    let confirm_text = image_confirmation(&digest, &tags);
    let goes_with = if tags.is_empty() {
        "This image has no tags.".to_string()
    } else {
        format!("Tags deleted with it: {}.", tags.join(", "))
    };
    let tag_forms = tags
        .iter()
        .map(|tag| {
            let repository = repository.clone();
            let tag = tag.clone();
            let others = tags.iter().filter(|t| **t != tag).cloned().collect::<Vec<_>>();
            let keeps = if others.is_empty() {
                "The image stays in the registry without a tag.".to_string()
            } else {
                format!("The image keeps its other tags: {}.", others.join(", "))
            };
            let input_id = format!("confirm-tag-{}-{tag}", &digest[digest.len().saturating_sub(8)..]);
            view! {
                <ActionForm action=delete_tag attr:class="delete-form">
                    <input type="hidden" name="repository" value=repository/>
                    <input type="hidden" name="tag" value=tag.clone()/>
                    <p>
                        <strong>{format!("Delete tag {tag}")}</strong>". "{keeps}
                        " (Wharf points the tag at a tiny placeholder manifest and deletes that, because the registry deletes by digest only.)"
                    </p>
                    <label for=input_id.clone()>"Type " <code>{tag.clone()}</code> " to confirm"</label>
                    <input id=input_id type="text" name="confirm" required autocomplete="off" pattern=regex_literal(&tag)/>
                    <button type="submit" class="danger">{format!("Delete tag {tag}")}</button>
                </ActionForm>
            }
        })
        .collect::<Vec<_>>();
    let image_input_id = format!("confirm-image-{}", &digest[digest.len().saturating_sub(12)..]);
    view! {
        <details class="delete">
            <summary>"Delete…"</summary>
            <div class="delete-panel">
                {tag_forms}
                <ActionForm action=delete_image attr:class="delete-form">
                    <input type="hidden" name="repository" value=repository.clone()/>
                    <input type="hidden" name="digest" value=digest.clone()/>
                    <p><strong>"Delete the image "<code>{digest.clone()}</code></strong>". "{goes_with}</p>
                    <label for=image_input_id.clone()>"Type " <code>{confirm_text.clone()}</code> " to confirm"</label>
                    <input id=image_input_id type="text" name="confirm" required autocomplete="off"/>
                    <button type="submit" class="danger">"Delete image"</button>
                </ActionForm>
                <p class="hint">
                    "Space on disk is freed only when the registry's garbage collection runs; see docs/garbage-collection.md."
                </p>
            </div>
        </details>
    }
}

/// A tag as an HTML `pattern` (compiled with the `v` flag) that matches exactly that text.
fn regex_literal(text: &str) -> String {
    text.chars()
        .flat_map(|c| {
            if "^$\\.*+?()[]{}|/".contains(c) {
                vec!['\\', c]
            } else {
                vec![c]
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn patterns_escape_dots() {
        assert_eq!(super::regex_literal("1.0-rc"), "1\\.0-rc");
    }
}
