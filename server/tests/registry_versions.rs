//! The registry lines Wharf supports, each run through the same scenario: distribution 2.8
//! (Debian's `docker-registry`) and 3.1 (skipped, with a message, where its binary is not beside
//! the clone), each started by Wharf (managed) and configured by hand as docs/registry.md says
//! (external). skopeo pushes, pulls and deletes through Wharf's token server; the registry's
//! notifications are taken in; the catalog and tag pages show the result; the registry trusts
//! Wharf's key by each route its tokens offer (`x5c`, `kid`).

mod support;

use std::path::Path;
use std::process::{Child, Command, Stdio};

use app::model::SettingsView;
use support::{
    call, eventually, free_port, oci_layout, skopeo, temp_dir, Options, RegistryProgram, Wharf, ADMIN_PASSWORD,
};

#[tokio::test]
async fn distribution_2_8_managed() {
    managed(support::distribution_2_8()).await;
}

#[tokio::test]
async fn distribution_2_8_external() {
    external(support::distribution_2_8()).await;
}

#[tokio::test]
async fn distribution_3_1_managed() {
    if let Some(program) = support::distribution_3_1() {
        managed(program).await;
    }
}

#[tokio::test]
async fn distribution_3_1_external() {
    if let Some(program) = support::distribution_3_1() {
        external(program).await;
    }
}

async fn managed(program: RegistryProgram) {
    let wharf = Wharf::start_with_env(Options::default(), &[("WHARF_REGISTRY_BIN", &program.bin)]).await;
    scenario(&wharf, &program).await;
}

/// The registry configured by hand for Wharf's token auth (the bundle and the JWKS of Wharf's
/// data directory) with the notification stanza the Settings page offers.
async fn external(program: RegistryProgram) {
    let port = free_port();
    let wharf = Wharf::start_with(Options {
        registry_url: Some(format!("http://127.0.0.1:{port}")),
        ..Default::default()
    })
    .await;
    let admin = wharf.signed_in_client("admin", ADMIN_PASSWORD).await;
    let (status, settings) = call(&wharf, &admin, "settings", &[]).await;
    assert_eq!(status, 200, "{settings}");
    let settings: SettingsView = serde_json::from_value(settings).unwrap();
    assert!(!settings.managed_registry);
    let registry = ExternalRegistry::start(&program, &wharf, port, &settings);
    scenario(&wharf, &program).await;
    drop(registry);
}

/// What a user does and sees, the same on every registry line and mode.
async fn scenario(wharf: &Wharf, program: &RegistryProgram) {
    let version = program.version;
    let guard = temp_dir("versions");
    let work = guard.path();
    let host = &wharf.registry_host;
    let creds = format!("admin:{ADMIN_PASSWORD}");
    let image = |reference: &str| format!("docker://{host}/team/app:{reference}");

    // Push through the token server: a multi-arch image under two tags, another under a third.
    oci_layout(&work.join("multi"), "1.0", &["--platforms", "linux/amd64,linux/arm64"]);
    oci_layout(&work.join("single"), "2.0", &["--seed", "7"]);
    for (layout, tag) in [("multi:1.0", "1.0"), ("multi:1.0", "latest"), ("single:2.0", "2.0")] {
        let source = format!("oci:{}/{layout}", work.display());
        let copy = push(&creds, &source, &image(tag));
        assert!(copy.status.success(), "{version}: push {tag}: {}", stderr(&copy));
    }

    // Pull it back, blobs included.
    let pulled = work.join("pulled");
    let pull = skopeo(&[
        "copy",
        "--src-tls-verify=false",
        "--src-creds",
        &creds,
        &image("2.0"),
        &format!("dir:{}", pulled.display()),
    ]);
    assert!(pull.status.success(), "{version}: pull: {}", stderr(&pull));
    assert!(pulled.join("manifest.json").is_file());

    // Its notifications are taken in: one event per manifest, the tagged ones with their tag.
    let pushed = eventually(80, || async {
        let events = events(wharf).await;
        ["1.0", "latest", "2.0"]
            .iter()
            .all(|tag| events.iter().any(|e| e.0 == "push" && e.1.as_deref() == Some(*tag)))
    })
    .await;
    assert!(
        pushed,
        "{version}: pushes not taken in: {:?}\n{}",
        events(wharf).await,
        wharf.logs()
    );

    // The pull is counted (the managed registry's config and the Settings stanza both send pull
    // events): one row, for the image pulled; the console's own reads of the pushed images are
    // not pulls.
    let db = wharf.db().await;
    let pulls = || async {
        sqlx::query_as::<_, (String, i64)>("SELECT repository, pull_count FROM manifest_pulls")
            .fetch_all(&db.pool)
            .await
            .unwrap()
    };
    let counted = eventually(80, || async { pulls().await.iter().any(|(_, count)| *count >= 1) }).await;
    assert!(
        counted,
        "{version}: pull not counted: {:?}\n{}",
        pulls().await,
        wharf.logs()
    );
    let rows = pulls().await;
    assert_eq!(rows.len(), 1, "{version}: {rows:?}");
    assert_eq!(rows[0].0, "team/app", "{version}");

    // The catalog and the tag page show them.
    let client = wharf.signed_in_client("admin", ADMIN_PASSWORD).await;
    let (status, catalog) = wharf.page(&client, "/").await;
    assert_eq!(status, 200);
    assert!(catalog.contains("team/app"), "{version}: catalog:\n{catalog}");
    let (status, page) = wharf.page(&client, "/r/team/app").await;
    assert_eq!(status, 200);
    assert!(
        page.contains("latest") && page.contains("2.0"),
        "{version}: tag page:\n{page}"
    );
    assert_eq!(tags(wharf, &client).await, ["1.0", "2.0", "latest"], "{version}");

    // skopeo deletes an image by its tag (the registry deletes by digest): the delete is taken in.
    let delete = skopeo(&["delete", "--tls-verify=false", "--creds", &creds, &image("2.0")]);
    assert!(delete.status.success(), "{version}: delete: {}", stderr(&delete));
    let deleted = eventually(80, || async {
        events(wharf).await.iter().any(|e| e.0 == "delete" && e.2.is_some())
    })
    .await;
    assert!(deleted, "{version}: delete not taken in: {:?}", events(wharf).await);
    let gone = eventually(40, || async { tags(wharf, &client).await == ["1.0", "latest"] }).await;
    assert!(gone, "{version}: {:?}", tags(wharf, &client).await);

    // The console deletes one tag of two; its sibling stays, in the registry and on the page.
    let (status, done) = call(
        wharf,
        &client,
        "delete_tag",
        &[("repository", "team/app"), ("tag", "latest"), ("confirm", "latest")],
    )
    .await;
    assert_eq!(status, 200, "{version}: {done}");
    let inspect = skopeo(&[
        "inspect",
        "--tls-verify=false",
        "--creds",
        &creds,
        "--raw",
        &image("1.0"),
    ]);
    assert!(
        inspect.status.success(),
        "{version}: the sibling went too: {}",
        stderr(&inspect)
    );
    let listed = skopeo(&[
        "list-tags",
        "--tls-verify=false",
        "--creds",
        &creds,
        &format!("docker://{host}/team/app"),
    ]);
    let listed: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(listed["Tags"], serde_json::json!(["1.0"]), "{version}");
    // The registry's notifications of it come later and must not disturb the index.
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    assert_eq!(tags(wharf, &client).await, ["1.0"], "{version}");

    deletes_a_tag_alone(wharf, program, &client, &creds, &work.join("multi:1.0")).await;
    trusts_each_key_route(wharf, version).await;
}

/// Distribution 3.x deletes a tag by name (the image and its other tags stay) and reports it
/// with the tag and no digest; 2.8 refuses the request.
async fn deletes_a_tag_alone(
    wharf: &Wharf,
    program: &RegistryProgram,
    client: &reqwest::Client,
    creds: &str,
    layout: &Path,
) {
    let version = program.version;
    let destination = format!("docker://{}/team/app:extra", wharf.registry_host);
    let source = format!("oci:{}", layout.display());
    let copy = push(creds, &source, &destination);
    assert!(copy.status.success(), "{version}: push extra: {}", stderr(&copy));
    let indexed = eventually(80, || async { tags(wharf, client).await == ["1.0", "extra"] }).await;
    assert!(indexed, "{version}: {:?}", tags(wharf, client).await);

    let http = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(30))
        .build()
        .unwrap();
    let token: serde_json::Value = http
        .get(format!(
            "{}/auth/token?service=wharf-registry&scope=repository:team/app:delete",
            wharf.url
        ))
        .basic_auth("admin", Some(ADMIN_PASSWORD))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let status = http
        .delete(format!("{}/v2/team/app/manifests/extra", wharf.registry_url()))
        .bearer_auth(token["token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .status()
        .as_u16();
    if !program.deletes_tags_alone {
        assert_eq!(status, 400, "{version}");
        return;
    }
    assert_eq!(status, 202, "{version}");
    let dropped = eventually(80, || async { tags(wharf, client).await == ["1.0"] }).await;
    assert!(dropped, "{version}: {:?}", tags(wharf, client).await);
    assert!(
        events(wharf)
            .await
            .iter()
            .any(|e| e.0 == "delete" && e.1.as_deref() == Some("extra") && e.2.is_none()),
        "{version}: {:?}",
        events(wharf).await
    );
}

/// Wharf's tokens carry the signing certificate (`x5c`, checked against `rootcertbundle`) and a
/// `kid` (2.8: the libtrust fingerprint of a bundle key; 3.x: a key of the JWKS file). Either
/// alone is enough; a token with neither is refused.
async fn trusts_each_key_route(wharf: &Wharf, version: &str) {
    let signed = |kid: bool, x5c: bool| mint_catalog_token(&wharf.data_dir, kid, x5c);
    let accepts = |token: String| async move { support::registry_accepts(wharf, &token).await };
    assert!(accepts(signed(true, true)).await, "{version}: kid and x5c");
    assert!(accepts(signed(false, true)).await, "{version}: x5c alone");
    assert!(accepts(signed(true, false)).await, "{version}: kid alone");
    assert!(!accepts(signed(false, false)).await, "{version}: no key named");
}

/// A catalog token signed with the console's key, with the chosen key references.
fn mint_catalog_token(data_dir: &Path, kid: bool, x5c: bool) -> String {
    use jsonwebtoken::{Algorithm, EncodingKey, Header};
    let read = |name: &str| std::fs::read_to_string(data_dir.join(name)).unwrap();
    let key = EncodingKey::from_ec_pem(read("token-signing-key.pem").as_bytes()).unwrap();
    let jwks: serde_json::Value = serde_json::from_str(&read("token-jwks.json")).unwrap();
    let certificate: String = read("token-signing-cert.pem")
        .lines()
        .filter(|line| !line.starts_with("-----"))
        .collect();
    let mut header = Header::new(Algorithm::ES256);
    header.kid = kid.then(|| jwks["keys"][0]["kid"].as_str().unwrap().to_string());
    header.x5c = x5c.then(|| vec![certificate]);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let claims = serde_json::json!({
        "iss": "wharf", "sub": "admin", "aud": "wharf-registry",
        "exp": now + 300, "nbf": now - 10, "iat": now, "jti": format!("test-{now}-{kid}-{x5c}"),
        "access": [{"type": "registry", "name": "catalog", "actions": ["*"]}],
    });
    jsonwebtoken::encode(&header, &claims, &key).unwrap()
}

/// (action, tag, digest) of the stored events of team/app.
async fn events(wharf: &Wharf) -> Vec<(String, Option<String>, Option<String>)> {
    let db = wharf.db().await;
    sqlx::query_as(
        "SELECT action, NULLIF(tag, ''), NULLIF(digest, '') FROM registry_events WHERE repository = 'team/app' \
         ORDER BY received_at",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap()
}

/// The tags the index shows for team/app, sorted.
async fn tags(wharf: &Wharf, client: &reqwest::Client) -> Vec<String> {
    support::indexed_tags(wharf, client, "team/app").await
}

/// `skopeo copy --all` with the given credentials to the registry (plain HTTP).
fn push(creds: &str, source: &str, destination: &str) -> std::process::Output {
    skopeo(&[
        "copy",
        "--all",
        "--dest-tls-verify=false",
        "--dest-creds",
        creds,
        source,
        destination,
    ])
}

fn stderr(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// A registry Wharf does not manage, configured as docs/registry.md says.
struct ExternalRegistry {
    child: Child,
    _dir: tempfile::TempDir,
}

impl ExternalRegistry {
    fn start(program: &RegistryProgram, wharf: &Wharf, port: u16, settings: &SettingsView) -> ExternalRegistry {
        let dir = temp_dir("external-registry");
        let config = dir.path().join("config.yml");
        let data = wharf.data_dir.display();
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: info\nstorage:\n  filesystem:\n    rootdirectory: {storage}\n  delete:\n    enabled: true\n\
                 http:\n  addr: 127.0.0.1:{port}\n  secret: external-test-secret\n\
                 auth:\n  token:\n    realm: {realm}\n    service: {service}\n    issuer: wharf\n    \
                 rootcertbundle: {data}/token-cert.pem\n    jwks: {data}/token-jwks.json\n{stanza}",
                storage = dir.path().join("storage").display(),
                realm = settings.token_realm,
                service = settings.token_service,
                stanza = settings.notification_stanza,
            ),
        )
        .unwrap();
        let log = dir.path().join("registry.log");
        let child = Command::new(&program.bin)
            .arg("serve")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&log).unwrap())
            .stderr(Stdio::from(std::fs::File::options().append(true).open(&log).unwrap()))
            .spawn()
            .unwrap();
        let mut registry = ExternalRegistry { child, _dir: dir };
        for _ in 0..80 {
            if let Some(status) = registry.child.try_wait().unwrap() {
                panic!(
                    "{} exited with {status}:\n{}",
                    program.version,
                    std::fs::read_to_string(&log).unwrap_or_default()
                );
            }
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return registry;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        let _ = registry.child.kill();
        panic!("{} did not listen on {port} within 8 s", program.version);
    }
}

impl Drop for ExternalRegistry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
