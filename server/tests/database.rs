//! The database layer on SQLite, and again on PostgreSQL when `WHARF_TEST_POSTGRES_URL` names a
//! server (scripts/test starts one; with `WHARF_REQUIRE_POSTGRES=1` its absence fails the test).

mod support;

use app::backend::db::Db;
use app::backend::{events, users};

/// A fresh SQLite database, and the directory guard that removes it.
async fn sqlite() -> (tempfile::TempDir, Db) {
    let dir = support::temp_dir("db");
    let db = Db::connect(&format!("sqlite://{}", dir.path().join("wharf.db").display()))
        .await
        .unwrap();
    (dir, db)
}

/// A fresh database on the test PostgreSQL server, or `None` when there is none.
async fn postgres() -> Option<Db> {
    support::postgres_database().await
}

fn envelope(ids: &[&str]) -> Vec<u8> {
    let events: Vec<serde_json::Value> = ids
        .iter()
        .map(|id| {
            serde_json::json!({"id": id, "timestamp": "2026-11-23T10:00:00Z", "action": "push",
                "target": {"repository": format!("repo-{id}"), "tag": "latest", "digest": "sha256:aa", "size": 10}})
        })
        .collect();
    serde_json::to_vec(&serde_json::json!({ "events": events })).unwrap()
}

async fn events_are_stored_once_and_paged(db: &Db) {
    let first = events::parse_envelope(&envelope(&["1", "2"])).unwrap();
    let outcome = events::store(db, &first).await.unwrap();
    assert_eq!((outcome.stored, outcome.duplicates), (2, 0));
    let again = events::store(db, &first).await.unwrap();
    assert_eq!((again.stored, again.duplicates), (0, 2));

    let ids: Vec<String> = (0..120).map(|i| format!("bulk-{i:03}")).collect();
    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    events::store(db, &events::parse_envelope(&envelope(&refs)).unwrap())
        .await
        .unwrap();

    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..10 {
        let page = events::list(db, cursor.as_deref()).await.unwrap();
        assert_eq!(page.total, 122);
        assert!(page.events.len() as i64 <= events::PAGE_SIZE);
        seen.extend(page.events.into_iter().map(|e| e.id));
        cursor = page.next;
        if cursor.is_none() {
            break;
        }
    }
    assert_eq!(seen.len(), 122, "every event exactly once across pages");
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 122);
}

async fn users_and_passwords(db: &Db) {
    let setup = users::ensure_admin(db, None).await.unwrap();
    let users::AdminSetup::Created {
        password_generated: Some(password),
    } = setup
    else {
        panic!("first call creates the admin with a generated password");
    };
    assert_eq!(
        users::ensure_admin(db, Some("other")).await.unwrap(),
        users::AdminSetup::AlreadyPresent
    );
    let admin = users::authenticate(db, "admin", &password).await.unwrap().unwrap();
    assert!(admin.is_admin);
    assert!(users::authenticate(db, "admin", "wrong").await.unwrap().is_none());
    assert!(users::authenticate(db, "ghost", &password).await.unwrap().is_none());
    assert!(
        users::create(db, "admin", "x", false).await.is_err(),
        "user names are unique"
    );
    assert_eq!(users::find_by_id(db, &admin.id).await.unwrap(), Some(admin));
}

#[tokio::test]
async fn sqlite_events() {
    let (_dir, db) = sqlite().await;
    events_are_stored_once_and_paged(&db).await;
}

#[tokio::test]
async fn sqlite_users() {
    let (_dir, db) = sqlite().await;
    users_and_passwords(&db).await;
}

#[tokio::test]
async fn postgres_events() {
    if let Some(db) = postgres().await {
        events_are_stored_once_and_paged(&db).await;
    }
}

#[tokio::test]
async fn postgres_users() {
    if let Some(db) = postgres().await {
        users_and_passwords(&db).await;
    }
}

/// The whole console on PostgreSQL: sign-in (sessions in PostgreSQL) and event intake.
#[tokio::test]
async fn postgres_console() {
    let Some(db) = postgres().await else { return };
    let wharf = support::Wharf::start_with(support::Options {
        database_url: Some(db.url.clone()),
        ..Default::default()
    })
    .await;
    let secret = std::fs::read_to_string(wharf.data_dir.join("notification-secret")).unwrap();
    let response = reqwest::Client::new()
        .post(format!("{}/registry/events", wharf.url))
        .bearer_auth(secret)
        .body(envelope(&["pg-1"]))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let client = wharf.signed_in_client("admin", support::ADMIN_PASSWORD).await;
    let (_, html) = wharf.page(&client, "/events").await;
    assert!(html.contains("repo-pg-1"), "{html}");
}
