//! Upgrades: a SQLite database made by an earlier build opens in this one, migrates, and keeps
//! its users, roles, webhooks, events and index; a migration that fails leaves the database as it
//! was and says which migration failed and why.
//!
//! The fixture `tests/fixtures/upgrade/wharf.db` is the database of a console of 2026-12-06 (users,
//! a role, a webhook, events, an indexed image), as it stood before migration 20261206080001 (the
//! replicas' tables): made by `make_upgrade_fixture` below, which then takes that migration back
//! out (it only adds three tables), so that opening the fixture is a real upgrade.

mod support;

use std::path::{Path, PathBuf};

use support::{call, run_wharf_to_exit, Options, Wharf, ADMIN_PASSWORD};

const USER: (&str, &str) = ("fixture-user", "fixture-password-2026");
/// The migration the fixture lacks.
const PENDING: i64 = 20261206080001;

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/upgrade/wharf.db")
}

/// A new data directory holding a copy of the fixture as its database.
fn data_dir_with_fixture(dir: &Path) -> PathBuf {
    let data_dir = dir.join("data");
    std::fs::create_dir_all(&data_dir).unwrap();
    std::fs::copy(fixture(), data_dir.join("wharf.db")).unwrap();
    data_dir
}

async fn sqlite(path: &Path) -> sqlx::SqliteConnection {
    use sqlx::ConnectOptions;
    sqlx::sqlite::SqliteConnectOptions::new()
        .filename(path)
        .connect()
        .await
        .unwrap()
}

async fn applied(conn: &mut sqlx::SqliteConnection) -> Vec<i64> {
    sqlx::query_scalar("SELECT version FROM _sqlx_migrations ORDER BY version")
        .fetch_all(conn)
        .await
        .unwrap()
}

async fn tables(conn: &mut sqlx::SqliteConnection) -> Vec<String> {
    sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .fetch_all(conn)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_database_from_an_earlier_build_opens_migrated_with_its_data() {
    let dir = support::temp_dir("upgrade");
    let data_dir = data_dir_with_fixture(dir.path());
    // No registry answers (the fixture's images are not in any): the index stays as it was,
    // instead of a reconcile emptying it.
    let wharf = Wharf::start_on(
        Options {
            registry_url: Some(format!("http://127.0.0.1:{}", support::free_port())),
            extra_args: vec!["--reconcile-interval".into(), "0".into()],
            ..Default::default()
        },
        Some(data_dir.clone()),
    )
    .await;
    let mut conn = sqlite(&data_dir.join("wharf.db")).await;
    let migrations = std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("../migrations"))
        .unwrap()
        .count();
    let versions = applied(&mut conn).await;
    assert_eq!(versions.len(), migrations, "every migration applied: {versions:?}");
    assert!(versions.contains(&PENDING));
    // The data of the earlier build: its user signs in with its password and keeps its role,
    // its webhook, events and index are there.
    let user = wharf.signed_in_client(USER.0, USER.1).await;
    let (status, token) = support::token_form(
        &wharf,
        &[
            ("grant_type", "password"),
            ("service", "wharf-registry"),
            ("client_id", "test"),
            ("username", USER.0),
            ("password", USER.1),
            ("scope", "repository:fixture/app:push,pull"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{token}");
    let admin = wharf.signed_in_client("admin", ADMIN_PASSWORD).await;
    let (status, hooks) = call(&wharf, &admin, "webhooks", &[]).await;
    assert_eq!(status, 200, "{hooks}");
    assert!(hooks.to_string().contains("fixture-hook"), "{hooks}");
    let events: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM registry_events")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert!(events >= 2, "{events} events: one per push");
    let page = support::repository(&wharf, &user, "fixture/app").await;
    assert_eq!(page["tag_count"], 1, "{page}");
}

#[tokio::test]
async fn a_migration_that_fails_leaves_the_database_as_it_was_and_says_why() {
    let dir = support::temp_dir("upgrade-fails");
    let data_dir = data_dir_with_fixture(dir.path());
    let database = data_dir.join("wharf.db");
    // Something in the way of the pending migration's second table (after its first one).
    let mut conn = sqlite(&database).await;
    sqlx::query("CREATE TABLE shared_files (left_by TEXT)")
        .execute(&mut conn)
        .await
        .unwrap();
    sqlx::query("INSERT INTO shared_files VALUES ('an operator')")
        .execute(&mut conn)
        .await
        .unwrap();
    let (versions, names) = (applied(&mut conn).await, tables(&mut conn).await);
    sqlx::Connection::close(conn).await.unwrap();

    let output = run_wharf_to_exit(
        &[
            "serve",
            "--data-dir",
            data_dir.to_str().unwrap(),
            "--listen",
            &format!("127.0.0.1:{}", support::free_port()),
            "--registry-url",
            &format!("http://127.0.0.1:{}", support::free_port()),
        ],
        &[],
    );
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains(&PENDING.to_string()), "names the migration: {stderr}");
    assert!(stderr.contains("already exists"), "says why: {stderr}");
    assert!(stderr.contains("as it was before the upgrade"), "{stderr}");

    let mut conn = sqlite(&database).await;
    assert_eq!(applied(&mut conn).await, versions, "no migration recorded");
    assert_eq!(tables(&mut conn).await, names, "no table added or removed");
    assert!(
        !names.contains(&"replicas".to_string()),
        "the migration's first table rolled back"
    );
    let kept: String = sqlx::query_scalar("SELECT left_by FROM shared_files")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(kept, "an operator");
}

/// Makes the fixture again: `cargo test -p wharf --test upgrade -- --ignored`. Only when the
/// fixture is to be replaced (keep the old one otherwise: it stands for databases out there).
#[tokio::test]
#[ignore = "writes tests/fixtures/upgrade/wharf.db"]
async fn make_upgrade_fixture() {
    let mut wharf = Wharf::start_with(Options {
        extra_args: ["--reconcile-interval", "0", "--webhook-allow-network", "127.0.0.1/32"]
            .map(String::from)
            .to_vec(),
        ..Default::default()
    })
    .await;
    let admin = wharf.signed_in_client("admin", ADMIN_PASSWORD).await;
    support::create_user_with_roles(&wharf, &admin, USER.0, USER.1, &[("Contributor", "fixture/")]).await;
    let form = support::webhook_form(&[("name", "fixture-hook"), ("url", "http://127.0.0.1:9/hook")]);
    let (status, saved) = call(&wharf, &admin, "save_webhook", &form).await;
    assert_eq!(status, 200, "{saved}");
    support::push_image(&wharf.registry_url(), "fixture/app", "1.0", &[], true);
    support::push_image(&wharf.registry_url(), "fixture/gone", "1.0", &[], true);
    assert!(
        support::eventually(120, || async {
            support::repository(&wharf, &admin, "fixture/app").await["tag_count"] == 1
        })
        .await
    );
    wharf.stop();
    let mut conn = sqlite(&wharf.data_dir.join("wharf.db")).await;
    for statement in [
        "DROP TABLE replicas",
        "DROP TABLE shared_files",
        "DROP TABLE reconcile_turns",
        "DELETE FROM _sqlx_migrations WHERE version = 20261206080001",
    ] {
        sqlx::query(statement).execute(&mut conn).await.unwrap();
    }
    let out = fixture();
    std::fs::create_dir_all(out.parent().unwrap()).unwrap();
    let _ = std::fs::remove_file(&out);
    sqlx::query("VACUUM INTO $1")
        .bind(out.to_str().unwrap())
        .execute(&mut conn)
        .await
        .unwrap();
}
