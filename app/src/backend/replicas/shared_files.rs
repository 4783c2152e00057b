//! Files every replica must hold the same — the token signing key ring (keys and their
//! certificates) and the notification secret — kept in the database (`shared_files`), so that a
//! new replica needs nothing copied into its data directory.
//!
//! The files stay what the rest of Wharf reads and writes; around every change, under the
//! database's setup lock:
//! 1. [`download`]: the database's copies replace the data directory's (when the database holds
//!    any), so a replica started with a key of its own says so and signs with the shared one;
//! 2. the caller loads, generates or rotates the files as with one console;
//! 3. [`upload`]: what the data directory holds now becomes the database's copy.
//!
//! A file's modification time travels with it (a retired key is dropped by its age).

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::backend::db::{now_ms, Db};

#[derive(Debug, thiserror::Error)]
pub enum SharedFileError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("{path}: {source}")]
    File { path: String, source: std::io::Error },
}

/// What [`download`] did to the data directory.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Downloaded {
    /// The database held copies of these files: the data directory holds the same now.
    pub from_database: bool,
    /// Files of the data directory that differed from the database's and were replaced or removed.
    pub replaced: Vec<String>,
}

/// Makes the data directory's `names` what the database holds, when it holds any of them:
/// written where they differ, removed where the database has none. Nothing changes when the
/// database holds none (the first replica's files are uploaded after it loads them).
pub async fn download(db: &Db, dir: &Path, names: &[&str]) -> Result<Downloaded, SharedFileError> {
    let mut stored = Vec::new();
    for name in names {
        let row: Option<(String, i64)> = sqlx::query_as("SELECT content, updated_at FROM shared_files WHERE name = $1")
            .bind(*name)
            .fetch_optional(&db.pool)
            .await?;
        stored.push((*name, row));
    }
    if stored.iter().all(|(_, row)| row.is_none()) {
        return Ok(Downloaded::default());
    }
    let mut downloaded = Downloaded {
        from_database: true,
        replaced: Vec::new(),
    };
    for (name, row) in stored {
        let path = dir.join(name);
        let local = read(&path)?;
        match row {
            Some((content, updated_at)) => {
                if local.as_deref() != Some(content.as_str()) {
                    if local.is_some() {
                        downloaded.replaced.push(name.to_string());
                    }
                    std::fs::write(&path, &content).map_err(|source| file_error(&path, source))?;
                }
                let modified = UNIX_EPOCH + Duration::from_millis(u64::try_from(updated_at).unwrap_or(0));
                set_modified(&path, modified)?;
            }
            None if local.is_some() => {
                downloaded.replaced.push(name.to_string());
                std::fs::remove_file(&path).map_err(|source| file_error(&path, source))?;
            }
            None => {}
        }
    }
    Ok(downloaded)
}

/// Makes the database's copies of `names` what the data directory holds now.
pub async fn upload(db: &Db, dir: &Path, names: &[&str]) -> Result<(), SharedFileError> {
    let mut tx = db.begin_write().await?;
    for name in names {
        let path = dir.join(name);
        match read(&path)? {
            Some(content) => {
                let modified = std::fs::metadata(&path)
                    .and_then(|m| m.modified())
                    .ok()
                    .and_then(|at| at.duration_since(UNIX_EPOCH).ok())
                    .map_or_else(now_ms, |since| since.as_millis() as i64);
                sqlx::query(
                    "INSERT INTO shared_files (name, content, updated_at) VALUES ($1, $2, $3) \
                     ON CONFLICT (name) DO UPDATE SET content = excluded.content, updated_at = excluded.updated_at",
                )
                .bind(*name)
                .bind(content)
                .bind(modified)
                .execute(&mut *tx)
                .await?;
            }
            None => {
                sqlx::query("DELETE FROM shared_files WHERE name = $1")
                    .bind(*name)
                    .execute(&mut *tx)
                    .await?;
            }
        }
    }
    tx.commit().await?;
    Ok(())
}

fn read(path: &Path) -> Result<Option<String>, SharedFileError> {
    match std::fs::read_to_string(path) {
        Ok(content) => Ok(Some(content)),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(file_error(path, source)),
    }
}

fn set_modified(path: &Path, at: SystemTime) -> Result<(), SharedFileError> {
    std::fs::File::options()
        .write(true)
        .open(path)
        .and_then(|file| file.set_modified(at))
        .map_err(|source| file_error(path, source))
}

fn file_error(path: &Path, source: std::io::Error) -> SharedFileError {
    SharedFileError::File {
        path: path.display().to_string(),
        source,
    }
}
