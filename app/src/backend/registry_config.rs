//! The configuration file for a registry that Wharf manages: token auth pointing at the console,
//! notifications to the console's intake, storage in the data directory or in an S3 bucket.
//!
//! The file is built as a tree ([`Yaml`]) and written by one function: keys are Wharf's own
//! constants, and every value is a double-quoted scalar with its special characters escaped, so
//! no value (a path, a secret, an endpoint) can change the file's structure. Both registry lines
//! read it: distribution 2.8 and 3.x.

use std::path::{Path, PathBuf};

pub struct RegistryConfigInput<'a> {
    /// `host:port` the registry listens on.
    pub listen: &'a str,
    pub storage: &'a Storage,
    /// The console's `/auth/token` URL as registry clients reach it.
    pub realm: &'a str,
    pub service: &'a str,
    pub issuer: &'a str,
    pub cert_path: &'a Path,
    pub jwks_path: &'a Path,
    /// The console's `/registry/events` URL as the registry reaches it.
    pub events_url: &'a str,
    pub notification_secret: &'a str,
    pub http_secret: &'a str,
    /// Pulls only: pushes and deletes get the registry's read-only error (while garbage
    /// collection runs).
    pub read_only: bool,
}

/// Where the registry keeps image content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Storage {
    /// The filesystem driver, in this directory (the data directory's `registry/`).
    Filesystem(PathBuf),
    /// The `s3` driver: Amazon S3 or an S3-compatible object store.
    S3(S3Storage),
}

/// The settings of the registry's `s3` storage driver that Wharf writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Storage {
    pub bucket: String,
    pub region: String,
    /// The endpoint of an S3-compatible service (MinIO, Ceph, ...), e.g. `http://minio:9000`;
    /// `None`: Amazon S3 in `region`.
    pub endpoint: Option<url::Url>,
    /// Bucket in the path (`endpoint/bucket/key`) instead of the host name (`bucket.endpoint/key`):
    /// what most S3-compatible services need.
    pub path_style: bool,
    /// A prefix inside the bucket; `None`: the bucket's root.
    pub root_directory: Option<String>,
    /// `None`: the registry finds credentials itself (the `AWS_*` environment, an instance or
    /// pod role).
    pub credentials: Option<S3Credentials>,
}

#[derive(Clone, PartialEq, Eq)]
pub struct S3Credentials {
    pub access_key: String,
    pub secret_key: String,
}

/// The access key id, never the secret.
impl std::fmt::Debug for S3Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Credentials")
            .field("access_key", &self.access_key)
            .field("secret_key", &"<redacted>")
            .finish()
    }
}

/// Layer blobs also produce events; only manifest events matter to Wharf.
const IGNORED_MEDIA_TYPES: &[&str] = &[
    "application/octet-stream",
    "application/vnd.docker.image.rootfs.diff.tar.gzip",
    "application/vnd.oci.image.layer.v1.tar",
    "application/vnd.oci.image.layer.v1.tar+gzip",
    "application/vnd.oci.image.layer.v1.tar+zstd",
    "application/vnd.docker.container.image.v1+json",
    "application/vnd.oci.image.config.v1+json",
];

/// A YAML document as Wharf writes it: keys are static, values are written quoted.
enum Yaml {
    Str(String),
    Bool(bool),
    Int(u64),
    Map(Vec<(&'static str, Yaml)>),
    List(Vec<Yaml>),
}

fn str(value: impl Into<String>) -> Yaml {
    Yaml::Str(value.into())
}

fn path(value: &Path) -> Yaml {
    Yaml::Str(value.display().to_string())
}

/// The `notifications` section that sends manifest events to the console's intake: part of the
/// managed registry's config, and what the Settings page offers for a registry Wharf does not manage.
/// Pulls are sent (Wharf counts the pulls of manifests); blob events are not.
pub fn notification_stanza(events_url: &str, secret: &str) -> String {
    to_yaml(&Yaml::Map(vec![("notifications", notifications(events_url, secret))]))
}

fn notifications(events_url: &str, secret: &str) -> Yaml {
    let endpoint = Yaml::Map(vec![
        ("name", str("wharf")),
        ("url", str(events_url)),
        (
            "headers",
            Yaml::Map(vec![(
                "Authorization",
                Yaml::List(vec![str(format!("Bearer {secret}"))]),
            )]),
        ),
        ("timeout", str("5s")),
        ("threshold", Yaml::Int(3)),
        ("backoff", str("2s")),
        (
            "ignore",
            Yaml::Map(vec![(
                "mediatypes",
                Yaml::List(IGNORED_MEDIA_TYPES.iter().map(|m| str(*m)).collect()),
            )]),
        ),
    ]);
    Yaml::Map(vec![("endpoints", Yaml::List(vec![endpoint]))])
}

fn storage(storage: &Storage, read_only: bool) -> Yaml {
    let driver = match storage {
        Storage::Filesystem(dir) => ("filesystem", Yaml::Map(vec![("rootdirectory", path(dir))])),
        Storage::S3(s3) => ("s3", s3_driver(s3)),
    };
    let mut entries = vec![
        driver,
        ("delete", Yaml::Map(vec![("enabled", Yaml::Bool(true))])),
        ("cache", Yaml::Map(vec![("blobdescriptor", str("inmemory"))])),
    ];
    if read_only {
        let enabled = Yaml::Map(vec![("enabled", Yaml::Bool(true))]);
        entries.push(("maintenance", Yaml::Map(vec![("readonly", enabled)])));
    }
    Yaml::Map(entries)
}

/// The `s3` driver's parameters. `v4auth` is 2.8's (3.x always signs with v4 and ignores it);
/// `secure` follows the endpoint's scheme, as both lines use it to pick HTTP or HTTPS.
fn s3_driver(s3: &S3Storage) -> Yaml {
    let mut params = vec![("bucket", str(&s3.bucket)), ("region", str(&s3.region))];
    if let Some(endpoint) = &s3.endpoint {
        params.push(("regionendpoint", str(endpoint.as_str().trim_end_matches('/'))));
    }
    let secure = s3.endpoint.as_ref().is_none_or(|e| e.scheme() == "https");
    params.push(("secure", Yaml::Bool(secure)));
    params.push(("forcepathstyle", Yaml::Bool(s3.path_style)));
    params.push(("v4auth", Yaml::Bool(true)));
    if let Some(root) = &s3.root_directory {
        params.push(("rootdirectory", str(root)));
    }
    if let Some(credentials) = &s3.credentials {
        params.push(("accesskey", str(&credentials.access_key)));
        params.push(("secretkey", str(&credentials.secret_key)));
    }
    Yaml::Map(params)
}

pub fn render(input: &RegistryConfigInput<'_>) -> String {
    let config = Yaml::Map(vec![
        ("version", str("0.1")),
        (
            "log",
            Yaml::Map(vec![("level", str("info")), ("formatter", str("text"))]),
        ),
        ("storage", storage(input.storage, input.read_only)),
        (
            "http",
            Yaml::Map(vec![
                ("addr", str(input.listen)),
                ("secret", str(input.http_secret)),
                (
                    "headers",
                    Yaml::Map(vec![("X-Content-Type-Options", Yaml::List(vec![str("nosniff")]))]),
                ),
            ]),
        ),
        (
            "auth",
            Yaml::Map(vec![(
                "token",
                Yaml::Map(vec![
                    ("realm", str(input.realm)),
                    ("service", str(input.service)),
                    ("issuer", str(input.issuer)),
                    ("rootcertbundle", path(input.cert_path)),
                    // Registry 3.x: the same keys by `kid` (2.8 ignores the option).
                    ("jwks", path(input.jwks_path)),
                ]),
            )]),
        ),
        (
            "notifications",
            notifications(input.events_url, input.notification_secret),
        ),
    ]);
    format!(
        "# Written by Wharf on every start from its flags; edit those, not this file.\n{}",
        to_yaml(&config)
    )
}

/// Block-style YAML, indented by two; a list item that is a mapping starts on the dash's line.
fn to_yaml(node: &Yaml) -> String {
    let mut out = String::new();
    write_block(node, 0, &mut out);
    out
}

fn write_block(node: &Yaml, indent: usize, out: &mut String) {
    let pad = " ".repeat(indent);
    match node {
        Yaml::Map(entries) => {
            for (key, value) in entries {
                out.push_str(&pad);
                out.push_str(key);
                out.push(':');
                write_value(value, indent, out);
            }
        }
        Yaml::List(items) => {
            for item in items {
                if let Yaml::Map(entries) = item {
                    if !entries.is_empty() {
                        let mut nested = String::new();
                        write_block(item, indent + 2, &mut nested);
                        out.push_str(&pad);
                        out.push_str("- ");
                        out.push_str(&nested[indent + 2..]);
                        continue;
                    }
                }
                out.push_str(&pad);
                out.push('-');
                write_value(item, indent, out);
            }
        }
        scalar => write_value(scalar, indent, out),
    }
}

/// After a key or a dash: a scalar on the same line, a mapping or list on the next ones.
fn write_value(value: &Yaml, indent: usize, out: &mut String) {
    match value {
        Yaml::Str(text) => {
            out.push(' ');
            out.push_str(&quoted(text));
        }
        Yaml::Bool(flag) => out.push_str(if *flag { " true" } else { " false" }),
        Yaml::Int(number) => {
            out.push(' ');
            out.push_str(&number.to_string());
        }
        Yaml::Map(entries) if entries.is_empty() => out.push_str(" {}"),
        Yaml::List(items) if items.is_empty() => out.push_str(" []"),
        nested => {
            out.push('\n');
            write_block(nested, indent + 2, out);
            return;
        }
    }
    out.push('\n');
}

/// A YAML double-quoted scalar: `"` and `\` escaped, control characters (and the characters
/// YAML reads as line breaks or a byte order mark) as `\uXXXX`.
fn quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() || matches!(c, '\u{2028}' | '\u{2029}' | '\u{feff}') => {
                out.push_str(&format!("\\u{:04X}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input<'a>(storage: &'a Storage) -> RegistryConfigInput<'a> {
        RegistryConfigInput {
            listen: "127.0.0.1:5000",
            storage,
            realm: "http://127.0.0.1:3000/auth/token",
            service: "wharf-registry",
            issuer: "wharf",
            cert_path: Path::new("/data/token-cert.pem"),
            jwks_path: Path::new("/data/token-jwks.json"),
            events_url: "http://127.0.0.1:3000/registry/events",
            notification_secret: "n0t1f1cat10n",
            http_secret: "h77p",
            read_only: false,
        }
    }

    #[test]
    fn filesystem_config() {
        let storage = Storage::Filesystem(PathBuf::from("/data/registry"));
        insta::assert_snapshot!(render(&input(&storage)));
    }

    #[test]
    fn s3_config_with_an_endpoint_and_keys() {
        let storage = Storage::S3(S3Storage {
            bucket: "images".into(),
            region: "eu-west-1".into(),
            endpoint: Some(url::Url::parse("http://127.0.0.1:9000").unwrap()),
            path_style: true,
            root_directory: Some("/registry".into()),
            credentials: Some(S3Credentials {
                access_key: "AKIAEXAMPLE".into(),
                secret_key: "wJalr/K7MDENG+bPxRfiCY".into(),
            }),
        });
        let text = render(&input(&storage));
        let s3 = &text[text.find("  s3:").unwrap()..text.find("  delete:").unwrap()];
        insta::assert_snapshot!(s3);
    }

    #[test]
    fn s3_on_aws_with_the_registrys_own_credentials() {
        let storage = Storage::S3(S3Storage {
            bucket: "images".into(),
            region: "us-east-1".into(),
            endpoint: None,
            path_style: false,
            root_directory: None,
            credentials: None,
        });
        let text = render(&input(&storage));
        assert!(text.contains("    secure: true\n"), "{text}");
        assert!(
            !text.contains("regionendpoint") && !text.contains("accesskey"),
            "{text}"
        );
    }

    #[test]
    fn no_value_changes_the_structure() {
        let storage = Storage::Filesystem(PathBuf::from("/data/a: b #c\n\"d\"\\e\u{85}"));
        let text = render(&input(&storage));
        assert!(
            text.contains(r#"    rootdirectory: "/data/a: b #c\u000A\"d\"\\e\u0085""#),
            "{text}"
        );
        assert_eq!(
            text.lines().count(),
            render(&input(&Storage::Filesystem("/x".into()))).lines().count()
        );
    }

    #[test]
    fn read_only_for_garbage_collection() {
        let storage = Storage::Filesystem(PathBuf::from("/data/registry"));
        let writable = render(&input(&storage));
        assert!(!writable.contains("maintenance"), "{writable}");
        let text = render(&RegistryConfigInput {
            read_only: true,
            ..input(&storage)
        });
        assert!(
            text.contains("  maintenance:\n    readonly:\n      enabled: true\n"),
            "{text}"
        );
    }

    #[test]
    fn secrets_are_not_in_debug_output() {
        let credentials = S3Credentials {
            access_key: "AKIAEXAMPLE".into(),
            secret_key: "very-secret".into(),
        };
        let shown = format!("{credentials:?}");
        assert!(
            shown.contains("AKIAEXAMPLE") && !shown.contains("very-secret"),
            "{shown}"
        );
    }
}
