//! `scripts/bench browse`, the measuring part: each subcommand does one step and writes its
//! results as JSON, and `report` turns those files into `docs/benchmarks.md`.
//!
//! ```text
//! bench_browse seed-index  --data-dir D [--repositories 10000 --tags-per-repo 10 --big-repo-tags 1000] --out seed.json
//! bench_browse http-latency --url U --password P --seed seed.json [--requests 200] --out latency.json
//! bench_browse push-bulk   --registry U [--repositories 1000 --tags 20 --concurrency 8] --out push.json
//! bench_browse reconcile   --url U --password P --out reconcile.json
//! bench_browse transfer    --url U --password P --out transfer.json
//! bench_browse retention-dry-run --data-dir D --out retention.json
//! bench_browse report      --dir RESULTS --out docs/benchmarks.md --command "scripts/bench browse"
//! ```
//!
//! Nothing here asserts on timings: slow numbers are reported, not failed.

mod http;
mod latency;
mod push;
mod reconcile;
mod report;
mod retention;
mod seed;
mod stats;
mod transfer;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "bench_browse",
    about = "Browse benchmarks for Wharf (run through scripts/bench browse)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create a SQLite database with the real migrations and a large generated index.
    SeedIndex(seed::SeedArgs),
    /// Sequential request latencies of pages and server functions against a running server.
    HttpLatency(latency::LatencyArgs),
    /// Push many generated images into a registry without auth.
    PushBulk(push::PushArgs),
    /// Wait for the first reconcile of a freshly started server, then time a second one.
    Reconcile(reconcile::ReconcileArgs),
    /// Compressed sizes of what the first page load transfers.
    Transfer(transfer::TransferArgs),
    /// Time a retention dry run over a seeded index.
    RetentionDryRun(retention::RetentionArgs),
    /// Write the results as markdown.
    Report(report::ReportArgs),
}

/// Writes a result file as pretty JSON.
pub fn write_json(path: &std::path::Path, value: &serde_json::Value) -> Result<(), String> {
    let text = serde_json::to_string_pretty(value).map_err(|e| e.to_string())?;
    std::fs::write(path, text + "\n").map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// Reads a result file written by [`write_json`].
pub fn read_json(path: &std::path::Path) -> Result<serde_json::Value, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{} is not JSON: {e}", path.display()))
}

#[tokio::main]
async fn main() {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::SeedIndex(args) => seed::run(args).await,
        Command::HttpLatency(args) => latency::run(args).await,
        Command::PushBulk(args) => push::run(args).await,
        Command::Reconcile(args) => reconcile::run(args).await,
        Command::Transfer(args) => transfer::run(args).await,
        Command::RetentionDryRun(args) => retention::run(args).await,
        Command::Report(args) => report::run(args),
    };
    if let Err(message) = result {
        eprintln!("error: {message}");
        std::process::exit(1);
    }
}
