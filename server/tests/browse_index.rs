//! The index against a real registry: pushes (single and multi-arch, OCI and Docker types) reach
//! the catalog, repository and manifest pages through notifications; deletes of images and of
//! single tags; bad input refused with nothing changed; 404 pages; labels rendered as text.

mod support;

use serde_json::Value;
use support::{admin_registry_client, call, eventually, push_image, registry_tags, Wharf, ADMIN_PASSWORD};

async fn repository_view(wharf: &Wharf, client: &reqwest::Client, name: &str) -> Value {
    let (status, view) = call(
        wharf,
        client,
        "repository",
        &[("name", name), ("filter", ""), ("page", "1")],
    )
    .await;
    assert_eq!(status, 200, "{view}");
    view
}

fn tags_of(image: &Value) -> Vec<String> {
    image["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap().to_string())
        .collect()
}

/// Puts a second tag on an image, as `docker tag` + `docker push` would.
async fn retag(wharf: &Wharf, repository: &str, from: &str, to: &str) {
    let client = admin_registry_client(wharf);
    let repository = repository.parse().unwrap();
    let (media_type, _, bytes) = client.get_manifest(&repository, &from.parse().unwrap()).await.unwrap();
    client
        .put_manifest(&repository, &to.parse().unwrap(), &media_type, bytes)
        .await
        .unwrap();
}

#[tokio::test]
async fn pushes_reach_the_pages_and_deletes_leave_siblings() {
    pushes_and_deletes(Wharf::start().await).await;
}

/// The same on PostgreSQL (skipped without `WHARF_TEST_POSTGRES_URL`).
#[tokio::test]
async fn pushes_and_deletes_on_postgres() {
    let Some(db) = support::postgres_database().await else {
        return;
    };
    let wharf = Wharf::start_with(support::Options {
        database_url: Some(db.url.clone()),
        ..Default::default()
    })
    .await;
    pushes_and_deletes(wharf).await;
}

async fn pushes_and_deletes(wharf: Wharf) {
    let registry = wharf.registry_url();
    push_image(
        &registry,
        "team/app",
        "1.0",
        &["--label", "org.opencontainers.image.source=https://example.com/app"],
        true,
    );
    // Two tags on one image.
    retag(&wharf, "team/app", "1.0", "latest").await;
    push_image(&registry, "team/app", "0.9", &[], true);
    push_image(
        &registry,
        "team/multi",
        "2.0",
        &["--platforms", "linux/amd64,linux/arm/v7", "--format", "docker"],
        true,
    );
    let client = wharf.signed_in_client("admin", ADMIN_PASSWORD).await;

    let indexed = eventually(120, || async {
        let view = support::repository(&wharf, &client, "team/app").await;
        let multi = support::repository(&wharf, &client, "team/multi").await;
        view["tag_count"] == 3 && multi["tag_count"] == 1
    })
    .await;
    assert!(indexed, "pushes never reached the index:\n{}", wharf.logs());

    let view = repository_view(&wharf, &client, "team/app").await;
    let images = view["images"].as_array().unwrap();
    assert_eq!(images.len(), 2, "two digests: {view}");
    let shared = images
        .iter()
        .find(|i| tags_of(i).len() == 2)
        .expect("tags sharing a digest are grouped");
    assert_eq!(tags_of(shared), ["1.0", "latest"]);
    assert_eq!(shared["platforms"][0]["os"], "linux");
    assert_eq!(shared["platforms"][0]["architecture"], "amd64");
    assert!(shared["size"].as_i64().unwrap() > 0);
    assert_eq!(shared["push_estimated"], false, "push time comes from the event");
    assert_eq!(view["labels"][0]["link"], "https://example.com/app");

    let multi = repository_view(&wharf, &client, "team/multi").await;
    let index = &multi["images"][0];
    assert_eq!(index["kind"], "index");
    assert_eq!(
        index["media_type"],
        "application/vnd.docker.distribution.manifest.list.v2+json"
    );
    let platforms: Vec<String> = index["platforms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            format!(
                "{}/{}/{}",
                p["os"].as_str().unwrap(),
                p["architecture"].as_str().unwrap(),
                p["variant"].as_str().unwrap_or("")
            )
        })
        .collect();
    assert_eq!(platforms, ["linux/amd64/", "linux/arm/v7"]);
    assert!(index["platforms"][1]["size"].as_i64().unwrap() > 0, "per-platform size");

    // The manifest page of the index lists its platforms; a platform's page shows config and layers.
    let digest = index["digest"].as_str().unwrap().to_string();
    let (status, manifest) = call(
        &wharf,
        &client,
        "manifest",
        &[("repository", "team/multi"), ("reference", &digest)],
    )
    .await;
    assert_eq!(status, 200, "{manifest}");
    assert_eq!(manifest["platforms"].as_array().unwrap().len(), 2);
    let child = manifest["platforms"][1]["digest"].as_str().unwrap().to_string();
    let (status, image) = call(
        &wharf,
        &client,
        "manifest",
        &[("repository", "team/multi"), ("reference", &child)],
    )
    .await;
    assert_eq!(status, 200, "{image}");
    assert_eq!(image["image"]["config"]["architecture"], "arm");
    assert_eq!(image["image"]["config"]["variant"], "v7");
    assert!(!image["image"]["layers"].as_array().unwrap().is_empty());
    assert!(!image["image"]["history"].as_array().unwrap().is_empty());
    assert!(
        image["raw"].as_str().unwrap().contains("\n  \"schemaVersion\""),
        "pretty-printed raw JSON"
    );
    // By tag, too.
    let (status, by_tag) = call(
        &wharf,
        &client,
        "manifest",
        &[("repository", "team/multi"), ("reference", "2.0")],
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(by_tag["digest"], digest.as_str());

    // Delete one tag of two: the sibling stays, in the registry and in the index.
    let shared_digest = shared["digest"].as_str().unwrap().to_string();
    let (status, refused) = call(
        &wharf,
        &client,
        "delete_tag",
        &[("repository", "team/app"), ("tag", "latest"), ("confirm", "1.0")],
    )
    .await;
    assert_eq!(status, 400, "a wrong confirmation is refused: {refused}");
    assert_eq!(
        registry_tags(&wharf, "team/app").await,
        ["0.9", "1.0", "latest"],
        "nothing deleted"
    );
    let (status, done) = call(
        &wharf,
        &client,
        "delete_tag",
        &[("repository", "team/app"), ("tag", "latest"), ("confirm", "latest")],
    )
    .await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(registry_tags(&wharf, "team/app").await, ["0.9", "1.0"]);
    let view = repository_view(&wharf, &client, "team/app").await;
    let kept = view["images"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["digest"] == shared_digest.as_str())
        .unwrap();
    assert_eq!(tags_of(kept), ["1.0"]);

    // Delete an image by digest: its tag goes with it.
    let (status, refused) = call(
        &wharf,
        &client,
        "delete_image",
        &[("repository", "team/app"), ("digest", "sha256:nope"), ("confirm", "x")],
    )
    .await;
    assert_eq!(status, 400, "{refused}");
    let (status, done) = call(
        &wharf,
        &client,
        "delete_image",
        &[
            ("repository", "team/app"),
            ("digest", &shared_digest),
            ("confirm", "1.0"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{done}");
    assert!(done["message"].as_str().unwrap().contains("1.0"));
    assert_eq!(registry_tags(&wharf, "team/app").await, ["0.9"]);
    // The registry's delete notifications arrive later and must not disturb the index.
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    let view = repository_view(&wharf, &client, "team/app").await;
    assert_eq!(view["tag_count"], 1, "{view}");
    assert_eq!(tags_of(&view["images"][0]), ["0.9"]);

    // The catalog: search, namespace filter, sort.
    let catalog = |search: &'static str, namespace: &'static str, sort: &'static str| {
        let client = client.clone();
        let wharf = &wharf;
        async move {
            call(
                wharf,
                &client,
                "catalog",
                &[
                    ("query[search]", search),
                    ("query[sort]", sort),
                    ("query[namespace]", namespace),
                    ("query[page]", "1"),
                ],
            )
            .await
        }
    };
    let (status, all) = catalog("", "", "Name").await;
    assert_eq!(status, 200, "{all}");
    assert_eq!(all["total"], 2);
    let (_, found) = catalog("mul", "", "Name").await;
    assert_eq!(found["matching"], 1);
    assert_eq!(found["repositories"][0]["name"], "team/multi");
    let (_, by_namespace) = catalog("team/", "", "Tags").await;
    assert_eq!(by_namespace["matching"], 2);
    let (_, none) = catalog("%_", "", "Size").await;
    assert_eq!(none["matching"], 0, "LIKE wildcards in the search are literal");
    let (_, filtered) = catalog("", "team", "LastPush").await;
    assert_eq!(filtered["repositories"][0]["name"], "team/multi", "newest push first");
}

#[tokio::test]
async fn unknown_addresses_are_real_404s_and_labels_are_text() {
    let wharf = Wharf::start().await;
    push_image(
        &wharf.registry_url(),
        "web/site",
        "1",
        &[
            "--label",
            "org.opencontainers.image.description=<script>alert('x')</script>",
        ],
        true,
    );
    let client = wharf.signed_in_client("admin", ADMIN_PASSWORD).await;
    let indexed = eventually(120, || async {
        let (status, _) = wharf.page(&client, "/r/web/site").await;
        status == 200
    })
    .await;
    assert!(indexed, "{}", wharf.logs());
    let (status, html) = wharf.page(&client, "/r/web/site").await;
    assert_eq!(status, 200);
    assert!(
        html.contains("&lt;script&gt;alert("),
        "the label is escaped text:\n{html}"
    );
    assert!(!html.contains("<script>alert("), "the label must not become a script");

    for path in [
        "/r/no/such/repo",
        "/r/web/site:nosuchtag",
        "/r/web/site@sha256:0000000000000000000000000000000000000000000000000000000000000000",
        "/r/Not%20A%20Name",
    ] {
        let (status, html) = wharf.page(&client, path).await;
        assert_eq!(status, 404, "{path}");
        assert!(html.contains("Page not found"), "{path}: {html}");
    }
    assert!(wharf.page(&client, "/healthz").await.0 == 200, "still up");
}

#[tokio::test]
async fn signatures_ride_on_their_image_and_unknown_configs_show_raw() {
    let wharf = Wharf::start().await;
    push_image(&wharf.registry_url(), "sig/app", "1", &[], true);
    let registry = admin_registry_client(&wharf);
    let sig_app = "sig/app".parse().unwrap();
    let digest = registry.manifest_digest(&sig_app, &"1".parse().unwrap()).await.unwrap();
    let signature_tag = format!("sha256-{}.sig", digest.trim_start_matches("sha256:"));
    retag(&wharf, "sig/app", "1", &signature_tag).await;

    // An OCI artifact whose config is not an image config.
    let config = br#"{"hello":"world"}"#;
    let config_digest = format!("sha256:{}", sha256_hex(config));
    registry
        .upload_blob(
            &sig_app,
            &config_digest.parse().unwrap(),
            bytes::Bytes::from_static(config),
        )
        .await
        .unwrap();
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.example.config+json", "digest": config_digest, "size": config.len()},
        "layers": [],
    });
    registry
        .put_manifest(
            &sig_app,
            &"artifact".parse().unwrap(),
            "application/vnd.oci.image.manifest.v1+json",
            serde_json::to_vec(&manifest).unwrap().into(),
        )
        .await
        .unwrap();

    let client = wharf.signed_in_client("admin", ADMIN_PASSWORD).await;
    let indexed = eventually(120, || async {
        let view = support::repository(&wharf, &client, "sig/app").await;
        view["tag_count"] == 3
    })
    .await;
    assert!(indexed, "{}", wharf.logs());
    let view = repository_view(&wharf, &client, "sig/app").await;
    let images = view["images"].as_array().unwrap();
    assert_eq!(images.len(), 2, "the signature tag is no row of its own: {view}");
    let signed = images.iter().find(|i| i["digest"] == digest.as_str()).unwrap();
    assert_eq!(tags_of(signed), ["1"]);
    assert_eq!(signed["attachments"][0]["kind"], "sig");
    assert_eq!(signed["attachments"][0]["tag"], signature_tag.as_str());

    let (status, artifact) = call(
        &wharf,
        &client,
        "manifest",
        &[("repository", "sig/app"), ("reference", "artifact")],
    )
    .await;
    assert_eq!(status, 200, "{artifact}");
    assert!(!artifact["warnings"].as_array().unwrap().is_empty(), "{artifact}");
    assert!(artifact["raw"]
        .as_str()
        .unwrap()
        .contains("application/vnd.example.config+json"));
    let (status, html) = wharf.page(&client, "/r/sig/app:artifact").await;
    assert_eq!(status, 200);
    assert!(html.contains("banner-warning"), "{html}");
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

#[tokio::test]
async fn the_live_stream_announces_pushes_to_signed_in_users() {
    let mut wharf = Wharf::start().await;
    let anonymous = reqwest::get(format!("{}/api/stream", wharf.url)).await.unwrap();
    assert_eq!(anonymous.status().as_u16(), 401);

    let client = wharf.signed_in_client("admin", ADMIN_PASSWORD).await;
    let mut stream = client.get(format!("{}/api/stream", wharf.url)).send().await.unwrap();
    assert_eq!(stream.status().as_u16(), 200);
    assert!(stream.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));
    push_image(&wharf.registry_url(), "live/app", "1", &[], true);
    let mut received = String::new();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    while !received.contains(r#""kind":"repository","name":"live/app""#) {
        let chunk = tokio::time::timeout_at(deadline, stream.chunk())
            .await
            .expect("no update within 30 s")
            .unwrap()
            .expect("stream ended");
        received.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(
        received.starts_with("data: {\"kind\":\"sync\""),
        "the first message is the status: {received}"
    );
    // An open stream does not hold up shutdown.
    let status = wharf.stop();
    assert!(status.success(), "{status}");
    drop(stream);
}
