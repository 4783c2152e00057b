//! Storage insights and the table they stand on (`manifest_blobs`): against a real registry and
//! a real database (SQLite, and PostgreSQL when `WHARF_TEST_POSTGRES_URL` names a server).

mod support;

use app::backend::db::{now_ms, Db};
use app::backend::index::blobs::{self, BlobKind};
use app::backend::synthetic::{self, ImageSpec};
use sqlx::Row;
use support::{eventually, push_image, Wharf};

/// A fresh SQLite database, and the directory guard that removes it.
async fn sqlite() -> (tempfile::TempDir, Db) {
    let dir = support::temp_dir("db");
    let db = Db::connect(&format!("sqlite://{}", dir.path().join("wharf.db").display()))
        .await
        .unwrap();
    (dir, db)
}

/// The (blob, kind, size) rows of a manifest, sorted.
async fn blob_rows(db: &Db, manifest: &str) -> Vec<(String, String, i64)> {
    let mut rows: Vec<(String, String, i64)> =
        sqlx::query("SELECT blob_digest, kind, size FROM manifest_blobs WHERE manifest_digest = $1")
            .bind(manifest)
            .fetch_all(&db.pool)
            .await
            .unwrap()
            .iter()
            .map(|r| (r.get("blob_digest"), r.get("kind"), r.get("size")))
            .collect();
    rows.sort();
    rows
}

/// The (blob, kind, size) a generated single-platform manifest references, sorted.
fn expected_blobs(manifest: &[u8]) -> Vec<(String, String, i64)> {
    let value: serde_json::Value = serde_json::from_slice(manifest).unwrap();
    let descriptor = |d: &serde_json::Value, kind: &str| {
        (
            d["digest"].as_str().unwrap().to_string(),
            kind.to_string(),
            d["size"].as_i64().unwrap(),
        )
    };
    let mut rows = vec![descriptor(&value["config"], "config")];
    rows.extend(
        value["layers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| descriptor(l, "layer")),
    );
    rows.sort();
    rows
}

/// Manifest digests of a repository in the index, with their kind.
async fn repository_manifests(db: &Db, repository: &str) -> Vec<(String, String)> {
    sqlx::query(
        "SELECT m.digest, m.kind FROM repository_manifests rm JOIN manifests m ON m.digest = rm.digest \
         WHERE rm.repository = $1 ORDER BY m.digest",
    )
    .bind(repository)
    .fetch_all(&db.pool)
    .await
    .unwrap()
    .iter()
    .map(|r| (r.get("digest"), r.get("kind")))
    .collect()
}

#[tokio::test]
async fn pushed_images_record_their_blobs() {
    let wharf = Wharf::start().await;
    let registry = wharf.registry_url();
    push_image(&registry, "team/one", "1", &["--layers", "3", "--seed", "11"], true);
    push_image(
        &registry,
        "team/multi",
        "1",
        &["--platforms", "linux/amd64,linux/arm64", "--format", "docker"],
        true,
    );
    let db = wharf.db().await;
    let indexed = eventually(120, || async {
        repository_manifests(&db, "team/one").await.len() == 1
            && repository_manifests(&db, "team/multi").await.len() == 3
    })
    .await;
    assert!(indexed, "pushes never reached the index:\n{}", wharf.logs());

    let (image, kind) = repository_manifests(&db, "team/one").await.remove(0);
    assert_eq!(kind, "image");
    let mut conn = db.pool.acquire().await.unwrap();
    let (_, cached) = app::backend::index::store::cached_blob(&mut conn, &image)
        .await
        .unwrap()
        .unwrap();
    let rows = blob_rows(&db, &image).await;
    assert_eq!(rows, expected_blobs(cached.as_bytes()));
    assert_eq!(rows.iter().filter(|r| r.1 == "layer").count(), 3);
    assert_eq!(
        blobs::of_manifest(&mut conn, &image).await.unwrap()[0].kind,
        BlobKind::Config
    );

    // The index has no rows of its own; each platform image has a config and its layers.
    for (digest, kind) in repository_manifests(&db, "team/multi").await {
        let rows = blob_rows(&db, &digest).await;
        match kind.as_str() {
            "index" => assert!(rows.is_empty(), "an index has no blobs: {rows:?}"),
            _ => {
                let (_, cached) = app::backend::index::store::cached_blob(&mut conn, &digest)
                    .await
                    .unwrap()
                    .unwrap();
                assert_eq!(rows, expected_blobs(cached.as_bytes()));
            }
        }
    }
}

/// An image manifest as an index from before `manifest_blobs` left it: the manifest row and its
/// bytes in the blob cache, no blob rows. Returns its digest and bytes.
async fn indexed_before(db: &Db, seed: u64) -> (String, Vec<u8>) {
    let image = synthetic::generate(&ImageSpec {
        layers: 2,
        layer_size: 64,
        seed,
        ..ImageSpec::default()
    });
    insert_manifest(db, &image.top.digest, "image", &image.top.media_type, &image.top.bytes).await;
    (image.top.digest.clone(), image.top.bytes.to_vec())
}

async fn insert_manifest(db: &Db, digest: &str, kind: &str, media_type: &str, bytes: &[u8]) {
    sqlx::query(
        "INSERT INTO manifests (digest, media_type, manifest_size, total_size, kind, platforms, annotations, labels, indexed_at) \
         VALUES ($1, $2, $3, $3, $4, '[]', '{}', '{}', $5)",
    )
    .bind(digest)
    .bind(media_type)
    .bind(bytes.len() as i64)
    .bind(kind)
    .bind(now_ms())
    .execute(&db.pool)
    .await
    .unwrap();
    let mut conn = db.pool.acquire().await.unwrap();
    app::backend::index::store::cache_blob(&mut conn, digest, media_type, &String::from_utf8_lossy(bytes))
        .await
        .unwrap();
}

async fn backfill_resumes_and_is_idempotent(db: Db) {
    let mut images = Vec::new();
    for seed in 0..5 {
        images.push(indexed_before(&db, 100 + seed).await);
    }
    // Hostile or foreign content in the cache: not JSON, and an image whose layers claim
    // impossible sizes. Neither stops the others.
    let garbage = format!("sha256:{}", "0".repeat(64));
    insert_manifest(
        &db,
        &garbage,
        "image",
        "application/vnd.oci.image.manifest.v1+json",
        b"{not json",
    )
    .await;
    let huge_body = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",
        "config":{{"mediaType":"application/vnd.oci.image.config.v1+json","size":2,"digest":"sha256:{c}"}},
        "layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","size":18446744073709551615,"digest":"sha256:{l}"}}]}}"#,
        c = "c".repeat(64),
        l = "d".repeat(64)
    );
    let huge = synthetic::sha256_digest(huge_body.as_bytes());
    insert_manifest(
        &db,
        &huge,
        "image",
        "application/vnd.oci.image.manifest.v1+json",
        huge_body.as_bytes(),
    )
    .await;

    // Batches of two, as if the process were stopped after each: the progress is kept.
    let mut batches = 0;
    loop {
        let mut tx = db.begin_write().await.unwrap();
        let batch = blobs::backfill_batch(&mut tx, 2).await.unwrap();
        tx.commit().await.unwrap();
        batches += 1;
        assert!(batches < 10, "the backfill does not end");
        if batch.done {
            break;
        }
        assert_eq!(batch.manifests, 2);
    }
    assert_eq!(batches, 4, "7 manifests in batches of 2");
    for (digest, bytes) in &images {
        assert_eq!(blob_rows(&db, digest).await, expected_blobs(bytes));
    }
    assert!(blob_rows(&db, &garbage).await.is_empty());
    let huge_rows = blob_rows(&db, &huge).await;
    assert_eq!(huge_rows.iter().map(|r| r.2).max(), Some(blobs::MAX_BLOB_SIZE));
    assert!(blobs::backfill_done(&mut db.pool.acquire().await.unwrap())
        .await
        .unwrap());

    // Done: a start does nothing; run again from scratch, it changes nothing either.
    assert_eq!(blobs::backfill(&db).await.unwrap(), 0);
    let before: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM manifest_blobs")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    sqlx::query("UPDATE manifest_blobs_backfill SET after_digest = '', done = 0")
        .execute(&db.pool)
        .await
        .unwrap();
    assert_eq!(blobs::backfill(&db).await.unwrap(), 0, "every manifest had its rows");
    let after: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM manifest_blobs")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(before, after);
    assert_eq!(before, 5 * 3 + 2);
}

#[tokio::test]
async fn backfill_fills_manifests_indexed_before() {
    let (_dir, db) = sqlite().await;
    backfill_resumes_and_is_idempotent(db).await;
}

#[tokio::test]
async fn backfill_fills_manifests_indexed_before_on_postgres() {
    let Some(db) = support::postgres_database().await else {
        return;
    };
    backfill_resumes_and_is_idempotent(db).await;
}

// ---------------------------------------------------------------------------------------------
// Aggregates, on the database alone: hand-checked figures, visibility, and the incremental
// refresh against the full rebuild.

use app::backend::access::{Scope, Visibility};
use app::backend::housekeeping::insights::{self, read};
use app::backend::index::store;
use app::model::StorageInsights;

fn digest(name: &str) -> String {
    synthetic::sha256_digest(name.as_bytes())
}

/// An image manifest `name` of blobs (name, size) (the first the config), indexed in `repository`.
async fn put_image(db: &Db, repository: &str, name: &str, blobs_of: &[(&str, i64)]) -> String {
    let manifest = digest(name);
    let mut conn = db.pool.acquire().await.unwrap();
    sqlx::query(
        "INSERT INTO manifests (digest, media_type, manifest_size, total_size, kind, platforms, annotations, labels, indexed_at) \
         VALUES ($1, 'application/vnd.oci.image.manifest.v1+json', 100, 100, 'image', '[]', '{}', '{}', 0) \
         ON CONFLICT (digest) DO NOTHING",
    )
    .bind(&manifest)
    .execute(&mut *conn)
    .await
    .unwrap();
    let rows: Vec<blobs::ManifestBlob> = blobs_of
        .iter()
        .enumerate()
        .map(|(i, (blob, size))| blobs::ManifestBlob {
            digest: digest(blob),
            size: *size,
            kind: if i == 0 { BlobKind::Config } else { BlobKind::Layer },
        })
        .collect();
    blobs::store(&mut conn, &manifest, &rows).await.unwrap();
    store::ensure_repository(&mut conn, repository).await.unwrap();
    store::add_repository_manifest(&mut conn, repository, &manifest)
        .await
        .unwrap();
    store::refresh_repository(&mut conn, repository).await.unwrap();
    manifest
}

async fn remove_image(db: &Db, repository: &str, manifest: &str) {
    let mut conn = db.pool.acquire().await.unwrap();
    store::remove_manifest(&mut conn, repository, manifest).await.unwrap();
    store::refresh_repository(&mut conn, repository).await.unwrap();
}

async fn refreshed(db: &Db) {
    assert!(
        insights::refresh_all(db, 1000).await.unwrap(),
        "the refresher does not settle"
    );
}

async fn figures(db: &Db, scopes: &[&str]) -> StorageInsights {
    let visible = if scopes == [""] {
        Visibility::All
    } else {
        Visibility::Only(scopes.iter().map(|s| Scope::parse(s).unwrap()).collect())
    };
    read::insights(db, &visible, now_ms()).await.unwrap()
}

fn namespace_bytes(figures: &StorageInsights) -> Vec<(String, i64, i64, bool)> {
    let mut rows: Vec<_> = figures
        .namespaces
        .iter()
        .map(|n| (n.namespace.clone(), n.bytes, n.shared_bytes, n.partial))
        .collect();
    rows.sort();
    rows
}

async fn shared_layers_are_counted_once(db: Db) {
    refreshed(&db).await;
    let x = put_image(&db, "a/x", "x1", &[("cx", 10), ("base", 1000), ("lx", 100)]).await;
    put_image(&db, "a/y", "y1", &[("cy", 20), ("base", 1000), ("ly", 200)]).await;
    put_image(&db, "b/z", "z1", &[("cz", 30), ("base", 1000), ("lz", 300)]).await;
    put_image(&db, "b/w", "w1", &[("cw", 40), ("lw", 400)]).await;
    // Two images of one repository sharing a layer: the layer once.
    put_image(&db, "b/w", "w2", &[("cw2", 50), ("lw", 400)]).await;
    refreshed(&db).await;

    let all = figures(&db, &[""]).await;
    assert!(all.whole_registry && !all.computing);
    assert_eq!((all.total_bytes, all.shared_bytes), (2150, 1000));
    assert_eq!(all.repositories, 4);
    assert_eq!(
        namespace_bytes(&all),
        [("a".into(), 1330, 1000, false), ("b".into(), 1820, 1000, false)]
    );
    let largest: Vec<_> = all
        .largest
        .iter()
        .map(|r| (r.repository.as_str(), r.bytes, r.shared_bytes))
        .collect();
    assert_eq!(largest[0], ("b/z", 1330, 1000));
    assert!(largest.contains(&("b/w", 490, 0)));

    // One namespace: only it. Both: the base layer still once.
    let a = figures(&db, &["a/"]).await;
    assert!(!a.whole_registry);
    assert_eq!((a.total_bytes, a.shared_bytes, a.repositories), (1330, 1000, 2));
    assert_eq!(namespace_bytes(&a), [("a".into(), 1330, 1000, false)]);
    assert!(a.largest.iter().all(|r| r.repository.starts_with("a/")));
    assert_eq!(figures(&db, &["a/", "b/"]).await.total_bytes, 2150);
    // Part of a namespace: totals over what is seen.
    let z = figures(&db, &["b/z*"]).await;
    assert_eq!((z.total_bytes, z.shared_bytes, z.repositories), (1330, 1000, 1));
    assert_eq!(namespace_bytes(&z), [("b".into(), 1330, 1000, true)]);
    assert!(z.days_partial);
    assert_eq!(figures(&db, &["a/", "b/z*"]).await.total_bytes, 1330 + 330);
    assert_eq!(figures(&db, &[]).await.total_bytes, 0);

    // An image deleted: its own blobs go, the base layer is no longer shared with a/x.
    remove_image(&db, "a/x", &x).await;
    refreshed(&db).await;
    let all = figures(&db, &[""]).await;
    assert_eq!((all.total_bytes, all.shared_bytes, all.repositories), (2040, 1000, 3));
    assert!(all.largest.iter().all(|r| r.repository != "a/x"));
    let a = figures(&db, &["a/"]).await;
    assert_eq!(namespace_bytes(&a), [("a".into(), 1220, 1000, false)]);
    // Today's point of the growth series follows.
    assert_eq!(all.days.last().unwrap().bytes, Some(2040));
    assert_aggregates_match_rebuild(&db).await;
}

/// Every aggregate table's rows, sorted.
async fn aggregate_rows(db: &Db) -> Vec<Vec<String>> {
    let mut tables = Vec::new();
    for sql in [
        "SELECT repository || ' ' || namespace || ' ' || blob_digest || ' ' || size AS r FROM storage_repository_blobs",
        "SELECT namespace || ' ' || blob_digest AS r FROM storage_namespace_blobs",
        "SELECT blob_digest || ' ' || size || ' ' || repositories || ' ' || namespaces AS r FROM storage_blobs",
        "SELECT repository || ' ' || bytes || ' ' || shared_bytes || ' ' || blobs AS r FROM storage_repositories",
        "SELECT namespace || ' ' || bytes || ' ' || shared_bytes || ' ' || cross_bytes || ' ' || repositories AS r FROM storage_namespaces",
        "SELECT bytes || ' ' || shared_bytes || ' ' || blobs AS r FROM storage_totals",
    ] {
        let mut rows: Vec<String> = sqlx::query_scalar(sql).fetch_all(&db.pool).await.unwrap();
        rows.sort();
        tables.push(rows);
    }
    tables
}

async fn assert_aggregates_match_rebuild(db: &Db) {
    let incremental = aggregate_rows(db).await;
    insights::refresh::rebuild(db).await.unwrap();
    assert_eq!(
        incremental,
        aggregate_rows(db).await,
        "incremental refresh and rebuild disagree"
    );
}

/// Random pushes and deletes over a few repositories and namespaces sharing blobs: after each
/// round the incremental figures equal a rebuild's.
async fn incremental_equals_rebuild(db: Db) {
    use rand::{Rng, SeedableRng};
    refreshed(&db).await;
    let mut rng = rand::rngs::StdRng::seed_from_u64(24);
    let repositories = ["p/one", "p/two", "q/one", "q/sub/three", "top"];
    let mut present: Vec<(String, String)> = Vec::new();
    for round in 0..12 {
        for step in 0..6 {
            if !present.is_empty() && rng.gen_bool(0.35) {
                let (repository, manifest) = present.swap_remove(rng.gen_range(0..present.len()));
                remove_image(&db, &repository, &manifest).await;
                continue;
            }
            let repository = repositories[rng.gen_range(0..repositories.len())];
            let blobs: Vec<(String, i64)> = (0..rng.gen_range(1..5))
                .map(|_| {
                    let blob = rng.gen_range(0..12);
                    (format!("blob-{blob}"), 1000 + blob)
                })
                .collect();
            let refs: Vec<(&str, i64)> = blobs.iter().map(|(b, s)| (b.as_str(), *s)).collect();
            let name = format!("image-{round}-{step}");
            let manifest = put_image(&db, repository, &name, &refs).await;
            present.push((repository.to_string(), manifest));
        }
        refreshed(&db).await;
        assert_aggregates_match_rebuild(&db).await;
    }
    // Everything removed: nothing left anywhere.
    for (repository, manifest) in present {
        remove_image(&db, &repository, &manifest).await;
    }
    refreshed(&db).await;
    let all = figures(&db, &[""]).await;
    assert_eq!((all.total_bytes, all.shared_bytes, all.repositories), (0, 0, 0));
    assert!(all.namespaces.is_empty());
    assert_aggregates_match_rebuild(&db).await;
}

#[tokio::test]
async fn aggregates_count_shared_blobs_once_per_reader() {
    let (_dir, db) = sqlite().await;
    shared_layers_are_counted_once(db).await;
}

#[tokio::test]
async fn aggregates_count_shared_blobs_once_per_reader_on_postgres() {
    let Some(db) = support::postgres_database().await else {
        return;
    };
    shared_layers_are_counted_once(db).await;
}

#[tokio::test]
async fn incremental_refresh_equals_rebuild() {
    let (_dir, db) = sqlite().await;
    incremental_equals_rebuild(db).await;
}

#[tokio::test]
async fn incremental_refresh_equals_rebuild_on_postgres() {
    let Some(db) = support::postgres_database().await else {
        return;
    };
    incremental_equals_rebuild(db).await;
}

// ---------------------------------------------------------------------------------------------
// The storage page against a real registry: pushes sharing layers, readers of one namespace,
// a delete.

use app::backend::registry::{RegistryAuth, RegistryClient};
use app::model::{UnpulledPage, UNPULLED_DAYS};
use std::collections::BTreeMap;
use support::{call, ADMIN_PASSWORD};

/// The blobs (digest → size) of a tag's image, as the registry has it.
async fn registry_blobs(wharf: &Wharf, repository: &str, tag: &str) -> BTreeMap<String, i64> {
    let client = RegistryClient::new(
        wharf.registry_url().parse().unwrap(),
        RegistryAuth::Credentials {
            username: "admin".into(),
            password: ADMIN_PASSWORD.into(),
        },
    );
    let (_, _, bytes) = client
        .get_manifest(&repository.parse().unwrap(), &tag.parse().unwrap())
        .await
        .unwrap();
    let manifest: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    std::iter::once(&manifest["config"])
        .chain(manifest["layers"].as_array().unwrap())
        .map(|d| (d["digest"].as_str().unwrap().to_string(), d["size"].as_i64().unwrap()))
        .collect()
}

async fn page_figures(wharf: &Wharf, client: &reqwest::Client) -> StorageInsights {
    let (status, body) = call(wharf, client, "storage_insights", &[]).await;
    assert_eq!(status, 200, "{body}");
    serde_json::from_value(body).unwrap()
}

/// Waits until the figures the client sees satisfy `check`; returns them.
async fn figures_until(
    wharf: &Wharf,
    client: &reqwest::Client,
    what: &str,
    check: impl Fn(&StorageInsights) -> bool,
) -> StorageInsights {
    let mut last = None;
    for _ in 0..240 {
        let figures = page_figures(wharf, client).await;
        if check(&figures) {
            return figures;
        }
        last = Some(figures);
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    panic!("{what}: never reached; last figures {last:?}\n{}", wharf.logs());
}

fn sum(blobs: &BTreeMap<String, i64>) -> i64 {
    blobs.values().sum()
}

#[tokio::test]
async fn the_storage_page_counts_shared_layers_once_per_reader() {
    let wharf = Wharf::start().await;
    let registry = wharf.registry_url();
    let same_layers = ["--layers", "3", "--layer-size", "30000", "--seed", "5"];
    push_image(
        &registry,
        "alpha/web",
        "1",
        &[&same_layers[..], &["--label", "app=web"]].concat(),
        true,
    );
    push_image(
        &registry,
        "beta/api",
        "1",
        &[&same_layers[..], &["--label", "app=api"]].concat(),
        true,
    );
    push_image(&registry, "beta/api", "2", &["--layers", "2", "--seed", "6"], true);
    let web = registry_blobs(&wharf, "alpha/web", "1").await;
    let api1 = registry_blobs(&wharf, "beta/api", "1").await;
    let api2 = registry_blobs(&wharf, "beta/api", "2").await;
    let shared: BTreeMap<String, i64> = web
        .iter()
        .filter(|(d, _)| api1.contains_key(*d))
        .map(|(d, s)| (d.clone(), *s))
        .collect();
    assert_eq!(shared.len(), 3, "the three layers are the same, the configs differ");
    let mut everything = web.clone();
    everything.extend(api1.clone());
    everything.extend(api2.clone());

    let admin = wharf.signed_in_client("admin", ADMIN_PASSWORD).await;
    let all = figures_until(&wharf, &admin, "three pushes counted", |f| {
        f.total_bytes == sum(&everything) && !f.computing
    })
    .await;
    assert!(all.whole_registry);
    assert_eq!(all.shared_bytes, sum(&shared), "shared layers shown as shared");
    assert!(
        all.total_bytes < sum(&web) + sum(&api1) + sum(&api2),
        "and not counted twice"
    );
    assert_eq!(all.repositories, 2);
    let today = all.days.last().unwrap();
    assert_eq!(today.pushes, 3, "three tags pushed today");
    assert_eq!(today.bytes, Some(sum(&everything)));

    // The page itself: charts as SVG with their figures, without any script needed.
    let (status, html) = wharf.page(&admin, "/housekeeping/storage").await;
    assert_eq!(status, 200);
    for expected in [
        "<svg",
        "Storage per namespace",
        "Largest repositories",
        "alpha/web",
        "Pushes per day",
        "<title>",
    ] {
        assert!(html.contains(expected), "{expected} missing from the page");
    }

    // A reader of alpha/ sees alpha alone, its shared layers still marked shared.
    let reader = support::user_with_role(&wharf, &admin, "alpha-reader", "Reader", "alpha/").await;
    let alpha = page_figures(&wharf, &reader).await;
    assert!(!alpha.whole_registry);
    assert_eq!(
        (alpha.total_bytes, alpha.shared_bytes, alpha.repositories),
        (sum(&web), sum(&shared), 1)
    );
    assert_eq!(alpha.namespaces.len(), 1);
    assert_eq!(alpha.namespaces[0].namespace, "alpha");
    assert!(alpha.largest.iter().all(|r| r.repository == "alpha/web"));
    let (_, html) = wharf.page(&reader, "/housekeeping/storage").await;
    assert!(!html.contains("beta/api"), "another namespace leaks into the page");

    // Deleting beta/api:1 takes its config away and leaves the layers to alpha/web alone.
    let digest = support::repository(&wharf, &admin, "beta/api").await["images"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["tags"].as_array().unwrap().iter().any(|t| t == "1"))
        .map(|i| i["digest"].as_str().unwrap().to_string())
        .unwrap();
    let (status, body) = call(
        &wharf,
        &admin,
        "delete_image",
        &[("repository", "beta/api"), ("digest", &digest), ("confirm", "1")],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let after = figures_until(&wharf, &admin, "the delete counted", |f| {
        f.shared_bytes == 0 && !f.computing
    })
    .await;
    assert_eq!(after.total_bytes, sum(&web) + sum(&api2));

    // Nothing is old enough to be a candidate; the dry run covers the whole registry.
    let (status, body) = call(
        &wharf,
        &admin,
        "unpulled_images",
        &[("query[namespace]", ""), ("query[page]", "1")],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let unpulled: UnpulledPage = serde_json::from_value(body).unwrap();
    assert!(unpulled.images.is_empty());
    assert_eq!((unpulled.scope.as_deref(), unpulled.days), (Some(""), UNPULLED_DAYS));
    let (status, body) = call(
        &wharf,
        &reader,
        "unpulled_images",
        &[("query[namespace]", "../x"), ("query[page]", "1")],
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(
        call(&wharf, &reqwest::Client::new(), "storage_insights", &[]).await.0,
        401
    );
}

async fn tag_at(db: &Db, repository: &str, tag: &str, manifest: &str, days_ago: i64) {
    let mut conn = db.pool.acquire().await.unwrap();
    store::set_tag(
        &mut conn,
        repository,
        tag,
        manifest,
        now_ms() - days_ago * 86_400_000,
        false,
    )
    .await
    .unwrap();
}

async fn pulled(db: &Db, repository: &str, manifest: &str, days_ago: i64) {
    sqlx::query("INSERT INTO manifest_pulls (repository, digest, last_pulled_at, pull_count) VALUES ($1, $2, $3, 1)")
        .bind(repository)
        .bind(manifest)
        .bind(now_ms() - days_ago * 86_400_000)
        .execute(&db.pool)
        .await
        .unwrap();
}

async fn unpulled_page(db: &Db, scopes: &[&str], namespace: &str, page: u32) -> UnpulledPage {
    let visible = if scopes == [""] {
        Visibility::All
    } else {
        Visibility::Only(scopes.iter().map(|s| Scope::parse(s).unwrap()).collect())
    };
    let query = app::model::UnpulledQuery {
        namespace: namespace.into(),
        page,
    };
    read::unpulled(db, &visible, &query, now_ms()).await.unwrap()
}

fn listed(page: &UnpulledPage) -> Vec<(String, String, i64, bool)> {
    page.images
        .iter()
        .map(|i| {
            (
                i.repository.clone(),
                i.tag.clone(),
                i.other_tags,
                i.last_pulled_at_ms.is_some(),
            )
        })
        .collect()
}

async fn images_not_pulled_for_90_days(db: Db) {
    let old = put_image(&db, "a/old", "old", &[("c-old", 1)]).await;
    tag_at(&db, "a/old", "v1", &old, 200).await;
    tag_at(&db, "a/old", "v1-alias", &old, 150).await;
    let recently_pulled = put_image(&db, "a/pulled", "pulled", &[("c-pulled", 1)]).await;
    tag_at(&db, "a/pulled", "v1", &recently_pulled, 200).await;
    pulled(&db, "a/pulled", &recently_pulled, 10).await;
    let stale = put_image(&db, "a/stale", "stale", &[("c-stale", 1)]).await;
    tag_at(&db, "a/stale", "v1", &stale, 300).await;
    pulled(&db, "a/stale", &stale, 100).await;
    let fresh = put_image(&db, "a/fresh", "fresh", &[("c-fresh", 1)]).await;
    tag_at(&db, "a/fresh", "v1", &fresh, 1).await;
    let mixed = put_image(&db, "a/mixed", "mixed", &[("c-mixed", 1)]).await;
    tag_at(&db, "a/mixed", "old", &mixed, 200).await;
    tag_at(&db, "a/mixed", "new", &mixed, 1).await;
    tag_at(&db, "a/old", &format!("sha256-{}.sig", &old[7..]), &old, 200).await;
    let other = put_image(&db, "b/old", "b-old", &[("c-b", 1)]).await;
    tag_at(&db, "b/old", "1", &other, 120).await;

    let all = unpulled_page(&db, &[""], "", 1).await;
    assert_eq!(
        listed(&all),
        [
            ("a/stale".into(), "v1".into(), 0, true),
            ("a/old".into(), "v1".into(), 1, false),
            ("b/old".into(), "1".into(), 0, false),
        ]
    );
    assert_eq!((all.scope.as_deref(), all.has_more), (Some(""), false));
    let b = unpulled_page(&db, &[""], "b", 1).await;
    assert_eq!(listed(&b).len(), 1);
    assert_eq!(b.scope.as_deref(), Some("b/"));
    let reader = unpulled_page(&db, &["a/"], "", 1).await;
    assert!(reader.images.iter().all(|i| i.repository.starts_with("a/")));
    assert_eq!((reader.images.len(), reader.scope.clone()), (2, None));
    assert!(unpulled_page(&db, &["a/"], "b", 1).await.images.is_empty());

    // Pages of 50.
    for i in 0..52 {
        let manifest = put_image(&db, "c/many", &format!("many-{i}"), &[(&format!("c-many-{i}"), 1)]).await;
        tag_at(&db, "c/many", &format!("t{i:02}"), &manifest, 100).await;
    }
    let first = unpulled_page(&db, &[""], "", 1).await;
    assert_eq!((first.images.len(), first.has_more), (50, true));
    let second = unpulled_page(&db, &[""], "", 2).await;
    assert_eq!((second.images.len(), second.has_more), (5, false));
    assert_eq!(second.images.last().unwrap().repository, "c/many");
}

#[tokio::test]
async fn images_not_pulled_are_listed_oldest_first() {
    let (_dir, db) = sqlite().await;
    images_not_pulled_for_90_days(db).await;
}

#[tokio::test]
async fn images_not_pulled_are_listed_oldest_first_on_postgres() {
    let Some(db) = support::postgres_database().await else {
        return;
    };
    images_not_pulled_for_90_days(db).await;
}
