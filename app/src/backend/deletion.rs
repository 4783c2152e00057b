//! Deleting images and tags in the registry, and the index with them.
//!
//! The registry deletes manifests by digest only, which removes every tag on that digest. To
//! remove one tag and keep its siblings, Wharf points the tag at a tiny manifest of its own
//! (unique, so no other tag shares it) and deletes that by digest.
//!
//! Every delete is recorded with the user who made it before the registry is asked (see
//! [`super::console_deletes`]), so the webhooks it causes name that user.

use bytes::Bytes;
use sha2::{Digest, Sha256};

use super::console_deletes;
use super::index::{queries, store};
use super::placeholders;
use super::registry::{RegistryClient, RegistryError};
use super::AppState;
use crate::names::{self, NameError, Reference, RepositoryName, Tag};

/// The OCI "empty" JSON blob used as the placeholder's config.
const EMPTY_CONFIG: &[u8] = b"{}";
const EMPTY_CONFIG_TYPE: &str = "application/vnd.oci.image.config.v1+json";
const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";

#[derive(Debug, thiserror::Error)]
pub enum DeleteError {
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
}

impl From<NameError> for DeleteError {
    fn from(err: NameError) -> DeleteError {
        DeleteError::Registry(RegistryError::InvalidName(err))
    }
}

fn sha256_digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// The placeholder manifest for `tag`: unique by a random annotation.
pub fn placeholder_manifest(tag: &str) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": EMPTY_CONFIG_TYPE, "digest": sha256_digest(EMPTY_CONFIG), "size": EMPTY_CONFIG.len()},
        "layers": [],
        "annotations": {
            "io.wharf.placeholder": format!("removes tag {tag}"),
            "io.wharf.nonce": uuid::Uuid::new_v4().to_string(),
        },
    }))
    .expect("static JSON serializes")
}

/// Deletes an image (manifest) by digest, with every tag on it, for `actor`. Returns the tags
/// it had.
pub async fn delete_image(
    state: &AppState,
    repository: &RepositoryName,
    digest: &names::Digest,
    actor: &str,
) -> Result<Vec<String>, DeleteError> {
    let tags = queries::tags_of(&state.db, repository.as_str(), digest.as_str()).await?;
    let media_type = media_type_of(state, digest.as_str()).await?;
    console_deletes::record(
        &state.db,
        repository.as_str(),
        digest.as_str(),
        actor,
        media_type.as_deref(),
    )
    .await?;
    match state.registry.delete_manifest(repository, digest).await {
        // Already gone from the registry: still clear it from the index.
        Ok(()) | Err(RegistryError::NotFound(_)) => {}
        Err(err) => return Err(err.into()),
    }
    let mut tx = state.db.begin_write().await?;
    let repository = repository.as_str();
    store::remove_manifest(&mut tx, repository, digest.as_str()).await?;
    store::refresh_repository(&mut tx, repository).await?;
    tx.commit().await?;
    state.sync.repository_changed(repository);
    Ok(tags)
}

/// The media type the index knows for `digest`.
async fn media_type_of(state: &AppState, digest: &str) -> Result<Option<String>, sqlx::Error> {
    let mut conn = state.db.pool.acquire().await?;
    Ok(store::manifest(&mut conn, digest)
        .await?
        .map(|manifest| manifest.media_type)
        .filter(|media_type| !media_type.is_empty()))
}

/// Removes one tag for `actor`; the image and its other tags stay.
pub async fn delete_tag(
    state: &AppState,
    repository: &RepositoryName,
    tag: &Tag,
    actor: &str,
) -> Result<(), DeleteError> {
    let previous = queries::tag_digest(&state.db, repository.as_str(), tag.as_str()).await?;
    let deleted = Deleted {
        tag,
        previous: previous.as_deref(),
        actor,
    };
    retarget_and_delete(state, repository, &deleted).await?;
    let (repository, tag) = (repository.as_str(), tag.as_str());
    let mut tx = state.db.begin_write().await?;
    store::remove_tag(&mut tx, repository, tag).await?;
    store::refresh_repository(&mut tx, repository).await?;
    tx.commit().await?;
    state.sync.repository_changed(repository);
    Ok(())
}

/// A tag being removed: what it pointed to, and who removes it.
struct Deleted<'a> {
    tag: &'a Tag,
    previous: Option<&'a str>,
    actor: &'a str,
}

async fn retarget_and_delete(
    state: &AppState,
    repository: &RepositoryName,
    deleted: &Deleted<'_>,
) -> Result<(), DeleteError> {
    let Deleted { tag, previous, actor } = *deleted;
    let registry: &RegistryClient = &state.registry;
    let config_digest = names::Digest::parse(&sha256_digest(EMPTY_CONFIG))?;
    if !registry.blob_exists(repository, &config_digest).await? {
        registry
            .upload_blob(repository, &config_digest, Bytes::from_static(EMPTY_CONFIG))
            .await?;
    }
    let manifest = placeholder_manifest(tag.as_str());
    let expected = sha256_digest(&manifest);
    // Before the push: the registry may report it before it answers.
    placeholders::record(&state.db, repository.as_str(), &expected, tag.as_str(), previous).await?;
    let media_type = match previous {
        Some(previous) => media_type_of(state, previous).await?,
        None => None,
    };
    console_deletes::record(&state.db, repository.as_str(), &expected, actor, media_type.as_deref()).await?;
    let digest = registry
        .put_manifest(
            repository,
            &Reference::Tag(tag.clone()),
            OCI_MANIFEST,
            Bytes::from(manifest),
        )
        .await?;
    let digest = if digest.is_empty() { expected } else { digest };
    Ok(registry
        .delete_manifest(repository, &names::Digest::parse(&digest)?)
        .await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_unique_and_valid_json() {
        let a = placeholder_manifest("v1");
        let b = placeholder_manifest("v1");
        assert_ne!(sha256_digest(&a), sha256_digest(&b));
        let value: serde_json::Value = serde_json::from_slice(&a).unwrap();
        assert_eq!(value["config"]["size"], 2);
        assert_eq!(
            value["config"]["digest"],
            "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
        );
    }
}
