//! Reading what [`decide`](super::decide) needs from the index, a slice of repositories at a
//! time (by name order), so a run over 100,000 repositories holds one slice in memory.

use std::collections::BTreeMap;

use sqlx::AnyConnection;

use super::decide::ImageFacts;
use crate::backend::access::Scope;
use crate::backend::db::DbKind;
use crate::model::PlatformRow;

/// Repositories read per slice.
pub const SLICE: i64 = 400;

/// One image of a repository, with what the items table records besides the decision.
#[derive(Debug, Clone)]
pub struct Image {
    pub facts: ImageFacts,
    /// Compressed size (config + layers); for an index only its own manifest, its platform
    /// images are counted on their own.
    pub size: i64,
}

/// The next slice of repository names in `scope` after `after` (by name); empty at the end.
pub async fn next_repositories(
    conn: &mut AnyConnection,
    scope: &Scope,
    after: &str,
) -> Result<Vec<String>, sqlx::Error> {
    let (condition, pattern) = match scope.like_pattern() {
        Some(pattern) => (" AND name LIKE $2 ESCAPE '\\'", Some(pattern)),
        None => ("", None),
    };
    let sql = format!("SELECT name FROM repositories WHERE name > $1{condition} ORDER BY name LIMIT {SLICE}");
    let mut query = sqlx::query_scalar::<_, String>(&sql).bind(after);
    if let Some(pattern) = pattern {
        query = query.bind(pattern);
    }
    query.fetch_all(&mut *conn).await
}

/// The images of each of `names` (sorted), in digest order.
pub async fn images(
    conn: &mut AnyConnection,
    kind: DbKind,
    names: &[String],
) -> Result<BTreeMap<String, Vec<Image>>, sqlx::Error> {
    let (Some(first), Some(last)) = (names.first(), names.last()) else {
        return Ok(BTreeMap::new());
    };
    let mut repos: BTreeMap<String, Vec<Image>> = names.iter().map(|n| (n.clone(), Vec::new())).collect();
    for (repository, manifests) in grouped(conn, kind, MANIFESTS, first, last).await? {
        if let Some(images) = repos.get_mut(&repository) {
            *images = manifest_images(&manifests);
        }
    }
    for (repository, tags) in grouped(conn, kind, TAGS, first, last).await? {
        if let Some(images) = repos.get_mut(&repository) {
            add_tags(images, &tags);
        }
    }
    add_pulls(conn, first, last, &mut repos).await?;
    Ok(repos)
}

/// What [`grouped`] reads of each manifest of a repository: the facts are kept in
/// `repository_manifests` itself (copied from `manifests` when the row is written), so this is
/// one range scan, no lookup by digest.
const MANIFESTS: Grouped = Grouped {
    table: "repository_manifests",
    columns: "digest, first_seen_at, kind, image_size, subject, index_platforms",
};
/// What [`grouped`] reads of each tag of a repository.
const TAGS: Grouped = Grouped {
    table: "tags",
    columns: "tag, digest, pushed_at, attached_to",
};

struct Grouped {
    table: &'static str,
    columns: &'static str,
}

/// The rows of `what` of the repositories from `first` to `last`, one JSON array of arrays (one
/// per row, its columns in order) per repository: the database builds them, so a slice of 400
/// repositories is 400 rows to fetch and decode, not the 5,600 manifests and 4,000 tags in
/// them (a row costs more to hand over than its JSON costs to parse).
async fn grouped(
    conn: &mut AnyConnection,
    kind: DbKind,
    what: Grouped,
    first: &str,
    last: &str,
) -> Result<Vec<(String, String)>, sqlx::Error> {
    let Grouped { table, columns } = what;
    let rows = match kind {
        DbKind::Sqlite => format!("json_group_array(json_array({columns}))"),
        DbKind::Postgres => format!("CAST(json_agg(json_build_array({columns})) AS TEXT)"),
    };
    sqlx::query_as(&format!(
        "SELECT repository, {rows} FROM {table} WHERE repository >= $1 AND repository <= $2 GROUP BY repository"
    ))
    .bind(first)
    .bind(last)
    .fetch_all(&mut *conn)
    .await
}

/// A manifest as [`MANIFESTS`] reads it.
type ManifestFacts = (String, i64, Option<String>, Option<i64>, Option<String>, Option<String>);
/// A tag as [`TAGS`] reads it.
type TagFacts = (String, String, i64, Option<String>);

/// The images of one repository from its manifests, sorted by digest; none when the JSON does
/// not parse (it is the database's own).
fn manifest_images(json: &str) -> Vec<Image> {
    let manifests: Vec<ManifestFacts> = serde_json::from_str(json).unwrap_or_default();
    let mut images: Vec<Image> = manifests
        .into_iter()
        .map(|(digest, first_seen_at, kind, size, subject, platforms)| {
            let children = match platforms {
                Some(platforms) if kind.as_deref() == Some("index") => {
                    serde_json::from_str::<Vec<PlatformRow>>(&platforms)
                        .unwrap_or_default()
                        .into_iter()
                        .map(|p| p.digest)
                        .filter(|d| !d.is_empty())
                        .collect()
                }
                _ => Vec::new(),
            };
            let mut image = new_image(digest, first_seen_at);
            image.facts.children = children;
            image.facts.subject = subject;
            image.size = size.unwrap_or(0);
            image
        })
        .collect();
    images.sort_by(|a, b| a.facts.digest.cmp(&b.facts.digest));
    images.dedup_by(|a, b| a.facts.digest == b.facts.digest);
    images
}

/// Where `digest` is in `images` (sorted by digest), added when the index has a tag for it but
/// not the manifest.
fn image_at(images: &mut Vec<Image>, digest: &str, pushed_at: i64) -> usize {
    match images.binary_search_by(|i| i.facts.digest.as_str().cmp(digest)) {
        Ok(at) => at,
        Err(at) => {
            images.insert(at, new_image(digest.to_string(), pushed_at));
            at
        }
    }
}

fn new_image(digest: String, pushed_at: i64) -> Image {
    Image {
        facts: ImageFacts {
            digest,
            tags: Vec::new(),
            pushed_at,
            last_pulled_at: None,
            children: Vec::new(),
            subject: None,
        },
        size: 0,
    }
}

/// Tags, and the push time they give their image (the newest of its tags).
fn add_tags(images: &mut Vec<Image>, json: &str) {
    let tags: Vec<TagFacts> = serde_json::from_str(json).unwrap_or_default();
    let mut newest_push: Vec<Option<i64>> = vec![None; images.len()];
    for (tag, digest, pushed_at, attached_to) in tags {
        let at = image_at(images, &digest, pushed_at);
        if newest_push.len() < images.len() {
            newest_push.insert(at, None);
        }
        let image = &mut images[at];
        image.facts.tags.push(tag);
        if let Some(subject) = attached_to {
            image.facts.subject.get_or_insert(subject);
        }
        let newest = newest_push[at].get_or_insert(i64::MIN);
        *newest = (*newest).max(pushed_at);
    }
    for (image, newest) in images.iter_mut().zip(newest_push) {
        if let Some(pushed_at) = newest {
            image.facts.pushed_at = pushed_at;
            image.facts.tags.sort();
        }
    }
}

async fn add_pulls(
    conn: &mut AnyConnection,
    first: &str,
    last: &str,
    repos: &mut BTreeMap<String, Vec<Image>>,
) -> Result<(), sqlx::Error> {
    let rows: Vec<(String, String, i64)> = sqlx::query_as(
        "SELECT repository, digest, last_pulled_at FROM manifest_pulls WHERE repository >= $1 AND repository <= $2",
    )
    .bind(first)
    .bind(last)
    .fetch_all(&mut *conn)
    .await?;
    for (repository, digest, last_pulled_at) in rows {
        let Some(images) = repos.get_mut(&repository) else {
            continue;
        };
        if let Ok(at) = images.binary_search_by(|i| i.facts.digest.as_str().cmp(&digest)) {
            images[at].facts.last_pulled_at = Some(last_pulled_at);
        }
    }
    Ok(())
}
