//! The registry Wharf manages, as garbage collection needs it: restarted read-only and back
//! (its config rewritten by the one serializer, `registry_config::render`), its collector run on
//! the same config, its storage measured. Handed to the app as a
//! [`RegistryMaintenance`] trait object; the process itself stays here.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use futures::FutureExt;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::sync::Mutex;

use app::backend::housekeeping::gc::output::BoundedLog;
use app::backend::housekeeping::gc::{CollectorOutput, RegistryMaintenance};
use app::backend::registry_config::{render, RegistryConfigInput, Storage};

use crate::registry_process::{self, Launch, ManagedRegistry};
use crate::registry_storage;
use crate::startup_error::StartupError;

/// The collector of a very large registry runs long; past this it is stopped.
const COLLECT_LIMIT: Duration = Duration::from_secs(6 * 3600);

/// Everything the registry's config is written from.
pub struct RegistryConfig {
    pub listen: SocketAddr,
    pub storage: Storage,
    pub realm: String,
    pub service: String,
    pub issuer: String,
    pub cert_path: PathBuf,
    pub jwks_path: PathBuf,
    pub events_url: String,
    pub notification_secret: String,
    pub http_secret: String,
}

impl RegistryConfig {
    fn render(&self, read_only: bool) -> String {
        render(&RegistryConfigInput {
            listen: &self.listen.to_string(),
            storage: &self.storage,
            realm: &self.realm,
            service: &self.service,
            issuer: &self.issuer,
            cert_path: &self.cert_path,
            jwks_path: &self.jwks_path,
            events_url: &self.events_url,
            notification_secret: &self.notification_secret,
            http_secret: &self.http_secret,
            read_only,
        })
    }
}

pub struct ManagedRegistryHandle {
    bin: String,
    config: RegistryConfig,
    config_path: PathBuf,
    log_path: PathBuf,
    process: Mutex<Option<ManagedRegistry>>,
}

impl ManagedRegistryHandle {
    /// Writes the config (read-write: a collection cut short by a crash leaves nothing
    /// read-only behind) and starts the registry.
    pub async fn start(bin: &str, config: RegistryConfig, data_dir: &Path) -> Result<Arc<Self>, StartupError> {
        let handle = ManagedRegistryHandle {
            bin: bin.to_string(),
            config,
            config_path: data_dir.join("registry.yml"),
            log_path: data_dir.join("registry.log"),
            process: Mutex::new(None),
        };
        handle.write_config(false)?;
        let process = handle.launch(false).await?;
        *handle.process.lock().await = Some(process);
        Ok(Arc::new(handle))
    }

    fn write_config(&self, read_only: bool) -> Result<(), StartupError> {
        std::fs::write(&self.config_path, self.config.render(read_only)).map_err(|e| StartupError::DataDir {
            path: self.config_path.clone(),
            reason: e.to_string(),
        })
    }

    async fn launch(&self, append_log: bool) -> Result<ManagedRegistry, StartupError> {
        registry_process::start(Launch {
            bin: &self.bin,
            config_path: &self.config_path,
            log_path: self.log_path.clone(),
            listen: self.config.listen,
            append_log,
        })
        .await
    }

    /// Stops the registry, rewrites its config and starts it again.
    async fn restart(&self, read_only: bool) -> Result<(), String> {
        let mut process = self.process.lock().await;
        if let Some(running) = process.take() {
            running.stop().await;
        }
        self.write_config(read_only).map_err(|e| e.to_string())?;
        let started = self.launch(true).await.map_err(|e| e.to_string())?;
        *process = Some(started);
        tracing::info!(read_only, "the registry was restarted");
        Ok(())
    }

    /// At shutdown.
    pub async fn stop(&self) {
        if let Some(running) = self.process.lock().await.take() {
            running.stop().await;
        }
    }

    async fn collect(&self, dry_run: bool, cancel: BoxFuture<'_, ()>) -> CollectorOutput {
        let mut command = registry_process::registry_command(&self.bin);
        command.arg("garbage-collect");
        if dry_run {
            command.arg("--dry-run");
        }
        command
            .arg(&self.config_path)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = match command.spawn() {
            Ok(child) => child,
            Err(err) => {
                return BoundedLog::default().finish(Some(format!("cannot start {} garbage-collect: {err}", self.bin)))
            }
        };
        let log = Arc::new(std::sync::Mutex::new(BoundedLog::default()));
        let readers = futures::future::join(
            read_lines(child.stdout.take(), log.clone()),
            read_lines(child.stderr.take(), log.clone()),
        );
        let error = tokio::select! {
            (_, status) = futures::future::join(readers, child.wait()) => match status {
                Ok(status) if status.success() => None,
                Ok(status) => Some(format!("the collector ended with {status}")),
                Err(err) => Some(format!("cannot wait for the collector: {err}")),
            },
            _ = cancel => {
                let _ = child.kill().await;
                Some("cancelled: the collector was stopped".to_string())
            }
            _ = tokio::time::sleep(COLLECT_LIMIT) => {
                let _ = child.kill().await;
                Some(format!("the collector ran longer than {} hours and was stopped", COLLECT_LIMIT.as_secs() / 3600))
            }
        };
        let log = std::mem::take(&mut *log.lock().unwrap_or_else(|e| e.into_inner()));
        log.finish(error)
    }
}

async fn read_lines(stream: Option<impl AsyncRead + Unpin>, log: Arc<std::sync::Mutex<BoundedLog>>) {
    let Some(stream) = stream else { return };
    let mut reader = BufReader::new(stream);
    let mut line = Vec::new();
    // The registry's own program writes short lines; BoundedLog cuts any long one.
    while let Ok(n) = reader.read_until(b'\n', &mut line).await {
        if n == 0 {
            break;
        }
        let text = String::from_utf8_lossy(&line);
        log.lock()
            .unwrap_or_else(|e| e.into_inner())
            .push_line(text.trim_end_matches(['\r', '\n']));
        line.clear();
    }
}

/// Bytes of the files under `dir` (their lengths, as the blobs' sizes are), symbolic links not
/// followed.
pub fn directory_bytes(dir: &Path) -> std::io::Result<u64> {
    let mut total = 0;
    let mut pending = vec![dir.to_path_buf()];
    while let Some(next) = pending.pop() {
        for entry in std::fs::read_dir(&next)? {
            let entry = entry?;
            let kind = entry.file_type()?;
            if kind.is_dir() {
                pending.push(entry.path());
            } else if kind.is_file() {
                total += entry.metadata()?.len();
            }
        }
    }
    Ok(total)
}

impl RegistryMaintenance for ManagedRegistryHandle {
    fn set_read_only(&self, read_only: bool) -> BoxFuture<'_, Result<(), String>> {
        self.restart(read_only).boxed()
    }

    fn garbage_collect<'a>(&'a self, dry_run: bool, cancel: BoxFuture<'a, ()>) -> BoxFuture<'a, CollectorOutput> {
        self.collect(dry_run, cancel).boxed()
    }

    fn storage_bytes(&self) -> BoxFuture<'_, Option<u64>> {
        async move {
            let Storage::Filesystem(dir) = &self.config.storage else {
                return None;
            };
            let dir = dir.clone();
            match tokio::task::spawn_blocking(move || directory_bytes(&dir)).await {
                Ok(Ok(bytes)) => Some(bytes),
                Ok(Err(err)) => {
                    tracing::warn!(error = %err, "cannot measure the registry's storage");
                    None
                }
                Err(_) => None,
            }
        }
        .boxed()
    }

    fn storage_description(&self) -> String {
        registry_storage::describe(&self.config.storage)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_the_bytes_of_files_below() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("a/b")).unwrap();
        std::fs::write(dir.path().join("a/b/data"), vec![0u8; 1000]).unwrap();
        std::fs::write(dir.path().join("top"), b"12345").unwrap();
        std::os::unix::fs::symlink("/etc/passwd", dir.path().join("a/link")).unwrap();
        assert_eq!(directory_bytes(dir.path()).unwrap(), 1005);
    }
}
