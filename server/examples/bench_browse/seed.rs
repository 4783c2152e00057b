//! `seed-index`: a SQLite database made with the real migrations and filled with a large index,
//! as reconcile would have left it, in one transaction. Repositories are `team-NNN/service-NNNNN`
//! with a few tags each, one of every five a two-platform index; `big/monorepo` has many tags
//! whose manifests are real generated images with their manifest and config in the blob cache,
//! so its manifest pages are served from the cache.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

use app::backend::db::{now_ms, Db};
use app::backend::housekeeping::insights;
use app::backend::index::blobs::{self, BlobKind, ManifestBlob};
use app::backend::index::store::{self, ManifestRecord};
use app::backend::synthetic::{self, sha256_digest, Flavor, ImageSpec};
use app::model::PlatformRow;
use clap::Args;
use rand::{Rng, SeedableRng};
use serde_json::json;
use sqlx::{Any, Row, Transaction};

pub const BIG_REPOSITORY: &str = "big/monorepo";
const DAY_MS: i64 = 86_400_000;
const HOUR_MS: i64 = 3_600_000;
const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";

#[derive(Debug, Args)]
pub struct SeedArgs {
    /// The data directory of the server to be started on it (wharf.db is created there).
    #[arg(long)]
    data_dir: PathBuf,
    /// Repositories in all, `big/monorepo` included.
    #[arg(long, default_value_t = 10_000)]
    repositories: usize,
    #[arg(long, default_value_t = 10)]
    tags_per_repo: usize,
    /// Tags of `big/monorepo`.
    #[arg(long, default_value_t = 1_000)]
    big_repo_tags: usize,
    #[arg(long, default_value_t = 100)]
    namespaces: usize,
    /// Seed this database (an empty PostgreSQL one: `postgres://…`) instead of SQLite in
    /// `--data-dir`; the server is then started with the same `--database-url`.
    #[arg(long)]
    database_url: Option<String>,
    /// Where to write what was seeded (names the latency step uses).
    #[arg(long)]
    out: PathBuf,
}

/// Counts of what went into the database.
#[derive(Default)]
struct Counts {
    repositories: usize,
    tags: usize,
    manifests: usize,
    cached_blobs: usize,
}

pub async fn run(args: SeedArgs) -> Result<(), String> {
    if args.repositories < 2 || args.namespaces == 0 || args.tags_per_repo == 0 || args.big_repo_tags == 0 {
        return Err("need at least 2 repositories, 1 namespace and 1 tag per repository".into());
    }
    std::fs::create_dir_all(&args.data_dir).map_err(|e| format!("cannot create {}: {e}", args.data_dir.display()))?;
    let path = args.data_dir.join("wharf.db");
    let url = match &args.database_url {
        Some(url) => url.clone(),
        None if path.exists() => {
            return Err(format!(
                "{} exists already: seed an empty data directory",
                path.display()
            ))
        }
        None => format!("sqlite://{}", path.display()),
    };
    let started = Instant::now();
    let db = Db::connect(&url).await.map_err(|e| e.to_string())?;
    if store::repository_count(&mut *db.pool.acquire().await.map_err(db_error)?)
        .await
        .map_err(db_error)?
        > 0
    {
        return Err("the database holds an index already: seed an empty one".into());
    }
    let mut tx = db.pool.begin().await.map_err(db_error)?;
    let mut counts = Counts::default();
    let mut rng = rand::rngs::StdRng::seed_from_u64(42);
    let now = now_ms();
    for index in 0..args.repositories - 1 {
        let name = repository_name(index, args.namespaces);
        let last_push = now - rng.gen_range(0..365 * DAY_MS);
        seed_generic_repository(&mut tx, &mut rng, &name, args.tags_per_repo, last_push, &mut counts).await?;
    }
    let big_digest = seed_big_repository(&mut tx, args.big_repo_tags, now, &mut counts).await?;
    // Every image's blobs are recorded: nothing for the start-up backfill to do.
    sqlx::query("UPDATE manifest_blobs_backfill SET done = 1")
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
    tx.commit().await.map_err(db_error)?;
    // The storage figures, as the first start after the upgrade computes them.
    let rebuild_started = Instant::now();
    insights::refresh::rebuild(&db).await.map_err(db_error)?;
    let storage_rebuild_seconds = rebuild_started.elapsed().as_secs_f64();
    println!("computed the storage figures in {storage_rebuild_seconds:.1} s");
    if url.starts_with("postgres") {
        // What autovacuum does soon after such a load (statistics for the planner, the
        // visibility map), done now so that it does not run while the server is measured.
        sqlx::query("VACUUM ANALYZE")
            .execute(&db.pool)
            .await
            .map_err(db_error)?;
    }
    check_aggregates(&db, &[BIG_REPOSITORY, &repository_name(0, args.namespaces)]).await?;
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "seeded {} repositories, {} tags, {} manifests, {} cached blobs in {seconds:.1} s",
        counts.repositories, counts.tags, counts.manifests, counts.cached_blobs
    );
    let middle_namespace = format!("team-{:03}", (args.namespaces / 2).min(42));
    crate::write_json(
        &args.out,
        &json!({
            "repositories": counts.repositories,
            "tags": counts.tags,
            "manifests": counts.manifests,
            "cached_blobs": counts.cached_blobs,
            "tags_per_repo": args.tags_per_repo,
            "big_repository": BIG_REPOSITORY,
            "big_repository_tags": args.big_repo_tags,
            "big_repository_digest": big_digest,
            "small_repository": repository_name(0, args.namespaces),
            "first_repository": first_name(args.namespaces),
            "search_narrow": "service-0004",
            "search_wide": "team-01",
            "namespace": middle_namespace,
            "seconds": crate::stats::round(seconds),
            "storage_rebuild_seconds": crate::stats::round(storage_rebuild_seconds),
            "database": if url.starts_with("postgres") { "postgres" } else { "sqlite" },
        }),
    )
}

/// `team-NNN/service-NNNNN`, spread round-robin over the namespaces.
fn repository_name(index: usize, namespaces: usize) -> String {
    format!("team-{:03}/service-{index:05}", index % namespaces)
}

/// The name the catalog sorted by name shows first.
fn first_name(namespaces: usize) -> String {
    repository_name(0, namespaces).min(BIG_REPOSITORY.to_string())
}

fn db_error(e: sqlx::Error) -> String {
    format!("database: {e}")
}

/// A repository of `tags` images with made-up (never fetched) digests, one tag per image.
async fn seed_generic_repository(
    tx: &mut Transaction<'static, Any>,
    rng: &mut rand::rngs::StdRng,
    name: &str,
    tags: usize,
    last_push: i64,
    counts: &mut Counts,
) -> Result<(), String> {
    let mut size_total = 0;
    let mut rows = Vec::with_capacity(tags);
    for t in 0..tags {
        let tag = format!("1.{}.{}", t / 10, t % 10);
        let pushed = last_push - (tags - 1 - t) as i64 * DAY_MS;
        let multi = t % 5 == 4;
        let (record, children) = made_up_manifest(rng, name, &tag, pushed, multi);
        for child in &children {
            insert_manifest(tx, child, name).await?;
            insert_made_up_blobs(tx, child, name).await?;
            counts.manifests += 1;
        }
        insert_manifest(tx, &record, name).await?;
        if record.kind == "image" {
            insert_made_up_blobs(tx, &record, name).await?;
        }
        counts.manifests += 1;
        size_total += record.total_size;
        rows.push((tag, record.digest, pushed));
    }
    insert_repository(tx, name, tags as i64, size_total, last_push).await?;
    for (tag, digest, pushed) in rows {
        insert_tag(tx, name, &tag, &digest, pushed).await?;
        counts.tags += 1;
    }
    counts.repositories += 1;
    Ok(())
}

/// Layers every made-up image holds (a base image the whole registry shares) and every image of
/// a namespace holds, so the storage figures have shared blobs at both levels.
const REGISTRY_BASE_BYTES: i64 = 28 << 20;
const NAMESPACE_BASE_BYTES: i64 = 12 << 20;

/// The `manifest_blobs` rows of a made-up image: its config, its own layer (its size), the
/// namespace's base layer and the registry's.
async fn insert_made_up_blobs(
    tx: &mut Transaction<'static, Any>,
    record: &ManifestRecord,
    repository: &str,
) -> Result<(), String> {
    let namespace = store::namespace_of(repository);
    let rows = [
        ManifestBlob {
            digest: record.config_digest.clone().unwrap_or_default(),
            size: 1_500,
            kind: BlobKind::Config,
        },
        ManifestBlob {
            digest: sha256_digest(format!("layer {}", record.digest).as_bytes()),
            size: record.total_size,
            kind: BlobKind::Layer,
        },
        ManifestBlob {
            digest: sha256_digest(format!("base layer of {namespace}").as_bytes()),
            size: NAMESPACE_BASE_BYTES,
            kind: BlobKind::Layer,
        },
        ManifestBlob {
            digest: sha256_digest(b"base layer of the registry"),
            size: REGISTRY_BASE_BYTES,
            kind: BlobKind::Layer,
        },
    ];
    blobs::store(tx, &record.digest, &rows).await.map_err(db_error)
}

/// An image (or a two-platform index with its two images) as the index would record it.
fn made_up_manifest(
    rng: &mut rand::rngs::StdRng,
    repository: &str,
    tag: &str,
    pushed: i64,
    multi: bool,
) -> (ManifestRecord, Vec<ManifestRecord>) {
    let created = rfc3339(pushed - 5 * 60_000);
    let labels = BTreeMap::from([
        (
            "org.opencontainers.image.source".to_string(),
            format!("https://git.example.com/{repository}"),
        ),
        ("org.opencontainers.image.version".to_string(), tag.to_string()),
    ]);
    let arches: &[&str] = if multi { &["amd64", "arm64"] } else { &["amd64"] };
    let children: Vec<ManifestRecord> = arches
        .iter()
        .map(|arch| {
            let digest = sha256_digest(format!("{repository}:{tag}/{arch}").as_bytes());
            let size = rng.gen_range(2_000_000..400_000_000);
            let platform = PlatformRow {
                os: "linux".into(),
                architecture: arch.to_string(),
                variant: None,
                digest: digest.clone(),
                size,
            };
            ManifestRecord {
                digest,
                media_type: OCI_MANIFEST.into(),
                manifest_size: 1_200,
                total_size: size,
                kind: "image".into(),
                config_digest: Some(sha256_digest(format!("config {repository}:{tag}/{arch}").as_bytes())),
                platforms: vec![platform],
                created: Some(created.clone()),
                layer_count: 6,
                annotations: BTreeMap::new(),
                labels: labels.clone(),
                subject: None,
                details_pending: false,
            }
        })
        .collect();
    if !multi {
        let mut image = children.into_iter().next().expect("one platform");
        image.digest = sha256_digest(format!("{repository}:{tag}").as_bytes());
        image.platforms[0].digest = image.digest.clone();
        return (image, Vec::new());
    }
    let index = ManifestRecord {
        digest: sha256_digest(format!("{repository}:{tag}").as_bytes()),
        media_type: OCI_INDEX.into(),
        manifest_size: 700,
        total_size: children.iter().map(|c| c.total_size).sum(),
        kind: "index".into(),
        config_digest: None,
        platforms: children.iter().flat_map(|c| c.platforms.clone()).collect(),
        created: Some(created),
        layer_count: 0,
        annotations: BTreeMap::new(),
        labels,
        subject: None,
        details_pending: false,
    };
    (index, children)
}

/// `big/monorepo`: real generated images (shared layers, one config each), manifest and config
/// cached. Returns the digest of its newest image (the cached manifest page the latency step asks for).
async fn seed_big_repository(
    tx: &mut Transaction<'static, Any>,
    tags: usize,
    now: i64,
    counts: &mut Counts,
) -> Result<String, String> {
    let mut size_total = 0;
    let mut newest = String::new();
    let mut rows = Vec::with_capacity(tags);
    for t in 0..tags {
        let tag = format!("build-{t:05}");
        let spec = ImageSpec {
            layers: 3,
            layer_size: 2048,
            flavor: if t.is_multiple_of(2) {
                Flavor::Oci
            } else {
                Flavor::Docker
            },
            labels: BTreeMap::from([("org.opencontainers.image.version".to_string(), tag.clone())]),
            seed: 7,
            ..ImageSpec::default()
        };
        let image = synthetic::generate(&spec);
        let record = real_manifest_record(&image)?;
        for blob in image
            .blobs
            .iter()
            .filter(|b| Some(&b.digest) == record.config_digest.as_ref())
        {
            cache(tx, &blob.digest, &blob.media_type, &blob.bytes).await?;
            counts.cached_blobs += 1;
        }
        cache(tx, &image.top.digest, &image.top.media_type, &image.top.bytes).await?;
        counts.cached_blobs += 1;
        let parsed = app::backend::index::parse::parse_manifest(&image.top.media_type, &image.top.bytes);
        blobs::store(tx, &image.top.digest, &blobs::blobs_of(&parsed))
            .await
            .map_err(db_error)?;
        insert_manifest(tx, &record, BIG_REPOSITORY).await?;
        counts.manifests += 1;
        size_total += record.total_size;
        let pushed = now - (tags - 1 - t) as i64 * HOUR_MS;
        newest = record.digest.clone();
        rows.push((tag, record.digest, pushed));
    }
    insert_repository(tx, BIG_REPOSITORY, tags as i64, size_total, now).await?;
    for (tag, digest, pushed) in rows {
        insert_tag(tx, BIG_REPOSITORY, &tag, &digest, pushed).await?;
        counts.tags += 1;
    }
    counts.repositories += 1;
    Ok(newest)
}

/// The index record of a generated single-platform image, from its real manifest and config.
fn real_manifest_record(image: &synthetic::GeneratedImage) -> Result<ManifestRecord, String> {
    let manifest: serde_json::Value = serde_json::from_slice(&image.top.bytes).map_err(|e| e.to_string())?;
    let config_digest = manifest["config"]["digest"].as_str().unwrap_or_default().to_string();
    let config = image
        .blobs
        .iter()
        .find(|b| b.digest == config_digest)
        .ok_or("generated image without its config")?;
    let config_json: serde_json::Value = serde_json::from_slice(&config.bytes).map_err(|e| e.to_string())?;
    let layers = manifest["layers"].as_array().cloned().unwrap_or_default();
    let total_size = config.bytes.len() as i64 + layers.iter().filter_map(|l| l["size"].as_i64()).sum::<i64>();
    let text = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_string();
    let labels: BTreeMap<String, String> =
        serde_json::from_value(config_json["config"]["Labels"].clone()).unwrap_or_default();
    Ok(ManifestRecord {
        digest: image.top.digest.clone(),
        media_type: image.top.media_type.clone(),
        manifest_size: image.top.bytes.len() as i64,
        total_size,
        kind: "image".into(),
        config_digest: Some(config_digest),
        platforms: vec![PlatformRow {
            os: text(&config_json["os"]),
            architecture: text(&config_json["architecture"]),
            variant: None,
            digest: image.top.digest.clone(),
            size: total_size,
        }],
        created: config_json["created"].as_str().map(str::to_string),
        layer_count: layers.len() as i64,
        annotations: BTreeMap::new(),
        labels,
        subject: None,
        details_pending: false,
    })
}

fn rfc3339(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(ms / 1000)
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_default()
}

async fn insert_repository(
    tx: &mut Transaction<'static, Any>,
    name: &str,
    tag_count: i64,
    size_bytes: i64,
    last_push: i64,
) -> Result<(), String> {
    sqlx::query(
        "INSERT INTO repositories (name, namespace, tag_count, size_bytes, last_push_at, indexed_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(name)
    .bind(store::namespace_of(name))
    .bind(tag_count)
    .bind(size_bytes)
    .bind(last_push)
    .bind(now_ms())
    .execute(&mut **tx)
    .await
    .map_err(db_error)?;
    Ok(())
}

/// The manifest row and its presence in `repository`.
async fn insert_manifest(
    tx: &mut Transaction<'static, Any>,
    record: &ManifestRecord,
    repository: &str,
) -> Result<(), String> {
    sqlx::query(
        "INSERT INTO manifests (digest, media_type, manifest_size, total_size, kind, config_digest, platforms, \
         created, layer_count, annotations, labels, subject, indexed_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) ON CONFLICT (digest) DO NOTHING",
    )
    .bind(&record.digest)
    .bind(&record.media_type)
    .bind(record.manifest_size)
    .bind(record.total_size)
    .bind(&record.kind)
    .bind(&record.config_digest)
    .bind(to_json(&record.platforms))
    .bind(&record.created)
    .bind(record.layer_count)
    .bind(to_json(&record.annotations))
    .bind(to_json(&record.labels))
    .bind(&record.subject)
    .bind(now_ms())
    .execute(&mut **tx)
    .await
    .map_err(db_error)?;
    // With the facts retention reads, as `store::add_repository_manifest` copies them.
    let is_index = record.kind == "index";
    sqlx::query(
        "INSERT INTO repository_manifests (repository, digest, first_seen_at, kind, image_size, subject, \
         index_platforms) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(repository)
    .bind(&record.digest)
    .bind(now_ms())
    .bind(&record.kind)
    .bind(if is_index {
        record.manifest_size
    } else {
        record.total_size
    })
    .bind(&record.subject)
    .bind(is_index.then(|| to_json(&record.platforms)))
    .execute(&mut **tx)
    .await
    .map_err(db_error)?;
    Ok(())
}

async fn insert_tag(
    tx: &mut Transaction<'static, Any>,
    repository: &str,
    tag: &str,
    digest: &str,
    pushed: i64,
) -> Result<(), String> {
    sqlx::query(
        "INSERT INTO tags (repository, tag, digest, pushed_at, push_estimated, attached_to) \
         VALUES ($1, $2, $3, $4, 0, NULL)",
    )
    .bind(repository)
    .bind(tag)
    .bind(digest)
    .bind(pushed)
    .execute(&mut **tx)
    .await
    .map_err(db_error)?;
    Ok(())
}

async fn cache(tx: &mut Transaction<'static, Any>, digest: &str, media_type: &str, bytes: &[u8]) -> Result<(), String> {
    sqlx::query(
        "INSERT INTO blob_cache (digest, media_type, content, stored_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (digest) DO NOTHING",
    )
    .bind(digest)
    .bind(media_type)
    .bind(String::from_utf8_lossy(bytes).into_owned())
    .bind(now_ms())
    .execute(&mut **tx)
    .await
    .map_err(db_error)?;
    Ok(())
}

/// The repository rows were written with precomputed aggregates: recompute a few with the
/// app's own `refresh_repository` and check they did not change.
async fn check_aggregates(db: &Db, names: &[&str]) -> Result<(), String> {
    for name in names {
        let read = || async {
            let row = sqlx::query("SELECT tag_count, size_bytes, last_push_at FROM repositories WHERE name = $1")
                .bind(*name)
                .fetch_one(&db.pool)
                .await
                .map_err(db_error)?;
            let values: (i64, i64, i64) = (
                row.try_get("tag_count").map_err(db_error)?,
                row.try_get("size_bytes").map_err(db_error)?,
                row.try_get("last_push_at").map_err(db_error)?,
            );
            Ok::<_, String>(values)
        };
        let seeded = read().await?;
        let mut conn = db.pool.acquire().await.map_err(db_error)?;
        store::refresh_repository(&mut conn, name).await.map_err(db_error)?;
        drop(conn);
        let refreshed = read().await?;
        if seeded != refreshed {
            return Err(format!(
                "seeded aggregates of {name} {seeded:?} differ from refresh_repository's {refreshed:?}"
            ));
        }
    }
    Ok(())
}

/// JSON text of a record's map and list columns, as `store::put_manifest` writes them.
fn to_json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "null".into())
}
