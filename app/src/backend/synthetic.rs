//! Generated container images for tests, demos and benchmarks: single-platform or multi-arch
//! (OCI index or Docker manifest list), OCI or Docker media types, real gzip'd tar layers of a
//! chosen size, a config with labels, env and history. Pushed through the v2 API like any client,
//! or written as an OCI image layout for other clients (skopeo) to push.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::str::FromStr;

use bytes::Bytes;
use rand::{RngCore, SeedableRng};
use serde_json::json;
use sha2::{Digest, Sha256};

use super::registry::{RegistryClient, RegistryError};
use crate::names::{self, Reference, RepositoryName};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    Oci,
    Docker,
}

impl FromStr for Flavor {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "oci" => Ok(Flavor::Oci),
            "docker" => Ok(Flavor::Docker),
            other => Err(format!("unknown format {other:?}: use oci or docker")),
        }
    }
}

struct MediaTypes {
    layer: &'static str,
    config: &'static str,
    manifest: &'static str,
    index: &'static str,
}

impl Flavor {
    fn media_types(self) -> MediaTypes {
        match self {
            Flavor::Oci => MediaTypes {
                layer: "application/vnd.oci.image.layer.v1.tar+gzip",
                config: "application/vnd.oci.image.config.v1+json",
                manifest: "application/vnd.oci.image.manifest.v1+json",
                index: "application/vnd.oci.image.index.v1+json",
            },
            Flavor::Docker => MediaTypes {
                layer: "application/vnd.docker.image.rootfs.diff.tar.gzip",
                config: "application/vnd.docker.container.image.v1+json",
                manifest: "application/vnd.docker.distribution.manifest.v2+json",
                index: "application/vnd.docker.distribution.manifest.list.v2+json",
            },
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Platform {
    pub os: String,
    pub architecture: String,
    pub variant: Option<String>,
}

impl FromStr for Platform {
    type Err = String;
    /// `linux/amd64` or `linux/arm/v7`.
    fn from_str(s: &str) -> Result<Self, String> {
        let parts: Vec<&str> = s.split('/').collect();
        match parts.as_slice() {
            [os, arch] if !os.is_empty() && !arch.is_empty() => Ok(Platform {
                os: os.to_string(),
                architecture: arch.to_string(),
                variant: None,
            }),
            [os, arch, variant] if !os.is_empty() && !arch.is_empty() && !variant.is_empty() => Ok(Platform {
                os: os.to_string(),
                architecture: arch.to_string(),
                variant: Some(variant.to_string()),
            }),
            _ => Err(format!(
                "invalid platform {s:?}: use os/arch or os/arch/variant, e.g. linux/arm64"
            )),
        }
    }
}

#[derive(Debug, Clone)]
pub struct ImageSpec {
    /// One platform gives a plain manifest; several give an index / manifest list.
    pub platforms: Vec<Platform>,
    pub layers: usize,
    pub layer_size: usize,
    pub flavor: Flavor,
    pub labels: BTreeMap<String, String>,
    /// Different seeds give different content (and digests).
    pub seed: u64,
}

impl Default for ImageSpec {
    fn default() -> Self {
        ImageSpec {
            platforms: vec![Platform {
                os: "linux".into(),
                architecture: "amd64".into(),
                variant: None,
            }],
            layers: 2,
            layer_size: 4096,
            flavor: Flavor::Oci,
            labels: BTreeMap::new(),
            seed: rand::random(),
        }
    }
}

/// A content-addressed piece of an image.
#[derive(Debug, Clone)]
pub struct Blob {
    pub digest: String,
    pub media_type: String,
    pub bytes: Bytes,
}

impl Blob {
    fn new(media_type: &str, bytes: Vec<u8>) -> Blob {
        Blob {
            digest: sha256_digest(&bytes),
            media_type: media_type.to_string(),
            bytes: Bytes::from(bytes),
        }
    }

    fn descriptor(&self) -> serde_json::Value {
        json!({"mediaType": self.media_type, "digest": self.digest, "size": self.bytes.len()})
    }
}

#[derive(Debug, Clone)]
pub struct GeneratedImage {
    /// Layers and configs of every platform.
    pub blobs: Vec<Blob>,
    /// Per-platform manifests of a multi-arch image (empty for a single platform).
    pub platform_manifests: Vec<Blob>,
    /// The manifest or index the tag points at.
    pub top: Blob,
}

pub fn sha256_digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

pub fn generate(spec: &ImageSpec) -> GeneratedImage {
    let media = spec.flavor.media_types();
    let created = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    let mut blobs = Vec::new();
    let mut manifests = Vec::new();
    for (index, platform) in spec.platforms.iter().enumerate() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(spec.seed.wrapping_add(index as u64 * 7919));
        let mut layers = Vec::new();
        let mut diff_ids = Vec::new();
        let mut history =
            vec![json!({"created": created, "created_by": "/bin/sh -c #(nop) ENV APP_HOME=/app", "empty_layer": true})];
        for layer in 0..spec.layers {
            let (compressed, diff_id) = layer_tar_gz(&mut rng, layer, spec.layer_size);
            diff_ids.push(diff_id);
            history
                .push(json!({"created": created, "created_by": format!("COPY layer-{layer}.bin /data/ # buildkit")}));
            layers.push(Blob::new(media.layer, compressed));
        }
        history.push(
            json!({"created": created, "created_by": "/bin/sh -c #(nop) CMD [\"/app/run\"]", "empty_layer": true}),
        );
        let mut config = json!({
            "architecture": platform.architecture,
            "os": platform.os,
            "created": created,
            "author": "Wharf synthetic image",
            "config": {
                "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "APP_HOME=/app"],
                "Cmd": ["/app/run"],
                "WorkingDir": "/app",
                "ExposedPorts": {"8080/tcp": {}},
                "Labels": spec.labels,
            },
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
            "history": history,
        });
        if let Some(variant) = &platform.variant {
            config["variant"] = json!(variant);
        }
        let config = Blob::new(media.config, serde_json::to_vec(&config).expect("json"));
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": media.manifest,
            "config": config.descriptor(),
            "layers": layers.iter().map(Blob::descriptor).collect::<Vec<_>>(),
        });
        manifests.push((
            platform.clone(),
            Blob::new(media.manifest, serde_json::to_vec(&manifest).expect("json")),
        ));
        blobs.extend(layers);
        blobs.push(config);
    }
    if manifests.len() == 1 {
        let (_, top) = manifests.pop().expect("one manifest");
        return GeneratedImage {
            blobs,
            platform_manifests: Vec::new(),
            top,
        };
    }
    let entries: Vec<serde_json::Value> = manifests
        .iter()
        .map(|(platform, manifest)| {
            let mut descriptor = manifest.descriptor();
            descriptor["platform"] = json!({"os": platform.os, "architecture": platform.architecture});
            if let Some(variant) = &platform.variant {
                descriptor["platform"]["variant"] = json!(variant);
            }
            descriptor
        })
        .collect();
    let index = json!({"schemaVersion": 2, "mediaType": media.index, "manifests": entries});
    GeneratedImage {
        blobs,
        platform_manifests: manifests.into_iter().map(|(_, m)| m).collect(),
        top: Blob::new(media.index, serde_json::to_vec(&index).expect("json")),
    }
}

/// A gzip'd tar holding one file of `size` random bytes: (compressed bytes, diff id).
fn layer_tar_gz(rng: &mut rand::rngs::StdRng, layer: usize, size: usize) -> (Vec<u8>, String) {
    let mut data = vec![0u8; size];
    rng.fill_bytes(&mut data);
    let mut builder = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_gnu();
    header.set_size(size as u64);
    header.set_mode(0o644);
    header.set_mtime(0);
    header.set_cksum();
    builder
        .append_data(&mut header, format!("data/layer-{layer}.bin"), data.as_slice())
        .expect("in-memory tar");
    let tar = builder.into_inner().expect("in-memory tar");
    let diff_id = sha256_digest(&tar);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&tar).expect("in-memory gzip");
    (gz.finish().expect("in-memory gzip"), diff_id)
}

/// Pushes blobs (skipping ones present), platform manifests by digest, then the top under `tag`.
/// Returns the digest of the top manifest.
pub async fn push(
    client: &RegistryClient,
    repository: &str,
    tag: &str,
    image: &GeneratedImage,
) -> Result<String, RegistryError> {
    let repository = RepositoryName::parse(repository)?;
    for blob in &image.blobs {
        let digest = names::Digest::parse(&blob.digest)?;
        if !client.blob_exists(&repository, &digest).await? {
            client.upload_blob(&repository, &digest, blob.bytes.clone()).await?;
        }
    }
    for manifest in &image.platform_manifests {
        client
            .put_manifest(
                &repository,
                &Reference::parse(&manifest.digest)?,
                &manifest.media_type,
                manifest.bytes.clone(),
            )
            .await?;
    }
    client
        .put_manifest(
            &repository,
            &Reference::parse(tag)?,
            &image.top.media_type,
            image.top.bytes.clone(),
        )
        .await?;
    Ok(image.top.digest.clone())
}

/// Writes the image as an OCI image layout in `dir`, the top manifest named `tag`.
pub fn write_oci_layout(dir: &Path, tag: &str, image: &GeneratedImage) -> std::io::Result<()> {
    let blob_dir = dir.join("blobs").join("sha256");
    std::fs::create_dir_all(&blob_dir)?;
    for blob in image.blobs.iter().chain(&image.platform_manifests).chain([&image.top]) {
        let hex = blob.digest.trim_start_matches("sha256:");
        std::fs::write(blob_dir.join(hex), &blob.bytes)?;
    }
    std::fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#)?;
    let mut descriptor = image.top.descriptor();
    descriptor["annotations"] = json!({"org.opencontainers.image.ref.name": tag});
    let index =
        json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": [descriptor]});
    std::fs::write(dir.join("index.json"), serde_json::to_vec_pretty(&index).expect("json"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_platform_is_a_plain_manifest_with_matching_descriptors() {
        let spec = ImageSpec {
            layers: 3,
            layer_size: 1000,
            seed: 1,
            ..ImageSpec::default()
        };
        let image = generate(&spec);
        assert!(image.platform_manifests.is_empty());
        assert_eq!(image.top.media_type, "application/vnd.oci.image.manifest.v1+json");
        let manifest: serde_json::Value = serde_json::from_slice(&image.top.bytes).unwrap();
        assert_eq!(manifest["layers"].as_array().unwrap().len(), 3);
        for layer in manifest["layers"].as_array().unwrap() {
            let blob = image.blobs.iter().find(|b| b.digest == layer["digest"]).unwrap();
            assert_eq!(blob.bytes.len() as u64, layer["size"].as_u64().unwrap());
            assert_eq!(sha256_digest(&blob.bytes), blob.digest);
        }
        let config = image
            .blobs
            .iter()
            .find(|b| b.digest == manifest["config"]["digest"])
            .unwrap();
        let config: serde_json::Value = serde_json::from_slice(&config.bytes).unwrap();
        assert_eq!(config["rootfs"]["diff_ids"].as_array().unwrap().len(), 3);
        assert_eq!(config["history"].as_array().unwrap().len(), 5);
    }

    #[test]
    fn multi_arch_docker_is_a_manifest_list() {
        let spec = ImageSpec {
            platforms: vec!["linux/amd64".parse().unwrap(), "linux/arm/v7".parse().unwrap()],
            flavor: Flavor::Docker,
            seed: 2,
            ..ImageSpec::default()
        };
        let image = generate(&spec);
        assert_eq!(image.platform_manifests.len(), 2);
        assert_eq!(
            image.top.media_type,
            "application/vnd.docker.distribution.manifest.list.v2+json"
        );
        let index: serde_json::Value = serde_json::from_slice(&image.top.bytes).unwrap();
        assert_eq!(index["manifests"][1]["platform"]["variant"], "v7");
        assert_ne!(image.platform_manifests[0].digest, image.platform_manifests[1].digest);
    }

    #[test]
    fn bad_platforms_and_formats_are_rejected() {
        assert!("linux".parse::<Platform>().is_err());
        assert!("linux//v7".parse::<Platform>().is_err());
        assert!("zip".parse::<Flavor>().is_err());
    }
}
