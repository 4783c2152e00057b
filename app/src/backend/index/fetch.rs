//! Bringing a manifest into the index: its bytes (from the blob cache or the registry), its
//! config, and for an index its platform manifests, as one [`ManifestRecord`]. Fetching only
//! reads the database; what it found is written by the caller, inside its unit of work.

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};
use sqlx::AnyConnection;

use super::blobs::{self, ManifestBlob};
use super::parse::{parse_config, parse_manifest, ConfigSummary, ParsedManifest, Reference};
use super::store::{self, ManifestRecord};

use crate::backend::db::Db;
use crate::backend::registry::{RegistryClient, RegistryError, MAX_CONFIG_BYTES};
use crate::model::PlatformRow;
use crate::names::{self, NameError, RepositoryName};

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
}

/// A name or digest that is not the registry's grammar (from a stored event, or a manifest's
/// descriptor): nothing is asked of the registry.
impl From<NameError> for FetchError {
    fn from(err: NameError) -> FetchError {
        FetchError::Registry(RegistryError::InvalidName(err))
    }
}

impl FetchError {
    /// The registry no longer has it: nothing to retry.
    pub fn is_not_found(&self) -> bool {
        matches!(self, FetchError::Registry(RegistryError::NotFound(_)))
    }

    /// Worth trying again later: the registry or the database is down or overloaded. Anything
    /// else (refused access, a malformed answer) will fail the same way next time.
    pub fn is_transient(&self) -> bool {
        match self {
            FetchError::Database(_) => true,
            FetchError::Registry(RegistryError::Unreachable { .. }) => true,
            FetchError::Registry(RegistryError::Status { status, .. }) => *status >= 500 || *status == 429,
            FetchError::Registry(_) => false,
        }
    }
}

/// What bringing a manifest into the index found and will write: blobs to cache, manifests to
/// record, the digests present in the repository. Fetching reads only; the caller writes it all in
/// its own transaction with [`Fetched::write`].
#[derive(Debug, Default)]
pub struct Fetched {
    blobs: Vec<(String, String, String)>,
    manifests: Vec<ManifestRecord>,
    /// The blobs of each new image manifest, recorded with it.
    manifest_blobs: Vec<(String, Vec<ManifestBlob>)>,
    present: Vec<String>,
}

impl Fetched {
    /// Writes the blobs, manifests and repository links (all idempotent).
    pub async fn write(&self, conn: &mut AnyConnection, repository: &str) -> Result<(), sqlx::Error> {
        for (digest, media_type, content) in &self.blobs {
            store::cache_blob(conn, digest, media_type, content).await?;
        }
        for record in &self.manifests {
            store::put_manifest(conn, record).await?;
        }
        for (digest, blobs) in &self.manifest_blobs {
            blobs::store(conn, digest, blobs).await?;
        }
        for digest in &self.present {
            store::add_repository_manifest(conn, repository, digest).await?;
        }
        Ok(())
    }

    /// Caches `bytes` as the blob `digest` when they match it; returns them as text.
    fn remember(&mut self, digest: &str, media_type: &str, bytes: &[u8]) -> String {
        let text = String::from_utf8_lossy(bytes).into_owned();
        if digest_matches(digest, bytes) {
            self.blobs
                .push((digest.to_string(), media_type.to_string(), text.clone()));
        }
        text
    }
}

async fn cached_blob(db: &Db, digest: &str) -> Result<Option<(String, String)>, sqlx::Error> {
    let mut conn = db.pool.acquire().await?;
    store::cached_blob(&mut conn, digest).await
}

/// A manifest's bytes: from the cache, or fetched (and cached: the digest is checked first).
pub async fn manifest_bytes(
    db: &Db,
    registry: &RegistryClient,
    repository: &str,
    digest: &str,
) -> Result<(String, String), FetchError> {
    let mut fetched = Fetched::default();
    let found = fetch_manifest_bytes(db, registry, repository, digest, &mut fetched).await?;
    fetched.write(&mut *db.pool.acquire().await?, repository).await?;
    Ok(found)
}

async fn fetch_manifest_bytes(
    db: &Db,
    registry: &RegistryClient,
    repository: &str,
    digest: &str,
    fetched: &mut Fetched,
) -> Result<(String, String), FetchError> {
    if let Some(cached) = cached_blob(db, digest).await? {
        return Ok(cached);
    }
    let (media_type, _, bytes) = registry
        .get_manifest(&RepositoryName::parse(repository)?, &names::Reference::parse(digest)?)
        .await?;
    let text = fetched.remember(digest, &media_type, &bytes);
    Ok((media_type, text))
}

/// A config blob's bytes, from the cache or fetched.
async fn config_bytes(
    db: &Db,
    registry: &RegistryClient,
    repository: &str,
    config: &Reference,
    fetched: &mut Fetched,
) -> Result<String, FetchError> {
    if let Some((_, content)) = cached_blob(db, &config.digest).await? {
        return Ok(content);
    }
    // The descriptor tells the size: a blob too big to be a config is not even requested.
    if u64::try_from(config.size).unwrap_or(0) > MAX_CONFIG_BYTES {
        return Err(FetchError::Registry(RegistryError::TooLarge {
            what: "config blob".into(),
            limit: MAX_CONFIG_BYTES,
        }));
    }
    let bytes = registry
        .get_blob(
            &RepositoryName::parse(repository)?,
            &names::Digest::parse(&config.digest)?,
            MAX_CONFIG_BYTES,
        )
        .await?;
    Ok(fetched.remember(&config.digest, &config.media_type, &bytes))
}

/// An image's config, read and parsed: `Err(reason)` inside when it is missing from the registry
/// or not an image config (artifacts), so callers can show why; registry and database failures
/// are the outer error. A config fetched from the registry is cached.
pub async fn read_config(
    db: &Db,
    registry: &RegistryClient,
    repository: &str,
    config: &Reference,
) -> Result<Result<ConfigSummary, String>, FetchError> {
    let mut fetched = Fetched::default();
    let summary = fetch_config(db, registry, repository, config, &mut fetched).await?;
    fetched.write(&mut *db.pool.acquire().await?, repository).await?;
    Ok(summary)
}

async fn fetch_config(
    db: &Db,
    registry: &RegistryClient,
    repository: &str,
    config: &Reference,
    fetched: &mut Fetched,
) -> Result<Result<ConfigSummary, String>, FetchError> {
    match config_bytes(db, registry, repository, config, fetched).await {
        Ok(text) => Ok(parse_config(text.as_bytes())),
        Err(err) if err.is_not_found() => Ok(Err(format!(
            "The config blob {} is missing from the registry.",
            config.digest
        ))),
        // Shown with a warning, never cached; the index goes on.
        Err(FetchError::Registry(RegistryError::TooLarge { limit, .. })) => Ok(Err(format!(
            "The config blob {} ({} bytes) is larger than the {} MiB Wharf reads, so its details are not shown.",
            config.digest,
            config.size,
            limit >> 20
        ))),
        Err(err) => Err(err),
    }
}

fn digest_matches(digest: &str, bytes: &[u8]) -> bool {
    match digest.strip_prefix("sha256:") {
        Some(hex) => hex::encode(Sha256::digest(bytes)) == hex,
        None => false,
    }
}

/// When an image's config is read: at once (events, a page), or after every repository's tags
/// are in (a reconcile's first pass, so the catalog and tag tables fill up first).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Details {
    Now,
    Later,
}

/// Finds what the index needs of a manifest (and, for an index, of its platform manifests):
/// the record, and the writes that record it as present in `repository`, for the caller's
/// transaction. `known` holds manifest bytes the caller already fetched (by tag). Known digests
/// cost one query: manifests never change.
pub async fn index_manifest(
    db: &Db,
    registry: &RegistryClient,
    repository: &str,
    digest: &str,
    known: Option<(&str, &[u8])>,
    details: Details,
) -> Result<(ManifestRecord, Fetched), FetchError> {
    let mut fetched = Fetched::default();
    if let Some((media_type, bytes)) = known {
        fetched.remember(digest, media_type, bytes);
    }
    let record = index_manifest_depth(db, registry, repository, digest, 0, details, &mut fetched).await?;
    Ok((record, fetched))
}

/// Fills in the details of a manifest indexed without them: an image's config is read (from the
/// cache or the registry); an index takes them from its platform images, which must be complete
/// (`None` otherwise). A config that cannot be read (missing, too large, not a config) leaves the
/// details empty, as it would have at once.
pub async fn complete_details(
    db: &Db,
    registry: &RegistryClient,
    repository: &str,
    record: &ManifestRecord,
) -> Result<Option<(ManifestRecord, Fetched)>, FetchError> {
    let mut fetched = Fetched::default();
    let mut complete = record.clone();
    complete.details_pending = false;
    if record.kind == "index" {
        complete.created = None;
        complete.labels = BTreeMap::new();
        for platform in &record.platforms {
            let Some(child) = store::manifest(&mut *db.pool.acquire().await?, &platform.digest).await? else {
                continue;
            };
            if child.details_pending {
                return Ok(None);
            }
            if complete.created.is_none() {
                complete.created = child.created;
                complete.labels = child.labels;
            }
        }
        return Ok(Some((complete, fetched)));
    }
    let (media_type, text) = fetch_manifest_bytes(db, registry, repository, &record.digest, &mut fetched).await?;
    if let ParsedManifest::Image { config, .. } = parse_manifest(&media_type, text.as_bytes()) {
        let summary = fetch_config(db, registry, repository, &config, &mut fetched)
            .await?
            .unwrap_or_default();
        complete.platforms = vec![PlatformRow {
            os: summary.os,
            architecture: summary.architecture,
            variant: summary.variant,
            digest: record.digest.clone(),
            size: record.total_size,
        }];
        complete.created = summary.created;
        complete.labels = summary.labels;
    }
    Ok(Some((complete, fetched)))
}

#[allow(clippy::too_many_arguments)]
async fn index_manifest_depth(
    db: &Db,
    registry: &RegistryClient,
    repository: &str,
    digest: &str,
    depth: u8,
    details: Details,
    fetched: &mut Fetched,
) -> Result<ManifestRecord, FetchError> {
    fetched.present.push(digest.to_string());
    if let Some(known) = store::manifest(&mut *db.pool.acquire().await?, digest).await? {
        return Ok(known);
    }
    let (media_type, text) = match fetched.blobs.iter().find(|(d, _, _)| d == digest) {
        Some((_, media_type, text)) => (media_type.clone(), text.clone()),
        None => fetch_manifest_bytes(db, registry, repository, digest, fetched).await?,
    };
    let parsed = parse_manifest(&media_type, text.as_bytes());
    let mut record = ManifestRecord {
        digest: digest.to_string(),
        media_type: declared_media_type(&text).unwrap_or(media_type),
        manifest_size: text.len() as i64,
        total_size: text.len() as i64,
        kind: parsed.kind().to_string(),
        config_digest: None,
        platforms: Vec::new(),
        created: None,
        layer_count: 0,
        annotations: BTreeMap::new(),
        labels: BTreeMap::new(),
        subject: None,
        details_pending: false,
    };
    match parsed {
        ParsedManifest::Image {
            config,
            layers,
            annotations,
            subject,
        } => {
            fetched
                .manifest_blobs
                .push((digest.to_string(), blobs::image_blobs(&config, &layers)));
            let summary = match details {
                Details::Now => fetch_config(db, registry, repository, &config, fetched).await?.ok(),
                Details::Later => {
                    record.details_pending = true;
                    None
                }
            };
            let total = config.size + layers.iter().map(|l| l.size).sum::<i64>();
            let ConfigSummary {
                os,
                architecture,
                variant,
                created,
                labels,
                ..
            } = summary.unwrap_or_default();
            record.total_size = total;
            record.config_digest = Some(config.digest);
            record.layer_count = layers.len() as i64;
            record.platforms = vec![PlatformRow {
                os,
                architecture,
                variant,
                digest: digest.to_string(),
                size: total,
            }];
            record.created = created;
            record.labels = labels;
            record.annotations = annotations;
            record.subject = subject;
        }
        ParsedManifest::Index {
            manifests,
            annotations,
            subject,
        } if depth == 0 => {
            let mut total = 0;
            for child in manifests {
                let child_record = match Box::pin(index_manifest_depth(
                    db,
                    registry,
                    repository,
                    &child.reference.digest,
                    depth + 1,
                    details,
                    fetched,
                ))
                .await
                {
                    Ok(record) => record,
                    Err(err) if err.is_not_found() => continue,
                    Err(err) => return Err(err),
                };
                total += child_record.total_size;
                record.details_pending |= child_record.details_pending;
                let Some((os, architecture, variant)) = child.platform else {
                    continue;
                };
                if os == "unknown" {
                    // Build attestations ride along in an index with platform unknown/unknown.
                    continue;
                }
                if record.created.is_none() {
                    record.created = child_record.created.clone();
                    record.labels = child_record.labels.clone();
                }
                record.platforms.push(PlatformRow {
                    os,
                    architecture,
                    variant,
                    digest: child.reference.digest,
                    size: child_record.total_size,
                });
            }
            record.total_size = total;
            record.annotations = annotations;
            record.subject = subject;
        }
        ParsedManifest::Index { .. } | ParsedManifest::Unknown { .. } => {}
    }
    fetched.manifests.push(record.clone());
    Ok(record)
}

/// The `mediaType` a manifest declares in its body, if any.
fn declared_media_type(text: &str) -> Option<String> {
    let value: serde_json::Value = serde_json::from_str(text).ok()?;
    value.get("mediaType")?.as_str().map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tells_transient_failures_from_permanent_ones() {
        let unreachable = FetchError::Registry(RegistryError::Unreachable {
            url: "u".into(),
            reason: "r".into(),
        });
        let overloaded = FetchError::Registry(RegistryError::Status {
            status: 503,
            body: String::new(),
        });
        let denied = FetchError::Registry(RegistryError::Denied {
            status: 401,
            body: String::new(),
        });
        let malformed = FetchError::Registry(RegistryError::Protocol("x".into()));
        assert!(unreachable.is_transient() && overloaded.is_transient());
        assert!(!denied.is_transient() && !malformed.is_transient());
    }

    #[test]
    fn checks_digests() {
        let hex = hex::encode(Sha256::digest(b"{}"));
        assert!(digest_matches(&format!("sha256:{hex}"), b"{}"));
        assert!(!digest_matches(&format!("sha256:{hex}"), b"{ }"));
        assert!(!digest_matches("sha512:00", b"{}"));
    }
}
