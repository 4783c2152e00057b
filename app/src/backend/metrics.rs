//! What Wharf reports to Prometheus: the metric names, their labels, and one function per thing
//! that happens (a token granted, an event taken in, a delivery finished, a reconcile run), so
//! the domain code records with a plain call and never spells a name itself.
//!
//! Recording goes through the `metrics` facade: without an installed recorder (no `/metrics`
//! configured, or a test) every call is a no-op. The server crate installs the Prometheus
//! recorder and serves the text format. Queue depths and the pool's use are not kept by the
//! workers: [`sample_database`] reads them from the database when `/metrics` is scraped, so every
//! replica reports the same queue (PostgreSQL) and nothing drifts after a crash.
//!
//! Labels are bounded: reasons and outcomes are fixed words, a webhook is its id (as many as
//! there are webhooks), a route is its template (never the raw path).

use std::time::Duration;

use metrics::{counter, gauge, histogram};

use super::db::{now_ms, Db};
use super::sync::reconcile::ReconcileReport;
use super::work::Queue;

/// The kind of a metric, as Prometheus types it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
    Histogram,
}

/// One metric Wharf exports: its name, kind, labels and what it means.
#[derive(Debug, Clone, Copy)]
pub struct Metric {
    pub name: &'static str,
    pub kind: Kind,
    pub labels: &'static [&'static str],
    pub help: &'static str,
}

pub const HTTP_REQUEST_DURATION: &str = "wharf_http_request_duration_seconds";
pub const TOKEN_GRANTS: &str = "wharf_token_grants_total";
pub const TOKEN_DENIALS: &str = "wharf_token_denials_total";
pub const REGISTRY_EVENTS: &str = "wharf_registry_events_total";
pub const REGISTRY_NOTIFICATIONS_REFUSED: &str = "wharf_registry_notifications_refused_total";
pub const WEBHOOK_DELIVERIES: &str = "wharf_webhook_deliveries_total";
pub const QUEUE_DEPTH: &str = "wharf_queue_depth";
pub const QUEUE_OLDEST_AGE: &str = "wharf_queue_oldest_age_seconds";
pub const RECONCILE_DURATION: &str = "wharf_reconcile_duration_seconds";
pub const RECONCILE_RUNS: &str = "wharf_reconcile_runs_total";
pub const RECONCILE_LAST_SUCCESS: &str = "wharf_reconcile_last_success_timestamp_seconds";
pub const RECONCILE_DRIFT: &str = "wharf_reconcile_drift_total";
pub const DB_POOL_CONNECTIONS: &str = "wharf_db_pool_connections";
pub const DB_POOL_MAX: &str = "wharf_db_pool_max_connections";
pub const BUILD_INFO: &str = "wharf_build_info";

/// Every metric Wharf exports (docs/metrics.md describes each; a test keeps them in step).
pub const METRICS: &[Metric] = &[
    Metric {
        name: HTTP_REQUEST_DURATION,
        kind: Kind::Histogram,
        labels: &["method", "route", "status"],
        help: "Time from a request's arrival to its response's headers, by route template and status.",
    },
    Metric {
        name: TOKEN_GRANTS,
        kind: Kind::Counter,
        labels: &[],
        help: "Registry tokens issued (one that lacks some requested actions also counts as a scope_denied denial).",
    },
    Metric {
        name: TOKEN_DENIALS,
        kind: Kind::Counter,
        labels: &["reason"],
        help: "Token requests refused, or answered with fewer actions than asked, by reason.",
    },
    Metric {
        name: REGISTRY_EVENTS,
        kind: Kind::Counter,
        labels: &["outcome"],
        help: "Registry notification events: taken_in (kept to index and deliver), quarantined (set aside), pull_dropped.",
    },
    Metric {
        name: REGISTRY_NOTIFICATIONS_REFUSED,
        kind: Kind::Counter,
        labels: &["reason"],
        help: "Notification envelopes the intake refused (the registry sends them again).",
    },
    Metric {
        name: WEBHOOK_DELIVERIES,
        kind: Kind::Counter,
        labels: &["webhook", "outcome"],
        help: "Webhook delivery attempts by webhook id and outcome (delivered, retrying, failed, dead, disabled, unsendable).",
    },
    Metric {
        name: QUEUE_DEPTH,
        kind: Kind::Gauge,
        labels: &["queue"],
        help: "Rows of a durable work queue not finished and not set aside (read from the database at scrape time).",
    },
    Metric {
        name: QUEUE_OLDEST_AGE,
        kind: Kind::Gauge,
        labels: &["queue"],
        help: "Age of the oldest row of a queue that is due now or being worked on; 0 when none (read at scrape time).",
    },
    Metric {
        name: RECONCILE_DURATION,
        kind: Kind::Histogram,
        labels: &["result"],
        help: "Duration of reconcile runs of the index with the registry.",
    },
    Metric {
        name: RECONCILE_RUNS,
        kind: Kind::Counter,
        labels: &["result"],
        help: "Reconcile runs by result (ok, error).",
    },
    Metric {
        name: RECONCILE_LAST_SUCCESS,
        kind: Kind::Gauge,
        labels: &[],
        help: "Unix time of the last reconcile that finished without error in this process.",
    },
    Metric {
        name: RECONCILE_DRIFT,
        kind: Kind::Counter,
        labels: &["change"],
        help: "Index changes that reconcile had to make (tags_added, tags_moved, tags_removed, repositories_removed).",
    },
    Metric {
        name: DB_POOL_CONNECTIONS,
        kind: Kind::Gauge,
        labels: &["state"],
        help: "Database pool connections by state (idle, in_use), at scrape time.",
    },
    Metric {
        name: DB_POOL_MAX,
        kind: Kind::Gauge,
        labels: &[],
        help: "The most connections the database pool opens.",
    },
    Metric {
        name: BUILD_INFO,
        kind: Kind::Gauge,
        labels: &["version", "database"],
        help: "Always 1; the labels say which build runs on which database.",
    },
];

/// Why a token request was refused or cut down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denial {
    /// Wrong user name, password, token or robot secret.
    WrongCredentials,
    /// Too many failed attempts from the address or for the account.
    Throttled,
    /// A refresh token that is unknown, revoked or expired.
    InvalidRefreshToken,
    /// A token was issued, without some of the actions asked for.
    ScopeDenied,
    /// Not a request this token server answers (wrong service, bad scope, bad form).
    BadRequest,
    /// The database did not answer.
    Unavailable,
}

impl Denial {
    pub fn label(self) -> &'static str {
        match self {
            Denial::WrongCredentials => "wrong_credentials",
            Denial::Throttled => "throttled",
            Denial::InvalidRefreshToken => "invalid_refresh_token",
            Denial::ScopeDenied => "scope_denied",
            Denial::BadRequest => "bad_request",
            Denial::Unavailable => "unavailable",
        }
    }
}

pub fn token_denied(reason: Denial) {
    counter!(TOKEN_DENIALS, "reason" => reason.label()).increment(1);
}

/// A token was issued.
pub fn token_granted() {
    counter!(TOKEN_GRANTS).increment(1);
}

/// What one accepted notification envelope held.
pub fn events_received(taken_in: usize, quarantined: usize, pulls_counted: usize, pulls_dropped: usize) {
    for (outcome, count) in [
        ("taken_in", taken_in),
        ("quarantined", quarantined),
        ("pull_counted", pulls_counted),
        ("pull_dropped", pulls_dropped),
    ] {
        if count > 0 {
            counter!(REGISTRY_EVENTS, "outcome" => outcome).increment(count as u64);
        }
    }
}

/// A journaled envelope that could not be stored was set aside whole.
pub fn envelope_quarantined() {
    counter!(REGISTRY_EVENTS, "outcome" => "quarantined").increment(1);
}

/// Why the intake refused an envelope.
pub fn notification_refused(reason: &'static str) {
    counter!(REGISTRY_NOTIFICATIONS_REFUSED, "reason" => reason).increment(1);
}

/// How a delivery attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryOutcome {
    /// The receiver answered 2xx.
    Delivered,
    /// It failed and is due again later.
    Retrying,
    /// A ping or test that failed (they are not retried).
    Failed,
    /// It failed after the last retry and is set aside.
    Dead,
    /// The receiver is gone (410, Slack no_service): the webhook was disabled.
    Disabled,
    /// It could not be sent at all (unreadable payload, template error) and is set aside.
    Unsendable,
}

impl DeliveryOutcome {
    pub fn label(self) -> &'static str {
        match self {
            DeliveryOutcome::Delivered => "delivered",
            DeliveryOutcome::Retrying => "retrying",
            DeliveryOutcome::Failed => "failed",
            DeliveryOutcome::Dead => "dead",
            DeliveryOutcome::Disabled => "disabled",
            DeliveryOutcome::Unsendable => "unsendable",
        }
    }
}

pub fn delivery_finished(webhook_id: &str, outcome: DeliveryOutcome) {
    counter!(WEBHOOK_DELIVERIES, "webhook" => webhook_id.to_string(), "outcome" => outcome.label()).increment(1);
}

/// A reconcile run ended: its duration, result, and the drift it corrected.
pub fn reconcile_finished<E>(elapsed: Duration, result: &Result<ReconcileReport, E>) {
    let label = if result.is_ok() { "ok" } else { "error" };
    histogram!(RECONCILE_DURATION, "result" => label).record(elapsed.as_secs_f64());
    counter!(RECONCILE_RUNS, "result" => label).increment(1);
    let Ok(report) = result else {
        return;
    };
    gauge!(RECONCILE_LAST_SUCCESS).set(now_ms() as f64 / 1000.0);
    for (change, count) in [
        ("tags_added", report.tags_added),
        ("tags_moved", report.tags_moved),
        ("tags_removed", report.tags_removed),
        ("repositories_removed", report.repositories_removed),
    ] {
        // Registered even at zero, so `increase()` over it works from the first run.
        counter!(RECONCILE_DRIFT, "change" => change).increment(count);
    }
}

/// `wharf_build_info`, set once at start.
pub fn build_info(database: super::db::DbKind) {
    let database = match database {
        super::db::DbKind::Sqlite => "sqlite",
        super::db::DbKind::Postgres => "postgres",
    };
    gauge!(BUILD_INFO, "version" => env!("CARGO_PKG_VERSION"), "database" => database).set(1.0);
}

/// The durable work queues, by their label in [`QUEUE_DEPTH`]: the queue and the column that
/// says when a row came.
const QUEUES: [(&str, &Queue, &str); 2] = [
    ("registry_events", &super::sync::apply::QUEUE, "received_at"),
    ("webhook_deliveries", &super::webhooks::deliveries::QUEUE, "created_at"),
];

/// Reads what is kept in the database (queue depths and ages) and the pool's use into the
/// gauges; called when `/metrics` is scraped. A queue that cannot be read keeps its last value.
pub async fn sample_database(db: &Db) {
    let now = now_ms();
    for (label, queue, since) in QUEUES {
        match super::work::backlog(db, queue, since, now).await {
            Ok(backlog) => {
                gauge!(QUEUE_DEPTH, "queue" => label).set(backlog.depth as f64);
                let age = backlog.oldest_due_at.map_or(0, |at| (now - at).max(0));
                gauge!(QUEUE_OLDEST_AGE, "queue" => label).set(age as f64 / 1000.0);
            }
            Err(err) => tracing::warn!(queue = label, error = %err, "cannot read the queue for /metrics"),
        }
    }
    let size = db.pool.size();
    let idle = u32::try_from(db.pool.num_idle()).unwrap_or(size).min(size);
    gauge!(DB_POOL_CONNECTIONS, "state" => "idle").set(f64::from(idle));
    gauge!(DB_POOL_CONNECTIONS, "state" => "in_use").set(f64::from(size - idle));
    gauge!(DB_POOL_MAX).set(f64::from(db.pool.options().get_max_connections()));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_prometheus_shaped() {
        let mut seen = std::collections::HashSet::new();
        for metric in METRICS {
            assert!(seen.insert(metric.name), "{} twice", metric.name);
            assert!(metric.name.starts_with("wharf_"), "{}", metric.name);
            assert!(
                metric.name.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
                "{}",
                metric.name
            );
            assert_eq!(
                metric.name.ends_with("_total"),
                metric.kind == Kind::Counter,
                "{}: counters, and only they, end in _total",
                metric.name
            );
        }
    }

    /// Each `wharf_…` name in `text` with the label names of its selector (`{a="x",b=~"y"}`).
    fn metric_uses(text: &str) -> Vec<(String, Vec<String>)> {
        let mut uses = Vec::new();
        let mut rest = text;
        while let Some(at) = rest.find("wharf_") {
            let tail = &rest[at..];
            let end = tail
                .find(|c: char| !(c.is_ascii_lowercase() || c == '_'))
                .unwrap_or(tail.len());
            let name = &tail[..end];
            let mut labels = Vec::new();
            if let Some(selector) = tail[end..].strip_prefix('{') {
                let selector = &selector[..selector.find('}').unwrap_or(0)];
                for matcher in selector.split(',') {
                    let label = matcher.split(['=', '!']).next().unwrap_or("").trim();
                    labels.push(label.to_string());
                }
            }
            uses.push((name.to_string(), labels));
            rest = &tail[end..];
        }
        uses
    }

    /// The rules and the dashboard in deploy/ name only metrics and labels Wharf exports
    /// (promtool checks the rules' syntax; it cannot know which metrics exist).
    #[test]
    fn deploy_rules_and_dashboard_name_metrics_that_exist() {
        let deploy = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy");
        let files = [
            "prometheus/wharf-rules.yml",
            "prometheus/wharf-rules.test.yml",
            "grafana/wharf-dashboard.json",
        ];
        for file in files {
            let text = std::fs::read_to_string(deploy.join(file)).unwrap();
            if file.ends_with(".json") {
                let _: serde_json::Value = serde_json::from_str(&text).expect("the dashboard is JSON");
            }
            let uses = metric_uses(&text);
            assert!(uses.len() >= 5, "{file} names few metrics");
            for (name, labels) in uses {
                let metric = METRICS.iter().find(|m| {
                    let histogram_series = ["_bucket", "_count", "_sum"]
                        .iter()
                        .any(|suffix| name.strip_suffix(suffix) == Some(m.name));
                    m.name == name || (m.kind == Kind::Histogram && histogram_series)
                });
                let metric = metric.unwrap_or_else(|| panic!("{file}: {name} is not a metric Wharf exports"));
                for label in labels {
                    let known = metric.labels.contains(&label.as_str())
                        || label == "job"
                        || label == "instance"
                        || (label == "le" && name.ends_with("_bucket"));
                    assert!(known, "{file}: {name} has no label {label}");
                }
            }
        }
    }

    #[test]
    fn documented_in_docs_metrics_md() {
        let docs = include_str!("../../../docs/metrics.md");
        for metric in METRICS {
            assert!(
                docs.contains(&format!("`{}`", metric.name)),
                "docs/metrics.md lacks {}",
                metric.name
            );
            for label in metric.labels {
                assert!(
                    docs.contains(&format!("`{label}`")),
                    "docs/metrics.md lacks label {label}"
                );
            }
        }
    }
}
