//! The storage page's reads, over what the reader may see.
//!
//! A reader of the whole registry gets the registry's rows as they are. Anyone else sees
//! namespaces in full (a namespace scope, `team-a/`, covers it) or in part (repository
//! patterns): a namespace seen in full is its row; one seen in part is counted over the
//! repositories seen, each blob once. The total counts each blob once over everything seen:
//! the blobs of a namespace seen in full that no other namespace holds are its row's
//! `bytes - cross_bytes`; the rest (blobs held across namespaces, and those of repositories
//! seen in part) are few and are added up by digest.

use std::collections::{BTreeMap, HashMap};

use sqlx::any::AnyArguments;
use sqlx::{Any, Row};

use super::refresh::{day_of, DAY_MS};
use crate::backend::access::{Scope, Visibility};
use crate::backend::db::Db;
use crate::backend::index::queries::like_escape;
use crate::model::{
    DayPoint, NamespaceStorage, RepositoryStorage, StorageInsights, UnpulledImage, UnpulledPage, UnpulledQuery,
    UNPULLED_DAYS,
};

pub const UNPULLED_PAGE_SIZE: u32 = 50;

/// SQL text with numbered placeholders (`$1`…) and the text values bound to them, in order
/// (sqlx's `QueryBuilder` writes `?` for the Any driver, which PostgreSQL refuses).
#[derive(Debug, Default, Clone)]
struct Sql {
    text: String,
    params: Vec<String>,
}

impl Sql {
    fn new(text: &str) -> Sql {
        Sql {
            text: text.to_string(),
            params: Vec::new(),
        }
    }

    fn push(&mut self, text: &str) -> &mut Sql {
        self.text.push_str(text);
        self
    }

    fn bind(&mut self, value: String) -> &mut Sql {
        self.params.push(value);
        self.text.push_str(&format!("${}", self.params.len()));
        self
    }

    /// `(column LIKE p1 OR …)` for the repositories `scopes` cover; `1 = 0` for none.
    fn repositories_in(&mut self, column: &str, scopes: &[Scope]) -> &mut Sql {
        let patterns: Vec<String> = scopes.iter().filter_map(Scope::like_pattern).collect();
        self.any_of(column, patterns.into_iter().map(|p| ("LIKE", p)))
    }

    /// Whether the namespace in `column` is one of `namespaces` or below one of them.
    fn namespaces_in(&mut self, column: &str, namespaces: &[String]) -> &mut Sql {
        let tests = namespaces
            .iter()
            .flat_map(|n| [("=", n.clone()), ("LIKE", format!("{}/%", like_escape(n)))]);
        self.any_of(column, tests)
    }

    fn any_of(&mut self, column: &str, tests: impl Iterator<Item = (&'static str, String)>) -> &mut Sql {
        let mut first = true;
        self.push("(");
        for (operator, value) in tests {
            if !first {
                self.push(" OR ");
            }
            first = false;
            self.push(&format!("{column} {operator} "));
            self.bind(value);
            if operator == "LIKE" {
                self.push(" ESCAPE '\\'");
            }
        }
        if first {
            self.push("1 = 0");
        }
        self.push(")")
    }

    fn query(&self) -> sqlx::query::Query<'_, Any, AnyArguments<'_>> {
        self.params
            .iter()
            .fold(sqlx::query(&self.text), |query, param| query.bind(param.as_str()))
    }
}

/// What a reader sees: everything, or namespaces in full plus repositories matched by scopes.
enum Seen<'a> {
    All,
    Only {
        namespaces: Vec<String>,
        scopes: &'a [Scope],
    },
}

fn seen(visible: &Visibility) -> Seen<'_> {
    match visible {
        Visibility::All => Seen::All,
        Visibility::Only(scopes) if scopes.contains(&Scope::Registry) => Seen::All,
        Visibility::Only(scopes) => Seen::Only {
            namespaces: scopes
                .iter()
                .filter_map(|s| match s {
                    Scope::Namespace(n) => Some(n.clone()),
                    _ => None,
                })
                .collect(),
            scopes,
        },
    }
}

/// The storage page's figures for a reader who sees `visible`, at `now`.
pub async fn insights(db: &Db, visible: &Visibility, now: i64) -> Result<StorageInsights, sqlx::Error> {
    let state = sqlx::query("SELECT built, updated_at FROM storage_totals WHERE id = 1")
        .fetch_optional(&db.pool)
        .await?;
    let (built, updated_at_ms) = match state {
        Some(row) => (row.try_get::<i64, _>("built")? != 0, row.try_get("updated_at")?),
        None => (false, 0),
    };
    let dirty = sqlx::query("SELECT 1 FROM storage_dirty LIMIT 1")
        .fetch_optional(&db.pool)
        .await?
        .is_some();
    let mut insights = match seen(visible) {
        Seen::All => whole_registry(db, now).await?,
        Seen::Only { namespaces, scopes } => in_part(db, &namespaces, scopes, now).await?,
    };
    insights.computing = !built || dirty;
    insights.updated_at_ms = updated_at_ms;
    Ok(insights)
}

async fn whole_registry(db: &Db, now: i64) -> Result<StorageInsights, sqlx::Error> {
    let totals = sqlx::query(
        "SELECT bytes, shared_bytes, (SELECT COUNT(*) FROM storage_repositories) AS repositories, \
           (SELECT COUNT(*) FROM storage_namespaces) AS namespaces FROM storage_totals WHERE id = 1",
    );
    let namespaces = Sql::new(&format!(
        "SELECT namespace, bytes, shared_bytes, repositories FROM storage_namespaces \
         ORDER BY bytes DESC, namespace LIMIT {}",
        StorageInsights::LISTED
    ));
    let largest = Sql::new("SELECT repository, bytes, shared_bytes FROM storage_repositories WHERE 1 = 1");
    let start = day_of(now) - StorageInsights::DAYS + 1;
    let days = Sql::new(&format!(
        "SELECT day, bytes, pushes FROM storage_daily WHERE day >= {start} ORDER BY day"
    ));
    let (totals, namespaces, largest, days) = tokio::try_join!(
        totals.fetch_optional(&db.pool),
        namespace_rows(db, &namespaces),
        largest_repositories(db, largest),
        day_rows(db, &days),
    )?;
    let value = |column: &str| -> Result<i64, sqlx::Error> {
        totals
            .as_ref()
            .map(|r| r.try_get(column))
            .transpose()
            .map(Option::unwrap_or_default)
    };
    Ok(StorageInsights {
        whole_registry: true,
        total_bytes: value("bytes")?,
        shared_bytes: value("shared_bytes")?,
        repositories: value("repositories")?,
        namespaces,
        namespace_count: value("namespaces")?,
        largest,
        days: fill_days(&days, day_of(now), StorageInsights::DAYS),
        ..StorageInsights::default()
    })
}

async fn namespace_rows(db: &Db, sql: &Sql) -> Result<Vec<NamespaceStorage>, sqlx::Error> {
    sql.query()
        .fetch_all(&db.pool)
        .await?
        .iter()
        .map(|r| {
            Ok(NamespaceStorage {
                namespace: r.try_get("namespace")?,
                bytes: r.try_get("bytes")?,
                shared_bytes: r.try_get("shared_bytes")?,
                repositories: r.try_get("repositories")?,
                partial: false,
            })
        })
        .collect()
}

/// The largest repositories `filter` (a statement ending in a `WHERE` condition) selects.
async fn largest_repositories(db: &Db, mut filter: Sql) -> Result<Vec<RepositoryStorage>, sqlx::Error> {
    filter.push(&format!(
        " ORDER BY bytes DESC, repository LIMIT {}",
        StorageInsights::LISTED
    ));
    filter
        .query()
        .fetch_all(&db.pool)
        .await?
        .iter()
        .map(|r| {
            Ok(RepositoryStorage {
                repository: r.try_get("repository")?,
                bytes: r.try_get("bytes")?,
                shared_bytes: r.try_get("shared_bytes")?,
            })
        })
        .collect()
}

async fn day_rows(db: &Db, sql: &Sql) -> Result<Vec<DayPoint>, sqlx::Error> {
    sql.query()
        .fetch_all(&db.pool)
        .await?
        .iter()
        .map(|r| {
            Ok(DayPoint {
                day: r.try_get("day")?,
                bytes: r.try_get("bytes")?,
                pushes: r.try_get("pushes")?,
            })
        })
        .collect()
}

/// One point per day of the `days` up to `today`, oldest first: the recorded ones, and empty
/// ones (no bytes recorded, no pushes) between them.
pub fn fill_days(recorded: &[DayPoint], today: i64, days: i64) -> Vec<DayPoint> {
    let by_day: HashMap<i64, &DayPoint> = recorded.iter().map(|p| (p.day, p)).collect();
    (today - days + 1..=today)
        .map(|day| match by_day.get(&day) {
            Some(point) => (*point).clone(),
            None => DayPoint {
                day,
                bytes: None,
                pushes: 0,
            },
        })
        .collect()
}

/// A blob seen through repositories seen in part, or held across namespaces.
#[derive(Debug, Clone)]
struct SeenBlob {
    size: i64,
    shared: bool,
}

async fn in_part(db: &Db, namespaces: &[String], scopes: &[Scope], now: i64) -> Result<StorageInsights, sqlx::Error> {
    let mut full =
        Sql::new("SELECT namespace, bytes, shared_bytes, cross_bytes, repositories FROM storage_namespaces WHERE ");
    full.namespaces_in("namespace", namespaces);
    let mut partial = Sql::new(
        "SELECT rb.namespace, rb.repository, b.blob_digest, b.size, b.repositories FROM storage_repositories sr \
         JOIN storage_repository_blobs rb ON rb.repository = sr.repository \
         JOIN storage_blobs b ON b.blob_digest = rb.blob_digest WHERE ",
    );
    partial
        .repositories_in("sr.repository", scopes)
        .push(" AND NOT ")
        .namespaces_in("sr.namespace", namespaces);
    let mut crossing = Sql::new(
        "SELECT b.blob_digest, b.size, b.repositories FROM storage_blobs b WHERE b.namespaces > 1 AND EXISTS \
         (SELECT 1 FROM storage_namespace_blobs nb WHERE nb.blob_digest = b.blob_digest AND ",
    );
    crossing.namespaces_in("nb.namespace", namespaces).push(")");
    let mut count = Sql::new("SELECT COUNT(*) AS n FROM storage_repositories WHERE ");
    count.repositories_in("repository", scopes);
    let mut largest = Sql::new("SELECT repository, bytes, shared_bytes FROM storage_repositories WHERE ");
    largest.repositories_in("repository", scopes);
    let (full_rows, partial_rows, crossing_rows, repositories, largest, days) = tokio::try_join!(
        full.query().fetch_all(&db.pool),
        partial.query().fetch_all(&db.pool),
        crossing.query().fetch_all(&db.pool),
        count.query().fetch_one(&db.pool),
        largest_repositories(db, largest),
        namespace_days(db, namespaces, now),
    )?;
    let mut seen_blobs: HashMap<String, SeenBlob> = HashMap::new();
    for row in crossing_rows.iter().chain(partial_rows.iter()) {
        seen_blobs.insert(row.try_get("blob_digest")?, seen_blob(row)?);
    }
    let mut insights = StorageInsights {
        repositories: repositories.try_get("n")?,
        largest,
        ..StorageInsights::default()
    };
    let mut listed = Vec::new();
    for row in &full_rows {
        let crossing: i64 = row.try_get("cross_bytes")?;
        let bytes: i64 = row.try_get("bytes")?;
        let shared: i64 = row.try_get("shared_bytes")?;
        insights.total_bytes += bytes - crossing;
        insights.shared_bytes += shared - crossing;
        listed.push(NamespaceStorage {
            namespace: row.try_get("namespace")?,
            bytes,
            shared_bytes: shared,
            repositories: row.try_get("repositories")?,
            partial: false,
        });
    }
    for blob in seen_blobs.values() {
        insights.total_bytes += blob.size;
        insights.shared_bytes += if blob.shared { blob.size } else { 0 };
    }
    listed.extend(partial_namespaces(&partial_rows)?);
    listed.sort_by(|a, b| b.bytes.cmp(&a.bytes).then_with(|| a.namespace.cmp(&b.namespace)));
    insights.namespace_count = listed.len() as i64;
    insights.days_partial = listed.iter().any(|n| n.partial);
    listed.truncate(StorageInsights::LISTED);
    insights.namespaces = listed;
    insights.days = days;
    Ok(insights)
}

fn seen_blob(row: &sqlx::any::AnyRow) -> Result<SeenBlob, sqlx::Error> {
    Ok(SeenBlob {
        size: row.try_get("size")?,
        shared: row.try_get::<i64, _>("repositories")? > 1,
    })
}

/// Namespaces seen in part, each over its repositories seen, each blob once.
fn partial_namespaces(rows: &[sqlx::any::AnyRow]) -> Result<Vec<NamespaceStorage>, sqlx::Error> {
    #[derive(Default)]
    struct Part {
        blobs: HashMap<String, SeenBlob>,
        repositories: std::collections::BTreeSet<String>,
    }
    let mut parts: BTreeMap<String, Part> = BTreeMap::new();
    for row in rows {
        let part = parts.entry(row.try_get("namespace")?).or_default();
        part.repositories.insert(row.try_get("repository")?);
        part.blobs.insert(row.try_get("blob_digest")?, seen_blob(row)?);
    }
    Ok(parts
        .into_iter()
        .map(|(namespace, part)| NamespaceStorage {
            namespace,
            bytes: part.blobs.values().map(|b| b.size).sum(),
            shared_bytes: part.blobs.values().filter(|b| b.shared).map(|b| b.size).sum(),
            repositories: part.repositories.len() as i64,
            partial: true,
        })
        .collect())
}

/// The daily series over the namespaces seen in full (each namespace's blobs once).
async fn namespace_days(db: &Db, namespaces: &[String], now: i64) -> Result<Vec<DayPoint>, sqlx::Error> {
    let start = day_of(now) - StorageInsights::DAYS + 1;
    let mut sql = Sql::new(&format!(
        "SELECT day, CAST(SUM(bytes) AS BIGINT) AS bytes, CAST(SUM(pushes) AS BIGINT) AS pushes \
         FROM storage_daily_namespaces WHERE day >= {start} AND "
    ));
    sql.namespaces_in("namespace", namespaces)
        .push(" GROUP BY day ORDER BY day");
    let rows = if namespaces.is_empty() {
        Vec::new()
    } else {
        day_rows(db, &sql).await?
    };
    Ok(fill_days(&rows, day_of(now), StorageInsights::DAYS))
}

/// A page of the images the reader sees that were pushed, and not pulled, in the last
/// [`UNPULLED_DAYS`] days, oldest push first. An image is listed once, by its first tag.
pub async fn unpulled(
    db: &Db,
    visible: &Visibility,
    query: &UnpulledQuery,
    now: i64,
) -> Result<UnpulledPage, sqlx::Error> {
    let cutoff = now - UNPULLED_DAYS * DAY_MS;
    let page = query.page.max(1);
    let offset = i64::from(page - 1) * i64::from(UNPULLED_PAGE_SIZE);
    let mut sql = Sql::new(&format!(
        "SELECT t.repository, t.digest, t.tag, t.pushed_at, m.total_size, p.last_pulled_at, \
           (SELECT COUNT(*) FROM tags t3 WHERE t3.repository = t.repository AND t3.digest = t.digest \
             AND t3.attached_to IS NULL) - 1 AS other_tags \
         FROM tags t JOIN manifests m ON m.digest = t.digest \
         LEFT JOIN manifest_pulls p ON p.repository = t.repository AND p.digest = t.digest \
         WHERE t.pushed_at < {cutoff} AND t.attached_to IS NULL \
           AND (p.last_pulled_at IS NULL OR p.last_pulled_at < {cutoff}) \
           AND NOT EXISTS (SELECT 1 FROM tags t2 WHERE t2.repository = t.repository AND t2.digest = t.digest \
             AND (t2.pushed_at >= {cutoff} OR (t2.tag < t.tag AND t2.attached_to IS NULL)))"
    ));
    let whole_registry = match seen(visible) {
        Seen::All => true,
        Seen::Only { scopes, .. } => {
            sql.push(" AND ").repositories_in("t.repository", scopes);
            false
        }
    };
    if !query.namespace.is_empty() {
        sql.push(" AND t.repository LIKE ")
            .bind(format!("{}/%", like_escape(&query.namespace)))
            .push(" ESCAPE '\\'");
    }
    let mut found = unpulled_page(db, sql, query, page, offset).await?;
    found.scope = match query.namespace.as_str() {
        "" if whole_registry => Some(String::new()),
        "" => None,
        namespace => Some(format!("{namespace}/")),
    };
    Ok(found)
}

async fn unpulled_page(
    db: &Db,
    mut sql: Sql,
    query: &UnpulledQuery,
    page: u32,
    offset: i64,
) -> Result<UnpulledPage, sqlx::Error> {
    sql.push(&format!(
        " ORDER BY t.pushed_at, t.repository, t.tag LIMIT {} OFFSET {offset}",
        UNPULLED_PAGE_SIZE + 1
    ));
    let rows = sql.query().fetch_all(&db.pool).await?;
    let mut images = rows
        .iter()
        .map(|r| {
            Ok(UnpulledImage {
                repository: r.try_get("repository")?,
                digest: r.try_get("digest")?,
                tag: r.try_get("tag")?,
                other_tags: r.try_get("other_tags")?,
                pushed_at_ms: r.try_get("pushed_at")?,
                size: r.try_get("total_size")?,
                last_pulled_at_ms: r.try_get("last_pulled_at")?,
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
    let has_more = images.len() > UNPULLED_PAGE_SIZE as usize;
    images.truncate(UNPULLED_PAGE_SIZE as usize);
    Ok(UnpulledPage {
        images,
        page,
        page_size: UNPULLED_PAGE_SIZE,
        has_more,
        namespace: query.namespace.clone(),
        days: UNPULLED_DAYS,
        scope: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_without_a_row_are_empty_points() {
        let recorded = [
            DayPoint {
                day: 8,
                bytes: Some(5),
                pushes: 2,
            },
            DayPoint {
                day: 10,
                bytes: None,
                pushes: 1,
            },
        ];
        let days = fill_days(&recorded, 10, 4);
        assert_eq!(days.iter().map(|d| d.day).collect::<Vec<_>>(), [7, 8, 9, 10]);
        assert_eq!(days[0].bytes, None);
        assert_eq!(days[1], recorded[0]);
        assert_eq!((days[2].bytes, days[2].pushes), (None, 0));
        assert_eq!(days[3].pushes, 1);
    }

    #[test]
    fn conditions_number_their_placeholders() {
        let scopes = [Scope::parse("team-a/").unwrap(), Scope::parse("team-b/api-*").unwrap()];
        let mut sql = Sql::new("SELECT 1 WHERE ");
        sql.repositories_in("r", &scopes)
            .push(" AND NOT ")
            .namespaces_in("n", &["team_a".to_string()]);
        assert_eq!(
            sql.text,
            "SELECT 1 WHERE (r LIKE $1 ESCAPE '\\' OR r LIKE $2 ESCAPE '\\') AND NOT (n = $3 OR n LIKE $4 ESCAPE '\\')"
        );
        assert_eq!(sql.params, ["team-a/%", "team-b/api-%", "team_a", "team\\_a/%"]);
        let mut none = Sql::new("");
        none.repositories_in("r", &[]).namespaces_in("n", &[]);
        assert_eq!(none.text, "(1 = 0)(1 = 0)");
    }
}
