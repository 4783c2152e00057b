use leptos::prelude::*;

use crate::model::{AppError, ManifestView, RepositoryView};

/// A repository's images (one row per digest with its tags), newest push first.
#[server(prefix = "/api", endpoint = "repository")]
pub async fn repository(name: String, filter: String, page: u32) -> Result<RepositoryView, AppError> {
    use crate::backend::access::{Action, Target};
    use crate::backend::index::queries::{self, TAGS_PAGE_SIZE};
    use crate::backend::session;
    crate::backend::responses::with_status(
        async move {
            crate::names::RepositoryName::parse(&name)?;
            let (state, caller) =
                session::authorize(Target::Repository(&name), Action::Pull, &format!("browse {name}")).await?;
            let summary = queries::repository(&state.db, &name)
                .await
                .map_err(session::internal)?
                .ok_or_else(|| AppError::NotFound(format!("Repository {name}")))?;
            let page = page.max(1);
            let images = queries::images(
                &state.db,
                &name,
                &filter,
                page,
                (&state.catalog_counts, state.sync.index_generation()),
            )
            .await
            .map_err(session::internal)?;
            Ok(RepositoryView {
                registry_host: state.settings.registry_host.clone(),
                images: images.images,
                matching: images.matching,
                tag_count: summary.tag_count,
                size_bytes: summary.size_bytes,
                last_push_at_ms: summary.last_push_at_ms,
                page,
                page_size: TAGS_PAGE_SIZE,
                labels: queries::display_labels(&images.labels),
                sync: state.sync.status().for_reader(caller.is_administrator()),
                generated_at_ms: crate::backend::db::now_ms(),
                can_delete: caller.grants.allows(Target::Repository(&name), Action::Delete),
                name,
            })
        }
        .await,
    )
    .await
}

/// One manifest: `reference` is a digest (`sha256:…`) or a tag.
#[server(prefix = "/api", endpoint = "manifest")]
pub async fn manifest(repository: String, reference: String) -> Result<ManifestView, AppError> {
    use crate::backend::access::{Action, Target};
    use crate::backend::index::{detail, queries};
    use crate::backend::registry::RegistryError;
    use crate::backend::session;
    use crate::names::{Reference, RepositoryName};
    crate::backend::responses::with_status(
        async move {
            let name = RepositoryName::parse(&repository)?;
            let reference = Reference::parse(&reference)?;
            let (state, caller) = session::authorize(
                Target::Repository(name.as_str()),
                Action::Pull,
                &format!("browse {name}"),
            )
            .await?;
            let admin = caller.is_administrator();
            let not_found = || AppError::NotFound(format!("{name}@{reference}"));
            let digest = server::manifest_digest(&state, &name, &reference, admin).await?;
            let content = match detail::manifest_content(&state.db, &state.registry, &repository, &digest).await {
                Ok(content) => content,
                Err(err) if err.is_not_found() => return Err(not_found()),
                Err(detail::FetchError::Registry(
                    err @ (RegistryError::Unreachable { .. } | RegistryError::Status { .. }),
                )) => return Err(server::unavailable(err, admin)),
                Err(err) => return Err(session::internal(err)),
            };
            let tags = queries::tags_of(&state.db, &repository, &digest)
                .await
                .map_err(session::internal)?;
            let attachments = queries::attachments_of(&state.db, &repository, &digest)
                .await
                .map_err(session::internal)?;
            let pulls = queries::pulls_of(&state.db, &repository, &[digest.as_str()])
                .await
                .map_err(session::internal)?
                .remove(&digest);
            Ok(ManifestView {
                registry_host: state.settings.registry_host.clone(),
                digest,
                media_type: content.media_type,
                manifest_size: content.manifest_size,
                kind: content.kind,
                tags,
                platforms: content.platforms,
                image: content.image,
                annotations: content.annotations,
                subject: content.subject,
                attachments,
                raw: content.raw,
                warnings: content.warnings,
                sync: state.sync.status().for_reader(caller.is_administrator()),
                pulls,
                generated_at_ms: crate::backend::db::now_ms(),
                repository,
            })
        }
        .await,
    )
    .await
}

#[cfg(feature = "ssr")]
mod server {
    use crate::backend::index::queries;
    use crate::backend::registry::RegistryError;
    use crate::backend::{session, AppState};
    use crate::model::AppError;
    use crate::names::{Reference, RepositoryName};

    /// The registry's address and answer are for administrators (like the sync status).
    pub fn unavailable(err: RegistryError, admin: bool) -> AppError {
        let reason = if admin {
            format!("{err}.")
        } else {
            crate::model::REGISTRY_UNREACHABLE.to_string()
        };
        AppError::RegistryUnavailable(format!(
            "{reason} This manifest is not in Wharf's cache yet, so it cannot be shown until the registry answers."
        ))
    }

    /// The digest `reference` names in `repository`: from the index, or for a digest the index
    /// does not list yet, once the registry confirms this repository holds it (the manifest cache
    /// is shared by all repositories).
    pub async fn manifest_digest(
        state: &AppState,
        repository: &RepositoryName,
        reference: &Reference,
        admin: bool,
    ) -> Result<String, AppError> {
        let not_found = || AppError::NotFound(format!("{repository}@{reference}"));
        let digest = match reference {
            Reference::Tag(tag) => {
                return queries::tag_digest(&state.db, repository.as_str(), tag.as_str())
                    .await
                    .map_err(session::internal)?
                    .ok_or_else(not_found)
            }
            Reference::Digest(digest) => digest,
        };
        let indexed = queries::has_manifest(&state.db, repository.as_str(), digest.as_str())
            .await
            .map_err(session::internal)?;
        if !indexed {
            match state.registry.manifest_digest(repository, reference).await {
                Ok(_) => {}
                Err(RegistryError::NotFound(_)) => return Err(not_found()),
                Err(err) => return Err(unavailable(err, admin)),
            }
        }
        Ok(digest.to_string())
    }
}
