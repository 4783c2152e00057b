//! Substring search over repository names through a trigram index, so a search as you type does
//! not read every name: SQLite FTS5 with the `trigram` tokenizer (an external-content table kept
//! in step with `repositories` by triggers), PostgreSQL `pg_trgm` (a GIN index on the lower-case
//! name). Set up after the migrations, which are the same SQL for both databases.

use sqlx::Executor;

use crate::backend::db::{Db, DbKind};

/// A trigram index only helps a pattern with at least this many characters between wildcards.
pub const MIN_INDEXED_CHARS: usize = 3;

/// Creates the index (and, on SQLite, fills it once from the table). Idempotent.
pub async fn ensure(db: &Db) -> Result<(), sqlx::Error> {
    match db.kind {
        DbKind::Sqlite => {
            // The write lock is taken first (`BEGIN IMMEDIATE`, waiting up to the busy timeout): a
            // transaction that read first could not upgrade to a write while another process (the
            // console, when a second handle opens the same file) committed, and would fail at once
            // with "database is locked".
            let mut tx = db.begin_write().await?;
            let exists = sqlx::query("SELECT 1 AS x FROM sqlite_master WHERE name = 'repositories_search'")
                .fetch_optional(&mut *tx)
                .await?
                .is_some();
            if !exists {
                (&mut *tx)
                    .execute(
                        "CREATE VIRTUAL TABLE repositories_search USING fts5(name, content='repositories', \
                 content_rowid='rowid', tokenize='trigram')",
                    )
                    .await?;
                (&mut *tx)
                    .execute(
                        "CREATE TRIGGER repositories_search_insert AFTER INSERT ON repositories BEGIN \
                 INSERT INTO repositories_search (rowid, name) VALUES (new.rowid, new.name); END",
                    )
                    .await?;
                (&mut *tx).execute(
                "CREATE TRIGGER repositories_search_delete AFTER DELETE ON repositories BEGIN \
                 INSERT INTO repositories_search (repositories_search, rowid, name) VALUES ('delete', old.rowid, old.name); END",
            )
            .await?;
                (&mut *tx).execute(
                "CREATE TRIGGER repositories_search_update AFTER UPDATE OF name ON repositories BEGIN \
                 INSERT INTO repositories_search (repositories_search, rowid, name) VALUES ('delete', old.rowid, old.name); \
                 INSERT INTO repositories_search (rowid, name) VALUES (new.rowid, new.name); END",
            )
            .await?;
            }
            // Rebuilt at every start (a fraction of a second at 100,000 names): the index follows
            // the table's rowids, which a VACUUM may renumber.
            (&mut *tx)
                .execute("INSERT INTO repositories_search (repositories_search) VALUES ('rebuild')")
                .await?;
            tx.commit().await
        }
        DbKind::Postgres => {
            // pg_trgm is a trusted extension: the database's owner may create it. Without it the
            // search still works, by reading every name.
            if let Err(err) = db.pool.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm").await {
                tracing::warn!(error = %err, "cannot enable pg_trgm; repository search reads every name");
                return Ok(());
            }
            db.pool
                .execute("CREATE INDEX IF NOT EXISTS repositories_name_trgm ON repositories USING gin (LOWER(name) gin_trgm_ops)")
                .await?;
            Ok(())
        }
    }
}

/// What a search adds to the catalog's query: a condition on the `LIKE` pattern bound as `$n`
/// (`%text%` or `text%`, escaped with `\`) and, on SQLite when the text is long enough for the
/// trigram index, a second one on the FTS5 phrase bound as `$n + 1` that narrows the candidates
/// first. Returns the condition and the FTS5 phrase to bind, if any.
pub fn search_condition(kind: DbKind, n: usize, text: &str) -> (String, Option<String>) {
    let like = format!("LOWER(name) LIKE ${n} ESCAPE '\\'");
    match kind {
        DbKind::Sqlite if text.chars().count() >= MIN_INDEXED_CHARS => {
            // A quoted phrase is a substring match for the trigram tokenizer; `"` is doubled.
            let phrase = format!("\"{}\"", text.replace('"', "\"\""));
            (
                format!(
                    "rowid IN (SELECT rowid FROM repositories_search WHERE repositories_search MATCH ${}) AND {like}",
                    n + 1
                ),
                Some(phrase),
            )
        }
        // PostgreSQL serves the LIKE itself through the pg_trgm index on LOWER(name).
        _ => (like, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_searches_go_through_the_trigram_index_on_sqlite() {
        let (condition, phrase) = search_condition(DbKind::Sqlite, 3, "ap\"i");
        assert!(
            condition.contains("MATCH $4") && condition.contains("LIKE $3"),
            "{condition}"
        );
        assert_eq!(phrase.as_deref(), Some("\"ap\"\"i\""));
        assert_eq!(
            search_condition(DbKind::Sqlite, 1, "ap"),
            ("LOWER(name) LIKE $1 ESCAPE '\\'".to_string(), None)
        );
        assert_eq!(search_condition(DbKind::Postgres, 2, "api").1, None);
    }
}
