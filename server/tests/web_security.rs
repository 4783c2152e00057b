//! Web security of a real console: cross-origin POSTs refused, sign-in redirects that stay on
//! Wharf, a hostile `next` that neither leaves the site nor breaks the response; the icon;
//! security headers; file modes and the registry's environment; what readers who are not
//! administrators may not see (quarantined events, the registry's errors) and a live stream that
//! follows its reader's access.

mod support;

use std::time::Duration;

use app::model::{AccessView, EventsPage, SyncStatus, REGISTRY_UNREACHABLE};
use support::{call, is_repository_update, push_image, LiveStream, Wharf, ADMIN_PASSWORD};

const READER_PASSWORD: &str = "reader-password-1";

/// Creates the user `name` with `roles` (role, scope) and the reader password; returns the
/// assignments' ids.
async fn user_with_roles(wharf: &Wharf, admin: &reqwest::Client, name: &str, roles: &[(&str, &str)]) -> Vec<String> {
    support::create_user_with_roles(wharf, admin, name, READER_PASSWORD, roles).await
}

async fn user_id(wharf: &Wharf, admin: &reqwest::Client, name: &str) -> String {
    let (status, body) = call(wharf, admin, "access", &[]).await;
    assert_eq!(status, 200, "{body}");
    let view: AccessView = serde_json::from_value(body).unwrap();
    view.users.into_iter().find(|u| u.username == name).unwrap().id
}

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

/// A demoted reader's open stream hears no more of what it lost; a disabled one's, a signed-out
/// one's and one whose session is gone from the store end.
#[tokio::test]
async fn the_live_stream_follows_its_readers_access() {
    let wharf = Wharf::start().await;
    let admin = wharf.signed_in_client("admin", ADMIN_PASSWORD).await;
    let roles = user_with_roles(
        &wharf,
        &admin,
        "rita",
        &[("reader", "team-a/"), ("reader", "sentinel/")],
    )
    .await;
    let rita = wharf.signed_in_client("rita", READER_PASSWORD).await;
    let mut stream = LiveStream::open(&wharf, &rita).await;
    let wait = Duration::from_secs(60);
    push_image(&wharf.registry_url(), "team-a/api", "1", &[], true);
    stream.until(wait, |u| is_repository_update(u, "team-a/api")).await;

    // Demoted: her role in team-a/ is removed while the stream is open.
    let (status, body) = call(&wharf, &admin, "remove_assignment", &[("id", &roles[0])]).await;
    assert_eq!(status, 200, "{body}");
    push_image(&wharf.registry_url(), "team-a/api", "2", &[], true);
    let applied = support::eventually(240, || async {
        let page = support::repository(&wharf, &admin, "team-a/api").await;
        page.to_string().contains("\"2\"")
    })
    .await;
    assert!(applied, "{}", wharf.logs());
    // Published after team-a/api:2, so heard after it, had she still heard of team-a/.
    push_image(&wharf.registry_url(), "sentinel/app", "1", &[], true);
    let heard = stream.until(wait, |u| is_repository_update(u, "sentinel/app")).await;
    assert!(
        !heard.iter().any(|u| is_repository_update(u, "team-a/api")),
        "a demoted reader still hears of team-a/: {heard:?}"
    );

    // Disabled: the stream ends.
    let id = user_id(&wharf, &admin, "rita").await;
    let (status, body) = call(
        &wharf,
        &admin,
        "set_user_disabled",
        &[("id", &id), ("disabled", "true")],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(
        stream.ends_within(Duration::from_secs(20)).await,
        "a disabled user's stream stays open"
    );
    let refused = rita.get(format!("{}/api/stream", wharf.url)).send().await.unwrap();
    assert_eq!(refused.status().as_u16(), 401);

    // Signed out (in another tab): the stream ends.
    let (status, body) = call(
        &wharf,
        &admin,
        "set_user_disabled",
        &[("id", &id), ("disabled", "false")],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let rita = wharf.signed_in_client("rita", READER_PASSWORD).await;
    let mut stream = LiveStream::open(&wharf, &rita).await;
    let (status, _) = call(&wharf, &rita, "logout", &[]).await;
    assert!(status < 400, "logout answered {status}");
    assert!(
        stream.ends_within(Duration::from_secs(20)).await,
        "a signed-out user's stream stays open"
    );

    // The session vanishes from the store without any signal (it expired, or another replica
    // ended it): the periodic check ends the stream within a minute.
    let rita = wharf.signed_in_client("rita", READER_PASSWORD).await;
    let mut stream = LiveStream::open(&wharf, &rita).await;
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", wharf.data_dir.join("wharf.db").display()))
        .await
        .unwrap();
    sqlx::query("DELETE FROM tower_sessions").execute(&pool).await.unwrap();
    assert!(
        stream.ends_within(Duration::from_secs(75)).await,
        "a stream whose session is gone stays open"
    );
    // The administrator's own (deleted too) is refused now; the console is still up.
    assert_eq!(wharf.page(&admin, "/healthz").await.0, 200);
}

/// Events the registry sent that Wharf could not use are raw JSON of any repository, with client
/// addresses: administrators see them, a reader (even of everything) does not.
#[tokio::test]
async fn the_quarantine_is_for_administrators_only() {
    let wharf = Wharf::start().await;
    let admin = wharf.signed_in_client("admin", ADMIN_PASSWORD).await;
    user_with_roles(&wharf, &admin, "rita", &[("reader", "")]).await;
    let rita = wharf.signed_in_client("rita", READER_PASSWORD).await;
    let secret = std::fs::read_to_string(wharf.data_dir.join("notification-secret")).unwrap();
    let envelope = serde_json::json!({"events": [{
        "id": "unusable-1", "timestamp": "not a time", "action": "push",
        "target": {"repository": "secret/app", "tag": "leaky-tag"},
        "request": {"addr": "10.9.8.7:4242"}
    }]});
    let response = reqwest::Client::new()
        .post(format!("{}/registry/events", wharf.url))
        .bearer_auth(secret.trim())
        .body(envelope.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);

    let events = |client: &reqwest::Client| {
        let form = [("repository", ""), ("action", ""), ("pusher", "")];
        let client = client.clone();
        let wharf = &wharf;
        async move {
            let (status, body) = call(wharf, &client, "events", &form).await;
            assert_eq!(status, 200, "{body}");
            serde_json::from_value::<EventsPage>(body).unwrap()
        }
    };
    // Stored moments after the answer (journaled first).
    assert!(support::eventually(40, || async { events(&admin).await.quarantined.len() == 1 }).await);
    let admins = events(&admin).await;
    assert_eq!(admins.quarantined.len(), 1, "{admins:?}");
    assert!(admins.quarantined[0].payload.contains("10.9.8.7"));
    let readers = events(&rita).await;
    assert!(readers.quarantined.is_empty(), "{readers:?}");
    let (status, html) = wharf.page(&rita, "/events").await;
    assert_eq!(status, 200);
    assert!(!html.contains("leaky-tag") && !html.contains("10.9.8.7") && !html.contains("Quarantined"));
    let (_, html) = wharf.page(&admin, "/events").await;
    assert!(
        html.contains("Quarantined events") && html.contains("leaky-tag"),
        "{html}"
    );
}

/// While the registry cannot be reached, administrators see why (its address, the error);
/// other readers see only that it cannot be reached: on pages, in server functions and on the
/// live stream.
#[tokio::test]
async fn only_administrators_see_the_registrys_address_and_errors() {
    let port = support::free_port();
    let dead = format!("http://127.0.0.1:{port}");
    let wharf = Wharf::start_with(support::Options {
        registry_url: Some(dead),
        ..Default::default()
    })
    .await;
    let admin = wharf.signed_in_client("admin", ADMIN_PASSWORD).await;
    user_with_roles(&wharf, &admin, "rita", &[("reader", "")]).await;
    let rita = wharf.signed_in_client("rita", READER_PASSWORD).await;
    let catalog_status = |client: &reqwest::Client| {
        let client = client.clone();
        let wharf = &wharf;
        async move {
            let form = [
                ("query[search]", ""),
                ("query[namespace]", ""),
                ("query[sort]", "Name"),
                ("query[page]", "1"),
            ];
            let (status, body) = call(wharf, &client, "catalog", &form).await;
            assert_eq!(status, 200, "{body}");
            serde_json::from_value::<SyncStatus>(body["sync"].clone()).unwrap()
        }
    };
    let noticed = support::eventually(120, || async { catalog_status(&admin).await.registry_error.is_some() }).await;
    assert!(noticed, "{}", wharf.logs());
    let detail = catalog_status(&admin).await.registry_error.unwrap();
    assert!(
        detail.contains(&port.to_string()),
        "administrators see the detail: {detail}"
    );

    let plain = catalog_status(&rita).await;
    assert_eq!(plain.registry_error.as_deref(), Some(REGISTRY_UNREACHABLE));
    let (status, html) = wharf.page(&rita, "/").await;
    assert_eq!(status, 200);
    assert!(html.contains("may be out of date"), "{html}");
    assert!(!html.contains(&detail) && !html.contains("is unreachable ("), "{html}");
    let mut stream = LiveStream::open(&wharf, &rita).await;
    let first = stream.until(Duration::from_secs(10), |u| u["kind"] == "sync").await;
    let status: SyncStatus = serde_json::from_value(first.last().unwrap()["status"].clone()).unwrap();
    assert_eq!(status.registry_error.as_deref(), Some(REGISTRY_UNREACHABLE));
    assert!(!first.last().unwrap().to_string().contains(&port.to_string()));
    // The manifest page, which asks the registry live, does not quote it to her either.
    let unknown = format!("sha256:{}", "1".repeat(64));
    let (status, error) = call(
        &wharf,
        &rita,
        "manifest",
        &[("repository", "any/app"), ("reference", &unknown)],
    )
    .await;
    assert_eq!(status, 503, "{error}");
    assert!(!error.to_string().contains(&port.to_string()), "{error}");
    let mut admins = LiveStream::open(&wharf, &admin).await;
    let first = admins.until(Duration::from_secs(10), |u| u["kind"] == "sync").await;
    assert!(first.last().unwrap().to_string().contains(&port.to_string()));
}
