//! Two consoles (replicas) on one PostgreSQL database, as a Kubernetes Deployment with
//! `replicas: 2` runs them, next to one real registry: they share the token signing keys and
//! the notification secret through the database; a push taken in by one is live on the other;
//! a credential revoked on one is refused by the other at once; the work a killed replica had
//! claimed is taken over within seconds; and one reconcile runs at a time.
//!
//! Needs `WHARF_TEST_POSTGRES_URL` (scripts/test starts a PostgreSQL); skipped without it.

mod support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use app::backend::db::Db;
use support::{call, eventually, LiveStream, Options, Wharf, ADMIN_PASSWORD};

/// Replica A runs the registry (managed mode) and takes its notifications; replica B uses that
/// registry, and starts with an empty data directory of its own.
async fn two_replicas(extra: &[&str]) -> Option<(Wharf, Wharf, Db)> {
    let url = support::empty_postgres_database().await?;
    let args: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
    let a = Wharf::start_with(Options {
        database_url: Some(url.clone()),
        extra_args: args.clone(),
        ..Default::default()
    })
    .await;
    let b = Wharf::start_with(Options {
        database_url: Some(url.clone()),
        registry_url: Some(a.registry_url()),
        extra_args: args,
    })
    .await;
    Some((a, b, Db::connect(&url).await.unwrap()))
}

/// A token request with Basic credentials; the status.
async fn token_status(wharf: &Wharf, user: &str, secret: &str) -> u16 {
    reqwest::Client::new()
        .get(format!(
            "{}/auth/token?service=wharf-registry&scope=repository:shared/app:pull",
            wharf.url
        ))
        .basic_auth(user, Some(secret))
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn replicas_share_keys_live_updates_and_revocations() {
    let Some((a, b, _)) = two_replicas(&[]).await else {
        return;
    };
    // B started with nothing: it holds the key ring and the secret the registry knows.
    for file in ["token-signing-key.pem", "token-signing-cert.pem", "notification-secret"] {
        assert_eq!(
            std::fs::read(a.data_dir.join(file)).unwrap(),
            std::fs::read(b.data_dir.join(file)).unwrap(),
            "{file} differs between the replicas"
        );
    }

    // A push the registry tells A of reaches a page open on B.
    let on_b = b.signed_in_client("admin", ADMIN_PASSWORD).await;
    let mut live = LiveStream::open(&b, &on_b).await;
    let pushed = Instant::now();
    support::push_image(&a.registry_url(), "shared/app", "v1", &[], true);
    live.until(Duration::from_secs(30), |u| {
        support::is_repository_update(u, "shared/app")
    })
    .await;
    eprintln!(
        "push → live update on the other replica: {:?} (including the push)",
        pushed.elapsed()
    );
    // The registry takes B's own tokens: B reads the manifest from it live.
    let (status, manifest) = call(
        &b,
        &on_b,
        "manifest",
        &[("repository", "shared/app"), ("reference", "v1")],
    )
    .await;
    assert_eq!(status, 200, "{manifest}");

    // A personal access token revoked on A is refused by B at once, though B had it cached.
    let on_a = a.signed_in_client("admin", ADMIN_PASSWORD).await;
    let (status, created) = call(&a, &on_a, "create_token", &[("name", "ci"), ("days", "30")]).await;
    assert_eq!(status, 200, "{created}");
    let secret = created["secret"].as_str().unwrap().to_string();
    assert_eq!(token_status(&b, "admin", &secret).await, 200);
    assert_eq!(token_status(&b, "admin", &secret).await, 200, "cached now");
    let (_, profile) = call(&a, &on_a, "profile", &[]).await;
    let id = profile["tokens"][0]["id"].as_str().unwrap().to_string();
    let (status, _) = call(&a, &on_a, "revoke_token", &[("id", &id)]).await;
    assert_eq!(status, 200);
    let revoked = Instant::now();
    assert!(
        eventually(20, || async { token_status(&b, "admin", &secret).await == 401 }).await,
        "B still takes the revoked token\n{}",
        b.logs()
    );
    eprintln!("revoked on A → refused by B after {:?}", revoked.elapsed());

    // Wrong passwords guessed on both count together: the pair locks after the free ones,
    // however they are spread.
    let mut statuses = Vec::new();
    for round in 0..4 {
        for replica in [&a, &b] {
            statuses.push((round, token_status(replica, "admin", "wrong-guess").await));
        }
    }
    assert!(
        statuses.iter().any(|(_, status)| *status == 429),
        "8 wrong guesses from one address over two replicas never throttled: {statuses:?}"
    );
}

/// A receiver that holds the first request it gets for a minute (its sender dies meanwhile)
/// and answers the others at once; it records when each came.
async fn stalling_receiver() -> (String, Arc<Mutex<Vec<Instant>>>) {
    let arrivals = Arc::new(Mutex::new(Vec::new()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let log = arrivals.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move || {
            let log = log.clone();
            async move {
                let first = {
                    let mut log = log.lock().unwrap();
                    log.push(Instant::now());
                    log.len() == 1
                };
                if first {
                    tokio::time::sleep(Duration::from_secs(60)).await;
                }
                "ok"
            }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, arrivals)
}

#[tokio::test]
async fn work_a_killed_replica_had_claimed_is_taken_over_before_its_lease_ends() {
    let Some((mut a, mut b, db)) = two_replicas(&["--webhook-allow-network", "127.0.0.1/32"]).await else {
        return;
    };
    let (receiver, arrivals) = stalling_receiver().await;
    let on_a = a.signed_in_client("admin", ADMIN_PASSWORD).await;
    let form = [
        ("id", ""),
        ("name", "takeover"),
        ("enabled", "on"),
        ("push", "on"),
        ("scope", ""),
        ("pusher", ""),
        ("format", "generic"),
        ("template", ""),
        ("headers", ""),
        ("timeout_secs", "30"),
        ("url", receiver.as_str()),
    ];
    let (status, saved) = call(&a, &on_a, "save_webhook", &form).await;
    assert_eq!(status, 200, "{saved}");
    let secret = std::fs::read_to_string(a.data_dir.join("notification-secret")).unwrap();
    let envelope = serde_json::json!({"events": [{"id": "takeover-1", "timestamp": "2026-12-06T10:00:00Z",
        "action": "push", "target": {"mediaType": "application/vnd.oci.image.manifest.v1+json", "size": 10,
            "digest": format!("sha256:{:064x}", 7), "repository": "takeover/app", "tag": "v1"}}]});
    let response = reqwest::Client::new()
        .post(format!("{}/registry/events", a.url))
        .bearer_auth(secret.trim())
        .body(envelope.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);

    // Whichever replica claimed the delivery is killed while the receiver holds its request.
    assert!(eventually(120, || async { arrivals.lock().unwrap().len() == 1 }).await);
    let (claimed_by, lease_until): (String, i64) =
        sqlx::query_as("SELECT claimed_by, lease_until FROM webhook_deliveries WHERE event_id = 'takeover-1'")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    let pid: u32 = claimed_by.split('/').nth(1).unwrap().parse().unwrap();
    let (killed, survivor) = if a.pid() == Some(pid) {
        (&mut a, &mut b)
    } else {
        (&mut b, &mut a)
    };
    assert_eq!(killed.pid(), Some(pid), "the claim names a replica: {claimed_by}");
    killed.kill9();

    // The survivor sends it again, long before the dead replica's lease would have let it.
    assert!(
        eventually(240, || async { arrivals.lock().unwrap().len() >= 2 }).await,
        "the delivery was not taken over\n{}",
        survivor.logs()
    );
    let retaken = app::backend::db::now_ms();
    assert!(
        retaken < lease_until,
        "taken over only when the lease ran out ({} ms after)",
        retaken - lease_until
    );
    assert!(
        survivor.logs().contains("a replica stopped answering"),
        "{}",
        survivor.logs()
    );
    let done = || async {
        sqlx::query_as::<_, (Option<i64>,)>("SELECT done_at FROM webhook_deliveries WHERE event_id = 'takeover-1'")
            .fetch_one(&db.pool)
            .await
            .unwrap()
            .0
    };
    assert!(
        eventually(40, || async { done().await.is_some() }).await,
        "recorded as delivered"
    );
}

#[tokio::test]
async fn one_reconcile_runs_at_a_time_and_a_request_on_any_replica_is_answered() {
    let Some((a, b, db)) = two_replicas(&["--reconcile-interval", "0"]).await else {
        return;
    };
    let finished = || async {
        sqlx::query_as::<_, (Option<i64>, Option<i64>)>(
            "SELECT running_since, last_started_at FROM reconcile_turns WHERE id = 1",
        )
        .fetch_one(&db.pool)
        .await
        .unwrap()
    };
    assert!(eventually(120, || async { finished().await.1.is_some() }).await);
    let before = finished().await.1.unwrap();
    // Asked on B: B, or A if it got there first, runs one that started after the request.
    let on_b = b.signed_in_client("admin", ADMIN_PASSWORD).await;
    let asked = app::backend::db::now_ms();
    let (status, body) = call(&b, &on_b, "resync", &[]).await;
    assert_eq!(status, 200, "{body}");
    assert!(
        eventually(120, || async {
            finished()
                .await
                .1
                .is_some_and(|started| started >= asked && started > before)
        })
        .await
    );
    let runs = |w: &Wharf| w.logs().matches("reconcile finished").count();
    eprintln!("reconciles: A {} B {}", runs(&a), runs(&b));
}
