//! `/metrics` and request ids end to end: a real console with the registry it manages, real
//! traffic (a token granted and one refused, a push through the registry, whose notification is
//! taken in and delivered to a webhook receiver on 127.0.0.1, a page), then a scrape that must
//! show each of those counted. Also: `/metrics` is refused without its token and not served on
//! the console's address when it has a listener of its own, and JSON log lines carry the id that
//! the response's `x-request-id` names.

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use app::backend::metrics as names;
use axum::http::StatusCode;
use support::{
    call, eventually, free_port, push_image, run_wharf_to_exit, temp_dir, webhook_form, Options, Wharf, ADMIN_PASSWORD,
};

const METRICS_TOKEN: &str = "metrics-test-token-5d1c";

/// One scrape: each series (`name{labels}`) and its value.
struct Scrape(BTreeMap<String, f64>);

impl Scrape {
    fn parse(text: &str) -> Scrape {
        let series = text
            .lines()
            .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
            .map(|line| {
                let (series, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("not a sample: {line}"));
                let value = value.parse().unwrap_or_else(|_| panic!("not a number: {line}"));
                (series.to_string(), value)
            })
            .collect();
        Scrape(series)
    }

    /// The sum of the series of `name` whose labels include all of `labels`.
    fn sum(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.matching(name, labels).map(|(_, value)| value).sum()
    }

    fn has(&self, name: &str, labels: &[(&str, &str)]) -> bool {
        self.matching(name, labels).next().is_some()
    }

    fn matching<'a>(&'a self, name: &'a str, labels: &'a [(&str, &str)]) -> impl Iterator<Item = (&'a str, f64)> + 'a {
        self.0.iter().filter_map(move |(series, value)| {
            let (series_name, rest) = series.split_once('{').unwrap_or((series, ""));
            let wanted = series_name == name
                && labels
                    .iter()
                    .all(|(key, label)| rest.contains(&format!("{key}=\"{label}\"")));
            wanted.then_some((series.as_str(), *value))
        })
    }
}

async fn scrape(url: &str, token: Option<&str>) -> (u16, String) {
    let mut request = reqwest::Client::new().get(url).timeout(Duration::from_secs(10));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

async fn scraped(wharf: &Wharf) -> Scrape {
    let (status, text) = scrape(&format!("{}/metrics", wharf.url), Some(METRICS_TOKEN)).await;
    assert_eq!(status, 200, "{text}");
    Scrape::parse(&text)
}

/// A webhook receiver on 127.0.0.1 that answers 200 to every POST.
async fn receiver() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let app = axum::Router::new().route("/hook", axum::routing::post(|| async { "ok" }));
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

async fn token_request(wharf: &Wharf, password: &str) -> u16 {
    support::token_status(wharf, "scope=repository:team/app:pull,push", "admin", password).await
}

#[tokio::test]
async fn metrics_count_real_traffic_behind_a_token() {
    let secrets = temp_dir("metrics-token");
    let token_file = secrets.path().join("metrics-token");
    std::fs::write(&token_file, format!("{METRICS_TOKEN}\n")).unwrap();
    let wharf = Wharf::start_with(Options {
        extra_args: vec![
            "--webhook-allow-network".into(),
            "127.0.0.1/32".into(),
            "--metrics-token-file".into(),
            token_file.display().to_string(),
        ],
        ..Default::default()
    })
    .await;
    let metrics_url = format!("{}/metrics", wharf.url);
    assert_eq!(scrape(&metrics_url, None).await.0, 401, "no token");
    assert_eq!(scrape(&metrics_url, Some("wrong-token")).await.0, 401, "a wrong token");
    let before = scraped(&wharf).await;
    assert_eq!(
        before.sum(
            names::BUILD_INFO,
            &[("version", env!("CARGO_PKG_VERSION")), ("database", "sqlite")]
        ),
        1.0
    );

    let admin = wharf.signed_in_client("admin", ADMIN_PASSWORD).await;
    let hook_url = receiver().await;
    let form = webhook_form(&[("name", "metrics"), ("url", &hook_url)]);
    let (status, saved) = call(&wharf, &admin, "save_webhook", &form).await;
    assert_eq!(status, 200, "{saved}");
    let webhook = saved["id"].as_str().unwrap().to_string();

    assert_eq!(token_request(&wharf, ADMIN_PASSWORD).await, 200);
    assert_eq!(token_request(&wharf, "not-the-password").await, 401);
    push_image(&wharf.registry_url(), "team/app", "1.0", &[], true);
    let (status, _) = wharf.page(&admin, "/").await;
    assert_eq!(status, 200);

    let delivered = [("webhook", webhook.as_str()), ("outcome", "delivered")];
    let moved = eventually(120, || async {
        let now = scraped(&wharf).await;
        now.sum(names::WEBHOOK_DELIVERIES, &delivered) >= 1.0
            && now.sum(names::RECONCILE_RUNS, &[("result", "ok")]) >= 1.0
    })
    .await;
    let after = scraped(&wharf).await;
    assert!(
        moved,
        "no delivery or reconcile counted:\n{:?}\n{}",
        after.0,
        wharf.logs()
    );

    let grew = |name: &str, labels: &[(&str, &str)]| after.sum(name, labels) - before.sum(name, labels);
    let requests = format!("{}_count", names::HTTP_REQUEST_DURATION);
    let token_route = [("route", "/auth/token"), ("method", "GET")];
    // The push asks for tokens too, so at least the two made here.
    assert!(grew(&requests, &[token_route[0], token_route[1], ("status", "200")]) >= 1.0);
    assert!(grew(&requests, &[token_route[0], token_route[1], ("status", "401")]) >= 1.0);
    assert!(
        grew(&requests, &[("route", "/"), ("status", "200")]) >= 1.0,
        "the catalog page"
    );
    assert!(grew(&requests, &[("route", "/registry/events"), ("status", "200")]) >= 1.0);
    assert!(grew(names::TOKEN_GRANTS, &[]) >= 1.0);
    assert_eq!(grew(names::TOKEN_DENIALS, &[("reason", "wrong_credentials")]), 1.0);
    assert!(grew(names::REGISTRY_EVENTS, &[("outcome", "taken_in")]) >= 1.0);
    assert!(after.has(&format!("{}_count", names::RECONCILE_DURATION), &[("result", "ok")]));
    assert!(after.has(names::RECONCILE_LAST_SUCCESS, &[]));
    assert!(after.has(names::RECONCILE_DRIFT, &[("change", "tags_added")]));
    for queue in ["registry_events", "webhook_deliveries"] {
        assert!(after.has(names::QUEUE_DEPTH, &[("queue", queue)]), "{queue}");
        assert!(after.has(names::QUEUE_OLDEST_AGE, &[("queue", queue)]), "{queue}");
    }
    assert!(after.sum(names::DB_POOL_MAX, &[]) >= 1.0);
    assert!(after.sum(names::DB_POOL_CONNECTIONS, &[]) >= 1.0);
    // Routes are templates: no series per repository.
    assert!(
        !after.0.keys().any(|series| series.contains("team/app")),
        "a raw path became a label"
    );
}

#[tokio::test]
async fn queue_figures_come_from_the_database() {
    let mut wharf = Wharf::start_with(Options {
        extra_args: vec!["--metrics-token".into(), METRICS_TOKEN.into()],
        ..Default::default()
    })
    .await;
    // Stop the console, queue deliveries for a webhook that does not exist (so none is sent),
    // start it again and scrape: what is pending is what the database holds.
    wharf.stop();
    let db = wharf.db().await;
    let old = app::backend::db::now_ms() - 90_000;
    for n in 0..3 {
        sqlx::query(
            "INSERT INTO webhook_deliveries (id, webhook_id, kind, payload, created_at, next_attempt_at) \
             VALUES ($1, 'gone-webhook', 'event', '{}', $2, $2)",
        )
        .bind(format!("msg_metrics_{n}"))
        .bind(old)
        .execute(&db.pool)
        .await
        .unwrap();
    }
    db.pool.close().await;
    wharf.restart().await;
    let now = scraped(&wharf).await;
    let queue = [("queue", "webhook_deliveries")];
    assert_eq!(now.sum(names::QUEUE_DEPTH, &queue), 3.0, "{:?}", now.0);
    let age = now.sum(names::QUEUE_OLDEST_AGE, &queue);
    assert!((90.0..600.0).contains(&age), "oldest due delivery age {age}");
}

#[tokio::test]
async fn metrics_on_their_own_listener_and_json_logs_with_request_ids() {
    let metrics_port = free_port();
    let wharf = Wharf::start_with(Options {
        extra_args: vec![
            "--metrics-listen".into(),
            format!("127.0.0.1:{metrics_port}"),
            "--log-format".into(),
            "json".into(),
        ],
        ..Default::default()
    })
    .await;
    let (status, body) = scrape(&format!("{}/metrics", wharf.url), None).await;
    assert_eq!(status, 404, "/metrics must not be on the console's address");
    assert!(!body.contains(names::BUILD_INFO));
    let (status, body) = scrape(&format!("http://127.0.0.1:{metrics_port}/metrics"), None).await;
    assert_eq!(status, 200);
    assert!(body.contains(names::BUILD_INFO), "{body}");

    // A refused notification logs a warning while the request is served.
    let secret = std::fs::read_to_string(wharf.data_dir.join("notification-secret")).unwrap();
    let client = reqwest::Client::new();
    let response = client
        .post(format!("{}/registry/events", wharf.url))
        .bearer_auth(&secret)
        .body("not an envelope")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let id = response.headers()["x-request-id"].to_str().unwrap().to_string();
    assert_eq!(id.len(), 36, "a UUID: {id}");

    // A proxy's id is kept; one that is not a plain token is replaced.
    for (sent, kept) in [("edge-42.a_b", true), ("a b", false), ("\"}{", false)] {
        let response = client
            .get(format!("{}/healthz", wharf.url))
            .header("x-request-id", sent)
            .send()
            .await
            .unwrap();
        let answered = response.headers()["x-request-id"].to_str().unwrap();
        assert_eq!(answered == sent, kept, "{sent:?} answered as {answered:?}");
    }

    let stderr = wharf.dir.join("stderr.log");
    let logged = eventually(40, || async {
        let text = std::fs::read_to_string(&stderr).unwrap();
        text.lines().any(|line| line.contains(&id))
    })
    .await;
    let text = std::fs::read_to_string(&stderr).unwrap();
    assert!(logged, "no log line names {id}:\n{text}");
    let lines: Vec<serde_json::Value> = text
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}")))
        .collect();
    let request_span = |line: &serde_json::Value| {
        let spans = line["spans"].as_array().cloned().unwrap_or_default();
        spans.into_iter().find(|span| span["name"] == "request")
    };
    let (line, span) = lines
        .iter()
        .find_map(|line| {
            request_span(line)
                .filter(|span| span["request_id"] == id.as_str())
                .map(|s| (line, s))
        })
        .expect("a line with the request's id");
    assert_eq!(line["fields"]["message"], "refused a notification envelope");
    assert_eq!(line["level"], "WARN");
    assert_eq!(span["path"], "/registry/events");
    assert_eq!(span["method"], "POST");
}

#[test]
fn a_taken_metrics_address_or_an_empty_token_stops_the_start_with_the_flag_named() {
    let dir = temp_dir("metrics-start");
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let taken = taken.local_addr().unwrap().to_string();
    let empty = dir.path().join("empty-token");
    std::fs::write(&empty, "\n").unwrap();
    let data = dir.path().join("data").display().to_string();
    let listen = format!("127.0.0.1:{}", free_port());
    let base = ["serve", "--data-dir", &data, "--listen", &listen];
    let cases = [
        ("--metrics-listen", taken.as_str(), "--metrics-listen"),
        (
            "--metrics-token-file",
            &*empty.to_string_lossy(),
            "the metrics token is empty",
        ),
    ];
    for (flag, value, said) in cases {
        let args: Vec<&str> = base.iter().copied().chain([flag, value]).collect();
        let output = run_wharf_to_exit(&args, &[]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{flag} {value}: started");
        assert!(stderr.contains(said), "{flag} {value}: {stderr}");
    }
}

/// The queue's backlog as `/metrics` reads it: rows waiting for a retry count in the depth, not
/// in the oldest due age; finished and dead rows in neither.
async fn backlog_counts_pending_rows(db: &app::backend::db::Db) {
    use app::backend::webhooks::deliveries::QUEUE;
    use app::backend::work::{backlog, Backlog};
    let now = app::backend::db::now_ms();
    let rows = [
        ("due", now - 60_000, now - 60_000, "NULL", "NULL"),
        ("later", now - 120_000, now + 3_600_000, "NULL", "NULL"),
        ("done", now - 300_000, now - 300_000, "1", "NULL"),
        ("dead", now - 300_000, now - 300_000, "NULL", "1"),
    ];
    for (id, created_at, next_attempt_at, done_at, dead_at) in rows {
        sqlx::query(&format!(
            "INSERT INTO webhook_deliveries (id, webhook_id, kind, payload, created_at, next_attempt_at, done_at, dead_at) \
             VALUES ($1, 'w', 'event', '{{}}', $2, $3, {done_at}, {dead_at})"
        ))
        .bind(id)
        .bind(created_at)
        .bind(next_attempt_at)
        .execute(&db.pool)
        .await
        .unwrap();
    }
    let found = backlog(db, &QUEUE, "created_at", now).await.unwrap();
    assert_eq!(
        found,
        Backlog {
            depth: 2,
            oldest_due_at: Some(now - 60_000)
        }
    );
    let events = backlog(db, &app::backend::sync::apply::QUEUE, "received_at", now)
        .await
        .unwrap();
    assert_eq!(
        events,
        Backlog {
            depth: 0,
            oldest_due_at: None
        }
    );
}

#[tokio::test]
async fn backlog_on_sqlite() {
    let dir = temp_dir("metrics-backlog");
    let url = format!("sqlite://{}", dir.path().join("wharf.db").display());
    backlog_counts_pending_rows(&app::backend::db::Db::connect(&url).await.unwrap()).await;
}

#[tokio::test]
async fn backlog_on_postgres() {
    let Some(db) = support::postgres_database().await else {
        return;
    };
    backlog_counts_pending_rows(&db).await;
}
