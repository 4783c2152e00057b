//! The database layer on SQLite, and again on PostgreSQL when `WHARF_TEST_POSTGRES_URL` names a
//! server (scripts/test starts one; with `WHARF_REQUIRE_POSTGRES=1` its absence fails the test).

mod support;

use std::time::Duration;

use app::backend::access::credentials::{Credentials, Purpose, Refusal};
use app::backend::access::{assignments, teams, Action, Principal, Role, Scope, Subject, Target, Visibility};
use app::backend::db::Db;
use app::backend::intake::{self, IntakeContext};
use app::backend::sync::apply;
use app::backend::work::{self, WorkerId};
use app::backend::{events, users};
use sqlx::Row;

const CONTEXT: IntakeContext<'static> = IntakeContext {
    registry_host: "127.0.0.1:5000",
    public_url: "http://127.0.0.1:3000",
};

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
                "target": {"repository": format!("repo-{id}"), "tag": "latest", "digest": "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "size": 10}})
        })
        .collect();
    serde_json::to_vec(&serde_json::json!({ "events": events })).unwrap()
}

async fn events_are_stored_once_and_paged(db: &Db) {
    let first = events::parse_envelope(&envelope(&["1", "2"])).unwrap();
    let outcome = intake::receive(db, &first, &[], &CONTEXT).await.unwrap();
    assert_eq!((outcome.stored, outcome.duplicates), (2, 0));
    let again = intake::receive(db, &first, &[], &CONTEXT).await.unwrap();
    assert_eq!((again.stored, again.duplicates), (0, 2));

    let ids: Vec<String> = (0..120).map(|i| format!("bulk-{i:03}")).collect();
    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    intake::receive(db, &events::parse_envelope(&envelope(&refs)).unwrap(), &[], &CONTEXT)
        .await
        .unwrap();

    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..10 {
        let everything = events::EventFilter {
            visible: Visibility::All,
            ..Default::default()
        };
        let page = events::list(db, &everything, cursor.as_deref()).await.unwrap();
        assert!(page.events.len() as i64 <= events::PAGE_SIZE);
        seen.extend(page.events.into_iter().map(|e| e.id));
        cursor = page.next;
        if cursor.is_none() {
            break;
        }
    }
    assert_eq!(seen.len(), 122, "every event exactly once across pages");
    let filter = |repository: &str, action: &str| events::EventFilter {
        repository: repository.into(),
        action: action.into(),
        pusher: String::new(),
        visible: Visibility::All,
    };
    let one = events::list(db, &filter("repo-1", ""), None).await.unwrap();
    assert_eq!(one.events.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(), ["1"]);
    assert!(events::list(db, &filter("repo-1", "delete"), None)
        .await
        .unwrap()
        .events
        .is_empty());
    assert!(
        events::list(db, &filter("repo-%/", ""), None)
            .await
            .unwrap()
            .events
            .is_empty(),
        "LIKE wildcards are literal"
    );
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 122);
}

/// How many stored registry events have an id starting with `prefix`.
async fn events_starting_with(db: &Db, prefix: &str) -> i64 {
    sqlx::query("SELECT COUNT(*) FROM registry_events WHERE id LIKE $1")
        .bind(format!("{prefix}%"))
        .fetch_one(&db.pool)
        .await
        .unwrap()
        .get(0)
}

async fn claimed_ids(db: &Db, token: &str) -> Vec<String> {
    sqlx::query("SELECT id FROM registry_events WHERE claimed_by = $1 ORDER BY id")
        .bind(token)
        .fetch_all(&db.pool)
        .await
        .unwrap()
        .iter()
        .map(|row| row.get("id"))
        .collect()
}

async fn event_state(db: &Db, id: &str) -> (Option<i64>, Option<i64>, i64, Option<String>) {
    let row = sqlx::query("SELECT indexed_at, dead_at, attempts, last_error FROM registry_events WHERE id = $1")
        .bind(id)
        .fetch_one(&db.pool)
        .await
        .unwrap();
    (
        row.get("indexed_at"),
        row.get("dead_at"),
        row.get("attempts"),
        row.get("last_error"),
    )
}

/// Leased rows: a claimed row is not claimed twice, a failed one waits for its own next attempt
/// without holding up the others, a lapsed lease is taken over (and the old holder's result is
/// refused), a dead row is set aside and can be revived.
async fn leased_work(db: &Db) {
    let (a, b) = (WorkerId::new("a"), WorkerId::new("b"));
    let lease = Duration::from_secs(60);
    intake::receive(
        db,
        &events::parse_envelope(&envelope(&["w1", "w2", "w3"])).unwrap(),
        &[],
        &CONTEXT,
    )
    .await
    .unwrap();
    let first = work::claim(db, &apply::QUEUE, &a, apply::CANDIDATES, lease)
        .await
        .unwrap();
    assert_eq!(claimed_ids(db, &first.token).await, ["w1", "w2", "w3"]);
    let second = work::claim(db, &apply::QUEUE, &b, apply::CANDIDATES, lease)
        .await
        .unwrap();
    assert_eq!(second.count, 0, "leased rows are not claimed again");

    let mut conn = db.pool.acquire().await.unwrap();
    let later = app::backend::db::now_ms() + 3_600_000;
    assert!(
        work::retry(&mut conn, &apply::QUEUE, "w1", &first.token, later, "registry said 500")
            .await
            .unwrap()
    );
    assert!(work::complete(&mut conn, &apply::QUEUE, "w2", &first.token)
        .await
        .unwrap());
    assert!(work::bury(&mut conn, &apply::QUEUE, "w3", &first.token, "malformed")
        .await
        .unwrap());
    drop(conn);
    assert_eq!(
        event_state(db, "w1").await,
        (None, None, 1, Some("registry said 500".into()))
    );
    assert!(event_state(db, "w2").await.0.is_some());
    assert!(event_state(db, "w3").await.1.is_some());
    let nothing_due = work::claim(db, &apply::QUEUE, &b, apply::CANDIDATES, lease)
        .await
        .unwrap();
    assert_eq!(
        nothing_due.count, 0,
        "a failed row waits for its next attempt; a dead one is set aside"
    );

    // A lease that lapses: another worker takes the row, the first one's result is refused.
    intake::receive(db, &events::parse_envelope(&envelope(&["w4"])).unwrap(), &[], &CONTEXT)
        .await
        .unwrap();
    let short = work::claim(db, &apply::QUEUE, &a, apply::CANDIDATES, Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(claimed_ids(db, &short.token).await, ["w4"]);
    tokio::time::sleep(Duration::from_millis(5)).await;
    let takeover = work::claim(db, &apply::QUEUE, &b, apply::CANDIDATES, lease)
        .await
        .unwrap();
    assert_eq!(claimed_ids(db, &takeover.token).await, ["w4"]);
    let mut conn = db.pool.acquire().await.unwrap();
    assert!(!work::complete(&mut conn, &apply::QUEUE, "w4", &short.token)
        .await
        .unwrap());
    assert!(work::complete(&mut conn, &apply::QUEUE, "w4", &takeover.token)
        .await
        .unwrap());
    assert_eq!(event_state(db, "w4").await.2, 2, "each claim counts an attempt");

    // Handing rows back without counting the attempt (the registry as a whole was down).
    assert!(work::revive(&mut conn, &apply::QUEUE, "w3").await.unwrap());
    drop(conn);
    let revived = work::claim(db, &apply::QUEUE, &a, apply::CANDIDATES, lease)
        .await
        .unwrap();
    assert_eq!(claimed_ids(db, &revived.token).await, ["w3"]);
    let mut conn = db.pool.acquire().await.unwrap();
    assert_eq!(
        work::release(&mut conn, &apply::QUEUE, &revived.token, 0)
            .await
            .unwrap(),
        1
    );
    drop(conn);
    assert_eq!(event_state(db, "w3").await, (None, None, 0, Some("malformed".into())));
}

/// Many claimers at once never share a row (PostgreSQL: `FOR UPDATE SKIP LOCKED`; SQLite: one
/// writer at a time).
async fn concurrent_claims_are_disjoint(db: &Db) {
    let ids: Vec<String> = (0..60).map(|i| format!("c-{i:02}")).collect();
    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    intake::receive(db, &events::parse_envelope(&envelope(&refs)).unwrap(), &[], &CONTEXT)
        .await
        .unwrap();
    let claims = futures::future::join_all((0..6).map(|i| async move {
        let worker = WorkerId::new(&format!("w{i}"));
        let mut mine = Vec::new();
        for _ in 0..10 {
            let claim = work::claim(db, &apply::QUEUE, &worker, apply::CANDIDATES, Duration::from_secs(60))
                .await
                .unwrap();
            if claim.count == 0 {
                break;
            }
            mine.extend(claimed_ids(db, &claim.token).await);
        }
        mine
    }))
    .await;
    let mut all: Vec<String> = claims.into_iter().flatten().filter(|id| id.starts_with("c-")).collect();
    let claimed = all.len();
    all.sort();
    all.dedup();
    assert_eq!(all.len(), claimed, "no row was claimed twice");
    assert_eq!(all, ids, "every row was claimed");
}

/// Retention prunes finished events older than the cut, and keeps pending and recent ones.
async fn retention_prunes_only_old_finished_rows(db: &Db) {
    intake::receive(
        db,
        &events::parse_envelope(&envelope(&["old-done", "old-pending", "new-done"])).unwrap(),
        &[],
        &CONTEXT,
    )
    .await
    .unwrap();
    sqlx::query("UPDATE registry_events SET received_at = 1000 WHERE id IN ('old-done', 'old-pending')")
        .execute(&db.pool)
        .await
        .unwrap();
    sqlx::query("UPDATE registry_events SET indexed_at = 2000 WHERE id IN ('old-done', 'new-done')")
        .execute(&db.pool)
        .await
        .unwrap();
    let pruned = app::backend::retention::prune(db, 5000).await.unwrap();
    assert_eq!(pruned.events, 1);
    let left: Vec<String> =
        sqlx::query("SELECT id FROM registry_events WHERE id IN ('old-done', 'old-pending', 'new-done') ORDER BY id")
            .fetch_all(&db.pool)
            .await
            .unwrap()
            .iter()
            .map(|r| r.get("id"))
            .collect();
    assert_eq!(left, ["new-done", "old-pending"]);
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
    let credentials = Credentials::default();
    let check = |name: &'static str, password: String| {
        let credentials = &credentials;
        async move { credentials.verify(db, Purpose::Console, name, &password, None).await }
    };
    let Subject::User(admin) = check("admin", password.clone()).await.unwrap().subject else {
        panic!("a user");
    };
    assert!(admin.is_admin);
    assert!(matches!(check("admin", "wrong".into()).await, Err(Refusal::Wrong)));
    assert!(matches!(check("ghost", password.clone()).await, Err(Refusal::Wrong)));
    let grants = assignments::grants_of(db, &Subject::User(admin.clone())).await.unwrap();
    assert!(
        grants.allows(Target::Registry, Action::Administer),
        "the first admin is an Owner"
    );
    assert!(
        users::create(db, "admin", "x", false).await.is_err(),
        "user names are unique"
    );
    assert_eq!(users::find_by_id(db, &admin.id).await.unwrap(), Some(admin.clone()));

    // Assignments: a team's role reaches its members; the visible repositories filter in SQL
    // agrees with the decision.
    let member = users::create(db, "member", "member-password", false).await.unwrap();
    let team = teams::create(db, "web").await.unwrap().unwrap();
    assert!(teams::add_member(db, &team.id, &member.id).await.unwrap());
    assert!(!teams::add_member(db, &team.id, &member.id).await.unwrap(), "once");
    let scope = Scope::parse("shop/web-*").unwrap();
    assignments::add(
        db,
        &Principal::Team(team.id.clone()),
        Role::Reader,
        &scope,
        Some("admin"),
    )
    .await
    .unwrap();
    assert!(matches!(
        assignments::add(db, &Principal::Team(team.id.clone()), Role::Reader, &scope, None).await,
        Err(assignments::AssignError::Exists)
    ));
    assert!(matches!(
        assignments::add(db, &Principal::Team(team.id.clone()), Role::Puller, &scope, None).await,
        Err(assignments::AssignError::PersonRole)
    ));
    let grants = assignments::grants_of(db, &Subject::User(member.clone()))
        .await
        .unwrap();
    assert!(grants.allows(Target::Repository("shop/web-1"), Action::Pull));
    assert!(!grants.allows(Target::Repository("shop/api"), Action::Pull));
    let mut conn = db.pool.acquire().await.unwrap();
    for name in ["shop/web-1", "shop/web_2", "shop/api", "shopx/web-1"] {
        app::backend::index::store::ensure_repository(&mut conn, name)
            .await
            .unwrap();
    }
    drop(conn);
    let query = app::model::CatalogQuery {
        page: 1,
        ..Default::default()
    };
    let rows = app::backend::index::queries::catalog(db, &query, &grants.readable(), "host", (&Default::default(), 0))
        .await
        .unwrap();
    let names: Vec<String> = rows.repositories.iter().map(|r| r.name.clone()).collect();
    assert_eq!(names, ["shop/web-1"]);
    assert_eq!((rows.matching, rows.total), (1, 1));
    assert!(teams::delete(db, &team.id).await.unwrap());
    let grants = assignments::grants_of(db, &Subject::User(member)).await.unwrap();
    assert!(grants.assignments.is_empty(), "a deleted team's roles go with it");
}

/// Wrong guesses stop the guesser, never the owner (issue 22): with the credential cache cold,
/// six wrong passwords for `admin` from one address, then the right one from another address is
/// accepted; attempts refused because their address is locked never count against the account;
/// a credential the cache knows is answered even from a locked address; a robot's secret and an
/// access token work after a flood of wrong guesses for their names, from anywhere.
async fn guessing_never_locks_the_owner_out(db: &Db) {
    let admin = users::create(db, "admin", "right-password", true).await.unwrap();
    let credentials = Credentials::default();
    let guesser: Option<std::net::IpAddr> = Some("192.0.2.1".parse().unwrap());
    let owner: Option<std::net::IpAddr> = Some("192.0.2.2".parse().unwrap());
    let verify = |name: &'static str, secret: String, from: Option<std::net::IpAddr>| {
        let credentials = &credentials;
        async move { credentials.verify(db, Purpose::Registry, name, &secret, from).await }
    };
    let mut refusals = Vec::new();
    for i in 0..7 {
        refusals.push(verify("admin", format!("guess-{i}"), guesser).await.unwrap_err());
    }
    assert!(
        refusals[..6].iter().all(|r| matches!(r, Refusal::Wrong)),
        "{refusals:?}"
    );
    assert!(matches!(refusals[6], Refusal::Throttled(_)), "{refusals:?}");
    assert!(
        matches!(
            verify("admin", "right-password".into(), guesser).await,
            Err(Refusal::Throttled(_))
        ),
        "the guesser's own address is locked for this account"
    );
    let Subject::User(user) = verify("admin", "right-password".into(), owner).await.unwrap().subject else {
        panic!("a user");
    };
    assert_eq!(user.id, admin.id, "the owner from another address is let in");

    // The guesser keeps going until its address is locked for every account; those refusals do
    // not count against `admin`.
    for i in 0..100 {
        let _ = verify("admin", format!("more-{i}"), guesser).await;
    }
    assert!(credentials.throttle.check_address(guesser).is_err());
    assert_eq!(
        credentials.throttle.account_delay("admin"),
        std::time::Duration::ZERO,
        "locked attempts never count against the account"
    );

    // Known to the cache (verified above from `owner`): answered even from the locked address,
    // but only with the right password and the same purpose.
    assert!(verify("admin", "right-password".into(), guesser).await.is_ok());
    assert!(matches!(
        credentials
            .verify(db, Purpose::Console, "admin", "right-password", guesser)
            .await,
        Err(Refusal::Throttled(_))
    ));

    // Robots and access tokens: no per-account lock at all.
    let (robot, robot_secret) =
        app::backend::access::robots::create(db, "ci-puller", "", &Scope::parse("").unwrap(), None)
            .await
            .unwrap();
    let (_, token_secret) = app::backend::access::personal_tokens::create(db, &admin.id, "laptop", None)
        .await
        .unwrap();
    let robot_guesser: Option<std::net::IpAddr> = Some("192.0.2.3".parse().unwrap());
    for i in 0..60 {
        let _ = verify("ci-puller", format!("wharf_robot_guess{i}"), robot_guesser).await;
        let _ = verify("ci-puller", format!("password-guess-{i}"), robot_guesser).await;
        let _ = verify("admin", format!("wharf_pat_guess{i}"), robot_guesser).await;
    }
    assert!(credentials.throttle.check_address(robot_guesser).is_err());
    let elsewhere: Option<std::net::IpAddr> = Some("192.0.2.4".parse().unwrap());
    for from in [elsewhere, robot_guesser] {
        let Subject::Robot(found) = verify("ci-puller", robot_secret.clone(), from).await.unwrap().subject else {
            panic!("the robot");
        };
        assert_eq!(found.id, robot.id);
        credentials.forget_all();
        assert!(
            verify("admin", token_secret.clone(), from).await.is_ok(),
            "the access token from {from:?}"
        );
        credentials.forget_all();
    }

    // Guesses spread over many addresses only delay the account, never refuse the owner.
    for i in 0..12 {
        let from = Some(format!("198.51.100.{i}").parse().unwrap());
        let _ = verify("admin", format!("spread-{i}"), from).await;
    }
    assert!(credentials.throttle.account_delay("admin") > std::time::Duration::ZERO);
    let fresh: Option<std::net::IpAddr> = Some("192.0.2.5".parse().unwrap());
    assert!(verify("admin", "right-password".into(), fresh).await.is_ok());
    assert_eq!(credentials.throttle.account_delay("admin"), std::time::Duration::ZERO);
}

#[tokio::test]
async fn sqlite_guessing_never_locks_the_owner_out() {
    let (_dir, db) = sqlite().await;
    guessing_never_locks_the_owner_out(&db).await;
}

#[tokio::test]
async fn postgres_guessing_never_locks_the_owner_out() {
    if let Some(db) = postgres().await {
        guessing_never_locks_the_owner_out(&db).await;
    }
}

async fn audit_rows(db: &Db, action: &str) -> Vec<(String, String, String, String, i64)> {
    sqlx::query_as(
        "SELECT actor, target, detail, address, count FROM audit_log WHERE action = $1 ORDER BY actor, target, detail",
    )
    .bind(action)
    .fetch_all(&db.pool)
    .await
    .unwrap()
}

/// Refused tokens and failed sign-ins: only identical entries share a row (a reader's refused
/// push stays "asked push" after a refused delete; different failure reasons stay apart), and
/// one address gets at most `MAX_DISTINCT_PER_ADDRESS_HOUR` distinct rows an hour, the rest
/// counted in one overflow row.
async fn audit_merges_only_identical_entries(db: &Db) {
    use app::backend::audit::{self, AuditAction, Entry, MAX_DISTINCT_PER_ADDRESS_HOUR};
    let here: Option<std::net::IpAddr> = Some("192.0.2.7".parse().unwrap());
    let entry = |actor: &'static str, target: &'static str, detail: &'static str| Entry {
        actor,
        action: AuditAction::TokenDenied,
        target,
        detail,
        address: here,
    };
    for _ in 0..3 {
        audit::record(db, entry("reader", "repository:team-a/app", "asked push; granted pull")).await;
    }
    audit::record(
        db,
        entry("reader", "repository:team-a/app", "asked delete; granted nothing"),
    )
    .await;
    let rows = audit_rows(db, "token denied").await;
    let details: Vec<(&str, i64)> = rows.iter().map(|r| (r.2.as_str(), r.4)).collect();
    assert_eq!(
        details,
        [("asked delete; granted nothing", 1), ("asked push; granted pull", 3)],
        "{rows:?}"
    );
    let reasons = ["the provider said no", "state mismatch", "expired code"];
    for reason in reasons.iter().chain(reasons.iter()) {
        audit::record(
            db,
            Entry {
                action: AuditAction::SignInFailed,
                ..entry("(single sign-on)", "console", reason)
            },
        )
        .await;
    }
    let failed = audit_rows(db, "sign-in failed").await;
    assert_eq!(failed.len(), 3, "{failed:?}");
    assert!(failed.iter().all(|r| r.4 == 2), "{failed:?}");

    // A flood of distinct anonymous denials from one address: capped rows, every one counted.
    let names: Vec<String> = (0..100).map(|i| format!("repository:flood/{i}")).collect();
    for name in &names {
        audit::record(
            db,
            Entry {
                actor: "(anonymous)",
                action: AuditAction::TokenDenied,
                target: name,
                detail: "asked pull; granted nothing",
                address: here,
            },
        )
        .await;
    }
    let rows = audit_rows(db, "token denied").await;
    assert_eq!(rows.len() as i64, MAX_DISTINCT_PER_ADDRESS_HOUR + 1, "{rows:?}");
    assert_eq!(rows.iter().map(|r| r.4).sum::<i64>(), 3 + 1 + 100);
    let overflow = rows.iter().find(|r| r.0 == "(several)").expect("an overflow row");
    assert_eq!(overflow.4, 100 - (MAX_DISTINCT_PER_ADDRESS_HOUR - 2));
    // Another address is not capped by this one.
    audit::record(
        db,
        Entry {
            address: Some("192.0.2.8".parse().unwrap()),
            ..entry("(anonymous)", "repository:flood/0", "asked pull; granted nothing")
        },
    )
    .await;
    assert_eq!(
        audit_rows(db, "token denied").await.len() as i64,
        MAX_DISTINCT_PER_ADDRESS_HOUR + 2
    );
}

#[tokio::test]
async fn sqlite_audit_merges_only_identical_entries() {
    let (_dir, db) = sqlite().await;
    audit_merges_only_identical_entries(&db).await;
}

#[tokio::test]
async fn postgres_audit_merges_only_identical_entries() {
    if let Some(db) = postgres().await {
        audit_merges_only_identical_entries(&db).await;
    }
}

/// Envelopes sent at once through [`intake::Intake`] share transactions: every event is stored
/// once, each envelope gets its own outcome, and the registry's resend of an envelope in the
/// same group counts as duplicates.
async fn concurrent_envelopes_are_stored_together(db: &Db) {
    let intake = std::sync::Arc::new(intake::Intake::start(
        db.clone(),
        CONTEXT.registry_host.into(),
        CONTEXT.public_url.into(),
        Default::default(),
    ));
    let mut sends = tokio::task::JoinSet::new();
    for i in 0..100 {
        let intake = intake.clone();
        // Envelope i and i + 50 carry the same two events.
        let ids = [format!("group-{}-a", i % 50), format!("group-{}-b", i % 50)];
        sends.spawn(async move {
            let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
            let events = events::parse_envelope(&envelope(&refs)).unwrap();
            intake.receive(events, Vec::new()).await.unwrap()
        });
    }
    let (mut stored, mut duplicates) = (0, 0);
    while let Some(outcome) = sends.join_next().await {
        let outcome = outcome.unwrap();
        assert_eq!(outcome.stored + outcome.duplicates, 2, "{outcome:?}");
        stored += outcome.stored;
        duplicates += outcome.duplicates;
    }
    assert_eq!((stored, duplicates), (100, 100));
    assert_eq!(events_starting_with(db, "group-").await, 100);
}

/// Substring search through the trigram index (SQLite FTS5, PostgreSQL pg_trgm) finds what a
/// scan would: substrings anywhere, namespace prefixes, short texts, names removed or added since.
async fn search_finds_substrings(db: &Db) {
    use app::backend::index::{queries, store};
    use app::model::{CatalogQuery, CatalogSort};
    let names = [
        "shop/api",
        "shop/web",
        "shopping/cart",
        "tools/api-gateway",
        "x_y/z",
        "a/b",
    ];
    let mut tx = db.begin_write().await.unwrap();
    for name in names {
        store::ensure_repository(&mut tx, name).await.unwrap();
    }
    tx.commit().await.unwrap();
    let found = |search: &'static str| async move {
        let query = CatalogQuery {
            search: search.to_string(),
            sort: CatalogSort::Name,
            namespace: String::new(),
            page: 1,
        };
        let rows = queries::catalog(db, &query, &Visibility::All, "h", (&Default::default(), 0))
            .await
            .unwrap();
        let names: Vec<String> = rows.repositories.into_iter().map(|r| r.name).collect();
        assert_eq!(
            rows.matching as usize,
            names.len(),
            "{search}: the count agrees with the rows"
        );
        names
    };
    assert_eq!(found("api").await, ["shop/api", "tools/api-gateway"]);
    assert_eq!(
        found("API").await,
        ["shop/api", "tools/api-gateway"],
        "case does not matter"
    );
    assert_eq!(
        found("shop/").await,
        ["shop/api", "shop/web"],
        "a namespace prefix, not shopping/"
    );
    assert_eq!(
        found("op/").await,
        Vec::<String>::new(),
        "a prefix search anchors at the start"
    );
    assert_eq!(found("p/a").await, ["shop/api"]);
    assert_eq!(found("x_y").await, ["x_y/z"], "_ is literal");
    assert_eq!(found("x%y").await, Vec::<String>::new(), "% is literal");
    assert_eq!(
        found("b").await,
        ["a/b", "shop/web"],
        "short texts still match (without the index)"
    );
    assert_eq!(
        found("\"api").await,
        Vec::<String>::new(),
        "quotes are text, not FTS syntax"
    );
    let mut tx = db.begin_write().await.unwrap();
    store::remove_repository(&mut tx, "shop/api").await.unwrap();
    store::ensure_repository(&mut tx, "new/api-2").await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(
        found("api").await,
        ["new/api-2", "tools/api-gateway"],
        "the index follows the table"
    );

    // Counts are kept for the index generation they were counted at, and only for it.
    let counts = app::backend::index::catalog_counts::CatalogCounts::default();
    let count = |generation: u64| {
        let counts = &counts;
        async move {
            let query = CatalogQuery {
                search: String::new(),
                sort: CatalogSort::Name,
                namespace: "shop".into(),
                page: 1,
            };
            let rows = queries::catalog(db, &query, &Visibility::All, "h", (counts, generation))
                .await
                .unwrap();
            let shop = rows
                .namespaces
                .iter()
                .find(|n| n.namespace == "shop")
                .map(|n| n.repositories);
            (rows.repositories.len() as i64, rows.matching, rows.total, shop)
        }
    };
    assert_eq!(count(1).await, (1, 1, 6, Some(1)));
    let mut tx = db.begin_write().await.unwrap();
    store::ensure_repository(&mut tx, "shop/db").await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(
        count(1).await,
        (2, 1, 6, Some(1)),
        "the rows are read again, the counts kept"
    );
    assert_eq!(count(2).await, (2, 2, 7, Some(2)), "a new generation counts again");

    // A search's pages (on PostgreSQL its matches are sorted apart from the sort's index):
    // each match once, in order, the count on every page, and an empty page past the end.
    let mut tx = db.begin_write().await.unwrap();
    for i in 0..120 {
        store::ensure_repository(&mut tx, &format!("paged/svc-{i:03}"))
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();
    let mut seen = Vec::new();
    for page in 1..=4 {
        for sort in [CatalogSort::Name, CatalogSort::Tags] {
            let query = CatalogQuery {
                search: "svc-".into(),
                sort,
                namespace: String::new(),
                page,
            };
            let rows = queries::catalog(db, &query, &Visibility::All, "h", (&Default::default(), 0))
                .await
                .unwrap();
            assert_eq!(rows.matching, 120, "page {page}: the count");
            let names: Vec<String> = rows.repositories.into_iter().map(|r| r.name).collect();
            assert_eq!(names.len(), [50, 50, 20, 0][page as usize - 1], "page {page}");
            if sort == CatalogSort::Name {
                seen.extend(names);
            }
        }
    }
    let expected: Vec<String> = (0..120).map(|i| format!("paged/svc-{i:03}")).collect();
    assert_eq!(seen, expected, "every match once, in order");

    // On SQLite a search reads the list of the trigram the fewest names hold, unless every
    // trigram of it is dense: "svc-11" has svc (120 names), vc- (120), c-1 (20), -11 (10).
    let counts = app::backend::index::catalog_counts::CatalogCounts::default();
    let rarest = |text: &'static str, dense: i64| {
        let counts = &counts;
        async move {
            app::backend::index::search_index::rarest_trigram(db, (counts, 0), text, dense)
                .await
                .unwrap()
        }
    };
    if db.kind == app::backend::db::DbKind::Sqlite {
        assert_eq!(rarest("svc-11", 1000).await.as_deref(), Some("-11"));
        assert_eq!(rarest("svc-11", 11).await.as_deref(), Some("-11"));
        assert_eq!(
            rarest("svc-11", 10).await,
            None,
            "every trigram held by 10 names or more"
        );
        assert_eq!(rarest("zzz-", 1000).await.as_deref(), Some("zzz"), "held by none");
        assert_eq!(rarest("sv", 1000).await, None, "too short for a trigram");
    } else {
        assert_eq!(rarest("svc-11", 1000).await, None, "PostgreSQL uses pg_trgm");
    }
}

/// A repository's image page: one row per image, ordered by its latest push (ties by digest),
/// all its tags on it, its push time estimated only when every tag's is; a filter keeps the
/// images with a matching tag, ordered by that tag's push.
async fn image_pages(db: &Db) {
    use app::backend::index::{queries, store};
    let mut tx = db.begin_write().await.unwrap();
    store::ensure_repository(&mut tx, "pages/app").await.unwrap();
    // (tag, digest, pushed, estimated)
    for (tag, digest, pushed, estimated) in [
        ("x", "sha256:a", 100, true),
        ("y", "sha256:a", 300, false),
        ("z", "sha256:b", 200, true),
        ("p", "sha256:c", 150, true),
        ("q", "sha256:c", 150, true),
        ("r", "sha256:d", 150, false),
    ] {
        store::set_tag(&mut tx, "pages/app", tag, digest, pushed, estimated)
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();
    let page = |filter: &'static str| async move {
        let counts = app::backend::index::catalog_counts::CatalogCounts::default();
        let page = queries::images(db, "pages/app", filter, 1, (&counts, 0)).await.unwrap();
        let rows: Vec<(String, Vec<String>, i64, bool)> = page
            .images
            .into_iter()
            .map(|i| (i.digest, i.tags, i.pushed_at_ms, i.push_estimated))
            .collect();
        (rows, page.matching)
    };
    let row = |digest: &str, tags: &[&str], pushed: i64, estimated: bool| {
        (
            digest.to_string(),
            tags.iter().map(|t| t.to_string()).collect::<Vec<_>>(),
            pushed,
            estimated,
        )
    };
    assert_eq!(
        page("").await,
        (
            vec![
                row("sha256:a", &["x", "y"], 300, false),
                row("sha256:b", &["z"], 200, true),
                row("sha256:c", &["p", "q"], 150, true),
                row("sha256:d", &["r"], 150, false),
            ],
            4
        )
    );
    assert_eq!(
        page("x").await,
        (vec![row("sha256:a", &["x", "y"], 100, false)], 1),
        "filtered: ordered by the matching tag's push"
    );

    // Pages in the older half are read from the oldest end: the same rows in the same order.
    // 130 images, two by two pushed at the same time (ties go by digest); each has two tags.
    let mut tx = db.begin_write().await.unwrap();
    store::ensure_repository(&mut tx, "pages/many").await.unwrap();
    let mut expected: Vec<(i64, String)> = Vec::new();
    for i in 0..130i64 {
        let digest = format!("sha256:{:03}", (i * 7) % 130);
        let pushed = i / 2;
        store::set_tag(&mut tx, "pages/many", &format!("t{i}"), &digest, pushed, false)
            .await
            .unwrap();
        store::set_tag(&mut tx, "pages/many", &format!("old{i}"), &digest, pushed - 1000, false)
            .await
            .unwrap();
        expected.push((pushed, digest));
    }
    tx.commit().await.unwrap();
    expected.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let counts = app::backend::index::catalog_counts::CatalogCounts::default();
    let mut seen = Vec::new();
    for number in 1..=4 {
        let page = queries::images(db, "pages/many", "", number, (&counts, 0))
            .await
            .unwrap();
        assert_eq!(page.matching, 130);
        seen.extend(page.images.into_iter().map(|i| (i.pushed_at_ms, i.digest)));
    }
    assert_eq!(
        seen, expected,
        "pages 1 to 3 (and an empty 4th) hold every image once, in order"
    );
}

/// Catalog pages past the first (names found on the sort's index, then their rows) hold every
/// repository once, in the order of each sort, ties by name.
async fn catalog_pages(db: &Db) {
    use app::backend::index::{queries, store};
    use app::model::{CatalogQuery, CatalogSort};
    let mut tx = db.begin_write().await.unwrap();
    let mut rows = Vec::new();
    for i in 0..120i64 {
        let name = format!("deep/r{:03}", (i * 43) % 120);
        store::ensure_repository(&mut tx, &name).await.unwrap();
        let (tags, size, pushed) = (i % 7, (i * 37) % 101, i % 13);
        sqlx::query("UPDATE repositories SET tag_count = $1, size_bytes = $2, last_push_at = $3 WHERE name = $4")
            .bind(tags)
            .bind(size)
            .bind(pushed)
            .bind(&name)
            .execute(&mut *tx)
            .await
            .unwrap();
        rows.push((name, tags, size, pushed));
    }
    tx.commit().await.unwrap();
    let key = |sort: CatalogSort, row: &(String, i64, i64, i64)| match sort {
        CatalogSort::Name => 0,
        CatalogSort::Tags => row.1,
        CatalogSort::Size => row.2,
        CatalogSort::LastPush => row.3,
    };
    for sort in [
        CatalogSort::Name,
        CatalogSort::Tags,
        CatalogSort::Size,
        CatalogSort::LastPush,
    ] {
        let mut expected = rows.clone();
        expected.sort_by(|a, b| key(sort, b).cmp(&key(sort, a)).then(a.0.cmp(&b.0)));
        let expected: Vec<String> = expected.into_iter().map(|r| r.0).collect();
        let mut seen = Vec::new();
        for page in 1..=4 {
            let query = CatalogQuery {
                search: String::new(),
                sort,
                namespace: "deep".into(),
                page,
            };
            let found = queries::catalog(db, &query, &Visibility::All, "h", (&Default::default(), 0))
                .await
                .unwrap();
            assert_eq!(found.matching, 120);
            seen.extend(found.repositories.into_iter().map(|r| r.name));
        }
        assert_eq!(seen, expected, "{sort:?}: pages 1 to 3 (and an empty 4th)");
    }
}

#[tokio::test]
async fn sqlite_catalog_pages() {
    let (_dir, db) = sqlite().await;
    catalog_pages(&db).await;
}

#[tokio::test]
async fn postgres_catalog_pages() {
    if let Some(db) = postgres().await {
        catalog_pages(&db).await;
    }
}

#[tokio::test]
async fn sqlite_image_pages() {
    let (_dir, db) = sqlite().await;
    image_pages(&db).await;
}

#[tokio::test]
async fn postgres_image_pages() {
    if let Some(db) = postgres().await {
        image_pages(&db).await;
    }
}

#[tokio::test]
async fn sqlite_search() {
    let (_dir, db) = sqlite().await;
    search_finds_substrings(&db).await;
    // A restart (connect again) rebuilds the index and keeps it right.
    let again = Db::connect(&db.url).await.unwrap();
    let rows = app::backend::index::queries::catalog(
        &again,
        &app::model::CatalogQuery {
            search: "gateway".into(),
            sort: app::model::CatalogSort::Name,
            namespace: String::new(),
            page: 1,
        },
        &Visibility::All,
        "h",
        (&Default::default(), 0),
    )
    .await
    .unwrap();
    assert_eq!(rows.repositories.len(), 1);
}

/// A second handle on the same SQLite file (a test, an admin command) opens while the console
/// keeps writing: setting up its search index waits for the write lock instead of failing with
/// "database is locked", and the writer's work all lands.
#[tokio::test]
async fn sqlite_second_handle_opens_while_another_writes() {
    let (_dir, db) = sqlite().await;
    let writer = {
        let db = db.clone();
        tokio::spawn(async move {
            for i in 0..300 {
                let id = format!("busy-{i}");
                let events = events::parse_envelope(&envelope(&[id.as_str()])).unwrap();
                intake::receive(&db, &events, &[], &CONTEXT).await.unwrap();
            }
        })
    };
    for _ in 0..20 {
        let other = Db::connect(&db.url)
            .await
            .expect("a second handle opens while another writes");
        other.pool.close().await;
    }
    writer.await.unwrap();
    assert_eq!(events_starting_with(&db, "busy-").await, 300);
}

#[tokio::test]
async fn postgres_search() {
    if let Some(db) = postgres().await {
        search_finds_substrings(&db).await;
    }
}

#[tokio::test]
async fn sqlite_intake_groups() {
    let (_dir, db) = sqlite().await;
    concurrent_envelopes_are_stored_together(&db).await;
}

#[tokio::test]
async fn postgres_intake_groups() {
    if let Some(db) = postgres().await {
        concurrent_envelopes_are_stored_together(&db).await;
    }
}

#[tokio::test]
async fn sqlite_events() {
    let (_dir, db) = sqlite().await;
    events_are_stored_once_and_paged(&db).await;
}

#[tokio::test]
async fn sqlite_leased_work() {
    let (_dir, db) = sqlite().await;
    leased_work(&db).await;
    concurrent_claims_are_disjoint(&db).await;
    retention_prunes_only_old_finished_rows(&db).await;
}

#[tokio::test]
async fn postgres_leased_work() {
    if let Some(db) = postgres().await {
        leased_work(&db).await;
        concurrent_claims_are_disjoint(&db).await;
        retention_prunes_only_old_finished_rows(&db).await;
    }
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

/// Replicas starting together on an empty PostgreSQL database (a Kubernetes Deployment's first
/// rollout) all come up: one sets the database up and creates `admin`, the others wait for it and
/// find them. Two rounds of four, each on a database of its own.
#[tokio::test]
async fn replicas_starting_together_on_an_empty_postgres_database_all_come_up() {
    let registry = support::StandaloneRegistry::start(1000).await;
    for _ in 0..2 {
        let Some(url) = support::empty_postgres_database().await else {
            return;
        };
        let replicas = futures::future::join_all((0..4).map(|_| {
            support::Wharf::start_with(support::Options {
                database_url: Some(url.clone()),
                registry_url: Some(registry.url.clone()),
                extra_args: vec!["--reconcile-interval".into(), "0".into()],
            })
        }))
        .await;
        let db = Db::connect(&url).await.unwrap();
        let names: Vec<String> = sqlx::query_scalar("SELECT username FROM users")
            .fetch_all(&db.pool)
            .await
            .unwrap();
        assert_eq!(names, ["admin"], "one admin, created once");
        for wharf in &replicas {
            // Each one serves, and knows the admin's password (WHARF_ADMIN_PASSWORD).
            wharf.signed_in_client("admin", support::ADMIN_PASSWORD).await;
            assert!(
                wharf.logs().matches("Created user admin").count() <= 1,
                "{}",
                wharf.logs()
            );
        }
        let created = replicas
            .iter()
            .filter(|w| w.logs().contains("Created user admin"))
            .count();
        assert_eq!(created, 1, "exactly one replica created the admin");
    }
}
