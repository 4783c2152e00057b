//! Reconcile against a registry Wharf does not manage (no notifications): the index is built
//! from the catalog (with `Link` paging), tag lists and manifests; lost events are made up for;
//! `tags: null` after all tags are deleted.

mod support;

use support::{call, eventually, push_image, Options, StandaloneRegistry, Wharf, ADMIN_PASSWORD};

#[tokio::test]
async fn reconcile_builds_and_repairs_the_index() {
    // Pages of 2 repositories: the catalog walk must follow `Link`.
    let registry = StandaloneRegistry::start(2).await;
    for name in ["a/one", "a/two", "b/three", "b/four", "c"] {
        push_image(&registry.url, name, "1.0", &[], false);
    }
    push_image(
        &registry.url,
        "b/four",
        "multi",
        &["--platforms", "linux/amd64,linux/arm64"],
        false,
    );

    let wharf = Wharf::start_with(Options {
        registry_url: Some(registry.url.clone()),
        extra_args: vec!["--reconcile-interval".into(), "0".into()],
        ..Default::default()
    })
    .await;
    let client = wharf.signed_in_client("admin", ADMIN_PASSWORD).await;
    let catalog = || async {
        call(
            &wharf,
            &client,
            "catalog",
            &[
                ("query[search]", ""),
                ("query[sort]", "Name"),
                ("query[namespace]", ""),
                ("query[page]", "1"),
            ],
        )
        .await
        .1
    };
    let built = eventually(120, || async { catalog().await["total"] == 5 }).await;
    assert!(
        built,
        "reconcile did not index 5 repositories: {}\n{}",
        catalog().await,
        wharf.logs()
    );
    // Two passes: tags, digests and sizes first, then every image's details (its config).
    let finished = eventually(120, || async {
        let (_, settings) = call(&wharf, &client, "settings", &[]).await;
        settings["sync"]["reconcile"]["running"] == false && settings["sync"]["reconcile"]["finished_at_ms"].is_number()
    })
    .await;
    assert!(finished, "{}", wharf.logs());
    let (_, settings) = call(&wharf, &client, "settings", &[]).await;
    let progress = &settings["sync"]["reconcile"];
    assert!(
        progress["index_ready_at_ms"].as_i64() <= progress["finished_at_ms"].as_i64(),
        "{progress}"
    );
    assert_eq!(
        progress["details_total"], 8,
        "5 images, 2 platform images and their index: {progress}"
    );
    assert_eq!(progress["details_done"], 8, "{progress}");
    assert!(
        progress["last_result"]
            .as_str()
            .unwrap()
            .contains("details of 8 images read"),
        "{progress}"
    );
    let db = wharf.db().await;
    let pending: (i64,) = sqlx::query_as("SELECT COUNT(*) FROM manifests WHERE details_pending = 1")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(pending.0, 0);
    let four = support::repository(&wharf, &client, "b/four").await;
    assert_eq!(four["tag_count"], 2, "{four}");
    for image in four["images"].as_array().unwrap() {
        for platform in image["platforms"].as_array().unwrap() {
            assert_eq!(platform["os"], "linux", "details filled in: {image}");
        }
        assert!(image["created"].is_string(), "{image}");
    }
    // Estimated push times became the images' creation times.
    let estimated: Vec<(i64, String)> = sqlx::query_as(
        "SELECT t.pushed_at, m.created FROM tags t JOIN manifests m ON m.digest = t.digest WHERE t.push_estimated = 1",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert_eq!(estimated.len(), 6);
    for (pushed_at, created) in estimated {
        let created = time::OffsetDateTime::parse(&created, &time::format_description::well_known::Rfc3339).unwrap();
        assert_eq!(pushed_at / 1000, created.unix_timestamp(), "{created}");
    }
    assert!(
        four["images"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["push_estimated"] == true),
        "push times seen only by reconcile are marked estimated: {four}"
    );
    let multi = four["images"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["kind"] == "index")
        .expect("index indexed");
    assert_eq!(multi["platforms"].as_array().unwrap().len(), 2);

    // Changes the console never heard of (no notifications): a new repository, a deleted one's
    // tags (`tags: null` afterwards), then the Resync button.
    push_image(&registry.url, "d/new", "x", &[], false);
    let one = support::repository(&wharf, &client, "a/one").await;
    let digest = one["images"][0]["digest"].as_str().unwrap().to_string();
    let deleted = reqwest::Client::new()
        .delete(format!("{}/v2/a/one/manifests/{digest}", registry.url))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status().as_u16(), 202);
    let tags = reqwest::get(format!("{}/v2/a/one/tags/list", registry.url))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(tags.contains("\"tags\":null"), "{tags}");

    let (status, _) = call(&wharf, &client, "resync", &[]).await;
    assert_eq!(status, 200);
    let repaired = eventually(120, || async {
        let one = support::repository(&wharf, &client, "a/one").await;
        catalog().await["total"] == 6 && one["tag_count"] == 0
    })
    .await;
    assert!(
        repaired,
        "resync did not repair the index: {}\n{}",
        catalog().await,
        wharf.logs()
    );

    // A tag moved to another image behind the console's back: asked for by tag with the digest
    // it knows (If-None-Match), the registry answers with the new manifest; the unchanged tags
    // answer 304 and change nothing.
    let reconcile_state = || async {
        let (_, settings) = call(&wharf, &client, "settings", &[]).await;
        settings["sync"]["reconcile"].clone()
    };
    let before = reconcile_state().await["started_at_ms"].as_i64().unwrap();
    push_image(&registry.url, "b/three", "1.0", &[], false);
    let (status, _) = call(&wharf, &client, "resync", &[]).await;
    assert_eq!(status, 200);
    let moved = eventually(120, || async {
        let state = reconcile_state().await;
        state["started_at_ms"].as_i64().unwrap() > before && state["running"] == false
    })
    .await;
    let state = reconcile_state().await;
    assert!(moved, "{state}\n{}", wharf.logs());
    assert!(
        state["last_result"]
            .as_str()
            .unwrap()
            .contains("0 tags added, 1 moved, 0 removed"),
        "{state}"
    );
    // With the timer off, nothing starts another reconcile, however many live updates the
    // last one sent.
    let last = state["started_at_ms"].as_i64().unwrap();
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    assert_eq!(
        reconcile_state().await["started_at_ms"].as_i64(),
        Some(last),
        "{}",
        wharf.logs()
    );

    // The Settings page says which mode is on and offers the notification stanza.
    let (status, settings) = call(&wharf, &client, "settings", &[]).await;
    assert_eq!(status, 200);
    assert_eq!(settings["managed_registry"], false);
    let stanza = settings["notification_stanza"].as_str().unwrap();
    assert!(
        stanza.contains("      headers:\n        Authorization:\n          - \"Bearer "),
        "{stanza}"
    );
    let (_, html) = wharf.page(&client, "/settings").await;
    assert!(html.contains("not managed by Wharf"), "{html}");
}

#[tokio::test]
async fn browses_a_registry_with_basic_auth() {
    let registry = StandaloneRegistry::start_with_htpasswd(100, Some(("reader", "s3cret-pass"))).await;
    support::push_image_as(
        &registry.url,
        "private/app",
        "2.0",
        &[],
        Some(("reader", "s3cret-pass")),
    );
    let anonymous = reqwest::get(format!("{}/v2/_catalog", registry.url)).await.unwrap();
    assert_eq!(anonymous.status().as_u16(), 401, "the registry requires credentials");

    let secrets = support::temp_dir("secrets");
    let password_file = secrets.path().join("password");
    std::fs::write(&password_file, "s3cret-pass\n").unwrap();
    // Wharf as user "reader" of that registry, password read from the file at start.
    let start_as_reader = || {
        Wharf::start_with(Options {
            registry_url: Some(registry.url.clone()),
            extra_args: vec![
                "--registry-username".into(),
                "reader".into(),
                "--registry-password-file".into(),
                password_file.display().to_string(),
            ],
            ..Default::default()
        })
    };
    let wharf = start_as_reader().await;
    let client = wharf.signed_in_client("admin", ADMIN_PASSWORD).await;
    let indexed = eventually(120, || async {
        let view = support::repository(&wharf, &client, "private/app").await;
        view["tag_count"] == 1
    })
    .await;
    assert!(indexed, "{}", wharf.logs());
    assert!(!wharf.logs().contains("s3cret-pass"), "the password is never logged");
    let (_, settings) = call(&wharf, &client, "settings", &[]).await;
    assert_eq!(settings["registry_username"], "reader");
    assert!(
        !settings.to_string().contains("s3cret-pass"),
        "the password is never shown"
    );

    // A wrong password: reconcile fails with a clear reason, the console stays up.
    std::fs::write(&password_file, "wrong").unwrap();
    let wrong = start_as_reader().await;
    let client = wrong.signed_in_client("admin", ADMIN_PASSWORD).await;
    let reported = eventually(80, || async {
        let (_, settings) = call(&wrong, &client, "settings", &[]).await;
        settings["sync"]["reconcile"]["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("denied") && e.contains("401"))
    })
    .await;
    assert!(reported, "{}", wrong.logs());
    assert_eq!(wrong.page(&client, "/").await.0, 200);
}

#[tokio::test]
async fn registry_down_keeps_index_pages_and_explains_manifest_errors() {
    let registry = StandaloneRegistry::start(100).await;
    push_image(&registry.url, "kept/app", "1.0", &[], false);
    let wharf = Wharf::start_with(Options {
        registry_url: Some(registry.url.clone()),
        ..Default::default()
    })
    .await;
    let client = wharf.signed_in_client("admin", ADMIN_PASSWORD).await;
    let indexed = eventually(120, || async { wharf.page(&client, "/r/kept/app").await.0 == 200 }).await;
    assert!(indexed, "{}", wharf.logs());

    drop(registry);
    let bannered = eventually(80, || async {
        let (status, html) = wharf.page(&client, "/r/kept/app").await;
        status == 200 && html.contains("may be out of date") && html.contains("1.0")
    })
    .await;
    assert!(bannered, "index pages render from the index while the registry is down");
    let (status, html) = wharf.page(&client, "/").await;
    assert_eq!(status, 200);
    assert!(html.contains("kept/app"));
    // A manifest the cache does not hold needs the registry: a clear error, not a crash.
    let unknown = format!("sha256:{}", "1".repeat(64));
    let (status, error) = call(
        &wharf,
        &client,
        "manifest",
        &[("repository", "kept/app"), ("reference", &unknown)],
    )
    .await;
    assert_eq!(status, 503, "{error}");
    assert!(
        error["RegistryUnavailable"]
            .as_str()
            .is_some_and(|e| e.contains("unreachable")),
        "{error}"
    );
    let (status, html) = wharf.page(&client, &format!("/r/kept/app@{unknown}")).await;
    assert_eq!(status, 200);
    assert!(html.contains("The registry cannot be reached"), "{html}");
    // Cached manifests still show.
    let (status, _) = wharf.page(&client, "/r/kept/app:1.0").await;
    assert_eq!(status, 200);
}

/// A catalog walk cut short (here by the page cap, as by a registry whose `Link` loops) removes
/// no repository from the index: the ones it did not reach may well still exist.
#[tokio::test]
async fn a_walk_cut_short_removes_nothing() {
    let registry = StandaloneRegistry::start(2).await;
    for name in ["a/one", "a/two", "b/three", "b/four", "c"] {
        push_image(&registry.url, name, "1.0", &[], false);
    }
    let wharf = Wharf::start_with(Options {
        registry_url: Some(registry.url.clone()),
        extra_args: vec![
            "--reconcile-interval".into(),
            "0".into(),
            "--catalog-max-pages".into(),
            "1".into(),
        ],
        ..Default::default()
    })
    .await;
    let client = wharf.signed_in_client("admin", ADMIN_PASSWORD).await;
    let progress = || async {
        let (_, settings) = call(&wharf, &client, "settings", &[]).await;
        settings["sync"]["reconcile"].clone()
    };
    let finished = |p: &serde_json::Value| p["running"] == false && p["finished_at_ms"].is_number();
    assert!(
        eventually(120, || async { finished(&progress().await) }).await,
        "{}",
        wharf.logs()
    );
    // Repositories beyond the first page, known to the index (from notifications, say).
    let db = wharf.db().await;
    let mut conn = db.pool.acquire().await.unwrap();
    for name in ["b/four", "c", "gone/maybe"] {
        app::backend::index::store::ensure_repository(&mut conn, name)
            .await
            .unwrap();
    }
    drop(conn);
    let first_finished = progress().await["finished_at_ms"].as_i64().unwrap();
    let (status, _) = call(&wharf, &client, "resync", &[]).await;
    assert_eq!(status, 200);
    let again = eventually(120, || async {
        let p = progress().await;
        finished(&p) && p["finished_at_ms"].as_i64().unwrap() > first_finished
    })
    .await;
    assert!(again, "{}", wharf.logs());
    let reconciled = || async { progress().await["last_result"].as_str().unwrap_or_default().to_string() };
    let report = reconciled().await;
    assert!(
        report.contains("cut short") && report.contains("0 repositories removed"),
        "{report}"
    );
    let names: Vec<(String,)> = sqlx::query_as("SELECT name FROM repositories ORDER BY name")
        .fetch_all(&db.pool)
        .await
        .unwrap();
    let names: Vec<String> = names.into_iter().map(|(n,)| n).collect();
    for kept in ["b/four", "c", "gone/maybe"] {
        assert!(names.contains(&kept.to_string()), "{kept} was removed: {names:?}");
    }
}

/// A reconcile on the timer reads every tag list but asks for the digests of known tags only in
/// its slice of the repositories: over as many runs as there are slices, every moved tag is
/// found, and a new tag is found by any run. Run straight on the library against a real registry.
#[tokio::test]
async fn timed_reconciles_check_digests_one_slice_at_a_time() {
    use app::backend::notifier::Notifier;
    use app::backend::registry::{RegistryAuth, RegistryClient};
    use app::backend::sync::hub::SyncHub;
    use app::backend::sync::reconcile::{reconcile, Digests, Limits};

    let registry = StandaloneRegistry::start(100).await;
    // Slice 0 of 2 holds s/a and s/c, slice 1 s/b and s/d.
    let names = ["s/a", "s/b", "s/c", "s/d"];
    for name in names {
        assert_eq!(
            Digests::Slice { index: 0, of: 2 }.covers(name),
            name == "s/a" || name == "s/c"
        );
        push_image(&registry.url, name, "1.0", &[], false);
    }
    let dir = tempfile::tempdir().unwrap();
    let db = app::backend::db::Db::connect(&format!("sqlite://{}/wharf.db", dir.path().display()))
        .await
        .unwrap();
    let client = RegistryClient::new(registry.url.parse().unwrap(), RegistryAuth::Anonymous);
    let hub = SyncHub::new(std::sync::Arc::new(Notifier::default()));
    let run = |digests: Digests| {
        let (db, client, hub) = (&db, &client, &hub);
        async move {
            let limits = Limits {
                digests,
                ..Limits::default()
            };
            reconcile(db, client, hub, limits).await.unwrap()
        }
    };
    let first = run(Digests::All).await;
    assert_eq!((first.tags_added, first.tags_moved), (4, 0), "{first}");

    // Every tag moves to a new image behind the index's back; s/b gets a new tag too.
    for name in names {
        push_image(&registry.url, name, "1.0", &[], false);
    }
    push_image(&registry.url, "s/b", "2.0", &[], false);
    let slice_0 = run(Digests::Slice { index: 0, of: 2 }).await;
    assert_eq!(
        (slice_0.tags_added, slice_0.tags_moved),
        (1, 2),
        "the new tag anywhere, moved tags in slice 0 only: {slice_0}"
    );
    assert!(slice_0.to_string().contains("checked in slice 1 of 2"), "{slice_0}");
    let slice_1 = run(Digests::Slice { index: 1, of: 2 }).await;
    assert_eq!((slice_1.tags_added, slice_1.tags_moved), (0, 2), "{slice_1}");
    let again = run(Digests::All).await;
    assert_eq!(
        (again.tags_added, again.tags_moved, again.tags_removed),
        (0, 0, 0),
        "two slices covered every repository: {again}"
    );
}
