//! The data directory: created if missing, checked writable, and the secrets kept in it.

use std::path::{Path, PathBuf};

use crate::startup_error::StartupError;

pub const NOTIFICATION_SECRET_FILE: &str = "notification-secret";
pub const REGISTRY_HTTP_SECRET_FILE: &str = "registry-http-secret";

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
