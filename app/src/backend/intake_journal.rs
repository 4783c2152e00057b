//! The intake's journal, for SQLite. The registry sends its notifications one envelope at a time
//! and waits for each answer, so every millisecond the answer waits slows the whole stream; in
//! the main database the answer would wait for the one writer at a time (the index, the webhook
//! dispatcher, sessions). So each envelope is appended to a small database file of its own
//! (`<database>-intake`, WAL: a commit survives the process being killed) and answered at once;
//! the mover ([`super::intake::Intake::with_journal`]) stores the journaled envelopes in the main
//! database in batches, then removes them here. Stopped in between, they are stored again at the
//! next start, where they are duplicates (events are stored once by id): nothing is lost, and
//! nothing is delivered twice.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};
use sqlx::Row;
use tokio::sync::Notify;

/// One journaled envelope.
#[derive(Debug, Clone)]
pub struct Entry {
    pub seq: i64,
    pub received_at: i64,
    pub body: Vec<u8>,
    /// Times storing it alone failed.
    pub failures: i64,
}

pub struct Journal {
    pool: SqlitePool,
    path: PathBuf,
    appended: Notify,
}

impl Journal {
    /// Opens (creating it if needed) the journal of the SQLite database at `database_url`, next
    /// to it. `None` for a database without a file (in memory).
    pub async fn open(database_url: &str) -> Result<Option<Journal>, sqlx::Error> {
        let main = SqliteConnectOptions::from_str(database_url)?;
        let Some(path) = journal_path(main.get_filename()) else {
            return Ok(None);
        };
        let options = SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(5));
        // One connection: appends and the mover's reads and removals take turns in the pool's
        // queue rather than in SQLite's busy handler, which sleeps.
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await?;
        sqlx::query(
            "CREATE TABLE IF NOT EXISTS envelopes (seq INTEGER PRIMARY KEY AUTOINCREMENT, \
             received_at INTEGER NOT NULL, body BLOB NOT NULL, failures INTEGER NOT NULL DEFAULT 0)",
        )
        .execute(&pool)
        .await?;
        Ok(Some(Journal {
            pool,
            path,
            appended: Notify::new(),
        }))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends an envelope (committed when this returns) and wakes the mover.
    pub async fn append(&self, received_at: i64, body: &[u8]) -> Result<(), sqlx::Error> {
        sqlx::query("INSERT INTO envelopes (received_at, body) VALUES ($1, $2)")
            .bind(received_at)
            .bind(body)
            .execute(&self.pool)
            .await?;
        self.appended.notify_one();
        Ok(())
    }

    /// Waits for the next append (or returns at once if one came since the last wait).
    pub async fn appended(&self) {
        self.appended.notified().await;
    }

    /// The oldest `limit` envelopes, in the order they came.
    pub async fn oldest(&self, limit: i64) -> Result<Vec<Entry>, sqlx::Error> {
        let rows = sqlx::query("SELECT seq, received_at, body, failures FROM envelopes ORDER BY seq LIMIT $1")
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|row| {
                Ok(Entry {
                    seq: row.try_get("seq")?,
                    received_at: row.try_get("received_at")?,
                    body: row.try_get("body")?,
                    failures: row.try_get("failures")?,
                })
            })
            .collect()
    }

    /// Removes the envelopes up to and including `seq` (stored in the main database).
    pub async fn remove_through(&self, seq: i64) -> Result<(), sqlx::Error> {
        sqlx::query("DELETE FROM envelopes WHERE seq <= $1")
            .bind(seq)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Counts a failure to store the envelope `seq` on its own.
    pub async fn count_failure(&self, seq: i64) -> Result<(), sqlx::Error> {
        sqlx::query("UPDATE envelopes SET failures = failures + 1 WHERE seq = $1")
            .bind(seq)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Envelopes waiting.
    pub async fn waiting(&self) -> Result<i64, sqlx::Error> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM envelopes")
            .fetch_one(&self.pool)
            .await?;
        row.try_get("n")
    }
}

/// `<file>-intake` next to the database file; `None` for an in-memory database.
fn journal_path(database: &Path) -> Option<PathBuf> {
    let name = database.file_name()?.to_str()?;
    if name.is_empty() || name == ":memory:" || database.as_os_str().to_string_lossy().starts_with(':') {
        return None;
    }
    Some(database.with_file_name(format!("{name}-intake")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lives_next_to_the_database() {
        assert_eq!(
            journal_path(Path::new("/data/wharf.db")),
            Some(PathBuf::from("/data/wharf.db-intake"))
        );
        assert_eq!(journal_path(Path::new(":memory:")), None);
    }

    #[tokio::test]
    async fn appends_in_order_and_keeps_what_is_not_removed() {
        let dir = std::env::temp_dir().join(format!("wharf-journal-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let url = format!("sqlite://{}", dir.join("wharf.db").display());
        let journal = Journal::open(&url).await.unwrap().unwrap();
        assert_eq!(journal.path(), dir.join("wharf.db-intake"));
        for i in 0..5u8 {
            journal.append(1000 + i64::from(i), &[i]).await.unwrap();
        }
        let oldest = journal.oldest(3).await.unwrap();
        assert_eq!(
            oldest.iter().map(|e| e.body.clone()).collect::<Vec<_>>(),
            vec![vec![0], vec![1], vec![2]]
        );
        journal.count_failure(oldest[2].seq).await.unwrap();
        journal.remove_through(oldest[1].seq).await.unwrap();
        drop(journal);
        // Opened again (a restart): what was not removed is still there, in order.
        let journal = Journal::open(&url).await.unwrap().unwrap();
        let left = journal.oldest(10).await.unwrap();
        assert_eq!(
            left.iter()
                .map(|e| (e.body.clone(), e.received_at, e.failures))
                .collect::<Vec<_>>(),
            vec![(vec![2], 1002, 1), (vec![3], 1003, 0), (vec![4], 1004, 0)]
        );
        assert_eq!(journal.waiting().await.unwrap(), 3);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
