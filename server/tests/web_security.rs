//! Web security of a real console: cross-origin POSTs refused, sign-in redirects that stay on
//! Wharf, a hostile `next` that neither leaves the site nor breaks the response; the icon;
//! security headers; file modes and the registry's environment.

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

/// Pages carry a nonce-based policy that matches their inline scripts; every response refuses
/// framing and sniffing and is not cached (static assets excepted).
#[tokio::test]
async fn responses_carry_security_headers() {
    let wharf = Wharf::start().await;
    let client = wharf.signed_in_client("admin", ADMIN_PASSWORD).await;
    let page = client.get(format!("{}/access", wharf.url)).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let headers = page.headers().clone();
    let policy = headers["content-security-policy"].to_str().unwrap().to_string();
    let html = page.text().await.unwrap();
    let nonce = policy
        .split("'nonce-")
        .nth(1)
        .and_then(|rest| rest.split('\'').next())
        .unwrap_or_else(|| panic!("no nonce in {policy}"));
    assert!(nonce.len() >= 16, "{nonce}");
    assert!(
        html.contains(&format!("nonce=\"{nonce}\"")),
        "the inline scripts carry the policy's nonce"
    );
    for script in html.split("<script").skip(1) {
        let tag = script.split('>').next().unwrap();
        assert!(tag.contains("nonce="), "a script without the nonce: <script{tag}>");
    }
    assert!(
        policy.contains("frame-ancestors 'none'") && policy.contains("object-src 'none'"),
        "{policy}"
    );
    assert!(!policy.contains("unsafe-inline"), "{policy}");
    assert_eq!(headers["x-frame-options"], "DENY");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["referrer-policy"], "same-origin");
    assert_eq!(headers["cache-control"], "no-store");
    // Another rendering gets another nonce.
    let again = client.get(format!("{}/access", wharf.url)).send().await.unwrap();
    assert!(!again.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .contains(nonce));
    // Server functions (which return secrets) are not cached either; the icon may be.
    let (status, _) = support::call(&wharf, &client, "profile", &[]).await;
    assert_eq!(status, 200);
    let api = client.post(format!("{}/api/profile", wharf.url)).send().await.unwrap();
    assert_eq!(api.headers()["cache-control"], "no-store");
    assert!(api.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("frame-ancestors 'none'"));
    let icon = reqwest::get(format!("{}/favicon.svg", wharf.url)).await.unwrap();
    assert_ne!(icon.headers()["cache-control"], "no-store");
}

/// The data directory is its owner's alone from the start, and so is every file Wharf writes in
/// it; the registry Wharf starts sees none of Wharf's environment.
#[cfg(unix)]
#[tokio::test]
async fn files_and_the_registry_process_keep_secrets() {
    use std::os::unix::fs::PermissionsExt;
    let wharf = Wharf::start().await;
    let mode = |path: &std::path::Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&wharf.data_dir), 0o700);
    for entry in std::fs::read_dir(&wharf.data_dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            assert_eq!(mode(&path) & 0o077, 0, "{} is readable by others", path.display());
        }
    }
    assert!(wharf.data_dir.join("wharf.db").exists());
    let pid = wharf.pid().unwrap();
    // Children of every thread of the console (the registry is spawned from a runtime thread).
    let mut children = String::new();
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).unwrap() {
        children += &std::fs::read_to_string(task.unwrap().path().join("children")).unwrap_or_default();
        children.push(' ');
    }
    let mut checked = 0;
    for child in children.split_whitespace() {
        let environ = std::fs::read(format!("/proc/{child}/environ")).unwrap_or_default();
        let environ = String::from_utf8_lossy(&environ);
        assert!(!environ.contains("WHARF_"), "the registry got Wharf's variables");
        checked += 1;
    }
    assert!(checked >= 1, "the registry process was not found");
}

/// The stored session of the only signed-in browser (SQLite), decoded as tower-sessions keeps it.
struct StoredSession {
    pool: sqlx::SqlitePool,
    record: tower_sessions::session::Record,
}

impl StoredSession {
    async fn load(wharf: &Wharf) -> Option<StoredSession> {
        let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", wharf.data_dir.join("wharf.db").display()))
            .await
            .unwrap();
        let row: Option<(Vec<u8>,)> =
            sqlx::query_as("SELECT data FROM tower_sessions ORDER BY expiry_date DESC LIMIT 1")
                .fetch_optional(&pool)
                .await
                .unwrap();
        let record = rmp_serde::from_slice(&row?.0).unwrap();
        Some(StoredSession { pool, record })
    }

    fn set(&mut self, key: &str, value: i64) {
        self.record.data.insert(key.to_string(), serde_json::json!(value));
    }

    async fn save(&self) {
        sqlx::query("UPDATE tower_sessions SET data = ?, expiry_date = ? WHERE id = ?")
            .bind(rmp_serde::to_vec(&self.record).unwrap())
            .bind(self.record.expiry_date)
            .bind(self.record.id.to_string())
            .execute(&self.pool)
            .await
            .unwrap();
    }
}

async fn who(wharf: &Wharf, client: &reqwest::Client) -> serde_json::Value {
    let (status, me) = support::call(wharf, client, "me", &[]).await;
    assert_eq!(status, 200, "{me}");
    me
}

#[tokio::test]
async fn sessions_end_when_idle_and_after_their_absolute_lifetime() {
    let wharf = Wharf::start().await;
    let now_ms = || time::OffsetDateTime::now_utc().unix_timestamp() * 1000;

    // Activity pushes the idle expiry back (at most every few minutes, so not on every request).
    let client = wharf.signed_in_client("admin", ADMIN_PASSWORD).await;
    assert_eq!(who(&wharf, &client).await["username"], "admin");
    let mut stored = StoredSession::load(&wharf).await.expect("a stored session");
    stored.record.expiry_date = time::OffsetDateTime::now_utc() + time::Duration::seconds(60);
    stored.set("seen_at", now_ms() - 10 * 60 * 1000);
    stored.save().await;
    assert_eq!(who(&wharf, &client).await["username"], "admin");
    let touched = StoredSession::load(&wharf).await.unwrap();
    assert!(
        touched.record.expiry_date > time::OffsetDateTime::now_utc() + time::Duration::hours(11),
        "the idle timer was pushed back: {}",
        touched.record.expiry_date
    );

    // Idle past the expiry: signed out.
    let mut stored = touched;
    stored.record.expiry_date = time::OffsetDateTime::now_utc() - time::Duration::seconds(1);
    stored.save().await;
    assert!(who(&wharf, &client).await.is_null(), "an idle session has ended");

    // However active, a session ends a week after sign-in, and is removed.
    let client = wharf.signed_in_client("admin", ADMIN_PASSWORD).await;
    assert_eq!(who(&wharf, &client).await["username"], "admin");
    let mut stored = StoredSession::load(&wharf).await.unwrap();
    stored.set("signed_in_at", now_ms() - 8 * 24 * 3600 * 1000);
    stored.save().await;
    assert!(who(&wharf, &client).await.is_null(), "a week-old session has ended");
    let (status, _) = support::call(&wharf, &client, "access", &[]).await;
    assert_eq!(status, 401);
}
