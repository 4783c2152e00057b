//! `/auth/token` against the rules of REGISTRY.md, and the registry really accepting its tokens.

mod support;

use base64::Engine;
use support::{Wharf, ADMIN_PASSWORD};

fn decode_segment(token: &str, index: usize) -> serde_json::Value {
    let segment = token.split('.').nth(index).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(segment)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

async fn token(wharf: &Wharf, query: &str, credentials: Option<(&str, &str)>) -> reqwest::Response {
    let mut request = reqwest::Client::new().get(format!("{}/auth/token?{query}", wharf.url));
    if let Some((user, password)) = credentials {
        request = request.basic_auth(user, Some(password));
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn token_rules() {
    let wharf = Wharf::start().await;

    // Admin: gets what it asks for, in a token the registry can verify.
    let response = token(
        &wharf,
        "service=wharf-registry&scope=repository:team/app:pull,push&scope=registry:catalog:*",
        Some(("admin", ADMIN_PASSWORD)),
    )
    .await;
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    let jwt = body["token"].as_str().unwrap();
    assert_eq!(body["access_token"], body["token"]);
    assert!(body["expires_in"].as_i64().unwrap() > 0);
    assert!(body["issued_at"].as_str().unwrap().contains('T'));
    let header = decode_segment(jwt, 0);
    assert_eq!(header["alg"], "ES256");
    assert_eq!(header["kid"].as_str().unwrap().split(':').count(), 12);
    assert_eq!(header["x5c"].as_array().unwrap().len(), 1);
    let claims = decode_segment(jwt, 1);
    assert_eq!(claims["iss"], "wharf");
    assert_eq!(claims["sub"], "admin");
    assert!(claims["aud"].is_string(), "aud must be a string: {claims}");
    assert_eq!(claims["access"][0]["name"], "team/app");
    assert_eq!(claims["access"][0]["actions"], serde_json::json!(["pull", "push"]));
    assert_eq!(claims["access"][1]["type"], "registry");

    // The JWKS written for registry 3.x names the same key id.
    let jwks: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(wharf.data_dir.join("token-jwks.json")).unwrap()).unwrap();
    assert_eq!(jwks["keys"][0]["kid"], header["kid"]);

    // The registry accepts the token: the catalog answers 200 with it and 401 without.
    let catalog = format!("{}/v2/_catalog", wharf.registry_url());
    let with = reqwest::Client::new()
        .get(&catalog)
        .bearer_auth(jwt)
        .send()
        .await
        .unwrap();
    assert_eq!(with.status(), 200);
    let without = reqwest::get(&catalog).await.unwrap();
    assert_eq!(without.status(), 401);
    let challenge = without.headers()["www-authenticate"].to_str().unwrap();
    assert!(challenge.contains(&format!("{}/auth/token", wharf.url)), "{challenge}");

    // Anonymous: a valid token that grants nothing.
    let anonymous = token(&wharf, "service=wharf-registry&scope=repository:team/app:pull", None).await;
    assert_eq!(anonymous.status(), 200);
    let body: serde_json::Value = anonymous.json().await.unwrap();
    let claims = decode_segment(body["token"].as_str().unwrap(), 1);
    assert_eq!(claims["access"], serde_json::json!([]));

    // A signed-in non-admin user gets nothing yet, and the registry refuses it.
    let db = wharf.db().await;
    app::backend::users::create(&db, "reader", "reader-password", false)
        .await
        .unwrap();
    let reader = token(
        &wharf,
        "service=wharf-registry&scope=registry:catalog:*",
        Some(("reader", "reader-password")),
    )
    .await;
    assert_eq!(reader.status(), 200);
    let reader_jwt = reader.json::<serde_json::Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(decode_segment(&reader_jwt, 1)["access"], serde_json::json!([]));
    let refused = reqwest::Client::new()
        .get(&catalog)
        .bearer_auth(&reader_jwt)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);

    // Wrong credentials: 401 with a Basic challenge.
    for credentials in [("admin", "wrong"), ("nobody", "x")] {
        let denied = token(
            &wharf,
            "service=wharf-registry&scope=repository:a:pull",
            Some(credentials),
        )
        .await;
        assert_eq!(denied.status(), 401);
        assert!(denied.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Basic realm="));
        let body: serde_json::Value = denied.json().await.unwrap();
        assert_eq!(body["errors"][0]["code"], "UNAUTHORIZED");
    }
    let garbage = reqwest::Client::new()
        .get(format!("{}/auth/token", wharf.url))
        .header("Authorization", "Basic %%%")
        .send()
        .await
        .unwrap();
    assert_eq!(garbage.status(), 401);

    // Malformed scope and foreign service: 400 with a reason.
    let bad_scope = token(
        &wharf,
        "service=wharf-registry&scope=repository",
        Some(("admin", ADMIN_PASSWORD)),
    )
    .await;
    assert_eq!(bad_scope.status(), 400);
    assert!(bad_scope.text().await.unwrap().contains("invalid scope"));
    let other_service = token(&wharf, "service=elsewhere", None).await;
    assert_eq!(other_service.status(), 400);

    // Still up after all of it.
    assert_eq!(
        reqwest::get(format!("{}/healthz", wharf.url)).await.unwrap().status(),
        200
    );
}

#[tokio::test]
async fn synthetic_pusher_pushes_through_the_token_flow() {
    let wharf = Wharf::start().await;
    let output = std::process::Command::new(support::wharf_bin())
        .args([
            "push-synthetic",
            "--registry",
            &wharf.registry_url(),
            "--repository",
            "synthetic/multi",
            "--tag",
            "v1",
        ])
        .args([
            "--platforms",
            "linux/amd64,linux/arm/v7",
            "--format",
            "docker",
            "--layers",
            "3",
            "--layer-size",
            "2048",
        ])
        .args([
            "--username",
            "admin",
            "--password",
            ADMIN_PASSWORD,
            "--label",
            "org.opencontainers.image.version=1",
        ])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let pushed = String::from_utf8_lossy(&output.stdout);
    assert!(pushed.contains("synthetic/multi:v1 sha256:"), "{pushed}");

    let denied = std::process::Command::new(support::wharf_bin())
        .args([
            "push-synthetic",
            "--registry",
            &wharf.registry_url(),
            "--repository",
            "synthetic/x",
        ])
        .args(["--username", "admin", "--password", "wrong"])
        .output()
        .unwrap();
    assert!(!denied.status.success());
    assert!(
        String::from_utf8_lossy(&denied.stderr).contains("401"),
        "{}",
        String::from_utf8_lossy(&denied.stderr)
    );
}
