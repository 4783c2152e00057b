//! Oversized content from the registry is not read into memory: an image whose config is 10 MiB
//! is indexed and shown with a warning, its config is never cached, and the index goes on with
//! the next image.

mod support;

use support::{call, push_image, Wharf, ADMIN_PASSWORD};

#[tokio::test]
async fn an_oversized_config_is_shown_with_a_warning_and_never_cached() {
    let wharf = Wharf::start().await;
    // skopeo refuses to copy a config over 4 MiB ("exceeded maximum allowed size"), so the
    // project's own v2 client pushes it.
    let padding = (10 << 20).to_string();
    push_image(
        &wharf.registry_url(),
        "big/config",
        "1",
        &["--config-padding", &padding],
        true,
    );
    // Pushed after it: the index must not be stuck on the big one.
    push_image(&wharf.registry_url(), "big/after", "1", &[], true);

    let client = wharf.signed_in_client("admin", ADMIN_PASSWORD).await;
    let indexed = support::eventually(120, || async {
        let (status, view) = call(
            &wharf,
            &client,
            "manifest",
            &[("repository", "big/after"), ("reference", "1")],
        )
        .await;
        status == 200 && view["image"].is_object()
    })
    .await;
    assert!(indexed, "the image pushed after the big one was indexed");

    let (status, view) = call(
        &wharf,
        &client,
        "manifest",
        &[("repository", "big/config"), ("reference", "1")],
    )
    .await;
    assert_eq!(status, 200, "{view}");
    let warnings = view["warnings"].to_string();
    assert!(warnings.contains("larger than the 4 MiB"), "{warnings}");
    assert!(
        view["raw"].as_str().unwrap().contains("config"),
        "the manifest itself is shown"
    );

    let db = wharf.db().await;
    let (largest,): (i64,) = sqlx::query_as("SELECT COALESCE(MAX(LENGTH(content)), 0) FROM blob_cache")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert!(largest < 1 << 20, "nothing big was cached: {largest} bytes");
    assert_eq!(
        reqwest::get(format!("{}/healthz", wharf.url)).await.unwrap().status(),
        200
    );
}
