//! Roles enforced where they matter: on the real registry through skopeo (pull, push, delete),
//! in the token server's both forms, in the server functions, and in the explainer, which must
//! agree with every row.

mod support;

use std::process::Output;

use app::model::{Explanation, NewSecret};
use support::{call, oci_layout, push_image, skopeo, temp_dir, Wharf, ADMIN_PASSWORD};

const PASSWORD: &str = "correct-horse-battery";
const CATALOG: &[(&str, &str)] = &[
    ("query[search]", ""),
    ("query[sort]", "Name"),
    ("query[namespace]", ""),
    ("query[page]", "1"),
];

struct Matrix<'a> {
    wharf: &'a Wharf,
    layout: String,
}

impl Matrix<'_> {
    fn image(&self, repository: &str, tag: &str) -> String {
        format!("docker://{}/{repository}:{tag}", self.wharf.registry_host)
    }

    fn pull(&self, creds: Option<(&str, &str)>, repository: &str) -> Output {
        let image = self.image(repository, "1");
        let mut args = vec!["inspect", "--tls-verify=false", "--raw", &image];
        let joined = creds.map(|(u, p)| format!("{u}:{p}"));
        match &joined {
            Some(joined) => args.extend(["--creds", joined]),
            None => args.push("--no-creds"),
        }
        skopeo(&args)
    }

    fn push(&self, creds: (&str, &str), repository: &str, tag: &str) -> Output {
        let joined = format!("{}:{}", creds.0, creds.1);
        skopeo(&[
            "copy",
            "--dest-tls-verify=false",
            "--dest-creds",
            &joined,
            &self.layout,
            &self.image(repository, tag),
        ])
    }

    fn delete(&self, creds: (&str, &str), repository: &str, tag: &str) -> Output {
        let joined = format!("{}:{}", creds.0, creds.1);
        skopeo(&[
            "delete",
            "--tls-verify=false",
            "--creds",
            &joined,
            &self.image(repository, tag),
        ])
    }
}

fn ok(output: &Output) -> bool {
    output.status.success()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

async fn new_secret(wharf: &Wharf, client: &reqwest::Client, endpoint: &str, form: &[(&str, &str)]) -> NewSecret {
    let (status, body) = call(wharf, client, endpoint, form).await;
    assert_eq!(status, 200, "{endpoint}: {body}");
    serde_json::from_value(body).unwrap()
}

async fn assign(wharf: &Wharf, client: &reqwest::Client, kind: &str, name: &str, role: &str, scope: &str) -> u16 {
    let (status, body) = call(
        wharf,
        client,
        "add_assignment",
        &[
            ("principal_kind", kind),
            ("principal_name", name),
            ("role", role),
            ("scope", scope),
        ],
    )
    .await;
    assert!(status == 200 || status == 403 || status == 400, "{status} {body}");
    status
}

#[tokio::test]
async fn roles_are_enforced_on_the_registry_and_explained() {
    let wharf = Wharf::start().await;
    let admin = wharf.signed_in_client("admin", ADMIN_PASSWORD).await;
    let layout_dir = temp_dir("access-layout");
    oci_layout(layout_dir.path(), "1", &[]);
    let matrix = Matrix {
        wharf: &wharf,
        layout: format!("oci:{}:1", layout_dir.path().display()),
    };
    for repository in ["team-a/api", "team-a/web", "team-b/web", "public/base"] {
        push_image(&wharf.registry_url(), repository, "1", &[], true);
    }

    // People, a team, a robot and the public namespace.
    for name in ["reader", "contributor", "owner-b", "member"] {
        new_secret(
            &wharf,
            &admin,
            "create_user",
            &[("username", name), ("password", PASSWORD)],
        )
        .await;
    }
    assert_eq!(assign(&wharf, &admin, "user", "reader", "reader", "team-a/").await, 200);
    assert_eq!(
        assign(&wharf, &admin, "user", "contributor", "contributor", "team-a/").await,
        200
    );
    assert_eq!(assign(&wharf, &admin, "user", "owner-b", "owner", "team-b/").await, 200);
    assert_eq!(call(&wharf, &admin, "create_team", &[("name", "web")]).await.0, 200);
    let (status, _) = call(
        &wharf,
        &admin,
        "team_member",
        &[("team", "web"), ("username", "member"), ("member", "true")],
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(assign(&wharf, &admin, "team", "web", "reader", "*/web").await, 200);
    assert_eq!(assign(&wharf, &admin, "anonymous", "", "reader", "public/").await, 200);
    let robot = new_secret(
        &wharf,
        &admin,
        "create_robot",
        &[
            ("name", "robot-ci"),
            ("description", "CI"),
            ("scope", "team-a/"),
            ("days", "30"),
        ],
    )
    .await;
    assert_eq!(
        assign(&wharf, &admin, "robot", "robot-ci", "puller", "team-a/api").await,
        200
    );
    // Robots get robot roles only, within their own scope.
    assert_eq!(
        assign(&wharf, &admin, "robot", "robot-ci", "reader", "team-a/api").await,
        400
    );
    assert_eq!(
        assign(&wharf, &admin, "robot", "robot-ci", "puller", "team-b/").await,
        400
    );
    let robot_creds = (robot.login.as_str(), robot.secret.as_str());
    assert!(robot.secret.starts_with("wharf_robot_"));
    let pull_secret = robot.pull_secret.as_ref().unwrap();
    assert!(pull_secret.yaml.contains(".dockerconfigjson"));

    let reader = ("reader", PASSWORD);
    let contributor = ("contributor", PASSWORD);
    // (who, repository, action, allowed): checked on the registry, then asked of the explainer.
    let mut rows: Vec<(&str, &str, &str, &str, bool)> = Vec::new();

    // Reader: pulls in team-a, nothing else; a push is refused by the registry.
    assert!(ok(&matrix.pull(Some(reader), "team-a/api")));
    rows.push(("user", "reader", "team-a/api", "pull", true));
    let denied = matrix.pull(Some(reader), "team-b/web");
    assert!(!ok(&denied));
    assert!(
        stderr(&denied).contains("401") || stderr(&denied).contains("unauthorized"),
        "{}",
        stderr(&denied)
    );
    rows.push(("user", "reader", "team-b/web", "pull", false));
    assert!(!ok(&matrix.push(reader, "team-a/new", "1")));
    rows.push(("user", "reader", "team-a/new", "push", false));

    // Contributor: pushes and deletes in team-a.
    let pushed = matrix.push(contributor, "team-a/new", "1");
    assert!(ok(&pushed), "{}", stderr(&pushed));
    rows.push(("user", "contributor", "team-a/new", "push", true));
    let deleted = matrix.delete(contributor, "team-a/new", "1");
    assert!(ok(&deleted), "{}", stderr(&deleted));
    rows.push(("user", "contributor", "team-a/new", "delete", true));
    assert!(!ok(&matrix.push(contributor, "team-b/new", "1")));
    rows.push(("user", "contributor", "team-b/new", "push", false));

    // A team member gets the team's role: */web in any namespace.
    assert!(ok(&matrix.pull(Some(("member", PASSWORD)), "team-b/web")));
    rows.push(("user", "member", "team-b/web", "pull", true));
    assert!(!ok(&matrix.pull(Some(("member", PASSWORD)), "team-a/api")));
    rows.push(("user", "member", "team-a/api", "pull", false));

    // Anyone pulls public images, without credentials; nothing else.
    assert!(ok(&matrix.pull(None, "public/base")));
    rows.push(("anonymous", "", "public/base", "pull", true));
    assert!(!ok(&matrix.pull(None, "team-a/api")));
    rows.push(("anonymous", "", "team-a/api", "pull", false));

    // The robot pulls only inside its scope and never pushes.
    assert!(ok(&matrix.pull(Some(robot_creds), "team-a/api")));
    rows.push(("robot", "robot-ci", "team-a/api", "pull", true));
    assert!(!ok(&matrix.pull(Some(robot_creds), "team-a/web")));
    rows.push(("robot", "robot-ci", "team-a/web", "pull", false));
    assert!(!ok(&matrix.push(robot_creds, "team-a/api", "2")));
    rows.push(("robot", "robot-ci", "team-a/api", "push", false));

    // Owner of team-b assigns there, not in team-a.
    let owner = wharf.signed_in_client("owner-b", PASSWORD).await;
    assert!(!ok(&matrix.push(("member", PASSWORD), "team-b/web", "2")));
    assert_eq!(
        assign(&wharf, &owner, "user", "member", "contributor", "team-b/web").await,
        200
    );
    let pushed = matrix.push(("member", PASSWORD), "team-b/web", "2");
    assert!(ok(&pushed), "the new role applies at once: {}", stderr(&pushed));
    rows.push(("user", "member", "team-b/web", "push", true));
    assert_eq!(
        assign(&wharf, &owner, "user", "reader", "contributor", "team-a/").await,
        403
    );
    rows.push(("user", "owner-b", "team-b/web", "manage access", true));
    rows.push(("user", "owner-b", "team-a/api", "manage access", false));

    // The explainer agrees with every row.
    for (kind, name, repository, action, allowed) in &rows {
        let (status, body) = call(
            &wharf,
            &admin,
            "explain",
            &[
                ("principal_kind", kind),
                ("principal_name", name),
                ("repository", repository),
                ("action", action),
            ],
        )
        .await;
        assert_eq!(status, 200, "{body}");
        let explanation: Explanation = serde_json::from_value(body).unwrap();
        assert_eq!(
            explanation.allowed, *allowed,
            "{kind} {name} {action} {repository}: {explanation:?}"
        );
        assert_eq!(explanation.matched.is_empty(), !allowed);
    }

    // Repository → Access lists every assignment that reaches the repository.
    let (status, body) = call(&wharf, &admin, "repository_access", &[("repository", "team-a/api")]).await;
    assert_eq!(status, 200, "{body}");
    let access: app::model::RepositoryAccessView = serde_json::from_value(body).unwrap();
    let who: Vec<(String, String)> = access
        .entries
        .iter()
        .map(|e| (e.assignment.principal_name.clone(), e.assignment.role.clone()))
        .collect();
    for expected in [
        ("reader", "Reader"),
        ("contributor", "Contributor"),
        ("robot-ci", "Puller"),
        ("admin", "Owner"),
    ] {
        assert!(
            who.contains(&(expected.0.to_string(), expected.1.to_string())),
            "{expected:?} missing from {who:?}"
        );
    }
    assert!(
        !who.iter().any(|(name, _)| name == "owner-b"),
        "team-b's owner does not reach team-a"
    );
    let contributor_entry = access
        .entries
        .iter()
        .find(|e| e.assignment.principal_name == "contributor")
        .unwrap();
    assert_eq!(contributor_entry.actions, ["pull", "push", "delete", "manage webhooks"]);

    // A reader calling the delete server function directly is refused; nothing is deleted.
    let reader_client = wharf.signed_in_client("reader", PASSWORD).await;
    let (status, body) = call(
        &wharf,
        &reader_client,
        "delete_tag",
        &[("repository", "team-a/api"), ("tag", "1"), ("confirm", "1")],
    )
    .await;
    assert_eq!(status, 403, "{body}");
    assert!(ok(&matrix.pull(Some(reader), "team-a/api")));
    // Nor may a reader manage access, webhooks or settings, or explain.
    for (endpoint, form) in [
        ("access", vec![]),
        ("webhooks", vec![]),
        ("settings", vec![]),
        ("resync", vec![]),
        ("repository_access", vec![("repository", "team-a/api")]),
        (
            "explain",
            vec![
                ("principal_kind", "user"),
                ("principal_name", "admin"),
                ("repository", "team-a/api"),
                ("action", "pull"),
            ],
        ),
    ] {
        let (status, body) = call(&wharf, &reader_client, endpoint, &form).await;
        assert_eq!(status, 403, "{endpoint}: {body}");
    }

    // The reader's catalog holds only what it may pull: team-a and the public namespace.
    let (status, catalog) = call(&wharf, &reader_client, "catalog", CATALOG).await;
    assert_eq!(status, 200, "{catalog}");
    let page: app::model::CatalogPage = serde_json::from_value(catalog).unwrap();
    let names: Vec<&str> = page.repositories.iter().map(|r| r.name.as_str()).collect();
    for expected in ["public/base", "team-a/api", "team-a/web"] {
        assert!(names.contains(&expected), "{names:?}");
    }
    assert!(
        names
            .iter()
            .all(|n| n.starts_with("team-a/") || n.starts_with("public/")),
        "{names:?}"
    );
    assert_eq!(page.total, names.len() as i64);
    assert!(
        page.namespaces.iter().all(|n| n.namespace != "team-b"),
        "{:?}",
        page.namespaces
    );

    // A regenerated secret replaces the old one at once; a disabled robot is refused.
    let (status, regenerated) = call(&wharf, &admin, "access", &[]).await;
    assert_eq!(status, 200);
    let robot_id = regenerated["robots"][0]["id"].as_str().unwrap().to_string();
    let fresh = new_secret(&wharf, &admin, "regenerate_robot", &[("id", &robot_id)]).await;
    assert!(
        !ok(&matrix.pull(Some(robot_creds), "team-a/api")),
        "the old secret is refused"
    );
    let fresh_creds = ("robot-ci", fresh.secret.as_str());
    assert!(ok(&matrix.pull(Some(fresh_creds), "team-a/api")));
    let (status, _) = call(
        &wharf,
        &admin,
        "set_robot_enabled",
        &[("id", &robot_id), ("enabled", "false")],
    )
    .await;
    assert_eq!(status, 200);
    assert!(
        !ok(&matrix.pull(Some(fresh_creds), "team-a/api")),
        "a disabled robot is refused"
    );

    // An expired robot is refused.
    let expiring = new_secret(
        &wharf,
        &admin,
        "create_robot",
        &[
            ("name", "robot-old"),
            ("description", ""),
            ("scope", "team-a/"),
            ("days", "1"),
        ],
    )
    .await;
    assert_eq!(
        assign(&wharf, &admin, "robot", "robot-old", "puller", "team-a/").await,
        200
    );
    let db = wharf.db().await;
    sqlx::query("UPDATE robots SET expires_at = 1 WHERE name = 'robot-old'")
        .execute(&db.pool)
        .await
        .unwrap();
    assert!(!ok(&matrix.pull(Some(("robot-old", &expiring.secret)), "team-a/api")));

    // A personal access token logs in like the password, and its revocation applies at once.
    let token = new_secret(
        &wharf,
        &reader_client,
        "create_token",
        &[("name", "laptop"), ("days", "0")],
    )
    .await;
    assert!(token.secret.starts_with("wharf_pat_"));
    assert!(ok(&matrix.pull(Some(("reader", &token.secret)), "team-a/api")));
    assert!(
        !ok(&matrix.pull(Some(("contributor", &token.secret)), "team-a/api")),
        "the token is the reader's"
    );
    let (status, profile) = call(&wharf, &reader_client, "profile", &[]).await;
    assert_eq!(status, 200);
    let token_id = profile["tokens"][0]["id"].as_str().unwrap().to_string();
    assert!(profile["tokens"][0]["last_used_at_ms"].is_number() || profile["tokens"][0]["last_used_at_ms"].is_null());
    let (status, _) = call(&wharf, &reader_client, "revoke_token", &[("id", &token_id)]).await;
    assert_eq!(status, 200);
    assert!(!ok(&matrix.pull(Some(("reader", &token.secret)), "team-a/api")));

    // Administrators see every user's tokens (Access → Tokens) and revoke any; nobody else
    // can touch a token that is not theirs.
    let leaked = new_secret(
        &wharf,
        &reader_client,
        "create_token",
        &[("name", "ci"), ("days", "30")],
    )
    .await;
    assert!(ok(&matrix.pull(Some(("reader", &leaked.secret)), "team-a/api")));
    let (status, access) = call(&wharf, &admin, "access", &[]).await;
    assert_eq!(status, 200);
    let listed = access["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["owner"] == "reader" && t["name"] == "ci")
        .cloned()
        .unwrap_or_else(|| panic!("{}", access["tokens"]));
    let leaked_id = listed["id"].as_str().unwrap();
    let (status, _) = call(&wharf, &owner, "revoke_token", &[("id", leaked_id)]).await;
    assert_eq!(
        status, 404,
        "another user's token does not exist for a non-administrator"
    );
    assert!(ok(&matrix.pull(Some(("reader", &leaked.secret)), "team-a/api")));
    let (status, body) = call(&wharf, &admin, "revoke_token", &[("id", leaked_id)]).await;
    assert_eq!(status, 200, "{body}");
    assert!(!ok(&matrix.pull(Some(("reader", &leaked.secret)), "team-a/api")));
    let (status, owner_access) = call(&wharf, &owner, "access", &[]).await;
    assert_eq!(status, 200);
    assert_eq!(
        owner_access["tokens"],
        serde_json::json!([]),
        "an owner of a namespace sees no tokens"
    );

    // A disabled user is refused by the registry and signed out of the console.
    let (status, users) = call(&wharf, &admin, "access", &[]).await;
    assert_eq!(status, 200);
    let contributor_id = users["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["username"] == "contributor")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let contributor_client = wharf.signed_in_client("contributor", PASSWORD).await;
    let (status, _) = call(
        &wharf,
        &admin,
        "set_user_disabled",
        &[("id", &contributor_id), ("disabled", "true")],
    )
    .await;
    assert_eq!(status, 200);
    assert!(!ok(&matrix.pull(Some(contributor), "team-a/api")));
    assert_eq!(call(&wharf, &contributor_client, "catalog", CATALOG).await.0, 401);

    // The audit log holds the changes, and the refused token requests counted per subject and
    // repository; only administrators read it.
    let audit = |action: &'static str, actor: &'static str| {
        let admin = admin.clone();
        let wharf = &wharf;
        async move {
            call(
                wharf,
                &admin,
                "audit",
                &[("actor", actor), ("action", action), ("since", ""), ("cursor", "")],
            )
            .await
        }
    };
    let (status, body) = audit("", "").await;
    assert_eq!(status, 200, "{body}");
    let page: app::model::AuditPage = serde_json::from_value(body).unwrap();
    let actions: Vec<&str> = page.entries.iter().map(|e| e.action.as_str()).collect();
    for expected in [
        "user created",
        "role assigned",
        "team member added",
        "robot created",
        "robot secret regenerated",
        "robot disabled",
        "access token created",
        "access token revoked",
        "user disabled",
        "sign-in",
        "token denied",
    ] {
        assert!(actions.contains(&expected), "{expected} missing from {actions:?}");
    }
    let (_, body) = audit("token denied", "reader").await;
    let denied: app::model::AuditPage = serde_json::from_value(body).unwrap();
    let push = denied
        .entries
        .iter()
        .find(|e| e.target == "repository:team-a/new")
        .expect("the reader's refused push");
    assert!(
        push.detail.contains("granted pull") || push.detail.contains("granted "),
        "{push:?}"
    );
    assert!(denied
        .entries
        .iter()
        .all(|e| e.actor == "reader" && e.action == "token denied"));
    for (action, since) in [("no such action", ""), ("", "yesterday")] {
        let (status, _) = call(
            &wharf,
            &admin,
            "audit",
            &[("actor", ""), ("action", action), ("since", since), ("cursor", "")],
        )
        .await;
        assert_eq!(status, 400);
    }
    let (status, _) = call(
        &wharf,
        &reader_client,
        "audit",
        &[("actor", ""), ("action", ""), ("since", ""), ("cursor", "")],
    )
    .await;
    assert_eq!(status, 403);
}

/// `wharf admin reset-password` is the way back in: a new password, printed once, that signs in
/// (to a running console too); the old one is refused after a restart; a warning tells that
/// WHARF_ADMIN_PASSWORD no longer applies.
#[tokio::test]
async fn the_command_line_resets_a_password() {
    let mut wharf = Wharf::start().await;
    let data_dir = wharf.data_dir.to_str().unwrap().to_string();
    let output = support::run_wharf_to_exit(&["admin", "reset-password", "admin", "--data-dir", &data_dir], &[]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let password = stdout
        .lines()
        .find_map(|l| l.strip_prefix("New password for admin: "))
        .unwrap()
        .to_string();
    // The running console takes the new password at once.
    let client = wharf.signed_in_client("admin", &password).await;
    assert_eq!(call(&wharf, &client, "access", &[]).await.0, 200);
    wharf.stop();
    wharf.restart().await;
    let old = reqwest::Client::new()
        .get(format!("{}/auth/token?service=wharf-registry", wharf.url))
        .basic_auth("admin", Some(ADMIN_PASSWORD))
        .send()
        .await
        .unwrap();
    assert_eq!(old.status(), 401);
    assert!(wharf.logs().contains("WHARF_ADMIN_PASSWORD is set but ignored"));

    for (args, expected) in [
        (
            vec!["admin", "reset-password", "nobody", "--data-dir", &data_dir],
            "no user named",
        ),
        (
            vec!["admin", "reset-password", "admin", "--data-dir", "/nonexistent/wharf"],
            "no console database",
        ),
    ] {
        let output = support::run_wharf_to_exit(&args, &[]);
        assert!(!output.status.success());
        assert!(String::from_utf8_lossy(&output.stderr).contains(expected), "{args:?}");
    }
}

#[tokio::test]
async fn bad_access_input_is_refused_clearly_and_nothing_is_stored() {
    let wharf = Wharf::start().await;
    let admin = wharf.signed_in_client("admin", ADMIN_PASSWORD).await;
    let long_description = "d".repeat(201);
    let long_token_name = "t".repeat(65);
    let long_password = "p".repeat(2000);
    let long_actor = "a".repeat(300);
    let robot = |name: &'static str, description: &'static str, scope: &'static str, days: &'static str| {
        vec![
            ("name", name),
            ("description", description),
            ("scope", scope),
            ("days", days),
        ]
    };
    let cases: Vec<(&str, Vec<(&str, &str)>)> = vec![
        ("create_robot", robot("Robot$CI", "", "", "30")),
        (
            "create_robot",
            vec![
                ("name", "robot-a"),
                ("description", &long_description),
                ("scope", ""),
                ("days", "30"),
            ],
        ),
        ("create_robot", robot("robot-a", "", "", "400")),
        ("create_robot", robot("robot-a", "", "", "-1")),
        ("create_robot", robot("robot-a", "", "", "soon")),
        ("create_robot", robot("robot-a", "", "Bad Scope", "30")),
        ("create_token", vec![("name", &long_token_name), ("days", "30")]),
        ("create_token", vec![("name", " "), ("days", "30")]),
        ("create_token", vec![("name", "bell\u{7}"), ("days", "30")]),
        ("create_token", vec![("name", "laptop"), ("days", "x")]),
        ("create_user", vec![("username", "Admin!"), ("password", "")]),
        ("create_user", vec![("username", "bob"), ("password", "short")]),
        ("create_user", vec![("username", "bob"), ("password", &long_password)]),
        ("create_team", vec![("name", "te$m")]),
        (
            "add_assignment",
            vec![
                ("principal_kind", "user"),
                ("principal_name", "admin"),
                ("role", "god"),
                ("scope", ""),
            ],
        ),
        (
            "add_assignment",
            vec![
                ("principal_kind", "alien"),
                ("principal_name", "x"),
                ("role", "reader"),
                ("scope", ""),
            ],
        ),
        (
            "add_assignment",
            vec![
                ("principal_kind", "user"),
                ("principal_name", "admin"),
                ("role", "reader"),
                ("scope", "../"),
            ],
        ),
        (
            "add_assignment",
            vec![
                ("principal_kind", "user"),
                ("principal_name", "nobody"),
                ("role", "reader"),
                ("scope", ""),
            ],
        ),
        (
            "audit",
            vec![("actor", ""), ("action", ""), ("since", ""), ("cursor", "abc:def")],
        ),
        (
            "audit",
            vec![("actor", ""), ("action", ""), ("since", "yesterday"), ("cursor", "")],
        ),
        (
            "audit",
            vec![("actor", ""), ("action", "nope"), ("since", ""), ("cursor", "")],
        ),
        (
            "audit",
            vec![("actor", &long_actor), ("action", ""), ("since", ""), ("cursor", "")],
        ),
        (
            "explain",
            vec![
                ("principal_kind", "user"),
                ("principal_name", "admin"),
                ("repository", "a/b"),
                ("action", "fly"),
            ],
        ),
    ];
    for (endpoint, form) in &cases {
        let (status, body) = call(&wharf, &admin, endpoint, form).await;
        assert_eq!(status, 400, "{endpoint} {form:?}: {body}");
        let message = body.to_string();
        assert!(
            message.len() > 20 && !message.contains("sqlx"),
            "{endpoint}: a clear message: {message}"
        );
    }
    // Nothing was stored half-way, and the console is still up.
    let (status, access) = call(&wharf, &admin, "access", &[]).await;
    assert_eq!(status, 200);
    assert_eq!(access["robots"], serde_json::json!([]));
    assert_eq!(access["teams"], serde_json::json!([]));
    assert_eq!(access["tokens"], serde_json::json!([]));
    let users: Vec<&str> = access["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap())
        .collect();
    assert_eq!(users, ["admin"]);
    assert_eq!(
        access["assignments"].as_array().unwrap().len(),
        1,
        "{}",
        access["assignments"]
    );
    assert_eq!(
        reqwest::get(format!("{}/healthz", wharf.url)).await.unwrap().status(),
        200
    );
}

/// An Owner of one namespace who asks "Why?" learns only of the assignments within the scopes it
/// manages, never the subject's roles elsewhere (though it is told when one of those allows it).
#[tokio::test]
async fn the_explainer_shows_a_namespace_owner_only_its_own_scopes() {
    let wharf = Wharf::start().await;
    let admin = wharf.signed_in_client("admin", ADMIN_PASSWORD).await;
    for name in ["owen", "sam"] {
        let (status, body) = call(
            &wharf,
            &admin,
            "create_user",
            &[("username", name), ("password", PASSWORD)],
        )
        .await;
        assert_eq!(status, 200, "{body}");
    }
    assert_eq!(assign(&wharf, &admin, "user", "owen", "owner", "team-a/").await, 200);
    for (role, scope) in [("reader", "team-a/"), ("owner", "team-b/"), ("contributor", "")] {
        assert_eq!(assign(&wharf, &admin, "user", "sam", role, scope).await, 200);
    }
    let owen = wharf.signed_in_client("owen", PASSWORD).await;
    let explain = |client: &reqwest::Client, action: &'static str| {
        let client = client.clone();
        let wharf = &wharf;
        async move {
            let form = [
                ("principal_kind", "user"),
                ("principal_name", "sam"),
                ("repository", "team-a/api"),
                ("action", action),
            ];
            let (status, body) = call(wharf, &client, "explain", &form).await;
            assert_eq!(status, 200, "{body}");
            let text = body.to_string();
            (serde_json::from_value::<Explanation>(body).unwrap(), text)
        }
    };
    let scopes = |list: &[app::model::AssignmentView]| list.iter().map(|a| a.scope.clone()).collect::<Vec<_>>();

    // Pull: allowed by his Reader role in team-a/ (shown) and the registry-wide one (not shown).
    let (pull, text) = explain(&owen, "pull").await;
    assert!(pull.allowed);
    assert_eq!(scopes(&pull.matched), ["team-a/"]);
    assert_eq!(scopes(&pull.considered), ["team-a/"]);
    assert!(pull.granted_elsewhere);
    assert!(!text.contains("team-b/") && !text.contains("Owner"), "{text}");
    // Push: only the registry-wide role allows it: allowed, nothing named.
    let (push, text) = explain(&owen, "push").await;
    assert!(
        push.allowed && push.matched.is_empty() && push.granted_elsewhere,
        "{text}"
    );
    assert!(!text.contains("team-b/") && !text.contains("Contributor"), "{text}");
    // Manage access: denied; what he has is listed within team-a/ only.
    let (manage, text) = explain(&owen, "manage access").await;
    assert!(!manage.allowed && !manage.granted_elsewhere);
    assert_eq!(scopes(&manage.considered), ["team-a/"], "{text}");

    // The administrator manages everything and sees everything.
    let (all, _) = explain(&admin, "pull").await;
    let mut everything = scopes(&all.considered);
    everything.sort();
    assert_eq!(everything, ["", "team-a/", "team-b/"]);
    assert_eq!(all.matched.len(), 2);
    assert!(!all.granted_elsewhere);
    // Asking about a repository outside what he manages is refused outright.
    let form = [
        ("principal_kind", "user"),
        ("principal_name", "sam"),
        ("repository", "team-b/api"),
        ("action", "pull"),
    ];
    assert_eq!(call(&wharf, &owen, "explain", &form).await.0, 403);
}
