//! Single sign-on through real OpenID Connect providers on 127.0.0.1: sign-in with PKCE and a
//! nonce, group → team → role, a pull with the user's personal access token, an administrator's
//! test sign-in, and the refusals (a forged state, a local account of the same name, no
//! provisioning, the allow-list, a provider's error). oauth2-mock-server puts every claim in the
//! ID token; panva's certified oidc-provider keeps the profile claims in UserInfo.

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

/// The `scope` parameter of the provider's authorization address, one scope per entry.
fn scopes(authorize: &str) -> Vec<String> {
    let url = url::Url::parse(authorize).unwrap();
    let scope = url
        .query_pairs()
        .find(|(name, _)| name == "scope")
        .map(|(_, value)| value.to_string())
        .unwrap_or_default();
    scope.split(' ').map(str::to_string).collect()
}

/// Walks start → provider (its redirects, at most 10) → callback; returns where the callback
/// sent the browser.
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
    assert_eq!(scopes(&authorize), ["openid", "profile", "email"], "each scope once");
    let callback_prefix = format!("{}/auth/sso/callback", wharf.url.trim_end_matches('/'));
    let mut next = authorize;
    for _ in 0..10 {
        if next.starts_with(&callback_prefix) {
            break;
        }
        let provider = client.get(&next).send().await.unwrap();
        assert!(
            provider.status().is_redirection(),
            "provider: {} at {next}",
            provider.status()
        );
        // oidc-provider sends addresses relative to its own.
        next = url::Url::parse(&next)
            .unwrap()
            .join(&location(&provider))
            .unwrap()
            .to_string();
    }
    assert!(next.starts_with(&callback_prefix), "{next}");
    let done = client.get(&next).send().await.unwrap();
    assert!(done.status().is_redirection(), "callback: {}", done.status());
    location(&done)
}

/// The test sign-in's result the settings page shows for the address the test landed on.
async fn test_result(wharf: &Wharf, admin: &reqwest::Client, landed: &str) -> serde_json::Value {
    let id = landed
        .strip_prefix("/access?tab=sso&test=")
        .unwrap_or_else(|| panic!("not the settings page: {landed}"));
    call(wharf, admin, "sso_settings", &[("test", id)]).await.1["test_result"].clone()
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
    let admin = admin_browser(&wharf).await;
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
    let result = test_result(&wharf, &admin, &landed).await;
    assert_eq!(result["username"], "bob");
    assert_eq!(result["teams"], serde_json::json!(["team-a-devs"]));
    assert!(result["refusal"].is_null(), "no allow-list: allowed");
    assert_eq!(me(&wharf, &admin).await["username"], "admin");
    // The page may fetch its data again after hydration: the same address shows the same result;
    // the page without the id, or with another, shows none.
    assert_eq!(test_result(&wharf, &admin, &landed).await, result);
    let (_, plain) = call(&wharf, &admin, "sso_settings", &[]).await;
    assert!(plain["test_result"].is_null());
    let (_, guessed) = call(&wharf, &admin, "sso_settings", &[("test", "0")]).await;
    assert!(guessed["test_result"].is_null());
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

/// Turns single sign-on on for the certified provider (client `wharf` / `wharf-secret`, users
/// created on sign-in) with these allow-lists.
async fn save_allowing(
    wharf: &Wharf,
    admin: &reqwest::Client,
    issuer: &str,
    groups: &str,
    domains: &str,
) -> (u16, serde_json::Value) {
    let form = [
        ("enabled", "on"),
        ("issuer_url", issuer),
        ("client_id", "wharf"),
        ("client_secret", "wharf-secret"),
        ("username_claim", ""),
        ("groups_claim", ""),
        ("create_users", "on"),
        ("label", "Certified IdP"),
        ("allowed_groups", groups),
        ("allowed_domains", domains),
    ];
    call(wharf, admin, "save_sso", &form).await
}

/// A browser signed in as admin (redirects not followed, like [`browser`]).
async fn admin_browser(wharf: &Wharf) -> reqwest::Client {
    let admin = browser();
    let signed = admin
        .post(format!("{}/api/login", wharf.url))
        .form(&[("username", "admin"), ("password", ADMIN_PASSWORD)])
        .send()
        .await
        .unwrap();
    assert!(signed.status().is_success() || signed.status().is_redirection());
    admin
}

async fn user_names(wharf: &Wharf, admin: &reqwest::Client) -> Vec<String> {
    let (status, page) = call(wharf, admin, "access", &[]).await;
    assert_eq!(status, 200, "{page}");
    let users: Vec<app::model::UserView> = serde_json::from_value(page["users"].clone()).unwrap();
    users.into_iter().map(|user| user.username).collect()
}

#[tokio::test]
async fn a_provider_that_keeps_profile_claims_in_user_info_and_the_allow_list() {
    let wharf = Wharf::start().await;
    let provider = OidcProvider::start_certified(&format!("{}/auth/sso/callback", wharf.url));
    let admin = admin_browser(&wharf).await;
    let (status, body) = save_allowing(&wharf, &admin, &provider.issuer, "", "").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        call(&wharf, &admin, "create_team", &[("name", "platform")]).await.0,
        200
    );
    let (status, _) = call(&wharf, &admin, "team_group", &[("team", "platform"), ("group", "devs")]).await;
    assert_eq!(status, 200);

    // The ID token carries `sub` only: the name, e-mail and groups come from UserInfo.
    let landed = sign_in(&wharf, &admin, "erin:devs,ops", true).await;
    let result = test_result(&wharf, &admin, &landed).await;
    assert_eq!(result["username"], "erin", "{result}");
    assert_eq!(result["email"], "erin@example.org");
    assert_eq!(result["groups"], serde_json::json!(["devs", "ops"]));
    assert_eq!(result["teams"], serde_json::json!(["platform"]));
    let alice = browser();
    assert_eq!(sign_in(&wharf, &alice, "alice:devs", false).await, "/events");
    assert_eq!(me(&wharf, &alice).await["username"], "alice");

    // Allowed: in the group and the domain.
    let (status, body) = save_allowing(&wharf, &admin, &provider.issuer, "devs\nreleasers", "@Example.org").await;
    assert_eq!(status, 200, "{body}");
    let (_, settings) = call(&wharf, &admin, "sso_settings", &[]).await;
    assert_eq!(settings["allowed_groups"], serde_json::json!(["devs", "releasers"]));
    assert_eq!(settings["allowed_domains"], serde_json::json!(["example.org"]));
    let frank = browser();
    assert_eq!(sign_in(&wharf, &frank, "frank:releasers", false).await, "/events");
    assert_eq!(me(&wharf, &frank).await["username"], "frank");

    // Refused by group: not signed in, no user created, the sign-in page says why.
    let bob = browser();
    assert_eq!(sign_in(&wharf, &bob, "bob:ops", false).await, "/login?sso=failed");
    assert!(me(&wharf, &bob).await.is_null());
    assert!(sso_error(&wharf, &bob).await.contains("none of the provider groups"));
    assert!(!user_names(&wharf, &admin).await.contains(&"bob".to_string()));
    // The test sign-in shows the refusal without refusing the administrator (a new browser: the
    // provider remembers who signed in on the first one).
    let second_admin = admin_browser(&wharf).await;
    let landed = sign_in(&wharf, &second_admin, "bob:ops", true).await;
    let result = test_result(&wharf, &second_admin, &landed).await;
    assert!(
        result["refusal"]
            .as_str()
            .unwrap()
            .contains("none of the provider groups"),
        "{result}"
    );

    // Refused by domain, at every sign-in: alice exists already and is refused too.
    let (status, _) = save_allowing(&wharf, &admin, &provider.issuer, "devs", "corp.example").await;
    assert_eq!(status, 200);
    for (name, hint) in [("carol", "carol:devs"), ("alice", "alice:devs")] {
        let browser = browser();
        assert_eq!(
            sign_in(&wharf, &browser, hint, false).await,
            "/login?sso=failed",
            "{name}"
        );
        assert!(me(&wharf, &browser).await.is_null(), "{name}");
        assert!(
            sso_error(&wharf, &browser).await.contains("not in a domain allowed"),
            "{name}"
        );
    }
    assert!(!user_names(&wharf, &admin).await.contains(&"carol".to_string()));

    // Hostile lists are refused whole; the stored ones stay.
    let many = (0..101).map(|i| format!("g{i}")).collect::<Vec<_>>().join("\n");
    let long = "x".repeat(300);
    let huge = "a.example\n".repeat(5000);
    for (groups, domains, expected) in [
        (many.as_str(), "", "At most 100"),
        (long.as_str(), "", "At most 100"),
        ("", "not a domain", "not an e-mail domain"),
        ("", "evil.example/x", "not an e-mail domain"),
        ("", huge.as_str(), "too long"),
    ] {
        let (status, body) = save_allowing(&wharf, &admin, &provider.issuer, groups, domains).await;
        assert_eq!(status, 400, "{body}");
        assert!(body.to_string().contains(expected), "{expected}: {body}");
    }
    let (_, settings) = call(&wharf, &admin, "sso_settings", &[]).await;
    assert_eq!(settings["allowed_domains"], serde_json::json!(["corp.example"]));
}

#[tokio::test]
async fn a_providers_error_text_is_logged_not_shown() {
    let provider = OidcProvider::start();
    let wharf = Wharf::start().await;
    let admin = wharf.signed_in_client("admin", ADMIN_PASSWORD).await;
    let (status, body) = save_enabled(&wharf, &admin, &provider.issuer, "client-secret").await;
    assert_eq!(status, 200, "{body}");
    let lure = "Your account is locked. Call +1-555-0100 to unlock it.";
    let padding = "z".repeat(5000);
    for (code, expected) in [
        ("access_denied", "did not let you sign in"),
        ("<script>alert(1)</script>", "The provider refused the sign-in."),
    ] {
        let victim = browser();
        let start = victim
            .get(format!("{}/auth/sso/start", wharf.url))
            .send()
            .await
            .unwrap();
        let authorize = url::Url::parse(&location(&start)).unwrap();
        let state = authorize
            .query_pairs()
            .find(|(name, _)| name == "state")
            .map(|(_, value)| value.to_string())
            .unwrap();
        let description = format!("{lure} {padding}");
        let done = victim
            .get(format!("{}/auth/sso/callback", wharf.url))
            .query(&[("error", code), ("error_description", &description), ("state", &state)])
            .send()
            .await
            .unwrap();
        assert_eq!(location(&done), "/login?sso=failed");
        let shown = sso_error(&wharf, &victim).await;
        assert!(shown.contains(expected), "{code}: {shown}");
        assert!(!shown.contains("555") && !shown.contains("script"), "{shown}");
        assert!(me(&wharf, &victim).await.is_null());
    }
    let logs = wharf.logs();
    assert!(logs.contains(lure), "the description is logged");
    assert!(!logs.contains(&"z".repeat(300)), "capped in the log");
    assert_eq!(me(&wharf, &admin).await["username"], "admin", "still up");
}
