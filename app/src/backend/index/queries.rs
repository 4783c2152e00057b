//! Reads of the index for the pages: each is a handful of indexed queries, whatever the size
//! of the registry.

use std::collections::{BTreeMap, HashMap};

use sqlx::any::AnyRow;
use sqlx::Row;

use super::catalog_counts::{self, CatalogCounts, CountedValue};
use super::labels::well_known_labels;
use super::parse::attachment_of;
use super::search_index;
use super::store::{self, ManifestRecord};
use crate::backend::access::Visibility;
use crate::backend::db::{Db, DbKind};
use crate::model::{Attachment, CatalogQuery, CatalogSort, ImageRow, NamespaceCount, PullStats, RepositoryRow};

pub const CATALOG_PAGE_SIZE: u32 = 50;
pub const TAGS_PAGE_SIZE: u32 = 50;
/// A PostgreSQL search with at most this many matches sorts them itself (see [`catalog`]).
const SORTED_MATCHES: i64 = 20_000;

/// `LIKE` pattern for a literal text (`%`, `_` and `\` escaped; used with `ESCAPE '\'`).
pub fn like_escape(text: &str) -> String {
    text.chars()
        .flat_map(|c| match c {
            '%' | '_' | '\\' => vec!['\\', c],
            c => vec![c],
        })
        .collect()
}

pub struct CatalogRows {
    pub repositories: Vec<RepositoryRow>,
    pub matching: i64,
    pub total: i64,
    pub namespaces: Vec<NamespaceCount>,
}

/// A page of the catalog as `visible` lets its reader see it (counts and namespaces included).
/// Counts come from `counts` while the index is at `generation`.
pub async fn catalog(
    db: &Db,
    query: &CatalogQuery,
    visible: &Visibility,
    registry_host: &str,
    (counts, generation): (&CatalogCounts, u64),
) -> Result<CatalogRows, sqlx::Error> {
    let search = query.search.trim().to_lowercase();
    let statements = CatalogStatements::new(db, query, visible, &search, (counts, generation)).await?;
    let sorted_matches = if db.kind == DbKind::Postgres && !search.is_empty() {
        postgres_sorted_matches(db, &statements, registry_host, (counts, generation)).await?
    } else {
        None
    };
    let CatalogStatements {
        filter,
        params,
        visible_filter,
        visible_params,
        page_sql,
        ..
    } = &statements;
    // The page's rows, its counts and the namespaces are read at the same time, each on its own
    // pooled connection: a new search's count waits for no one.
    let rows = async {
        if let Some(rows) = sorted_matches {
            return Ok(rows);
        }
        planned_each_time(bound(page_sql, params), !search.is_empty())
            .fetch_all(&db.pool)
            .await?
            .iter()
            .map(|row| repository_row(row, registry_host))
            .collect::<Result<Vec<_>, sqlx::Error>>()
    };
    let count = |filter: &str, params: &[String]| {
        let sql = count_sql(filter);
        let key = catalog_counts::key(&sql, params);
        let params = params.to_vec();
        // Only a count with the search text depends on it.
        let searching = params.len() > visible_params.len() && !search.is_empty();
        counts.get_or_count(key, generation, async move {
            planned_each_time(bound(&sql, &params), searching)
                .fetch_one(&db.pool)
                .await?
                .try_get::<i64, _>("n")
        })
    };
    let matching = count(filter, params);
    let filtered = params.len() != visible_params.len();
    let total = async {
        if filtered {
            count(visible_filter, visible_params).await.map(Some)
        } else {
            Ok(None)
        }
    };
    let namespaces = namespaces(db, visible_filter, visible_params, (counts, generation));
    let (repositories, matching, total, namespaces) = tokio::try_join!(rows, matching, total, namespaces)?;
    Ok(CatalogRows {
        repositories,
        matching,
        total: total.unwrap_or(matching),
        namespaces,
    })
}

/// The catalog page's statement and its filters: what the reader may see, the search and the
/// namespace, with their bound parameters in order.
struct CatalogStatements {
    /// `WHERE …` of every condition (or nothing), with `params`.
    filter: String,
    params: Vec<String>,
    /// `WHERE …` of the visibility alone (or nothing), with `visible_params`.
    visible_filter: String,
    visible_params: Vec<String>,
    order: &'static str,
    offset: i64,
    page_sql: String,
}

impl CatalogStatements {
    async fn new(
        db: &Db,
        query: &CatalogQuery,
        visible: &Visibility,
        search: &str,
        counted: (&CatalogCounts, u64),
    ) -> Result<CatalogStatements, sqlx::Error> {
        let mut conditions = Vec::new();
        let mut params: Vec<String> = Vec::new();
        let visibility = visible.sql_condition("name", 1);
        if let Some((condition, patterns)) = &visibility {
            conditions.push(condition.clone());
            params.extend(patterns.iter().cloned());
        }
        let visible_filter = visibility
            .as_ref()
            .map(|(c, _)| format!("WHERE {c}"))
            .unwrap_or_default();
        let visible_params: Vec<String> = visibility.map(|(_, p)| p).unwrap_or_default();
        if !search.is_empty() {
            params.push(if search.ends_with('/') {
                format!("{}%", like_escape(search))
            } else {
                format!("%{}%", like_escape(search))
            });
            let rarest = search_index::rarest_trigram(db, counted, search, search_index::DENSE_TRIGRAM).await?;
            let (condition, phrase) = search_index::search_condition(db.kind, params.len(), rarest.as_deref());
            params.extend(phrase);
            conditions.push(condition);
        }
        if !query.namespace.is_empty() {
            params.push(query.namespace.clone());
            conditions.push(format!("namespace = ${}", params.len()));
        }
        let filter = if conditions.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", conditions.join(" AND "))
        };
        let order = match query.sort {
            CatalogSort::Name => "name ASC",
            CatalogSort::LastPush => "last_push_at DESC, name ASC",
            CatalogSort::Tags => "tag_count DESC, name ASC",
            CatalogSort::Size => "size_bytes DESC, name ASC",
        };
        let offset = i64::from(query.page.max(1) - 1) * i64::from(CATALOG_PAGE_SIZE);
        let page_sql = page_sql(&filter, order, offset);
        Ok(CatalogStatements {
            filter,
            params,
            visible_filter,
            visible_params,
            order,
            offset,
            page_sql,
        })
    }
}

/// The statement of one catalog page.
fn page_sql(filter: &str, order: &str, offset: i64) -> String {
    if offset == 0 {
        format!(
            "SELECT name, tag_count, size_bytes, last_push_at FROM repositories {filter} ORDER BY {order} \
             LIMIT {CATALOG_PAGE_SIZE}"
        )
    } else {
        // A deep page: the rows skipped are walked on the sort's index alone (every sort index
        // ends with the name), and only the page's own rows are read.
        format!(
            "SELECT name, tag_count, size_bytes, last_push_at FROM repositories WHERE name IN \
             (SELECT name FROM repositories {filter} ORDER BY {order} LIMIT {CATALOG_PAGE_SIZE} OFFSET {offset}) \
             ORDER BY {order}"
        )
    }
}

fn count_sql(filter: &str) -> String {
    format!("SELECT COUNT(*) AS n FROM repositories {filter}")
}

/// PostgreSQL searches: the matches are found through the trigram index and, when there are at
/// most SORTED_MATCHES of them, sorted in memory; one scan gives the page and the count. Left
/// to itself the planner walks the sort's index and filters every name on the way, and matches
/// cluster: the 50 names after "team-042/" start 42,000 names in. `None` when there are more
/// matches (or the page is past the end): the usual queries answer then.
async fn postgres_sorted_matches(
    db: &Db,
    statements: &CatalogStatements,
    registry_host: &str,
    (counts, generation): (&CatalogCounts, u64),
) -> Result<Option<Vec<RepositoryRow>>, sqlx::Error> {
    let CatalogStatements {
        filter,
        params,
        order,
        offset,
        ..
    } = statements;
    let matching_key = catalog_counts::key(&count_sql(filter), params);
    let known = counts.get(&matching_key, generation).and_then(i64::unwrap);
    if known.is_some_and(|n| n > SORTED_MATCHES) {
        return Ok(None);
    }
    let sql = format!(
        "WITH matches AS MATERIALIZED (SELECT name, tag_count, size_bytes, last_push_at FROM repositories \
         {filter} LIMIT {}) SELECT name, tag_count, size_bytes, last_push_at, COUNT(*) OVER () AS matching \
         FROM matches ORDER BY {order} LIMIT {CATALOG_PAGE_SIZE} OFFSET {offset}",
        SORTED_MATCHES + 1
    );
    let rows = planned_each_time(bound(&sql, params), true).fetch_all(&db.pool).await?;
    // An empty page (past the end) tells no count.
    let Some(first) = rows.first() else {
        return Ok(None);
    };
    let n: i64 = first.try_get("matching")?;
    if n > SORTED_MATCHES {
        return Ok(None);
    }
    counts.put(matching_key, generation, n.wrap());
    rows.iter()
        .map(|row| repository_row(row, registry_host))
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

/// The namespaces the reader may see, with their repository counts (at most 500).
async fn namespaces(
    db: &Db,
    visible_filter: &str,
    visible_params: &[String],
    (counts, generation): (&CatalogCounts, u64),
) -> Result<Vec<NamespaceCount>, sqlx::Error> {
    let namespace_sql = format!(
        "SELECT namespace, COUNT(*) AS n FROM repositories WHERE namespace <> '' {} \
         GROUP BY namespace ORDER BY namespace LIMIT 500",
        visible_filter.replacen("WHERE", "AND", 1)
    );
    let namespace_key = catalog_counts::key(&namespace_sql, visible_params);
    counts
        .get_or_count(namespace_key, generation, async {
            bound(&namespace_sql, visible_params)
                .fetch_all(&db.pool)
                .await?
                .iter()
                .map(|row| {
                    Ok(NamespaceCount {
                        namespace: row.try_get("namespace")?,
                        repositories: row.try_get("n")?,
                    })
                })
                .collect::<Result<Vec<_>, sqlx::Error>>()
        })
        .await
}

/// `sql` with `params` bound in order.
fn bound<'q>(sql: &'q str, params: &'q [String]) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    params.iter().fold(sqlx::query(sql), |query, param| query.bind(param))
}

/// A statement whose best plan depends on its parameters (a search text, a repository with 10
/// or 10,000 tags): not kept prepared, so PostgreSQL plans it for the values at hand every time
/// instead of settling on a generic plan after five runs (measured on the first page of a
/// 10,000-tag repository: the image rows 55 ms instead of 0.6 ms, their tags 80–125 ms instead
/// of 0.8 ms). Every other statement keeps its plan. `when`: whether this one is such.
fn planned_each_time<'q>(
    query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    when: bool,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    query.persistent(!when)
}

/// A catalog row as the page shows it.
fn repository_row(row: &AnyRow, registry_host: &str) -> Result<RepositoryRow, sqlx::Error> {
    let name: String = row.try_get("name")?;
    let last_push: i64 = row.try_get("last_push_at")?;
    Ok(RepositoryRow {
        reference: format!("{registry_host}/{name}"),
        name,
        tag_count: row.try_get("tag_count")?,
        size_bytes: row.try_get("size_bytes")?,
        last_push_at_ms: (last_push > 0).then_some(last_push),
    })
}

pub struct RepositorySummary {
    pub tag_count: i64,
    pub size_bytes: i64,
    pub last_push_at_ms: Option<i64>,
}

pub async fn repository(db: &Db, name: &str) -> Result<Option<RepositorySummary>, sqlx::Error> {
    let row = sqlx::query("SELECT tag_count, size_bytes, last_push_at FROM repositories WHERE name = $1")
        .bind(name)
        .fetch_optional(&db.pool)
        .await?;
    row.map(|row| {
        let last: i64 = row.try_get("last_push_at")?;
        Ok(RepositorySummary {
            tag_count: row.try_get("tag_count")?,
            size_bytes: row.try_get("size_bytes")?,
            last_push_at_ms: (last > 0).then_some(last),
        })
    })
    .transpose()
}

pub struct ImagePage {
    pub images: Vec<ImageRow>,
    pub matching: i64,
    /// Labels of the newest image on the page (the repository's "about" box).
    pub labels: BTreeMap<String, String>,
}

/// A page of a repository's images (one row per digest, every tag on it), newest push first.
/// Cosign-style attachment tags are not rows: they ride on the digest they belong to.
/// The count of matching images comes from `counts` while the index is at `generation`.
pub async fn images(
    db: &Db,
    repository: &str,
    filter: &str,
    page: u32,
    counted: (&CatalogCounts, u64),
) -> Result<ImagePage, sqlx::Error> {
    let filter = TagFilter::new(filter);
    let matching = image_count(db, repository, &filter, counted).await?;
    let groups = image_rows(db, repository, &filter, page, matching).await?;
    if groups.is_empty() {
        return Ok(ImagePage {
            images: Vec::new(),
            matching,
            labels: BTreeMap::new(),
        });
    }
    let digests: Vec<&str> = groups.iter().map(|(digest, _)| digest.as_str()).collect();
    let mut tags = PageTags::read(db, repository, &digests).await?;
    let manifests = manifests_of(db, &digests).await?;
    let mut pulls = pulls_of(db, repository, &digests).await?;
    let mut labels = BTreeMap::new();
    let mut images = Vec::with_capacity(groups.len());
    for (digest, pushed_at_ms) in groups {
        let manifest = manifests.get(&digest);
        if labels.is_empty() {
            if let Some(manifest) = manifest {
                labels = manifest.labels.clone();
            }
        }
        images.push(ImageRow {
            tags: tags.by_digest.remove(&digest).unwrap_or_default(),
            media_type: manifest.map(|m| m.media_type.clone()).unwrap_or_default(),
            kind: manifest.map(|m| m.kind.clone()).unwrap_or_else(|| "unknown".into()),
            platforms: manifest.map(|m| m.platforms.clone()).unwrap_or_default(),
            size: manifest.map(|m| m.total_size).unwrap_or(0),
            created: manifest.and_then(|m| m.created.clone()),
            pushed_at_ms,
            push_estimated: tags.estimated.get(&digest).copied().unwrap_or(false),
            attachments: tags.attachments.remove(&digest).unwrap_or_default(),
            pulls: pulls.remove(&digest),
            digest,
        });
    }
    Ok(ImagePage {
        images,
        matching,
        labels,
    })
}

/// A repository page's tag filter: a substring of the tag, bound as `$2` when there is one.
struct TagFilter {
    pattern: Option<String>,
}

impl TagFilter {
    fn new(text: &str) -> TagFilter {
        let text = text.trim();
        TagFilter {
            pattern: (!text.is_empty()).then(|| format!("%{}%", like_escape(text))),
        }
    }

    /// The condition on the tag column `column`, or nothing.
    fn condition(&self, column: &str) -> String {
        match self.pattern {
            Some(_) => format!(" AND {column} LIKE $2 ESCAPE '\\'"),
            None => String::new(),
        }
    }
}

/// How many images of the repository have a tag that matches.
async fn image_count(
    db: &Db,
    repository: &str,
    filter: &TagFilter,
    (counts, generation): (&CatalogCounts, u64),
) -> Result<i64, sqlx::Error> {
    let count_sql = format!(
        "SELECT COUNT(DISTINCT digest) FROM tags WHERE repository = $1 AND attached_to IS NULL{}",
        filter.condition("tag")
    );
    let pattern = filter.pattern.clone().unwrap_or_else(|| "%%".to_string());
    let count_key = catalog_counts::key(&count_sql, &[repository.to_string(), pattern]);
    counts
        .get_or_count(count_key, generation, async {
            let mut count_query = sqlx::query_scalar::<_, i64>(&count_sql)
                .persistent(false)
                .bind(repository);
            if let Some(pattern) = &filter.pattern {
                count_query = count_query.bind(pattern);
            }
            count_query.fetch_one(&db.pool).await
        })
        .await
}

/// The page's images as (digest, push time), newest first.
///
/// One row per image: the tag pushed last (the first tag by name among equals). Walked in push
/// order on the (repository, pushed_at) index, each row checked against its image's other tags
/// on the (repository, digest) index, so a page reads about its own rows instead of grouping
/// every tag of the repository. A page in the older half is walked to from the oldest end, the
/// shorter way, and turned around.
async fn image_rows(
    db: &Db,
    repository: &str,
    filter: &TagFilter,
    page: u32,
    matching: i64,
) -> Result<Vec<(String, i64)>, sqlx::Error> {
    let page_size = i64::from(TAGS_PAGE_SIZE);
    let start = i64::from(page.max(1) - 1) * page_size;
    let end = (start + page_size).min(matching);
    let from_oldest = end > start && matching - end < start;
    let (order, limit, offset) = if from_oldest {
        ("t.pushed_at ASC, t.digest DESC", end - start, matching - end)
    } else {
        ("t.pushed_at DESC, t.digest ASC", page_size, start)
    };
    let sql = format!(
        "SELECT t.digest, t.pushed_at FROM tags t \
         WHERE t.repository = $1 AND t.attached_to IS NULL{} \
         AND NOT EXISTS (SELECT 1 FROM tags o WHERE o.repository = t.repository AND o.digest = t.digest \
         AND o.attached_to IS NULL{} \
         AND (o.pushed_at > t.pushed_at OR (o.pushed_at = t.pushed_at AND o.tag < t.tag))) \
         ORDER BY {order} LIMIT {limit} OFFSET {offset}",
        filter.condition("t.tag"),
        filter.condition("o.tag")
    );
    let mut query = planned_each_time(sqlx::query(&sql), true).bind(repository);
    if let Some(pattern) = &filter.pattern {
        query = query.bind(pattern);
    }
    let mut rows = query
        .fetch_all(&db.pool)
        .await?
        .iter()
        .map(|row| Ok((row.try_get("digest")?, row.try_get("pushed_at")?)))
        .collect::<Result<Vec<(String, i64)>, sqlx::Error>>()?;
    if from_oldest {
        rows.reverse();
    }
    Ok(rows)
}

/// The tags of a page's images, and the attachments (signatures, SBOMs) that ride on them.
#[derive(Default)]
struct PageTags {
    by_digest: HashMap<String, Vec<String>>,
    /// An image's push time is estimated when every tag's is.
    estimated: HashMap<String, bool>,
    attachments: HashMap<String, Vec<Attachment>>,
}

impl PageTags {
    async fn read(db: &Db, repository: &str, digests: &[&str]) -> Result<PageTags, sqlx::Error> {
        let placeholders = placeholders(2, digests.len());
        let tags_sql = format!(
            "SELECT tag, digest, attached_to, push_estimated FROM tags WHERE repository = $1 \
             AND (digest IN ({placeholders}) OR attached_to IN ({placeholders})) ORDER BY tag"
        );
        let query = planned_each_time(sqlx::query(&tags_sql), true).bind(repository);
        let query = digests.iter().fold(query, |query, digest| query.bind(*digest));
        let mut tags = PageTags::default();
        for row in query.fetch_all(&db.pool).await? {
            tags.add(&row)?;
        }
        Ok(tags)
    }

    fn add(&mut self, row: &AnyRow) -> Result<(), sqlx::Error> {
        let tag: String = row.try_get("tag")?;
        let digest: String = row.try_get("digest")?;
        match row.try_get::<Option<String>, _>("attached_to")? {
            Some(target) => {
                let kind = attachment_of(&tag).map(|(kind, _)| kind).unwrap_or("sig");
                self.attachments.entry(target).or_default().push(Attachment {
                    kind: kind.to_string(),
                    tag,
                    digest,
                });
            }
            None => {
                let estimated = row.try_get::<i64, _>("push_estimated")? != 0;
                *self.estimated.entry(digest.clone()).or_insert(true) &= estimated;
                self.by_digest.entry(digest).or_default().push(tag);
            }
        }
        Ok(())
    }
}

/// `$first, $first+1, …` for `count` parameters.
fn placeholders(first: usize, count: usize) -> String {
    (first..first + count)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The indexed manifests of `digests`, by digest.
async fn manifests_of(db: &Db, digests: &[&str]) -> Result<HashMap<String, ManifestRecord>, sqlx::Error> {
    let manifests_sql = format!(
        "SELECT digest, media_type, manifest_size, total_size, kind, config_digest, platforms, created, \
         layer_count, annotations, labels, subject FROM manifests WHERE digest IN ({})",
        placeholders(1, digests.len())
    );
    let query = digests
        .iter()
        .fold(sqlx::query(&manifests_sql), |query, digest| query.bind(*digest));
    query
        .fetch_all(&db.pool)
        .await?
        .iter()
        .map(|row| store::manifest_from_row(row).map(|m| (m.digest.clone(), m)))
        .collect()
}

/// The pulls of `digests` in `repository` (`manifest_pulls`, see `backend::pulls`), by digest:
/// one query for a page of images, on the table's primary key.
pub async fn pulls_of(db: &Db, repository: &str, digests: &[&str]) -> Result<HashMap<String, PullStats>, sqlx::Error> {
    if digests.is_empty() {
        return Ok(HashMap::new());
    }
    let sql = format!(
        "SELECT digest, last_pulled_at, pull_count FROM manifest_pulls WHERE repository = $1 AND digest IN ({})",
        placeholders(2, digests.len())
    );
    // Not kept prepared: the statement differs with the page's length.
    let query = sqlx::query_as::<_, (String, i64, i64)>(&sql)
        .persistent(false)
        .bind(repository);
    let rows = digests
        .iter()
        .fold(query, |query, digest| query.bind(*digest))
        .fetch_all(&db.pool)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(digest, last_pulled_at_ms, pull_count)| {
            (
                digest,
                PullStats {
                    last_pulled_at_ms,
                    pull_count,
                },
            )
        })
        .collect())
}

/// The repository's tags that point at `digest` (attachments excluded), sorted.
pub async fn tags_of(db: &Db, repository: &str, digest: &str) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT tag FROM tags WHERE repository = $1 AND digest = $2 AND attached_to IS NULL ORDER BY tag",
    )
    .bind(repository)
    .bind(digest)
    .fetch_all(&db.pool)
    .await
}

/// The attachments (signatures, attestations, SBOMs) on a digest.
pub async fn attachments_of(db: &Db, repository: &str, digest: &str) -> Result<Vec<Attachment>, sqlx::Error> {
    let rows = sqlx::query("SELECT tag, digest FROM tags WHERE repository = $1 AND attached_to = $2 ORDER BY tag")
        .bind(repository)
        .bind(digest)
        .fetch_all(&db.pool)
        .await?;
    rows.iter()
        .map(|row| {
            let tag: String = row.try_get("tag")?;
            Ok(Attachment {
                kind: attachment_of(&tag).map(|(k, _)| k).unwrap_or("sig").to_string(),
                digest: row.try_get("digest")?,
                tag,
            })
        })
        .collect()
}

/// The digest a tag points at, per the index.
pub async fn tag_digest(db: &Db, repository: &str, tag: &str) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT digest FROM tags WHERE repository = $1 AND tag = $2")
        .bind(repository)
        .bind(tag)
        .fetch_optional(&db.pool)
        .await
}

/// Whether the repository holds the manifest, per the index.
pub async fn has_manifest(db: &Db, repository: &str, digest: &str) -> Result<bool, sqlx::Error> {
    let found: Option<String> =
        sqlx::query_scalar("SELECT digest FROM repository_manifests WHERE repository = $1 AND digest = $2")
            .bind(repository)
            .bind(digest)
            .fetch_optional(&db.pool)
            .await?;
    Ok(found.is_some())
}

/// Well-known labels of a label map, ready for display.
pub fn display_labels(labels: &BTreeMap<String, String>) -> Vec<crate::model::Label> {
    well_known_labels(labels)
}

#[cfg(test)]
mod tests {
    use super::like_escape;

    #[test]
    fn escapes_like_patterns() {
        assert_eq!(like_escape("a_b%c\\"), "a\\_b\\%c\\\\");
        assert_eq!(like_escape("team/app"), "team/app");
    }
}
