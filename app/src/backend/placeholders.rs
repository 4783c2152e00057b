//! The placeholders of Wharf's tag-only deletes (see [`super::deletion`]): recorded before the
//! placeholder is pushed, since the registry may report the push before its answer arrives, so
//! the intake can tell the two events it causes from real ones. Rows are pruned with the events.

use sqlx::{AnyConnection, Row};

use super::db::{now_ms, Db};

/// A recorded placeholder: the tag it removed and what the tag pointed to before.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placeholder {
    pub tag: String,
    pub previous_digest: Option<String>,
}

pub async fn record(
    db: &Db,
    repository: &str,
    placeholder_digest: &str,
    tag: &str,
    previous_digest: Option<&str>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO placeholder_tags (repository, placeholder_digest, tag, previous_digest, created_at) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (repository, placeholder_digest) DO NOTHING",
    )
    .bind(repository)
    .bind(placeholder_digest)
    .bind(tag)
    .bind(previous_digest)
    .bind(now_ms())
    .execute(&db.pool)
    .await?;
    Ok(())
}

/// The placeholder `digest` is in `repository`, if it is one.
pub async fn find(
    conn: &mut AnyConnection,
    repository: &str,
    digest: &str,
) -> Result<Option<Placeholder>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT tag, previous_digest FROM placeholder_tags WHERE repository = $1 AND placeholder_digest = $2",
    )
    .bind(repository)
    .bind(digest)
    .fetch_optional(conn)
    .await?;
    row.map(|r| {
        Ok(Placeholder {
            tag: r.try_get("tag")?,
            previous_digest: r.try_get("previous_digest")?,
        })
    })
    .transpose()
}

/// A placeholder removed `tag` of `repository` in the last hour.
pub async fn is_recent_tag(conn: &mut AnyConnection, repository: &str, tag: &str) -> Result<bool, sqlx::Error> {
    let row =
        sqlx::query("SELECT 1 AS found FROM placeholder_tags WHERE repository = $1 AND tag = $2 AND created_at >= $3")
            .bind(repository)
            .bind(tag)
            .bind(now_ms() - 3_600_000)
            .fetch_optional(conn)
            .await?;
    Ok(row.is_some())
}
