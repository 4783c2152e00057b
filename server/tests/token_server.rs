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

/// The OAuth2 form as containerd sends it, a refresh grant as docker sends it afterwards, and
/// the GET form's offline token; all of them usable on the registry.
#[tokio::test]
async fn post_form_and_refresh_tokens() {
    let wharf = Wharf::start().await;
    support::push_image(&wharf.registry_url(), "team/app", "1", &[], true);
    let manifest = format!("{}/v2/team/app/manifests/1", wharf.registry_url());
    let registry_accepts = |token: String| {
        let manifest = manifest.clone();
        async move {
            reqwest::Client::new()
                .get(&manifest)
                .header("Accept", "application/vnd.oci.image.manifest.v1+json")
                .header("Accept", "application/vnd.oci.image.index.v1+json")
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };

    let (status, body) = support::token_form(
        &wharf,
        &[
            ("grant_type", "password"),
            ("username", "admin"),
            ("password", ADMIN_PASSWORD),
            ("client_id", "containerd-client"),
            ("service", "wharf-registry"),
            ("scope", "repository:team/app:pull repository:other/x:pull,push"),
            ("access_type", "offline"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let access = body["access_token"].as_str().unwrap().to_string();
    let refresh = body["refresh_token"].as_str().unwrap().to_string();
    assert!(refresh.starts_with("wharf_refresh_"));
    assert!(body["expires_in"].as_i64().unwrap() > 0);
    assert_eq!(body["scope"], "repository:team/app:pull repository:other/x:pull,push");
    assert_eq!(decode_segment(&access, 1)["access"].as_array().unwrap().len(), 2);
    assert_eq!(registry_accepts(access).await, 200);

    // The refresh grant: a new access token, the same refresh token back (not rotated).
    for _ in 0..2 {
        let (status, body) = support::token_form(
            &wharf,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &refresh),
                ("client_id", "docker"),
                ("service", "wharf-registry"),
                ("scope", "repository:team/app:pull"),
                ("access_type", "offline"),
            ],
        )
        .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["refresh_token"], refresh.as_str());
        assert_eq!(
            decode_segment(body["access_token"].as_str().unwrap(), 1)["sub"],
            "admin"
        );
        assert_eq!(
            registry_accepts(body["access_token"].as_str().unwrap().to_string()).await,
            200
        );
    }

    // GET with offline_token=true (docker login) answers with a refresh token too.
    let response = token(
        &wharf,
        "service=wharf-registry&offline_token=true&client_id=docker",
        Some(("admin", ADMIN_PASSWORD)),
    )
    .await;
    let body: serde_json::Value = response.json().await.unwrap();
    assert!(body["refresh_token"].as_str().unwrap().starts_with("wharf_refresh_"));

    // Refused, each with a reason and nothing issued: no client_id, unknown grant, missing
    // fields, a made-up or foreign-service refresh token, wrong password, not a form.
    type Case<'a> = (Vec<(&'a str, &'a str)>, u16, &'a str);
    let cases: Vec<Case> = vec![
        (
            vec![
                ("grant_type", "password"),
                ("username", "admin"),
                ("password", ADMIN_PASSWORD),
            ],
            400,
            "invalid_request",
        ),
        (
            vec![("grant_type", "client_credentials"), ("client_id", "x")],
            400,
            "unsupported_grant_type",
        ),
        (
            vec![("grant_type", "password"), ("client_id", "x"), ("username", "admin")],
            400,
            "invalid_request",
        ),
        (
            vec![("grant_type", "refresh_token"), ("client_id", "x")],
            400,
            "invalid_request",
        ),
        (
            vec![
                ("grant_type", "refresh_token"),
                ("client_id", "x"),
                ("refresh_token", "wharf_refresh_made-up"),
            ],
            401,
            "invalid_grant",
        ),
        (
            vec![
                ("grant_type", "refresh_token"),
                ("client_id", "x"),
                ("refresh_token", &refresh),
                ("service", "elsewhere"),
            ],
            400,
            "invalid_request",
        ),
        (
            vec![
                ("grant_type", "password"),
                ("client_id", "x"),
                ("username", "admin"),
                ("password", "wrong"),
            ],
            401,
            "invalid_grant",
        ),
        (
            vec![
                ("grant_type", "password"),
                ("client_id", "x"),
                ("username", "admin"),
                ("password", ADMIN_PASSWORD),
                ("scope", "repository"),
            ],
            400,
            "invalid_scope",
        ),
    ];
    for (form, status, code) in cases {
        let (got, body) = support::token_form(&wharf, &form).await;
        assert_eq!(
            (got, body["error"].as_str().unwrap_or_default()),
            (status, code),
            "{form:?}: {body}"
        );
        assert!(body["access_token"].is_null());
    }
    let json = reqwest::Client::new()
        .post(format!("{}/auth/token", wharf.url))
        .json(&serde_json::json!({"grant_type": "password"}))
        .send()
        .await
        .unwrap();
    assert_eq!(json.status(), 400);
    let huge = reqwest::Client::new()
        .post(format!("{}/auth/token", wharf.url))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(vec![b'a'; 64 * 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(huge.status(), 413);

    // A password change ends the refresh tokens got with the old one.
    let admin = wharf.signed_in_client("admin", ADMIN_PASSWORD).await;
    let (status, body) = support::call(
        &wharf,
        &admin,
        "change_password",
        &[("current", ADMIN_PASSWORD), ("new_password", "a-new-admin-password")],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (status, _) = support::token_form(
        &wharf,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &refresh),
            ("client_id", "docker"),
        ],
    )
    .await;
    assert_eq!(status, 401);
}

/// A token request from the loopback address `from` (the server listens on 127.0.0.1; every
/// 127.x address reaches it, and the server sees the connection's own address).
async fn token_from(wharf: &Wharf, from: &str, credentials: (&str, &str)) -> reqwest::Response {
    token_request(wharf, from, credentials).send().await.unwrap()
}

fn token_request(wharf: &Wharf, from: &str, credentials: (&str, &str)) -> reqwest::RequestBuilder {
    reqwest::Client::builder()
        .local_address(from.parse::<std::net::IpAddr>().unwrap())
        .build()
        .unwrap()
        .get(format!("{}/auth/token?service=wharf-registry", wharf.url))
        .basic_auth(credentials.0, Some(credentials.1))
}

fn retry_after(response: &reqwest::Response) -> u64 {
    response.headers()["retry-after"].to_str().unwrap().parse().unwrap()
}

/// Failed logins lock the guesser's address on that account after a few tries, with a
/// Retry-After; the right password from that address waits too, other accounts do not; the
/// sign-in form shares the throttle and answers 429 with Retry-After.
#[tokio::test]
async fn failures_are_throttled() {
    let wharf = Wharf::start().await;
    let db = wharf.db().await;
    app::backend::users::create(&db, "victim", "victim-password", false)
        .await
        .unwrap();
    app::backend::users::create(&db, "bystander", "bystander-password", false)
        .await
        .unwrap();
    let mut statuses = Vec::new();
    for _ in 0..7 {
        let response = token(&wharf, "service=wharf-registry", Some(("victim", "guess"))).await;
        statuses.push(response.status().as_u16());
    }
    assert_eq!(&statuses[..5], [401; 5], "{statuses:?}");
    assert_eq!(statuses[6], 429, "{statuses:?}");
    let locked = token(&wharf, "service=wharf-registry", Some(("victim", "victim-password"))).await;
    assert_eq!(locked.status(), 429);
    assert!(retry_after(&locked) >= 1);
    let other = token(
        &wharf,
        "service=wharf-registry",
        Some(("bystander", "bystander-password")),
    )
    .await;
    assert_eq!(other.status(), 200, "another account is not locked");
    // The login form shares the throttle and answers 429 with Retry-After, not 400. Each wrong
    // guess past the free ones locks the pair again (the earlier lock may have run out while
    // the bystander's password was hashed), so the attempt right after one is refused.
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let mut answers = Vec::new();
    for _ in 0..10 {
        let form = client
            .post(format!("{}/api/login", wharf.url))
            .header("Accept", "application/json")
            .form(&[("username", "victim"), ("password", "guess")])
            .send()
            .await
            .unwrap();
        answers.push(form.status().as_u16());
        if form.status() == 429 {
            assert!(retry_after(&form) >= 1);
            assert!(form.text().await.unwrap().contains("too many failed attempts"));
            break;
        }
        assert_eq!(form.status(), 400);
    }
    assert_eq!(answers.last(), Some(&429), "{answers:?}");
    // A user name of a megabyte is refused without a hash, and counted.
    let long_name = "x".repeat(1 << 20);
    let response = reqwest::Client::new()
        .get(format!("{}/auth/token?service=wharf-registry", wharf.url))
        .basic_auth(&long_name[..4096], Some("p"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    assert!(wharf.logs().contains("wrong credentials"));
    assert!(
        !wharf.logs().contains(&"x".repeat(100)),
        "user names are truncated in the log"
    );
}

/// The hostile case of issue 22 against the real server: with the credential cache cold, six
/// wrong token requests for `admin` from one address do not stop `admin`'s right password from
/// another address; a robot's secret still works after a flood of wrong guesses for its name;
/// the console's sign-in from another address works while the guesser is locked.
#[tokio::test]
async fn guessing_from_one_address_never_locks_the_owner_out() {
    let mut wharf = Wharf::start().await;
    let guesser = "127.0.0.2";
    let mut statuses = Vec::new();
    for i in 0..7 {
        let response = token_from(&wharf, guesser, ("admin", &format!("guess-{i}"))).await;
        statuses.push(response.status().as_u16());
    }
    assert_eq!(statuses, [401, 401, 401, 401, 401, 401, 429], "six wrong, then locked");
    let owner = token_from(&wharf, "127.0.0.1", ("admin", ADMIN_PASSWORD)).await;
    assert_eq!(owner.status(), 200, "the owner from another address is let in");
    let again = token_from(&wharf, guesser, ("admin", ADMIN_PASSWORD)).await;
    assert_eq!(
        again.status(),
        200,
        "a credential the cache knows passes even the guesser's lock"
    );
    let console = wharf.signed_in_client("admin", ADMIN_PASSWORD).await;
    assert_eq!(support::call(&wharf, &console, "me", &[]).await.0, 200);

    // A robot: its name is no secret. Guesses from one address lock that address only.
    let (robot_secret, _) = {
        let db = wharf.db().await;
        let scope = app::backend::access::Scope::parse("").unwrap();
        let (record, secret) = app::backend::access::robots::create(&db, "cluster-puller", "", &scope, None)
            .await
            .unwrap();
        (secret, record)
    };
    let flood = (0..40).map(|i| {
        let wharf = &wharf;
        async move {
            let guess = if i % 2 == 0 {
                format!("wharf_robot_{i}")
            } else {
                format!("pw-{i}")
            };
            token_from(wharf, "127.0.0.3", ("cluster-puller", &guess))
                .await
                .status()
                .as_u16()
        }
    });
    let answers = futures::future::join_all(flood).await;
    assert!(answers.iter().all(|s| *s == 401 || *s == 429), "{answers:?}");
    assert!(
        answers.contains(&429),
        "the guessing address ends up locked: {answers:?}"
    );
    for from in ["127.0.0.4", "127.0.0.3"] {
        let pull = token_from(&wharf, from, ("cluster-puller", &robot_secret)).await;
        assert_eq!(pull.status(), 200, "the robot's secret from {from}");
    }
    assert!(wharf.is_running());
}

/// Changing one's password checks the current one under the same throttle: a session left open
/// is no way to guess; the password is unchanged.
#[tokio::test]
async fn change_password_is_throttled() {
    let wharf = Wharf::start().await;
    let db = wharf.db().await;
    app::backend::users::create(&db, "walker", "walker-password", false)
        .await
        .unwrap();
    let client = wharf.signed_in_client("walker", "walker-password").await;
    let mut statuses = Vec::new();
    let mut last = None;
    for i in 0..7 {
        let response = client
            .post(format!("{}/api/change_password", wharf.url))
            .header("Accept", "application/json")
            .form(&[
                ("current", format!("wrong-{i}")),
                ("new_password", "a-new-password".into()),
            ])
            .send()
            .await
            .unwrap();
        statuses.push(response.status().as_u16());
        last = Some(response);
    }
    assert_eq!(&statuses[..5], [400; 5], "{statuses:?}");
    assert_eq!(statuses[6], 429, "{statuses:?}");
    assert!(retry_after(last.as_ref().unwrap()) >= 1);
    let old = token_from(&wharf, "127.0.0.5", ("walker", "walker-password")).await;
    assert_eq!(
        old.status(),
        200,
        "the password did not change, and works from elsewhere"
    );
}

/// A token for the catalog from a console, and whether its registry accepts it.
async fn catalog_token(wharf: &Wharf) -> String {
    let response = token(
        wharf,
        "service=wharf-registry&scope=registry:catalog:*",
        Some(("admin", ADMIN_PASSWORD)),
    )
    .await;
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    body["token"].as_str().unwrap().to_string()
}

fn kid(jwt: &str) -> String {
    decode_segment(jwt, 0)["kid"].as_str().unwrap().to_string()
}

fn rotate(wharf: &Wharf, flags: &[&str]) -> String {
    let data_dir = wharf.data_dir.display().to_string();
    let mut args = vec!["admin", "rotate-token-key", "--data-dir", data_dir.as_str()];
    args.extend_from_slice(flags);
    let output = support::run_wharf_to_exit(&args, &[]);
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

#[tokio::test]
async fn the_signing_key_rotates_with_an_overlap() {
    let mut wharf = Wharf::start().await;
    let before = catalog_token(&wharf).await;
    assert!(support::registry_accepts(&wharf, &before).await);

    // Staged: trusted, signing nothing yet.
    let staged = rotate(&wharf, &[]);
    assert!(staged.contains("Staged"), "{staged}");
    let jwks = std::fs::read_to_string(wharf.data_dir.join("token-jwks.json")).unwrap();
    assert_eq!(jwks.matches("\"kid\"").count(), 2, "{jwks}");
    assert_eq!(kid(&catalog_token(&wharf).await), kid(&before));
    let again = support::run_wharf_to_exit(
        &[
            "admin",
            "rotate-token-key",
            "--data-dir",
            &wharf.data_dir.display().to_string(),
        ],
        &[],
    );
    assert!(!again.status.success(), "a second key is not staged over the first");

    // The console's own registry: promoted at the next start; the old token still works.
    wharf.stop();
    wharf.restart().await;
    let after = catalog_token(&wharf).await;
    assert_ne!(kid(&after), kid(&before));
    assert!(support::registry_accepts(&wharf, &after).await);
    assert!(
        support::registry_accepts(&wharf, &before).await,
        "tokens signed before the rotation stay valid"
    );

    // Dropping the retired key ends them (once the registry re-reads its bundle).
    let dropped = rotate(&wharf, &["--drop-previous"]);
    assert!(dropped.contains("trusted no more"), "{dropped}");
    wharf.stop();
    wharf.restart().await;
    assert!(!support::registry_accepts(&wharf, &before).await);
    assert!(support::registry_accepts(&wharf, &after).await);
    assert_eq!(kid(&catalog_token(&wharf).await), kid(&after));

    // --promote with nothing staged is an error, not a silent success.
    let nothing = support::run_wharf_to_exit(
        &[
            "admin",
            "rotate-token-key",
            "--promote",
            "--data-dir",
            &wharf.data_dir.display().to_string(),
        ],
        &[],
    );
    assert!(!nothing.status.success());
    assert!(String::from_utf8_lossy(&nothing.stderr).contains("no key is staged"));
}

/// A token request through a proxy on 127.0.0.1 that says the client is `client`.
async fn token_via_proxy(wharf: &Wharf, from: &str, client: &str, credentials: (&str, &str)) -> u16 {
    token_request(wharf, from, credentials)
        .header("X-Forwarded-For", client)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// Behind a trusted proxy every request comes from the proxy's address: throttling goes by the
/// client it forwards for, so a guesser behind the proxy does not lock out the owner behind the
/// same proxy. A client that is not the proxy cannot pick its address with the header.
#[tokio::test]
async fn behind_a_trusted_proxy_guesses_count_against_the_forwarded_client() {
    let wharf = Wharf::start_with(support::Options {
        extra_args: vec!["--trusted-proxy".into(), "127.0.0.1/32".into()],
        ..Default::default()
    })
    .await;
    let proxy = "127.0.0.1";
    let mut statuses = Vec::new();
    for i in 0..7 {
        statuses.push(token_via_proxy(&wharf, proxy, "198.51.100.7", ("admin", &format!("guess-{i}"))).await);
    }
    assert_eq!(statuses, [401, 401, 401, 401, 401, 401, 429], "the guesser is locked");
    assert_eq!(
        token_via_proxy(&wharf, proxy, "198.51.100.8", ("admin", ADMIN_PASSWORD)).await,
        200,
        "the owner behind the same proxy is let in"
    );
    // Not the proxy: its own X-Forwarded-For is ignored, its guesses count against itself.
    let mut forged = Vec::new();
    for i in 0..7 {
        let client = format!("203.0.113.{i}");
        forged.push(token_via_proxy(&wharf, "127.0.0.5", &client, ("admin", &format!("forged-{i}"))).await);
    }
    assert_eq!(
        forged.last(),
        Some(&429),
        "a forged header does not escape the lock: {forged:?}"
    );
    assert!(
        wharf.logs().contains("198.51.100.7"),
        "the log names the forwarded client"
    );
}
