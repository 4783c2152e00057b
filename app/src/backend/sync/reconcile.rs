//! Reconcile: walk the registry (catalog with `Link` paging, every tag list, unknown digests)
//! and make the index match it. Runs on start, on a timer and on an administrator's request.
//! Repositories are processed with bounded concurrency; progress is published as it goes.
//!
//! Two passes, so a new index is usable early: first every repository's tags, digests and sizes
//! (what the catalog and tag tables show), then the details of the new images (their configs:
//! platform, creation time, labels), which pages mark as still coming meanwhile.

use std::collections::{BTreeSet, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};

use futures::stream::{self, StreamExt, TryStreamExt};
use sqlx::AnyConnection;

use crate::backend::db::{now_ms, Db};
use crate::backend::index::fetch::{self, index_manifest, Details, FetchError};
use crate::backend::index::store::{self, ManifestRecord};
use crate::backend::registry::{RegistryClient, RegistryError};
use crate::names::{Reference, RepositoryName};

use super::apply::rfc3339_ms;
use super::hub::SyncHub;

/// Repositories reconciled at the same time by default (`--registry-concurrency`).
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
    /// Manifests whose details (config) the second pass filled in.
    pub details_filled: u64,
    /// Whose tags were checked by tag.
    pub digests: Option<Digests>,
}

impl std::fmt::Display for ReconcileReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} repositories checked; {} tags added, {} moved, {} removed; {} repositories removed",
            self.repositories, self.tags_added, self.tags_moved, self.tags_removed, self.repositories_removed
        )?;
        if self.details_filled > 0 {
            write!(f, "; details of {} images read", self.details_filled)?;
        }
        if let Some(Digests::Slice { index, of }) = self.digests {
            write!(f, "; digests of known tags checked in slice {} of {of}", index + 1)?;
        }
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

/// Which tags a reconcile asks the registry for by tag (their digests): every tag, or only in one
/// slice of the repositories. Tag lists are read in full either way, so new and removed tags are
/// always found; a tag moved to another image is found by the run whose slice holds its
/// repository (and at once by the registry's notification, when it sends them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Digests {
    All,
    Slice { index: u32, of: u32 },
}

impl Digests {
    /// The slice for the `run`th timed reconcile, `of` slices in all.
    pub fn for_run(run: u64, of: u32) -> Digests {
        if of <= 1 {
            Digests::All
        } else {
            Digests::Slice {
                index: (run % u64::from(of)) as u32,
                of,
            }
        }
    }

    /// Whether the tags of `repository` are checked by tag in this run. The slice of a name is
    /// stable (FNV-1a, written out: it must not change between runs or builds).
    pub fn covers(self, repository: &str) -> bool {
        match self {
            Digests::All => true,
            Digests::Slice { index, of } => {
                let hash = repository.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
                    (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
                });
                hash % u64::from(of) == u64::from(index)
            }
        }
    }
}

/// How a reconcile walks the registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Catalog pages at most (see [`MAX_CATALOG_PAGES`]).
    pub max_pages: usize,
    /// Repositories at the same time.
    pub concurrency: usize,
    /// Whose tags are checked by tag.
    pub digests: Digests,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_pages: MAX_CATALOG_PAGES,
            concurrency: CONCURRENCY,
            digests: Digests::All,
        }
    }
}

pub async fn reconcile(
    db: &Db,
    registry: &RegistryClient,
    hub: &SyncHub,
    limits: Limits,
) -> Result<ReconcileReport, FetchError> {
    let first_index = store::repository_count(&mut *db.pool.acquire().await?).await? == 0;
    hub.update_reconcile(|p| {
        p.running = true;
        p.first_index = first_index;
        p.repositories_done = 0;
        p.repositories_total = 0;
        p.started_at_ms = Some(now_ms());
        p.updated_at_ms = None;
        p.index_ready_at_ms = None;
        p.details_done = 0;
        p.details_total = 0;
        p.last_error = None;
    });
    let started = std::time::Instant::now();
    let result = run(db, registry, hub, limits).await;
    crate::backend::metrics::reconcile_finished(started.elapsed(), &result);
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

async fn run(db: &Db, registry: &RegistryClient, hub: &SyncHub, limits: Limits) -> Result<ReconcileReport, FetchError> {
    let CatalogWalk { names, complete } = catalog(registry, limits.max_pages).await?;
    let total = names.len() as u64;
    hub.update_reconcile(|p| {
        p.repositories_total = total;
        p.updated_at_ms = Some(now_ms());
    });

    let present: HashSet<&str> = names.iter().map(String::as_str).collect();
    let mut report = ReconcileReport {
        repositories: total,
        catalog_complete: complete,
        digests: Some(limits.digests),
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
                let check_digests = limits.digests.covers(&name);
                let repo_report = reconcile_repository(db, registry, &name, check_digests).await?;
                if repo_report != ReconcileReport::default() {
                    hub.repository_changed(&name);
                }
                let finished = done.fetch_add(1, Ordering::Relaxed) + 1;
                // Progress every 1% (and at the end), not for every repository.
                if finished == total || finished.is_multiple_of((total / 100).max(1)) {
                    hub.update_reconcile(|p| {
                        p.repositories_done = finished;
                        p.updated_at_ms = Some(now_ms());
                    });
                }
                Ok::<_, FetchError>(repo_report)
            }
        })
        .buffer_unordered(limits.concurrency.max(1))
        .try_collect()
        .await?;
    for r in reports {
        report.tags_added += r.tags_added;
        report.tags_moved += r.tags_moved;
        report.tags_removed += r.tags_removed;
    }
    hub.update_reconcile(|p| p.index_ready_at_ms = Some(now_ms()));
    report.details_filled = fill_details(db, registry, hub, limits.concurrency).await?;
    Ok(report)
}

/// Manifests whose details are filled in per query, and the bound on rounds (each round
/// completes its whole batch, so the bound only guards against a store that does not).
const DETAILS_BATCH: i64 = 512;

/// The second pass: reads the configs of every image indexed without them, then completes the
/// multi-platform indexes from their images; tags' estimated push times become the images'
/// creation times and their repositories are refreshed. Returns how many manifests it completed.
pub async fn fill_details(
    db: &Db,
    registry: &RegistryClient,
    hub: &SyncHub,
    concurrency: usize,
) -> Result<u64, FetchError> {
    let total = store::pending_details_count(&mut *db.pool.acquire().await?)
        .await?
        .max(0) as u64;
    hub.update_reconcile(|p| {
        p.details_total = total;
        p.details_done = 0;
    });
    if total == 0 {
        return Ok(0);
    }
    let mut done = 0u64;
    let mut touched = BTreeSet::new();
    let max_rounds = total / DETAILS_BATCH as u64 + 2;
    for kind in ["image", "index"] {
        for _ in 0..max_rounds {
            let batch = store::pending_details(&mut *db.pool.acquire().await?, kind, DETAILS_BATCH).await?;
            if batch.is_empty() {
                break;
            }
            // Fetched side by side, written a chunk per transaction: SQLite has one writer, and
            // a transaction per image would make it the bottleneck. A chunk is fetched in full
            // before it is written: a fetch paused mid-query would hold a pooled connection the
            // write may be waiting for.
            for chunk in batch.chunks(WRITE_CHUNK) {
                let chunk: Vec<Option<FoundDetails>> = stream::iter(chunk.iter().cloned())
                    .map(|(digest, repository)| async move { find_details(db, registry, digest, repository).await })
                    .buffer_unordered(concurrency.max(1))
                    .try_collect()
                    .await?;
                let mut tx = db.begin_write().await?;
                for details in chunk.iter().flatten() {
                    touched.extend(details.write(&mut tx).await?);
                }
                tx.commit().await?;
                let before = done;
                done += chunk.len() as u64;
                let step = (total / 100).max(1);
                if done >= total || done / step != before / step {
                    hub.update_reconcile(|p| p.details_done = done.min(total));
                }
            }
        }
    }
    for repository in &touched {
        let mut tx = db.begin_write().await?;
        store::refresh_repository(&mut tx, repository).await?;
        tx.commit().await?;
        hub.repository_changed(repository);
    }
    hub.update_reconcile(|p| p.details_done = done.min(total));
    Ok(done)
}

/// Manifests completed per write transaction in the second pass.
const WRITE_CHUNK: usize = 128;

/// One manifest's details, found and not yet written.
struct FoundDetails {
    repository: Option<String>,
    complete: ManifestRecord,
    fetched: fetch::Fetched,
}

impl FoundDetails {
    /// Writes them; returns the repositories whose pages change.
    async fn write(&self, tx: &mut AnyConnection) -> Result<Vec<String>, sqlx::Error> {
        let created_ms = self.complete.created.as_deref().and_then(rfc3339_ms);
        if let Some(repository) = &self.repository {
            self.fetched.write(tx, repository).await?;
        }
        let mut repositories = store::complete_details(tx, &self.complete, created_ms).await?;
        repositories.extend(self.repository.clone());
        Ok(repositories)
    }
}

/// Finds one manifest's details (`None` when no manifest has that digest any more). A manifest no
/// repository holds, or whose config cannot be had for good, is completed without them.
async fn find_details(
    db: &Db,
    registry: &RegistryClient,
    digest: String,
    repository: Option<String>,
) -> Result<Option<FoundDetails>, FetchError> {
    let Some(record) = store::manifest(&mut *db.pool.acquire().await?, &digest).await? else {
        return Ok(None);
    };
    let found = match repository.as_deref() {
        Some(repository) => match fetch::complete_details(db, registry, repository, &record).await {
            Ok(found) => found,
            Err(err) if err.is_transient() => return Err(err),
            Err(err) => {
                tracing::warn!(%digest, error = %err, "cannot read the details of a manifest; it is shown without them");
                None
            }
        },
        None => None,
    };
    let (complete, fetched) = found.unwrap_or_else(|| {
        let mut bare = record;
        bare.details_pending = false;
        (bare, fetch::Fetched::default())
    });
    Ok(Some(FoundDetails {
        repository,
        complete,
        fetched,
    }))
}

/// Brings one repository's tags in line with the registry's tag list: everything is fetched
/// first, then written in one transaction. Without `check_digests`, only tags the index does not
/// hold yet are asked for.
pub async fn reconcile_repository(
    db: &Db,
    registry: &RegistryClient,
    name: &str,
    check_digests: bool,
) -> Result<ReconcileReport, FetchError> {
    let mut report = ReconcileReport::default();
    // The registry's own API never lists such a name or tag; one planted in its storage is
    // left out of the index rather than asked for.
    let Ok(repository) = RepositoryName::parse(name) else {
        tracing::warn!(repository = %name, "skipped a catalog entry that is not a repository name");
        return Ok(report);
    };
    let tags: BTreeSet<String> = match registry.tags(&repository).await {
        Ok(tags) => tags.into_iter().collect(),
        Err(RegistryError::NotFound(_)) => BTreeSet::new(),
        Err(err) => return Err(err.into()),
    };
    let known = store::repository_tags(&mut *db.pool.acquire().await?, name).await?;
    let mut changed_tags = Vec::new();
    for tag in &tags {
        if !check_digests && known.contains_key(tag) {
            continue;
        }
        // One GET by tag gives the digest and, for a new digest, the manifest itself (manifests
        // are small, so a HEAD first would only add a round trip). A tag indexed before is asked
        // for with its digest in `If-None-Match`: unchanged, the registry answers 304 without
        // reading the manifest.
        let Ok(reference) = Reference::parse(tag) else {
            tracing::warn!(repository = %name, tag = %tag, "skipped a listed tag that is not a tag");
            continue;
        };
        let (media_type, digest, bytes) = match registry
            .manifest_unless(&repository, &reference, known.get(tag).map(String::as_str))
            .await
        {
            Ok(Some(manifest)) => manifest,
            Ok(None) => continue,
            // Deleted between the tag list and now.
            Err(RegistryError::NotFound(_)) => continue,
            Err(err) => return Err(err.into()),
        };
        match known.get(tag) {
            Some(current) if *current == digest => continue,
            Some(_) => report.tags_moved += 1,
            None => report.tags_added += 1,
        }
        let known = Some((media_type.as_str(), bytes.as_ref()));
        let (record, fetched) = match index_manifest(db, registry, name, &digest, known, Details::Later).await {
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
    if report == ReconcileReport::default() && !known.is_empty() {
        // Indexed and unchanged: nothing to write (most repositories, most of the time).
        return Ok(report);
    }

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slices_split_the_repositories_and_every_run_covers_one() {
        let names: Vec<String> = (0..600).map(|i| format!("team-{:02}/app-{i}", i % 7)).collect();
        let mut seen = vec![0u32; names.len()];
        for run in 0..6 {
            let digests = Digests::for_run(run, 6);
            let covered = names.iter().filter(|n| digests.covers(n)).count();
            assert!((50..150).contains(&covered), "run {run} covers {covered} of 600");
            for (i, name) in names.iter().enumerate() {
                seen[i] += u32::from(digests.covers(name));
            }
        }
        assert!(seen.iter().all(|&n| n == 1), "six runs cover each repository once");
        assert_eq!(Digests::for_run(7, 1), Digests::All);
        assert!(Digests::All.covers("anything"));
        assert_eq!(Digests::for_run(7, 6), Digests::Slice { index: 1, of: 6 });
    }
}
