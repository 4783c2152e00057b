//! The configuration file for a registry that Wharf manages: token auth pointing at the console,
//! notifications to the console's intake, storage in the data directory.

use std::path::Path;

pub struct RegistryConfigInput<'a> {
    /// `host:port` the registry listens on.
    pub listen: &'a str,
    pub storage_dir: &'a Path,
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

/// The `notifications` section that sends manifest events to the console's intake: part of the
/// managed registry's config, and what the Settings page offers for a registry Wharf does not manage.
/// Pulls are ignored: the registry reports one for every manifest GET and HEAD.
pub fn notification_stanza(events_url: &str, secret: &str) -> String {
    let ignored: String = IGNORED_MEDIA_TYPES
        .iter()
        .map(|m| format!("          - {m}\n"))
        .collect();
    format!(
        r#"notifications:
  endpoints:
    - name: wharf
      url: {events_url}
      headers:
        Authorization: [Bearer {secret}]
      timeout: 5s
      threshold: 3
      backoff: 2s
      ignore:
        actions:
          - pull
        mediatypes:
{ignored}"#
    )
}

pub fn render(input: &RegistryConfigInput<'_>) -> String {
    format!(
        r#"# Written by Wharf on every start from its flags; edit those, not this file.
version: 0.1
log:
  level: info
  formatter: text
storage:
  filesystem:
    rootdirectory: {storage}
  delete:
    enabled: true
  cache:
    blobdescriptor: inmemory
http:
  addr: {listen}
  secret: {http_secret}
  headers:
    X-Content-Type-Options: [nosniff]
auth:
  token:
    realm: {realm}
    service: {service}
    issuer: {issuer}
    rootcertbundle: {cert}
    jwks: {jwks}
{notifications}"#,
        storage = input.storage_dir.display(),
        listen = input.listen,
        http_secret = input.http_secret,
        realm = input.realm,
        service = input.service,
        issuer = input.issuer,
        cert = input.cert_path.display(),
        jwks = input.jwks_path.display(),
        notifications = notification_stanza(input.events_url, input.notification_secret),
    )
}
