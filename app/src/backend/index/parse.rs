//! Reading manifests and image configs (OCI and Docker media types) with `oci-spec`. Anything
//! that does not parse becomes [`ParsedManifest::Unknown`] with the reason: pages then show the
//! raw text with a warning, never an error.

use std::collections::BTreeMap;

use oci_spec::image::{Descriptor, ImageConfiguration, ImageIndex, ImageManifest};

/// A layer, config or child manifest reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    pub digest: String,
    pub media_type: String,
    pub size: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChildManifest {
    pub reference: Reference,
    /// `None` for entries without a platform (e.g. attestation manifests).
    pub platform: Option<(String, String, Option<String>)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParsedManifest {
    Image {
        config: Reference,
        layers: Vec<Reference>,
        annotations: BTreeMap<String, String>,
        subject: Option<String>,
    },
    Index {
        manifests: Vec<ChildManifest>,
        annotations: BTreeMap<String, String>,
        subject: Option<String>,
    },
    Unknown {
        reason: String,
    },
}

impl ParsedManifest {
    pub fn kind(&self) -> &'static str {
        match self {
            ParsedManifest::Image { .. } => "image",
            ParsedManifest::Index { .. } => "index",
            ParsedManifest::Unknown { .. } => "unknown",
        }
    }
}

const INDEX_TYPES: [&str; 2] = [
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
];
const IMAGE_TYPES: [&str; 2] = [
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
];

/// Parses a manifest; `media_type` is the registry's Content-Type (the body's `mediaType` wins
/// when it is present, as the body is what the digest covers).
pub fn parse_manifest(media_type: &str, bytes: &[u8]) -> ParsedManifest {
    let value: serde_json::Value = match serde_json::from_slice(bytes) {
        Ok(value) => value,
        Err(err) => {
            return ParsedManifest::Unknown {
                reason: format!("the manifest is not valid JSON: {err}"),
            }
        }
    };
    let declared = value
        .get("mediaType")
        .and_then(|m| m.as_str())
        .unwrap_or(media_type)
        .to_string();
    let looks_like_index = value.get("manifests").is_some();
    if INDEX_TYPES.contains(&declared.as_str()) || (looks_like_index && !IMAGE_TYPES.contains(&declared.as_str())) {
        match ImageIndex::from_reader(bytes) {
            Ok(index) => ParsedManifest::Index {
                manifests: index
                    .manifests()
                    .iter()
                    .map(|d| ChildManifest {
                        reference: reference(d),
                        platform: d.platform().as_ref().map(|p| {
                            (
                                p.os().to_string(),
                                p.architecture().to_string(),
                                p.variant().clone().filter(|v| !v.is_empty()),
                            )
                        }),
                    })
                    .collect(),
                annotations: sorted(index.annotations()),
                subject: index.subject().as_ref().map(|s| s.digest().to_string()),
            },
            Err(err) => ParsedManifest::Unknown {
                reason: format!("the index does not follow the OCI image index format: {err}"),
            },
        }
    } else if IMAGE_TYPES.contains(&declared.as_str()) || value.get("layers").is_some() {
        match ImageManifest::from_reader(bytes) {
            Ok(manifest) => ParsedManifest::Image {
                config: reference(manifest.config()),
                layers: manifest.layers().iter().map(reference).collect(),
                annotations: sorted(manifest.annotations()),
                subject: manifest.subject().as_ref().map(|s| s.digest().to_string()),
            },
            Err(err) => ParsedManifest::Unknown {
                reason: format!("the manifest does not follow the OCI image manifest format: {err}"),
            },
        }
    } else {
        ParsedManifest::Unknown {
            reason: format!("unsupported manifest media type {declared:?}"),
        }
    }
}

fn reference(descriptor: &Descriptor) -> Reference {
    Reference {
        digest: descriptor.digest().to_string(),
        media_type: descriptor.media_type().to_string(),
        size: i64::try_from(descriptor.size()).unwrap_or(i64::MAX),
    }
}

fn sorted(map: &Option<std::collections::HashMap<String, String>>) -> BTreeMap<String, String> {
    map.iter().flatten().map(|(k, v)| (k.clone(), v.clone())).collect()
}

/// What Wharf shows of an image config.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConfigSummary {
    pub os: String,
    pub architecture: String,
    pub variant: Option<String>,
    pub created: Option<String>,
    pub author: Option<String>,
    pub env: Vec<String>,
    pub entrypoint: Vec<String>,
    pub cmd: Vec<String>,
    pub working_dir: Option<String>,
    pub user: Option<String>,
    pub exposed_ports: Vec<String>,
    pub volumes: Vec<String>,
    pub labels: BTreeMap<String, String>,
    pub history: Vec<HistoryEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryEntry {
    pub created: Option<String>,
    pub created_by: String,
    pub comment: Option<String>,
    pub empty_layer: bool,
}

pub fn parse_config(bytes: &[u8]) -> Result<ConfigSummary, String> {
    let config = ImageConfiguration::from_reader(bytes).map_err(|e| format!("the image config cannot be read: {e}"))?;
    let inner = config.config().clone().unwrap_or_default();
    let mut exposed_ports = inner.exposed_ports().clone().unwrap_or_default();
    exposed_ports.sort();
    let mut volumes = inner.volumes().clone().unwrap_or_default();
    volumes.sort();
    Ok(ConfigSummary {
        os: config.os().to_string(),
        architecture: config.architecture().to_string(),
        variant: config.variant().clone().filter(|v| !v.is_empty()),
        created: config.created().clone(),
        author: config.author().clone().filter(|a| !a.is_empty()),
        env: inner.env().clone().unwrap_or_default(),
        entrypoint: inner.entrypoint().clone().unwrap_or_default(),
        cmd: inner.cmd().clone().unwrap_or_default(),
        working_dir: inner.working_dir().clone().filter(|w| !w.is_empty()),
        user: inner.user().clone().filter(|u| !u.is_empty()),
        exposed_ports,
        volumes,
        labels: sorted(inner.labels()),
        history: config
            .history()
            .iter()
            .flatten()
            .map(|h| HistoryEntry {
                created: h.created().clone(),
                created_by: h.created_by().clone().unwrap_or_default(),
                comment: h.comment().clone().filter(|c| !c.is_empty()),
                empty_layer: h.empty_layer().unwrap_or(false),
            })
            .collect(),
    })
}

/// Pairs history steps with layers as `docker history` does: each non-empty step consumes the
/// next layer. Returns the layer index per step (`None` for empty steps or when layers run out).
pub fn history_layers(history: &[HistoryEntry], layer_count: usize) -> Vec<Option<usize>> {
    let mut next = 0;
    history
        .iter()
        .map(|step| {
            if step.empty_layer || next >= layer_count {
                None
            } else {
                next += 1;
                Some(next - 1)
            }
        })
        .collect()
}

/// Cosign-style attachment tags: `sha256-<hex>.sig|.att|.sbom` → (kind, digest they belong to).
pub fn attachment_of(tag: &str) -> Option<(&'static str, String)> {
    let rest = tag.strip_prefix("sha256-")?;
    let (hex, suffix) = rest.split_once('.')?;
    if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let kind = match suffix {
        "sig" => "sig",
        "att" => "att",
        "sbom" => "sbom",
        _ => return None,
    };
    Some((kind, format!("sha256:{hex}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIGEST_A: &str = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    const DIGEST_B: &str = "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

    #[test]
    fn reads_a_docker_image_manifest() {
        let body = format!(
            r#"{{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json",
            "config":{{"mediaType":"application/vnd.docker.container.image.v1+json","size":100,"digest":"{DIGEST_A}"}},
            "layers":[{{"mediaType":"application/vnd.docker.image.rootfs.diff.tar.gzip","size":2000,"digest":"{DIGEST_B}"}}]}}"#
        );
        let parsed = parse_manifest("", body.as_bytes());
        let ParsedManifest::Image { config, layers, .. } = parsed else {
            panic!("not an image: {parsed:?}")
        };
        assert_eq!(config.digest, DIGEST_A);
        assert_eq!(config.size, 100);
        assert_eq!(layers.len(), 1);
        assert_eq!(layers[0].size, 2000);
        assert_eq!(
            layers[0].media_type,
            "application/vnd.docker.image.rootfs.diff.tar.gzip"
        );
    }

    #[test]
    fn reads_an_oci_index_with_platforms() {
        let body = format!(
            r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[
            {{"mediaType":"application/vnd.oci.image.manifest.v1+json","size":500,"digest":"{DIGEST_A}","platform":{{"os":"linux","architecture":"arm","variant":"v7"}}}},
            {{"mediaType":"application/vnd.oci.image.manifest.v1+json","size":501,"digest":"{DIGEST_B}"}}],
            "annotations":{{"b":"2","a":"1"}}}}"#
        );
        let ParsedManifest::Index {
            manifests, annotations, ..
        } = parse_manifest("application/vnd.oci.image.index.v1+json", body.as_bytes())
        else {
            panic!("not an index")
        };
        assert_eq!(
            manifests[0].platform,
            Some(("linux".into(), "arm".into(), Some("v7".into())))
        );
        assert_eq!(manifests[1].platform, None);
        assert_eq!(annotations.keys().collect::<Vec<_>>(), ["a", "b"]);
    }

    #[test]
    fn unknown_and_malformed_manifests_carry_a_reason() {
        assert!(
            matches!(parse_manifest("", b"{not json"), ParsedManifest::Unknown { reason } if reason.contains("not valid JSON"))
        );
        assert!(matches!(
            parse_manifest("application/vnd.example+json", br#"{"hello":1}"#),
            ParsedManifest::Unknown { reason } if reason.contains("unsupported")
        ));
        let broken = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","layers":[]}"#;
        assert!(matches!(parse_manifest("", broken), ParsedManifest::Unknown { .. }));
    }

    #[test]
    fn reads_a_config_and_maps_history_to_layers() {
        let body = br#"{"architecture":"amd64","os":"linux","created":"2026-11-01T00:00:00Z",
            "config":{"Env":["PATH=/bin"],"Cmd":["sh"],"ExposedPorts":{"8080/tcp":{},"80/tcp":{}},"Labels":{"org.opencontainers.image.source":"https://example.com/x"},"WorkingDir":"/app"},
            "rootfs":{"type":"layers","diff_ids":["sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"]},
            "history":[{"created_by":"ADD file"},{"created_by":"ENV PATH","empty_layer":true},{"created_by":"RUN x"}]}"#;
        let config = parse_config(body).unwrap();
        assert_eq!(config.exposed_ports, ["80/tcp", "8080/tcp"]);
        assert_eq!(config.working_dir.as_deref(), Some("/app"));
        assert_eq!(config.labels.len(), 1);
        assert_eq!(history_layers(&config.history, 2), vec![Some(0), None, Some(1)]);
        assert!(parse_config(b"[]").is_err());
    }

    #[test]
    fn recognises_cosign_attachment_tags() {
        let hex = "a".repeat(64);
        assert_eq!(
            attachment_of(&format!("sha256-{hex}.sig")),
            Some(("sig", format!("sha256:{hex}")))
        );
        assert_eq!(attachment_of(&format!("sha256-{hex}.sbom")).unwrap().0, "sbom");
        assert_eq!(attachment_of("sha256-abc.sig"), None);
        assert_eq!(attachment_of(&format!("sha256-{hex}.txt")), None);
        assert_eq!(attachment_of("latest"), None);
    }
}
