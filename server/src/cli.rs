//! Command line and environment: every flag also reads a `WHARF_*` variable.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use url::Url;

#[derive(Debug, Parser)]
#[command(
    name = "wharf",
    version,
    about = "Web console and token server for a self-hosted container registry"
)]
#[command(args_conflicts_with_subcommands = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub serve: ServeArgs,
}

#[derive(Debug, Subcommand)]
#[allow(clippy::large_enum_variant, reason = "parsed once at start")]
pub enum Command {
    /// Run the console (and, unless --registry-url is given, a registry next to it). The default.
    Serve(ServeArgs),
    /// Push a generated image to a registry, or write it as an OCI image layout.
    PushSynthetic(PushArgs),
    /// Administration from the command line (the way back in when no administrator can sign in).
    Admin(AdminArgs),
    /// Write a consistent copy of a console's SQLite data (database, intake journal, signing
    /// keys, notification secret) to one file, while the console runs.
    Backup(BackupArgs),
    /// Bring a backup back into a new data directory.
    Restore(RestoreArgs),
    /// Renders one webhook template job from stdin (the console runs this in a memory-limited child).
    #[command(name = app::backend::webhooks::formats::sandbox::SUBCOMMAND, hide = true)]
    RenderTemplate,
}

#[derive(Debug, Clone, Args)]
pub struct AdminArgs {
    #[command(subcommand)]
    pub action: AdminAction,
    /// The data directory of the console (for its SQLite database).
    #[arg(long, env = "WHARF_DATA_DIR", default_value = ".wharf", global = true)]
    pub data_dir: PathBuf,
    /// The console's database, when it is not SQLite in the data directory.
    #[arg(long, env = "WHARF_DATABASE_URL", global = true)]
    pub database_url: Option<String>,
}

#[derive(Debug, Clone, Args)]
pub struct BackupArgs {
    /// The data directory of the console to back up.
    #[arg(long, env = "WHARF_DATA_DIR", default_value = ".wharf")]
    pub data_dir: PathBuf,
    /// The backup file to write (a gzip-compressed tar); it must not exist yet.
    #[arg(long)]
    pub out: PathBuf,
}

#[derive(Debug, Clone, Args)]
pub struct RestoreArgs {
    /// The backup file (from `wharf backup`).
    #[arg(long)]
    pub from: PathBuf,
    /// The data directory to restore into: new, or without a console database.
    #[arg(long)]
    pub data_dir: PathBuf,
}

#[derive(Debug, Clone, Subcommand)]
pub enum AdminAction {
    /// Give a user a new generated password (printed once) and end its sessions and refresh
    /// tokens. A disabled user stays disabled unless --enable is given.
    ResetPassword {
        /// The user name, e.g. admin.
        user: String,
        /// Also enable the user if it is disabled.
        #[arg(long)]
        enable: bool,
    },
    /// Rotate the registry token signing key with an overlap: stage a new key (trusted, not yet
    /// signing), then promote it. With Wharf's own registry a staged key is promoted at the next
    /// start; with an external one, copy the bundle to it, restart it, then run with --promote.
    /// With a PostgreSQL --database-url, the ring the replicas share in the database is rotated.
    RotateTokenKey {
        /// Make the staged key the signing one (from the console's next start).
        #[arg(long)]
        promote: bool,
        /// Stop trusting the retired key now instead of an hour after its retirement.
        #[arg(long)]
        drop_previous: bool,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Where the database, keys, registry config and registry storage live.
    #[arg(long, env = "WHARF_DATA_DIR", default_value = ".wharf")]
    pub data_dir: PathBuf,
    /// Address the console listens on.
    #[arg(long, env = "WHARF_LISTEN", default_value = "127.0.0.1:3000")]
    pub listen: SocketAddr,
    /// URL users and registry clients reach the console at (default: http://LISTEN).
    #[arg(long, env = "WHARF_PUBLIC_URL")]
    pub public_url: Option<Url>,
    /// sqlite://PATH or postgres://USER:PASSWORD@HOST:PORT/DB (default: SQLite in the data directory).
    #[arg(long, env = "WHARF_DATABASE_URL")]
    pub database_url: Option<String>,
    /// Use this existing registry instead of starting one, e.g. http://127.0.0.1:5000.
    #[arg(long, env = "WHARF_REGISTRY_URL")]
    pub registry_url: Option<Url>,
    /// Basic-auth user for a registry Wharf does not manage (--registry-url).
    #[arg(long, env = "WHARF_REGISTRY_USERNAME", requires = "registry_url")]
    pub registry_username: Option<String>,
    /// Its password (prefer --registry-password-file or the variable over the flag).
    #[arg(
        long,
        env = "WHARF_REGISTRY_PASSWORD",
        hide_env_values = true,
        requires = "registry_username"
    )]
    pub registry_password: Option<String>,
    /// A file holding the password (trailing newline ignored).
    #[arg(
        long,
        env = "WHARF_REGISTRY_PASSWORD_FILE",
        requires = "registry_username",
        conflicts_with = "registry_password"
    )]
    pub registry_password_file: Option<PathBuf>,
    /// Seconds between reconciles of the index with the registry (0: only at start and on request).
    #[arg(long, env = "WHARF_RECONCILE_INTERVAL", default_value_t = 600)]
    pub reconcile_interval: u64,
    /// Days registry events, webhook deliveries and their logs are kept before they are pruned.
    #[arg(long, env = "WHARF_EVENT_RETENTION_DAYS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=3650))]
    pub event_retention_days: u64,
    /// Days audit log entries (sign-ins, changes, deletes, refused tokens) are kept.
    #[arg(long, env = "WHARF_AUDIT_RETENTION_DAYS", default_value_t = 90, value_parser = clap::value_parser!(u64).range(1..=3650))]
    pub audit_retention_days: u64,
    /// Catalog pages a reconcile reads at most; a walk stopped by it removes no repository.
    #[arg(long, env = "WHARF_CATALOG_MAX_PAGES", default_value_t = 100_000, value_parser = clap::value_parser!(u64).range(1..=10_000_000), hide = true)]
    pub catalog_max_pages: u64,
    /// Repositories a reconcile reads from the registry at the same time.
    #[arg(long, env = "WHARF_REGISTRY_CONCURRENCY", default_value_t = 8, value_parser = clap::value_parser!(u64).range(1..=64))]
    pub registry_concurrency: u64,
    /// A reconcile on the timer checks the tag digests of one slice of the repositories in this
    /// many (tag lists are read in full every time); 1 checks every tag every time. The reconcile
    /// at start and *Resync now* check every tag.
    #[arg(long, env = "WHARF_RECONCILE_DIGEST_SLICES", default_value_t = 6, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub reconcile_digest_slices: u32,
    /// Longest lifetime of a robot account's secret, in days; 0 allows robots that never expire.
    #[arg(long, env = "WHARF_ROBOT_MAX_DAYS", default_value_t = 365, value_parser = clap::value_parser!(u32).range(0..=36500))]
    pub robot_max_days: u32,
    /// Days a refresh token (what `docker login` keeps to log in again) works after it was
    /// issued, however much it is used; then the client must log in again.
    #[arg(long, env = "WHARF_REFRESH_TOKEN_DAYS", default_value_t = 90, value_parser = clap::value_parser!(u32).range(1..=3650))]
    pub refresh_token_days: u32,
    /// Seconds a verified password, token or robot secret is trusted without checking it again
    /// (cleared at once by any change to users, tokens or robots); 0 checks every time.
    #[arg(long, env = "WHARF_CREDENTIAL_CACHE_SECS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(0..=3600))]
    pub credential_cache_secs: u64,
    /// Address of the registry Wharf starts.
    #[arg(long, env = "WHARF_REGISTRY_LISTEN", default_value = "127.0.0.1:5000")]
    pub registry_listen: SocketAddr,
    /// The registry program Wharf starts (CNCF distribution).
    #[arg(long, env = "WHARF_REGISTRY_BIN", default_value = "docker-registry")]
    pub registry_bin: String,
    #[command(flatten)]
    pub registry_s3: RegistryS3Args,
    /// Directory with the built web assets (pkg/).
    #[arg(long, env = "WHARF_SITE_ROOT", default_value = "target/site")]
    pub site_root: PathBuf,
    /// Push a few demo images after start.
    #[arg(long, env = "WHARF_DEMO")]
    pub demo: bool,
    /// Log lines on stderr: text, or json (one object a line, with the request's id).
    #[arg(long, env = "WHARF_LOG_FORMAT", value_enum, default_value = "text")]
    pub log_format: LogFormat,
    /// Serve /metrics (Prometheus) on this address of its own, e.g. 127.0.0.1:9090. Off by default.
    #[arg(long, env = "WHARF_METRICS_LISTEN")]
    pub metrics_listen: Option<SocketAddr>,
    /// Require `Authorization: Bearer TOKEN` for /metrics; without --metrics-listen, /metrics is
    /// then served on the console's address (prefer the variable or the file over the flag).
    #[arg(long, env = "WHARF_METRICS_TOKEN", hide_env_values = true)]
    pub metrics_token: Option<String>,
    /// A file holding the metrics token (trailing newline ignored).
    #[arg(long, env = "WHARF_METRICS_TOKEN_FILE", conflicts_with = "metrics_token")]
    pub metrics_token_file: Option<PathBuf>,
    /// A reverse proxy (an Ingress, Caddy, a load balancer) in front of the console, as a network,
    /// e.g. 10.0.0.0/8: for requests from it, the client is read from `X-Forwarded-For` (for
    /// throttling and the audit log). Repeat it, or separate networks with commas. None by
    /// default: the header is ignored.
    #[arg(long, env = "WHARF_TRUSTED_PROXY", value_delimiter = ',')]
    pub trusted_proxy: Vec<ipnet::IpNet>,
    /// The registry's address as users push to and pull from it (`host[:port]`), when it differs
    /// from --registry-url (a registry behind a proxy or an Ingress): shown in pull commands,
    /// Kubernetes pull secrets and webhook payloads.
    #[arg(long, env = "WHARF_REGISTRY_PUBLIC_HOST")]
    pub registry_public_host: Option<String>,
    /// A network webhooks may be sent to although it is refused by default (loopback,
    /// link-local, private networks), e.g. 127.0.0.1/32 or 10.0.0.0/8. Repeat it, or separate
    /// networks with commas.
    #[arg(long, env = "WHARF_WEBHOOK_ALLOW_NETWORK", value_delimiter = ',')]
    pub webhook_allow_network: Vec<ipnet::IpNet>,
    /// Accepted and ignored: private networks are refused by default now (allow one with
    /// --webhook-allow-network).
    #[arg(long, env = "WHARF_WEBHOOK_DENY_PRIVATE", hide = true)]
    pub webhook_deny_private: bool,
    /// Seconds to wait after each failed webhook attempt, comma-separated; after the last, the
    /// delivery is dead. Default: the Standard Webhooks schedule (5s, 5m, 30m, 2h, 5h, 10h, 14h,
    /// 20h, 24h).
    #[arg(long, env = "WHARF_WEBHOOK_RETRY_DELAYS", value_delimiter = ',')]
    pub webhook_retry_delays: Option<Vec<u64>>,
}

/// S3 storage for the registry Wharf starts (its config's `storage.s3`). The secret key is read
/// from `WHARF_REGISTRY_S3_SECRET_KEY` or a file, never from a flag (flags show in `ps`).
#[derive(Debug, Clone, Args)]
pub struct RegistryS3Args {
    /// Keep the images of the registry Wharf starts in this S3 bucket instead of the data
    /// directory. The bucket must exist.
    #[arg(
        id = "registry_s3_bucket",
        long = "registry-s3-bucket",
        env = "WHARF_REGISTRY_S3_BUCKET",
        conflicts_with = "registry_url"
    )]
    pub bucket: Option<String>,
    /// The bucket's region (any name an S3-compatible service accepts with --registry-s3-endpoint).
    #[arg(
        long = "registry-s3-region",
        env = "WHARF_REGISTRY_S3_REGION",
        default_value = "us-east-1"
    )]
    pub region: String,
    /// URL of an S3-compatible service (MinIO, Ceph, ...), e.g. http://minio:9000 (default:
    /// Amazon S3 in the region). Its scheme decides HTTPS or plain HTTP.
    #[arg(
        long = "registry-s3-endpoint",
        env = "WHARF_REGISTRY_S3_ENDPOINT",
        requires = "registry_s3_bucket"
    )]
    pub endpoint: Option<Url>,
    /// Address the bucket in the path (endpoint/bucket/key) instead of the host name: what most
    /// S3-compatible services need.
    #[arg(
        long = "registry-s3-path-style",
        env = "WHARF_REGISTRY_S3_PATH_STYLE",
        requires = "registry_s3_bucket"
    )]
    pub path_style: bool,
    /// A prefix inside the bucket for the registry's objects (default: the bucket's root).
    #[arg(
        long = "registry-s3-root-directory",
        env = "WHARF_REGISTRY_S3_ROOT_DIRECTORY",
        requires = "registry_s3_bucket"
    )]
    pub root_directory: Option<String>,
    /// Access key id (without it the registry finds credentials itself: the AWS_* variables, an
    /// instance or pod role).
    #[arg(
        long = "registry-s3-access-key",
        env = "WHARF_REGISTRY_S3_ACCESS_KEY",
        requires = "registry_s3_bucket"
    )]
    pub access_key: Option<String>,
    /// A file holding the secret access key (trailing newline ignored); or put the key itself in
    /// WHARF_REGISTRY_S3_SECRET_KEY.
    #[arg(
        long = "registry-s3-secret-key-file",
        env = "WHARF_REGISTRY_S3_SECRET_KEY_FILE",
        requires = "registry_s3_bucket"
    )]
    pub secret_key_file: Option<PathBuf>,
}

#[derive(Debug, Clone, Args)]
pub struct PushArgs {
    /// Registry base URL.
    #[arg(long, env = "WHARF_PUSH_REGISTRY", default_value = "http://127.0.0.1:5000")]
    pub registry: Url,
    #[arg(long)]
    pub repository: String,
    #[arg(long, default_value = "latest")]
    pub tag: String,
    /// Comma-separated os/arch[/variant]; more than one gives a multi-arch image.
    #[arg(long, default_value = "linux/amd64", value_delimiter = ',')]
    pub platforms: Vec<String>,
    /// Media types: oci or docker.
    #[arg(long, default_value = "oci")]
    pub format: String,
    #[arg(long, default_value_t = 2)]
    pub layers: usize,
    /// Bytes of (incompressible) content per layer.
    #[arg(long, default_value_t = 4096)]
    pub layer_size: usize,
    /// Config labels, KEY=VALUE, repeatable.
    #[arg(long = "label")]
    pub labels: Vec<String>,
    /// Pads the image config with a label of this many bytes (to try oversized configs).
    #[arg(long, default_value_t = 0)]
    pub config_padding: usize,
    /// Same seed, same content.
    #[arg(long)]
    pub seed: Option<u64>,
    #[arg(long, env = "WHARF_PUSH_USERNAME")]
    pub username: Option<String>,
    #[arg(long, env = "WHARF_PUSH_PASSWORD", hide_env_values = true)]
    pub password: Option<String>,
    /// Write an OCI image layout to this directory instead of pushing.
    #[arg(long)]
    pub oci_layout: Option<PathBuf>,
}
