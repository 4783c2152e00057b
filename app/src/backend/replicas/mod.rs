//! Several consoles (replicas) on one PostgreSQL database: what they tell each other and how
//! they notice one of them is gone. Nothing here runs on SQLite, where one process owns the
//! data directory.
//!
//! - [`signals`]: every signal a replica publishes reaches the others over `LISTEN/NOTIFY`, and
//!   what it means for their in-memory state (cached credentials, throttles, reconcile
//!   progress) is applied there.
//! - [`liveness`]: each replica says it is alive every few seconds; the work a silent replica
//!   had claimed is released for the others at once instead of after its lease.
//! - [`shared_files`]: the files every replica must hold the same (the token signing key ring,
//!   the notification secret) are kept in the database and written to each data directory.

pub mod liveness;
pub mod shared_files;
pub mod signals;

use std::sync::OnceLock;

/// This process among the replicas: `host/pid/random`, readable in the database and unique
/// across restarts. Every claim token this process writes starts with it and a `/`.
pub fn this_replica() -> &'static str {
    static ID: OnceLock<String> = OnceLock::new();
    ID.get_or_init(|| {
        let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "wharf".into());
        let nonce = uuid::Uuid::new_v4().simple().to_string();
        format!("{host}/{}/{}", std::process::id(), &nonce[..8])
    })
}
