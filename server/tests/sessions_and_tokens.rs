//! Sessions and registry logins of a real console: a password change, a reset or disabling a
//! user ends the user's other browser sessions at once (SQLite, and PostgreSQL when the test
//! server is there); `wharf admin reset-password` leaves a disabled user disabled; refresh
//! tokens end after their lifetime and can be listed and revoked on Profile; HSTS and the
//! scheme of the Origin check; a token created with JavaScript off is shown once.

mod support;

use app::model::{AccessView, ProfileView};
use support::{call, Options, Wharf, ADMIN_PASSWORD};

const PASSWORD: &str = "bob-password-1";

/// Who the client's session belongs to (`None`: signed out).
async fn who(wharf: &Wharf, client: &reqwest::Client) -> Option<String> {
    let (status, me) = call(wharf, client, "me", &[]).await;
    assert_eq!(status, 200, "{me}");
    me["username"].as_str().map(str::to_string)
}

async fn user_id(wharf: &Wharf, admin: &reqwest::Client, name: &str) -> String {
    let (status, body) = call(wharf, admin, "access", &[]).await;
    assert_eq!(status, 200, "{body}");
    let access: AccessView = serde_json::from_value(body).unwrap();
    access.users.into_iter().find(|u| u.username == name).unwrap().id
}

async fn create_bob(wharf: &Wharf, admin: &reqwest::Client) -> String {
    let (status, body) = call(
        wharf,
        admin,
        "create_user",
        &[("username", "bob"), ("password", PASSWORD)],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    user_id(wharf, admin, "bob").await
}

async fn profile(wharf: &Wharf, client: &reqwest::Client) -> ProfileView {
    let (status, body) = call(wharf, client, "profile", &[]).await;
    assert_eq!(status, 200, "{body}");
    serde_json::from_value(body).unwrap()
}

/// A refresh token for `user` as `client_id` would get it (the OAuth2 password grant, offline).
async fn refresh_token(wharf: &Wharf, user: &str, password: &str, client_id: &str) -> String {
    let (status, body) = support::token_form(
        wharf,
        &[
            ("grant_type", "password"),
            ("username", user),
            ("password", password),
            ("client_id", client_id),
            ("access_type", "offline"),
            ("service", "wharf-registry"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body["refresh_token"].as_str().unwrap().to_string()
}

/// The status of a real refresh grant with `token`.
async fn refresh(wharf: &Wharf, token: &str) -> u16 {
    let (status, body) = support::token_form(
        wharf,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", token),
            ("client_id", "docker"),
            ("service", "wharf-registry"),
        ],
    )
    .await;
    if status != 200 {
        assert_eq!(body["error"], "invalid_grant", "{body}");
    }
    status
}

/// A password change keeps the session that made it and signs out every other one, which stays
/// signed out; a reset and disabling sign out all the user's sessions, and enabling the user does
/// not bring them back.
async fn sessions_end_on_password_change_reset_and_disable(wharf: &Wharf) {
    let admin = wharf.signed_in_client("admin", ADMIN_PASSWORD).await;
    let bob_id = create_bob(wharf, &admin).await;

    let here = wharf.signed_in_client("bob", PASSWORD).await;
    let elsewhere = wharf.signed_in_client("bob", PASSWORD).await;
    assert_eq!(who(wharf, &elsewhere).await.as_deref(), Some("bob"));
    let (status, body) = call(
        wharf,
        &here,
        "change_password",
        &[("current", PASSWORD), ("new_password", "bob-password-2")],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        who(wharf, &here).await.as_deref(),
        Some("bob"),
        "the changing session goes on"
    );
    assert_eq!(call(wharf, &here, "profile", &[]).await.0, 200);
    assert_eq!(who(wharf, &elsewhere).await, None, "the other session has ended");
    assert_eq!(call(wharf, &elsewhere, "profile", &[]).await.0, 401);
    assert_eq!(
        who(wharf, &admin).await.as_deref(),
        Some("admin"),
        "other users stay signed in"
    );

    // An administrator's reset ends every session of the user, the one above included.
    let other = wharf.signed_in_client("bob", "bob-password-2").await;
    let (status, body) = call(wharf, &admin, "reset_password", &[("id", &bob_id)]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(who(wharf, &here).await, None);
    assert_eq!(who(wharf, &other).await, None);
    let reset_password = body["secret"].as_str().unwrap().to_string();

    // Disabling ends them too; enabling again does not revive them.
    let bob = wharf.signed_in_client("bob", &reset_password).await;
    assert_eq!(who(wharf, &bob).await.as_deref(), Some("bob"));
    for disabled in ["true", "false"] {
        let (status, body) = call(
            wharf,
            &admin,
            "set_user_disabled",
            &[("id", &bob_id), ("disabled", disabled)],
        )
        .await;
        assert_eq!(status, 200, "{body}");
    }
    assert_eq!(who(wharf, &bob).await, None, "a disabled user's session stays ended");
    let again = wharf.signed_in_client("bob", &reset_password).await;
    assert_eq!(who(wharf, &again).await.as_deref(), Some("bob"), "a new sign-in works");
}

#[tokio::test]
async fn password_change_reset_and_disable_end_other_sessions_on_sqlite() {
    let wharf = Wharf::start().await;
    sessions_end_on_password_change_reset_and_disable(&wharf).await;
    // The ended sessions are gone from the store, not only refused.
    let db = wharf.db().await;
    let stored: i64 = sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM tower_sessions")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert!(
        stored <= 2,
        "{stored} sessions stored; only admin's and bob's last are alive"
    );
}

#[tokio::test]
async fn password_change_reset_and_disable_end_other_sessions_on_postgres() {
    let Some(db) = support::postgres_database().await else {
        return;
    };
    let wharf = Wharf::start_with(Options {
        database_url: Some(db.url.clone()),
        ..Options::default()
    })
    .await;
    sessions_end_on_password_change_reset_and_disable(&wharf).await;
}

/// `wharf admin reset-password` on a disabled user: a new password, the user's sessions ended,
/// and the user still disabled (the output says so) unless `--enable`.
#[tokio::test]
async fn the_command_line_reset_keeps_a_disabled_user_disabled() {
    let wharf = Wharf::start().await;
    let admin = wharf.signed_in_client("admin", ADMIN_PASSWORD).await;
    let bob_id = create_bob(&wharf, &admin).await;
    let bob = wharf.signed_in_client("bob", PASSWORD).await;
    let data_dir = wharf.data_dir.to_str().unwrap().to_string();
    let reset = |extra: &[&str]| {
        let mut args = vec!["admin", "reset-password", "bob", "--data-dir", &data_dir];
        args.extend_from_slice(extra);
        let output = support::run_wharf_to_exit(&args, &[]);
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        let stdout = String::from_utf8_lossy(&output.stdout).to_string();
        let password = stdout
            .lines()
            .find_map(|l| l.strip_prefix("New password for bob: "))
            .unwrap()
            .to_string();
        (password, stdout)
    };

    // An enabled user: the running console's session of bob ends, the new password signs in.
    let (password, stdout) = reset(&[]);
    assert!(!stdout.contains("disabled"), "{stdout}");
    assert_eq!(who(&wharf, &bob).await, None);
    let bob = wharf.signed_in_client("bob", &password).await;
    assert_eq!(who(&wharf, &bob).await.as_deref(), Some("bob"));

    let (status, body) = call(
        &wharf,
        &admin,
        "set_user_disabled",
        &[("id", &bob_id), ("disabled", "true")],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (password, stdout) = reset(&[]);
    assert!(
        stdout.contains("stays disabled") && stdout.contains("--enable"),
        "{stdout}"
    );
    let refused = reqwest::Client::new()
        .post(format!("{}/api/login", wharf.url))
        .form(&[("username", "bob"), ("password", password.as_str())])
        .send()
        .await
        .unwrap();
    assert!(!refused.status().is_success(), "a disabled user cannot sign in");
    let (_, body) = call(&wharf, &admin, "access", &[]).await;
    let access: AccessView = serde_json::from_value(body).unwrap();
    assert!(access.users.iter().any(|u| u.username == "bob" && u.disabled));

    let (password, stdout) = reset(&["--enable"]);
    assert!(stdout.contains("enabled again"), "{stdout}");
    let bob = wharf.signed_in_client("bob", &password).await;
    assert_eq!(who(&wharf, &bob).await.as_deref(), Some("bob"));
}

/// A refresh token works until its absolute lifetime, however often it is used, then is refused
/// (and deleted).
#[tokio::test]
async fn refresh_tokens_end_after_their_lifetime() {
    let wharf = Wharf::start_with(Options {
        extra_args: vec!["--refresh-token-days".into(), "30".into()],
        ..Options::default()
    })
    .await;
    let young = refresh_token(&wharf, "admin", ADMIN_PASSWORD, "docker").await;
    let old = refresh_token(&wharf, "admin", ADMIN_PASSWORD, "docker").await;
    assert_eq!(refresh(&wharf, &old).await, 200);
    let db = wharf.db().await;
    let day_ms: i64 = 24 * 3600 * 1000;
    let age = |token: &str, days: i64| {
        let hash = app::backend::access::secrets::hash(token);
        let db = db.clone();
        async move {
            sqlx::query("UPDATE refresh_tokens SET created_at = created_at - $1 WHERE secret_hash = $2")
                .bind(days * day_ms)
                .bind(hash)
                .execute(&db.pool)
                .await
                .unwrap();
        }
    };
    age(&young, 29).await;
    age(&old, 31).await;
    assert_eq!(refresh(&wharf, &young).await, 200, "29 days old, within 30");
    assert_eq!(refresh(&wharf, &old).await, 401, "31 days old, past 30");
    assert_eq!(refresh(&wharf, &old).await, 401);
    let left: i64 = sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM refresh_tokens")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(left, 1, "the expired one is deleted");
    let admin = wharf.signed_in_client("admin", ADMIN_PASSWORD).await;
    let listed = profile(&wharf, &admin).await.refresh_tokens;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].expires_at_ms - listed[0].created_at_ms, 30 * day_ms);

    // Out-of-range lifetimes are refused at start, with the flag named.
    for days in ["0", "3651", "x"] {
        let output = support::run_wharf_to_exit(&["serve", "--refresh-token-days", days], &[]);
        assert!(!output.status.success());
        assert!(
            String::from_utf8_lossy(&output.stderr).contains("--refresh-token-days"),
            "{days}"
        );
    }
}

/// Profile lists the user's registry logins with their client and last use; Revoke ends one at
/// once for a real refresh grant, and only one's own.
#[tokio::test]
async fn registry_logins_are_listed_and_revoked_on_profile() {
    let wharf = Wharf::start().await;
    let admin = wharf.signed_in_client("admin", ADMIN_PASSWORD).await;
    create_bob(&wharf, &admin).await;
    let bob = wharf.signed_in_client("bob", PASSWORD).await;
    let hostile_client = format!("evil\u{1b}[31m\n{}", "c".repeat(500));
    let docker = refresh_token(&wharf, "bob", PASSWORD, "docker").await;
    let other = refresh_token(&wharf, "bob", PASSWORD, &hostile_client).await;
    let admins = refresh_token(&wharf, "admin", ADMIN_PASSWORD, "docker").await;
    assert_eq!(refresh(&wharf, &docker).await, 200);

    let listed = profile(&wharf, &bob).await.refresh_tokens;
    assert_eq!(listed.len(), 2, "{listed:?}");
    let docker_row = listed.iter().find(|t| t.client.as_deref() == Some("docker")).unwrap();
    assert!(docker_row.last_used_at_ms.is_some(), "used once: {docker_row:?}");
    assert_eq!(docker_row.token_name, None, "logged in with the password");
    let hostile_row = listed.iter().find(|t| t.client.as_deref() != Some("docker")).unwrap();
    let shown = hostile_row.client.as_deref().unwrap();
    assert!(
        shown.starts_with("evil[31m") && shown.chars().count() == 64,
        "{shown:?}"
    );
    assert!(!shown.chars().any(char::is_control));
    assert_eq!(hostile_row.last_used_at_ms, None);

    // Someone else's login, or a made-up one: not found, and it keeps working.
    let admins_id = profile(&wharf, &admin).await.refresh_tokens[0].id.clone();
    for id in [admins_id.as_str(), "no-such-login", &"x".repeat(10_000)] {
        let (status, body) = call(&wharf, &bob, "revoke_refresh_token", &[("id", id)]).await;
        assert_eq!(status, 404, "{body}");
    }
    assert_eq!(refresh(&wharf, &admins).await, 200);

    let (status, body) = call(&wharf, &bob, "revoke_refresh_token", &[("id", &docker_row.id)]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(refresh(&wharf, &docker).await, 401, "revoked: refused at once");
    assert_eq!(refresh(&wharf, &other).await, 200, "the other login still works");
    assert_eq!(profile(&wharf, &bob).await.refresh_tokens.len(), 1);
    let (status, _) = call(
        &wharf,
        &reqwest::Client::new(),
        "revoke_refresh_token",
        &[("id", &hostile_row.id)],
    )
    .await;
    assert_eq!(status, 401, "signed out: refused");
    assert_eq!(refresh(&wharf, &other).await, 200);
}

/// HSTS only when the public URL is https; the Origin check tells http from https on the same
/// host.
#[tokio::test]
async fn https_public_urls_get_hsts_and_the_origin_scheme_counts() {
    let plain = Wharf::start().await;
    let client = reqwest::Client::new();
    let page = client.get(format!("{}/login", plain.url)).send().await.unwrap();
    assert!(page.headers().get("strict-transport-security").is_none());
    // Posting needs a session: 401 once the origin check let the request through, 403 before.
    let post_from = |wharf: &Wharf, origin: String| {
        client
            .post(format!("{}/api/resync", wharf.url))
            .header("origin", origin)
            .send()
    };
    let authority = plain.url.trim_start_matches("http://").to_string();
    assert_eq!(
        post_from(&plain, format!("http://{authority}")).await.unwrap().status(),
        401
    );
    let refused = post_from(&plain, format!("https://{authority}")).await.unwrap();
    assert_eq!(refused.status(), 403);
    assert!(refused.text().await.unwrap().contains("Refused"));

    let secure = Wharf::start_with(Options {
        extra_args: vec!["--public-url".into(), "https://wharf.test".into()],
        ..Options::default()
    })
    .await;
    for path in ["/login", "/healthz", "/favicon.svg"] {
        let response = client.get(format!("{}{path}", secure.url)).send().await.unwrap();
        assert_eq!(
            response.headers()["strict-transport-security"],
            "max-age=31536000",
            "{path}"
        );
    }
    assert_eq!(
        post_from(&secure, "https://wharf.test".into()).await.unwrap().status(),
        401
    );
    for origin in [
        "http://wharf.test".to_string(),
        secure.url.clone(),
        format!("https://{}", secure.url.trim_start_matches("http://")).replace("127.0.0.1", "localhost"),
    ] {
        assert_eq!(
            post_from(&secure, origin.clone()).await.unwrap().status(),
            403,
            "{origin}"
        );
    }
}

/// With JavaScript off, the Create token form is answered with a redirect to Profile, which shows
/// the new token once; a call from the hydrated page (JSON) leaves nothing in the session.
#[tokio::test]
async fn a_token_created_without_javascript_is_shown_once() {
    let wharf = Wharf::start().await;
    let admin = wharf.signed_in_client("admin", ADMIN_PASSWORD).await;
    let response = admin
        .post(format!("{}/api/create_token", wharf.url))
        .header(
            "Accept",
            "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
        )
        .header("Referer", format!("{}/profile", wharf.url))
        .form(&[("name", "laptop"), ("days", "30")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.url().path(),
        "/profile",
        "the form's answer leads back to Profile"
    );
    let html = response.text().await.unwrap();
    let secret = html
        .split("wharf_pat_")
        .nth(1)
        .map(|rest| {
            let tail: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
                .collect();
            format!("wharf_pat_{tail}")
        })
        .unwrap_or_else(|| panic!("the new token is not on the page:\n{html}"));
    assert!(secret.len() > "wharf_pat_".len() + 16, "{secret}");
    // The token shown is the real one.
    let token = reqwest::Client::new()
        .get(format!("{}/auth/token?service=wharf-registry", wharf.url))
        .basic_auth("admin", Some(&secret))
        .send()
        .await
        .unwrap();
    assert_eq!(token.status(), 200);
    // Once only.
    let (status, again) = wharf.page(&admin, "/profile").await;
    assert_eq!(status, 200);
    assert!(again.contains("laptop") && !again.contains(&secret));

    let (status, body) = call(&wharf, &admin, "create_token", &[("name", "ci"), ("days", "30")]).await;
    assert_eq!(status, 200, "{body}");
    let json_secret = body["secret"].as_str().unwrap();
    assert_eq!(profile(&wharf, &admin).await.new_token, None);
    let (_, page) = wharf.page(&admin, "/profile").await;
    assert!(!page.contains(json_secret));
}
