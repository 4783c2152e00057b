//! Single sign-on through a real OpenID Connect provider on 127.0.0.1: sign-in with PKCE and a
//! nonce, group → team → role, a pull with the user's personal access token, an administrator's
//! test sign-in, and the refusals (a forged state, a local account of the same name, no
//! provisioning).

mod support;

use reqwest::redirect::Policy;
use support::{call, push_image, skopeo, OidcProvider, Wharf, ADMIN_PASSWORD};

/// A browser: cookies kept, redirects followed by hand (each hop is checked).
fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(Policy::none())
        .build()
        .unwrap()
}

fn location(response: &reqwest::Response) -> String {
    response.headers()["location"].to_str().unwrap().to_string()
}

/// Walks start → provider → callback; returns where the callback sent the browser.
async fn sign_in(wharf: &Wharf, client: &reqwest::Client, hint: &str, test: bool) -> String {
    let start = client
        .get(format!("{}/auth/sso/start", wharf.url))
        .query(&[
            ("login_hint", hint),
            ("next", "/events"),
            ("test", if test { "1" } else { "" }),
        ])
        .send()
        .await
        .unwrap();
    assert!(start.status().is_redirection(), "start: {}", start.status());
    let authorize = location(&start);
    assert!(
        authorize.contains("code_challenge=") && authorize.contains("nonce="),
        "{authorize}"
    );
    let provider = client.get(&authorize).send().await.unwrap();
    assert!(provider.status().is_redirection(), "provider: {}", provider.status());
    let callback = location(&provider);
    assert!(
        callback.starts_with(&format!("{}/auth/sso/callback", wharf.url.trim_end_matches('/'))),
        "{callback}"
    );
    let done = client.get(&callback).send().await.unwrap();
    assert!(done.status().is_redirection(), "callback: {}", done.status());
    location(&done)
}

/// Turns single sign-on on with `issuer` and default claims (the client secret kept when empty).
async fn save_enabled(wharf: &Wharf, admin: &reqwest::Client, issuer: &str, secret: &str) -> (u16, serde_json::Value) {
    let form = [
        ("enabled", "on"),
        ("issuer_url", issuer),
        ("client_id", "wharf"),
        ("client_secret", secret),
        ("username_claim", ""),
        ("groups_claim", ""),
        ("label", "Test IdP"),
    ];
    call(wharf, admin, "save_sso", &form).await
}

async fn me(wharf: &Wharf, client: &reqwest::Client) -> serde_json::Value {
    call(wharf, client, "me", &[]).await.1
}

async fn sso_error(wharf: &Wharf, client: &reqwest::Client) -> String {
    let (_, option) = call(wharf, client, "sso_login", &[]).await;
    option["error"].as_str().unwrap_or_default().to_string()
}

#[tokio::test]
async fn single_sign_on_maps_groups_to_roles() {
    let provider = OidcProvider::start();
    let wharf = Wharf::start().await;
    let admin = browser();
    let signed = admin
        .post(format!("{}/api/login", wharf.url))
        .form(&[("username", "admin"), ("password", ADMIN_PASSWORD)])
        .send()
        .await
        .unwrap();
    assert!(
        signed.status().is_success() || signed.status().is_redirection(),
        "{}",
        signed.status()
    );
    push_image(&wharf.registry_url(), "team-a/api", "1", &[], true);

    // Off at first: the sign-in page offers nothing and the start is refused politely.
    let (_, option) = call(&wharf, &admin, "sso_login", &[]).await;
    assert!(option["label"].is_null());
    let save = |enabled: bool, create_users: bool| {
        let mut form = vec![
            ("issuer_url", provider.issuer.as_str()),
            ("client_id", "wharf"),
            ("client_secret", "client-secret"),
            ("username_claim", "preferred_username"),
            ("groups_claim", "groups"),
            ("label", "Mock IdP"),
        ];
        if enabled {
            form.push(("enabled", "on"));
        }
        if create_users {
            form.push(("create_users", "on"));
        }
        let admin = admin.clone();
        let wharf = &wharf;
        async move { call(wharf, &admin, "save_sso", &form).await }
    };
    let (status, body) = save(true, true).await;
    assert_eq!(status, 200, "{body}");
    let (status, settings) = call(&wharf, &admin, "sso_settings", &[]).await;
    assert_eq!(status, 200);
    assert_eq!(settings["has_secret"], true);
    assert!(
        !settings.to_string().contains("client-secret"),
        "the secret is write-only"
    );
    let (_, option) = call(&wharf, &reqwest::Client::new(), "sso_login", &[]).await;
    assert_eq!(option["label"], "Mock IdP");

    // The provider group "devs" is team team-a-devs, which reads team-a/.
    assert_eq!(
        call(&wharf, &admin, "create_team", &[("name", "team-a-devs")]).await.0,
        200
    );
    let (status, _) = call(
        &wharf,
        &admin,
        "team_group",
        &[("team", "team-a-devs"), ("group", "devs")],
    )
    .await;
    assert_eq!(status, 200);
    let (status, _) = call(
        &wharf,
        &admin,
        "add_assignment",
        &[
            ("principal_kind", "team"),
            ("principal_name", "team-a-devs"),
            ("role", "reader"),
            ("scope", "team-a/"),
        ],
    )
    .await;
    assert_eq!(status, 200);

    // An administrator's test sign-in shows what the provider sends; nobody is signed in as it.
    let landed = sign_in(&wharf, &admin, "bob:devs,other", true).await;
    assert_eq!(landed, "/access?tab=sso");
    let (_, settings) = call(&wharf, &admin, "sso_settings", &[]).await;
    assert_eq!(settings["test_result"]["username"], "bob");
    assert_eq!(settings["test_result"]["teams"], serde_json::json!(["team-a-devs"]));
    assert_eq!(me(&wharf, &admin).await["username"], "admin");
    let (_, again) = call(&wharf, &admin, "sso_settings", &[]).await;
    assert!(again["test_result"].is_null(), "shown once");
    // Nobody else may run a test sign-in.
    let stranger = browser();
    let refused = stranger
        .get(format!("{}/auth/sso/start?test=1", wharf.url))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 403);

    // Alice signs in: created on the way, a member of team-a-devs through her group.
    let alice = browser();
    assert_eq!(sign_in(&wharf, &alice, "alice:devs", false).await, "/events");
    assert_eq!(me(&wharf, &alice).await["username"], "alice");
    let (status, catalog) = call(
        &wharf,
        &alice,
        "catalog",
        &[
            ("query[search]", ""),
            ("query[sort]", "Name"),
            ("query[namespace]", ""),
            ("query[page]", "1"),
        ],
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(catalog["repositories"][0]["name"], "team-a/api");
    // She has no password: registry clients take her personal access token.
    let (status, token) = call(&wharf, &alice, "create_token", &[("name", "laptop"), ("days", "30")]).await;
    assert_eq!(status, 200, "{token}");
    let pat = token["secret"].as_str().unwrap().to_string();
    let image = format!("docker://{}/team-a/api:1", wharf.registry_host);
    let pull = |secret: String| {
        let image = image.clone();
        move || {
            skopeo(&[
                "inspect",
                "--tls-verify=false",
                "--raw",
                "--creds",
                &format!("alice:{secret}"),
                &image,
            ])
        }
    };
    let pulled = pull(pat.clone())();
    assert!(pulled.status.success(), "{}", String::from_utf8_lossy(&pulled.stderr));
    assert!(!pull("!sso".into())().status.success(), "no password works for her");

    // Next sign-in without the group: out of the team, and the pull is refused at once.
    let alice_later = browser();
    sign_in(&wharf, &alice_later, "alice:other", false).await;
    assert!(!pull(pat.clone())().status.success());

    // Refusals: a forged state, a local account of the same name, no provisioning.
    let mallory = browser();
    let start = mallory
        .get(format!("{}/auth/sso/start?login_hint=alice:devs", wharf.url))
        .send()
        .await
        .unwrap();
    let provider_answer = mallory.get(location(&start)).send().await.unwrap();
    let forged = location(&provider_answer).replace("state=", "state=forged");
    let done = mallory.get(&forged).send().await.unwrap();
    assert_eq!(location(&done), "/login?sso=failed");
    assert!(sso_error(&wharf, &mallory).await.contains("did not match"));
    assert!(me(&wharf, &mallory).await.is_null(), "not signed in");
    assert_eq!(sso_error(&wharf, &mallory).await, "", "shown once");

    let (status, _) = call(
        &wharf,
        &admin,
        "create_user",
        &[("username", "carol"), ("password", "carol-password")],
    )
    .await;
    assert_eq!(status, 200);
    let carol = browser();
    assert_eq!(sign_in(&wharf, &carol, "carol", false).await, "/login?sso=failed");
    assert!(sso_error(&wharf, &carol)
        .await
        .contains("local user named carol exists"));

    let (status, _) = save(true, false).await;
    assert_eq!(status, 200);
    let dave = browser();
    assert_eq!(sign_in(&wharf, &dave, "dave", false).await, "/login?sso=failed");
    assert!(sso_error(&wharf, &dave).await.contains("not created on sign-in"));

    // A callback with no attempt behind it.
    let lost = browser();
    let done = lost
        .get(format!("{}/auth/sso/callback?code=x&state=y", wharf.url))
        .send()
        .await
        .unwrap();
    assert_eq!(location(&done), "/login?sso=failed");
    assert!(sso_error(&wharf, &lost).await.contains("expired"));

    // Bad settings are refused with a reason.
    for (issuer, expected) in [("ftp://x", "http(s)"), ("not a url", "not a URL")] {
        let (status, body) = save_enabled(&wharf, &admin, issuer, "").await;
        assert_eq!(status, 400);
        assert!(body.to_string().contains(expected), "{body}");
    }
    let (_, audit) = call(
        &wharf,
        &admin,
        "audit",
        &[("actor", "alice"), ("action", "sign-in"), ("since", ""), ("cursor", "")],
    )
    .await;
    assert!(audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["detail"] == "single sign-on"));
}

#[tokio::test]
async fn a_provider_that_hangs_or_redirects_fails_the_sign_in_cleanly() {
    let wharf = Wharf::start().await;
    let admin = wharf.signed_in_client("admin", ADMIN_PASSWORD).await;
    // One that takes connections and never answers.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_url = format!("http://{}", silent.local_addr().unwrap());
    // One whose discovery document is a redirect elsewhere.
    let redirecting = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let redirecting_url = format!("http://{}", redirecting.local_addr().unwrap());
    let app = axum::Router::new().route(
        "/.well-known/openid-configuration",
        axum::routing::get(|| async { axum::response::Redirect::temporary("http://169.254.169.254/latest/meta-data") }),
    );
    tokio::spawn(async move { axum::serve(redirecting, app).await.unwrap() });

    for (issuer, expected) in [
        (silent_url.as_str(), "discovery failed"),
        (redirecting_url.as_str(), "discovery failed"),
    ] {
        let (status, body) = save_enabled(&wharf, &admin, issuer, "s").await;
        assert_eq!(status, 200, "{body}");
        let browser = browser();
        let started = std::time::Instant::now();
        let start = browser
            .get(format!("{}/auth/sso/start", wharf.url))
            .timeout(std::time::Duration::from_secs(30))
            .send()
            .await
            .unwrap();
        assert!(start.status().is_redirection(), "{}", start.status());
        assert_eq!(location(&start), "/login?sso=failed", "{issuer}");
        assert!(
            started.elapsed() < std::time::Duration::from_secs(25),
            "bounded by the client's timeout"
        );
        let error = sso_error(&wharf, &browser).await;
        assert!(!error.is_empty(), "{issuer}: the sign-in page says why");
        assert!(wharf.logs().contains(expected), "{issuer}: {}", wharf.logs());
    }
    // Local sign-in still works, and the console is up.
    assert_eq!(me(&wharf, &admin).await["username"], "admin");
    drop(silent);
}
