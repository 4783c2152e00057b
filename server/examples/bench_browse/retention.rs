//! `retention-dry-run`: a retention dry run over a seeded index, as the console's worker plans
//! one (a slice of repositories at a time, every decided image written down), timed, with this
//! process's memory before and at its peak. The policy covers the whole registry and uses every
//! kind of rule.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use app::backend::db::{now_ms, Db};
use app::backend::housekeeping::retention::facts;
use app::backend::housekeeping::retention::plan::{self, PlanCursor};
use app::backend::housekeeping::retention::store::{self, PolicyRow};
use app::model::RetentionRules;
use clap::Args;
use serde_json::json;

#[derive(Debug, Args)]
pub struct RetentionArgs {
    /// The seeded data directory (wharf.db in it).
    #[arg(long)]
    data_dir: PathBuf,
    /// The seeded PostgreSQL database instead.
    #[arg(long)]
    database_url: Option<String>,
    #[arg(long)]
    out: PathBuf,
}

fn kib(field: &str) -> i64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|n| n.parse().ok()))
        })
        .unwrap_or(0)
}

pub async fn run(args: RetentionArgs) -> Result<(), String> {
    let url = args
        .database_url
        .clone()
        .unwrap_or_else(|| format!("sqlite://{}", args.data_dir.join("wharf.db").display()));
    let db = Db::connect(&url).await.map_err(|e| e.to_string())?;
    let now = now_ms();
    let policy = bench_policy(now);
    let db_error = |e: sqlx::Error| e.to_string();
    let mut conn = db.pool.acquire().await.map_err(db_error)?;
    store::insert_policy(&mut conn, &policy).await.map_err(db_error)?;
    drop(conn);
    let run_id = store::request_run(&db, &policy.id, true, "manual", "bench")
        .await
        .map_err(|e| e.to_string())?;
    let rss_before = kib("VmRSS:");
    let started = Instant::now();
    let mut cursor = PlanCursor::new(&policy, now, db.kind)?;
    // Time spent writing, summed over the slices (it overlaps the reading of the next one).
    let writing = Arc::new(Mutex::new(0f64));
    plan::plan_slices(&db, &mut cursor, |items, _, _| {
        let (db, run_id, writing) = (db.clone(), run_id.clone(), writing.clone());
        async move {
            let phase = Instant::now();
            let mut tx = db.begin_write().await?;
            plan::store(&mut tx, db.kind, &run_id, &items).await?;
            tx.commit().await?;
            *writing.lock().expect("not poisoned") += phase.elapsed().as_secs_f64();
            Ok::<_, sqlx::Error>(())
        }
    })
    .await
    .map_err(db_error)?;
    let planning = started.elapsed().as_secs_f64();
    let phase = Instant::now();
    let mut conn = db.pool.acquire().await.map_err(db_error)?;
    let freed = store::freed_bytes(&mut conn, &run_id).await.map_err(db_error)?;
    drop(conn);
    let freeing = phase.elapsed().as_secs_f64();
    let seconds = started.elapsed().as_secs_f64();
    let writing = *writing.lock().expect("not poisoned");
    let tally = cursor.tally;
    let items = tally.next_seq;
    let (deciding, reading) = apart(&db, &policy, now).await.map_err(db_error)?;
    println!("reading the index alone: {reading:.2} s; reading and deciding alone: {deciding:.2} s");
    println!(
        "retention dry run: {} repositories, {items} images decided ({} kept, {} to remove, {} over the cap) in {seconds:.2} s ({planning:.2} s planning: writing the plan {writing:.2} s of it, while the next slices were read and decided; {freeing:.2} s the freed bytes)",
        cursor.repositories_done, tally.kept, tally.removed, tally.skipped
    );
    crate::write_json(
        &args.out,
        &json!({
            "seconds": seconds,
            "reading_and_deciding_seconds": deciding,
            "writing_seconds": writing,
            "planning_seconds": planning,
            "freed_bytes_seconds": freeing,
            "freed_bytes": freed,
            "reading_alone_seconds": reading,
            "repositories": cursor.repositories_done,
            "images": items,
            "kept": tally.kept,
            "removed": tally.removed,
            "skipped": tally.skipped,
            "rss_before_kib": rss_before,
            "rss_peak_kib": kib("VmHWM:"),
        }),
    )
}

/// Seconds reading and deciding alone (no writing), then reading the index alone: the split of
/// the time.
async fn apart(db: &Db, policy: &PolicyRow, now: i64) -> Result<(f64, f64), sqlx::Error> {
    let phase = Instant::now();
    let mut again = PlanCursor::new(policy, now, db.kind).map_err(sqlx::Error::Protocol)?;
    loop {
        let mut conn = db.pool.acquire().await?;
        let Some(slice) = again.next_slice(&mut conn).await? else {
            break;
        };
        std::hint::black_box(slice);
    }
    let deciding = phase.elapsed().as_secs_f64();
    let phase = Instant::now();
    let scope = app::backend::access::Scope::Registry;
    let mut after = String::new();
    let mut conn = db.pool.acquire().await?;
    loop {
        let names = facts::next_repositories(&mut conn, &scope, &after).await?;
        let Some(last) = names.last().cloned() else { break };
        std::hint::black_box(facts::images(&mut conn, db.kind, &names).await?);
        after = last;
    }
    Ok((deciding, phase.elapsed().as_secs_f64()))
}

/// A policy over the whole registry that uses every kind of rule.
fn bench_policy(now: i64) -> PolicyRow {
    let rules = RetentionRules {
        keep_last: Some(3),
        keep_pushed_days: Some(7),
        keep_pulled_days: Some(30),
        keep_tags: vec!["v*".into(), r"^release-\d+$".into()],
        keep_latest: true,
        remove_untagged: true,
    };
    PolicyRow {
        id: "bench".into(),
        name: "bench".into(),
        scope: String::new(),
        rules: store::rules_json(&rules),
        schedule: None,
        next_run_at: None,
        max_deletions: 1_000,
        created_by: "bench".into(),
        created_at: now,
        updated_at: now,
    }
}
