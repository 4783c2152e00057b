//! A registry that Wharf starts and stops itself: config written from the flags, the process
//! spawned with its log in the data directory, start-up awaited, stopped on shutdown.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::process::{Child, Command};

use crate::startup_error::StartupError;

pub struct ManagedRegistry {
    child: Child,
}

pub struct Launch<'a> {
    pub bin: &'a str,
    pub config_path: &'a Path,
    pub log_path: PathBuf,
    pub listen: SocketAddr,
    /// Add to the log (a restart) instead of starting it anew.
    pub append_log: bool,
}

/// `bin` as a child of the console: it ends with the console, even when the console is killed
/// outright (its notifications would otherwise go nowhere and a restart would find the port
/// taken), and it sees none of Wharf's own settings.
pub fn registry_command(bin: &str) -> Command {
    let mut command = Command::new(bin);
    // SAFETY: the closure only makes one async-signal-safe system call.
    unsafe {
        command.pre_exec(|| {
            nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGTERM).map_err(std::io::Error::from)
        });
    }
    // Wharf's own settings (passwords, database URLs) are none of the registry's business.
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("WHARF_") {
            command.env_remove(key);
        }
    }
    // Distribution 2.8's S3 driver refuses to start when this is set ("LoadCustomCABundleError"),
    // whatever the endpoint; the registry trusts the system's CAs and SSL_CERT_FILE instead.
    command.env_remove("AWS_CA_BUNDLE");
    command.stdin(Stdio::null()).kill_on_drop(true);
    command
}

/// Fails early with a clear message when the port is taken or the program is missing, then waits
/// (bounded) until the registry answers `/v2/`.
pub async fn start(launch: Launch<'_>) -> Result<ManagedRegistry, StartupError> {
    // The port check is racy by nature, but it turns the common case into a clear message.
    if let Err(err) = std::net::TcpListener::bind(launch.listen) {
        return Err(StartupError::Listen {
            addr: launch.listen.to_string(),
            reason: err.to_string(),
            flag: "--registry-listen",
        });
    }
    let log = std::fs::File::options()
        .create(true)
        .write(true)
        .append(launch.append_log)
        .truncate(!launch.append_log)
        .open(&launch.log_path)
        .map_err(|e| StartupError::DataDir {
            path: launch.log_path.clone(),
            reason: e.to_string(),
        })?;
    let log_err = log.try_clone().map_err(|e| StartupError::Other(e.to_string()))?;
    let mut child = registry_command(launch.bin)
        .arg("serve")
        .arg(launch.config_path)
        .stdout(Stdio::from(log))
        .stderr(Stdio::from(log_err))
        .spawn()
        .map_err(|err| match err.kind() {
            std::io::ErrorKind::NotFound => StartupError::RegistryMissing {
                bin: launch.bin.to_string(),
            },
            _ => StartupError::Other(format!("cannot start {}: {err}", launch.bin)),
        })?;

    let url = format!("http://{}/v2/", launch.listen);
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()
        .map_err(|e| StartupError::Other(e.to_string()))?;
    for _ in 0..100 {
        if let Some(status) = child.try_wait().map_err(|e| StartupError::Other(e.to_string()))? {
            return Err(StartupError::RegistryFailed {
                reason: format!("it exited with {status}: {}", last_error_line(&launch.log_path)),
                log: launch.log_path,
            });
        }
        if client.get(&url).send().await.is_ok() {
            return Ok(ManagedRegistry { child });
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = child.kill().await;
    Err(StartupError::RegistryFailed {
        reason: format!("it did not answer on {url} within 10 s"),
        log: launch.log_path,
    })
}

impl ManagedRegistry {
    /// SIGTERM, then SIGKILL if it has not exited after a few seconds.
    pub async fn stop(mut self) {
        if let Some(pid) = self.child.id() {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid as i32),
                nix::sys::signal::Signal::SIGTERM,
            );
            if tokio::time::timeout(Duration::from_secs(5), self.child.wait())
                .await
                .is_ok()
            {
                return;
            }
        }
        let _ = self.child.kill().await;
    }
}

/// The most telling line of the registry's log: the last one mentioning an error, else the last.
fn last_error_line(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines
        .iter()
        .rev()
        .find(|l| l.contains("error") || l.contains("panic") || l.contains("fatal"))
        .or(lines.last())
        .map(|l| l.chars().take(300).collect())
        .unwrap_or_else(|| "no output".to_string())
}
