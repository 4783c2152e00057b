//! Deleting images and tags. Both ask the user to type what they delete.

use leptos::prelude::*;

use crate::model::{AppError, DeleteOutcome};

/// What confirms an image delete: one of its tags, or the first 12 hex digits of an untagged digest.
pub fn image_confirmation(digest: &str, tags: &[String]) -> String {
    tags.first().cloned().unwrap_or_else(|| {
        digest
            .split_once(':')
            .map(|(_, hex)| hex.chars().take(12).collect())
            .unwrap_or_default()
    })
}

/// Deletes an image by digest: every tag on it goes with it.
#[server(prefix = "/api", endpoint = "delete_image")]
pub async fn delete_image(repository: String, digest: String, confirm: String) -> Result<DeleteOutcome, AppError> {
    use crate::backend::access::{Action, Target};
    use crate::backend::audit::AuditAction;
    use crate::backend::index::queries;
    use crate::backend::{deletion, session};
    use crate::names::{Digest, RepositoryName};
    crate::backend::responses::with_status(
        async move {
            let name = RepositoryName::parse(&repository)?;
            let checked_digest = Digest::parse(&digest)?;
            let (state, caller) = session::authorize(
                Target::Repository(name.as_str()),
                Action::Delete,
                &format!("delete images in {repository}"),
            )
            .await?;
            let tags = queries::tags_of(&state.db, &repository, &digest)
                .await
                .map_err(session::internal)?;
            let expected = image_confirmation(&digest, &tags);
            if confirm.trim() != expected && !tags.iter().any(|t| t == confirm.trim()) {
                return Err(AppError::BadRequest(format!(
                    "Type {expected} to confirm the delete; nothing was deleted."
                )));
            }
            let removed = deletion::delete_image(&state, &name, &checked_digest, &caller.user.username)
                .await
                .map_err(|e| delete_error(&e.to_string(), caller.is_administrator()))?;
            let tags_removed = format!("tags removed: {}", removed.join(", "));
            caller
                .audit(
                    &state,
                    AuditAction::ImageDeleted,
                    &format!("{repository}@{digest}"),
                    &tags_removed,
                )
                .await;
            Ok(DeleteOutcome {
                message: if removed.is_empty() {
                    format!("Deleted the untagged image {digest} from {repository}.")
                } else {
                    format!(
                        "Deleted {digest} from {repository} with its tags {}.",
                        removed.join(", ")
                    )
                },
                repository,
            })
        }
        .await,
    )
    .await
}

/// Deletes one tag; the image and its other tags stay.
#[server(prefix = "/api", endpoint = "delete_tag")]
pub async fn delete_tag(repository: String, tag: String, confirm: String) -> Result<DeleteOutcome, AppError> {
    use crate::backend::access::{Action, Target};
    use crate::backend::audit::AuditAction;
    use crate::backend::index::queries;
    use crate::backend::{deletion, session};
    use crate::names::{RepositoryName, Tag};
    crate::backend::responses::with_status(
        async move {
            let name = RepositoryName::parse(&repository)?;
            let checked_tag = Tag::parse(&tag)?;
            let (state, caller) = session::authorize(
                Target::Repository(name.as_str()),
                Action::Delete,
                &format!("delete tags in {repository}"),
            )
            .await?;
            if confirm.trim() != tag {
                return Err(AppError::BadRequest(format!(
                    "Type the tag {tag} to confirm the delete; nothing was deleted."
                )));
            }
            queries::tag_digest(&state.db, &repository, &tag)
                .await
                .map_err(session::internal)?
                .ok_or_else(|| AppError::NotFound(format!("Tag {repository}:{tag}")))?;
            deletion::delete_tag(&state, &name, &checked_tag, &caller.user.username)
                .await
                .map_err(|e| delete_error(&e.to_string(), caller.is_administrator()))?;
            caller
                .audit(&state, AuditAction::TagDeleted, &format!("{repository}:{tag}"), "")
                .await;
            Ok(DeleteOutcome {
                message: format!("Deleted the tag {repository}:{tag}. The image and its other tags are still there."),
                repository,
            })
        }
        .await,
    )
    .await
}

/// A failed delete. The registry's own words (its address, its error body) are for
/// administrators, like the sync status; others learn that it did not answer.
#[cfg(feature = "ssr")]
fn delete_error(reason: &str, administrator: bool) -> AppError {
    tracing::warn!(%reason, "delete failed");
    let reason = if administrator {
        format!("{reason}.")
    } else {
        crate::model::REGISTRY_UNREACHABLE.to_string()
    };
    AppError::RegistryUnavailable(format!("{reason} Nothing was removed from the index; try again."))
}

#[cfg(test)]
mod tests {
    use super::image_confirmation;

    #[test]
    fn confirmation_text() {
        assert_eq!(image_confirmation("sha256:0123456789abcdef", &["v1".into()]), "v1");
        assert_eq!(image_confirmation("sha256:0123456789abcdef", &[]), "0123456789ab");
    }

    #[cfg(feature = "ssr")]
    #[test]
    fn only_administrators_read_the_registrys_error_on_a_failed_delete() {
        use crate::model::{AppError, REGISTRY_UNREACHABLE};
        let reason = "registry at http://10.1.2.3:5000 answered 500: internal detail";
        let AppError::RegistryUnavailable(shown) = super::delete_error(reason, false) else {
            panic!("not a registry error");
        };
        assert!(
            !shown.contains("10.1.2.3") && !shown.contains("internal detail"),
            "{shown}"
        );
        assert!(shown.starts_with(REGISTRY_UNREACHABLE), "{shown}");
        let AppError::RegistryUnavailable(shown) = super::delete_error(reason, true) else {
            panic!("not a registry error");
        };
        assert!(
            shown.contains("10.1.2.3") && shown.contains("internal detail"),
            "{shown}"
        );
    }
}
