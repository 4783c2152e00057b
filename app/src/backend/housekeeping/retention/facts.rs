//! Reading what [`decide`](super::decide) needs from the index, a slice of repositories at a
//! time (by name order), so a run over 100,000 repositories holds one slice in memory.

use std::collections::{BTreeMap, HashMap};

use sqlx::{AnyConnection, Row};

use super::decide::ImageFacts;
use crate::backend::access::Scope;
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
pub async fn images(conn: &mut AnyConnection, names: &[String]) -> Result<BTreeMap<String, Vec<Image>>, sqlx::Error> {
    let (Some(first), Some(last)) = (names.first(), names.last()) else {
        return Ok(BTreeMap::new());
    };
    let mut repos: BTreeMap<String, BTreeMap<String, Image>> =
        names.iter().map(|n| (n.clone(), BTreeMap::new())).collect();
    let manifests = sqlx::query(
        "SELECT rm.repository, rm.digest, rm.first_seen_at, m.kind, m.platforms, m.subject, m.total_size, \
         m.manifest_size FROM repository_manifests rm LEFT JOIN manifests m ON m.digest = rm.digest \
         WHERE rm.repository >= $1 AND rm.repository <= $2",
    )
    .bind(first)
    .bind(last)
    .fetch_all(&mut *conn)
    .await?;
    for row in manifests {
        let Some(images) = repos.get_mut(&row.try_get::<String, _>("repository")?) else {
            continue;
        };
        let digest: String = row.try_get("digest")?;
        let kind: Option<String> = row.try_get("kind")?;
        let platforms: Option<String> = row.try_get("platforms")?;
        let is_index = kind.as_deref() == Some("index");
        let children = if is_index {
            serde_json::from_str::<Vec<PlatformRow>>(platforms.as_deref().unwrap_or("[]"))
                .unwrap_or_default()
                .into_iter()
                .map(|p| p.digest)
                .filter(|d| !d.is_empty())
                .collect()
        } else {
            Vec::new()
        };
        let size = if is_index {
            row.try_get::<Option<i64>, _>("manifest_size")?
        } else {
            row.try_get("total_size")?
        };
        let image = images.entry(digest.clone()).or_insert_with(|| new_image(&digest, 0));
        image.facts.pushed_at = row.try_get("first_seen_at")?;
        image.facts.children = children;
        image.facts.subject = row.try_get("subject")?;
        image.size = size.unwrap_or(0);
    }
    add_tags(conn, first, last, &mut repos).await?;
    add_pulls(conn, first, last, &mut repos).await?;
    Ok(repos
        .into_iter()
        .map(|(name, images)| (name, images.into_values().collect()))
        .collect())
}

fn new_image(digest: &str, pushed_at: i64) -> Image {
    Image {
        facts: ImageFacts {
            digest: digest.to_string(),
            tags: Vec::new(),
            pushed_at,
            last_pulled_at: None,
            children: Vec::new(),
            subject: None,
        },
        size: 0,
    }
}

type Repos = BTreeMap<String, BTreeMap<String, Image>>;

/// Tags, and the push time they give their image (the newest of its tags).
async fn add_tags(conn: &mut AnyConnection, first: &str, last: &str, repos: &mut Repos) -> Result<(), sqlx::Error> {
    let rows = sqlx::query(
        "SELECT repository, tag, digest, pushed_at, attached_to FROM tags WHERE repository >= $1 AND repository <= $2",
    )
    .bind(first)
    .bind(last)
    .fetch_all(&mut *conn)
    .await?;
    let mut newest_push: HashMap<(String, String), i64> = HashMap::new();
    for row in rows {
        let repository: String = row.try_get("repository")?;
        let Some(images) = repos.get_mut(&repository) else {
            continue;
        };
        let digest: String = row.try_get("digest")?;
        let pushed_at: i64 = row.try_get("pushed_at")?;
        let image = images
            .entry(digest.clone())
            .or_insert_with(|| new_image(&digest, pushed_at));
        image.facts.tags.push(row.try_get("tag")?);
        if let Some(subject) = row.try_get::<Option<String>, _>("attached_to")? {
            image.facts.subject.get_or_insert(subject);
        }
        let newest = newest_push.entry((repository, digest)).or_insert(i64::MIN);
        *newest = (*newest).max(pushed_at);
    }
    for ((repository, digest), pushed_at) in newest_push {
        if let Some(image) = repos.get_mut(&repository).and_then(|images| images.get_mut(&digest)) {
            image.facts.pushed_at = pushed_at;
            image.facts.tags.sort();
        }
    }
    Ok(())
}

async fn add_pulls(conn: &mut AnyConnection, first: &str, last: &str, repos: &mut Repos) -> Result<(), sqlx::Error> {
    let rows = sqlx::query(
        "SELECT repository, digest, last_pulled_at FROM manifest_pulls WHERE repository >= $1 AND repository <= $2",
    )
    .bind(first)
    .bind(last)
    .fetch_all(&mut *conn)
    .await?;
    for row in rows {
        let repository: String = row.try_get("repository")?;
        let digest: String = row.try_get("digest")?;
        if let Some(image) = repos.get_mut(&repository).and_then(|images| images.get_mut(&digest)) {
            image.facts.last_pulled_at = Some(row.try_get("last_pulled_at")?);
        }
    }
    Ok(())
}
