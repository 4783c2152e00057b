//! Test harness: starts the real `wharf` binary (with a real registry it manages) on free ports
//! in a temporary data directory, and offers the few client steps tests share.
#![allow(dead_code)]

use std::fs::File;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

pub const ADMIN_PASSWORD: &str = "test-admin-password";

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

pub fn wharf_bin() -> &'static str {
    env!("CARGO_BIN_EXE_wharf")
}

/// A temporary directory, removed when dropped.
pub fn temp_dir(label: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(&format!("wharf-test-{label}-"))
        .tempdir()
        .unwrap()
}

/// Fails with a clear message when a real part the tests need is not installed.
pub fn require_program(name: &str) {
    let found = Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {name}"))
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    assert!(found, "{name} is not installed: run scripts/setup first");
}

/// A registry program (CNCF distribution) the tests start.
#[derive(Debug, Clone)]
pub struct RegistryProgram {
    /// What the tests call it, e.g. "distribution 3.1".
    pub version: &'static str,
    pub bin: String,
    /// `DELETE /v2/NAME/manifests/TAG` removes the tag alone (3.x); 2.8 answers 400.
    pub deletes_tags_alone: bool,
}

/// The registry the tests start by default: Debian's `docker-registry` (distribution 2.8), or
/// the program `WHARF_TEST_REGISTRY_BIN` names (to run the whole suite against another version).
pub fn default_registry_bin() -> String {
    std::env::var("WHARF_TEST_REGISTRY_BIN").unwrap_or_else(|_| "docker-registry".to_string())
}

/// Distribution 2.8, Debian's package.
pub fn distribution_2_8() -> RegistryProgram {
    require_program("docker-registry");
    RegistryProgram {
        version: "distribution 2.8",
        bin: "docker-registry".to_string(),
        deletes_tags_alone: false,
    }
}

/// Distribution 3.1: `WHARF_TEST_REGISTRY3_BIN`, or the binary built from its tagged source in
/// the shared tools folder beside the clone (`../shared/tools/distribution-v3.1.1/registry`).
/// `None`, with a message, when neither is there: Debian has no 3.x to install.
pub fn distribution_3_1() -> Option<RegistryProgram> {
    let bin = match std::env::var_os("WHARF_TEST_REGISTRY3_BIN") {
        Some(bin) => PathBuf::from(bin),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/tools/distribution-v3.1.1/registry"),
    };
    if !bin.is_file() {
        eprintln!(
            "distribution 3.1 is not at {} (set WHARF_TEST_REGISTRY3_BIN to use another): its runs are skipped",
            bin.display()
        );
        return None;
    }
    let output = Command::new(&bin).arg("--version").output().unwrap();
    let said = String::from_utf8_lossy(&output.stdout);
    assert!(
        said.contains(" v3.1."),
        "{} is not distribution 3.1: {said}",
        bin.display()
    );
    Some(RegistryProgram {
        version: "distribution 3.1",
        bin: bin.display().to_string(),
        deletes_tags_alone: true,
    })
}

#[derive(Default)]
pub struct Options {
    pub database_url: Option<String>,
    /// Use this registry instead of starting one.
    pub registry_url: Option<String>,
    pub extra_args: Vec<String>,
}

pub struct Wharf {
    child: Option<Child>,
    /// How it was started, for [`Wharf::restart`].
    command: Command,
    _dir_guard: tempfile::TempDir,
    pub dir: PathBuf,
    pub url: String,
    pub registry_host: String,
    pub data_dir: PathBuf,
}

impl Wharf {
    pub async fn start() -> Wharf {
        Wharf::start_with(Options::default()).await
    }

    pub async fn start_with(options: Options) -> Wharf {
        Wharf::start_on(options, None).await
    }

    /// [`Wharf::start_with`] on the data directory `data_dir` (a restored one, say) instead of a
    /// new one.
    pub async fn start_on(options: Options, data_dir: Option<PathBuf>) -> Wharf {
        Wharf::launch(options, data_dir, &[]).await
    }

    /// With these environment variables for the console (and so the registry it starts), e.g.
    /// `WHARF_REGISTRY_BIN` for another registry program than [`default_registry_bin`].
    pub async fn start_with_env(options: Options, envs: &[(&str, &str)]) -> Wharf {
        Wharf::launch(options, None, envs).await
    }

    async fn launch(options: Options, data_dir: Option<PathBuf>, envs: &[(&str, &str)]) -> Wharf {
        let registry_bin = envs
            .iter()
            .find(|(key, _)| *key == "WHARF_REGISTRY_BIN")
            .map_or_else(default_registry_bin, |(_, bin)| bin.to_string());
        if options.registry_url.is_none() {
            require_program(&registry_bin);
        }
        let dir_guard = temp_dir("server");
        let dir = dir_guard.path().to_path_buf();
        let data_dir = data_dir.unwrap_or_else(|| dir.join("data"));
        let port = free_port();
        let registry_port = free_port();
        let mut command = Command::new(wharf_bin());
        command
            .arg("serve")
            .arg("--data-dir")
            .arg(&data_dir)
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .arg("--registry-listen")
            .arg(format!("127.0.0.1:{registry_port}"))
            .arg("--site-root")
            .arg(dir.join("site"))
            .args(&options.extra_args)
            .env("WHARF_REGISTRY_BIN", &registry_bin)
            .envs(envs.iter().copied())
            .env("WHARF_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .env("WHARF_LOG", "info")
            .stdin(Stdio::null())
            .stdout(File::create(dir.join("stdout.log")).unwrap())
            .stderr(File::create(dir.join("stderr.log")).unwrap());
        if let Some(url) = &options.database_url {
            command.arg("--database-url").arg(url);
        }
        let registry_host = match &options.registry_url {
            Some(url) => {
                command.arg("--registry-url").arg(url);
                url.trim_start_matches("http://").to_string()
            }
            None => format!("127.0.0.1:{registry_port}"),
        };
        let child = command.spawn().expect("start wharf");
        let mut wharf = Wharf {
            child: Some(child),
            command,
            url: format!("http://127.0.0.1:{port}"),
            registry_host,
            data_dir,
            dir,
            _dir_guard: dir_guard,
        };
        wharf.wait_healthy().await;
        wharf
    }

    async fn wait_healthy(&mut self) {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(2))
            .build()
            .unwrap();
        for _ in 0..240 {
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                panic!("wharf exited early with {status}:\n{}", self.logs());
            }
            if let Ok(response) = client.get(format!("{}/healthz", self.url)).send().await {
                if response.status().is_success() {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        panic!("wharf did not become healthy within 60 s:\n{}", self.logs());
    }

    pub fn logs(&self) -> String {
        let read = |name: &str| std::fs::read_to_string(self.dir.join(name)).unwrap_or_default();
        format!("--- stdout\n{}\n--- stderr\n{}", read("stdout.log"), read("stderr.log"))
    }

    pub fn registry_url(&self) -> String {
        format!("http://{}", self.registry_host)
    }

    /// A browser-like client with a cookie jar, signed in through the login form.
    pub async fn signed_in_client(&self, username: &str, password: &str) -> reqwest::Client {
        let client = reqwest::Client::builder()
            .cookie_store(true)
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap();
        let response = client
            .post(format!("{}/api/login", self.url))
            .header("Referer", format!("{}/login", self.url))
            .form(&[("username", username), ("password", password)])
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success(), "sign-in answered {}", response.status());
        client
    }

    pub async fn page(&self, client: &reqwest::Client, path: &str) -> (u16, String) {
        let response = client.get(format!("{}{path}", self.url)).send().await.unwrap();
        (response.status().as_u16(), response.text().await.unwrap())
    }

    /// A direct handle on the console's database (the same file the server uses).
    pub async fn db(&self) -> app::backend::db::Db {
        let url = format!("sqlite://{}", self.data_dir.join("wharf.db").display());
        app::backend::db::Db::connect(&url).await.unwrap()
    }

    /// The process id of the running console.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    pub fn is_running(&mut self) -> bool {
        self.child.as_mut().unwrap().try_wait().unwrap().is_none()
    }

    /// SIGKILL: the console dies at once, with no shutdown (its registry follows it).
    pub fn kill9(&mut self) {
        let mut child = self.child.take().expect("running");
        child.kill().unwrap();
        child.wait().unwrap();
    }

    /// Starts it again with the same ports and data directory (after [`Wharf::kill9`] or
    /// [`Wharf::stop`]); the logs are appended to.
    pub async fn restart(&mut self) {
        assert!(self.child.is_none(), "stop it first");
        let append = |name: &str| File::options().append(true).open(self.dir.join(name)).unwrap();
        self.command.stdout(append("stdout.log")).stderr(append("stderr.log"));
        // The registry of the killed console may take a moment to go.
        for _ in 0..50 {
            let child = self.command.spawn().expect("start wharf");
            self.child = Some(child);
            std::thread::sleep(Duration::from_millis(300));
            if self.is_running() {
                break;
            }
            self.child = None;
        }
        self.wait_healthy().await;
    }

    /// SIGTERM and wait: returns the exit status.
    pub fn stop(&mut self) -> std::process::ExitStatus {
        let mut child = self.child.take().expect("running");
        let _ = Command::new("kill").arg("-TERM").arg(child.id().to_string()).status();
        for _ in 0..100 {
            if let Some(status) = child.try_wait().unwrap() {
                return status;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = child.kill();
        panic!("wharf did not stop within 10 s of SIGTERM");
    }
}

impl Drop for Wharf {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill").arg("-TERM").arg(child.id().to_string()).status();
            for _ in 0..50 {
                if child.try_wait().ok().flatten().is_some() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Runs `wharf ARGS` to completion with a time bound: for start-up failures.
pub fn run_wharf_to_exit(args: &[&str], envs: &[(&str, &str)]) -> Output {
    let child = Command::new(wharf_bin())
        .args(args)
        .envs(envs.iter().copied())
        .env("WHARF_ADMIN_PASSWORD", ADMIN_PASSWORD)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_bounded(child, Duration::from_secs(30), &format!("wharf {args:?}"))
}

/// Waits for a child to exit, killing it and failing the test after `limit`.
fn wait_bounded(mut child: Child, limit: Duration, what: &str) -> Output {
    let deadline = std::time::Instant::now() + limit;
    while std::time::Instant::now() < deadline {
        if child.try_wait().unwrap().is_some() {
            return child.wait_with_output().unwrap();
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    panic!("{what} did not finish within {limit:?}");
}

/// Writes a generated image as an OCI layout with the project's pusher CLI.
pub fn oci_layout(dir: &Path, tag: &str, extra: &[&str]) {
    let output = Command::new(wharf_bin())
        .args(["push-synthetic", "--repository", "unused", "--tag", tag, "--oci-layout"])
        .arg(dir)
        .args(extra)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
}

/// Runs skopeo with a time bound.
pub fn skopeo(args: &[&str]) -> Output {
    require_program("skopeo");
    let child = Command::new("skopeo")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_bounded(child, Duration::from_secs(120), &format!("skopeo {args:?}"))
}

/// Polls `check` up to `tries` times, 250 ms apart.
pub async fn eventually<F, Fut>(tries: usize, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..tries {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    false
}

/// Pushes a generated image with `wharf push-synthetic` (a real v2 client), as admin when
/// `credentials` is set.
pub fn push_image(registry_url: &str, repository: &str, tag: &str, extra: &[&str], credentials: bool) {
    push_image_as(
        registry_url,
        repository,
        tag,
        extra,
        credentials.then_some(("admin", ADMIN_PASSWORD)),
    );
}

/// Pushes a generated image with the given basic credentials (or none).
pub fn push_image_as(
    registry_url: &str,
    repository: &str,
    tag: &str,
    extra: &[&str],
    credentials: Option<(&str, &str)>,
) {
    let mut command = Command::new(wharf_bin());
    command
        .args([
            "push-synthetic",
            "--registry",
            registry_url,
            "--repository",
            repository,
            "--tag",
            tag,
        ])
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some((username, password)) = credentials {
        command.args(["--username", username, "--password", password]);
    }
    let output = wait_bounded(command.spawn().unwrap(), Duration::from_secs(60), "push-synthetic");
    assert!(
        output.status.success(),
        "push {repository}:{tag}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Calls a server function the way the browser does (form-encoded, JSON back).
pub async fn call(
    wharf: &Wharf,
    client: &reqwest::Client,
    endpoint: &str,
    form: &[(&str, &str)],
) -> (u16, serde_json::Value) {
    let response = client
        .post(format!("{}/api/{endpoint}", wharf.url))
        .header("Accept", "application/json")
        .form(form)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    let value = serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text));
    (status, value)
}

/// A plain registry (no auth, no notifications) that Wharf does not manage.
pub struct StandaloneRegistry {
    child: Child,
    _dir: tempfile::TempDir,
    pub url: String,
}

impl StandaloneRegistry {
    /// `maxentries` caps catalog pages, to exercise `Link` paging.
    pub async fn start(maxentries: usize) -> StandaloneRegistry {
        StandaloneRegistry::start_with_htpasswd(maxentries, None).await
    }

    /// With `htpasswd = Some((user, password))` the registry requires HTTP basic auth.
    pub async fn start_with_htpasswd(maxentries: usize, htpasswd: Option<(&str, &str)>) -> StandaloneRegistry {
        let bin = default_registry_bin();
        require_program(&bin);
        let dir = temp_dir("standalone-registry");
        let port = free_port();
        let config = dir.path().join("config.yml");
        let auth = match htpasswd {
            Some((user, password)) => {
                let file = dir.path().join("htpasswd");
                let hash = bcrypt::hash(password, 5).unwrap();
                std::fs::write(&file, format!("{user}:{hash}\n")).unwrap();
                format!("auth:\n  htpasswd:\n    realm: test\n    path: {}\n", file.display())
            }
            None => String::new(),
        };
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n  secret: test-secret\ncatalog:\n  maxentries: {maxentries}\n{auth}",
                dir.path().join("storage").display()
            ),
        )
        .unwrap();
        let child = Command::new(&bin)
            .arg("serve")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(File::create(dir.path().join("registry.log")).unwrap())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let url = format!("http://127.0.0.1:{port}");
        let client = reqwest::Client::new();
        let up = eventually(80, || async { client.get(format!("{url}/v2/")).send().await.is_ok() }).await;
        assert!(up, "the standalone registry did not start");
        StandaloneRegistry { child, _dir: dir, url }
    }
}

impl Drop for StandaloneRegistry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A fresh PostgreSQL database on the server `WHARF_TEST_POSTGRES_URL` names (scripts/test starts
/// one); `None` when the variable is unset, unless `WHARF_REQUIRE_POSTGRES` makes that a failure.
pub async fn postgres_database() -> Option<app::backend::db::Db> {
    let url = empty_postgres_database().await?;
    Some(app::backend::db::Db::connect(&url).await.unwrap())
}

/// The URL of a fresh, empty PostgreSQL database (no tables), as [`postgres_database`].
pub async fn empty_postgres_database() -> Option<String> {
    let Ok(admin_url) = std::env::var("WHARF_TEST_POSTGRES_URL") else {
        assert!(
            std::env::var("WHARF_REQUIRE_POSTGRES").is_err(),
            "WHARF_REQUIRE_POSTGRES is set but WHARF_TEST_POSTGRES_URL is not"
        );
        eprintln!("WHARF_TEST_POSTGRES_URL not set: PostgreSQL variant skipped");
        return None;
    };
    let name = format!("wharf_test_{}", uuid::Uuid::new_v4().simple());
    let admin = app::backend::db::Db::connect_without_migrations(&admin_url)
        .await
        .unwrap();
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&admin.pool)
        .await
        .unwrap();
    let mut url = url::Url::parse(&admin_url).unwrap();
    url.set_path(&format!("/{name}"));
    Some(url.to_string())
}

/// The repository server function's answer (any status) for `name`, first page, no filter.
pub async fn repository(wharf: &Wharf, client: &reqwest::Client, name: &str) -> serde_json::Value {
    call(
        wharf,
        client,
        "repository",
        &[("name", name), ("filter", ""), ("page", "1")],
    )
    .await
    .1
}

/// A real OpenID Connect provider on 127.0.0.1 (end2end/oidc/provider.mjs, oauth2-mock-server
/// from npm); stopped when dropped.
pub struct OidcProvider {
    child: Child,
    pub issuer: String,
}

impl OidcProvider {
    /// oauth2-mock-server (end2end/oidc/provider.mjs): every claim in the ID token.
    pub fn start() -> OidcProvider {
        OidcProvider::spawn("oauth2-mock-server", "oidc/provider.mjs", &[])
    }

    /// panva's certified oidc-provider (end2end/oidc/oidc-provider.mjs) with client `wharf` /
    /// `wharf-secret` for `redirect_uri`: the ID token carries `sub` only, the profile claims
    /// come from UserInfo.
    pub fn start_certified(redirect_uri: &str) -> OidcProvider {
        OidcProvider::spawn(
            "oidc-provider",
            "oidc/oidc-provider.mjs",
            &["--redirect-uri", redirect_uri],
        )
    }

    fn spawn(package: &str, script: &str, args: &[&str]) -> OidcProvider {
        use std::io::{BufRead, BufReader};
        require_program("node");
        let end2end = Path::new(env!("CARGO_MANIFEST_DIR")).join("../end2end");
        assert!(
            end2end.join("node_modules").join(package).exists(),
            "{package} is not installed: run scripts/setup first"
        );
        let mut child = Command::new("node")
            .arg(script)
            .args(args)
            .current_dir(&end2end)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (sender, receiver) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(issuer) = line.strip_prefix("issuer ") {
                    let _ = sender.send(issuer.to_string());
                }
            }
        });
        let issuer = receiver
            .recv_timeout(Duration::from_secs(30))
            .expect("the OpenID Connect provider did not start within 30 s");
        OidcProvider { child, issuer }
    }
}

impl Drop for OidcProvider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What an open live stream (`/api/stream`) gave next.
#[derive(Debug, Clone, PartialEq)]
pub enum Live {
    /// An `IndexUpdate` as JSON.
    Update(serde_json::Value),
    /// Updates were missed: refetch everything.
    Lagged,
    /// The server closed the stream.
    Ended,
    /// Nothing within the wait.
    Quiet,
}

/// One client's open `/api/stream`, read message by message.
pub struct LiveStream {
    response: reqwest::Response,
    buffer: String,
}

impl LiveStream {
    /// Opens the stream as `client`; panics unless it is accepted.
    pub async fn open(wharf: &Wharf, client: &reqwest::Client) -> LiveStream {
        let response = client.get(format!("{}/api/stream", wharf.url)).send().await.unwrap();
        assert_eq!(response.status().as_u16(), 200, "the live stream was refused");
        LiveStream {
            response,
            buffer: String::new(),
        }
    }

    /// The next message within `wait` (keep-alive comments are skipped).
    pub async fn next(&mut self, wait: Duration) -> Live {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let frame: String = self.buffer.drain(..end + 2).collect();
                let data: String = frame
                    .lines()
                    .filter_map(|line| line.strip_prefix("data:"))
                    .map(str::trim)
                    .collect();
                if frame.lines().any(|line| line.trim() == "event: lagged") {
                    return Live::Lagged;
                }
                if !data.is_empty() {
                    return Live::Update(serde_json::from_str(&data).unwrap());
                }
                continue;
            }
            match tokio::time::timeout_at(deadline, self.response.chunk()).await {
                Err(_) => return Live::Quiet,
                Ok(Ok(Some(chunk))) => self.buffer.push_str(&String::from_utf8_lossy(&chunk)),
                Ok(Ok(None)) | Ok(Err(_)) => return Live::Ended,
            }
        }
    }

    /// Reads updates until one that `wanted` accepts, within `wait`; returns every update read
    /// (that one last), or panics with them when it did not come.
    pub async fn until(
        &mut self,
        wait: Duration,
        wanted: impl Fn(&serde_json::Value) -> bool,
    ) -> Vec<serde_json::Value> {
        let deadline = tokio::time::Instant::now() + wait;
        let mut read = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.next(left).await {
                Live::Update(update) => {
                    let done = wanted(&update);
                    read.push(update);
                    if done {
                        return read;
                    }
                }
                Live::Lagged => {}
                other => panic!("the awaited update did not come ({other:?}); read: {read:?}"),
            }
        }
    }

    /// Waits (up to `wait`) for the server to close the stream, skipping any updates; `false`
    /// when it stayed open.
    pub async fn ends_within(&mut self, wait: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.next(left).await {
                Live::Ended => return true,
                Live::Quiet => return false,
                Live::Update(_) | Live::Lagged => {}
            }
        }
    }
}

/// Whether the registry accepts `jwt` for its catalog (200; 401 is a refusal).
pub async fn registry_accepts(wharf: &Wharf, jwt: &str) -> bool {
    let response = reqwest::Client::new()
        .get(format!("{}/v2/_catalog", wharf.registry_url()))
        .timeout(Duration::from_secs(30))
        .bearer_auth(jwt)
        .send()
        .await
        .unwrap();
    match response.status().as_u16() {
        200 => true,
        401 => false,
        other => panic!("the registry answered {other}"),
    }
}

/// The tags of `repository` in the console's index (the repository page), sorted.
pub async fn indexed_tags(wharf: &Wharf, client: &reqwest::Client, repository: &str) -> Vec<String> {
    let view: app::model::RepositoryView = serde_json::from_value(self::repository(wharf, client, repository).await)
        .unwrap_or_else(|e| panic!("{repository}: {e}"));
    let mut tags: Vec<String> = view.images.into_iter().flat_map(|image| image.tags).collect();
    tags.sort();
    tags
}

/// A repository update on the live stream for `name`?
pub fn is_repository_update(update: &serde_json::Value, name: &str) -> bool {
    update["kind"] == "repository" && update["name"] == name
}

/// Creates the user `name` (as the administrator `admin`) with `roles` (role, scope); returns
/// the assignments' ids.
pub async fn create_user_with_roles(
    wharf: &Wharf,
    admin: &reqwest::Client,
    name: &str,
    password: &str,
    roles: &[(&str, &str)],
) -> Vec<String> {
    let (status, body) = call(
        wharf,
        admin,
        "create_user",
        &[("username", name), ("password", password)],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let mut ids = Vec::new();
    for (role, scope) in roles {
        let form = [
            ("principal_kind", "user"),
            ("principal_name", name),
            ("role", role),
            ("scope", scope),
        ];
        let (status, body) = call(wharf, admin, "add_assignment", &form).await;
        assert_eq!(status, 200, "{body}");
        ids.push(serde_json::from_value::<app::model::AssignmentView>(body).unwrap().id);
    }
    ids
}

/// A user made by the administrator with `role` on `scope`, signed in.
pub async fn user_with_role(
    wharf: &Wharf,
    admin: &reqwest::Client,
    name: &str,
    role: &str,
    scope: &str,
) -> reqwest::Client {
    const PASSWORD: &str = "role-user-password-1";
    create_user_with_roles(wharf, admin, name, PASSWORD, &[(role, scope)]).await;
    wharf.signed_in_client(name, PASSWORD).await
}

/// `/auth/token` answering a form POST: the status and the JSON body (`null` if it is not JSON).
pub async fn token_form(wharf: &Wharf, form: &[(&str, &str)]) -> (u16, serde_json::Value) {
    let response = reqwest::Client::new()
        .post(format!("{}/auth/token", wharf.url))
        .form(form)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(serde_json::Value::Null))
}

/// A token request with Basic credentials (`query` after `/auth/token?`); the status.
pub async fn token_status(wharf: &Wharf, query: &str, user: &str, secret: &str) -> u16 {
    reqwest::Client::new()
        .get(format!("{}/auth/token?{query}", wharf.url))
        .basic_auth(user, Some(secret))
        .timeout(Duration::from_secs(30))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// Posts a notification envelope to a console's `/registry/events` as the registry does; the
/// status (0: no answer).
pub async fn notify_status(http: &reqwest::Client, wharf_url: &str, secret: &str, body: String) -> u16 {
    http.post(format!("{wharf_url}/registry/events"))
        .bearer_auth(secret.trim())
        .body(body)
        .send()
        .await
        .map(|r| r.status().as_u16())
        .unwrap_or(0)
}

/// The fields of the webhook form: defaults, with `fields` set over them.
pub fn webhook_form<'a>(fields: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut form: Vec<(&str, &str)> = vec![
        ("id", ""),
        ("enabled", "on"),
        ("push", "on"),
        ("scope", ""),
        ("pusher", ""),
        ("format", "generic"),
        ("template", ""),
        ("headers", ""),
        ("timeout_secs", "5"),
        ("ordered", "on"),
    ];
    for (key, value) in fields {
        form.retain(|(k, _)| k != key);
        form.push((key, value));
    }
    form
}

/// A registry client signed in as the console's administrator (through the token server).
pub fn admin_registry_client(wharf: &Wharf) -> app::backend::registry::RegistryClient {
    app::backend::registry::RegistryClient::new(
        wharf.registry_url().parse().unwrap(),
        app::backend::registry::RegistryAuth::Credentials {
            username: "admin".into(),
            password: ADMIN_PASSWORD.into(),
        },
    )
}

/// The registry's own tag list of `repository`, sorted (empty when it has none).
pub async fn registry_tags(wharf: &Wharf, repository: &str) -> Vec<String> {
    let mut tags = admin_registry_client(wharf)
        .tags(&repository.parse().unwrap())
        .await
        .unwrap_or_default();
    tags.sort();
    tags
}
