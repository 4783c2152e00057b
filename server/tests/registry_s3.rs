//! The registry Wharf manages keeps its images in an S3 bucket (`--registry-s3-*`): against a
//! real S3 API server on 127.0.0.1 (moto, installed by scripts/setup), on each registry line
//! there is: push with skopeo, browse, delete a tag in the console, and the objects are in the
//! bucket, not in the data directory. Skipped, with a message, without moto unless
//! `WHARF_REQUIRE_S3` is set (scripts/test sets it).

mod support;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use support::{
    call, eventually, free_port, oci_layout, skopeo, temp_dir, Options, RegistryProgram, Wharf, ADMIN_PASSWORD,
};

const BUCKET: &str = "wharf-images";
const ACCESS_KEY: &str = "wharf-test-access-key";
const SECRET_KEY: &str = "wharf-test/secret+key: #1";
const ROOT: &str = "/wharf";

#[tokio::test]
async fn distribution_2_8_on_s3() {
    if let Some(moto) = Moto::start() {
        push_browse_delete(&moto, support::distribution_2_8()).await;
    }
}

#[tokio::test]
async fn distribution_3_1_on_s3() {
    if let Some(program) = support::distribution_3_1() {
        if let Some(moto) = Moto::start() {
            push_browse_delete(&moto, program).await;
        }
    }
}

async fn push_browse_delete(moto: &Moto, program: RegistryProgram) {
    let version = program.version;
    moto.create_bucket(BUCKET).await;
    let guard = temp_dir("s3-secret");
    let secret_file = guard.path().join("secret-key");
    std::fs::write(&secret_file, format!("{SECRET_KEY}\n")).unwrap();
    let args = [
        "--registry-s3-bucket",
        BUCKET,
        "--registry-s3-endpoint",
        &moto.url,
        "--registry-s3-path-style",
        "--registry-s3-root-directory",
        ROOT,
        "--registry-s3-access-key",
        ACCESS_KEY,
        "--registry-s3-secret-key-file",
        &secret_file.display().to_string(),
    ];
    let options = Options {
        extra_args: args.iter().map(|a| a.to_string()).collect(),
        ..Default::default()
    };
    let envs = [
        ("WHARF_REGISTRY_BIN", program.bin.as_str()),
        // Set on some machines; Wharf keeps it from the registry, whose 2.8 S3 driver fails with it.
        ("AWS_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt"),
    ];
    let wharf = Wharf::start_with_env(options, &envs).await;

    let work = temp_dir("s3-images");
    let creds = format!("admin:{ADMIN_PASSWORD}");
    let image = |tag: &str| format!("docker://{}/shop/api:{tag}", wharf.registry_host);
    for (tag, seed) in [("1.0", "1"), ("2.0", "2")] {
        let layout = work.path().join(tag);
        oci_layout(&layout, tag, &["--seed", seed]);
        let source = format!("oci:{}:{tag}", layout.display());
        let copy = skopeo(&[
            "copy",
            "--dest-tls-verify=false",
            "--dest-creds",
            &creds,
            &source,
            &image(tag),
        ]);
        assert!(
            copy.status.success(),
            "{version}: push {tag}: {}\n{}",
            String::from_utf8_lossy(&copy.stderr),
            wharf.logs()
        );
    }
    let pull = skopeo(&["inspect", "--tls-verify=false", "--creds", &creds, &image("1.0")]);
    assert!(
        pull.status.success(),
        "{version}: {}",
        String::from_utf8_lossy(&pull.stderr)
    );

    // Browse: the catalog and the repository's tags.
    let client = wharf.signed_in_client("admin", ADMIN_PASSWORD).await;
    let tags = || support::indexed_tags(&wharf, &client, "shop/api");
    let indexed = eventually(80, || async { tags().await == ["1.0", "2.0"] }).await;
    assert!(indexed, "{version}: {:?}\n{}", tags().await, wharf.logs());
    let (_, catalog) = wharf.page(&client, "/").await;
    assert!(catalog.contains("shop/api"), "{version}: {catalog}");

    // What the registry wrote is in the bucket, under the root directory.
    let tag_links = format!(
        "{}/docker/registry/v2/repositories/shop/api/_manifests/tags/",
        &ROOT[1..]
    );
    let keys = moto.keys(BUCKET, &tag_links).await;
    for tag in ["1.0", "2.0"] {
        assert!(
            keys.iter()
                .any(|k| k.starts_with(&format!("{tag_links}{tag}/current/link"))),
            "{version}: {keys:?}"
        );
    }
    let blobs = moto
        .keys(BUCKET, &format!("{}/docker/registry/v2/blobs/sha256/", &ROOT[1..]))
        .await;
    assert!(
        blobs.len() >= 6,
        "{version}: two images' manifests, configs and layers: {blobs:?}"
    );
    assert!(
        !wharf.data_dir.join("registry").exists(),
        "{version}: nothing is stored in the data directory"
    );

    // Delete a tag in the console: gone from the registry, the bucket and the index.
    let (status, done) = call(
        &wharf,
        &client,
        "delete_tag",
        &[("repository", "shop/api"), ("tag", "2.0"), ("confirm", "2.0")],
    )
    .await;
    assert_eq!(status, 200, "{version}: {done}");
    assert_eq!(tags().await, ["1.0"], "{version}");
    let gone = skopeo(&["inspect", "--tls-verify=false", "--creds", &creds, &image("2.0")]);
    assert!(!gone.status.success(), "{version}: tag 2.0 is still served");
    let keys = moto.keys(BUCKET, &tag_links).await;
    assert!(
        !keys.iter().any(|k| k.starts_with(&format!("{tag_links}2.0/"))),
        "{version}: {keys:?}"
    );
    assert!(
        keys.iter().any(|k| k.starts_with(&format!("{tag_links}1.0/"))),
        "{version}: {keys:?}"
    );

    // The secret key is in the registry's config (the owner's alone), and nowhere in the logs.
    let config_path = wharf.data_dir.join("registry.yml");
    let config = std::fs::read_to_string(&config_path).unwrap();
    assert!(config.contains(r#"secretkey: "wharf-test/secret+key: #1""#), "{config}");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&config_path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "{version}");
    let registry_log = std::fs::read_to_string(wharf.data_dir.join("registry.log")).unwrap();
    assert!(
        !wharf.logs().contains(SECRET_KEY) && !registry_log.contains(SECRET_KEY),
        "{version}"
    );
    assert!(wharf.logs().contains("S3 bucket wharf-images"), "{}", wharf.logs());
    collected_in_the_bucket(&wharf, &client, moto, version).await;
}

/// Garbage collection from the console works on the bucket: the blobs it names are gone from
/// it; the bytes are not measured on S3 (the page says so).
async fn collected_in_the_bucket(wharf: &Wharf, client: &reqwest::Client, moto: &Moto, version: &str) {
    let (status, id) = call(wharf, client, "gc_start", &[("mode", "run")]).await;
    assert_eq!(status, 200, "{version}: {id}");
    let id = id.as_str().unwrap().to_string();
    let mut run = None;
    for _ in 0..240 {
        let (_, body) = call(wharf, client, "gc_run", &[("id", &id)]).await;
        let detail: app::model::GcRunDetail = serde_json::from_value(body).unwrap();
        if !detail.run.is_running() {
            run = Some(detail);
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let run = run.expect("the collection ended within 60 s");
    assert_eq!(run.run.status, "succeeded", "{version}: {:?}\n{}", run.run, run.log);
    assert_eq!((run.run.bytes_before, run.run.bytes_after), (None, None), "{version}");
    assert!(
        !run.blobs.is_empty(),
        "{version}: the deleted tag's placeholder manifest at least"
    );
    let blobs = moto
        .keys(BUCKET, &format!("{}/docker/registry/v2/blobs/sha256/", &ROOT[1..]))
        .await;
    for digest in &run.blobs {
        let hex = digest.trim_start_matches("sha256:");
        assert!(
            !blobs.iter().any(|k| k.contains(hex)),
            "{version}: {digest} is still in the bucket"
        );
    }
}

/// moto's S3 API server (`moto_server`) on a free port; stopped when dropped.
struct Moto {
    child: Child,
    url: String,
    http: reqwest::Client,
}

impl Moto {
    /// `WHARF_TEST_MOTO_SERVER`, else scripts/setup's install in the tools folder, else
    /// `moto_server` on PATH. `None`, with a message, when there is none (a failure with
    /// `WHARF_REQUIRE_S3`).
    fn start() -> Option<Moto> {
        let bin = moto_server()?;
        let port = free_port();
        let child = Command::new(&bin)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap();
        let mut moto = Moto {
            child,
            url: format!("http://127.0.0.1:{port}"),
            http,
        };
        // Python takes a few seconds to start on a busy machine.
        for _ in 0..300 {
            if let Some(status) = moto.child.try_wait().unwrap() {
                panic!("{} exited at start with {status}", bin.display());
            }
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Some(moto);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("{} did not listen on {port} within 30 s", bin.display());
    }

    /// Makes a bucket (moto takes unsigned requests).
    async fn create_bucket(&self, bucket: &str) {
        let response = self.http.put(format!("{}/{bucket}", self.url)).send().await.unwrap();
        assert!(response.status().is_success(), "create bucket: {}", response.status());
    }

    /// The keys under `prefix` (ListObjectsV2, first 1,000).
    async fn keys(&self, bucket: &str, prefix: &str) -> Vec<String> {
        let response = self
            .http
            .get(format!("{}/{bucket}", self.url))
            .query(&[("list-type", "2"), ("prefix", prefix)])
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success(), "list: {}", response.status());
        let xml = response.text().await.unwrap();
        xml.split("<Key>")
            .skip(1)
            .filter_map(|part| part.split("</Key>").next())
            .map(str::to_string)
            .collect()
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn moto_server() -> Option<PathBuf> {
    let tools = std::env::var_os("WHARF_TOOLS_DIR")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache/wharf/tools")));
    let candidates = [
        std::env::var_os("WHARF_TEST_MOTO_SERVER").map(PathBuf::from),
        tools.map(|dir| dir.join("moto/bin/moto_server")),
    ];
    let found = candidates
        .into_iter()
        .flatten()
        .find(|path| path.is_file())
        .or_else(|| {
            Command::new("sh")
                .args(["-c", "command -v moto_server"])
                .output()
                .ok()
                .filter(|o| o.status.success())
                .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()))
        });
    if found.is_none() {
        assert!(
            std::env::var_os("WHARF_REQUIRE_S3").is_none(),
            "WHARF_REQUIRE_S3 is set but moto_server is missing: run scripts/setup"
        );
        eprintln!("moto_server is not installed (scripts/setup installs it): the S3 tests are skipped");
    }
    found
}
