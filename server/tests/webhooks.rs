//! Webhooks end to end: a real console and registry, real pushes with skopeo, and real HTTP
//! receivers on 127.0.0.1 that record what they get and answer as told (200, 500, a redirect, a
//! hang). Checks signing, formats, retries, dead deliveries, Redeliver, refused addresses, and
//! that a console killed during a burst of events loses none.

mod support;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use app::backend::webhooks::signing::{self, SigningSecret};
use app::model::{DeliveriesPage, DeliveryDetail, SavedWebhook};
use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use support::{call, eventually, oci_layout, skopeo, temp_dir, user_with_role, webhook_form, Wharf, ADMIN_PASSWORD};

/// How a receiver answers.
#[derive(Clone, Copy)]
enum Answer {
    Ok,
    Fail,
    /// 500 for the requests with these numbers (counted from 0), 200 for the others.
    FailRequests(&'static [usize]),
    Redirect,
    Hang,
    /// 410 Gone: the receiver no longer exists.
    Gone,
}

#[derive(Clone, Debug)]
struct Request {
    headers: HeaderMap,
    body: Bytes,
}

impl Request {
    fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap()
    }
    fn header(&self, name: &str) -> String {
        self.headers
            .get(name)
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default()
    }
}

/// An HTTP server on 127.0.0.1 that records every request.
struct Receiver {
    url: String,
    requests: Arc<Mutex<Vec<Request>>>,
    answer: Arc<Mutex<Answer>>,
}

impl Receiver {
    async fn start(answer: Answer) -> Receiver {
        let requests = Arc::new(Mutex::new(Vec::new()));
        let answer = Arc::new(Mutex::new(answer));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let (log, mode) = (requests.clone(), answer.clone());
        let app = axum::Router::new()
            .route(
                "/hook",
                axum::routing::post(move |headers: HeaderMap, body: Bytes| {
                    let (log, mode) = (log.clone(), mode.clone());
                    async move {
                        let number = {
                            let mut log = log.lock().unwrap();
                            log.push(Request { headers, body });
                            log.len() - 1
                        };
                        let answer = *mode.lock().unwrap();
                        match answer {
                            Answer::Ok => (StatusCode::OK, "ok").into_response(),
                            Answer::FailRequests(failing) if failing.contains(&number) => {
                                (StatusCode::INTERNAL_SERVER_ERROR, "receiver broken").into_response()
                            }
                            Answer::FailRequests(_) => (StatusCode::OK, "ok").into_response(),
                            Answer::Fail => (StatusCode::INTERNAL_SERVER_ERROR, "receiver broken").into_response(),
                            Answer::Redirect => Response::builder()
                                .status(StatusCode::FOUND)
                                .header("Location", "/elsewhere")
                                .body(axum::body::Body::empty())
                                .unwrap(),
                            Answer::Gone => (StatusCode::GONE, "gone").into_response(),
                            Answer::Hang => {
                                tokio::time::sleep(Duration::from_secs(30)).await;
                                (StatusCode::OK, "late").into_response()
                            }
                        }
                    }
                }),
            )
            .route(
                "/elsewhere",
                axum::routing::post(|| async {
                    panic!("a redirect must not be followed");
                    #[allow(unreachable_code)]
                    StatusCode::OK
                }),
            );
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Receiver { url, requests, answer }
    }

    fn received(&self) -> Vec<Request> {
        self.requests.lock().unwrap().clone()
    }

    fn set(&self, answer: Answer) {
        *self.answer.lock().unwrap() = answer;
    }

    /// Waits (bounded) until at least `count` requests came; fails with the console's log.
    async fn expect_requests(&self, wharf: &Wharf, count: usize) {
        assert!(
            eventually(120, || async { self.received().len() >= count }).await,
            "{} of {count} requests\n{}",
            self.received().len(),
            wharf.logs()
        );
    }

    /// The `id` of the event in each request, in the order they came.
    fn event_ids(&self) -> Vec<String> {
        self.received()
            .iter()
            .map(|r| r.json()["id"].as_str().unwrap().to_string())
            .collect()
    }
}

async fn start_console(extra: &[&str]) -> Wharf {
    let mut args = vec![
        "--webhook-allow-network",
        "127.0.0.1/32",
        "--webhook-retry-delays",
        "1,1",
    ];
    args.extend_from_slice(extra);
    Wharf::start_with(support::Options {
        extra_args: args.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    })
    .await
}

/// Creates a webhook through its server function; returns the id and signing secret.
async fn create_webhook(
    wharf: &Wharf,
    client: &reqwest::Client,
    fields: &[(&str, &str)],
) -> Result<SavedWebhook, (u16, serde_json::Value)> {
    let (status, value) = call(wharf, client, "save_webhook", &webhook_form(fields)).await;
    if status == 200 {
        Ok(serde_json::from_value(value).unwrap())
    } else {
        Err((status, value))
    }
}

async fn deliveries(wharf: &Wharf, client: &reqwest::Client, id: &str) -> DeliveriesPage {
    let (status, value) = call(
        wharf,
        client,
        "webhook_deliveries",
        &[("id", id), ("failed_only", "false")],
    )
    .await;
    assert_eq!(status, 200, "{value}");
    serde_json::from_value(value).unwrap()
}

fn skopeo_push(wharf: &Wharf, work: &std::path::Path, repository: &str, tag: &str, platforms: &str) {
    let layout = work.join(format!("layout-{}", repository.replace('/', "-")));
    oci_layout(&layout, tag, &["--platforms", platforms, "--layers", "1"]);
    let copy = skopeo(&[
        "copy",
        "--dest-creds",
        &format!("admin:{ADMIN_PASSWORD}"),
        "--dest-tls-verify=false",
        "--all",
        &format!("oci:{}:{tag}", layout.display()),
        &format!("docker://{}/{repository}:{tag}", wharf.registry_host),
    ]);
    assert!(
        copy.status.success(),
        "skopeo copy: {}",
        String::from_utf8_lossy(&copy.stderr)
    );
}

/// Posts one notification envelope to the console, as the registry does; it must be taken.
async fn notify(wharf: &Wharf, events: Vec<serde_json::Value>) {
    let secret = std::fs::read_to_string(wharf.data_dir.join("notification-secret")).unwrap();
    let response = reqwest::Client::new()
        .post(format!("{}/registry/events", wharf.url))
        .bearer_auth(&secret)
        .body(serde_json::json!({ "events": events }).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
}

/// A registry event: the manifest with digest number `n` of `repository` deleted.
fn delete_event(id: &str, repository: &str, n: u32) -> serde_json::Value {
    serde_json::json!({"id": id, "timestamp": "2026-11-28T10:00:00Z", "action": "delete",
        "target": {"repository": repository, "digest": format!("sha256:{n:064x}")}})
}

fn verify(request: &Request, secret: &str) {
    let secret = SigningSecret::parse(secret).unwrap();
    signing::verify(
        &secret,
        &request.header("webhook-id"),
        &request.header("webhook-timestamp"),
        &request.header("webhook-signature"),
        &request.body,
        time::OffsetDateTime::now_utc().unix_timestamp(),
    )
    .unwrap_or_else(|e| panic!("signature does not verify: {e:?}"));
}

#[tokio::test]
async fn pushes_reach_receivers_signed_in_their_formats_and_failures_are_retried() {
    let wharf = start_console(&[]).await;
    let client = wharf.signed_in_client("admin", ADMIN_PASSWORD).await;
    let (generic, acr, redirect, broken, hanging, slow) = (
        Receiver::start(Answer::Ok).await,
        Receiver::start(Answer::Ok).await,
        Receiver::start(Answer::Redirect).await,
        Receiver::start(Answer::Fail).await,
        Receiver::start(Answer::Hang).await,
        Receiver::start(Answer::Hang).await,
    );

    // Refused at save: cloud metadata, loopback outside the allowed network, other schemes.
    for url in [
        "http://169.254.169.254/latest/meta-data",
        "http://127.0.0.2:9/hook",
        "http://[::1]:9/hook",
        "file:///etc/passwd",
    ] {
        let (status, error) = create_webhook(&wharf, &client, &[("name", "bad"), ("url", url)])
            .await
            .unwrap_err();
        assert_eq!(status, 400, "{url}: {error}");
    }
    let (status, error) = create_webhook(
        &wharf,
        &client,
        &[("name", "x"), ("url", &generic.url), ("headers", "Bad Header: 1")],
    )
    .await
    .unwrap_err();
    assert_eq!(status, 400, "{error}");
    let anonymous = reqwest::Client::new();
    let (status, _) = call(
        &wharf,
        &anonymous,
        "save_webhook",
        &webhook_form(&[("name", "x"), ("url", &generic.url)]),
    )
    .await;
    assert_eq!(status, 401, "signed out: refused");

    let generic_hook = create_webhook(
        &wharf,
        &client,
        &[
            ("name", "generic"),
            ("url", &generic.url),
            ("delete", "on"),
            ("headers", "Authorization: Bearer receiver-token"),
        ],
    )
    .await
    .unwrap();
    let secret = generic_hook
        .secret
        .clone()
        .expect("the secret is shown once, at creation");
    assert!(secret.starts_with("whsec_"));
    let acr_hook = create_webhook(
        &wharf,
        &client,
        &[
            ("name", "acr"),
            ("url", &acr.url),
            ("format", "acr"),
            ("scope", "shop/*:v*"),
        ],
    )
    .await
    .unwrap();
    let redirect_hook = create_webhook(&wharf, &client, &[("name", "redirect"), ("url", &redirect.url)])
        .await
        .unwrap();
    let broken_hook = create_webhook(&wharf, &client, &[("name", "broken"), ("url", &broken.url)])
        .await
        .unwrap();
    create_webhook(
        &wharf,
        &client,
        &[("name", "hanging"), ("url", &hanging.url), ("timeout_secs", "20")],
    )
    .await
    .unwrap();

    let slow_hook = create_webhook(
        &wharf,
        &client,
        &[
            ("name", "slow"),
            ("url", &slow.url),
            ("timeout_secs", "2"),
            ("scope", "shop/*:*"),
        ],
    )
    .await
    .unwrap();

    let guard = temp_dir("webhooks");
    skopeo_push(&wharf, guard.path(), "shop/api", "v1", "linux/amd64,linux/arm64");
    skopeo_push(&wharf, guard.path(), "other/tool", "latest", "linux/amd64");

    // The generic receiver gets one push per tag (not the platform manifests), signed, with the
    // custom header, while the hanging receiver still holds its first attempt.
    assert!(
        eventually(80, || async { generic.received().len() >= 2 }).await,
        "generic receiver got {:?}\n{}",
        generic.received().len(),
        wharf.logs()
    );
    assert!(
        hanging.received().len() <= 1,
        "the hanging receiver is still on its first attempt"
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    let received = generic.received();
    assert_eq!(received.len(), 2, "one delivery per tagged push");
    for request in &received {
        verify(request, &secret);
        assert_eq!(request.header("authorization"), "Bearer receiver-token");
        assert!(request.header("webhook-id").starts_with("msg_"));
    }
    let multi = received
        .iter()
        .map(Request::json)
        .find(|body| body["target"]["repository"] == "shop/api")
        .expect("the shop/api push");
    assert_eq!(multi["action"], "push");
    assert_eq!(multi["target"]["tag"], "v1");
    assert_eq!(multi["platforms"].as_array().map(Vec::len), Some(2), "{multi}");
    assert_eq!(multi["pusher"], "admin");

    // The ACR receiver: only shop/*:v*, in exactly the ACR shape.
    assert!(eventually(40, || async { !acr.received().is_empty() }).await);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let acr_received = acr.received();
    assert_eq!(acr_received.len(), 1, "other/tool:latest is out of scope");
    let body = acr_received[0].json();
    let keys: Vec<&String> = body.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["id", "timestamp", "action", "target", "request"]);
    assert_eq!(body["target"]["repository"], "shop/api");
    assert!(body["target"]["size"].is_i64() && body["target"]["length"].is_i64());
    assert!(!acr_hook.id.is_empty());

    // A redirect is a failure and is not followed.
    assert!(eventually(40, || async { !redirect.received().is_empty() }).await);
    let log = deliveries(&wharf, &client, &redirect_hook.id).await;
    assert!(
        eventually(40, || async {
            deliveries(&wharf, &client, &redirect_hook.id)
                .await
                .deliveries
                .iter()
                .all(|d| d.last_status == Some(302))
        })
        .await,
        "{log:?}"
    );

    // 500 forever: three attempts (1 s apart here), then failed; Redeliver sends it again.
    assert!(
        eventually(80, || async {
            let log = deliveries(&wharf, &client, &broken_hook.id).await;
            log.deliveries.len() == 2 && log.deliveries.iter().all(|d| d.state == "failed" && d.attempts == 3)
        })
        .await,
        "{:?}",
        deliveries(&wharf, &client, &broken_hook.id).await
    );
    assert_eq!(broken.received().len(), 6);
    let dead = deliveries(&wharf, &client, &broken_hook.id).await.deliveries[0].clone();
    let (status, detail) = call(
        &wharf,
        &client,
        "webhook_delivery",
        &[("id", &broken_hook.id), ("delivery", &dead.id)],
    )
    .await;
    assert_eq!(status, 200);
    let detail: DeliveryDetail = serde_json::from_value(detail).unwrap();
    assert_eq!(detail.attempts.len(), 3);
    assert_eq!(detail.attempts[0].response_status, Some(500));
    assert_eq!(detail.attempts[0].response_body.as_deref(), Some("receiver broken"));
    broken.set(Answer::Ok);
    let (status, queued) = call(
        &wharf,
        &client,
        "redeliver",
        &[("id", &broken_hook.id), ("delivery", &dead.id)],
    )
    .await;
    assert_eq!((status, queued), (200, serde_json::json!(1)));
    assert!(eventually(40, || async { broken.received().len() == 7 }).await);
    // The log goes on after a redelivery: the three failed attempts and the new one.
    assert!(
        eventually(40, || async {
            let (_, detail) = call(
                &wharf,
                &client,
                "webhook_delivery",
                &[("id", &broken_hook.id), ("delivery", &dead.id)],
            )
            .await;
            let detail: DeliveryDetail = serde_json::from_value(detail).unwrap();
            detail.attempts.len() == 4
                && detail.attempts[0].response_status == Some(200)
                && detail.delivery.state == "delivered"
        })
        .await
    );
    let (status, queued) = call(&wharf, &client, "redeliver", &[("id", &broken_hook.id)]).await;
    assert_eq!((status, queued), (200, serde_json::json!(1)), "the other failed one");
    assert!(eventually(40, || async { broken.received().len() == 8 }).await);
    // Every copy of one delivery carries the same webhook-id.
    let ids: HashSet<String> = broken.received().iter().map(|r| r.header("webhook-id")).collect();
    assert_eq!(ids.len(), 2);

    // Ping answers at once, with the receiver's response.
    let (status, ping) = call(&wharf, &client, "ping_webhook", &[("id", &generic_hook.id)]).await;
    assert_eq!(status, 200, "{ping}");
    let ping: DeliveryDetail = serde_json::from_value(ping).unwrap();
    assert_eq!(ping.attempts[0].response_status, Some(200));
    assert!(
        ping.attempts[0]
            .request_headers
            .iter()
            .any(|(n, v)| n.eq_ignore_ascii_case("authorization") && v == "****"),
        "custom header values are masked in the log"
    );

    // Wharf's own tag-only delete (a placeholder pushed to the tag, then deleted by digest)
    // reaches receivers as one delete of the tag, with the digest the tag pointed to.
    let pushed_digest = generic
        .received()
        .iter()
        .map(Request::json)
        .find(|b| b["target"]["repository"] == "other/tool")
        .map(|b| b["target"]["digest"].as_str().unwrap().to_string())
        .unwrap();
    let before = generic.received().len();
    let (status, outcome) = call(
        &wharf,
        &client,
        "delete_tag",
        &[("repository", "other/tool"), ("tag", "latest"), ("confirm", "latest")],
    )
    .await;
    assert_eq!(status, 200, "{outcome}");
    assert!(eventually(40, || async { generic.received().len() > before }).await);
    tokio::time::sleep(Duration::from_secs(6)).await;
    let after: Vec<serde_json::Value> = generic.received()[before..].iter().map(Request::json).collect();
    assert_eq!(
        after.len(),
        1,
        "one delivery for the tag delete, none for the placeholder: {after:?}"
    );
    assert_eq!(after[0]["action"], "delete");
    assert_eq!(after[0]["target"]["repository"], "other/tool");
    assert_eq!(after[0]["target"]["tag"], "latest");
    assert_eq!(after[0]["target"]["digest"], pushed_digest.as_str());

    // A receiver slower than the timeout: the attempt ends at the timeout, with the reason.
    assert!(
        eventually(80, || async {
            deliveries(&wharf, &client, &slow_hook.id)
                .await
                .deliveries
                .iter()
                .any(|d| d.last_error.as_deref() == Some("timed out waiting for the receiver"))
        })
        .await,
        "{:?}",
        deliveries(&wharf, &client, &slow_hook.id).await
    );

    // Refused at delivery too: the address a webhook names is checked again before every attempt
    // (here the stored URL is changed behind the form's back).
    let db = wharf.db().await;
    sqlx::query("UPDATE webhooks SET url = 'http://169.254.169.254/latest/meta-data' WHERE id = $1")
        .bind(&redirect_hook.id)
        .execute(&db.pool)
        .await
        .unwrap();
    let (status, ping) = call(&wharf, &client, "ping_webhook", &[("id", &redirect_hook.id)]).await;
    assert_eq!(status, 200, "{ping}");
    let ping: DeliveryDetail = serde_json::from_value(ping).unwrap();
    let error = ping.attempts[0].error.clone().unwrap_or_default();
    assert!(
        error.contains("link-local") && ping.attempts[0].response_status.is_none(),
        "{error}"
    );

    // Pulls are not stored, though skopeo and the reconcile read manifests.
    let pulls: (i64,) = sqlx::query_as("SELECT COUNT(*) FROM registry_events WHERE action = 'pull'")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(pulls.0, 0);
}

/// The registry's own retry of an event already stored is not delivered twice, and the console
/// killed outright during a burst loses no acknowledged event.
/// An ordered webhook's deliveries go out in order: when one fails, the ones behind it wait
/// (given back without counting an attempt) and go after its retry, in order. The first failure
/// stops the lane the intake handed the envelope's deliveries to; the second, a train of the
/// dispatcher that took them after the retry.
#[tokio::test]
async fn an_ordered_webhook_keeps_order_across_a_failure_in_a_train() {
    let wharf = start_console(&[]).await;
    let client = wharf.signed_in_client("admin", ADMIN_PASSWORD).await;
    let receiver = Receiver::start(Answer::FailRequests(&[2, 6])).await;
    let hook = create_webhook(
        &wharf,
        &client,
        &[("name", "train"), ("url", &receiver.url), ("delete", "on")],
    )
    .await
    .unwrap();
    // One envelope: ten deliveries queued at once, to go as one train.
    notify(
        &wharf,
        (0..10)
            .map(|i| delete_event(&format!("train-{i}"), "train/app", i))
            .collect(),
    )
    .await;
    assert!(
        eventually(100, || async { receiver.received().len() == 12 }).await,
        "{} requests\n{}",
        receiver.received().len(),
        wharf.logs()
    );
    let ids: Vec<String> = receiver
        .received()
        .iter()
        .map(|r| {
            r.json()["id"]
                .as_str()
                .unwrap()
                .trim_start_matches("train-")
                .to_string()
        })
        .collect();
    assert_eq!(ids, ["0", "1", "2", "2", "3", "4", "5", "5", "6", "7", "8", "9"]);
    let mut log = deliveries(&wharf, &client, &hook.id).await.deliveries;
    assert_eq!(log.len(), 10);
    // Delivery ids are time-ordered: in the order the events were queued.
    log.sort_by(|a, b| a.id.cmp(&b.id));
    for (i, delivery) in log.iter().enumerate() {
        assert_eq!(delivery.state, "delivered", "{delivery:?}");
        // Only the failed ones count two attempts: those behind them went back uncounted.
        let failed = i == 2 || i == 5;
        assert_eq!(delivery.attempts, if failed { 2 } else { 1 }, "{i}: {delivery:?}");
    }
}

/// Envelopes that come while an ordered webhook's failed delivery waits for its retry go after
/// it: the intake hands deliveries straight to the webhook's lane only while nothing else of the
/// webhook is pending.
#[tokio::test]
async fn what_comes_while_a_delivery_waits_for_its_retry_goes_after_it() {
    let wharf = start_console(&[]).await;
    let client = wharf.signed_in_client("admin", ADMIN_PASSWORD).await;
    let receiver = Receiver::start(Answer::FailRequests(&[2])).await;
    create_webhook(
        &wharf,
        &client,
        &[("name", "waiting"), ("url", &receiver.url), ("delete", "on")],
    )
    .await
    .unwrap();
    let envelope = |name: &str, from: u32| {
        (0..5)
            .map(|i| delete_event(&format!("{name}-{i}"), "waiting/app", from + i))
            .collect()
    };
    notify(&wharf, envelope("a", 0)).await;
    receiver.expect_requests(&wharf, 3).await;
    // The third delivery failed; its retry is due in about a second.
    notify(&wharf, envelope("b", 10)).await;
    receiver.expect_requests(&wharf, 11).await;
    assert_eq!(
        receiver.event_ids(),
        ["a-0", "a-1", "a-2", "a-2", "a-3", "a-4", "b-0", "b-1", "b-2", "b-3", "b-4"]
    );
}

/// Envelopes that keep coming while an ordered webhook's train is being sent join that train:
/// every event reaches the receiver once, in the order the registry sent them.
#[tokio::test]
async fn an_ordered_train_takes_in_what_comes_while_it_runs_and_keeps_order() {
    let wharf = start_console(&[]).await;
    let client = wharf.signed_in_client("admin", ADMIN_PASSWORD).await;
    let receiver = Receiver::start(Answer::Ok).await;
    create_webhook(
        &wharf,
        &client,
        &[
            ("name", "stream"),
            ("url", &receiver.url),
            ("delete", "on"),
            ("ordered", "on"),
        ],
    )
    .await
    .unwrap();
    for envelope in 0..30u32 {
        let events = (0..10)
            .map(|i| {
                let n = envelope * 10 + i;
                delete_event(&format!("stream-{n:03}"), "stream/app", n)
            })
            .collect();
        notify(&wharf, events).await;
    }
    receiver.expect_requests(&wharf, 300).await;
    let expected: Vec<String> = (0..300).map(|n| format!("stream-{n:03}")).collect();
    assert_eq!(receiver.event_ids(), expected);
}

/// A console whose registry takes connections and never answers: the index applies nothing.
async fn start_with_a_silent_registry() -> Wharf {
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let silent_url = format!("http://{}", silent.local_addr().unwrap());
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = silent.accept().await {
            held.push(socket);
        }
    });
    Wharf::start_with(support::Options {
        registry_url: Some(silent_url),
        extra_args: ["--webhook-allow-network", "127.0.0.1/32", "--reconcile-interval", "0"]
            .map(String::from)
            .to_vec(),
        ..Default::default()
    })
    .await
}

/// A push's delivery in a format that shows no platforms (ACR) goes without waiting for the
/// index; one that shows them (Wharf JSON) waits for it, a few seconds at most, then goes
/// without them; and once the index is behind (more events wait than it claims at once), no
/// delivery waits for it.
#[tokio::test]
async fn only_formats_that_show_platforms_wait_for_the_index() {
    // The index cannot apply the push.
    let wharf = start_with_a_silent_registry().await;
    let client = wharf.signed_in_client("admin", ADMIN_PASSWORD).await;
    let (acr, generic) = (Receiver::start(Answer::Ok).await, Receiver::start(Answer::Ok).await);
    for (name, receiver, format) in [("acr", &acr, "acr"), ("wharf", &generic, "generic")] {
        create_webhook(
            &wharf,
            &client,
            &[
                ("name", name),
                ("url", &receiver.url),
                ("format", format),
                ("ordered", "on"),
            ],
        )
        .await
        .unwrap();
    }
    notify(
        &wharf,
        vec![
            serde_json::json!({"id": "unindexed-1", "timestamp": "2026-12-06T10:00:00Z", "action": "push",
            "target": {"mediaType": "application/vnd.oci.image.manifest.v1+json", "size": 10,
                "digest": format!("sha256:{:064x}", 7), "repository": "waits/app", "tag": "v1"}}),
        ],
    )
    .await;
    assert!(
        eventually(40, || async { acr.received().len() == 1 }).await,
        "the ACR delivery did not go\n{}",
        wharf.logs()
    );
    let db = wharf.db().await;
    let indexed: (Option<i64>,) = sqlx::query_as("SELECT indexed_at FROM registry_events WHERE id = 'unindexed-1'")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(indexed.0, None, "the index cannot have applied the push");
    assert!(generic.received().is_empty(), "Wharf JSON waits for the index");
    assert_eq!(acr.received()[0].json()["target"]["tag"], "v1");
    // After the index wait it goes anyway, without platforms.
    assert!(
        eventually(60, || async { generic.received().len() == 1 }).await,
        "{}",
        wharf.logs()
    );
    let body = generic.received()[0].json();
    assert_eq!(body["target"]["tag"], "v1");
    assert_eq!(body["platforms"], serde_json::json!([]), "{body}");
    let wait = app::backend::webhooks::deliveries::INDEX_WAIT.as_millis() as i64;

    // A few events more: the index is not behind as a whole, but the last one has more events
    // before it than a lane waits behind, so none of them waits for the index.
    let few = (0..4)
        .map(|i| {
            serde_json::json!({"id": format!("few-{i}"), "timestamp": "2026-12-06T10:00:01Z", "action": "push",
            "target": {"mediaType": "application/vnd.oci.image.manifest.v1+json", "size": 10,
                "digest": format!("sha256:{:064x}", 50 + i), "repository": "waits/app", "tag": format!("f{i}")}})
        })
        .collect();
    notify(&wharf, few).await;
    assert!(
        eventually(60, || async { generic.received().len() == 5 }).await,
        "{}",
        wharf.logs()
    );
    let few = attempted_after_received(&db, "few-%").await;
    assert_eq!(few.len(), 4, "every delivery was attempted");
    for (id, waited) in few {
        assert!(
            waited < wait,
            "{id} waited {waited} ms for the index behind 3 other events"
        );
    }

    // More events waiting for the index than it claims at once: it is behind, and the
    // deliveries stop waiting for it (they go without platforms, well within the index wait).
    let behind = app::backend::webhooks::deliveries::INDEX_BEHIND as u64 + 5;
    let events = (0..behind)
        .map(|i| {
            serde_json::json!({"id": format!("behind-{i}"), "timestamp": "2026-12-06T10:00:01Z", "action": "push",
            "target": {"mediaType": "application/vnd.oci.image.manifest.v1+json", "size": 10,
                "digest": format!("sha256:{:064x}", 100 + i), "repository": "waits/app", "tag": format!("b{i}")}})
        })
        .collect();
    notify(&wharf, events).await;
    assert!(
        eventually(60, || async { generic.received().len() == 5 + behind as usize }).await,
        "{}",
        wharf.logs()
    );
    let waited = attempted_after_received(&db, "behind-%").await;
    assert_eq!(waited.len() as u64, behind);
    for (id, waited) in waited {
        assert!(waited < wait, "{id} waited for the index while it was behind");
    }
    for request in generic.received().iter().skip(1) {
        let body = request.json();
        assert_eq!(body["platforms"], serde_json::json!([]), "{body}");
    }
}

/// Deliveries sent one after another without waiting for the index (a burst) still list the
/// platforms of the images the index has read: read once for all of them.
#[tokio::test]
async fn a_burst_lists_the_platforms_the_index_has_read() {
    // The events stay unapplied; the images are known already.
    let wharf = start_with_a_silent_registry().await;
    let client = wharf.signed_in_client("admin", ADMIN_PASSWORD).await;
    let receiver = Receiver::start(Answer::Ok).await;
    create_webhook(
        &wharf,
        &client,
        &[
            ("name", "wharf"),
            ("url", &receiver.url),
            ("format", "generic"),
            ("ordered", "on"),
        ],
    )
    .await
    .unwrap();
    let db = wharf.db().await;
    let digest = |i: u64| format!("sha256:{:064x}", 900 + i);
    // Images 0 and 2 are indexed (2 with two platforms); 1 and 3 are not.
    for (i, platforms) in [
        (0, vec![("linux", "amd64", None)]),
        (2, vec![("linux", "amd64", None), ("linux", "arm64", Some("v8"))]),
    ] {
        let rows: Vec<serde_json::Value> = platforms
            .iter()
            .map(|(os, arch, variant)| {
                serde_json::json!({"os": os, "architecture": arch, "variant": variant, "digest": digest(50 + i), "size": 1})
            })
            .collect();
        sqlx::query(
            "INSERT INTO manifests (digest, media_type, manifest_size, total_size, kind, platforms, layer_count, \
             annotations, labels, indexed_at) VALUES ($1, 'application/vnd.oci.image.index.v1+json', 10, 0, 'index', $2, 0, '{}', '{}', 0)",
        )
        .bind(digest(i))
        .bind(serde_json::Value::from(rows).to_string())
        .execute(&db.pool)
        .await
        .unwrap();
    }
    let events = (0..4)
        .map(|i| {
            serde_json::json!({"id": format!("burst-{i}"), "timestamp": "2026-12-06T10:00:01Z", "action": "push",
            "target": {"mediaType": "application/vnd.oci.image.index.v1+json", "size": 10,
                "digest": digest(i), "repository": "burst/app", "tag": format!("t{i}")}})
        })
        .collect();
    notify(&wharf, events).await;
    assert!(
        eventually(60, || async { receiver.received().len() == 4 }).await,
        "{}",
        wharf.logs()
    );
    let wait = app::backend::webhooks::deliveries::INDEX_WAIT.as_millis() as i64;
    for (id, waited) in attempted_after_received(&db, "burst-%").await {
        assert!(waited < wait, "{id} waited {waited} ms for the index");
    }
    let listed: Vec<(String, Vec<String>)> = receiver
        .received()
        .iter()
        .map(|request| {
            let body = request.json();
            let platforms = body["platforms"]
                .as_array()
                .unwrap_or_else(|| panic!("no platforms list: {body}"))
                .iter()
                .map(|p| format!("{}/{}", p["os"].as_str().unwrap(), p["architecture"].as_str().unwrap()))
                .collect();
            (body["target"]["tag"].as_str().unwrap().to_string(), platforms)
        })
        .collect();
    let expected: Vec<(String, Vec<String>)> = vec![
        ("t0".into(), vec!["linux/amd64".into()]),
        ("t1".into(), vec![]),
        ("t2".into(), vec!["linux/amd64".into(), "linux/arm64".into()]),
        ("t3".into(), vec![]),
    ];
    assert_eq!(listed, expected);
}

/// The Wharf JSON deliveries of the events whose id is `LIKE pattern`: each event's id, and how
/// long after it was received its delivery was attempted (milliseconds).
async fn attempted_after_received(db: &app::backend::db::Db, pattern: &str) -> Vec<(String, i64)> {
    sqlx::query_as(
        "SELECT r.id, d.last_attempt_at - r.received_at FROM webhook_deliveries d \
         JOIN registry_events r ON r.id = d.event_id JOIN webhooks w ON w.id = d.webhook_id \
         WHERE w.name = 'wharf' AND r.id LIKE $1 AND d.last_attempt_at IS NOT NULL",
    )
    .bind(pattern)
    .fetch_all(&db.pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn no_event_is_lost_when_the_console_is_killed_during_a_burst() {
    const EVENTS: usize = 1000;
    let mut wharf = start_console(&["--reconcile-interval", "0"]).await;
    let client = wharf.signed_in_client("admin", ADMIN_PASSWORD).await;
    let receiver = Receiver::start(Answer::Ok).await;
    create_webhook(
        &wharf,
        &client,
        &[("name", "burst"), ("url", &receiver.url), ("ordered", "")],
    )
    .await
    .unwrap();
    let secret = std::fs::read_to_string(wharf.data_dir.join("notification-secret")).unwrap();
    let envelope = |i: usize| {
        serde_json::json!({"events": [{"id": format!("burst-{i}"), "timestamp": "2026-11-28T10:00:00Z", "action": "push",
            "target": {"mediaType": "application/vnd.oci.image.manifest.v1+json", "size": 10,
                "digest": format!("sha256:{i:064x}"), "repository": "burst/app", "tag": format!("t{i}")},
            "actor": {"name": "ci"}}]})
        .to_string()
    };
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let wharf_url = wharf.url.clone();
    let post = |i: usize| {
        let (http, url, secret, body) = (http.clone(), wharf_url.clone(), secret.clone(), envelope(i));
        async move { support::notify_status(&http, &url, &secret, body).await }
    };

    // Half, then the console dies while the rest is being sent: the registry keeps whatever was
    // not answered 200 and sends it again later.
    let mut pending: Vec<usize> = Vec::new();
    for chunk in (0..EVENTS / 2).collect::<Vec<_>>().chunks(50) {
        let statuses = futures::future::join_all(chunk.iter().map(|i| post(*i))).await;
        pending.extend(chunk.iter().zip(statuses).filter(|(_, s)| *s != 200).map(|(i, _)| *i));
    }
    let second_half: Vec<usize> = (EVENTS / 2..EVENTS).collect();
    let (statuses, ()) = tokio::join!(futures::future::join_all(second_half.iter().map(|i| post(*i))), async {
        tokio::time::sleep(Duration::from_millis(150)).await;
        wharf.kill9();
    });
    pending.extend(
        second_half
            .iter()
            .zip(statuses)
            .filter(|(_, s)| *s != 200)
            .map(|(i, _)| *i),
    );
    eprintln!(
        "{} of {EVENTS} events were not acknowledged before the kill and are sent again",
        pending.len()
    );
    wharf.restart().await;
    let restarted = std::time::Instant::now();
    for i in pending.iter().copied().chain([0, 1, 2]) {
        // The registry's retries (and three repeats of acknowledged events); like the registry,
        // send again what is not acknowledged (a 503 while the database is busy).
        let mut status = 0;
        for _ in 0..40 {
            status = post(i).await;
            if status == 200 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        assert_eq!(status, 200, "event {i} after the restart");
    }
    assert!(
        eventually(240, || async {
            let ids: HashSet<String> = receiver
                .received()
                .iter()
                .map(|r| r.json()["id"].as_str().unwrap_or_default().to_string())
                .collect();
            ids.len() == EVENTS
        })
        .await,
        "{} of {EVENTS} events delivered ({} were resent after the restart)\n{}",
        receiver
            .received()
            .iter()
            .map(|r| r.json()["id"].to_string())
            .collect::<HashSet<_>>()
            .len(),
        pending.len(),
        wharf.logs()
    );
    eprintln!("all delivered {:?} after the restart", restarted.elapsed());
    let copies = receiver.received().len();
    assert!(copies >= EVENTS, "at least once");
    let db = wharf.db().await;
    let queued: (i64,) = sqlx::query_as("SELECT COUNT(*) FROM webhook_deliveries")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(
        queued.0 as usize, EVENTS,
        "one delivery per event: the repeats were not queued again"
    );
}

/// The same path on PostgreSQL: the claim there locks delivery rows with `FOR UPDATE OF d SKIP
/// LOCKED`.
#[tokio::test]
async fn deliveries_work_on_postgres() {
    let Some(db) = support::postgres_database().await else {
        return;
    };
    let wharf = Wharf::start_with(support::Options {
        database_url: Some(db.url.clone()),
        extra_args: ["--webhook-allow-network", "127.0.0.1/32", "--webhook-retry-delays", "1"]
            .iter()
            .map(|s| s.to_string())
            .collect(),
        ..Default::default()
    })
    .await;
    let client = wharf.signed_in_client("admin", ADMIN_PASSWORD).await;
    let receiver = Receiver::start(Answer::Ok).await;
    let hook = create_webhook(
        &wharf,
        &client,
        &[("name", "pg"), ("url", &receiver.url), ("delete", "on")],
    )
    .await
    .unwrap();
    for i in 0..5 {
        notify(&wharf, vec![delete_event(&format!("pg-{i}"), "pg/app", i)]).await;
    }
    assert!(
        eventually(80, || async { receiver.received().len() == 5 }).await,
        "{} of 5 delivered\n{}",
        receiver.received().len(),
        wharf.logs()
    );
    let ids: Vec<String> = receiver
        .received()
        .iter()
        .map(|r| r.json()["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        ids,
        ["pg-0", "pg-1", "pg-2", "pg-3", "pg-4"],
        "ordered delivery keeps event order"
    );
    let log = deliveries(&wharf, &client, &hook.id).await;
    assert!(log.deliveries.iter().all(|d| d.state == "delivered"), "{log:?}");
}

#[tokio::test]
async fn a_namespace_contributor_manages_only_its_own_webhooks_and_they_hear_only_its_namespace() {
    let wharf = start_console(&[]).await;
    let admin = wharf.signed_in_client("admin", ADMIN_PASSWORD).await;
    let carol = user_with_role(&wharf, &admin, "carol", "contributor", "team-a/").await;
    let rita = user_with_role(&wharf, &admin, "rita", "reader", "team-a/").await;
    let registry_wide = Receiver::start(Answer::Ok).await;
    let team_a = Receiver::start(Answer::Ok).await;
    let admins_hook = create_webhook(
        &wharf,
        &admin,
        &[("name", "everything"), ("url", &registry_wide.url), ("delete", "on")],
    )
    .await
    .unwrap();

    // Carol may put a webhook in team-a/ only: not the registry, not another namespace.
    for owner in ["", "team-b/", "team-*"] {
        let refused = create_webhook(
            &wharf,
            &carol,
            &[("name", "x"), ("url", &team_a.url), ("owner_scope", owner)],
        )
        .await
        .unwrap_err();
        assert_eq!(refused.0, 403, "owner {owner:?}: {refused:?}");
    }
    let bad = create_webhook(
        &wharf,
        &carol,
        &[("name", "x"), ("url", &team_a.url), ("owner_scope", "Team A!")],
    )
    .await
    .unwrap_err();
    assert_eq!(bad.0, 400, "{bad:?}");
    // Its event scope says everything; where it belongs still limits what it hears.
    let carols_hook = create_webhook(
        &wharf,
        &carol,
        &[
            ("name", "team-a deploys"),
            ("url", &team_a.url),
            ("owner_scope", "team-a/"),
            ("scope", "*"),
            ("delete", "on"),
        ],
    )
    .await
    .unwrap();

    // She sees and manages hers, and nothing of the administrator's.
    let (status, list) = call(&wharf, &carol, "webhooks", &[]).await;
    assert_eq!(status, 200, "{list}");
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["team-a deploys"]);
    assert_eq!(list[0]["owner"], "team-a/");
    for (endpoint, form) in [
        ("webhook", vec![("id", admins_hook.id.as_str())]),
        (
            "delete_webhook",
            vec![("id", admins_hook.id.as_str()), ("confirm", "everything")],
        ),
        ("rotate_webhook_secret", vec![("id", admins_hook.id.as_str())]),
        ("ping_webhook", vec![("id", admins_hook.id.as_str())]),
        ("redeliver", vec![("id", admins_hook.id.as_str())]),
    ] {
        let (status, body) = call(&wharf, &carol, endpoint, &form).await;
        assert_eq!(status, 404, "{endpoint}: {body}");
    }
    // Nor can she move the administrator's webhook into her namespace by saving over it.
    let taken = create_webhook(
        &wharf,
        &carol,
        &[
            ("id", &admins_hook.id),
            ("name", "mine now"),
            ("url", &team_a.url),
            ("owner_scope", "team-a/"),
        ],
    )
    .await
    .unwrap_err();
    assert_eq!(taken.0, 404, "{taken:?}");
    // Or hers out of it.
    let moved = create_webhook(
        &wharf,
        &carol,
        &[
            ("id", &carols_hook.id),
            ("name", "team-a deploys"),
            ("url", ""),
            ("owner_scope", ""),
        ],
    )
    .await
    .unwrap_err();
    assert_eq!(moved.0, 403, "{moved:?}");
    let (status, page) = call(&wharf, &carol, "webhook", &[("id", &carols_hook.id)]).await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["owner_choices"], serde_json::json!([["team-a/", "team-a/"]]));

    // A reader manages no webhooks at all; the administrator sees both.
    let (status, _) = call(&wharf, &rita, "webhooks", &[]).await;
    assert_eq!(status, 403);
    let (status, list) = call(&wharf, &admin, "webhooks", &[]).await;
    assert_eq!(status, 200);
    assert_eq!(list.as_array().unwrap().len(), 2, "{list}");

    notify(
        &wharf,
        vec![
            delete_event("in-a", "team-a/api", 1),
            delete_event("in-b", "team-b/api", 2),
        ],
    )
    .await;
    let ids = |receiver: &Receiver| -> Vec<String> {
        let mut ids: Vec<String> = receiver
            .received()
            .iter()
            .map(|r| r.json()["id"].as_str().unwrap().to_string())
            .collect();
        ids.sort();
        ids
    };
    assert!(
        eventually(80, || async { registry_wide.received().len() == 2 }).await,
        "{:?}\n{}",
        ids(&registry_wide),
        wharf.logs()
    );
    assert!(eventually(40, || async { !team_a.received().is_empty() }).await);
    assert_eq!(ids(&registry_wide), ["in-a", "in-b"]);
    assert_eq!(
        ids(&team_a),
        ["in-a"],
        "a namespace's webhook hears nothing of another namespace"
    );
    let log = deliveries(&wharf, &carol, &carols_hook.id).await;
    assert_eq!(log.deliveries.len(), 1, "{log:?}");
}

/// `{% set a = "x" * 16384 %}` and twenty doublings: 16 GiB asked for within a few dozen
/// instructions of fuel.
fn template_bomb() -> String {
    let mut source = String::from("{% set a = \"x\" * 16384 %}");
    for _ in 0..20 {
        source.push_str("{% set a = a ~ a %}");
    }
    source.push_str("{{ a | length }}");
    source
}

async fn healthy(wharf: &Wharf) -> bool {
    let response = reqwest::get(format!("{}/healthz", wharf.url)).await;
    response.is_ok_and(|r| r.status().is_success())
}

/// A webhook's deliveries, once one of them matches.
async fn delivery_where(
    wharf: &Wharf,
    client: &reqwest::Client,
    id: &str,
    check: impl Fn(&app::model::DeliveryRow) -> bool,
) -> Option<app::model::DeliveryRow> {
    for _ in 0..60 {
        if let Some(row) = deliveries(wharf, client, id)
            .await
            .deliveries
            .into_iter()
            .find(|d| check(d))
        {
            return Some(row);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    None
}

/// A template that would take all memory is stopped in its child process wherever it runs
/// (preview, save, ping, a real push's delivery), with a message that says why; the console stays
/// up, a delivery it failed is not tried again after a restart, and a delivery whose render was
/// in progress when a console died is set aside instead of being rendered again.
#[tokio::test]
async fn a_template_bomb_is_stopped_in_preview_ping_and_delivery_and_the_console_stays_up() {
    let mut wharf = start_console(&[]).await;
    let client = wharf.signed_in_client("admin", ADMIN_PASSWORD).await;
    let receiver = Receiver::start(Answer::Ok).await;
    let bomb = template_bomb();

    let (status, error) = call(&wharf, &client, "preview_template", &[("id", ""), ("template", &bomb)]).await;
    assert_eq!(status, 400, "{error}");
    assert!(error.to_string().contains("MiB of memory"), "{error}");
    let (status, fine) = call(
        &wharf,
        &client,
        "preview_template",
        &[("id", ""), ("template", "{{ event.action }} {{ 'x' * 3 }}")],
    )
    .await;
    assert_eq!((status, fine.as_str()), (200, Some("push xxx")), "{fine}");

    // The compiler folds constant expressions: a template that is a bomb as written is refused
    // at save, and nothing is stored.
    let folded = format!("{{{{ {} }}}}", ["('x' * 99999999)"; 8].join(" ~ "));
    let (status, error) = create_webhook(
        &wharf,
        &client,
        &[
            ("name", "folded"),
            ("url", &receiver.url),
            ("format", "template"),
            ("template", &folded),
        ],
    )
    .await
    .unwrap_err();
    assert_eq!(status, 400, "{error}");
    assert!(error.to_string().contains("MiB of memory"), "{error}");
    let (_, listed) = call(&wharf, &client, "webhooks", &[]).await;
    assert_eq!(listed, serde_json::json!([]), "nothing stored");

    let hook = create_webhook(
        &wharf,
        &client,
        &[
            ("name", "bomb"),
            ("url", &receiver.url),
            ("format", "template"),
            ("template", &bomb),
        ],
    )
    .await
    .unwrap();
    let (status, ping) = call(&wharf, &client, "ping_webhook", &[("id", &hook.id)]).await;
    assert_eq!(status, 200, "{ping}");
    let ping: DeliveryDetail = serde_json::from_value(ping).unwrap();
    assert_eq!(ping.delivery.state, "failed");
    let reason = ping.delivery.last_error.unwrap_or_default();
    assert!(reason.contains("MiB of memory"), "{reason}");

    let guard = temp_dir("template-bomb");
    skopeo_push(&wharf, guard.path(), "bomb/app", "v1", "linux/amd64");
    let failed = delivery_where(&wharf, &client, &hook.id, |d| d.kind == "event" && d.state == "failed")
        .await
        .expect("the push's delivery fails");
    assert!(
        failed
            .last_error
            .as_deref()
            .unwrap_or_default()
            .contains("MiB of memory"),
        "{failed:?}"
    );
    assert_eq!(failed.attempts, 1, "failed for good, not retried");
    assert!(wharf.is_running() && healthy(&wharf).await, "the console stays up");

    wharf.stop();
    wharf.restart().await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(wharf.is_running() && healthy(&wharf).await, "a restart stays up");
    let page = deliveries(&wharf, &client, &hook.id).await;
    let again = page.deliveries.iter().find(|d| d.id == failed.id).unwrap();
    assert_eq!(
        (again.state.as_str(), again.attempts),
        ("failed", 1),
        "not rendered again"
    );

    // What a console killed while rendering leaves: the render marked, the lease run out. The
    // next claim sets the delivery aside without rendering it again.
    let db = wharf.db().await;
    let now = app::backend::db::now_ms();
    sqlx::query(
        "UPDATE webhook_deliveries SET dead_at = NULL, render_started_at = $1, claimed_by = 'gone/1/webhooks/x', \
         lease_until = $2, next_attempt_at = $2 WHERE id = $3",
    )
    .bind(now - 80_000)
    .bind(now - 1_000)
    .bind(&failed.id)
    .execute(&db.pool)
    .await
    .unwrap();
    let set_aside = delivery_where(&wharf, &client, &hook.id, |d| {
        d.id == failed.id
            && d.state == "failed"
            && d.last_error
                .as_deref()
                .is_some_and(|e| e.contains("stopped while rendering"))
    })
    .await;
    assert!(set_aside.is_some(), "{:?}", deliveries(&wharf, &client, &hook.id).await);
    assert!(receiver.received().is_empty(), "nothing was sent");
    assert!(wharf.is_running() && healthy(&wharf).await);
}

/// Deletes reach webhooks once per thing deleted, with its digest and media type, named after
/// the user who deleted (not the console's own token), and without platforms (as documented);
/// a webhook stopped by a 410 reports itself disabled.
#[tokio::test]
async fn deletes_are_reported_once_with_their_digest_by_the_user_and_a_gone_receiver_disables_its_webhook() {
    let wharf = start_console(&[]).await;
    let client = wharf.signed_in_client("admin", ADMIN_PASSWORD).await;
    let (generic, acr, gone) = (
        Receiver::start(Answer::Ok).await,
        Receiver::start(Answer::Ok).await,
        Receiver::start(Answer::Gone).await,
    );
    for (name, url, format) in [("generic", &generic.url, "generic"), ("acr", &acr.url, "acr")] {
        let fields = [
            ("name", name),
            ("url", url.as_str()),
            ("format", format),
            ("delete", "on"),
        ];
        create_webhook(&wharf, &client, &fields).await.unwrap();
    }

    // One image under two tags, deleted from the console: one delete, by digest.
    let guard = temp_dir("deletes");
    skopeo_push(&wharf, guard.path(), "del/app", "v1", "linux/amd64");
    let copy = skopeo(&[
        "copy",
        "--src-creds",
        &format!("admin:{ADMIN_PASSWORD}"),
        "--dest-creds",
        &format!("admin:{ADMIN_PASSWORD}"),
        "--src-tls-verify=false",
        "--dest-tls-verify=false",
        &format!("docker://{}/del/app:v1", wharf.registry_host),
        &format!("docker://{}/del/app:v2", wharf.registry_host),
    ]);
    assert!(copy.status.success(), "{}", String::from_utf8_lossy(&copy.stderr));
    assert!(
        eventually(40, || async {
            generic.received().len() == 2 && acr.received().len() == 2
        })
        .await
    );
    let pushed = generic.received()[0].json();
    let digest = pushed["target"]["digest"].as_str().unwrap().to_string();
    let media_type = pushed["target"]["mediaType"].as_str().unwrap().to_string();
    assert!(
        eventually(40, || async {
            support::repository(&wharf, &client, "del/app")
                .await
                .to_string()
                .contains("\"v2\"")
        })
        .await
    );
    let (status, outcome) = call(
        &wharf,
        &client,
        "delete_image",
        &[("repository", "del/app"), ("digest", &digest), ("confirm", "v1")],
    )
    .await;
    assert_eq!(status, 200, "{outcome}");
    assert!(
        eventually(40, || async {
            generic.received().len() > 2 && acr.received().len() > 2
        })
        .await
    );
    tokio::time::sleep(Duration::from_secs(6)).await;
    let deletes: Vec<serde_json::Value> = generic.received()[2..].iter().map(Request::json).collect();
    assert_eq!(deletes.len(), 1, "one delete for the image, none per tag: {deletes:?}");
    assert_eq!(deletes[0]["action"], "delete");
    assert_eq!(deletes[0]["target"]["digest"], digest.as_str());
    assert_eq!(deletes[0]["target"]["tag"], serde_json::Value::Null);
    assert_eq!(deletes[0]["pusher"], "admin", "the user, not wharf-console");
    assert_eq!(
        deletes[0]["platforms"],
        serde_json::json!([]),
        "as docs/webhooks-formats.md says"
    );
    let acr_deletes: Vec<serde_json::Value> = acr.received()[2..].iter().map(Request::json).collect();
    assert_eq!(acr_deletes.len(), 1, "{acr_deletes:?}");
    assert_eq!(acr_deletes[0]["target"]["digest"], digest.as_str());
    assert_eq!(acr_deletes[0]["target"]["mediaType"], media_type.as_str());

    // A tag removed from the console: one delete of the tag, with the digest it pointed to.
    skopeo_push(&wharf, guard.path(), "del/tag", "keep", "linux/amd64");
    assert!(eventually(40, || async { generic.received().len() == 4 }).await);
    let pushed = generic.received()[3].json();
    assert_eq!(pushed["target"]["repository"], "del/tag");
    assert!(
        eventually(40, || async {
            support::repository(&wharf, &client, "del/tag")
                .await
                .to_string()
                .contains("\"keep\"")
        })
        .await
    );
    let (status, outcome) = call(
        &wharf,
        &client,
        "delete_tag",
        &[("repository", "del/tag"), ("tag", "keep"), ("confirm", "keep")],
    )
    .await;
    assert_eq!(status, 200, "{outcome}");
    assert!(
        eventually(40, || async {
            acr.received().len() > 4 && generic.received().len() > 4
        })
        .await
    );
    tokio::time::sleep(Duration::from_secs(6)).await;
    let deletes: Vec<serde_json::Value> = acr.received()[4..].iter().map(Request::json).collect();
    assert_eq!(deletes.len(), 1, "{deletes:?}");
    assert_eq!(deletes[0]["target"]["tag"], "keep");
    assert_eq!(deletes[0]["target"]["digest"], pushed["target"]["digest"]);
    assert_eq!(deletes[0]["target"]["mediaType"], pushed["target"]["mediaType"]);
    let deletes: Vec<serde_json::Value> = generic.received()[4..].iter().map(Request::json).collect();
    assert_eq!(deletes.len(), 1, "{deletes:?}");
    assert_eq!(deletes[0]["pusher"], "admin");

    // A delete by digest from a registry client: one delete too, by that client's user.
    skopeo_push(&wharf, guard.path(), "del/cli", "v1", "linux/amd64");
    assert!(eventually(40, || async { generic.received().len() == 6 }).await);
    let pushed = generic.received()[5].json();
    let digest = pushed["target"]["digest"].as_str().unwrap();
    let delete = skopeo(&[
        "delete",
        "--creds",
        &format!("admin:{ADMIN_PASSWORD}"),
        "--tls-verify=false",
        &format!("docker://{}/del/cli@{digest}", wharf.registry_host),
    ]);
    assert!(delete.status.success(), "{}", String::from_utf8_lossy(&delete.stderr));
    assert!(eventually(40, || async { generic.received().len() > 6 }).await);
    tokio::time::sleep(Duration::from_secs(6)).await;
    let deletes: Vec<serde_json::Value> = generic.received()[6..].iter().map(Request::json).collect();
    assert_eq!(deletes.len(), 1, "{deletes:?}");
    assert_eq!(deletes[0]["target"]["digest"], digest);
    assert_eq!(deletes[0]["pusher"], "admin");

    // 410 Gone stops the webhook: it then says it is disabled, with the reason.
    let gone_hook = create_webhook(&wharf, &client, &[("name", "gone"), ("url", &gone.url)])
        .await
        .unwrap();
    let (status, ping) = call(&wharf, &client, "ping_webhook", &[("id", &gone_hook.id)]).await;
    assert_eq!(status, 200, "{ping}");
    let (_, listed) = call(&wharf, &client, "webhooks", &[]).await;
    let listed: Vec<app::model::WebhookSummary> = serde_json::from_value(listed).unwrap();
    let stopped = listed.iter().find(|w| w.id == gone_hook.id).unwrap();
    assert!(!stopped.enabled, "{stopped:?}");
    assert!(
        stopped.disabled_reason.as_deref().is_some_and(|r| r.contains("410")),
        "{stopped:?}"
    );
    let (status, view) = call(&wharf, &client, "webhook", &[("id", &gone_hook.id)]).await;
    assert_eq!(status, 200, "{view}");
    assert_eq!(view["form"]["enabled"], false, "{view}");
}

/// The port a receiver listens on.
fn port_of(receiver: &Receiver) -> u16 {
    url::Url::parse(&receiver.url).unwrap().port().unwrap()
}

/// Private networks are refused unless an administrator allows them, and so are IPv6 spellings
/// of loopback: at save, and at every delivery (an address in the URL, or a name's DNS answer).
#[tokio::test]
async fn private_networks_and_ipv6_spellings_of_loopback_are_refused_at_save_and_at_dial() {
    // No --webhook-allow-network at all: the defaults.
    let wharf = Wharf::start().await;
    let admin = wharf.signed_in_client("admin", ADMIN_PASSWORD).await;
    let receiver = Receiver::start(Answer::Ok).await;
    let port = port_of(&receiver);
    let mut refused_urls: Vec<(String, &str)> = [
        ("http://10.1.2.3/hook", "private-network"),
        ("https://172.16.0.1/hook", "private-network"),
        ("https://192.168.1.10/hook", "private-network"),
        ("http://100.64.0.1/hook", "private-network"),
        ("http://[fd00::1]/hook", "private-network"),
        ("http://169.254.169.254/latest/meta-data", "link-local"),
    ]
    .into_iter()
    .map(|(url, kind)| (url.to_string(), kind))
    .collect();
    let loopback_spellings = [
        receiver.url.clone(),
        format!("http://[::127.0.0.1]:{port}/hook"),
        format!("http://[64:ff9b::7f00:1]:{port}/hook"),
        format!("http://[::ffff:127.0.0.1]:{port}/hook"),
        format!("http://localhost:{port}/hook"),
    ];
    refused_urls.extend(loopback_spellings.iter().map(|url| (url.clone(), "loopback")));
    for (url, kind) in &refused_urls {
        let (status, body) = create_webhook(&wharf, &admin, &[("name", "x"), ("url", url)])
            .await
            .unwrap_err();
        assert_eq!(status, 400, "{url}: {body}");
        let message = body.to_string();
        assert!(
            message.contains(kind) && message.contains("--webhook-allow-network"),
            "{url}: {message}"
        );
    }
    let (status, list) = call(&wharf, &admin, "webhooks", &[]).await;
    assert_eq!((status, list), (200, serde_json::json!([])), "nothing was stored");

    // Stored behind the form's back (an older version accepted them): every attempt is refused
    // before anything is sent.
    let db = wharf.db().await;
    let hook = {
        let mut conn = db.pool.acquire().await.unwrap();
        let input = app::backend::webhooks::store::WebhookInput {
            name: "old".into(),
            url: receiver.url.clone(),
            enabled: true,
            actions: vec![app::backend::webhooks::event::EventAction::Push],
            format: Some(app::backend::webhooks::formats::Format::Generic),
            ..Default::default()
        };
        app::backend::webhooks::store::create(&mut conn, &input).await.unwrap()
    };
    for url in &loopback_spellings {
        sqlx::query("UPDATE webhooks SET url = $1 WHERE id = $2")
            .bind(url)
            .bind(&hook.id)
            .execute(&db.pool)
            .await
            .unwrap();
        let (status, ping) = call(&wharf, &admin, "ping_webhook", &[("id", &hook.id)]).await;
        assert_eq!(status, 200, "{ping}");
        let ping: DeliveryDetail = serde_json::from_value(ping).unwrap();
        let attempt = &ping.attempts[0];
        let error = attempt.error.clone().unwrap_or_default();
        assert!(
            error.contains("loopback") && attempt.response_status.is_none(),
            "{url}: {error}"
        );
    }
    assert!(receiver.received().is_empty(), "a refused address was dialled");
}

/// Whoever may edit a webhook without having seen its secrets cannot send them elsewhere: a new
/// receiver or format needs the stored header values (and a kept URL) typed again.
#[tokio::test]
async fn kept_secrets_are_not_sent_to_a_new_receiver_or_unmasked_by_a_new_format() {
    let wharf = start_console(&[]).await;
    let admin = wharf.signed_in_client("admin", ADMIN_PASSWORD).await;
    let carol = user_with_role(&wharf, &admin, "carol", "contributor", "team-a/").await;
    let gateway = Receiver::start(Answer::Ok).await;
    let attacker = Receiver::start(Answer::Ok).await;
    // The administrator sets it up with a token Carol never sees.
    let hook = create_webhook(
        &wharf,
        &admin,
        &[
            ("name", "gateway"),
            ("url", &gateway.url),
            ("owner_scope", "team-a/"),
            ("headers", "Authorization: Bearer gateway-token"),
        ],
    )
    .await
    .unwrap();
    let save = |url: &str, format: &str, headers: &str| {
        let fields = [
            ("id".to_string(), hook.id.clone()),
            ("name".to_string(), "gateway".to_string()),
            ("url".to_string(), url.to_string()),
            ("owner_scope".to_string(), "team-a/".to_string()),
            ("format".to_string(), format.to_string()),
            ("headers".to_string(), headers.to_string()),
        ];
        let (carol, wharf) = (carol.clone(), &wharf);
        async move {
            let refs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            create_webhook(wharf, &carol, &refs).await
        }
    };
    // Pointed at her own server with the header line left empty: refused, nothing changed.
    let (status, body) = save(&attacker.url, "generic", "Authorization:").await.unwrap_err();
    assert_eq!(status, 400, "{body}");
    assert!(
        body.to_string().contains("enter the values of Authorization again"),
        "{body}"
    );
    // Another format with the URL kept: refused too.
    let (status, body) = save("", "cloudevents", "Authorization:").await.unwrap_err();
    assert_eq!(status, 400, "{body}");
    let (status, ping) = call(&wharf, &carol, "ping_webhook", &[("id", &hook.id)]).await;
    assert_eq!(status, 200, "{ping}");
    assert!(attacker.received().is_empty());
    assert_eq!(gateway.received()[0].header("authorization"), "Bearer gateway-token");
    // A kept value stays for the same receiver; a new one may go anywhere.
    save("", "generic", "Authorization:").await.unwrap();
    save(&attacker.url, "generic", "Authorization: Bearer carols-own")
        .await
        .unwrap();
    call(&wharf, &carol, "ping_webhook", &[("id", &hook.id)]).await;
    assert_eq!(attacker.received().len(), 1);
    assert_eq!(attacker.received()[0].header("authorization"), "Bearer carols-own");

    // A Slack URL is its own secret, masked after its first path segment. Switching to a format
    // that shows whole URLs needs the URL again.
    let slack_url = format!("http://127.0.0.1:{}/services/T0/B0/SLACK-SECRET", port_of(&gateway));
    let slack = create_webhook(
        &wharf,
        &admin,
        &[
            ("name", "chat"),
            ("url", &slack_url),
            ("owner_scope", "team-a/"),
            ("format", "slack"),
        ],
    )
    .await
    .unwrap();
    let unmask = [
        ("id", slack.id.as_str()),
        ("name", "chat"),
        ("url", ""),
        ("owner_scope", "team-a/"),
        ("format", "generic"),
    ];
    let (status, body) = create_webhook(&wharf, &carol, &unmask).await.unwrap_err();
    assert_eq!(status, 400, "{body}");
    assert!(body.to_string().contains("enter the URL again"), "{body}");
    for endpoint in ["webhook", "webhooks"] {
        let (status, page) = call(&wharf, &carol, endpoint, &[("id", &slack.id)]).await;
        assert_eq!(status, 200, "{page}");
        assert!(!page.to_string().contains("SLACK-SECRET"), "{endpoint}: {page}");
    }
}

/// A receiver's answer body is for administrators: a namespace Contributor who pings or tests
/// its webhook, or reads its log, sees the status and headers only.
#[tokio::test]
async fn receivers_answers_are_shown_to_administrators_only() {
    let wharf = start_console(&[]).await;
    let admin = wharf.signed_in_client("admin", ADMIN_PASSWORD).await;
    let carol = user_with_role(&wharf, &admin, "carol", "contributor", "team-a/").await;
    let internal = Receiver::start(Answer::Fail).await;
    let hook = create_webhook(
        &wharf,
        &carol,
        &[("name", "probe"), ("url", &internal.url), ("owner_scope", "team-a/")],
    )
    .await
    .unwrap();
    for endpoint in ["ping_webhook", "test_webhook"] {
        let (status, answer) = call(&wharf, &carol, endpoint, &[("id", &hook.id)]).await;
        assert_eq!(status, 200, "{answer}");
        let detail: DeliveryDetail = serde_json::from_value(answer).unwrap();
        let attempt = &detail.attempts[0];
        assert_eq!(attempt.response_status, Some(500));
        assert_eq!(attempt.response_body, None, "{endpoint}");
        assert!(attempt.response_body_hidden, "{endpoint}");
    }
    let log = deliveries(&wharf, &carol, &hook.id).await;
    assert_eq!(log.deliveries.len(), 2);
    for delivery in &log.deliveries {
        let form = [("id", hook.id.as_str()), ("delivery", delivery.id.as_str())];
        let (status, detail) = call(&wharf, &carol, "webhook_delivery", &form).await;
        assert_eq!(status, 200, "{detail}");
        assert!(!detail.to_string().contains("receiver broken"), "{detail}");
        let (status, page) = wharf
            .page(&carol, &format!("/webhooks/{}/deliveries/{}", hook.id, delivery.id))
            .await;
        assert_eq!(status, 200);
        assert!(!page.contains("receiver broken") && page.contains("administrators can read it"));
        // The administrator reads it.
        let (status, detail) = call(&wharf, &admin, "webhook_delivery", &form).await;
        assert_eq!(status, 200, "{detail}");
        let detail: DeliveryDetail = serde_json::from_value(detail).unwrap();
        assert_eq!(detail.attempts[0].response_body.as_deref(), Some("receiver broken"));
    }
    let (_, ping) = call(&wharf, &admin, "ping_webhook", &[("id", &hook.id)]).await;
    assert!(ping.to_string().contains("receiver broken"), "{ping}");
}

/// Delivery updates on the live stream go only to those who may manage that webhook.
#[tokio::test]
async fn delivery_updates_reach_only_those_who_manage_the_webhook() {
    let wharf = start_console(&[]).await;
    let admin = wharf.signed_in_client("admin", ADMIN_PASSWORD).await;
    let carol = user_with_role(&wharf, &admin, "carol", "contributor", "team-a/").await;
    let bob = user_with_role(&wharf, &admin, "bob", "contributor", "team-b/").await;
    let receiver = Receiver::start(Answer::Ok).await;
    let mut hooks = Vec::new();
    for (client, name, owner) in [(&carol, "a", "team-a/"), (&bob, "b", "team-b/")] {
        let saved = create_webhook(
            &wharf,
            client,
            &[("name", name), ("url", &receiver.url), ("owner_scope", owner)],
        )
        .await
        .unwrap();
        hooks.push(saved.id);
    }
    let mut carols = support::LiveStream::open(&wharf, &carol).await;
    let mut bobs = support::LiveStream::open(&wharf, &bob).await;
    let delivery_of = |id: &str| {
        let id = id.to_string();
        move |u: &serde_json::Value| u["kind"] == "delivery" && u["webhook_id"] == id.as_str()
    };
    let wait = Duration::from_secs(30);
    // Carol's webhook first, then Bob's: Bob hears only of his, Carol only of hers.
    call(&wharf, &carol, "ping_webhook", &[("id", &hooks[0])]).await;
    carols.until(wait, delivery_of(&hooks[0])).await;
    call(&wharf, &bob, "ping_webhook", &[("id", &hooks[1])]).await;
    let bob_heard = bobs.until(wait, delivery_of(&hooks[1])).await;
    assert!(!bob_heard.iter().any(delivery_of(&hooks[0])), "{bob_heard:?}");
    call(&wharf, &carol, "ping_webhook", &[("id", &hooks[0])]).await;
    let carol_heard = carols.until(wait, delivery_of(&hooks[0])).await;
    assert!(!carol_heard.iter().any(delivery_of(&hooks[1])), "{carol_heard:?}");
}
