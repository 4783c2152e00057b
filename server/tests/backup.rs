//! `wharf backup` of a running console in the middle of a burst of registry events, and `wharf
//! restore` into a new data directory: the restored console starts with the users, roles,
//! webhooks, deliveries, index and every event acknowledged before the backup began. Bad input
//! (an existing file, a directory without a database, a restore over a database, an archive
//! that is not a backup) is refused with a clear error and changes nothing.

mod support;

use std::collections::HashSet;
use std::time::Duration;

use app::backend::db::Db;
use support::{call, run_wharf_to_exit, Options, Wharf, ADMIN_PASSWORD};

fn envelope(i: usize) -> String {
    serde_json::json!({"events": [{"id": format!("backup-{i}"), "timestamp": "2026-12-06T10:00:00Z",
        "action": "push", "target": {"mediaType": "application/vnd.oci.image.manifest.v1+json", "size": 10,
            "digest": format!("sha256:{i:064x}"), "repository": "burst/app", "tag": format!("t{i}")},
        "actor": {"name": "ci"}}]})
    .to_string()
}

fn wharf_ok(args: &[&str]) -> String {
    let output = run_wharf_to_exit(args, &[]);
    assert!(
        output.status.success(),
        "wharf {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn wharf_refused(args: &[&str]) -> String {
    let output = run_wharf_to_exit(args, &[]);
    assert!(!output.status.success(), "wharf {args:?} should have failed");
    String::from_utf8_lossy(&output.stderr).into_owned()
}

async fn ids_in(db: &Db) -> HashSet<String> {
    sqlx::query_scalar("SELECT id FROM registry_events")
        .fetch_all(&db.pool)
        .await
        .unwrap()
        .into_iter()
        .collect()
}

#[tokio::test]
async fn a_backup_taken_during_a_burst_restores_into_a_console_that_has_everything() {
    const EVENTS: usize = 400;
    let wharf = Wharf::start_with(Options {
        extra_args: vec![
            "--webhook-allow-network".into(),
            "127.0.0.1/32".into(),
            "--reconcile-interval".into(),
            "0".into(),
        ],
        ..Default::default()
    })
    .await;
    let admin = wharf.signed_in_client("admin", ADMIN_PASSWORD).await;
    support::create_user_with_roles(
        &wharf,
        &admin,
        "dora",
        "dora-password-12345",
        &[("Contributor", "team-d/")],
    )
    .await;
    // Nothing listens there: deliveries stay queued, to be found in the backup.
    let receiver = format!("http://127.0.0.1:{}/hook", support::free_port());
    let form = support::webhook_form(&[("name", "kept"), ("url", &receiver), ("ordered", "")]);
    let (status, saved) = call(&wharf, &admin, "save_webhook", &form).await;
    assert_eq!(status, 200, "{saved}");
    support::push_image(&wharf.registry_url(), "team-d/app", "1.0", &[], true);
    assert!(
        support::eventually(120, || async {
            support::repository(&wharf, &admin, "team-d/app").await["tag_count"] == 1
        })
        .await
    );

    // The burst: a first half answered before the backup starts, the rest while it runs.
    let secret = std::fs::read_to_string(wharf.data_dir.join("notification-secret")).unwrap();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let post = |i: usize| {
        let (http, url, secret) = (http.clone(), wharf.url.clone(), secret.clone());
        async move { support::notify_status(&http, &url, &secret, envelope(i)).await }
    };
    let statuses = futures::future::join_all((0..EVENTS / 2).map(post)).await;
    assert!(statuses.iter().all(|s| *s == 200));
    let out_dir = support::temp_dir("backup");
    let out = out_dir.path().join("wharf-backup.tar.gz");
    let data_dir = wharf.data_dir.to_str().unwrap().to_string();
    let out_arg = out.to_str().unwrap().to_string();
    let backup = tokio::task::spawn_blocking(move || wharf_ok(&["backup", "--data-dir", &data_dir, "--out", &out_arg]));
    let statuses = futures::future::join_all((EVENTS / 2..EVENTS).map(post)).await;
    assert!(statuses.iter().all(|s| *s == 200));
    assert!(backup.await.unwrap().contains("Backup written"));

    let restored_dir = out_dir.path().join("restored");
    let printed = wharf_ok(&[
        "restore",
        "--from",
        out.to_str().unwrap(),
        "--data-dir",
        restored_dir.to_str().unwrap(),
    ]);
    assert!(printed.contains("Restored into"), "{printed}");
    // The restored console uses the same registry, which trusts its (restored) key.
    let restored = Wharf::start_on(
        Options {
            registry_url: Some(wharf.registry_url()),
            extra_args: vec!["--reconcile-interval".into(), "0".into()],
            ..Default::default()
        },
        Some(restored_dir.clone()),
    )
    .await;
    assert_eq!(
        std::fs::read(wharf.data_dir.join("token-signing-key.pem")).unwrap(),
        std::fs::read(restored_dir.join("token-signing-key.pem")).unwrap()
    );
    // Users and roles: dora signs in and may push to her namespace.
    let dora = restored.signed_in_client("dora", "dora-password-12345").await;
    let (status, token) = support::token_form(
        &restored,
        &[
            ("grant_type", "password"),
            ("service", "wharf-registry"),
            ("client_id", "test"),
            ("username", "dora"),
            ("password", "dora-password-12345"),
            ("scope", "repository:team-d/app:push,pull"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{token}");
    // The index, read by the restored console.
    let page = support::repository(&restored, &dora, "team-d/app").await;
    assert_eq!(page["tag_count"], 1, "{page}");
    let restored_db = restored.db().await;
    let webhooks: Vec<String> = sqlx::query_scalar("SELECT name FROM webhooks")
        .fetch_all(&restored_db.pool)
        .await
        .unwrap();
    assert_eq!(webhooks, ["kept"]);
    // Every event answered before the backup began is there (the journal's unstored ones
    // stored at start), each with its delivery.
    let wanted: HashSet<String> = (0..EVENTS / 2).map(|i| format!("backup-{i}")).collect();
    assert!(
        support::eventually(120, || async { ids_in(&restored_db).await.is_superset(&wanted) }).await,
        "{} of {} events restored",
        ids_in(&restored_db).await.intersection(&wanted).count(),
        wanted.len()
    );
    let deliveries: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM webhook_deliveries d JOIN registry_events r ON r.id = d.event_id WHERE r.id LIKE 'backup-%'")
            .fetch_one(&restored_db.pool)
            .await
            .unwrap();
    let events: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM registry_events WHERE id LIKE 'backup-%'")
        .fetch_one(&restored_db.pool)
        .await
        .unwrap();
    assert_eq!(deliveries, events, "one delivery per event, none twice");
    eprintln!(
        "restored {events} of {EVENTS} burst events ({} answered before the backup)",
        EVENTS / 2
    );
}

#[tokio::test]
async fn bad_backups_and_restores_are_refused_and_change_nothing() {
    let wharf = Wharf::start().await;
    let dir = support::temp_dir("backup-bad");
    let data_dir = wharf.data_dir.to_str().unwrap();
    let out = dir.path().join("b.tar.gz");
    let out_s = out.to_str().unwrap();

    // No database there.
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let err = wharf_refused(&["backup", "--data-dir", empty.to_str().unwrap(), "--out", out_s]);
    assert!(err.contains("no console database"), "{err}");
    assert!(!out.exists());
    // An existing file is never overwritten.
    std::fs::write(&out, b"keep me").unwrap();
    let err = wharf_refused(&["backup", "--data-dir", data_dir, "--out", out_s]);
    assert!(err.contains("exists already"), "{err}");
    assert_eq!(std::fs::read(&out).unwrap(), b"keep me");
    std::fs::remove_file(&out).unwrap();
    wharf_ok(&["backup", "--data-dir", data_dir, "--out", out_s]);

    // Over an existing console database: refused, the database untouched.
    let before = std::fs::read(wharf.data_dir.join("notification-secret")).unwrap();
    let err = wharf_refused(&["restore", "--from", out_s, "--data-dir", data_dir]);
    assert!(err.contains("holds a console database already"), "{err}");
    assert_eq!(
        std::fs::read(wharf.data_dir.join("notification-secret")).unwrap(),
        before
    );

    // An archive with a name no backup has (after two that it has): refused, nothing left.
    let evil = dir.path().join("evil.tar.gz");
    {
        let file = std::fs::File::create(&evil).unwrap();
        let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(file, flate2::Compression::default()));
        let mut add = |name: &str, body: &[u8]| {
            let mut header = tar::Header::new_gnu();
            header.set_size(body.len() as u64);
            header.set_mode(0o600);
            header.set_cksum();
            builder.append_data(&mut header, name, body).unwrap();
        };
        add("wharf.db", b"not really");
        add("notification-secret", b"x");
        add("escape", b"y");
        builder.into_inner().unwrap().finish().unwrap();
    }
    let target = dir.path().join("target");
    let err = wharf_refused(&[
        "restore",
        "--from",
        evil.to_str().unwrap(),
        "--data-dir",
        target.to_str().unwrap(),
    ]);
    assert!(err.contains("which no Wharf backup does"), "{err}");
    let left: Vec<_> = std::fs::read_dir(&target).unwrap().collect();
    assert!(left.is_empty(), "restore left {left:?}");
    // Not an archive at all.
    let junk = dir.path().join("junk");
    std::fs::write(&junk, b"plain text").unwrap();
    let err = wharf_refused(&[
        "restore",
        "--from",
        junk.to_str().unwrap(),
        "--data-dir",
        target.to_str().unwrap(),
    ]);
    assert!(err.contains("not a Wharf backup"), "{err}");
    let err = wharf_refused(&[
        "restore",
        "--from",
        "/nonexistent/backup",
        "--data-dir",
        target.to_str().unwrap(),
    ]);
    assert!(err.contains("no backup file"), "{err}");
}
