//! `/metrics` in the Prometheus text format, and the request timings it reports.
//!
//! Not served unless asked for: `--metrics-listen ADDR` serves it on a listener of its own (no
//! page, token or API there), `--metrics-token` (or its file) requires `Authorization: Bearer
//! TOKEN`, compared in constant time; with both, the token is required on the separate listener,
//! and the console's own listener never serves it. Without either no recorder is installed and
//! every metric call in the code is a no-op.
//!
//! The names and their meaning are in `app::backend::metrics` and docs/metrics.md.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use subtle::ConstantTimeEq;

use app::backend::db::Db;
use app::backend::metrics::{self as names, Kind, METRICS};

use crate::cli::ServeArgs;
use crate::startup_error::StartupError;

/// Request latencies, in seconds: a page or a token in milliseconds, a slow registry in seconds.
const HTTP_BUCKETS: [f64; 12] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];
/// Reconcile runs, in seconds: seconds for a small registry, an hour for a very large one.
const RECONCILE_BUCKETS: [f64; 10] = [1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0];
/// Histogram samples are folded in this often (and at every scrape), so an exporter nobody
/// scrapes does not hold every sample since the start.
const UPKEEP: Duration = Duration::from_secs(5);
/// A scrape waits this long at most for the database's figures; then it answers without them.
const SAMPLE_TIMEOUT: Duration = Duration::from_secs(5);

/// Where `/metrics` is served, from the flags.
pub struct Metrics {
    exporter: Arc<Exporter>,
    /// `--metrics-listen`: bound at start, so a taken address stops the start with a clear line.
    listener: Option<tokio::net::TcpListener>,
}

struct Exporter {
    handle: PrometheusHandle,
    /// `Authorization` must be `Bearer` this.
    token: Option<String>,
    db: Db,
}

impl Metrics {
    /// `None` when neither `--metrics-listen` nor a token is given. Otherwise installs the
    /// recorder (once per process) and binds the separate listener, if any.
    pub async fn start(args: &ServeArgs, db: &Db) -> Result<Option<Metrics>, StartupError> {
        let token = token(args)?;
        if args.metrics_listen.is_none() && token.is_none() {
            return Ok(None);
        }
        let listener = match args.metrics_listen {
            Some(addr) => Some(
                tokio::net::TcpListener::bind(addr)
                    .await
                    .map_err(|e| StartupError::Listen {
                        addr: addr.to_string(),
                        reason: e.to_string(),
                        flag: "--metrics-listen",
                    })?,
            ),
            None => None,
        };
        let handle = install_recorder()?;
        names::build_info(db.kind);
        let upkeep = handle.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(UPKEEP).await;
                upkeep.run_upkeep();
            }
        });
        let exporter = Arc::new(Exporter {
            handle,
            token,
            db: db.clone(),
        });
        Ok(Some(Metrics { exporter, listener }))
    }

    /// The console's router, with `/metrics` added when it is served there (a token, no
    /// separate listener); with a separate listener, that listener serves it until `stopping`.
    pub fn attach(self, router: Router, mut stopping: tokio::sync::watch::Receiver<bool>) -> Router {
        let route = Router::new().route("/metrics", get(scrape)).with_state(self.exporter);
        let Some(listener) = self.listener else {
            return router.merge(route);
        };
        if let Ok(addr) = listener.local_addr() {
            tracing::info!(%addr, "serving /metrics");
        }
        tokio::spawn(async move {
            let served = axum::serve(listener, route)
                .with_graceful_shutdown(async move {
                    let _ = stopping.wait_for(|stop| *stop).await;
                })
                .await;
            if let Err(err) = served {
                tracing::error!(error = %err, "the /metrics listener failed");
            }
        });
        router
    }
}

/// The bearer token from `--metrics-token` (`WHARF_METRICS_TOKEN`) or its file.
fn token(args: &ServeArgs) -> Result<Option<String>, StartupError> {
    let token = match (&args.metrics_token, &args.metrics_token_file) {
        (Some(token), _) => token.clone(),
        (None, Some(path)) => read_token_file(path)?,
        (None, None) => return Ok(None),
    };
    if token.trim().is_empty() {
        return Err(StartupError::Other(
            "the metrics token is empty: set a long random value (WHARF_METRICS_TOKEN or --metrics-token-file)".into(),
        ));
    }
    Ok(Some(token))
}

/// A token file (a Kubernetes secret mount); a trailing newline is ignored.
fn read_token_file(path: &Path) -> Result<String, StartupError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| StartupError::Other(format!("cannot read the metrics token file {}: {e}", path.display())))?;
    Ok(text.trim_end_matches(['\r', '\n']).to_string())
}

fn install_recorder() -> Result<PrometheusHandle, StartupError> {
    let failed = |e: metrics_exporter_prometheus::BuildError| {
        StartupError::Other(format!("cannot set up the metrics recorder: {e}"))
    };
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Full(names::HTTP_REQUEST_DURATION.into()), &HTTP_BUCKETS)
        .map_err(failed)?
        .set_buckets_for_metric(Matcher::Full(names::RECONCILE_DURATION.into()), &RECONCILE_BUCKETS)
        .map_err(failed)?
        .install_recorder()
        .map_err(failed)?;
    for metric in METRICS {
        match metric.kind {
            Kind::Counter => metrics::describe_counter!(metric.name, metric.help),
            Kind::Gauge => metrics::describe_gauge!(metric.name, metric.help),
            Kind::Histogram => metrics::describe_histogram!(metric.name, metric.help),
        }
    }
    Ok(handle)
}

async fn scrape(State(exporter): State<Arc<Exporter>>, headers: HeaderMap) -> Response {
    if let Some(token) = &exporter.token {
        if !bearer_matches(&headers, token) {
            let mut response = (
                StatusCode::UNAUTHORIZED,
                "send Authorization: Bearer with the metrics token\n",
            )
                .into_response();
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            return response;
        }
    }
    if tokio::time::timeout(SAMPLE_TIMEOUT, names::sample_database(&exporter.db))
        .await
        .is_err()
    {
        tracing::warn!("the database did not answer within 5 s; /metrics has its last queue figures");
    }
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        exporter.handle.render(),
    )
        .into_response()
}

/// `Authorization: Bearer SECRET`, compared in constant time.
pub fn bearer_matches(headers: &HeaderMap, secret: &str) -> bool {
    let expected = format!("Bearer {secret}");
    let presented = headers
        .get(header::AUTHORIZATION)
        .map(|v| v.as_bytes())
        .unwrap_or_default();
    bool::from(presented.ct_eq(expected.as_bytes()))
}

/// Times every request of the console's router, labelled by its route template (never the raw
/// path: one series per route, not per repository) and status. Time to the response's headers:
/// a live stream counts until it starts.
pub async fn track_request(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = method_label(request.method());
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str)
        .to_owned();
    let response = next.run(request).await;
    metrics::histogram!(
        names::HTTP_REQUEST_DURATION,
        "method" => method,
        "route" => route,
        "status" => response.status().as_str().to_owned(),
    )
    .record(started.elapsed().as_secs_f64());
    response
}

/// The method as a label: the ones the console answers, anything else as `other`.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_must_match_exactly() {
        let mut headers = HeaderMap::new();
        assert!(!bearer_matches(&headers, "s3cret"));
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer s3cret"));
        assert!(bearer_matches(&headers, "s3cret"));
        assert!(!bearer_matches(&headers, "s3cre"));
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic s3cret"));
        assert!(!bearer_matches(&headers, "s3cret"));
    }

    #[test]
    fn unknown_methods_share_one_label() {
        assert_eq!(method_label(&Method::GET), "GET");
        assert_eq!(method_label(&Method::from_bytes(b"BREW").unwrap()), "other");
    }
}
