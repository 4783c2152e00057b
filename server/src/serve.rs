//! Start-up and shutdown of the console (and the registry it manages).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use leptos::config::LeptosOptions;
use url::Url;

use app::backend::config::{Settings, TOKEN_ISSUER, TOKEN_SERVICE};
use app::backend::db::{redact_url, Db, DbKind};
use app::backend::intake::Intake;
use app::backend::intake_journal::Journal;
use app::backend::notifier::Notifier;
use app::backend::pulls::ConsoleIdentity;
use app::backend::registry::{RegistryAuth, RegistryClient};
use app::backend::replicas;
use app::backend::state::App;
use app::backend::sync::{worker, SyncHub};
use app::backend::tokens::{keys, SigningKey, TokenSigner};
use app::backend::users::{self, AdminSetup};
use app::backend::webhooks::dispatcher::{Dispatcher, STANDARD_SCHEDULE};
use app::backend::webhooks::formats::sandbox::TemplateSandbox;
use app::backend::webhooks::outbound::OutboundPolicy;
use app::backend::work;
use app::backend::AppState;

use crate::cli::{LogFormat, ServeArgs};
use crate::data_dir::{self, NOTIFICATION_SECRET_FILE, REGISTRY_HTTP_SECRET_FILE};
use crate::registry_maintenance::{ManagedRegistryHandle, RegistryConfig};
use crate::registry_storage;
use crate::startup_error::StartupError;

const TOKEN_LIFETIME_SECS: i64 = 300;

/// Prints a line for the operator on stdout; a closed stdout (`wharf serve | head`) is no error.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

/// `wharf serve`: prepares the data directory and the database, starts (or reaches) the
/// registry, builds the shared state, starts the workers and serves until a shutdown signal.
pub async fn run(args: ServeArgs) -> Result<(), StartupError> {
    init_tracing(args.log_format);
    // Everything Wharf creates (keys, secrets, registry.yml, the database, the registry's
    // storage) is its owner's alone, from the moment it exists.
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o077));
    let data_dir = data_dir::prepare(&args.data_dir)?;
    let db = open_database(&args, &data_dir).await?;
    if args.registry_url.is_none() {
        mark_interrupted_collections(&db).await;
    }
    let (key, notification_secret) = shared_secrets(&args, &db, &data_dir).await?;
    ensure_admin(&db).await?;
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|e| StartupError::Listen {
            addr: args.listen.to_string(),
            reason: e.to_string(),
            flag: "--listen",
        })?;
    let metrics = crate::metrics_endpoint::Metrics::start(&args, &db).await?;
    let local = loopback_if_unspecified(args.listen);
    let public_url = args
        .public_url
        .clone()
        .unwrap_or_else(|| Url::parse(&format!("http://{local}")).expect("socket address makes a URL"));
    let (registry_url, managed) = match &args.registry_url {
        Some(url) => (url.clone(), None),
        None => {
            let managed = start_registry(&args, &data_dir, &public_url, local, &key, &notification_secret).await?;
            let url = Url::parse(&format!("http://{}", args.registry_listen)).expect("socket address makes a URL");
            (url, Some(managed))
        }
    };
    let signer = Arc::new(TokenSigner::new(key, TOKEN_ISSUER, TOKEN_SERVICE, TOKEN_LIFETIME_SECS));
    let settings = settings(
        &args,
        data_dir,
        registry_url,
        public_url,
        notification_secret,
        managed.is_some(),
    );
    let journal = match db.kind {
        DbKind::Sqlite => {
            Journal::open(&db.url).map_err(|e| StartupError::Other(format!("cannot open the intake journal: {e}")))?
        }
        DbKind::Postgres => None,
    };
    let maintenance = managed
        .clone()
        .map(|m| m as Arc<dyn app::backend::housekeeping::gc::RegistryMaintenance>);
    let state = app_state(&args, settings, db, signer, journal, maintenance)?;
    start_workers(&args, &state);
    if args.registry_username.is_none() {
        tokio::spawn(check_registry_trusts_key(state.clone()));
    }
    let router = crate::routes::router(state.clone(), state.settings.public_url.scheme() == "https")
        .await?
        .layer(axum::middleware::from_fn_with_state(
            crate::client_address::TrustedProxies(Arc::new(args.trusted_proxy.clone())),
            crate::client_address::behind_proxies,
        ));
    let router = match metrics {
        Some(metrics) => metrics.attach(router, state.sync.stopping()),
        None => router,
    };
    announce_ready(&state.settings);
    if args.demo {
        tokio::spawn(push_demo_images(state.clone()));
    }
    let served = serve_until_shutdown(listener, router, &state).await;
    if let Some(registry) = managed {
        tracing::info!("stopping the registry");
        registry.stop().await;
    }
    served.map_err(|e| StartupError::Other(format!("server error: {e}")))
}

/// The token signing key and the notification secret. Replicas on one PostgreSQL database
/// share them through it ([`data_dir::with_shared_files`]), set up one replica at a time.
async fn shared_secrets(
    args: &ServeArgs,
    db: &Db,
    data_dir: &std::path::Path,
) -> Result<(SigningKey, String), StartupError> {
    let load = || {
        Ok::<_, StartupError>((
            load_signing_key(args, data_dir)?,
            data_dir::secret(data_dir, NOTIFICATION_SECRET_FILE)?,
        ))
    };
    if db.kind != DbKind::Postgres {
        return load();
    }
    data_dir::with_shared_files(db, data_dir, &data_dir::kept_files(), load).await
}

/// Says so at start when the registry refuses the tokens this console signs: it trusts another
/// key than this console's (an external registry given an old bundle, or a replica started with
/// a key of its own before the ring was shared).
async fn check_registry_trusts_key(state: AppState) {
    if let Err(app::backend::registry::RegistryError::Denied { status: 401, .. }) =
        state.registry.catalog_page(Some(1), None).await
    {
        tracing::error!(
            kid = %state.signer.key().kid,
            bundle = %state.settings.data_dir.join(keys::CERT_FILE).display(),
            "the registry refuses the tokens this console signs: it does not trust this console's signing key. \
             Give the registry the bundle named here as its rootcertbundle (and restart it)"
        );
    }
}

/// The token signing key; with Wharf's own registry, a staged key is promoted first (the
/// registry Wharf starts trusts every key of the ring, so it may sign at once).
fn load_signing_key(args: &ServeArgs, data_dir: &std::path::Path) -> Result<SigningKey, StartupError> {
    if args.registry_url.is_none() {
        if let Some(kid) = app::backend::tokens::keys::promote(data_dir)? {
            tracing::info!(%kid, "the staged token signing key signs from now on; the previous one stays trusted");
        }
    }
    Ok(SigningKey::load_or_create(data_dir)?)
}

/// Connects to (and migrates) the database, and releases the leases a killed run left behind.
async fn open_database(args: &ServeArgs, data_dir: &std::path::Path) -> Result<Db, StartupError> {
    let database_url = args
        .database_url
        .clone()
        .unwrap_or_else(|| format!("sqlite://{}", data_dir.join("wharf.db").display()));
    tracing::info!(database = %redact_url(&database_url), "connecting to the database");
    let db = Db::connect(&database_url).await?;
    for queue in work::queues() {
        match work::release_all(&db, queue).await {
            Ok(0) => {}
            Ok(released) => tracing::info!(queue = queue.table, released, "resuming work left by the last run"),
            Err(err) => tracing::warn!(queue = queue.table, error = %err, "cannot release leases of the last run"),
        }
    }
    Ok(db)
}

/// Creates the `admin` user on the first start, and prints its password when it was generated.
async fn ensure_admin(db: &Db) -> Result<(), StartupError> {
    match users::ensure_admin(db, std::env::var("WHARF_ADMIN_PASSWORD").ok().as_deref())
        .await
        .map_err(|e| StartupError::Other(format!("cannot create the admin user: {e}")))?
    {
        AdminSetup::Created {
            password_generated: Some(password),
        } => say!(
            "Created user admin with password: {password}\n(shown once; set WHARF_ADMIN_PASSWORD before the first start to choose it)"
        ),
        AdminSetup::Created { password_generated: None } => {
            say!("Created user admin with the password from WHARF_ADMIN_PASSWORD")
        }
        AdminSetup::AlreadyPresent => {
            if std::env::var_os("WHARF_ADMIN_PASSWORD").is_some() {
                tracing::warn!(
                    "WHARF_ADMIN_PASSWORD is set but ignored: users exist already. \
                     To set a password, run `wharf admin reset-password admin`."
                );
            }
        }
    }
    Ok(())
}

/// `host[:port]` of the registry as users push to it.
fn registry_host(registry_url: &Url) -> String {
    match (registry_url.host_str(), registry_url.port()) {
        (Some(host), Some(port)) => format!("{host}:{port}"),
        (Some(host), None) => host.to_string(),
        _ => registry_url.to_string(),
    }
}

/// The runtime settings from the flags and what start-up found.
fn settings(
    args: &ServeArgs,
    data_dir: std::path::PathBuf,
    registry_url: Url,
    public_url: Url,
    notification_secret: String,
    managed_registry: bool,
) -> Settings {
    let days = |n: u64| Duration::from_secs(n * 24 * 3600);
    Settings {
        data_dir,
        registry_host: args
            .registry_public_host
            .clone()
            .unwrap_or_else(|| registry_host(&registry_url)),
        registry_url,
        token_service: TOKEN_SERVICE.to_string(),
        token_issuer: TOKEN_ISSUER.to_string(),
        notification_secret,
        managed_registry,
        registry_username: args.registry_username.clone(),
        public_url,
        reconcile_interval: Duration::from_secs(args.reconcile_interval),
        event_retention: days(args.event_retention_days),
        robot_max_days: args.robot_max_days,
        refresh_token_lifetime: days(u64::from(args.refresh_token_days)),
        catalog_max_pages: usize::try_from(args.catalog_max_pages).unwrap_or(usize::MAX),
        registry_concurrency: usize::try_from(args.registry_concurrency).unwrap_or(8),
        reconcile_digest_slices: args.reconcile_digest_slices,
        audit_retention: days(args.audit_retention_days),
    }
}

/// The one state every handler and worker shares.
fn app_state(
    args: &ServeArgs,
    settings: Settings,
    db: Db,
    signer: Arc<TokenSigner>,
    journal: Option<Journal>,
    maintenance: Option<Arc<dyn app::backend::housekeeping::gc::RegistryMaintenance>>,
) -> Result<AppState, StartupError> {
    let registry_auth = registry_credentials(args)?.unwrap_or_else(|| RegistryAuth::Minted(signer.clone()));
    let registry = RegistryClient::new(settings.registry_url.clone(), registry_auth);
    let leptos_options = LeptosOptions::builder()
        .output_name("wharf")
        .site_root(args.site_root.to_string_lossy().to_string())
        .site_pkg_dir("pkg")
        .site_addr(args.listen)
        .env(leptos::config::Env::PROD)
        .build();
    let notifier = Arc::new(Notifier::default());
    let webhook_policy = Arc::new(OutboundPolicy {
        allowed: args.webhook_allow_network.clone(),
    });
    let (registry_host, public_url) = (settings.registry_host.clone(), settings.public_url.to_string());
    let console = ConsoleIdentity {
        subject: registry.own_subject().map(str::to_string),
    };
    let intake = match journal {
        Some(journal) => Intake::start_journaled(
            db.clone(),
            registry_host,
            public_url,
            journal,
            notifier.clone(),
            console,
        ),
        None => Intake::start(db.clone(), registry_host, public_url, console),
    };
    Ok(AppState(Arc::new(App {
        settings,
        db,
        signer,
        registry,
        sync: Arc::new(SyncHub::new(notifier.clone())),
        catalog_counts: Default::default(),
        intake,
        notifier,
        webhook_policy,
        templates: Arc::new(TemplateSandbox::this_binary().map_err(|e| {
            StartupError::Other(format!(
                "cannot find the wharf program to render webhook templates with: {e}"
            ))
        })?),
        credentials: Arc::new(app::backend::access::credentials::Credentials::new(
            app::backend::access::Throttle::default(),
            Duration::from_secs(args.credential_cache_secs),
        )),
        gc: app::backend::housekeeping::gc::runner::Collector::new(maintenance),
        leptos_options,
    })))
}

/// The sync worker (events, reconcile) and the webhook dispatcher, until shutdown.
fn start_workers(args: &ServeArgs, state: &AppState) {
    state.db.spawn_checkpoints(state.sync.stopping());
    replicas::signals::start(state);
    replicas::liveness::start(state.db.clone(), state.notifier.clone(), state.sync.stopping());
    worker::spawn(state.clone(), state.settings.reconcile_interval);
    app::backend::housekeeping::retention::runner::spawn(state.clone());
    // Records the blobs of manifests indexed before, then keeps the storage figures up to date.
    app::backend::housekeeping::insights::spawn(state.db.clone(), state.sync.stopping());
    let schedule = match &args.webhook_retry_delays {
        Some(delays) => delays.iter().map(|s| Duration::from_secs(*s)).collect(),
        None => STANDARD_SCHEDULE.to_vec(),
    };
    let dispatcher = Arc::new(Dispatcher::new(
        state.db.clone(),
        state.notifier.clone(),
        state.webhook_policy.clone(),
        state.templates.clone(),
        schedule,
    ));
    if let Some(lanes) = state.intake.lanes() {
        lanes.attach(dispatcher.clone());
    }
    tokio::spawn(dispatcher.run(state.sync.stopping()));
    if state.gc.is_managed() {
        tokio::spawn(app::backend::housekeeping::gc::schedule::run_worker(state.clone()));
    }
}

/// A garbage collection that was going on when the last run of the console died is marked
/// interrupted; its registry starts read-write again (the config is written anew below).
async fn mark_interrupted_collections(db: &Db) {
    match app::backend::housekeeping::gc::store::mark_interrupted(db).await {
        Ok(0) => {}
        Ok(n) => tracing::warn!(
            runs = n,
            "a garbage collection was interrupted by the last shutdown; the registry is read-write again"
        ),
        Err(err) => tracing::warn!(error = %err, "cannot mark interrupted garbage collections"),
    }
}

fn announce_ready(settings: &Settings) {
    say!("Wharf is ready at {}", settings.public_url);
    say!("Registry at {} — log in with:", settings.registry_url);
    say!("  docker login {} -u admin", settings.registry_host);
    say!("  skopeo login --tls-verify=false {} -u admin", settings.registry_host);
}

/// Serves until SIGINT or SIGTERM, then ends the workers and live streams so the server can finish.
async fn serve_until_shutdown(
    listener: tokio::net::TcpListener,
    router: axum::Router,
    state: &AppState,
) -> std::io::Result<()> {
    let stopping = state.clone();
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        shutdown_signal().await;
        stopping.sync.stop();
    })
    .await?;
    // The pulls counted in the last second.
    state.intake.flush_pulls().await;
    Ok(())
}

async fn start_registry(
    args: &ServeArgs,
    data_dir: &std::path::Path,
    public_url: &Url,
    console: SocketAddr,
    key: &SigningKey,
    notification_secret: &str,
) -> Result<Arc<ManagedRegistryHandle>, StartupError> {
    let storage = registry_storage::from_args(&args.registry_s3, data_dir)?;
    let realm = public_url.join("/auth/token").expect("static path joins");
    tracing::info!(listen = %args.registry_listen, storage = %registry_storage::describe(&storage), "starting the registry");
    let config = RegistryConfig {
        listen: args.registry_listen,
        storage,
        realm: realm.to_string(),
        service: TOKEN_SERVICE.to_string(),
        issuer: TOKEN_ISSUER.to_string(),
        cert_path: key.cert_path.clone(),
        jwks_path: key.jwks_path.clone(),
        events_url: format!("http://{console}/registry/events"),
        notification_secret: notification_secret.to_string(),
        http_secret: data_dir::secret(data_dir, REGISTRY_HTTP_SECRET_FILE)?,
    };
    ManagedRegistryHandle::start(&args.registry_bin, config, data_dir).await
}

/// Basic credentials for a registry with its own auth. Without them the console sends tokens it
/// signs itself: what a registry using Wharf's token auth accepts, and what one without auth ignores.
fn registry_credentials(args: &ServeArgs) -> Result<Option<RegistryAuth>, StartupError> {
    let Some(username) = args.registry_username.clone() else {
        return Ok(None);
    };
    let password = match (&args.registry_password, &args.registry_password_file) {
        (Some(password), _) => password.clone(),
        (None, Some(path)) => std::fs::read_to_string(path)
            .map_err(|e| {
                StartupError::Other(format!(
                    "cannot read the registry password file {}: {e}",
                    path.display()
                ))
            })?
            .trim_end_matches(['\r', '\n'])
            .to_string(),
        (None, None) => {
            return Err(StartupError::Other(
                "--registry-username needs a password: set WHARF_REGISTRY_PASSWORD or --registry-password-file".into(),
            ))
        }
    };
    Ok(Some(RegistryAuth::Credentials { username, password }))
}

fn loopback_if_unspecified(addr: SocketAddr) -> SocketAddr {
    if addr.ip().is_unspecified() {
        SocketAddr::from(([127, 0, 0, 1], addr.port()))
    } else {
        addr
    }
}

async fn push_demo_images(state: AppState) {
    use app::backend::synthetic::{self, Flavor, ImageSpec};
    let client = RegistryClient::new(
        state.settings.registry_url.clone(),
        RegistryAuth::Minted(state.signer.clone()),
    );
    let demos: [(&str, &str, &[&str], Flavor); 4] = [
        ("demo/hello", "1.0", &["linux/amd64"], Flavor::Oci),
        ("demo/hello", "latest", &["linux/amd64", "linux/arm64"], Flavor::Oci),
        ("demo/api", "2.3.1", &["linux/amd64", "linux/arm/v7"], Flavor::Docker),
        ("tools/debug", "bookworm", &["linux/amd64"], Flavor::Docker),
    ];
    for (repository, tag, platforms, flavor) in demos {
        let spec = ImageSpec {
            platforms: platforms.iter().filter_map(|p| p.parse().ok()).collect(),
            flavor,
            layers: 3,
            layer_size: 64 * 1024,
            labels: [
                (
                    "org.opencontainers.image.description".to_string(),
                    format!("Demo image {repository}"),
                ),
                ("org.opencontainers.image.version".to_string(), tag.to_string()),
            ]
            .into_iter()
            .collect(),
            ..ImageSpec::default()
        };
        let image = synthetic::generate(&spec);
        match synthetic::push(&client, repository, tag, &image).await {
            Ok(digest) => tracing::info!(%repository, %tag, %digest, "demo image pushed"),
            Err(err) => tracing::warn!(%repository, %tag, error = %err, "demo image push failed"),
        }
    }
}

fn init_tracing(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("WHARF_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,tower_http=info,sqlx=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    let _ = match format {
        // The request's span (its id, method and path) is in `spans` of every line written while
        // serving it (the innermost span may be another one).
        LogFormat::Json => builder.json().with_current_span(false).with_span_list(true).try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
    tracing::info!("shutting down");
}
