//! `push-bulk`: fills a registry without auth with generated images through the v2 API, the
//! way any client pushes. Repositories are `team-NN/app-NNNN` with tags `1.M.P`; the images of
//! one repository share their layers (uploaded once) and differ in their config (a version
//! label, the platform, OCI or Docker media types), so every tag has its own digest.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use app::backend::registry::{RegistryAuth, RegistryClient, RegistryError};
use app::backend::synthetic::{self, Flavor, GeneratedImage, ImageSpec, Platform};
use app::names::RepositoryName;
use clap::Args;
use futures::stream::{self, StreamExt, TryStreamExt};
use serde_json::json;
use url::Url;

/// Attempts per image before the run fails.
const ATTEMPTS: usize = 3;

#[derive(Debug, Args)]
pub struct PushArgs {
    /// Base URL of a registry that accepts anonymous pushes.
    #[arg(long)]
    registry: Url,
    #[arg(long, default_value_t = 1_000)]
    repositories: usize,
    #[arg(long, default_value_t = 20)]
    tags: usize,
    #[arg(long, default_value_t = 20)]
    namespaces: usize,
    /// Repositories pushed at the same time (tags of one repository go in order).
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    #[arg(long)]
    out: PathBuf,
}

/// `team-NN/app-NNNN`, spread round-robin over the namespaces.
pub fn repository_name(index: usize, namespaces: usize) -> String {
    format!("team-{:02}/app-{index:04}", index % namespaces.max(1))
}

pub fn tag_name(index: usize) -> String {
    format!("1.{}.{}", index / 10, index % 10)
}

pub async fn run(args: PushArgs) -> Result<(), String> {
    if args.repositories == 0 || args.tags == 0 || args.concurrency == 0 {
        return Err("--repositories, --tags and --concurrency must be at least 1".into());
    }
    let client = RegistryClient::new(args.registry.clone(), RegistryAuth::Anonymous);
    let started = Instant::now();
    let done = AtomicUsize::new(0);
    let (client, done, args_ref) = (&client, &done, &args);
    stream::iter(0..args.repositories)
        .map(|index| async move {
            push_repository(client, index, args_ref).await?;
            let finished = done.fetch_add(1, Ordering::Relaxed) + 1;
            if finished.is_multiple_of(100) || finished == args_ref.repositories {
                println!(
                    "pushed {finished}/{} repositories ({:.0} s)",
                    args_ref.repositories,
                    started.elapsed().as_secs_f64()
                );
            }
            Ok::<_, String>(())
        })
        .buffer_unordered(args.concurrency)
        .try_collect::<Vec<()>>()
        .await?;
    let seconds = started.elapsed().as_secs_f64();
    let images = args.repositories * args.tags;
    crate::write_json(
        &args.out,
        &json!({
            "repositories": args.repositories,
            "tags_per_repo": args.tags,
            "images": images,
            "concurrency": args.concurrency,
            "seconds": crate::stats::round(seconds),
            "images_per_second": crate::stats::round(images as f64 / seconds.max(0.001)),
            "sample_repository": repository_name(args.repositories / 2, args.namespaces),
        }),
    )
}

/// Pushes every tag of one repository, oldest first.
async fn push_repository(client: &RegistryClient, index: usize, args: &PushArgs) -> Result<(), String> {
    let name = repository_name(index, args.namespaces);
    for t in 0..args.tags {
        let tag = tag_name(t);
        let image = synthetic::generate(&image_spec(index, t, &tag));
        let mut attempt = 0;
        loop {
            attempt += 1;
            // The first tag uploads the shared layers; later ones only their config.
            let result = if t == 0 {
                synthetic::push(client, &name, &tag, &image).await.map(|_| ())
            } else {
                push_config_and_manifest(client, &name, &tag, &image).await
            };
            match result {
                Ok(()) => break,
                Err(err) if attempt < ATTEMPTS => {
                    eprintln!("push {name}:{tag} failed ({err}); retrying");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
                Err(err) => return Err(format!("push {name}:{tag} failed {ATTEMPTS} times: {err}")),
            }
        }
    }
    Ok(())
}

/// Same seed per repository (same layers), a version label per tag (its own config).
fn image_spec(repository: usize, tag_index: usize, tag: &str) -> ImageSpec {
    let architecture = if tag_index % 3 == 2 { "arm64" } else { "amd64" };
    ImageSpec {
        platforms: vec![Platform {
            os: "linux".into(),
            architecture: architecture.into(),
            variant: None,
        }],
        layers: 2,
        layer_size: 4096 + (repository % 7) * 1024,
        flavor: if tag_index.is_multiple_of(2) {
            Flavor::Oci
        } else {
            Flavor::Docker
        },
        labels: BTreeMap::from([("org.opencontainers.image.version".to_string(), tag.to_string())]),
        seed: repository as u64,
    }
}

/// Uploads the config blob and puts the manifest under `tag` (the layers are already there).
async fn push_config_and_manifest(
    client: &RegistryClient,
    repository: &str,
    tag: &str,
    image: &GeneratedImage,
) -> Result<(), RegistryError> {
    let manifest: serde_json::Value = serde_json::from_slice(&image.top.bytes)
        .map_err(|e| RegistryError::Protocol(format!("generated manifest: {e}")))?;
    let config_digest = manifest["config"]["digest"].as_str().unwrap_or_default();
    let repository: RepositoryName = repository.parse()?;
    for config in image.blobs.iter().filter(|b| b.digest == config_digest) {
        client
            .upload_blob(&repository, &config.digest.parse()?, config.bytes.clone())
            .await?;
    }
    client
        .put_manifest(
            &repository,
            &tag.parse()?,
            &image.top.media_type,
            image.top.bytes.clone(),
        )
        .await
        .map(|_| ())
}
