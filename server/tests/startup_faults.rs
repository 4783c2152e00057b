//! Start-up faults end the process with one line naming the cause and the fix.

mod support;

use std::net::TcpListener;

use support::{free_port, run_wharf_to_exit, temp_dir};

fn stderr(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).to_string()
}

fn serve_args(data_dir: &std::path::Path, listen: u16, registry: u16) -> Vec<String> {
    vec![
        "serve".into(),
        "--data-dir".into(),
        data_dir.display().to_string(),
        "--listen".into(),
        format!("127.0.0.1:{listen}"),
        "--registry-listen".into(),
        format!("127.0.0.1:{registry}"),
    ]
}

fn run(args: &[String], envs: &[(&str, &str)]) -> std::process::Output {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    run_wharf_to_exit(&args, envs)
}

#[test]
fn console_port_in_use() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let guard = temp_dir("port");
    let dir = guard.path();
    let output = run(&serve_args(dir, port, free_port()), &[]);
    assert!(!output.status.success());
    let err = stderr(&output);
    assert!(err.contains("cannot listen on") && err.contains("--listen"), "{err}");
}

#[test]
fn registry_port_in_use() {
    support::require_program("docker-registry");
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let guard = temp_dir("regport");
    let dir = guard.path();
    let output = run(&serve_args(dir, free_port(), port), &[]);
    assert!(!output.status.success());
    let err = stderr(&output);
    assert!(err.contains("--registry-listen"), "{err}");
}

#[test]
fn registry_binary_missing() {
    let guard = temp_dir("nobin");
    let dir = guard.path();
    let mut args = serve_args(dir, free_port(), free_port());
    args.extend(["--registry-bin".into(), "/nonexistent/docker-registry".into()]);
    let output = run(&args, &[]);
    assert!(!output.status.success());
    let err = stderr(&output);
    assert!(err.contains("was not found") && err.contains("--registry-url"), "{err}");
}

#[test]
fn database_unreachable() {
    let guard = temp_dir("nodb");
    let dir = guard.path();
    let mut args = serve_args(dir, free_port(), free_port());
    let url = format!("postgres://wharf:secret-pw@127.0.0.1:{}/wharf", free_port());
    args.extend(["--database-url".into(), url]);
    let output = run(&args, &[]);
    assert!(!output.status.success());
    let err = stderr(&output);
    assert!(
        err.contains("cannot connect to database") && err.contains("--database-url"),
        "{err}"
    );
    assert!(!err.contains("secret-pw"), "the password must not be printed: {err}");

    let mut args = serve_args(dir, free_port(), free_port());
    args.extend(["--database-url".into(), "mysql://x".into()]);
    let err = stderr(&run(&args, &[]));
    assert!(err.contains("unsupported database URL"), "{err}");
}

#[test]
fn data_dir_not_writable() {
    let guard = temp_dir("ro");
    let dir = guard.path();
    let file = dir.join("a-file");
    std::fs::write(&file, "x").unwrap();
    // A directory below a regular file cannot be created, even by root.
    let output = run(&serve_args(&file.join("data"), free_port(), free_port()), &[]);
    assert!(!output.status.success());
    let err = stderr(&output);
    assert!(err.contains("is not usable") && err.contains("--data-dir"), "{err}");
}

#[test]
fn corrupt_signing_key() {
    let guard = temp_dir("corrupt");
    let dir = guard.path();
    std::fs::write(
        dir.join("token-signing-key.pem"),
        "-----BEGIN PRIVATE KEY-----\nnonsense\n-----END PRIVATE KEY-----\n",
    )
    .unwrap();
    let output = run(&serve_args(dir, free_port(), free_port()), &[]);
    assert!(!output.status.success());
    let err = stderr(&output);
    assert!(err.contains("is corrupt"), "{err}");
}

#[test]
fn invalid_setting_in_the_environment() {
    let output = run(&["serve".to_string()], &[("WHARF_LISTEN", "not-an-address")]);
    assert!(!output.status.success());
    let err = stderr(&output);
    assert!(err.contains("--listen"), "{err}");
}

#[test]
fn registry_that_fails_to_start() {
    // A "registry" that exits at once with an error message.
    let guard = temp_dir("badreg");
    let dir = guard.path();
    let script = dir.join("fake-registry");
    std::fs::write(&script, "#!/bin/sh\necho 'configuration error: bad yaml' >&2\nexit 1\n").unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let mut args = serve_args(&dir.join("data"), free_port(), free_port());
    args.extend(["--registry-bin".into(), script.display().to_string()]);
    let output = run(&args, &[]);
    assert!(!output.status.success());
    let err = stderr(&output);
    assert!(
        err.contains("failed to start") && err.contains("configuration error"),
        "{err}"
    );
}

#[tokio::test]
async fn sigterm_stops_console_and_registry() {
    let mut wharf = support::Wharf::start().await;
    let registry = wharf.registry_url();
    assert!(reqwest::get(format!("{registry}/v2/")).await.is_ok());
    let status = wharf.stop();
    assert!(status.success(), "exit status {status}:\n{}", wharf.logs());
    let gone = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(2))
        .build()
        .unwrap()
        .get(format!("{registry}/v2/"))
        .send()
        .await;
    assert!(gone.is_err(), "the registry must stop with the console");
}

#[test]
fn registry_credentials_incomplete_or_unreadable() {
    let dir = temp_dir("credentials");
    let mut args = serve_args(&dir.path().join("data"), free_port(), free_port());
    args.extend([
        "--registry-url".to_string(),
        format!("http://127.0.0.1:{}", free_port()),
        "--registry-username".to_string(),
        "reader".to_string(),
    ]);
    let output = run(&args, &[]);
    assert!(!output.status.success());
    let err = stderr(&output);
    assert!(err.contains("needs a password"), "{err}");

    let missing = dir.path().join("no-such-file");
    args.extend(["--registry-password-file".to_string(), missing.display().to_string()]);
    let output = run(&args, &[]);
    assert!(!output.status.success());
    let err = stderr(&output);
    assert!(err.contains("cannot read the registry password file"), "{err}");

    // A user name without a registry URL makes no sense: clap refuses it.
    let mut args = serve_args(&dir.path().join("data"), free_port(), free_port());
    args.extend(["--registry-username".to_string(), "reader".to_string()]);
    let output = run(&args, &[]);
    assert!(!output.status.success());
    assert!(stderr(&output).contains("--registry-url"), "{}", stderr(&output));
}
