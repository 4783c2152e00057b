//! The read side of deliveries: a webhook's health, its delivery log (newest first, paged by
//! cursor) and one delivery with its attempts, as the pages show them. URLs are shown with their
//! secret parts masked.

use sqlx::{FromRow, Row};

use super::formats::Format;
use super::store::Webhook;
use crate::backend::db::{now_ms, Db};
use crate::model::{AttemptView, DeliveriesPage, DeliveryDetail, DeliveryRow, WebhookHealth};

pub const PAGE_SIZE: i64 = 50;
const HOUR_MS: i64 = 3_600_000;

/// A webhook URL as the UI shows it: query values masked (Logic App and Teams Workflows URLs
/// carry their signature there), user info masked, and for Slack and Teams the path too (the
/// URL is the secret).
pub fn masked_url(url: &str, format: Format) -> String {
    let Ok(mut parsed) = url::Url::parse(url) else {
        return "(invalid URL)".into();
    };
    if parsed.password().is_some() {
        let _ = parsed.set_password(Some("****"));
    }
    if parsed.query().is_some() {
        let masked: Vec<(String, String)> = parsed
            .query_pairs()
            .map(|(k, v)| (k.into_owned(), if v.is_empty() { String::new() } else { "****".into() }))
            .collect();
        parsed.query_pairs_mut().clear().extend_pairs(masked);
    }
    if matches!(format, Format::Slack | Format::Teams | Format::TeamsCard) && parsed.path() != "/" {
        let first = parsed
            .path_segments()
            .and_then(|mut s| s.next())
            .unwrap_or("")
            .to_string();
        parsed.set_path(&format!("/{first}/****"));
    }
    parsed.to_string().replace("%2A%2A%2A%2A", "****")
}

pub async fn health(db: &Db, webhook_id: &str) -> Result<WebhookHealth, sqlx::Error> {
    let now = now_ms();
    let since = now - 24 * HOUR_MS;
    let attempts = sqlx::query(
        "SELECT a.started_at, a.response_status FROM webhook_attempts a \
         JOIN webhook_deliveries d ON d.id = a.delivery_id \
         WHERE d.webhook_id = $1 AND a.started_at >= $2",
    )
    .bind(webhook_id)
    .bind(since)
    .fetch_all(&db.pool)
    .await?;
    let mut health = WebhookHealth {
        hourly: vec![0; 24],
        ..WebhookHealth::default()
    };
    for row in &attempts {
        let started: i64 = row.try_get("started_at")?;
        let status: Option<i64> = row.try_get("response_status")?;
        health.attempts_24h += 1;
        if status.is_some_and(|s| (200..300).contains(&s)) {
            health.succeeded_24h += 1;
        }
        let hours_ago = ((now - started) / HOUR_MS).clamp(0, 23) as usize;
        health.hourly[23 - hours_ago] += 1;
    }
    let last = |success: bool| {
        let condition = if success {
            "a.response_status >= 200 AND a.response_status < 300"
        } else {
            "(a.response_status IS NULL OR a.response_status < 200 OR a.response_status >= 300)"
        };
        format!(
            "SELECT MAX(a.started_at) AS at FROM webhook_attempts a JOIN webhook_deliveries d ON d.id = a.delivery_id \
             WHERE d.webhook_id = $1 AND {condition}"
        )
    };
    health.last_success_ms = sqlx::query(&last(true))
        .bind(webhook_id)
        .fetch_one(&db.pool)
        .await?
        .try_get("at")?;
    health.last_failure_ms = sqlx::query(&last(false))
        .bind(webhook_id)
        .fetch_one(&db.pool)
        .await?
        .try_get("at")?;
    health.consecutive_failures = sqlx::query(
        "SELECT COUNT(*) AS n FROM webhook_attempts a JOIN webhook_deliveries d ON d.id = a.delivery_id \
         WHERE d.webhook_id = $1 AND a.started_at > $2",
    )
    .bind(webhook_id)
    .bind(health.last_success_ms.unwrap_or(i64::MIN))
    .fetch_one(&db.pool)
    .await?
    .try_get("n")?;
    let counts = sqlx::query(
        "SELECT COALESCE(SUM(CASE WHEN dead_at IS NULL THEN 1 ELSE 0 END), 0) AS queued, \
         COALESCE(SUM(CASE WHEN dead_at IS NOT NULL THEN 1 ELSE 0 END), 0) AS dead \
         FROM webhook_deliveries WHERE webhook_id = $1 AND done_at IS NULL",
    )
    .bind(webhook_id)
    .fetch_one(&db.pool)
    .await?;
    health.queued = counts.try_get("queued")?;
    health.dead = counts.try_get("dead")?;
    Ok(health)
}

#[derive(FromRow)]
struct DeliveryRecord {
    id: String,
    webhook_id: String,
    kind: String,
    payload: String,
    created_at: i64,
    attempts: i64,
    next_attempt_at: i64,
    lease_until: Option<i64>,
    done_at: Option<i64>,
    dead_at: Option<i64>,
    last_error: Option<String>,
    last_status: Option<i64>,
    last_duration_ms: Option<i64>,
}

const DELIVERY_COLUMNS: &str = "id, webhook_id, kind, payload, created_at, attempts, next_attempt_at, lease_until, \
    done_at, dead_at, last_error, last_status, last_duration_ms";

impl DeliveryRecord {
    fn into_row(self, now: i64) -> DeliveryRow {
        let state = if self.done_at.is_some() {
            "delivered"
        } else if self.dead_at.is_some() {
            "failed"
        } else if self.lease_until.is_some_and(|l| l >= now) {
            "sending"
        } else if self.attempts > 0 {
            "retrying"
        } else {
            "queued"
        };
        let waiting = self.done_at.is_none() && self.dead_at.is_none();
        DeliveryRow {
            summary: summary(&self.kind, &self.payload),
            id: self.id,
            webhook_id: self.webhook_id,
            kind: self.kind,
            created_at_ms: self.created_at,
            state: state.to_string(),
            attempts: self.attempts,
            last_status: self.last_status,
            last_duration_ms: self.last_duration_ms,
            last_error: self.last_error,
            next_attempt_at_ms: waiting.then_some(self.next_attempt_at),
        }
    }
}

/// "push shop/api:v1" from a stored payload.
fn summary(kind: &str, payload: &str) -> String {
    let Ok(event) = serde_json::from_str::<super::event::WebhookEvent>(payload) else {
        return kind.to_string();
    };
    let target = match (&event.tag, &event.digest) {
        (Some(tag), _) => format!("{}:{tag}", event.repository),
        (None, Some(digest)) => format!("{}@{}", event.repository, crate::format::short_digest(digest)),
        (None, None) => event.repository.clone(),
    };
    let action = event.action.as_str();
    match kind {
        "ping" => "ping".to_string(),
        "test" => format!("test: {action} {target}"),
        _ => format!("{action} {target}"),
    }
}

/// A page of a webhook's deliveries, newest first; `failed_only` keeps the failed and retrying ones.
pub async fn deliveries(
    db: &Db,
    webhook_id: &str,
    failed_only: bool,
    cursor: Option<&str>,
) -> Result<DeliveriesPage, sqlx::Error> {
    let (before_at, before_id) = cursor
        .and_then(|c| c.split_once('_'))
        .and_then(|(at, id)| Some((at.parse::<i64>().ok()?, id.to_string())))
        .unwrap_or((i64::MAX, "\u{10FFFF}".to_string()));
    let filter = if failed_only {
        " AND done_at IS NULL AND (dead_at IS NOT NULL OR attempts > 0)"
    } else {
        ""
    };
    let rows: Vec<DeliveryRecord> = sqlx::query_as(&format!(
        "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE webhook_id = $1{filter} \
         AND (created_at < $2 OR (created_at = $2 AND id < $3)) ORDER BY created_at DESC, id DESC LIMIT $4"
    ))
    .bind(webhook_id)
    .bind(before_at)
    .bind(before_id)
    .bind(PAGE_SIZE + 1)
    .fetch_all(&db.pool)
    .await?;
    let now = now_ms();
    let mut deliveries: Vec<DeliveryRow> = rows.into_iter().map(|r| r.into_row(now)).collect();
    let next = if deliveries.len() as i64 > PAGE_SIZE {
        deliveries.truncate(PAGE_SIZE as usize);
        deliveries.last().map(|d| format!("{}_{}", d.created_at_ms, d.id))
    } else {
        None
    };
    Ok(DeliveriesPage { deliveries, next })
}

/// One delivery with every attempt, newest first; `None` when it does not exist.
pub async fn delivery(db: &Db, id: &str, webhook: &Webhook) -> Result<Option<DeliveryDetail>, sqlx::Error> {
    let record: Option<DeliveryRecord> = sqlx::query_as(&format!(
        "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE id = $1 AND webhook_id = $2"
    ))
    .bind(id)
    .bind(&webhook.id)
    .fetch_optional(&db.pool)
    .await?;
    let Some(record) = record else {
        return Ok(None);
    };
    let rows = sqlx::query(
        "SELECT attempt, started_at, duration_ms, url, request_headers, request_body, response_status, \
         response_headers, response_body, error FROM webhook_attempts WHERE delivery_id = $1 ORDER BY attempt DESC LIMIT 20",
    )
    .bind(id)
    .fetch_all(&db.pool)
    .await?;
    let headers = |text: Option<String>| -> Vec<(String, String)> {
        text.and_then(|t| serde_json::from_str(&t).ok()).unwrap_or_default()
    };
    let attempts = rows
        .iter()
        .map(|row| {
            Ok(AttemptView {
                attempt: row.try_get("attempt")?,
                started_at_ms: row.try_get("started_at")?,
                duration_ms: row.try_get("duration_ms")?,
                url: masked_url(&row.try_get::<String, _>("url")?, webhook.format),
                request_headers: headers(row.try_get("request_headers")?),
                request_body: row.try_get("request_body")?,
                response_status: row.try_get("response_status")?,
                response_headers: headers(row.try_get("response_headers")?),
                response_body: row.try_get("response_body")?,
                response_body_hidden: false,
                error: row.try_get("error")?,
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
    Ok(Some(DeliveryDetail {
        delivery: record.into_row(now_ms()),
        webhook_name: webhook.name.clone(),
        format: webhook.format.label().to_string(),
        attempts,
    }))
}

/// The most recent stored event a webhook would receive, as its stored registry event JSON is
/// turned into a webhook event: for "Send test" and the template preview.
pub async fn recent_event_in_scope(
    db: &Db,
    webhook: &Webhook,
    registry_host: &str,
    public_url: &str,
) -> Result<Option<super::event::WebhookEvent>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT payload FROM registry_events WHERE action IN ('push', 'delete') ORDER BY received_at DESC, id DESC LIMIT 200",
    )
    .fetch_all(&db.pool)
    .await?;
    for row in rows {
        let payload: String = row.try_get("payload")?;
        let envelope = format!("{{\"events\":[{payload}]}}");
        let Ok(mut parsed) = crate::backend::events::parse_envelope(envelope.as_bytes()) else {
            continue;
        };
        let Some(event) = parsed.pop() else { continue };
        let Some(action) = super::deliveries::deliverable_action(&event) else {
            continue;
        };
        if event.target.tag.is_none() && action == super::event::EventAction::Push {
            continue;
        }
        let actor = event.actor.as_ref().and_then(|a| a.name.as_deref());
        if webhook.wants(action, &event.target.repository, event.target.tag.as_deref(), actor) {
            return Ok(Some(super::deliveries::webhook_event(
                &event,
                action,
                registry_host,
                public_url,
            )));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_secret_parts_of_urls() {
        assert_eq!(
            masked_url(
                "https://prod.logic.azure.com/workflows/1/invoke?api-version=2016&sig=SECRET",
                Format::Acr
            ),
            "https://prod.logic.azure.com/workflows/1/invoke?api-version=****&sig=****"
        );
        assert_eq!(
            masked_url("https://hooks.slack.com/services/T0/B0/XYZ", Format::Slack),
            "https://hooks.slack.com/services/****"
        );
        assert_eq!(
            masked_url("https://user:pw@ci.example/hook", Format::Generic),
            "https://user:****@ci.example/hook"
        );
        assert_eq!(
            masked_url("https://ci.example/hook", Format::Generic),
            "https://ci.example/hook"
        );
        assert!(!masked_url("https://x.example/a?sig=SECRET", Format::Teams).contains("SECRET"));
    }

    #[test]
    fn summarises_payloads() {
        let event = super::super::event::WebhookEvent::sample_at("reg:5000", None, "id", "2026-11-28T10:00:00Z");
        let payload = serde_json::to_string(&event).unwrap();
        assert_eq!(summary("event", &payload), "push shop/api:v1.4.2");
        assert_eq!(summary("ping", &payload), "ping");
        assert_eq!(summary("event", "garbage"), "event");
    }
}
