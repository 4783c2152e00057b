//! Deletes made in the console, recorded before the registry is asked to delete (the registry
//! may report the delete before it answers). The registry names the console's own token as the
//! actor of its delete events and gives them no media type; the intake takes both from here, so
//! webhooks name the user who deleted, as the audit log does. Rows are pruned with the events.

use sqlx::AnyConnection;

use super::db::{now_ms, Db};

/// Who deleted, and what the deleted image was.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ConsoleDelete {
    pub actor: String,
    pub media_type: Option<String>,
}

/// Records that `actor` is deleting `digest` (an image, or a tag's placeholder) of `repository`.
pub async fn record(
    db: &Db,
    repository: &str,
    digest: &str,
    actor: &str,
    media_type: Option<&str>,
) -> Result<(), sqlx::Error> {
    let mut tx = db.begin_write().await?;
    sqlx::query(
        "INSERT INTO console_deletes (repository, digest, actor, media_type, created_at) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (repository, digest) DO UPDATE SET actor = $3, media_type = $4, created_at = $5",
    )
    .bind(repository)
    .bind(digest)
    .bind(actor)
    .bind(media_type)
    .bind(now_ms())
    .execute(&mut *tx)
    .await?;
    tx.commit().await
}

/// The console delete of `digest` in `repository`, if it was one.
pub async fn find(
    conn: &mut AnyConnection,
    repository: &str,
    digest: &str,
) -> Result<Option<ConsoleDelete>, sqlx::Error> {
    sqlx::query_as("SELECT actor, media_type FROM console_deletes WHERE repository = $1 AND digest = $2")
        .bind(repository)
        .bind(digest)
        .fetch_optional(conn)
        .await
}
