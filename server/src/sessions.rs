//! Browser sessions (tower-sessions) stored in the same database as everything else.

use std::str::FromStr;
use std::time::Duration;

use axum::Router;
use tower_sessions::cookie::SameSite;
use tower_sessions::{Expiry, SessionManagerLayer, SessionStore};
use tower_sessions_sqlx_store::{PostgresStore, SqliteStore};

use app::backend::db::{Db, DbKind};
use app::backend::AppState;

use crate::startup_error::StartupError;

const IDLE_TIMEOUT: time::Duration = time::Duration::hours(12);
const CLEANUP_EVERY: Duration = Duration::from_secs(600);

/// Adds the session layer with a store on `db`, and starts the expired-session cleanup.
pub async fn layer(router: Router<AppState>, db: &Db, secure_cookie: bool) -> Result<Router<AppState>, StartupError> {
    let fail = |e: sqlx::Error| StartupError::Other(format!("session store: {e}"));
    match db.kind {
        DbKind::Sqlite => {
            let options = sqlx::sqlite::SqliteConnectOptions::from_str(&db.url)
                .map_err(fail)?
                .create_if_missing(true)
                .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
                .busy_timeout(Duration::from_secs(5));
            let pool = sqlx::sqlite::SqlitePoolOptions::new()
                .max_connections(4)
                .connect_with(options)
                .await
                .map_err(fail)?;
            let store = SqliteStore::new(pool);
            store.migrate().await.map_err(fail)?;
            Ok(with_store(router, store, secure_cookie))
        }
        DbKind::Postgres => {
            let pool = sqlx::postgres::PgPoolOptions::new()
                .max_connections(5)
                .acquire_timeout(Duration::from_secs(5))
                .connect(&db.url)
                .await
                .map_err(fail)?;
            let store = PostgresStore::new(pool);
            store.migrate().await.map_err(fail)?;
            Ok(with_store(router, store, secure_cookie))
        }
    }
}

/// Deletes expired sessions every few minutes, for the life of the process: a failed round (the
/// database away for a while) is logged and the next one tried.
async fn purge_expired<S: tower_sessions::session_store::ExpiredDeletion>(store: S) {
    let mut every = tokio::time::interval(CLEANUP_EVERY);
    loop {
        every.tick().await;
        if let Err(err) = store.delete_expired().await {
            tracing::warn!(error = %err, "could not delete expired sessions; trying again later");
        }
    }
}

fn with_store<S>(router: Router<AppState>, store: S, secure_cookie: bool) -> Router<AppState>
where
    S: SessionStore + tower_sessions::session_store::ExpiredDeletion + Clone,
{
    tokio::spawn(purge_expired(store.clone()));
    router.layer(
        SessionManagerLayer::new(store)
            .with_name("wharf_session")
            .with_same_site(SameSite::Lax)
            .with_http_only(true)
            .with_secure(secure_cookie)
            .with_expiry(Expiry::OnInactivity(IDLE_TIMEOUT)),
    )
}
