//! The data directory: created if missing, checked writable, and the secrets kept in it.

use std::path::{Path, PathBuf};

use crate::startup_error::StartupError;

pub const NOTIFICATION_SECRET_FILE: &str = "notification-secret";
pub const REGISTRY_HTTP_SECRET_FILE: &str = "registry-http-secret";

/// The files of a data directory that the console needs besides its database, and that
/// replicas share: the token signing key ring and the notification secret.
pub fn kept_files() -> Vec<&'static str> {
    app::backend::tokens::keys::ring_files()
        .into_iter()
        .chain([NOTIFICATION_SECRET_FILE])
        .collect()
}

/// Runs `act` on the data directory's `names` as the replicas sharing `db` hold them: under the
/// database's set-up lock, the database's copies are written to `dir` first, and what `dir`
/// holds afterwards becomes the database's copy (see `replicas::shared_files`).
pub async fn with_shared_files<T>(
    db: &app::backend::db::Db,
    dir: &Path,
    names: &[&str],
    act: impl FnOnce() -> Result<T, StartupError>,
) -> Result<T, StartupError> {
    use app::backend::replicas::shared_files;
    let shared_error = |e: shared_files::SharedFileError| {
        StartupError::Other(format!(
            "cannot share the token signing keys and the notification secret through the database: {e}"
        ))
    };
    let lock = db
        .setup_lock()
        .await
        .map_err(|e| StartupError::Other(format!("cannot lock the database for set-up: {e}")))?;
    let done = async {
        let downloaded = shared_files::download(db, dir, names).await.map_err(shared_error)?;
        if !downloaded.replaced.is_empty() {
            tracing::warn!(
                files = ?downloaded.replaced,
                "this data directory's token signing keys or notification secret differed from the ones the replicas \
                 share in the database: the shared ones are used"
            );
        }
        let done = act()?;
        shared_files::upload(db, dir, names).await.map_err(shared_error)?;
        Ok(done)
    }
    .await;
    lock.release().await;
    done
}

/// Creates the directory and proves it is writable; returns its absolute path.
pub fn prepare(path: &Path) -> Result<PathBuf, StartupError> {
    let fail = |reason: String| StartupError::DataDir {
        path: path.to_path_buf(),
        reason,
    };
    std::fs::create_dir_all(path).map_err(|e| fail(e.to_string()))?;
    // Only its owner may enter: it holds keys, secrets and the database.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700)).map_err(|e| fail(e.to_string()))?;
    }
    let probe = path.join(".write-test");
    std::fs::write(&probe, b"ok").map_err(|e| fail(format!("not writable ({e})")))?;
    std::fs::remove_file(&probe).map_err(|e| fail(e.to_string()))?;
    std::fs::canonicalize(path).map_err(|e| fail(e.to_string()))
}

/// Reads a secret kept in the data directory, generating it on first use.
pub fn secret(dir: &Path, file: &str) -> Result<String, StartupError> {
    let path = dir.join(file);
    match std::fs::read_to_string(&path) {
        Ok(existing) if !existing.trim().is_empty() => Ok(existing.trim().to_string()),
        _ => {
            let fresh = app::backend::passwords::random_hex(32);
            std::fs::write(&path, &fresh).map_err(|e| StartupError::DataDir {
                path: dir.to_path_buf(),
                reason: format!("cannot write {}: {e}", path.display()),
            })?;
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                let _ = std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600));
            }
            Ok(fresh)
        }
    }
}
