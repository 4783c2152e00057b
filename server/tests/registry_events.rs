//! `/registry/events`: authenticated intake, stored once, bad envelopes refused whole.

mod support;

use sqlx::Row;
use support::Wharf;

fn secret(wharf: &Wharf) -> String {
    std::fs::read_to_string(wharf.data_dir.join("notification-secret")).unwrap()
}

async fn stored_events(wharf: &Wharf) -> i64 {
    let db = wharf.db().await;
    sqlx::query("SELECT COUNT(*) AS n FROM registry_events")
        .fetch_one(&db.pool)
        .await
        .unwrap()
        .get::<i64, _>("n")
}

/// Waits (bounded) until `count` events are stored.
async fn stored_within(wharf: &Wharf, count: i64) -> bool {
    support::eventually(40, || async { stored_events(wharf).await == count }).await
}

/// Whether the mover has stored every journaled envelope: the position it recorded is the end of
/// the journal file.
async fn journal_is_empty(wharf: &Wharf) -> bool {
    let len = std::fs::metadata(wharf.data_dir.join("wharf.db-intake")).unwrap().len();
    let db = wharf.db().await;
    let mut conn = db.pool.acquire().await.unwrap();
    let stored = app::backend::intake_journal::recorded(&mut conn).await.unwrap();
    stored.is_some_and(|position| position.offset == len)
}

fn envelope(id: &str, repository: &str) -> String {
    serde_json::json!({"events": [{
        "id": id, "timestamp": "2026-11-23T10:00:00.5Z", "action": "push",
        "target": {"mediaType": "application/vnd.oci.image.manifest.v1+json", "size": 100,
                   "digest": "sha256:0123456789abcdef000000000000000000000000000000000000000000000000", "repository": repository, "tag": "t1"},
        "actor": {"name": "admin"}, "source": {"addr": "registry:5000", "instanceID": "x"}
    }]})
    .to_string()
}

/// Distribution 2.8's envelope media type; 3.x sends `...events.v2+json`, one event per envelope.
const ENVELOPE_V1: &str = "application/vnd.docker.distribution.events.v1+json";
const ENVELOPE_V2: &str = "application/vnd.docker.distribution.events.v2+json";

async fn post(wharf: &Wharf, authorization: Option<&str>, body: &str) -> reqwest::Response {
    post_as(wharf, ENVELOPE_V1, authorization, body).await
}

async fn post_as(wharf: &Wharf, media_type: &str, authorization: Option<&str>, body: &str) -> reqwest::Response {
    let mut request = reqwest::Client::new()
        .post(format!("{}/registry/events", wharf.url))
        .header("Content-Type", media_type)
        .body(body.to_string());
    if let Some(value) = authorization {
        request = request.header("Authorization", value);
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn intake_authenticates_validates_and_deduplicates() {
    let wharf = Wharf::start().await;
    let bearer = format!("Bearer {}", secret(&wharf));
    let before = stored_events(&wharf).await;

    assert_eq!(post(&wharf, None, &envelope("a", "x/y")).await.status(), 401);
    assert_eq!(
        post(&wharf, Some("Bearer wrong"), &envelope("a", "x/y")).await.status(),
        401
    );
    assert_eq!(
        stored_events(&wharf).await,
        before,
        "unauthenticated events must not be stored"
    );

    for bad in ["not json", "{}", r#"{"events": "no"}"#, "[1, 2]"] {
        let response = post(&wharf, Some(&bearer), bad).await;
        assert_eq!(response.status(), 400, "{bad}");
        let body: serde_json::Value = response.json().await.unwrap();
        assert!(!body["error"].as_str().unwrap().is_empty());
    }
    assert_eq!(
        stored_events(&wharf).await,
        before,
        "nothing of a refused envelope may be stored"
    );

    // A well-formed envelope with events Wharf cannot use: answered 200 (the registry would
    // retry anything else forever), the usable event stored, the others quarantined.
    let long_tag = "t".repeat(200);
    let mixed = serde_json::json!({"events": [
        {"id": "c", "timestamp": "2026-11-23T10:00:00Z", "action": "push", "target": {"repository": "ok/one"}},
        {"id": "d", "timestamp": "never", "action": "push", "target": {"repository": "ok"}},
        {"id": "b"},
        {"id": "e", "timestamp": "2026-11-23T10:00:00Z", "action": "push", "target": {"repository": "ok", "tag": long_tag}},
    ]})
    .to_string();
    let response = post(&wharf, Some(&bearer), &mixed).await;
    assert_eq!(response.status(), 200);
    // Answered once journaled: the answer counts what was taken in; the mover stores it.
    let outcome: serde_json::Value = response.json().await.unwrap();
    assert_eq!(
        (outcome["journaled"].as_i64(), outcome["quarantined"].as_i64()),
        (Some(1), Some(3)),
        "{outcome}"
    );
    assert!(stored_within(&wharf, before + 1).await);
    // Sent again: still one row each.
    assert_eq!(post(&wharf, Some(&bearer), &mixed).await.status(), 200);
    let db = wharf.db().await;
    let quarantined = || async {
        sqlx::query("SELECT COUNT(*) AS n FROM quarantined_events")
            .fetch_one(&db.pool)
            .await
            .unwrap()
            .get::<i64, _>("n")
    };
    assert!(support::eventually(40, || async { journal_is_empty(&wharf).await }).await);
    assert_eq!(quarantined().await, 3);
    let before = before + 1;

    let first = post(&wharf, Some(&bearer), &envelope("evt-1", "dedup/app")).await;
    assert_eq!(first.status(), 200);
    assert!(stored_within(&wharf, before + 1).await);
    let again = post(&wharf, Some(&bearer), &envelope("evt-1", "dedup/app")).await;
    assert_eq!(again.status(), 200, "a redelivered event is acknowledged");
    assert!(support::eventually(40, || async { journal_is_empty(&wharf).await }).await);
    assert_eq!(
        stored_events(&wharf).await,
        before + 1,
        "a redelivered event is stored once"
    );
    let before = before + 1;

    // Distribution 3.x's envelope: another media type, the same body.
    let v2 = post_as(&wharf, ENVELOPE_V2, Some(&bearer), &envelope("evt-v2", "v2/app")).await;
    assert_eq!(v2.status(), 200);
    assert!(stored_within(&wharf, before + 1).await);

    let client = wharf.signed_in_client("admin", support::ADMIN_PASSWORD).await;
    let (_, html) = wharf.page(&client, "/events").await;
    assert!(html.contains("dedup/app"));
    assert!(
        html.contains("Quarantined events") && html.contains("is longer than 128 bytes"),
        "{html}"
    );
    assert!(html.contains("sha256:0123456789ab"));

    let big = "x".repeat(5 * 1024 * 1024);
    assert_eq!(post(&wharf, Some(&bearer), &big).await.status(), 413);
    assert_eq!(
        reqwest::get(format!("{}/healthz", wharf.url)).await.unwrap().status(),
        200
    );
}
