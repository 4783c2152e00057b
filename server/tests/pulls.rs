//! Pull tracking end to end: real pulls (skopeo) through the registry Wharf manages and its token
//! server count one row per (repository, manifest) in `manifest_pulls`; the console's own reads
//! (page views, reconcile) do not; hostile pull events posted to `/registry/events` leave nothing
//! stored; the repository and manifest pages show the figures. The upsert runs on SQLite and,
//! when `WHARF_TEST_POSTGRES_URL` is set, on PostgreSQL.

mod support;

use std::time::Duration;

use app::backend::db::Db;
use app::model::{ManifestView, NewSecret, RepositoryView};
use support::{call, create_user_with_roles, eventually, push_image, skopeo, Options, Wharf, ADMIN_PASSWORD};

const PASSWORD: &str = "pull-counting-password-1";
const METRICS_TOKEN: &str = "pulls-metrics-token-2b7e";
const MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";

/// One row of `manifest_pulls`: (repository, digest, last_pulled_at, pull_count).
type PullRow = (String, String, i64, i64);

async fn pull_rows(db: &Db) -> Vec<PullRow> {
    sqlx::query_as(
        "SELECT repository, digest, last_pulled_at, pull_count FROM manifest_pulls ORDER BY repository, digest",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap()
}

async fn count_of(db: &Db, repository: &str, digest: &str) -> Option<i64> {
    pull_rows(db)
        .await
        .into_iter()
        .find(|(r, d, _, _)| r == repository && d == digest)
        .map(|(_, _, _, count)| count)
}

/// Waits (bounded: pulls are written once a second) until the row's count is `count`.
async fn counted_within(db: &Db, repository: &str, digest: &str, count: i64) -> bool {
    eventually(60, || async { count_of(db, repository, digest).await == Some(count) }).await
}

/// `skopeo inspect --raw` (one manifest GET) with these credentials, or none.
fn pull(wharf: &Wharf, creds: Option<(&str, &str)>, reference: &str) {
    let image = format!("docker://{}/{reference}", wharf.registry_host);
    let joined = creds.map(|(user, secret)| format!("{user}:{secret}"));
    let mut args = vec!["inspect", "--tls-verify=false", "--raw", image.as_str()];
    match &joined {
        Some(joined) => args.extend(["--creds", joined.as_str()]),
        None => args.push("--no-creds"),
    }
    let output = skopeo(&args);
    assert!(
        output.status.success(),
        "pull {reference}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

async fn repository_view(wharf: &Wharf, client: &reqwest::Client, name: &str) -> Option<RepositoryView> {
    serde_json::from_value(support::repository(wharf, client, name).await).ok()
}

/// The digest of the repository's only image, once indexed.
async fn indexed_digest(wharf: &Wharf, client: &reqwest::Client, name: &str) -> String {
    let digest = || async {
        repository_view(wharf, client, name)
            .await
            .and_then(|view| view.images.first().map(|image| image.digest.clone()))
    };
    let indexed = eventually(120, || async { digest().await.is_some() }).await;
    assert!(indexed, "{name} was not indexed\n{}", wharf.logs());
    digest().await.unwrap()
}

/// The value of `wharf_registry_events_total{outcome=...}` (0 when absent).
async fn events_metric(wharf: &Wharf, outcome: &str) -> f64 {
    let text = reqwest::Client::new()
        .get(format!("{}/metrics", wharf.url))
        .bearer_auth(METRICS_TOKEN)
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let series = format!("wharf_registry_events_total{{outcome=\"{outcome}\"}} ");
    text.lines()
        .find_map(|line| line.strip_prefix(&series))
        .map_or(0.0, |value| value.trim().parse().unwrap())
}

/// Asks for a reconcile and waits (bounded) until it has finished.
async fn reconcile(wharf: &Wharf, admin: &reqwest::Client) {
    let finished_at = || async {
        let (_, settings) = call(wharf, admin, "settings", &[]).await;
        let reconcile = &settings["sync"]["reconcile"];
        (reconcile["running"] == false)
            .then(|| reconcile["finished_at_ms"].as_i64())
            .flatten()
    };
    let before = finished_at().await;
    let (status, body) = call(wharf, admin, "resync", &[]).await;
    assert_eq!(status, 200, "{body}");
    let done = eventually(240, || async {
        finished_at().await.is_some_and(|at| Some(at) != before)
    })
    .await;
    assert!(done, "the reconcile did not finish\n{}", wharf.logs());
}

async fn robot_creds(wharf: &Wharf, admin: &reqwest::Client) -> (String, String) {
    let (status, body) = call(
        wharf,
        admin,
        "create_robot",
        &[
            ("name", "puller-ci"),
            ("description", "CI"),
            ("scope", "team-a/"),
            ("days", "30"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let robot: NewSecret = serde_json::from_value(body).unwrap();
    let form = [
        ("principal_kind", "robot"),
        ("principal_name", "puller-ci"),
        ("role", "puller"),
        ("scope", "team-a/api"),
    ];
    let (status, body) = call(wharf, admin, "add_assignment", &form).await;
    assert_eq!(status, 200, "{body}");
    (robot.login, robot.secret)
}

#[tokio::test]
async fn client_pulls_count_on_one_row_and_the_consoles_own_reads_do_not() {
    let wharf = Wharf::start_with(Options {
        extra_args: vec!["--metrics-token".into(), METRICS_TOKEN.into()],
        ..Default::default()
    })
    .await;
    let admin = wharf.signed_in_client("admin", ADMIN_PASSWORD).await;
    let db = wharf.db().await;
    push_image(&wharf.registry_url(), "team-a/api", "1", &[], true);
    push_image(&wharf.registry_url(), "public/base", "1", &[], true);
    let digest = indexed_digest(&wharf, &admin, "team-a/api").await;
    let public_digest = indexed_digest(&wharf, &admin, "public/base").await;

    // The console reads the manifest for its pages and its reconcile: never a pull.
    let (status, _) = wharf.page(&admin, "/r/team-a/api").await;
    assert_eq!(status, 200);
    let (status, _) = wharf.page(&admin, &format!("/r/team-a/api@{digest}")).await;
    assert_eq!(status, 200);
    reconcile(&wharf, &admin).await;
    let consoles_own = eventually(60, || async { events_metric(&wharf, "pull_dropped").await > 0.0 }).await;
    assert!(
        consoles_own,
        "the registry reported none of the console's reads\n{}",
        wharf.logs()
    );

    // A user through Wharf's token server, three times: one row, counted three times.
    create_user_with_roles(&wharf, &admin, "reader", PASSWORD, &[("reader", "team-a/")]).await;
    for _ in 0..3 {
        pull(&wharf, Some(("reader", PASSWORD)), "team-a/api:1");
    }
    assert!(
        counted_within(&db, "team-a/api", &digest, 3).await,
        "{:?}\n{}",
        pull_rows(&db).await,
        wharf.logs()
    );
    // A robot, and an anonymous client where anonymous may read.
    let (login, secret) = robot_creds(&wharf, &admin).await;
    pull(&wharf, Some((&login, &secret)), "team-a/api:1");
    assert!(
        counted_within(&db, "team-a/api", &digest, 4).await,
        "{:?}",
        pull_rows(&db).await
    );
    let form = [
        ("principal_kind", "anonymous"),
        ("principal_name", ""),
        ("role", "reader"),
        ("scope", "public/"),
    ];
    assert_eq!(call(&wharf, &admin, "add_assignment", &form).await.0, 200);
    pull(&wharf, None, "public/base:1");
    assert!(
        counted_within(&db, "public/base", &public_digest, 1).await,
        "{:?}",
        pull_rows(&db).await
    );

    // Another round of the console's reads, then one more pull (the registry notifies in
    // order, so once this one is counted the reads before it were taken in): counted alone.
    reconcile(&wharf, &admin).await;
    let (status, _) = wharf.page(&admin, &format!("/r/team-a/api@{digest}")).await;
    assert_eq!(status, 200);
    pull(&wharf, Some(("reader", PASSWORD)), "team-a/api:1");
    assert!(
        counted_within(&db, "team-a/api", &digest, 5).await,
        "{:?}",
        pull_rows(&db).await
    );
    let rows = pull_rows(&db).await;
    assert_eq!(rows.len(), 2, "one row per repository and manifest: {rows:?}");
    assert!(events_metric(&wharf, "pull_counted").await >= 5.0);

    // Shown on the repository page (server function and rendered page) and the manifest page.
    let view = repository_view(&wharf, &admin, "team-a/api").await.unwrap();
    let pulls = view.images[0].pulls.expect("pulls shown on the repository page");
    assert_eq!(pulls.pull_count, 5);
    assert_eq!(pulls.last_pulled_at_ms, rows[1].2);
    let (_, page) = wharf.page(&admin, "/r/team-a/api").await;
    assert!(page.contains("5 pulls"), "{page}");
    let (status, manifest) = call(
        &wharf,
        &admin,
        "manifest",
        &[("repository", "team-a/api"), ("reference", digest.as_str())],
    )
    .await;
    assert_eq!(status, 200, "{manifest}");
    let manifest: ManifestView = serde_json::from_value(manifest).unwrap();
    assert_eq!(manifest.pulls.map(|p| p.pull_count), Some(5));
    let (_, page) = wharf.page(&admin, &format!("/r/team-a/api@{digest}")).await;
    assert!(page.contains("Last pulled") && page.contains("5 pulls"), "{page}");
}

#[tokio::test]
async fn an_image_never_pulled_shows_never() {
    let wharf = Wharf::start().await;
    let admin = wharf.signed_in_client("admin", ADMIN_PASSWORD).await;
    push_image(&wharf.registry_url(), "team-b/web", "1", &[], true);
    let digest = indexed_digest(&wharf, &admin, "team-b/web").await;
    let view = repository_view(&wharf, &admin, "team-b/web").await.unwrap();
    assert_eq!(view.images[0].pulls, None);
    let (_, page) = wharf.page(&admin, &format!("/r/team-b/web@{digest}")).await;
    assert!(page.contains("last-pull") && page.contains(">never<"), "{page}");
}

fn secret(wharf: &Wharf) -> String {
    std::fs::read_to_string(wharf.data_dir.join("notification-secret"))
        .unwrap()
        .trim()
        .to_string()
}

/// A pull event as the registry sends it, with `target` as given.
fn pull_event(id: &str, timestamp: &str, method: &str, actor: &str, target: serde_json::Value) -> serde_json::Value {
    serde_json::json!({
        "id": id, "timestamp": timestamp, "action": "pull", "target": target,
        "request": {"id": id, "addr": "127.0.0.1:1", "host": "registry", "method": method, "useragent": "containerd/1.7"},
        "actor": {"name": actor}, "source": {"addr": "registry:5000", "instanceID": "x"}
    })
}

fn manifest_target(repository: &str, digest: &str) -> serde_json::Value {
    serde_json::json!({"mediaType": MANIFEST, "size": 500, "digest": digest, "repository": repository, "tag": "v1"})
}

fn digest(n: usize) -> String {
    format!("sha256:{n:064x}")
}

/// POSTs an envelope of `events`; the status and the answer.
async fn post(wharf: &Wharf, events: Vec<serde_json::Value>) -> (u16, serde_json::Value) {
    let response = reqwest::Client::new()
        .post(format!("{}/registry/events", wharf.url))
        .bearer_auth(secret(wharf))
        .body(serde_json::json!({ "events": events }).to_string())
        .timeout(Duration::from_secs(30))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or_default())
}

async fn count(db: &Db, table: &str) -> i64 {
    sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
        .fetch_one(&db.pool)
        .await
        .unwrap()
}

/// Hostile pull events: each answered 200 (the registry would retry anything else forever),
/// none stored, counted or quarantined; then a proper pull posted after them is counted alone.
async fn hostile_pull_events_leave_nothing(wharf: &Wharf, db: &Db) {
    let at = "2026-12-05T10:00:00Z";
    let ok = digest(1);
    let hostile = vec![
        pull_event("h1", at, "GET", "eve", manifest_target("team-a/../secret", &ok)),
        pull_event("h2", at, "GET", "eve", manifest_target("../etc", &ok)),
        pull_event("h3", at, "GET", "eve", manifest_target("Team-A/api", &ok)),
        pull_event("h4", at, "GET", "eve", manifest_target(&"a".repeat(200_000), &ok)),
        pull_event("h5", at, "GET", "eve", manifest_target("team-a/api", "sha256:../../x")),
        pull_event(
            "h6",
            at,
            "GET",
            "eve",
            manifest_target("team-a/api", &"f".repeat(100_000)),
        ),
        pull_event("h7", at, "GET", "eve", serde_json::Value::Null),
        pull_event("h8", at, "GET", "eve", serde_json::json!("team-a/api")),
        pull_event(
            "h9",
            at,
            "GET",
            "eve",
            serde_json::json!({"repository": "team-a/api", "digest": ok}),
        ),
        pull_event(
            "h10",
            at,
            "GET",
            "eve",
            serde_json::json!({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "repository": "team-a/api", "digest": ok}),
        ),
        pull_event(
            "h11",
            at,
            "GET",
            "eve",
            serde_json::json!({"mediaType": "application/octet-stream", "repository": "team-a/api", "digest": ok}),
        ),
        pull_event("h12", "not a time", "GET", "eve", manifest_target("team-a/api", &ok)),
        pull_event(
            "h13",
            at,
            "GET",
            &"e".repeat(100_000),
            manifest_target("team-a/api", &ok),
        ),
        pull_event("h14", at, "GET", "wharf-console", manifest_target("team-a/api", &ok)),
        serde_json::json!({"action": "pull"}),
        serde_json::json!({"action": "pull", "target": {"repository": ["team-a/api"], "digest": {}, "mediaType": 1}}),
    ];
    let events_before = count(db, "registry_events").await;
    let quarantined_before = count(db, "quarantined_events").await;
    let expected = hostile.len();
    let (status, answer) = post(wharf, hostile).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["dropped"].as_u64(), Some(expected as u64), "{answer}");
    assert_eq!(answer["pulls"].as_u64(), Some(0), "{answer}");
    // The same one at a time.
    let (status, answer) = post(
        wharf,
        vec![pull_event("h15", at, "GET", "eve", manifest_target("a/b", "sha256:x"))],
    )
    .await;
    assert_eq!((status, answer["dropped"].as_u64()), (200, Some(1)), "{answer}");
    // A proper pull, of a digest the index does not know: recorded (harmless, bounded).
    let (status, answer) = post(
        wharf,
        vec![pull_event("p1", at, "GET", "", manifest_target("team-a/api", &ok))],
    )
    .await;
    assert_eq!((status, answer["pulls"].as_u64()), (200, Some(1)), "{answer}");
    assert!(
        counted_within(db, "team-a/api", &ok, 1).await,
        "{:?}",
        pull_rows(db).await
    );
    assert_eq!(pull_rows(db).await.len(), 1, "{:?}", pull_rows(db).await);
    assert_eq!(count(db, "registry_events").await, events_before);
    assert_eq!(count(db, "quarantined_events").await, quarantined_before);
    let health = reqwest::get(format!("{}/healthz", wharf.url)).await.unwrap();
    assert!(health.status().is_success());
}

/// Many pulls in one envelope, of more manifests than one statement writes, some repeated, with
/// HEADs among them: one row each, the latest time, downloads counted.
async fn pulls_add_up_on_one_row_each(wharf: &Wharf, db: &Db) {
    const MANIFESTS: usize = 250;
    let mut events = Vec::new();
    for n in 0..MANIFESTS {
        let target = manifest_target("team-c/many", &digest(1000 + n));
        events.push(pull_event(
            &format!("m{n}-a"),
            "2026-12-05T10:00:00Z",
            "GET",
            "ci",
            target.clone(),
        ));
        events.push(pull_event(
            &format!("m{n}-b"),
            "2026-12-05T11:00:00Z",
            "GET",
            "ci",
            target.clone(),
        ));
        events.push(pull_event(
            &format!("m{n}-c"),
            "2026-12-05T12:00:00Z",
            "HEAD",
            "ci",
            target,
        ));
    }
    let (status, answer) = post(wharf, events).await;
    assert_eq!(
        (status, answer["pulls"].as_u64()),
        (200, Some(3 * MANIFESTS as u64)),
        "{answer}"
    );
    let last = digest(1000 + MANIFESTS - 1);
    assert!(
        counted_within(db, "team-c/many", &last, 2).await,
        "{:?}",
        pull_rows(db).await.len()
    );
    // An older pull afterwards adds one and keeps the later time.
    let target = manifest_target("team-c/many", &last);
    let (status, _) = post(
        wharf,
        vec![pull_event("m-old", "2020-01-01T00:00:00Z", "GET", "ci", target)],
    )
    .await;
    assert_eq!(status, 200);
    assert!(counted_within(db, "team-c/many", &last, 3).await);
    let rows: Vec<PullRow> = pull_rows(db)
        .await
        .into_iter()
        .filter(|(repository, ..)| repository == "team-c/many")
        .collect();
    assert_eq!(rows.len(), MANIFESTS);
    let noon = 1_796_472_000_000;
    assert!(rows.iter().all(|(_, _, at, _)| *at == noon), "{:?}", &rows[..3]);
    assert_eq!(rows.iter().map(|(.., n)| n).sum::<i64>(), 2 * MANIFESTS as i64 + 1);
}

#[tokio::test]
async fn hostile_and_repeated_pull_events_on_sqlite() {
    let wharf = Wharf::start_with(Options {
        extra_args: vec!["--reconcile-interval".into(), "0".into()],
        ..Default::default()
    })
    .await;
    let db = wharf.db().await;
    hostile_pull_events_leave_nothing(&wharf, &db).await;
    pulls_add_up_on_one_row_each(&wharf, &db).await;
}

#[tokio::test]
async fn hostile_and_repeated_pull_events_on_postgres() {
    let Some(url) = support::empty_postgres_database().await else {
        return;
    };
    let wharf = Wharf::start_with(Options {
        database_url: Some(url.clone()),
        extra_args: vec!["--reconcile-interval".into(), "0".into()],
        ..Default::default()
    })
    .await;
    let db = Db::connect(&url).await.unwrap();
    hostile_pull_events_leave_nothing(&wharf, &db).await;
    pulls_add_up_on_one_row_each(&wharf, &db).await;
}

/// Pulls are written once a second; a shutdown (SIGTERM) writes the ones taken in since.
#[tokio::test]
async fn pulls_taken_in_just_before_a_shutdown_are_written() {
    let mut wharf = Wharf::start_with(Options {
        extra_args: vec!["--reconcile-interval".into(), "0".into()],
        ..Default::default()
    })
    .await;
    let target = manifest_target("team-d/last", &digest(7));
    let (status, answer) = post(
        &wharf,
        vec![pull_event("s1", "2026-12-05T10:00:00Z", "GET", "ci", target)],
    )
    .await;
    assert_eq!((status, answer["pulls"].as_u64()), (200, Some(1)), "{answer}");
    assert!(wharf.stop().success(), "{}", wharf.logs());
    let db = wharf.db().await;
    assert_eq!(
        count_of(&db, "team-d/last", &digest(7)).await,
        Some(1),
        "{}",
        wharf.logs()
    );
}
