//! The thin path end to end: a real client (skopeo) logs in through the token server and pushes;
//! the repository shows in the catalog, the push on the Events page.

mod support;

use support::{eventually, oci_layout, skopeo, temp_dir, Wharf, ADMIN_PASSWORD};

#[tokio::test]
async fn skopeo_push_shows_in_catalog_and_events() {
    let wharf = Wharf::start().await;
    let guard = temp_dir("skopeo");
    let work = guard.path();
    let authfile = work.join("auth.json");
    let authfile = authfile.to_str().unwrap();

    let skopeo_login = |password: &str| {
        skopeo(&[
            "login",
            "--authfile",
            authfile,
            "--tls-verify=false",
            "-u",
            "admin",
            "-p",
            password,
            &wharf.registry_host,
        ])
    };
    let login = skopeo_login(ADMIN_PASSWORD);
    assert!(
        login.status.success(),
        "skopeo login: {}",
        String::from_utf8_lossy(&login.stderr)
    );

    let wrong = skopeo_login("nope");
    assert!(!wrong.status.success(), "login with a wrong password must fail");

    let layout = work.join("layout");
    oci_layout(
        &layout,
        "1.0",
        &["--platforms", "linux/amd64,linux/arm64", "--layers", "2"],
    );
    let destination = format!("docker://{}/team/app:1.0", wharf.registry_host);
    let copy = skopeo(&[
        "copy",
        "--authfile",
        authfile,
        "--dest-tls-verify=false",
        "--all",
        &format!("oci:{}:1.0", layout.display()),
        &destination,
    ]);
    assert!(
        copy.status.success(),
        "skopeo copy: {}\n{}",
        String::from_utf8_lossy(&copy.stderr),
        wharf.logs()
    );

    // Reading it back with the same real client proves the registry accepts our tokens for pull.
    let inspect = skopeo(&[
        "inspect",
        "--authfile",
        authfile,
        "--tls-verify=false",
        "--raw",
        &destination,
    ]);
    assert!(
        inspect.status.success(),
        "skopeo inspect: {}",
        String::from_utf8_lossy(&inspect.stderr)
    );
    assert!(String::from_utf8_lossy(&inspect.stdout).contains("application/vnd.oci.image.index.v1+json"));

    let client = wharf.signed_in_client("admin", ADMIN_PASSWORD).await;
    let (status, catalog) = wharf.page(&client, "/").await;
    assert_eq!(status, 200);
    assert!(catalog.contains("team/app"), "catalog lacks the repository:\n{catalog}");

    // The registry notifies asynchronously: poll the Events page, bounded.
    let seen = eventually(80, || async {
        let (_, events) = wharf.page(&client, "/events").await;
        events.contains("team/app") && events.contains("1.0") && events.contains("push")
    })
    .await;
    assert!(seen, "the push never reached the Events page:\n{}", wharf.logs());
}

#[tokio::test]
async fn pages_ask_for_sign_in_and_server_functions_refuse_anonymous_callers() {
    let wharf = Wharf::start().await;
    let anonymous = reqwest::Client::new();
    let (status, html) = wharf.page(&anonymous, "/").await;
    assert_eq!(status, 200);
    assert!(html.contains("Sign in to see this page"), "{html}");
    let events = anonymous
        .post(format!("{}/api/events", wharf.url))
        .header("Accept", "application/json")
        .form(&[("cursor", "")])
        .send()
        .await
        .unwrap();
    assert_eq!(
        events.status(),
        401,
        "anonymous server fn call must be refused as unauthorized"
    );
    let body = events.text().await.unwrap();
    assert!(body.contains("Unauthorized"), "{body}");

    let (status, html) = wharf.page(&anonymous, "/no/such/page").await;
    assert_eq!(status, 404);
    assert!(html.contains("Page not found"));
}

#[tokio::test]
async fn wrong_password_does_not_sign_in() {
    let wharf = Wharf::start().await;
    let client = reqwest::Client::builder().cookie_store(true).build().unwrap();
    let refused = client
        .post(format!("{}/api/login", wharf.url))
        .header("Accept", "application/json")
        .form(&[("username", "admin"), ("password", "wrong")])
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 400, "a user's mistake is a 4xx, not a 500");
    assert!(refused.text().await.unwrap().contains("Wrong user name or password"));

    // A plain HTML form post (no JavaScript) is sent back to the form with the error.
    let form = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .post(format!("{}/api/login", wharf.url))
        .header("Accept", "text/html")
        .header("Referer", format!("{}/login", wharf.url))
        .form(&[("username", "admin"), ("password", "wrong")])
        .send()
        .await
        .unwrap();
    assert_eq!(form.status(), 302);
    let location = form.headers()["location"].to_str().unwrap().to_string();
    assert!(location.contains("/login") && location.contains("__err="), "{location}");
    let (_, html) = wharf.page(&client, location.trim_start_matches(&wharf.url)).await;
    assert!(html.contains("Wrong user name or password"), "{html}");
    let (_, html) = wharf.page(&client, "/").await;
    assert!(html.contains("Sign in to see this page"));
}

#[tokio::test]
async fn registry_down_shows_a_banner_not_an_error_page() {
    // Nothing listens on this port.
    let dead = format!("http://127.0.0.1:{}", support::free_port());
    let wharf = Wharf::start_with(support::Options {
        registry_url: Some(dead),
        ..Default::default()
    })
    .await;
    let client = wharf.signed_in_client("admin", ADMIN_PASSWORD).await;
    // The health check notices within a few seconds; pages still render, from the index.
    let bannered = eventually(80, || async {
        let (status, html) = wharf.page(&client, "/").await;
        status == 200 && html.contains("banner-warning") && html.contains("may be out of date")
    })
    .await;
    assert!(bannered, "{}", wharf.page(&client, "/").await.1);
    let ready = reqwest::get(format!("{}/readyz", wharf.url)).await.unwrap();
    assert_eq!(ready.status().as_u16(), 503);
    let body: serde_json::Value = ready.json().await.unwrap();
    assert_eq!(body["database"], "ok");
    assert_eq!(body["registry"], "unavailable", "no raw error text");
}
