//! Repository names and references are parsed where they enter. Against a registry that does not
//! use Wharf's tokens (`--registry-url`), Wharf's own checks are all that keeps a namespace's
//! reader out of another namespace: `team-a/../secret/app` and `sha256:x/../latest` must be
//! refused with a clear message, never resolved into a request for `secret/app`.

mod support;

use support::{call, eventually, push_image, user_with_role, Options, StandaloneRegistry, Wharf, ADMIN_PASSWORD};

const MANIFEST_ACCEPT: &str = app::backend::registry::MANIFEST_ACCEPT;

/// `secret/app:latest`'s digest, asked of the registry itself.
async fn registry_digest(registry: &StandaloneRegistry, repository: &str, tag: &str) -> Option<String> {
    let response = reqwest::Client::new()
        .head(format!("{}/v2/{repository}/manifests/{tag}", registry.url))
        .header("Accept", MANIFEST_ACCEPT)
        .send()
        .await
        .unwrap();
    response.status().is_success().then(|| {
        response.headers()["Docker-Content-Digest"]
            .to_str()
            .unwrap()
            .to_string()
    })
}

/// Calls `endpoint` and expects the 400 that names what is wrong.
async fn refused(wharf: &Wharf, client: &reqwest::Client, endpoint: &str, form: &[(&str, &str)]) {
    let (status, body) = call(wharf, client, endpoint, form).await;
    let text = body.to_string();
    assert_eq!(status, 400, "{endpoint} {form:?}: {text}");
    assert!(text.contains("not a valid"), "{endpoint} {form:?}: {text}");
    assert!(!text.contains("schemaVersion"), "nothing of the manifest: {text}");
}

#[tokio::test]
async fn traversal_in_names_and_references_is_refused_in_unmanaged_mode() {
    let registry = StandaloneRegistry::start(100).await;
    push_image(&registry.url, "secret/app", "latest", &[], false);
    push_image(&registry.url, "team-a/app", "1", &[], false);
    let secret_digest = registry_digest(&registry, "secret/app", "latest").await.unwrap();
    let wharf = Wharf::start_with(Options {
        registry_url: Some(registry.url.clone()),
        ..Default::default()
    })
    .await;
    let admin = wharf.signed_in_client("admin", ADMIN_PASSWORD).await;
    let indexed = eventually(120, || async {
        support::repository(&wharf, &admin, "secret/app").await["tag_count"] == 1
            && support::repository(&wharf, &admin, "team-a/app").await["tag_count"] == 1
    })
    .await;
    assert!(indexed, "{}", wharf.logs());
    let reader = user_with_role(&wharf, &admin, "reader", "reader", "team-a/").await;
    let contributor = user_with_role(&wharf, &admin, "contributor", "contributor", "team-a/").await;

    // What the reader may read works, and secret/app asked for plainly is forbidden.
    let (status, own) = call(
        &wharf,
        &reader,
        "manifest",
        &[("repository", "team-a/app"), ("reference", "1")],
    )
    .await;
    assert_eq!(status, 200, "{own}");
    let plain = [("repository", "secret/app"), ("reference", "latest")];
    assert_eq!(call(&wharf, &reader, "manifest", &plain).await.0, 403);

    let traversals = [
        ("team-a/../secret/app", "sha256:x/../latest"),
        ("team-a/../secret/app", "latest"),
        ("team-a/../secret/app", secret_digest.as_str()),
        ("team-a/%2e%2e/secret/app", "latest"),
        ("team-a//../secret/app", "latest"),
        ("team-a/app", "sha256:x/../../../../secret/app/manifests/latest"),
        ("team-a/app", "../../../secret/app/manifests/latest"),
    ];
    for (repository, reference) in traversals {
        let form = [("repository", repository), ("reference", reference)];
        refused(&wharf, &reader, "manifest", &form).await;
        refused(&wharf, &contributor, "manifest", &form).await;
    }
    for client in [&reader, &contributor] {
        let image = [
            ("repository", "team-a/../secret/app"),
            ("digest", secret_digest.as_str()),
            ("confirm", "latest"),
        ];
        refused(&wharf, client, "delete_image", &image).await;
        let tag = [
            ("repository", "team-a/../secret/app"),
            ("tag", "latest"),
            ("confirm", "latest"),
        ];
        refused(&wharf, client, "delete_tag", &tag).await;
        let reference_climbs = [
            ("repository", "team-a/app"),
            ("digest", "sha256:x/../../../../secret/app/manifests/latest"),
            ("confirm", "latest"),
        ];
        refused(&wharf, client, "delete_image", &reference_climbs).await;
    }

    // secret/app is untouched, in the registry and in the index, and the console is still up.
    assert_eq!(
        registry_digest(&registry, "secret/app", "latest").await.as_deref(),
        Some(secret_digest.as_str())
    );
    assert_eq!(support::repository(&wharf, &admin, "secret/app").await["tag_count"], 1);
    let health = reqwest::get(format!("{}/healthz", wharf.url)).await.unwrap();
    assert!(health.status().is_success());
}

#[tokio::test]
async fn token_scopes_name_repositories() {
    let registry = StandaloneRegistry::start(100).await;
    let wharf = Wharf::start_with(Options {
        registry_url: Some(registry.url.clone()),
        ..Default::default()
    })
    .await;
    let client = reqwest::Client::new();
    let ask = |scope: &'static str| {
        client
            .get(format!("{}/auth/token", wharf.url))
            .query(&[("scope", scope)])
            .basic_auth("admin", Some(ADMIN_PASSWORD))
            .send()
    };
    let granted = ask("repository:team-a/app:pull").await.unwrap();
    assert_eq!(granted.status().as_u16(), 200);
    for scope in [
        "repository:team-a/../secret/app:pull",
        "repository:team-a/%2e%2e/secret/app:pull",
        "repository:team-a//app:pull",
        "repository:Team-A/app:pull",
    ] {
        let response = ask(scope).await.unwrap();
        assert_eq!(response.status().as_u16(), 400, "{scope}");
        let body = response.text().await.unwrap();
        assert!(
            body.contains("SCOPE_INVALID") && body.contains("not a valid repository name"),
            "{scope}: {body}"
        );
    }
}
