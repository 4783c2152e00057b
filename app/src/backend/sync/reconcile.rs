//! Reconcile: walk the registry (catalog with `Link` paging, every tag list, unknown digests)
//! and make the index match it. Runs on start, on a timer and on an administrator's request.
//! Repositories are processed with bounded concurrency; progress is published as it goes.

use std::collections::{BTreeSet, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};

use futures::stream::{self, StreamExt, TryStreamExt};

use crate::backend::db::{now_ms, Db};
use crate::backend::index::fetch::{index_manifest, FetchError};
use crate::backend::index::store;
use crate::backend::registry::{RegistryClient, RegistryError};

use super::apply::rfc3339_ms;
use super::hub::SyncHub;

/// Repositories reconciled at the same time.
pub const CONCURRENCY: usize = 8;
/// Upper bound on catalog pages by default, so a registry that loops its `Link` cannot keep us
/// walking (`--catalog-max-pages`).
pub const MAX_CATALOG_PAGES: usize = 100_000;

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ReconcileReport {
    pub repositories: u64,
    pub repositories_removed: u64,
    pub tags_added: u64,
    pub tags_moved: u64,
    pub tags_removed: u64,
    /// The catalog walk reached its end; only then are repositories missing from it removed.
    pub catalog_complete: bool,
}

impl std::fmt::Display for ReconcileReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} repositories checked; {} tags added, {} moved, {} removed; {} repositories removed",
            self.repositories, self.tags_added, self.tags_moved, self.tags_removed, self.repositories_removed
        )?;
        if !self.catalog_complete {
            write!(f, " (the catalog walk was cut short, so none was removed)")?;
        }
        Ok(())
    }
}

/// A walk of the catalog: the names seen, and whether the walk reached the end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogWalk {
    pub names: Vec<String>,
    /// False when it stopped at the page cap or on a `Link` it had followed before: the
    /// registry may hold more than `names`.
    pub complete: bool,
}

/// The whole catalog in the registry's own page size, following `Link` until it ends (or up to
/// `max_pages`).
pub async fn catalog(registry: &RegistryClient, max_pages: usize) -> Result<CatalogWalk, RegistryError> {
    let mut names = Vec::new();
    let mut last: Option<String> = None;
    let mut followed = HashSet::new();
    for _ in 0..max_pages {
        let (page, next) = registry.catalog_page(None, last.as_deref()).await?;
        names.extend(page);
        match next {
            None => return Ok(CatalogWalk { names, complete: true }),
            Some(next) if !followed.insert(next.clone()) => {
                tracing::warn!(link = %next, "the registry's catalog links back to a page already read");
                return Ok(CatalogWalk { names, complete: false });
            }
            Some(next) => last = Some(next),
        }
    }
    tracing::warn!(max_pages, "the catalog walk stopped at its page cap");
    Ok(CatalogWalk { names, complete: false })
}

pub async fn reconcile(
    db: &Db,
    registry: &RegistryClient,
    hub: &SyncHub,
    max_pages: usize,
) -> Result<ReconcileReport, FetchError> {
    hub.update_reconcile(|p| {
        p.running = true;
        p.repositories_done = 0;
        p.repositories_total = 0;
        p.started_at_ms = Some(now_ms());
        p.last_error = None;
    });
    let result = run(db, registry, hub, max_pages).await;
    hub.update_reconcile(|p| {
        p.running = false;
        p.finished_at_ms = Some(now_ms());
        match &result {
            Ok(report) => p.last_result = Some(report.to_string()),
            Err(err) => p.last_error = Some(err.to_string()),
        }
    });
    result
}

async fn run(
    db: &Db,
    registry: &RegistryClient,
    hub: &SyncHub,
    max_pages: usize,
) -> Result<ReconcileReport, FetchError> {
    let CatalogWalk { names, complete } = catalog(registry, max_pages).await?;
    let total = names.len() as u64;
    hub.update_reconcile(|p| p.repositories_total = total);

    let present: HashSet<&str> = names.iter().map(String::as_str).collect();
    let mut report = ReconcileReport {
        repositories: total,
        catalog_complete: complete,
        ..ReconcileReport::default()
    };
    // A walk cut short says nothing about the repositories it did not reach: remove none.
    let known = if complete {
        store::repository_names(&mut *db.pool.acquire().await?).await?
    } else {
        Vec::new()
    };
    for known in known {
        if !present.contains(known.as_str()) {
            let mut tx = db.begin_write().await?;
            store::remove_repository(&mut tx, &known).await?;
            tx.commit().await?;
            hub.repository_changed(&known);
            report.repositories_removed += 1;
        }
    }

    let done = AtomicU64::new(0);
    let done = &done;
    let reports: Vec<ReconcileReport> = stream::iter(names.clone())
        .map(|name: String| {
            async move {
                let repo_report = reconcile_repository(db, registry, &name).await?;
                if repo_report != ReconcileReport::default() {
                    hub.repository_changed(&name);
                }
                let finished = done.fetch_add(1, Ordering::Relaxed) + 1;
                // Progress every 1% (and at the end), not for every repository.
                if finished == total || finished.is_multiple_of((total / 100).max(1)) {
                    hub.update_reconcile(|p| p.repositories_done = finished);
                }
                Ok::<_, FetchError>(repo_report)
            }
        })
        .buffer_unordered(CONCURRENCY)
        .try_collect()
        .await?;
    for r in reports {
        report.tags_added += r.tags_added;
        report.tags_moved += r.tags_moved;
        report.tags_removed += r.tags_removed;
    }
    Ok(report)
}

/// Brings one repository's tags in line with the registry's tag list: everything is fetched
/// first, then written in one transaction.
pub async fn reconcile_repository(
    db: &Db,
    registry: &RegistryClient,
    name: &str,
) -> Result<ReconcileReport, FetchError> {
    let mut report = ReconcileReport::default();
    let tags: BTreeSet<String> = match registry.tags(name).await {
        Ok(tags) => tags.into_iter().collect(),
        Err(RegistryError::NotFound(_)) => BTreeSet::new(),
        Err(err) => return Err(err.into()),
    };
    let known = store::repository_tags(&mut *db.pool.acquire().await?, name).await?;
    let mut changed_tags = Vec::new();
    for tag in &tags {
        // One GET by tag gives the digest and, for a new digest, the manifest itself (manifests
        // are small, so a HEAD first would only add a round trip).
        let (media_type, digest, bytes) = match registry.get_manifest(name, tag).await {
            Ok(manifest) => manifest,
            // Deleted between the tag list and now.
            Err(RegistryError::NotFound(_)) => continue,
            Err(err) => return Err(err.into()),
        };
        match known.get(tag) {
            Some(current) if *current == digest => continue,
            Some(_) => report.tags_moved += 1,
            None => report.tags_added += 1,
        }
        let (record, fetched) = match index_manifest(db, registry, name, &digest, Some((&media_type, &bytes))).await {
            Ok(found) => found,
            Err(err) if err.is_not_found() => continue,
            Err(err) => return Err(err),
        };
        // Only the registry's events know push times; the image's creation time stands in.
        let estimated = record.created.as_deref().and_then(rfc3339_ms).unwrap_or_else(now_ms);
        changed_tags.push((tag, digest, estimated, fetched));
    }
    let removed_tags: Vec<&String> = known.keys().filter(|tag| !tags.contains(*tag)).collect();
    report.tags_removed = removed_tags.len() as u64;

    let mut tx = db.begin_write().await?;
    store::ensure_repository(&mut tx, name).await?;
    for (tag, digest, estimated, fetched) in &changed_tags {
        fetched.write(&mut tx, name).await?;
        store::set_tag(&mut tx, name, tag, digest, *estimated, true).await?;
    }
    for tag in removed_tags {
        store::remove_tag(&mut tx, name, tag).await?;
    }
    if report != ReconcileReport::default() {
        store::refresh_repository(&mut tx, name).await?;
    }
    tx.commit().await?;
    Ok(report)
}
