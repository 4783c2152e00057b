//! Substring search over repository names through a trigram index, so a search as you type does
//! not read every name: SQLite FTS5 with the `trigram` tokenizer (an external-content table kept
//! in step with `repositories` by triggers), PostgreSQL `pg_trgm` (a GIN index on the lower-case
//! name). Set up after the migrations, which are the same SQL for both databases.

use sqlx::{Executor, Row};

use super::catalog_counts::{self, CatalogCounts};
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

/// A trigram held by at least this many names is "dense": reading its list from the index and
/// then each of its names costs more than walking the sort's index, where a page of matches
/// comes soon. Also the most a probe reads (see [`rarest_trigram`]).
pub const DENSE_TRIGRAM: i64 = 20_000;

/// At most this many trigrams of a text are counted: any one of them finds every match (the
/// `LIKE` checks the rest), and a long text's counting stays bounded.
pub const MAX_PROBED: usize = 16;

/// The first [`MAX_PROBED`] distinct trigrams of a (lower-case) search text, as the `trigram`
/// tokenizer cuts a name.
pub fn trigrams(text: &str) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let mut found: Vec<String> = Vec::new();
    for window in chars.windows(MIN_INDEXED_CHARS) {
        let trigram: String = window.iter().collect();
        if !found.contains(&trigram) {
            found.push(trigram);
            if found.len() == MAX_PROBED {
                break;
            }
        }
    }
    found
}

/// An FTS5 phrase for a literal text: quoted, `"` doubled.
fn phrase(text: &str) -> String {
    format!("\"{}\"", text.replace('"', "\"\""))
}

/// On SQLite, the trigram of `text` the fewest names hold, when fewer than `dense` do; `None`
/// for a short text, on PostgreSQL, or when every trigram is dense. Only that one trigram's list
/// is read for a search: FTS5 reads the whole list of every trigram of a phrase, and in a
/// registry where every name starts with `team-`, "team-01" read four lists of 100,000 names
/// to find 10,000. How many names hold each trigram is counted up to `dense` (about a
/// millisecond per 10,000) and kept in `counts` like the catalog's other counts.
pub async fn rarest_trigram(
    db: &Db,
    (counts, generation): (&CatalogCounts, u64),
    text: &str,
    dense: i64,
) -> Result<Option<String>, sqlx::Error> {
    if db.kind != DbKind::Sqlite {
        return Ok(None);
    }
    let sql = format!(
        "SELECT COUNT(*) AS n FROM (SELECT rowid FROM repositories_search WHERE repositories_search MATCH $1 LIMIT {dense})"
    );
    let mut rarest: Option<(String, i64)> = None;
    for trigram in trigrams(text) {
        let key = catalog_counts::key(&sql, std::slice::from_ref(&trigram));
        let held = counts
            .get_or_count(key, generation, async {
                sqlx::query(&sql)
                    .bind(phrase(&trigram))
                    .fetch_one(&db.pool)
                    .await?
                    .try_get::<i64, _>("n")
            })
            .await?;
        if held < dense && rarest.as_ref().is_none_or(|(_, fewest)| held < *fewest) {
            rarest = Some((trigram, held));
        }
    }
    Ok(rarest.map(|(trigram, _)| trigram))
}

/// What a search adds to the catalog's query: a condition on the `LIKE` pattern bound as `$n`
/// (`%text%` or `text%`, escaped with `\`) and, on SQLite when a trigram of the text is rare
/// enough (see [`rarest_trigram`]), a second one on that trigram's FTS5 phrase, bound as
/// `$n + 1`, that narrows the candidates first. Returns the condition and the phrase to bind.
pub fn search_condition(kind: DbKind, n: usize, rarest: Option<&str>) -> (String, Option<String>) {
    match kind {
        // SQLite's LIKE ignores ASCII case, and its LOWER() folds only ASCII: LOWER() on each
        // name would only add cost (a count by scan took three times as long at 100,000 names).
        DbKind::Sqlite => {
            let like = format!("name LIKE ${n} ESCAPE '\\'");
            match rarest {
                Some(trigram) => (
                    format!(
                        "rowid IN (SELECT rowid FROM repositories_search WHERE repositories_search MATCH ${}) AND {like}",
                        n + 1
                    ),
                    Some(phrase(trigram)),
                ),
                None => (like, None),
            }
        }
        // PostgreSQL serves the LIKE itself through the pg_trgm index on LOWER(name).
        DbKind::Postgres => (format!("LOWER(name) LIKE ${n} ESCAPE '\\'"), None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trigrams_are_distinct_windows_of_three_characters() {
        assert_eq!(trigrams("team-01"), ["tea", "eam", "am-", "m-0", "-01"]);
        assert_eq!(trigrams("aaaa"), ["aaa"]);
        assert_eq!(trigrams("äöüß"), ["äöü", "öüß"]);
        assert!(trigrams("ab").is_empty());
        let long: String = ('a'..='z').collect();
        assert_eq!(trigrams(&long).len(), MAX_PROBED, "a long text's counting is bounded");
        assert_eq!(trigrams(&long)[MAX_PROBED - 1], "pqr");
    }

    #[test]
    fn a_rare_trigram_narrows_the_search_on_sqlite() {
        let (condition, phrase) = search_condition(DbKind::Sqlite, 3, Some("a\"i"));
        assert!(
            condition.contains("MATCH $4") && condition.contains("name LIKE $3"),
            "{condition}"
        );
        assert_eq!(phrase.as_deref(), Some("\"a\"\"i\""));
        assert_eq!(
            search_condition(DbKind::Sqlite, 1, None),
            ("name LIKE $1 ESCAPE '\\'".to_string(), None)
        );
        assert_eq!(
            search_condition(DbKind::Postgres, 2, Some("api")),
            ("LOWER(name) LIKE $2 ESCAPE '\\'".to_string(), None)
        );
    }
}
