//! The manifest page: the manifest and its config from the blob cache (or the registry, once),
//! turned into what `docker inspect` and `docker history` would show.

pub use super::fetch::FetchError;
use super::fetch::{manifest_bytes, read_config};
use super::labels::{all_labels, label};
use super::parse::{history_layers, parse_manifest, ChildManifest, ConfigSummary, ParsedManifest, Reference};
use super::store;
use crate::backend::db::Db;
use crate::backend::registry::RegistryClient;
use crate::model::{HistoryRow, ImageConfigView, ImageDetail, LayerRow, PlatformRow};

/// The parts of a manifest page that come from the manifest's own content.
pub struct ManifestContent {
    pub media_type: String,
    pub manifest_size: i64,
    pub kind: String,
    pub platforms: Vec<PlatformRow>,
    pub image: Option<ImageDetail>,
    pub annotations: Vec<crate::model::Label>,
    pub subject: Option<String>,
    pub raw: String,
    pub warnings: Vec<String>,
}

pub async fn manifest_content(
    db: &Db,
    registry: &RegistryClient,
    repository: &str,
    digest: &str,
) -> Result<ManifestContent, FetchError> {
    let (header_type, text) = manifest_bytes(db, registry, repository, digest).await?;
    let parsed = parse_manifest(&header_type, text.as_bytes());
    let declared = serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .and_then(|v| v.get("mediaType").and_then(|m| m.as_str()).map(str::to_string));
    let mut content = ManifestContent {
        media_type: declared.unwrap_or(header_type),
        manifest_size: text.len() as i64,
        kind: parsed.kind().to_string(),
        platforms: Vec::new(),
        image: None,
        annotations: Vec::new(),
        subject: None,
        raw: pretty(&text),
        warnings: Vec::new(),
    };
    match parsed {
        ParsedManifest::Unknown { reason } => content
            .warnings
            .push(format!("{reason}. The manifest is shown as stored.")),
        ParsedManifest::Index {
            manifests,
            annotations,
            subject,
        } => {
            content.platforms = index_platforms(db, manifests).await?;
            content.annotations = all_labels(&annotations);
            content.subject = subject;
        }
        ParsedManifest::Image {
            config,
            layers,
            annotations,
            subject,
        } => {
            let summary = match read_config(db, registry, repository, &config).await? {
                Ok(summary) => Some(summary),
                Err(reason) => {
                    content.warnings.push(reason);
                    None
                }
            };
            let image = image_detail(&config, &layers, summary);
            if let Some(config) = &image.config {
                content.platforms.push(PlatformRow {
                    os: config.os.clone(),
                    architecture: config.architecture.clone(),
                    variant: config.variant.clone(),
                    digest: digest.to_string(),
                    size: image.total_size,
                });
            }
            content.image = Some(image);
            content.annotations = all_labels(&annotations);
            content.subject = subject;
        }
    }
    Ok(content)
}

/// An index's platforms, each with its image's total size when it is indexed (else the size of
/// its manifest as the index gives it).
async fn index_platforms(db: &Db, manifests: Vec<ChildManifest>) -> Result<Vec<PlatformRow>, FetchError> {
    let mut platforms = Vec::with_capacity(manifests.len());
    for child in manifests {
        let size = match store::manifest(&mut *db.pool.acquire().await?, &child.reference.digest).await? {
            Some(record) => record.total_size,
            None => child.reference.size,
        };
        let (os, architecture, variant) = child
            .platform
            .unwrap_or_else(|| ("unknown".into(), "unknown".into(), None));
        platforms.push(PlatformRow {
            os,
            architecture,
            variant,
            digest: child.reference.digest,
            size,
        });
    }
    Ok(platforms)
}

/// An image's layers with their running total, its history matched to the layers, and its
/// config as `docker inspect` shows it (when the config could be read).
fn image_detail(config: &Reference, layers: &[Reference], summary: Option<ConfigSummary>) -> ImageDetail {
    let mut cumulative = 0;
    let layer_rows: Vec<LayerRow> = layers
        .iter()
        .map(|layer| {
            cumulative += layer.size;
            LayerRow {
                digest: layer.digest.clone(),
                media_type: layer.media_type.clone(),
                size: layer.size,
                cumulative,
            }
        })
        .collect();
    let history = summary.as_ref().map(|s| history_rows(s, layers)).unwrap_or_default();
    ImageDetail {
        config: summary.map(|s| config_view(config, s)),
        history,
        layers: layer_rows,
        total_size: config.size + cumulative,
    }
}

/// The config's history, each step with the layer it made (empty steps made none).
fn history_rows(summary: &ConfigSummary, layers: &[Reference]) -> Vec<HistoryRow> {
    let mapping = history_layers(&summary.history, layers.len());
    summary
        .history
        .iter()
        .zip(mapping)
        .map(|(step, layer)| HistoryRow {
            created: step.created.clone(),
            created_by: step.created_by.clone(),
            comment: step.comment.clone(),
            empty_layer: step.empty_layer,
            layer_digest: layer.map(|i| layers[i].digest.clone()),
            layer_size: layer.map(|i| layers[i].size),
        })
        .collect()
}

fn config_view(config: &Reference, s: ConfigSummary) -> ImageConfigView {
    ImageConfigView {
        config_digest: config.digest.clone(),
        os: s.os,
        architecture: s.architecture,
        variant: s.variant,
        created: s.created,
        author: s.author,
        env: s.env,
        entrypoint: s.entrypoint,
        cmd: s.cmd,
        working_dir: s.working_dir,
        user: s.user,
        exposed_ports: s.exposed_ports,
        volumes: s.volumes,
        labels: s.labels.iter().map(|(k, v)| label(k, v)).collect(),
    }
}

/// Pretty-printed JSON (key order kept), or the text as it is when it is not JSON.
fn pretty(text: &str) -> String {
    serde_json::from_str::<serde_json::Value>(text)
        .ok()
        .and_then(|v| serde_json::to_string_pretty(&v).ok())
        .unwrap_or_else(|| text.to_string())
}

#[cfg(test)]
mod tests {
    use super::pretty;

    #[test]
    fn pretty_prints_and_keeps_key_order() {
        assert_eq!(pretty(r#"{"b":1,"a":2}"#), "{\n  \"b\": 1,\n  \"a\": 2\n}");
        assert_eq!(pretty("{broken"), "{broken");
    }
}
