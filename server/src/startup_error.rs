//! Why the server could not start, in one line that names the cause and the fix.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("data directory {path} is not usable: {reason}; choose another with --data-dir or fix its permissions")]
    DataDir { path: PathBuf, reason: String },
    #[error("{0}")]
    Key(#[from] app::backend::tokens::KeyError),
    #[error("{}", database_hint(.0))]
    Database(#[from] app::backend::db::DbError),
    #[error("cannot listen on {addr}: {reason}; stop the program using it or choose another address with {flag}")]
    Listen {
        addr: String,
        reason: String,
        flag: &'static str,
    },
    #[error("registry program {bin:?} was not found; install it (apt-get install docker-registry), set --registry-bin, or use an existing registry with --registry-url")]
    RegistryMissing { bin: String },
    #[error("the registry failed to start: {reason}; see {log}")]
    RegistryFailed { reason: String, log: PathBuf },
    #[error("{0}")]
    Other(String),
}

/// A database error with what to do about it: a failed upgrade is no wrong URL.
fn database_hint(err: &app::backend::db::DbError) -> String {
    match err {
        app::backend::db::DbError::Migrate(_) => {
            format!("{err}; the previous version still runs on it (see Upgrades in docs/deploy.md)")
        }
        _ => format!("{err}; check --database-url (WHARF_DATABASE_URL)"),
    }
}
