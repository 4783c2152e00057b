//! Database connection: SQLite (default) or PostgreSQL behind sqlx's `Any` driver, so the same
//! `$1`-placeholder SQL runs on both. Migrations run on connect.

use std::str::FromStr;
use std::time::Duration;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{Any, AnyConnection, AnyPool, Executor, Transaction};
use tokio::sync::OwnedMutexGuard;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DbKind {
    Sqlite,
    Postgres,
}

#[derive(Clone, Debug)]
pub struct Db {
    pub pool: AnyPool,
    pub kind: DbKind,
    pub url: String,
    /// SQLite has one writer at a time: write transactions of this process queue here (in
    /// order) instead of polling SQLite's busy lock.
    write_lock: Arc<tokio::sync::Mutex<()>>,
    /// Where ordinary write transactions queue before `write_lock`, so that at most one of them
    /// waits there.
    ordinary_writers: Arc<tokio::sync::Mutex<()>>,
    /// Transactions that go first ([`Db::begin_write_first`]) waiting for `write_lock` now: an
    /// ordinary one that gets the turn meanwhile hands it on to them, once.
    first_waiting: Arc<AtomicUsize>,
}

/// Counts a transaction that goes first among those waiting, until dropped (also when its wait
/// is given up).
struct WaitingFirst(Arc<AtomicUsize>);

impl WaitingFirst {
    fn new(count: &Arc<AtomicUsize>) -> WaitingFirst {
        count.fetch_add(1, Ordering::AcqRel);
        WaitingFirst(count.clone())
    }
}

impl Drop for WaitingFirst {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The advisory lock key of [`Db::setup_lock`] ("WHARF" and 1).
const SETUP_LOCK_KEY: i64 = 0x5748_4152_4600_0001;

/// A PostgreSQL session advisory lock held on a connection of its own ([`Db::setup_lock`],
/// [`Db::session_lock`]); nothing on SQLite. Released by [`SessionLock::release`], or when its
/// connection closes (the process ended, or was killed).
pub struct SessionLock {
    conn: Option<AnyConnection>,
    key: i64,
}

/// See [`Db::setup_lock`].
pub type SetupLock = SessionLock;

impl SessionLock {
    pub async fn release(self) {
        if let Some(mut conn) = self.conn {
            let _ = sqlx::query("SELECT pg_advisory_unlock($1)")
                .bind(self.key)
                .execute(&mut conn)
                .await;
            // Closing ends the session, and any lock it still holds.
            let _ = sqlx::Connection::close(conn).await;
        }
    }
}

/// A write transaction from [`Db::begin_write`]: used as a connection; `commit` it, or drop it
/// to roll back.
pub struct WriteTx {
    tx: Transaction<'static, Any>,
    _turn: Option<OwnedMutexGuard<()>>,
    _held: Hold,
}

/// Where a write transaction began, and since when it holds the writer's turn: one that held it
/// long is logged (`app::backend::db=debug`) when it ends.
struct Hold {
    began_at: &'static std::panic::Location<'static>,
    /// How long it waited for the turn, and then for `BEGIN` (SQLite's lock, when a write
    /// outside the turn holds it).
    waited: Duration,
    begun: Duration,
    since: std::time::Instant,
}

/// A write transaction that holds SQLite's one writer's turn longer than this is logged at debug
/// level, with where it began: every other write waits meanwhile.
const LONG_HOLD: Duration = Duration::from_millis(20);

impl Drop for Hold {
    fn drop(&mut self) {
        let held = self.since.elapsed();
        if held >= LONG_HOLD || self.waited >= LONG_HOLD {
            tracing::debug!(held = ?held, waited = ?self.waited, begun = ?self.begun, at = %self.began_at, "long write transaction");
        }
    }
}

impl WriteTx {
    pub async fn commit(self) -> Result<(), sqlx::Error> {
        self.tx.commit().await
    }

    pub async fn rollback(self) -> Result<(), sqlx::Error> {
        self.tx.rollback().await
    }
}

impl std::ops::Deref for WriteTx {
    type Target = AnyConnection;
    fn deref(&self) -> &AnyConnection {
        &self.tx
    }
}

impl std::ops::DerefMut for WriteTx {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        &mut self.tx
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("unsupported database URL {0}: use sqlite://PATH or postgres://USER@HOST:PORT/DB")]
    Unsupported(String),
    #[error("cannot connect to database {url}: {source}")]
    Connect { url: String, source: sqlx::Error },
    #[error("database migration failed ({0}); no migration was applied: the database is as it was before the upgrade")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("cannot set up the repository search index: {0}")]
    SearchIndex(sqlx::Error),
}

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations");

impl DbKind {
    pub fn of_url(url: &str) -> Option<DbKind> {
        if url.starts_with("sqlite:") {
            Some(DbKind::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Some(DbKind::Postgres)
        } else {
            None
        }
    }
}

/// The URL with any password replaced, for messages and logs.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("****"));
            parsed.to_string()
        }
        _ => url.to_string(),
    }
}

impl Db {
    /// Connects (creating a SQLite file if needed) and runs the migrations. Replicas starting
    /// together on one PostgreSQL database set it up one after another ([`Db::setup_lock`]).
    pub async fn connect(url: &str) -> Result<Db, DbError> {
        let db = Db::connect_without_migrations(url).await?;
        let lock = db.setup_lock().await.map_err(|source| DbError::Connect {
            url: redact_url(url),
            source,
        })?;
        let set_up = async {
            db.migrate().await?;
            crate::backend::index::search_index::ensure(&db)
                .await
                .map_err(DbError::SearchIndex)
        }
        .await;
        lock.release().await;
        set_up.map(|_| db)
    }

    /// Runs the migrations this database lacks, all in one transaction (each one in a savepoint
    /// of it): when one fails, the database is left as it was before the upgrade, none of them
    /// applied, and the error names the migration and why it failed.
    async fn migrate(&self) -> Result<(), DbError> {
        let mut tx = self.pool.begin().await.map_err(sqlx::migrate::MigrateError::from)?;
        match MIGRATOR.run(&mut *tx).await {
            Ok(()) => {
                tx.commit().await.map_err(sqlx::migrate::MigrateError::from)?;
                Ok(())
            }
            Err(err) => {
                let _ = tx.rollback().await;
                Err(DbError::Migrate(err))
            }
        }
    }

    /// Held while a process sets the database up (migrations, indexes, the first user), so that
    /// replicas starting together on an empty PostgreSQL database do it once, one after another:
    /// a session advisory lock on a connection of its own. (SQLite: one process per data
    /// directory, see `intake_journal`.)
    pub async fn setup_lock(&self) -> Result<SetupLock, sqlx::Error> {
        self.session_lock(SETUP_LOCK_KEY).await
    }

    /// The session advisory lock `key`, waiting for it (PostgreSQL; at once on SQLite).
    pub async fn session_lock(&self, key: i64) -> Result<SessionLock, sqlx::Error> {
        if self.kind != DbKind::Postgres {
            return Ok(SessionLock { conn: None, key });
        }
        let mut conn = <AnyConnection as sqlx::Connection>::connect(&self.url).await?;
        sqlx::query("SELECT pg_advisory_lock($1)")
            .bind(key)
            .execute(&mut conn)
            .await?;
        Ok(SessionLock { conn: Some(conn), key })
    }

    /// The session advisory lock `key` if nobody holds it (PostgreSQL; always on SQLite).
    pub async fn try_session_lock(&self, key: i64) -> Result<Option<SessionLock>, sqlx::Error> {
        if self.kind != DbKind::Postgres {
            return Ok(Some(SessionLock { conn: None, key }));
        }
        let mut conn = <AnyConnection as sqlx::Connection>::connect(&self.url).await?;
        let (taken,): (bool,) = sqlx::query_as("SELECT pg_try_advisory_lock($1)")
            .bind(key)
            .fetch_one(&mut conn)
            .await?;
        if taken {
            return Ok(Some(SessionLock { conn: Some(conn), key }));
        }
        let _ = sqlx::Connection::close(conn).await;
        Ok(None)
    }

    /// Connects only: for administrative connections (tests creating databases).
    pub async fn connect_without_migrations(url: &str) -> Result<Db, DbError> {
        sqlx::any::install_default_drivers();
        let kind = DbKind::of_url(url).ok_or_else(|| DbError::Unsupported(redact_url(url)))?;
        let connect_url = match kind {
            DbKind::Sqlite if !url.contains("mode=") => {
                let sep = if url.contains('?') { '&' } else { '?' };
                format!("{url}{sep}mode=rwc")
            }
            _ => url.to_string(),
        };
        let options = AnyConnectOptions::from_str(&connect_url).map_err(|source| DbError::Connect {
            url: redact_url(url),
            source,
        })?;
        // SQLite: readers never wait for the writer (WAL), only for a free connection; under a
        // burst the index's reads, the write being made, the checkpoint and the webhooks' reads
        // all hold one at once.
        let pool = AnyPoolOptions::new()
            .max_connections(match kind {
                DbKind::Sqlite => 12,
                DbKind::Postgres => 10,
            })
            .acquire_timeout(Duration::from_secs(5))
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    if kind == DbKind::Sqlite {
                        // WAL with synchronous=NORMAL: commits do not wait for fsync (the database
                        // stays consistent; a power cut may lose the last commits, which the next
                        // reconcile restores), so indexing thousands of tags stays fast. Pages are
                        // read through a memory map: a connection drops its page cache whenever
                        // another one wrote, which under a burst is every transaction, and then
                        // reads every page again (copied by `read` without the map).
                        conn.execute(
                            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=5000; \
                             PRAGMA foreign_keys=ON; PRAGMA mmap_size=1073741824; \
                             PRAGMA wal_autocheckpoint=100000;",
                        )
                        .await?;
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await
            .map_err(|source| DbError::Connect {
                url: redact_url(url),
                source,
            })?;
        Ok(Db {
            pool,
            kind,
            url: url.to_string(),
            write_lock: Arc::new(tokio::sync::Mutex::new(())),
            ordinary_writers: Arc::new(tokio::sync::Mutex::new(())),
            first_waiting: Arc::new(AtomicUsize::new(0)),
        })
    }

    /// Begins a transaction that writes. On SQLite it waits for this process's other write
    /// transactions, then takes the database's write lock at once (`BEGIN IMMEDIATE`): a
    /// transaction that read first and then wanted to write while another writer committed
    /// would fail with "database is locked" instead of waiting.
    #[track_caller]
    pub fn begin_write(&self) -> impl std::future::Future<Output = Result<WriteTx, sqlx::Error>> + Send + '_ {
        let at = std::panic::Location::caller();
        async move {
            let asked = std::time::Instant::now();
            let _in_line = match self.kind {
                DbKind::Sqlite => Some(self.ordinary_writers.lock().await),
                DbKind::Postgres => None,
            };
            self.begin_write_at(at, asked, false).await
        }
    }

    /// [`Db::begin_write`] ahead of the ordinary write transactions waiting (SQLite: after the
    /// one writing, and an ordinary one that got the turn meanwhile hands it on): for the
    /// notification intake, whose latency every webhook delivery waits for, and whose
    /// transactions are short.
    #[track_caller]
    pub fn begin_write_first(&self) -> impl std::future::Future<Output = Result<WriteTx, sqlx::Error>> + Send + '_ {
        self.begin_write_at(std::panic::Location::caller(), std::time::Instant::now(), true)
    }

    async fn begin_write_at(
        &self,
        began_at: &'static std::panic::Location<'static>,
        asked: std::time::Instant,
        first: bool,
    ) -> Result<WriteTx, sqlx::Error> {
        match self.kind {
            DbKind::Sqlite => {
                let turn = match first {
                    true => {
                        let _waiting = WaitingFirst::new(&self.first_waiting);
                        self.write_lock.clone().lock_owned().await
                    }
                    false => {
                        let turn = self.write_lock.clone().lock_owned().await;
                        if self.first_waiting.load(Ordering::Acquire) == 0 {
                            turn
                        } else {
                            // The lock is fair: released, it goes to the one queued behind
                            // (one that goes first), and this one queues again after it. Once
                            // only, so ordinary transactions are not starved under a stream.
                            drop(turn);
                            self.write_lock.clone().lock_owned().await
                        }
                    }
                };
                let since = std::time::Instant::now();
                let tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
                Ok(WriteTx {
                    tx,
                    _turn: Some(turn),
                    _held: Hold {
                        began_at,
                        waited: since - asked,
                        begun: since.elapsed(),
                        since,
                    },
                })
            }
            DbKind::Postgres => Ok(WriteTx {
                tx: self.pool.begin().await?,
                _turn: None,
                _held: Hold {
                    began_at,
                    waited: asked.elapsed(),
                    begun: Duration::ZERO,
                    since: std::time::Instant::now(),
                },
            }),
        }
    }

    /// SQLite: copies the write-ahead log back into the database file every
    /// [`CHECKPOINT_EVERY`], until `stopping`. Left to SQLite, the checkpoint (with its `fsync`)
    /// runs inside the commit that fills the log past its limit, while that transaction still
    /// holds the one writer's turn: every write behind it, the notification intake's included,
    /// waited for the disk. A passive checkpoint here lets writers go on meanwhile. (SQLite's own
    /// checkpoint stays as a backstop, at 100,000 pages.)
    pub fn spawn_checkpoints(&self, mut stopping: tokio::sync::watch::Receiver<bool>) {
        if self.kind != DbKind::Sqlite {
            return;
        }
        let pool = self.pool.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(CHECKPOINT_EVERY) => {}
                    _ = stopping.changed() => return,
                }
                if let Err(err) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)").execute(&pool).await {
                    tracing::warn!(error = %err, "cannot checkpoint the database's write-ahead log");
                }
            }
        });
    }

    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        sqlx::query("SELECT 1").execute(&self.pool).await.map(|_| ())
    }
}

/// How long a background write transaction (the index, the storage refresher) goes on taking
/// more work: on SQLite, the notification intake's next transaction waits for it. (One item is
/// always taken, however long it takes.)
pub const WRITE_BUDGET: Duration = Duration::from_millis(8);

/// How often a serving console checkpoints SQLite's write-ahead log ([`Db::spawn_checkpoints`]).
pub const CHECKPOINT_EVERY: Duration = Duration::from_secs(1);

/// Milliseconds since the Unix epoch: how every timestamp Wharf owns is stored.
pub fn now_ms() -> i64 {
    (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The order in which transactions got the writer's turn.
    type Order = Arc<std::sync::Mutex<Vec<&'static str>>>;

    async fn write(db: Db, name: &'static str, first: bool, order: Order) {
        let tx = match first {
            true => db.begin_write_first().await,
            false => db.begin_write().await,
        }
        .unwrap();
        order.lock().unwrap().push(name);
        tx.commit().await.unwrap();
    }

    /// Polls until `count` transactions wait for the turn (bounded).
    async fn until_waiting(db: &Db, ordinary: bool, first: usize) {
        for _ in 0..500 {
            let ordinary_queued = db.ordinary_writers.try_lock().is_err();
            if ordinary_queued == ordinary && db.first_waiting.load(Ordering::Acquire) == first {
                return;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        panic!("the transactions did not queue");
    }

    #[tokio::test]
    async fn a_transaction_that_goes_first_passes_the_ordinary_one_queued_before_it() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::connect(&format!("sqlite://{}", dir.path().join("t.db").display()))
            .await
            .unwrap();
        let order: Order = Arc::default();
        let holding = db.begin_write().await.unwrap();
        let ordinary = tokio::spawn(write(db.clone(), "ordinary", false, order.clone()));
        until_waiting(&db, true, 0).await;
        let first = tokio::spawn(write(db.clone(), "first", true, order.clone()));
        until_waiting(&db, true, 1).await;
        holding.commit().await.unwrap();
        first.await.unwrap();
        ordinary.await.unwrap();
        assert_eq!(*order.lock().unwrap(), ["first", "ordinary"]);
    }
}
