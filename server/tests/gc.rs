//! Garbage collection of a registry Wharf manages, against the real registry (distribution 2.8,
//! and 3.1 where its binary is beside the clone): two images sharing layers are pushed with
//! skopeo, one is deleted in the console, and the collection run from the console really frees
//! that image's own blobs on disk (and only those); the kept image still pulls; a push while the
//! registry is read-only gets the registry's error and succeeds afterwards; a dry run lists the
//! same blobs and removes nothing; cancelling and a console killed mid-collection leave the
//! registry writable; only administrators may do any of it.
//!
//! The registry program is reached through a small shell gate (`exec`s the real program) that
//! holds `garbage-collect` while a file exists: the test decides how long the read-only window
//! lasts, instead of racing a collector that takes milliseconds.

mod support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use app::backend::synthetic::{self, GeneratedImage, ImageSpec};
use app::model::{GcOverview, GcRunDetail, GcRunView};
use support::{call, eventually, skopeo, temp_dir, Options, RegistryProgram, Wharf, ADMIN_PASSWORD};

#[tokio::test]
async fn distribution_2_8_collects() {
    scenario(support::distribution_2_8()).await;
}

#[tokio::test]
async fn distribution_3_1_collects() {
    if let Some(program) = support::distribution_3_1() {
        scenario(program).await;
    }
}

/// The real registry behind a gate: `garbage-collect` waits (at most 60 s) while `hold` exists,
/// after touching `collecting`.
struct Gate {
    dir: tempfile::TempDir,
    script: PathBuf,
}

impl Gate {
    fn new(program: &RegistryProgram) -> Gate {
        let dir = temp_dir("gc-gate");
        let real = which(&program.bin);
        let script = dir.path().join("registry");
        let hold = dir.path().join("hold");
        let collecting = dir.path().join("collecting");
        std::fs::write(
            &script,
            format!(
                "#!/bin/sh\nif [ \"$1\" = garbage-collect ]; then\n  touch '{}'\n  i=0\n  while [ -e '{}' ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done\nfi\nexec '{}' \"$@\"\n",
                collecting.display(),
                hold.display(),
                real.display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        Gate { dir, script }
    }

    fn hold(&self) {
        let _ = std::fs::remove_file(self.dir.path().join("collecting"));
        std::fs::write(self.dir.path().join("hold"), b"").unwrap();
    }

    fn release(&self) {
        let _ = std::fs::remove_file(self.dir.path().join("hold"));
    }

    /// The collector was started (so the registry is read-only for a real run).
    async fn collecting(&self) -> bool {
        let marker = self.dir.path().join("collecting");
        eventually(120, || {
            let found = marker.exists();
            async move { found }
        })
        .await
    }
}

fn which(bin: &str) -> PathBuf {
    if bin.contains('/') {
        return std::fs::canonicalize(bin).unwrap();
    }
    let output = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {bin}"))
        .output()
        .unwrap();
    PathBuf::from(String::from_utf8_lossy(&output.stdout).trim())
}

fn image(layers: usize) -> GeneratedImage {
    synthetic::generate(&ImageSpec {
        layers,
        layer_size: 96 * 1024,
        seed: 4242,
        ..ImageSpec::default()
    })
}

/// The digests and sizes of every blob of an image (layers, config, manifest).
fn blobs_of(image: &GeneratedImage) -> Vec<(String, u64)> {
    image
        .blobs
        .iter()
        .chain([&image.top])
        .map(|b| (b.digest.clone(), b.bytes.len() as u64))
        .collect()
}

fn push(wharf: &Wharf, layout: &Path, repository: &str, tag: &str) -> std::process::Output {
    skopeo(&[
        "copy",
        "--dest-tls-verify=false",
        "--dest-creds",
        &format!("admin:{ADMIN_PASSWORD}"),
        &format!("oci:{}:{tag}", layout.display()),
        &format!("docker://{}/{repository}:{tag}", wharf.registry_host),
    ])
}

fn pull(wharf: &Wharf, repository: &str, tag: &str, into: &Path) -> std::process::Output {
    skopeo(&[
        "copy",
        "--src-tls-verify=false",
        "--src-creds",
        &format!("admin:{ADMIN_PASSWORD}"),
        &format!("docker://{}/{repository}:{tag}", wharf.registry_host),
        &format!("oci:{}:{tag}", into.display()),
    ])
}

fn said(output: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Bytes under the registry's storage directory, or under its blob store only (`blobs_only`:
/// distribution 3 also removes the repositories' link files to the blobs it deletes).
fn storage_bytes(wharf: &Wharf, blobs_only: bool) -> u64 {
    fn walk(dir: &Path) -> u64 {
        std::fs::read_dir(dir)
            .unwrap()
            .map(|entry| {
                let entry = entry.unwrap();
                let kind = entry.file_type().unwrap();
                if kind.is_dir() {
                    walk(&entry.path())
                } else if kind.is_file() {
                    entry.metadata().unwrap().len()
                } else {
                    0
                }
            })
            .sum()
    }
    let root = wharf.data_dir.join("registry");
    if blobs_only {
        walk(&root.join("docker/registry/v2/blobs"))
    } else {
        walk(&root)
    }
}

/// Is the blob `digest` in the registry's blob store?
fn stored(wharf: &Wharf, digest: &str) -> bool {
    let hex = digest.trim_start_matches("sha256:");
    let path = format!("registry/docker/registry/v2/blobs/sha256/{}/{hex}/data", &hex[..2]);
    wharf.data_dir.join(path).is_file()
}

async fn overview(wharf: &Wharf, client: &reqwest::Client) -> GcOverview {
    let (status, body) = call(wharf, client, "gc", &[("page", "1")]).await;
    assert_eq!(status, 200, "{body}");
    serde_json::from_value(body).unwrap()
}

async fn start(wharf: &Wharf, client: &reqwest::Client, mode: &str) -> String {
    let (status, body) = call(wharf, client, "gc_start", &[("mode", mode)]).await;
    assert_eq!(status, 200, "{body}\n{}", wharf.logs());
    serde_json::from_value(body).unwrap()
}

/// Waits (bounded) until the run `id` ended; returns it with its log.
async fn finished(wharf: &Wharf, client: &reqwest::Client, id: &str) -> GcRunDetail {
    for _ in 0..240 {
        let (status, body) = call(wharf, client, "gc_run", &[("id", id)]).await;
        assert_eq!(status, 200, "{body}");
        let detail: GcRunDetail = serde_json::from_value(body).unwrap();
        if !detail.run.is_running() {
            return detail;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    panic!("the run {id} did not end within 60 s:\n{}", wharf.logs());
}

/// What the scenario's steps share.
struct Scene {
    version: &'static str,
    gate: Gate,
    wharf: Wharf,
    admin: reqwest::Client,
    work: tempfile::TempDir,
    /// The kept image's blobs.
    shared: BTreeSet<String>,
    /// The deleted image's own blobs (not shared with the kept one), and their bytes.
    own: BTreeSet<String>,
    own_bytes: u64,
}

async fn scenario(program: RegistryProgram) {
    let mut scene = pushed_and_deleted(program).await;
    refused_to_others(&scene.wharf, &scene.admin).await;
    let (before, blobs_before) = dry_run(&scene).await;
    collected(&scene, before, blobs_before).await;
    let (wharf, admin, work) = (&scene.wharf, &scene.admin, scene.work.path());
    cancelled_run_leaves_the_registry_writable(wharf, admin, &scene.gate, work).await;
    scheduled_run(&scene).await;
    page_shows_the_history(&scene).await;
    killed_collection(&mut scene.wharf, &scene.gate, scene.work.path()).await;
    audited(&scene.wharf, &scene.admin).await;
}

/// A schedule that is due starts a real collection, named "schedule" (the due time is moved into
/// the past in the database instead of waiting for the cron time).
async fn scheduled_run(scene: &Scene) {
    let (wharf, admin) = (&scene.wharf, &scene.admin);
    let (status, body) = call(wharf, admin, "gc_schedule", &[("schedule", "0 4 * * *")]).await;
    assert_eq!(status, 200, "{body}");
    let db = wharf.db().await;
    sqlx::query("UPDATE gc_settings SET next_run_at = 1 WHERE id = 1")
        .execute(&db.pool)
        .await
        .unwrap();
    let scheduled = || async {
        let overview = overview(wharf, admin).await;
        overview.runs.iter().any(|r| r.actor == "schedule" && !r.is_running())
    };
    assert!(
        eventually(240, scheduled).await,
        "no scheduled run within 60 s:\n{}",
        wharf.logs()
    );
    let overview = overview(wharf, admin).await;
    let run = overview.runs.iter().find(|r| r.actor == "schedule").unwrap();
    assert_eq!((run.status.as_str(), run.dry_run), ("succeeded", false), "{run:?}");
    let next = overview.next_run_at_ms.expect("the next day at 04:00");
    assert_eq!((next / 3_600_000) % 24, 4);
    assert!(next > 1);
}

/// The page, rendered on the server: the history with its outcomes, and a run's log.
async fn page_shows_the_history(scene: &Scene) {
    let (wharf, admin) = (&scene.wharf, &scene.admin);
    let (status, html) = wharf.page(admin, "/housekeeping/gc").await;
    assert_eq!(status, 200);
    for expected in [
        "Garbage collection",
        "Collect garbage…",
        "Dry run…",
        "succeeded",
        "cancelled",
        "dry run",
    ] {
        assert!(html.contains(expected), "{expected} missing from the page");
    }
    let id = overview(wharf, admin).await.runs.last().unwrap().id.clone();
    let (status, html) = wharf.page(admin, &format!("/housekeeping/gc?run={id}")).await;
    assert_eq!(status, 200);
    assert!(
        html.contains("Collector log") && html.contains("blob eligible for deletion"),
        "{html}"
    );
    let (status, html) = wharf.page(&reqwest::Client::new(), "/housekeeping/gc").await;
    assert!(
        status == 200 && !html.contains("Collect garbage…"),
        "anonymous readers see no button"
    );
}

/// Two images sharing their first two layers, "kept" (2 layers) and "gone" (3 layers), pushed
/// with skopeo; "gone" deleted in the console, as a user (or a retention policy) does.
async fn pushed_and_deleted(program: RegistryProgram) -> Scene {
    let gate = Gate::new(&program);
    let script = gate.script.display().to_string();
    let wharf = Wharf::start_with_env(Options::default(), &[("WHARF_REGISTRY_BIN", &script)]).await;
    let admin = wharf.signed_in_client("admin", ADMIN_PASSWORD).await;
    let work = temp_dir("gc-work");
    let (kept, gone) = (image(2), image(3));
    for (name, image) in [("kept", &kept), ("gone", &gone)] {
        synthetic::write_oci_layout(&work.path().join(name), "1", image).unwrap();
        let output = push(&wharf, &work.path().join(name), &format!("team/{name}"), "1");
        assert!(output.status.success(), "{}: {}", program.version, said(&output));
    }
    let shared: BTreeSet<String> = blobs_of(&kept).into_iter().map(|(d, _)| d).collect();
    let own: Vec<(String, u64)> = blobs_of(&gone)
        .into_iter()
        .filter(|(d, _)| !shared.contains(d))
        .collect();
    assert_eq!(
        own.len(),
        3,
        "one layer, the config and the manifest are the deleted image's own"
    );
    let indexed = || async {
        let view = support::repository(&wharf, &admin, "team/gone").await;
        serde_json::from_value::<app::model::RepositoryView>(view)
            .is_ok_and(|v| v.images.iter().any(|i| i.tags == ["1"]))
    };
    assert!(eventually(120, indexed).await, "team/gone was not indexed");
    let form = [
        ("repository", "team/gone"),
        ("digest", gone.top.digest.as_str()),
        ("confirm", "1"),
    ];
    let (status, body) = call(&wharf, &admin, "delete_image", &form).await;
    assert_eq!(status, 200, "{body}");
    Scene {
        version: program.version,
        gate,
        wharf,
        admin,
        work,
        shared,
        own_bytes: own.iter().map(|(_, size)| size).sum(),
        own: own.into_iter().map(|(d, _)| d).collect(),
    }
}

/// The dry run lists exactly the deleted image's own blobs and removes nothing. Returns the bytes
/// of the storage and of its blob store.
async fn dry_run(scene: &Scene) -> (u64, u64) {
    let (wharf, admin) = (&scene.wharf, &scene.admin);
    let before = storage_bytes(wharf, false);
    let blobs_before = storage_bytes(wharf, true);
    let dry = finished(wharf, admin, &start(wharf, admin, "dry-run").await).await;
    assert_eq!(
        dry.run.status, "succeeded",
        "{}: {:?}\n{}",
        scene.version, dry.run, dry.log
    );
    assert_eq!(
        dry.blobs.iter().cloned().collect::<BTreeSet<_>>(),
        scene.own,
        "{}",
        dry.log
    );
    assert_eq!(storage_bytes(wharf, false), before, "a dry run removes nothing");
    assert_eq!(dry.run.bytes_freed(), None);
    (before, blobs_before)
}

/// The real run: read-only while the collector runs (held at the gate), then the deleted
/// image's own blobs are gone from the disk, the registry is writable, the kept image pulls.
async fn collected(scene: &Scene, before: u64, blobs_before: u64) {
    let (wharf, admin, version) = (&scene.wharf, &scene.admin, scene.version);
    scene.gate.hold();
    let id = start(wharf, admin, "run").await;
    assert!(
        scene.gate.collecting().await,
        "the collector did not start:\n{}",
        wharf.logs()
    );
    let running = overview(wharf, admin).await.running.expect("a run is going on");
    assert_eq!(
        (running.id.as_str(), running.phase.as_str()),
        (id.as_str(), "collecting")
    );
    let (status, body) = call(wharf, admin, "gc_start", &[("mode", "dry-run")]).await;
    assert_eq!(status, 400, "one run at a time: {body}");
    read_only_window(wharf, scene.work.path(), version);
    scene.gate.release();
    let run = finished(wharf, admin, &id).await;
    assert_eq!(run.run.status, "succeeded", "{version}: {:?}\n{}", run.run, run.log);
    let after = storage_bytes(wharf, false);
    let freed_blobs = blobs_before - storage_bytes(wharf, true);
    assert_eq!(
        freed_blobs, scene.own_bytes,
        "{version}: the blob store shrinks by the deleted image's own blobs"
    );
    assert!(
        scene.own.iter().all(|d| !stored(wharf, d)),
        "the deleted image's own blobs are gone"
    );
    assert!(
        scene.shared.iter().all(|d| stored(wharf, d)),
        "the kept image's blobs stay"
    );
    // 2.8 removes the blobs only; 3.x also the repositories' links to them (71 bytes each).
    let freed = before - after;
    assert!(
        freed >= scene.own_bytes && freed < scene.own_bytes + 1024,
        "{before} → {after}"
    );
    assert_eq!(run.run.bytes_freed(), Some(freed as i64), "the run measured the same");
    assert_eq!(run.blobs.iter().cloned().collect::<BTreeSet<_>>(), scene.own);
    assert!(run.log.contains("blob eligible for deletion"), "{}", run.log);
    eprintln!(
        "{version}: the collection freed {freed} bytes ({} in blobs)",
        freed_blobs
    );
    let late = push(wharf, &scene.work.path().join("kept"), "team/late", "1");
    assert!(late.status.success(), "a push after the collection: {}", said(&late));
    let pulled = pull(wharf, "team/kept", "1", &scene.work.path().join("pulled-after"));
    assert!(pulled.status.success(), "{}", said(&pulled));
}

/// While read-only: a push gets the registry's error, a pull goes on.
fn read_only_window(wharf: &Wharf, work: &Path, version: &str) {
    let fresh = image(4);
    synthetic::write_oci_layout(&work.join("fresh"), "1", &fresh).unwrap();
    let refused = push(wharf, &work.join("fresh"), "team/fresh", "1");
    assert!(!refused.status.success(), "{version}: a push while read-only must fail");
    let text = said(&refused).to_lowercase();
    eprintln!("{version}, a push while read-only: {}", text.trim());
    assert!(
        text.contains("read-only")
            || text.contains("unsupported")
            || text.contains("405")
            || text.contains("method not allowed"),
        "{version}: the registry's read-only error: {text}"
    );
    let pulled = pull(wharf, "team/kept", "1", &work.join("pulled-during"));
    assert!(pulled.status.success(), "{version}: pulls go on: {}", said(&pulled));
    let again = push(wharf, &work.join("fresh"), "team/fresh", "1");
    assert!(!again.status.success());
}

async fn refused_to_others(wharf: &Wharf, admin: &reqwest::Client) {
    let reader = support::user_with_role(wharf, admin, "reader", "reader", "").await;
    for (endpoint, form) in [
        ("gc", vec![("page", "1")]),
        ("gc_start", vec![("mode", "run")]),
        ("gc_schedule", vec![("schedule", "0 3 * * *")]),
        ("gc_run", vec![("id", "x")]),
        ("gc_cancel", vec![("id", "x")]),
    ] {
        let (status, body) = call(wharf, &reader, endpoint, &form).await;
        assert_eq!(status, 403, "{endpoint}: {body}");
    }
    let anonymous = reqwest::Client::new();
    let (status, _) = call(wharf, &anonymous, "gc_start", &[("mode", "run")]).await;
    assert_eq!(status, 401);
    // Another site's page cannot start one with the administrator's session.
    let response = admin
        .post(format!("{}/api/gc_start", wharf.url))
        .header("Origin", "http://evil.example")
        .form(&[("mode", "run")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 403);
    // Hostile input: a clear error, nothing stored.
    let (status, body) = call(wharf, admin, "gc_start", &[("mode", "delete-untagged")]).await;
    assert_eq!(status, 400, "{body}");
    for bad in ["*/5 * * * *", "not cron", &"9".repeat(5000)] {
        let (status, body) = call(wharf, admin, "gc_schedule", &[("schedule", bad)]).await;
        assert_eq!(status, 400, "{bad}: {body}");
    }
    assert!(overview(wharf, admin).await.schedule.is_empty());
    assert!(overview(wharf, admin).await.runs.is_empty(), "nothing ran");
    let (status, body) = call(wharf, admin, "gc_schedule", &[("schedule", "0 3 * * 0")]).await;
    assert_eq!(status, 200, "{body}");
    let saved = overview(wharf, admin).await;
    assert_eq!(saved.schedule, "0 3 * * 0");
    let next = saved.next_run_at_ms.expect("the next Sunday at 03:00");
    assert_eq!((next / 3_600_000) % 24, 3, "03:00 UTC");
    assert_eq!((next / 86_400_000 + 4) % 7, 0, "a Sunday");
    let (status, _) = call(wharf, admin, "gc_schedule", &[("schedule", "")]).await;
    assert_eq!(status, 200);
    assert_eq!(overview(wharf, admin).await.next_run_at_ms, None);
}

async fn cancelled_run_leaves_the_registry_writable(wharf: &Wharf, admin: &reqwest::Client, gate: &Gate, work: &Path) {
    gate.hold();
    let id = start(wharf, admin, "run").await;
    assert!(gate.collecting().await);
    let (status, body) = call(wharf, admin, "gc_cancel", &[("id", &id)]).await;
    assert_eq!(status, 200, "{body}");
    let run = finished(wharf, admin, &id).await;
    gate.release();
    assert_eq!(run.run.status, "cancelled", "{:?}", run.run);
    let output = push(wharf, &work.join("fresh"), "team/after-cancel", "1");
    assert!(
        output.status.success(),
        "writable after a cancelled run: {}",
        said(&output)
    );
}

/// A console killed mid-collection starts again with the registry read-write, and the run is
/// marked interrupted.
async fn killed_collection(wharf: &mut Wharf, gate: &Gate, work: &Path) {
    let admin = wharf.signed_in_client("admin", ADMIN_PASSWORD).await;
    gate.hold();
    let id = start(wharf, &admin, "run").await;
    assert!(gate.collecting().await);
    let config = std::fs::read_to_string(wharf.data_dir.join("registry.yml")).unwrap();
    assert!(config.contains("readonly:\n      enabled: true"), "{config}");
    wharf.kill9();
    gate.release();
    wharf.restart().await;
    let config = std::fs::read_to_string(wharf.data_dir.join("registry.yml")).unwrap();
    assert!(!config.contains("maintenance"), "{config}");
    let admin = wharf.signed_in_client("admin", ADMIN_PASSWORD).await;
    let overview = overview(wharf, &admin).await;
    assert!(overview.running.is_none());
    let run: &GcRunView = overview.runs.iter().find(|r| r.id == id).unwrap();
    assert_eq!(run.status, "interrupted", "{run:?}");
    let output = push(wharf, &work.join("fresh"), "team/after-crash", "1");
    assert!(output.status.success(), "writable after a crash: {}", said(&output));
}

async fn audited(wharf: &Wharf, admin: &reqwest::Client) {
    let (status, body) = call(
        wharf,
        admin,
        "audit",
        &[
            ("actor", "admin"),
            ("action", "garbage collection"),
            ("since", ""),
            ("cursor", ""),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let page: app::model::AuditPage = serde_json::from_value(body).unwrap();
    let details: Vec<&str> = page.entries.iter().map(|e| e.detail.as_str()).collect();
    assert!(details.iter().any(|d| d.starts_with("dry run started")), "{details:?}");
    assert!(
        details.iter().any(|d| d.starts_with("succeeded: removed 3 blobs")),
        "{details:?}"
    );
    assert!(details.iter().any(|d| d.starts_with("cancelled")), "{details:?}");
}

/// The collectable figure (external mode) and its reset, one run at a time, and the interrupted
/// mark, on SQLite and, when a server is given, PostgreSQL.
#[tokio::test]
async fn collectable_bytes_and_runs_in_the_database() {
    let dir = temp_dir("gc-db");
    let db = app::backend::db::Db::connect(&format!("sqlite://{}", dir.path().join("wharf.db").display()))
        .await
        .unwrap();
    database_scenario(&db).await;
    if let Some(db) = support::postgres_database().await {
        database_scenario(&db).await;
    }
}

/// `manifest_blobs` as the index fills it (migration 20261207000002, storage insights), made
/// here when the migrations do not have it yet.
async fn manifest_blobs_table(db: &app::backend::db::Db) {
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS manifest_blobs (manifest_digest TEXT NOT NULL, blob_digest TEXT NOT NULL, \
         size BIGINT NOT NULL, kind TEXT NOT NULL, PRIMARY KEY (manifest_digest, blob_digest))",
    )
    .execute(&db.pool)
    .await
    .unwrap();
}

async fn sql(db: &app::backend::db::Db, statement: &str) {
    sqlx::query(statement).execute(&db.pool).await.unwrap();
}

/// Manifest `m` (of `size` bytes) with its `blobs` (digest, size), in `repository` or in none.
async fn manifest(db: &app::backend::db::Db, m: &str, size: i64, blobs: &[(&str, i64)], repository: Option<&str>) {
    sql(
        db,
        &format!(
            "INSERT INTO manifests (digest, media_type, manifest_size, total_size, kind, platforms, layer_count, annotations, labels, indexed_at) \
             VALUES ('{m}', 'application/vnd.oci.image.manifest.v1+json', {size}, 0, 'image', '[]', 0, '{{}}', '{{}}', 0)"
        ),
    )
    .await;
    for (blob, bytes) in blobs {
        sql(
            db,
            &format!("INSERT INTO manifest_blobs VALUES ('{m}', '{blob}', {bytes}, 'layer')"),
        )
        .await;
    }
    if let Some(repository) = repository {
        sql(
            db,
            &format!("INSERT INTO repository_manifests (repository, digest, first_seen_at) VALUES ('{repository}', '{m}', 0)"),
        )
        .await;
    }
}

async fn database_scenario(db: &app::backend::db::Db) {
    use app::backend::housekeeping::gc::store::{self, Collectable};
    manifest_blobs_table(db).await;
    // Kept (in a repository) shares "shared" with a deleted one; "other" is the deleted one's alone.
    manifest(
        db,
        "m-kept",
        100,
        &[("shared", 1000), ("kept-only", 10)],
        Some("team/kept"),
    )
    .await;
    manifest(db, "m-gone", 200, &[("shared", 1000), ("own", 5000)], None).await;
    assert_eq!(
        store::collectable(db).await.unwrap(),
        Collectable { blobs: 2, bytes: 5200 }
    );

    // After a collection it starts again from zero...
    assert_eq!(store::record_collected(db).await.unwrap(), 2);
    assert_eq!(store::collectable(db).await.unwrap(), Collectable::default());
    // ...and counts what deletions leave next.
    sql(db, "DELETE FROM repository_manifests WHERE digest = 'm-kept'").await;
    assert_eq!(
        store::collectable(db).await.unwrap(),
        Collectable { blobs: 3, bytes: 1110 }
    );
    // A blob referenced again since its collection counts again once unreferenced at the next one.
    manifest(db, "m-again", 50, &[("own", 5000)], Some("team/again")).await;
    assert_eq!(store::record_collected(db).await.unwrap(), 3);
    sql(db, "DELETE FROM repository_manifests WHERE digest = 'm-again'").await;
    assert_eq!(
        store::collectable(db).await.unwrap(),
        Collectable { blobs: 2, bytes: 5050 }
    );

    // One run at a time; a run left going on by a dead process is marked interrupted.
    let first = store::begin_run(db, "admin", true)
        .await
        .unwrap()
        .expect("the first run begins");
    assert_eq!(store::begin_run(db, "admin", false).await.unwrap(), None);
    assert_eq!(store::mark_interrupted(db).await.unwrap(), 1);
    let run = store::get_run(db, &first).await.unwrap().unwrap();
    assert_eq!(run.run.status, store::INTERRUPTED);
    assert!(store::running(db).await.unwrap().is_none());
    assert!(
        store::begin_run(db, "admin", false).await.unwrap().is_some(),
        "a new run may begin"
    );
}

/// A registry Wharf does not manage: the page shows the procedure for it; starting or scheduling
/// a collection is refused with the reason; "mark as collected" is recorded and audited.
#[tokio::test]
async fn external_registry_shows_the_procedure() {
    let registry = support::StandaloneRegistry::start(1000).await;
    let wharf = Wharf::start_with(Options {
        registry_url: Some(registry.url.clone()),
        ..Default::default()
    })
    .await;
    let admin = wharf.signed_in_client("admin", ADMIN_PASSWORD).await;
    let shown = overview(&wharf, &admin).await;
    assert!(!shown.managed);
    assert!(shown.procedure[0].text.contains(&registry.url), "{:?}", shown.procedure);
    assert!(shown
        .procedure
        .iter()
        .any(|s| s.code.contains("garbage-collect --dry-run")));
    for (endpoint, form) in [
        ("gc_start", [("mode", "run")]),
        ("gc_schedule", [("schedule", "0 3 * * *")]),
    ] {
        let (status, body) = call(&wharf, &admin, endpoint, &form).await;
        assert_eq!(status, 400, "{endpoint}: {body}");
        assert!(body.to_string().contains("does not manage"), "{body}");
    }
    // The layers of a deleted image, as the index records them (storage insights' table).
    let db = wharf.db().await;
    manifest_blobs_table(&db).await;
    manifest(&db, "m-gone", 300, &[("layer-a", 7000), ("config-a", 700)], None).await;
    let figure = overview(&wharf, &admin).await;
    assert_eq!(
        (figure.collectable_blobs, figure.collectable_bytes),
        (Some(3), Some(8000))
    );
    let (status, html) = wharf.page(&admin, "/housekeeping/gc").await;
    assert!(status == 200 && html.contains("7.8 KiB"), "the figure on the page");
    let (status, body) = call(&wharf, &admin, "gc_mark_collected", &[]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, 3);
    let figure = overview(&wharf, &admin).await;
    assert_eq!((figure.collectable_blobs, figure.collectable_bytes), (Some(0), Some(0)));
    let (status, html) = wharf.page(&admin, "/housekeeping/gc").await;
    assert_eq!(status, 200);
    assert!(
        html.contains("Collect by hand") && html.contains("Mark as collected"),
        "{html}"
    );
    let reader = support::user_with_role(&wharf, &admin, "reader", "reader", "").await;
    let (status, _) = call(&wharf, &reader, "gc_mark_collected", &[]).await;
    assert_eq!(status, 403);
}
