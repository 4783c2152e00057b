//! Two consoles (replicas) on one PostgreSQL database, as a Kubernetes Deployment with
//! `replicas: 2` runs them, next to one real registry: they share the token signing keys and
//! the notification secret through the database; a push taken in by one is live on the other;
//! a credential revoked on one is refused by the other at once; the work a killed replica had
//! claimed is taken over within seconds; and one reconcile runs at a time.
//!
//! Needs `WHARF_TEST_POSTGRES_URL` (scripts/test starts a PostgreSQL); the replica tests are
//! skipped without it.

mod support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use app::backend::db::Db;
use support::{call, eventually, LiveStream, Options, Wharf, ADMIN_PASSWORD};

/// Replica A runs the registry (managed mode) and takes its notifications; replica B uses that
/// registry, and starts with an empty data directory of its own.
async fn two_replicas(extra: &[&str]) -> Option<(Wharf, Wharf, Db)> {
    let (a, b, db, _) = two_replicas_at(extra).await?;
    Some((a, b, db))
}

/// [`two_replicas`], with the database's URL.
async fn two_replicas_at(extra: &[&str]) -> Option<(Wharf, Wharf, Db, String)> {
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
    Some((a, b, Db::connect(&url).await.unwrap(), url))
}

/// A token request with Basic credentials; the status.
async fn token_status(wharf: &Wharf, user: &str, secret: &str) -> u16 {
    support::token_status(
        wharf,
        "service=wharf-registry&scope=repository:shared/app:pull",
        user,
        secret,
    )
    .await
}

#[tokio::test]
async fn replicas_share_keys_live_updates_and_revocations() {
    let Some((a, mut b, db, url)) = two_replicas_at(&[]).await else {
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

    // A rotation made from any data directory is the replicas' shared one: a key is staged in
    // the database, and B holds it after a restart.
    let elsewhere = support::temp_dir("rotate");
    let dir = elsewhere.path().to_str().unwrap();
    let output = support::run_wharf_to_exit(
        &["admin", "rotate-token-key", "--database-url", &url, "--data-dir", dir],
        &[],
    );
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let (staged,): (String,) =
        sqlx::query_as("SELECT content FROM shared_files WHERE name = 'token-signing-key.next.pem'")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    b.stop();
    b.restart().await;
    assert_eq!(
        std::fs::read_to_string(b.data_dir.join("token-signing-key.next.pem")).unwrap(),
        staged
    );
    assert_eq!(
        std::fs::read(a.data_dir.join("token-signing-key.pem")).unwrap(),
        std::fs::read(b.data_dir.join("token-signing-key.pem")).unwrap(),
        "the current key is still the shared one"
    );
}

/// What a receiver got: when, and the body.
type Arrivals = Arc<Mutex<Vec<(Instant, serde_json::Value)>>>;

/// A webhook receiver on 127.0.0.1 that records every request; with `stall_first`, it holds
/// the first one for a minute (its sender dies meanwhile) and answers the others at once.
async fn receiver(stall_first: bool) -> (String, Arrivals) {
    let arrivals: Arrivals = Arc::new(Mutex::new(Vec::new()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let log = arrivals.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |body: axum::body::Bytes| {
            let log = log.clone();
            async move {
                let first = {
                    let mut log = log.lock().unwrap();
                    log.push((Instant::now(), serde_json::from_slice(&body).unwrap_or_default()));
                    log.len() == 1
                };
                if first && stall_first {
                    tokio::time::sleep(Duration::from_secs(60)).await;
                }
                "ok"
            }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, arrivals)
}

/// Creates a generic webhook for every push, sending to `url`, on `wharf`.
async fn create_webhook(wharf: &Wharf, name: &str, url: &str, ordered: bool) {
    let admin = wharf.signed_in_client("admin", ADMIN_PASSWORD).await;
    let form = support::webhook_form(&[
        ("name", name),
        ("timeout_secs", "30"),
        ("url", url),
        ("ordered", if ordered { "on" } else { "" }),
    ]);
    let (status, saved) = call(wharf, &admin, "save_webhook", &form).await;
    assert_eq!(status, 200, "{saved}");
}

/// A notification envelope of one push, as the registry sends.
fn push_envelope(id: &str, n: usize) -> String {
    serde_json::json!({"events": [{"id": id, "timestamp": "2026-12-06T10:00:00Z", "action": "push",
        "target": {"mediaType": "application/vnd.oci.image.manifest.v1+json", "size": 10,
            "digest": format!("sha256:{n:064x}"), "repository": "burst/app", "tag": format!("t{n}")},
        "actor": {"name": "ci"}}]})
    .to_string()
}

#[tokio::test]
async fn work_a_killed_replica_had_claimed_is_taken_over_before_its_lease_ends() {
    let Some((mut a, mut b, db)) = two_replicas(&["--webhook-allow-network", "127.0.0.1/32"]).await else {
        return;
    };
    let (receiver, arrivals) = receiver(true).await;
    create_webhook(&a, "takeover", &receiver, false).await;
    let secret = std::fs::read_to_string(a.data_dir.join("notification-secret")).unwrap();
    let http = reqwest::Client::new();
    assert_eq!(
        support::notify_status(&http, &a.url, secret.trim(), push_envelope("takeover-1", 7)).await,
        200
    );

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
    let on_a = a.signed_in_client("admin", ADMIN_PASSWORD).await;
    let mut live_on_a = LiveStream::open(&a, &on_a).await;
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
    // A's pages follow that run's progress, whichever replica ran it.
    live_on_a
        .until(Duration::from_secs(30), |update| {
            update["kind"] == "sync"
                && update["status"]["reconcile"]["started_at_ms"]
                    .as_i64()
                    .is_some_and(|started| started >= asked)
        })
        .await;
}

/// The ids of the events a receiver got, with how many times each came.
fn delivered(arrivals: &Arrivals) -> std::collections::HashMap<String, usize> {
    let mut ids = std::collections::HashMap::new();
    for (_, body) in arrivals.lock().unwrap().iter() {
        *ids.entry(body["id"].as_str().unwrap_or_default().to_string())
            .or_insert(0) += 1;
    }
    ids
}

#[tokio::test]
async fn notifications_shared_by_two_replicas_are_delivered_once_and_none_is_lost_when_one_is_killed() {
    const EVENTS: usize = 1000;
    let Some((mut a, b, _)) =
        two_replicas(&["--webhook-allow-network", "127.0.0.1/32", "--reconcile-interval", "0"]).await
    else {
        return;
    };
    let (receiver, arrivals) = receiver(false).await;
    create_webhook(&a, "burst", &receiver, true).await;
    let secret = std::fs::read_to_string(a.data_dir.join("notification-secret"))
        .unwrap()
        .trim()
        .to_string();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let (a_url, b_url) = (a.url.clone(), b.url.clone());
    // As a load balancer in front of the replicas would: one to A, the next to B.
    let post = |i: usize| {
        let (http, secret) = (http.clone(), secret.clone());
        let url = if i.is_multiple_of(2) {
            a_url.clone()
        } else {
            b_url.clone()
        };
        async move { support::notify_status(&http, &url, &secret, push_envelope(&format!("burst-{i}"), i)).await }
    };

    // Half with both replicas up: every event is delivered, each exactly once.
    for chunk in (0..EVENTS / 2).collect::<Vec<_>>().chunks(50) {
        let statuses = futures::future::join_all(chunk.iter().map(|i| post(*i))).await;
        assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    }
    assert!(
        eventually(480, || async { delivered(&arrivals).len() == EVENTS / 2 }).await,
        "{} of {} delivered\n{}",
        delivered(&arrivals).len(),
        EVENTS / 2,
        b.logs()
    );
    let twice: Vec<_> = delivered(&arrivals).into_iter().filter(|(_, n)| *n > 1).collect();
    assert!(twice.is_empty(), "delivered more than once: {twice:?}");

    // The other half while A is killed: what A did not acknowledge is sent again (to B, the
    // one left), as the registry retries; nothing is lost.
    let second_half: Vec<usize> = (EVENTS / 2..EVENTS).collect();
    let (statuses, ()) = tokio::join!(futures::future::join_all(second_half.iter().map(|i| post(*i))), async {
        tokio::time::sleep(Duration::from_millis(150)).await;
        a.kill9();
    });
    let pending: Vec<usize> = second_half
        .iter()
        .zip(statuses)
        .filter(|(_, s)| *s != 200)
        .map(|(i, _)| *i)
        .collect();
    for i in &pending {
        let body = push_envelope(&format!("burst-{i}"), *i);
        assert_eq!(
            support::notify_status(&http, &b.url, &secret, body).await,
            200,
            "event {i} sent again to B"
        );
    }
    let killed_at = Instant::now();
    assert!(
        eventually(480, || async { delivered(&arrivals).len() == EVENTS }).await,
        "{} of {EVENTS} delivered ({} resent to B)\n{}",
        delivered(&arrivals).len(),
        pending.len(),
        b.logs()
    );
    eprintln!(
        "all {EVENTS} delivered {:?} after the kill; {} were resent; {} copies in all",
        killed_at.elapsed(),
        pending.len(),
        arrivals.lock().unwrap().len()
    );
}

#[tokio::test]
async fn a_console_whose_key_the_registry_does_not_trust_says_so_at_start() {
    // Two consoles that share nothing: B has a key of its own, and A's registry trusts A's only.
    let a = Wharf::start().await;
    let b = Wharf::start_with(Options {
        registry_url: Some(a.registry_url()),
        ..Default::default()
    })
    .await;
    assert!(
        eventually(40, || async {
            b.logs().contains("the registry refuses the tokens this console signs")
        })
        .await,
        "{}",
        b.logs()
    );
    assert!(!a.logs().contains("the registry refuses the tokens"), "{}", a.logs());
}
