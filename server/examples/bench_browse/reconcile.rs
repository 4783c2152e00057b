//! `reconcile`: against a server started with an empty data directory on a populated registry,
//! waits for the reconcile that runs at start to finish and reads its duration from the
//! server's own progress (`/api/settings`, `sync.reconcile`). Then asks for a second one
//! (`/api/resync`), which finds nothing to change and checks every tag, then for the next run
//! on the server's timer (`--reconcile-interval`), which checks one slice: the cost of the
//! periodic check. Last, the
//! same requests the first reconcile makes are sent to the registry alone, with the same
//! concurrency and no database: how much of the reconcile time is the registry answering.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use app::backend::registry::{RegistryAuth, RegistryClient, MAX_CONFIG_BYTES};
use app::backend::sync::reconcile::{catalog, CONCURRENCY, MAX_CATALOG_PAGES};
use app::names::{Digest, Reference, RepositoryName};
use clap::Args;
use futures::stream::{self, StreamExt, TryStreamExt};
use serde_json::json;
use url::Url;

use crate::http::Session;

const POLL: Duration = Duration::from_millis(250);

#[derive(Debug, Args)]
pub struct ReconcileArgs {
    #[arg(long)]
    url: String,
    #[arg(long)]
    password: String,
    /// The registry the server reconciles (anonymous access), for the registry-only walk.
    #[arg(long)]
    registry: Url,
    /// Give up waiting for one reconcile after this many seconds.
    #[arg(long, default_value_t = 900)]
    timeout: u64,
    /// The server's `--registry-concurrency`, used for the registry-only walk too.
    #[arg(long, default_value_t = CONCURRENCY)]
    concurrency: usize,
    #[arg(long)]
    out: PathBuf,
}

/// One finished reconcile as the server reported it.
struct Run {
    started_ms: i64,
    seconds: f64,
    /// Until every repository's tags were in (the first pass), when the run had a second one.
    ready_seconds: Option<f64>,
    repositories: u64,
    result: Option<String>,
    error: Option<String>,
}

impl Run {
    fn to_json(&self) -> serde_json::Value {
        json!({
            "seconds": crate::stats::round(self.seconds),
            "ready_seconds": self.ready_seconds.map(crate::stats::round),
            "repositories": self.repositories,
            "repositories_per_second": crate::stats::round(self.repositories as f64 / self.seconds.max(0.001)),
            "result": self.result,
            "error": self.error,
        })
    }
}

pub async fn run(args: ReconcileArgs) -> Result<(), String> {
    crate::http::wait_healthy(&args.url, Duration::from_secs(60)).await?;
    let session = Session::sign_in(&args.url, &args.password).await?;
    let limit = Duration::from_secs(args.timeout);
    let first = wait_for_run_after(&session, 0, limit).await?;
    println!(
        "first reconcile: {:.1} s for {} repositories ({})",
        first.seconds,
        first.repositories,
        first.error.as_deref().or(first.result.as_deref()).unwrap_or("")
    );
    let indexed = catalog_total(&session).await?;
    session.call_json("resync", &[]).await?;
    let second = wait_for_run_after(&session, first.started_ms, limit).await?;
    println!(
        "second reconcile (nothing changed, every tag checked): {:.1} s for {} repositories",
        second.seconds, second.repositories
    );
    // The server runs with a short timer: the next run is a timed one.
    let periodic = wait_for_run_after(&session, second.started_ms, limit).await?;
    println!(
        "reconcile on the timer (nothing changed): {:.1} s for {} repositories ({})",
        periodic.seconds,
        periodic.repositories,
        periodic.result.as_deref().unwrap_or("")
    );
    let walk = registry_walk(&args.registry, args.concurrency).await?;
    println!(
        "the same requests to the registry alone: {:.1} s to the tags, {:.1} s with the configs ({} requests); \
         nothing changed: {:.1} s ({} requests)",
        walk.ready_seconds, walk.seconds, walk.requests, walk.unchanged_seconds, walk.unchanged_requests
    );
    crate::write_json(
        &args.out,
        &json!({
            "first": first.to_json(),
            "second": second.to_json(),
            "periodic": periodic.to_json(),
            "repositories_indexed": indexed,
            "concurrency": args.concurrency,
            "registry_only": {
                "seconds": crate::stats::round(walk.seconds),
                "ready_seconds": crate::stats::round(walk.ready_seconds),
                "requests": walk.requests,
                "unchanged_seconds": crate::stats::round(walk.unchanged_seconds),
                "unchanged_requests": walk.unchanged_requests,
                "concurrency": args.concurrency,
            },
        }),
    )
}

/// The registry answering a reconcile's requests alone.
struct Walk {
    /// Until the first pass's requests were answered.
    ready_seconds: f64,
    seconds: f64,
    requests: u64,
    /// The walk of a reconcile that finds nothing changed.
    unchanged_seconds: f64,
    unchanged_requests: u64,
}

/// What a reconcile from an empty index asks the registry, without the database, in its two
/// passes: the catalog, each tag list and per tag the manifest (by tag); then each image's config
/// blob. `concurrency` at a time like reconcile.
async fn registry_walk(registry: &Url, concurrency: usize) -> Result<Walk, String> {
    let client = RegistryClient::new(registry.clone(), RegistryAuth::Anonymous);
    let started = Instant::now();
    let names = catalog(&client, MAX_CATALOG_PAGES)
        .await
        .map_err(|e| format!("catalog: {e}"))?
        .names;
    let requests = AtomicU64::new(1);
    let (client, requests_ref) = (&client, &requests);
    // Per repository: the configs to read, and each tag's digest (for the nothing-changed walk).
    type Found = (Vec<(String, String)>, Vec<(String, String)>);
    let found: Vec<(String, Found)> = stream::iter(names)
        .map(|name| async move {
            let fail = |e: app::backend::registry::RegistryError| format!("{name}: {e}");
            let repository: RepositoryName = name.parse().map_err(|e| format!("{e}"))?;
            let tags = client.tags(&repository).await.map_err(fail)?;
            requests_ref.fetch_add(1, Ordering::Relaxed);
            let (mut configs, mut digests) = (Vec::new(), Vec::new());
            for tag in tags {
                let reference: Reference = tag.parse().map_err(|e| format!("{e}"))?;
                let (_, digest, manifest) = client.get_manifest(&repository, &reference).await.map_err(fail)?;
                requests_ref.fetch_add(1, Ordering::Relaxed);
                let manifest: serde_json::Value = serde_json::from_slice(&manifest).unwrap_or_default();
                if let Some(config) = manifest["config"]["digest"].as_str() {
                    configs.push((name.clone(), config.to_string()));
                }
                digests.push((tag, digest));
            }
            Ok::<_, String>((name, (configs, digests)))
        })
        .buffer_unordered(concurrency)
        .try_collect()
        .await?;
    let ready_seconds = started.elapsed().as_secs_f64();
    let (configs, known): (Vec<_>, Vec<_>) = found
        .into_iter()
        .map(|(name, (configs, digests))| (configs, (name, digests)))
        .unzip();
    stream::iter(configs.into_iter().flatten())
        .map(|(name, config)| async move {
            let repository: RepositoryName = name.parse().map_err(|e| format!("{e}"))?;
            let config: Digest = config.parse().map_err(|e| format!("{e}"))?;
            client
                .get_blob(&repository, &config, MAX_CONFIG_BYTES)
                .await
                .map_err(|e| format!("{name}: {e}"))?;
            requests_ref.fetch_add(1, Ordering::Relaxed);
            Ok::<_, String>(())
        })
        .buffer_unordered(concurrency)
        .try_collect::<Vec<()>>()
        .await?;
    let seconds = started.elapsed().as_secs_f64();
    let (unchanged_seconds, unchanged_requests) = unchanged_walk(client, known, concurrency).await?;
    Ok(Walk {
        ready_seconds,
        seconds,
        requests: requests.load(Ordering::Relaxed),
        unchanged_seconds,
        unchanged_requests,
    })
}

/// What a reconcile that finds nothing changed asks: the catalog, each tag list, and each tag's
/// manifest with its known digest in `If-None-Match` (answered 304). Returns (seconds, requests).
async fn unchanged_walk(
    client: &RegistryClient,
    known: Vec<(String, Vec<(String, String)>)>,
    concurrency: usize,
) -> Result<(f64, u64), String> {
    let started = Instant::now();
    catalog(client, MAX_CATALOG_PAGES)
        .await
        .map_err(|e| format!("catalog: {e}"))?;
    let requests = AtomicU64::new(1);
    let requests_ref = &requests;
    stream::iter(known)
        .map(|(name, digests)| async move {
            let fail = |e: app::backend::registry::RegistryError| format!("{name}: {e}");
            let repository: RepositoryName = name.parse().map_err(|e| format!("{e}"))?;
            client.tags(&repository).await.map_err(fail)?;
            requests_ref.fetch_add(1, Ordering::Relaxed);
            for (tag, digest) in digests {
                let reference: Reference = tag.parse().map_err(|e| format!("{e}"))?;
                if client
                    .manifest_unless(&repository, &reference, Some(&digest))
                    .await
                    .map_err(fail)?
                    .is_some()
                {
                    return Err(format!("{name}:{tag} changed during the benchmark"));
                }
                requests_ref.fetch_add(1, Ordering::Relaxed);
            }
            Ok::<_, String>(())
        })
        .buffer_unordered(concurrency)
        .try_collect::<Vec<()>>()
        .await?;
    Ok((started.elapsed().as_secs_f64(), requests.load(Ordering::Relaxed)))
}

/// Polls until a reconcile that started after `after_ms` has finished.
async fn wait_for_run_after(session: &Session, after_ms: i64, limit: Duration) -> Result<Run, String> {
    let deadline = Instant::now() + limit;
    let mut last_print = Instant::now();
    while Instant::now() < deadline {
        let settings = session.call_json("settings", &[]).await?;
        let progress = &settings["sync"]["reconcile"];
        let started = progress["started_at_ms"].as_i64();
        let finished = progress["finished_at_ms"].as_i64();
        let running = progress["running"].as_bool().unwrap_or(true);
        if let (Some(started), Some(finished)) = (started, finished) {
            if started > after_ms && finished >= started && !running {
                return Ok(Run {
                    started_ms: started,
                    seconds: (finished - started) as f64 / 1000.0,
                    ready_seconds: progress["index_ready_at_ms"]
                        .as_i64()
                        .map(|ready| (ready - started) as f64 / 1000.0),
                    repositories: progress["repositories_total"].as_u64().unwrap_or(0),
                    result: progress["last_result"].as_str().map(str::to_string),
                    error: progress["last_error"].as_str().map(str::to_string),
                });
            }
        }
        if last_print.elapsed() >= Duration::from_secs(10) {
            println!(
                "  reconcile: {}/{} repositories",
                progress["repositories_done"], progress["repositories_total"]
            );
            last_print = Instant::now();
        }
        tokio::time::sleep(POLL).await;
    }
    Err(format!("no reconcile finished within {limit:?}"))
}

async fn catalog_total(session: &Session) -> Result<i64, String> {
    let page = session
        .call_json(
            "catalog",
            &[
                ("query[search]", ""),
                ("query[sort]", "Name"),
                ("query[namespace]", ""),
                ("query[page]", "1"),
            ],
        )
        .await?;
    page["total"]
        .as_i64()
        .ok_or_else(|| format!("/api/catalog answered without a total: {page}"))
}
