//! Web security of a real console: cross-origin POSTs refused, sign-in redirects that stay on
//! Wharf, a hostile `next` that neither leaves the site nor breaks the response; the icon.

mod support;

use support::{Wharf, ADMIN_PASSWORD};

#[tokio::test]
async fn posts_from_other_origins_are_refused() {
    let wharf = Wharf::start().await;
    let client = wharf.signed_in_client("admin", ADMIN_PASSWORD).await;
    let resync = |headers: &'static [(&'static str, &'static str)]| {
        let mut request = client.post(format!("{}/api/resync", wharf.url));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request
    };
    for headers in [
        &[("origin", "http://evil.example")][..],
        &[("origin", "null")][..],
        &[("sec-fetch-site", "same-site")][..],
        &[("sec-fetch-site", "cross-site")][..],
    ] {
        let response = resync(headers).send().await.unwrap();
        assert_eq!(response.status(), 403, "{headers:?}");
        assert!(response.text().await.unwrap().contains("Refused"));
    }
    // Another port on the same host is another origin too.
    let port = url::Url::parse(&wharf.url).unwrap().port().unwrap();
    let other_port = format!("http://127.0.0.1:{}", port + 1);
    let response = client
        .post(format!("{}/api/resync", wharf.url))
        .header("origin", other_port)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);

    // From Wharf's own pages it works.
    let response = client
        .post(format!("{}/api/resync", wharf.url))
        .header("origin", wharf.url.trim_end_matches('/'))
        .header("sec-fetch-site", "same-origin")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
}

#[tokio::test]
async fn sign_in_redirects_stay_on_wharf() {
    let wharf = Wharf::start().await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    for next in [
        "/\t/evil.example",
        "/\n/evil.example",
        "//evil.example",
        "https://evil.example/",
        "/events\r\nSet-Cookie: stolen=1",
        "/r/shop/api?tab=tags",
    ] {
        let response = client
            .post(format!("{}/api/login", wharf.url))
            .header("referer", format!("{}/login", wharf.url))
            .form(&[("username", "admin"), ("password", ADMIN_PASSWORD), ("next", next)])
            .send()
            .await
            .unwrap_or_else(|e| panic!("{next:?}: the connection failed: {e}"));
        let location = response
            .headers()
            .get("location")
            .map(|l| l.to_str().unwrap().to_string())
            .unwrap_or_default();
        assert!(response
            .headers()
            .get_all("set-cookie")
            .iter()
            .all(|c| !c.to_str().unwrap().contains("stolen")));
        assert!(
            location.starts_with('/') && !location.starts_with("//") && !location.contains('\\'),
            "{next:?} -> {location:?}"
        );
        let resolved = url::Url::parse(&wharf.url).unwrap().join(&location).unwrap();
        assert_eq!(resolved.host_str(), Some("127.0.0.1"), "{next:?} -> {location:?}");
    }
    let (status, _) = wharf.page(&client, "/healthz").await;
    assert_eq!(status, 200, "the console is still up");
}

/// Browsers ask for `/favicon.ico` on every page; it is served, and the pages link the icon.
#[tokio::test]
async fn the_icon_is_served() {
    let wharf = Wharf::start().await;
    let client = reqwest::Client::new();
    for path in ["/favicon.ico", "/favicon.svg"] {
        let response = client.get(format!("{}{path}", wharf.url)).send().await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
        assert_eq!(response.headers()["content-type"], "image/svg+xml");
        assert!(response.text().await.unwrap().starts_with("<svg"));
    }
    let (status, html) = wharf.page(&client, "/login").await;
    assert_eq!(status, 200);
    assert!(html.contains(r#"<link rel="icon" href="/favicon.svg""#), "{html}");
}
