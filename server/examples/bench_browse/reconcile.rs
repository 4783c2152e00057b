//! `reconcile`: against a server started with an empty data directory on a populated registry,
//! waits for the reconcile that runs at start to finish and reads its duration from the
//! server's own progress (`/api/settings`, `sync.reconcile`). Then asks for a second one
//! (`/api/resync`), which finds nothing to change: the cost of the periodic check. Last, the
//! same requests the first reconcile makes are sent to the registry alone, with the same
//! concurrency and no database: how much of the reconcile time is the registry answering.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use app::backend::registry::{RegistryAuth, RegistryClient, MAX_CONFIG_BYTES};
use app::backend::sync::reconcile::{catalog, CONCURRENCY, MAX_CATALOG_PAGES};
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
    #[arg(long)]
    out: PathBuf,
}

/// One finished reconcile as the server reported it.
struct Run {
    started_ms: i64,
    seconds: f64,
    repositories: u64,
    result: Option<String>,
    error: Option<String>,
}

impl Run {
    fn to_json(&self) -> serde_json::Value {
        json!({
            "seconds": crate::stats::round(self.seconds),
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
        "second reconcile (nothing changed): {:.1} s for {} repositories",
        second.seconds, second.repositories
    );
    let (walk_seconds, walk_requests) = registry_walk(&args.registry).await?;
    println!("the same requests to the registry alone: {walk_seconds:.1} s ({walk_requests} requests)");
    crate::write_json(
        &args.out,
        &json!({
            "first": first.to_json(),
            "second": second.to_json(),
            "repositories_indexed": indexed,
            "registry_only": {
                "seconds": crate::stats::round(walk_seconds),
                "requests": walk_requests,
                "concurrency": CONCURRENCY,
            },
        }),
    )
}

/// What a reconcile from an empty index asks the registry, without the database: the catalog,
/// each tag list, and per tag a manifest HEAD, the manifest and its config blob; repositories
/// `CONCURRENCY` at a time like reconcile. Returns (seconds, requests).
async fn registry_walk(registry: &Url) -> Result<(f64, u64), String> {
    let client = RegistryClient::new(registry.clone(), RegistryAuth::Anonymous);
    let started = Instant::now();
    let names = catalog(&client, MAX_CATALOG_PAGES)
        .await
        .map_err(|e| format!("catalog: {e}"))?
        .names;
    let requests = AtomicU64::new(1);
    let (client, requests_ref) = (&client, &requests);
    stream::iter(names)
        .map(|name| async move {
            let fail = |e: app::backend::registry::RegistryError| format!("{name}: {e}");
            let tags = client.tags(&name).await.map_err(fail)?;
            requests_ref.fetch_add(1, Ordering::Relaxed);
            for tag in tags {
                let digest = client.manifest_digest(&name, &tag).await.map_err(fail)?;
                let (_, _, manifest) = client.get_manifest(&name, &digest).await.map_err(fail)?;
                let manifest: serde_json::Value = serde_json::from_slice(&manifest).unwrap_or_default();
                let mut count = 2;
                if let Some(config) = manifest["config"]["digest"].as_str() {
                    client.get_blob(&name, config, MAX_CONFIG_BYTES).await.map_err(fail)?;
                    count += 1;
                }
                requests_ref.fetch_add(count, Ordering::Relaxed);
            }
            Ok::<_, String>(())
        })
        .buffer_unordered(CONCURRENCY)
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
