//! `wharf backup` and `wharf restore`: a consistent copy of a console's SQLite data, taken while
//! it runs, and its return into a new data directory.
//!
//! The archive (tar, gzip) holds:
//! - `wharf.db`: an online snapshot of the database (`VACUUM INTO`: one read transaction, so
//!   every table is from the same moment, while the console goes on writing);
//! - `wharf.db-intake`: the intake journal, copied after the snapshot and from the epoch the
//!   snapshot records, so that envelopes answered but not yet stored at the snapshot's moment
//!   are in it (the restored console stores them at start; those already stored are recognised
//!   by their event ids and not stored twice);
//! - the token signing key ring and the notification secret, so that the registry keeps
//!   trusting the restored console and keeps reaching it;
//! - `BACKUP`: what this is, for people.
//!
//! The registry's own storage is not in it (back that up as the registry's operators do). On
//! PostgreSQL, `pg_dump` is the backup: keys and secret are in the database (docs/deploy.md).

use std::io::Write;
use std::path::{Path, PathBuf};

use app::backend::db::{now_ms, Db, DbKind};
use app::backend::intake_journal;

use crate::data_dir::kept_files;
use crate::startup_error::StartupError;

const DATABASE: &str = "wharf.db";
const JOURNAL: &str = "wharf.db-intake";
const README: &str = "BACKUP";
/// A journal that started again between the snapshot and its copy: take both again.
const ATTEMPTS: usize = 3;

fn fail(message: impl Into<String>) -> StartupError {
    StartupError::Other(message.into())
}

/// `wharf backup --data-dir DIR --out FILE`.
pub async fn backup(data_dir: &Path, out: &Path) -> Result<(), StartupError> {
    let database = data_dir.join(DATABASE);
    if !database.exists() {
        return Err(fail(format!(
            "no console database in {} (give --data-dir; on PostgreSQL use pg_dump, see docs/deploy.md)",
            data_dir.display()
        )));
    }
    if out.exists() {
        return Err(fail(format!("{} exists already: give a new file", out.display())));
    }
    let staging = tempfile_dir(out)?;
    let result = async {
        let position = snapshot_with_journal(&database, staging.path()).await?;
        for name in kept_files() {
            let from = data_dir.join(name);
            if from.exists() {
                std::fs::copy(&from, staging.path().join(name))
                    .map_err(|e| fail(format!("cannot copy {}: {e}", from.display())))?;
            }
        }
        std::fs::write(
            staging.path().join(README),
            format!(
                "Wharf {} backup of {}, made at {} (ms since the epoch).\n\
                 Restore with: wharf restore --from THIS_FILE --data-dir NEW_DIR\n\
                 Intake journal stored through: {position:?}\n",
                env!("CARGO_PKG_VERSION"),
                data_dir.display(),
                now_ms(),
            ),
        )
        .map_err(|e| fail(format!("cannot write the backup: {e}")))?;
        archive(staging.path(), out)
    }
    .await;
    if result.is_err() {
        let _ = std::fs::remove_file(out);
    }
    result?;
    println!("Backup written to {}", out.display());
    Ok(())
}

/// Snapshots the database into `staging` and copies the journal from the epoch the snapshot
/// records (see the module's doc). Returns the recorded position.
async fn snapshot_with_journal(
    database: &Path,
    staging: &Path,
) -> Result<Option<intake_journal::Position>, StartupError> {
    let url = format!("sqlite://{}?mode=ro", database.display());
    let db = Db::connect_without_migrations(&url)
        .await
        .map_err(|e| fail(format!("cannot open {}: {e}", database.display())))?;
    debug_assert_eq!(db.kind, DbKind::Sqlite);
    let snapshot = staging.join(DATABASE);
    let journal = database.with_file_name(JOURNAL);
    for _ in 0..ATTEMPTS {
        let _ = std::fs::remove_file(&snapshot);
        sqlx::query("VACUUM INTO $1")
            .bind(snapshot.display().to_string())
            .execute(&db.pool)
            .await
            .map_err(|e| fail(format!("cannot snapshot the database: {e}")))?;
        let position = recorded_in(&snapshot).await?;
        if !journal.exists() {
            return Ok(position);
        }
        let copied = staging.join(JOURNAL);
        std::fs::copy(&journal, &copied).map_err(|e| fail(format!("cannot copy the intake journal: {e}")))?;
        let epoch =
            intake_journal::epoch_of(&copied).map_err(|e| fail(format!("cannot read the intake journal: {e}")))?;
        match (position, epoch) {
            (Some(position), Some(epoch)) if position.epoch != epoch => continue,
            _ => return Ok(position),
        }
    }
    Err(fail(
        "the intake journal started again during each attempt; run the backup again",
    ))
}

/// How far the snapshot at `path` had stored the intake journal (`None` for a database from
/// before the journal, or that never stored one). A plain read-only connection, without the
/// pool's settings: the snapshot stays one file, as `VACUUM INTO` wrote it.
async fn recorded_in(path: &Path) -> Result<Option<intake_journal::Position>, StartupError> {
    let url = format!("sqlite://{}?mode=ro", path.display());
    let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&url)
        .await
        .map_err(|e| fail(format!("cannot read the snapshot: {e}")))?;
    let position = intake_journal::recorded(&mut conn).await.ok().flatten();
    let _ = sqlx::Connection::close(conn).await;
    Ok(position)
}

/// `wharf restore --from FILE --data-dir NEW_DIR`: into a data directory without a database.
pub fn restore(from: &Path, data_dir: &Path) -> Result<(), StartupError> {
    if !from.is_file() {
        return Err(fail(format!("no backup file at {}", from.display())));
    }
    let data_dir = crate::data_dir::prepare(data_dir)?;
    if data_dir.join(DATABASE).exists() {
        return Err(fail(format!(
            "{} holds a console database already: restore into a new data directory",
            data_dir.display()
        )));
    }
    let mut written = Vec::new();
    let restored = unpack(from, &data_dir, &mut written);
    if let Err(err) = restored {
        // Nothing half-way: what this run wrote goes again.
        for path in written {
            let _ = std::fs::remove_file(path);
        }
        return Err(err);
    }
    println!(
        "Restored into {}; start it with: wharf serve --data-dir {}",
        data_dir.display(),
        data_dir.display()
    );
    Ok(())
}

/// Writes the archive's files into `data_dir`, each path into `written` as it is created.
fn unpack(from: &Path, data_dir: &Path, written: &mut Vec<PathBuf>) -> Result<(), StartupError> {
    let damaged = |e: std::io::Error| fail(format!("{} is not a Wharf backup, or is damaged: {e}", from.display()));
    let file = std::fs::File::open(from).map_err(|e| fail(format!("cannot open {}: {e}", from.display())))?;
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(file));
    let allowed: Vec<&str> = kept_files().into_iter().chain([DATABASE, JOURNAL, README]).collect();
    let mut found_database = false;
    for entry in archive.entries().map_err(damaged)? {
        let mut entry = entry.map_err(damaged)?;
        let path = entry.path().map_err(damaged)?.into_owned();
        // Only the names a backup writes, flat: nothing lands outside the data directory.
        let Some(name) = path.to_str().filter(|name| allowed.contains(name)) else {
            return Err(fail(format!(
                "{} holds {}, which no Wharf backup does: nothing restored",
                from.display(),
                path.display()
            )));
        };
        found_database |= name == DATABASE;
        let target = data_dir.join(name);
        let mut out = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&target)
            .map_err(|e| fail(format!("cannot write {}: {e}", target.display())))?;
        written.push(target.clone());
        std::io::copy(&mut entry, &mut out)
            .and_then(|_| out.flush())
            .map_err(|e| fail(format!("cannot write {}: {e}", target.display())))?;
    }
    if !found_database {
        return Err(fail(format!(
            "{} holds no database: not a Wharf backup",
            from.display()
        )));
    }
    Ok(())
}

/// A staging directory next to `out` (same file system, owner only).
fn tempfile_dir(out: &Path) -> Result<tempfile::TempDir, StartupError> {
    let parent = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    tempfile::Builder::new()
        .prefix(".wharf-backup-")
        .tempdir_in(parent)
        .map_err(|e| fail(format!("cannot write next to {}: {e}", out.display())))
}

fn archive(staging: &Path, out: &Path) -> Result<(), StartupError> {
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(out)
        .map_err(|e| fail(format!("cannot write {}: {e}", out.display())))?;
    let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(file, flate2::Compression::default()));
    let mut names: Vec<String> = std::fs::read_dir(staging)
        .map_err(|e| fail(e.to_string()))?
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .collect();
    names.sort();
    for name in names {
        builder
            .append_path_with_name(staging.join(&name), &name)
            .map_err(|e| fail(format!("cannot write {}: {e}", out.display())))?;
    }
    builder
        .into_inner()
        .and_then(|gz| gz.finish())
        .map_err(|e| fail(format!("cannot write {}: {e}", out.display())))?;
    Ok(())
}
