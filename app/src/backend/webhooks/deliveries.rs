//! The `webhook_deliveries` queue (see [`crate::backend::work`]) and the attempt log.
//!
//! Deliveries are made in the intake's transaction, one per new event and matching webhook
//! (the outbox), so a stored event always has its deliveries. The claim takes only what may go
//! now: the oldest undelivered event of an ordered webhook, up to `max_in_flight` rows of an
//! unordered one, no event for a disabled webhook; a push waits a few seconds at most for the
//! index, which knows the image's platforms, while the index keeps up and unless its webhook's
//! format shows none (ACR). Pings and tests skip the line and go to disabled webhooks too (to
//! check a repaired receiver before enabling it again).

use std::time::Duration;

use sqlx::{AnyConnection, FromRow};

use super::event::{EventAction, RequestInfo, WebhookEvent};
use super::formats::Format;
use super::signing;
use super::store::{self, Webhook};
use crate::backend::db::{now_ms, Db, DbKind};
use crate::backend::events::RegistryEvent;
use crate::backend::work::{self, Queue, WorkerId};
use crate::urls;

pub const QUEUE: Queue = Queue {
    table: "webhook_deliveries",
    done_column: "done_at",
    // The claim joins `webhooks`: lock only the delivery rows.
    lock: "FOR UPDATE OF d SKIP LOCKED",
};

/// How long a push's delivery waits for the index to apply the event at most (only pushes: the
/// index adds the image's platforms to them), while the index keeps up.
pub const INDEX_WAIT: Duration = Duration::from_secs(5);
/// The index is behind when more events than one claimed batch wait for it: deliveries then go
/// without waiting (and without the platforms of images not read yet), so that a burst bigger
/// than the registry can serve the index's reads for does not hold every webhook back with it.
pub const INDEX_BEHIND: i64 = crate::backend::sync::apply::BATCH;
/// Longer than the longest timeout: a killed dispatcher's deliveries go out again after it.
pub const LEASE: Duration = Duration::from_secs(75);
/// Response and request bodies kept in the log.
pub const MAX_LOGGED_BODY: usize = 64 * 1024;

/// `{pending}` in a query: SQLite is told to walk a webhook's pending rows through the partial
/// index of them. Without statistics it may pick the index of all its rows instead (same
/// columns), and then step over every delivery ever made before reaching the pending ones.
/// `{no_platforms}`: the formats whose deliveries do not wait for the index.
fn with_pending_index(query: &str, db: &Db) -> String {
    let hint = match db.kind {
        DbKind::Sqlite => "INDEXED BY webhook_deliveries_pending",
        DbKind::Postgres => "",
    };
    let no_platforms: Vec<String> = Format::ALL
        .into_iter()
        .filter(|format| !format.shows_platforms())
        .map(|format| format!("'{}'", format.as_str()))
        .collect();
    query
        .replace("{pending}", hint)
        .replace("{no_platforms}", &no_platforms.join(", "))
}

/// What may go now, in three claims under one token (PostgreSQL cannot lock the rows of a
/// `UNION`). `$1` is now; `$2` is when events stop being waited for ([`wait_for_index_since`]).
/// A push's delivery in a format that shows platforms waits for the index to apply its event
/// while the index keeps up, for at most the index wait since the event was received.
///
/// The oldest pending event delivery of each enabled ordered webhook, when it is due: found
/// through the pending index per webhook, so a backlog costs nothing here.
const ORDERED_HEADS: &str = "SELECT d.id FROM webhooks w JOIN webhook_deliveries d ON d.id = (SELECT e.id \
     FROM webhook_deliveries e {pending} WHERE e.webhook_id = w.id AND e.kind = 'event' AND e.done_at IS NULL \
     AND e.dead_at IS NULL ORDER BY e.created_at, e.id LIMIT 1) \
     WHERE w.ordered = 1 AND w.enabled = 1 AND w.disabled_reason IS NULL \
     AND d.next_attempt_at <= $1 AND (d.lease_until IS NULL OR d.lease_until < $1) AND (w.format IN ({no_platforms}) \
     OR NOT EXISTS (SELECT 1 FROM registry_events r WHERE r.id = d.event_id AND r.action = 'push' \
     AND r.indexed_at IS NULL AND r.dead_at IS NULL AND r.received_at > $2))";
/// Due event deliveries of enabled unordered webhooks, oldest first (from each such webhook's
/// pending rows: an ordered webhook's backlog is not walked; `CROSS JOIN` keeps SQLite's loop
/// over the webhooks outside).
const UNORDERED: &str = "SELECT d.id FROM webhooks w CROSS JOIN webhook_deliveries d {pending} \
     WHERE d.webhook_id = w.id AND w.ordered = 0 AND w.enabled = 1 AND w.disabled_reason IS NULL AND d.done_at IS NULL \
     AND d.dead_at IS NULL AND d.kind = 'event' AND d.next_attempt_at <= $1 \
     AND (d.lease_until IS NULL OR d.lease_until < $1) AND (w.format IN ({no_platforms}) \
     OR NOT EXISTS (SELECT 1 FROM registry_events r WHERE r.id = d.event_id AND r.action = 'push' \
     AND r.indexed_at IS NULL AND r.dead_at IS NULL AND r.received_at > $2)) ORDER BY d.created_at, d.id LIMIT 32";
/// Due pings and tests: they skip the line, and go to disabled webhooks too (an index of their
/// own: a backlog of events is not walked).
const MANUAL: &str = "SELECT d.id FROM webhook_deliveries d WHERE d.done_at IS NULL AND d.dead_at IS NULL \
     AND d.kind <> 'event' AND d.next_attempt_at <= $1 AND (d.lease_until IS NULL OR d.lease_until < $1) \
     ORDER BY d.created_at, d.id LIMIT 32";

/// What a delivery is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryKind {
    Event,
    Ping,
    Test,
}

impl DeliveryKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryKind::Event => "event",
            DeliveryKind::Ping => "ping",
            DeliveryKind::Test => "test",
        }
    }
}

/// The webhook action of a registry event, when it is one webhooks deliver: manifest pushes
/// (tagged, or untagged platform manifests) and deletes. Blob events and pulls are not.
pub fn deliverable_action(event: &RegistryEvent) -> Option<EventAction> {
    let manifest = event.target.tag.is_some()
        || event
            .target
            .media_type
            .as_deref()
            .is_some_and(|m| m.contains("manifest") || m.contains("image.index"));
    match event.action.as_str() {
        "push" if manifest => Some(EventAction::Push),
        "delete" => Some(EventAction::Delete),
        _ => None,
    }
}

/// What Wharf knows of an event when it arrives (the index adds platforms later).
pub fn webhook_event(
    event: &RegistryEvent,
    action: EventAction,
    registry_host: &str,
    public_url: &str,
) -> WebhookEvent {
    let request = event.request.as_ref();
    let text = |key: &str| {
        request
            .and_then(|r| r.get(key))
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .chars()
            .take(1024)
            .collect::<String>()
    };
    WebhookEvent {
        id: event.id.clone(),
        action,
        timestamp: event.timestamp.clone(),
        repository: event.target.repository.clone(),
        tag: event.target.tag.clone(),
        digest: event.target.digest.clone(),
        media_type: event.target.media_type.clone(),
        size: event.target.size,
        actor: event.actor.as_ref().and_then(|a| a.name.clone()),
        request: RequestInfo {
            id: text("id"),
            host: text("host"),
            method: text("method"),
            useragent: text("useragent"),
        },
        platforms: Vec::new(),
        registry_host: registry_host.to_string(),
        wharf_url: Some(wharf_url(
            public_url,
            &event.target.repository,
            event.target.tag.as_deref(),
            event.target.digest.as_deref(),
        )),
    }
}

/// Wharf's page for a tag (or a digest, or the repository), absolute.
fn wharf_url(public_url: &str, repository: &str, tag: Option<&str>, digest: Option<&str>) -> String {
    let path = match (tag, digest) {
        (Some(tag), _) => urls::tag(repository, tag),
        (None, Some(digest)) => urls::manifest(repository, digest),
        (None, None) => urls::repository(repository),
    };
    format!("{}{path}", public_url.trim_end_matches('/'))
}

/// An event delivery just queued, as [`super::lanes`] may claim it.
#[derive(Debug, Clone)]
pub struct Queued {
    pub id: String,
    pub webhook_id: String,
    pub event_id: String,
    pub payload: String,
    pub created_at: i64,
}

/// Queues one delivery per event and matching webhook, on the intake's transaction. `webhooks`
/// are the active ones. An event already queued for a webhook is not queued again. Returns the
/// deliveries queued.
pub async fn enqueue_for_event(
    conn: &mut AnyConnection,
    webhooks: &[Webhook],
    event: &RegistryEvent,
    registry_host: &str,
    public_url: &str,
) -> Result<Vec<Queued>, sqlx::Error> {
    let Some(action) = deliverable_action(event) else {
        return Ok(Vec::new());
    };
    let untagged_manifest = action == EventAction::Push && event.target.tag.is_none();
    let actor = event.actor.as_ref().and_then(|a| a.name.as_deref());
    let payload =
        serde_json::to_string(&webhook_event(event, action, registry_host, public_url)).unwrap_or_else(|_| "{}".into());
    let now = now_ms();
    let mut queued = Vec::new();
    for webhook in webhooks {
        if untagged_manifest && !webhook.platform_manifests {
            // The platform manifests of a multi-arch push: the tagged index stands for them.
            continue;
        }
        if !webhook.wants(action, &event.target.repository, event.target.tag.as_deref(), actor) {
            continue;
        }
        let id = signing::new_message_id();
        if insert(conn, &id, &webhook.id, &event.id, &payload, now).await? {
            queued.push(Queued {
                id,
                webhook_id: webhook.id.clone(),
                event_id: event.id.clone(),
                payload: payload.clone(),
                created_at: now,
            });
        }
    }
    Ok(queued)
}

/// Inserts an event delivery; `false` when the event was queued for the webhook before.
async fn insert(
    conn: &mut AnyConnection,
    id: &str,
    webhook_id: &str,
    event_id: &str,
    payload: &str,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "INSERT INTO webhook_deliveries (id, webhook_id, event_id, kind, payload, created_at, next_attempt_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $6) ON CONFLICT (webhook_id, event_id) DO NOTHING",
    )
    .bind(id)
    .bind(webhook_id)
    .bind(event_id)
    .bind(DeliveryKind::Event.as_str())
    .bind(payload)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Queues a ping or a test delivery of `event`; returns its id.
pub async fn enqueue_manual(
    conn: &mut AnyConnection,
    webhook_id: &str,
    kind: DeliveryKind,
    event: &WebhookEvent,
) -> Result<String, sqlx::Error> {
    let payload = serde_json::to_string(event).unwrap_or_else(|_| "{}".into());
    let id = signing::new_message_id();
    sqlx::query(
        "INSERT INTO webhook_deliveries (id, webhook_id, event_id, kind, payload, created_at, next_attempt_at) \
         VALUES ($1, $2, NULL, $3, $4, $5, $5)",
    )
    .bind(&id)
    .bind(webhook_id)
    .bind(kind.as_str())
    .bind(payload)
    .bind(now_ms())
    .execute(conn)
    .await?;
    Ok(id)
}

/// A claimed delivery with its webhook.
#[derive(Debug, Clone)]
pub struct ClaimedDelivery {
    pub id: String,
    pub webhook: Webhook,
    pub event_id: Option<String>,
    pub kind: String,
    pub payload: String,
    pub attempts: i64,
    pub created_at: i64,
    /// Set when a render of this delivery started and never ended (see `dispatcher`).
    pub render_started_at: Option<i64>,
    pub token: String,
}

#[derive(FromRow)]
struct DeliveryRow {
    id: String,
    webhook_id: String,
    event_id: Option<String>,
    kind: String,
    payload: String,
    attempts: i64,
    created_at: i64,
    render_started_at: Option<i64>,
}

/// The columns of a [`DeliveryRow`].
const CLAIMED_COLUMNS: &str = "id, webhook_id, event_id, kind, payload, attempts, created_at, render_started_at";

impl DeliveryRow {
    fn claimed(self, webhook: Webhook, token: &str) -> ClaimedDelivery {
        ClaimedDelivery {
            id: self.id,
            webhook,
            event_id: self.event_id,
            kind: self.kind,
            payload: self.payload,
            attempts: self.attempts,
            created_at: self.created_at,
            render_started_at: self.render_started_at,
            token: token.to_string(),
        }
    }
}

/// An ordered webhook's deliveries go out one after another; a claim takes the due ones that
/// follow its head (up to this many in all), to be sent in order by one task.
pub const TRAIN: usize = 64;

/// The pending event deliveries of a webhook after a given one, oldest first, with what decides
/// whether each may go now. `$1` webhook, `$2`/`$3` the head's `created_at`/`id`, `$4` now, `$5`
/// when events stop being waited for (now, for a format that does not wait for the index).
const FOLLOWERS: &str = "SELECT d.id, CASE WHEN d.next_attempt_at <= $4 AND (d.lease_until IS NULL OR d.lease_until < $4) \
     AND NOT EXISTS (SELECT 1 FROM registry_events r WHERE r.id = d.event_id AND r.action = 'push' \
          AND r.indexed_at IS NULL AND r.dead_at IS NULL AND r.received_at > $5) THEN 1 ELSE 0 END AS ready \
     FROM webhook_deliveries d {pending} WHERE d.webhook_id = $1 AND d.kind = 'event' AND d.done_at IS NULL AND d.dead_at IS NULL \
     AND (d.created_at > $2 OR (d.created_at = $2 AND d.id > $3)) ORDER BY d.created_at, d.id LIMIT 63";

/// Claims the deliveries that may go now, as trains: each is sent in order by one task, and
/// the rest of a train is given back when one of it fails. An ordered webhook's train is its
/// oldest pending delivery and the due ones right behind it; every other delivery is a train of
/// one.
pub async fn claim(db: &Db, worker: &WorkerId) -> Result<Vec<Vec<ClaimedDelivery>>, sqlx::Error> {
    let now = now_ms();
    let token = worker.token();
    let waited_since = wait_for_index_since(db, now).await?;
    let mut count = 0;
    for candidates in [MANUAL, ORDERED_HEADS, UNORDERED] {
        let candidates = with_pending_index(candidates, db).replace("$2", &waited_since.to_string());
        count += work::claim_as(db, &QUEUE, &token, &candidates, LEASE).await?;
    }
    if count == 0 {
        return Ok(Vec::new());
    }
    // Writes (followers claimed, rows over a webhook's limit given back): one write transaction.
    let mut conn = db.begin_write().await?;
    let rows: Vec<DeliveryRow> = sqlx::query_as(&format!(
        "SELECT {CLAIMED_COLUMNS} FROM webhook_deliveries WHERE claimed_by = $1 ORDER BY created_at, id"
    ))
    .bind(&token)
    .fetch_all(&mut *conn)
    .await?;
    // Rows of each webhook in flight under other claims: with this claim's, at most
    // `max_in_flight` of an unordered webhook's events go at once.
    let busy: Vec<(String, i64)> = sqlx::query_as(
        "SELECT webhook_id, COUNT(*) FROM webhook_deliveries WHERE claimed_by IS NOT NULL AND claimed_by <> $1 \
         AND lease_until >= $2 AND kind = 'event' GROUP BY webhook_id",
    )
    .bind(&token)
    .bind(now)
    .fetch_all(&mut *conn)
    .await?;
    let mut per_webhook: std::collections::HashMap<String, i64> = busy.into_iter().collect();
    let mut claimed = Vec::with_capacity(rows.len());
    for row in rows {
        let Some(webhook) = store::get(&mut conn, &row.webhook_id).await? else {
            continue;
        };
        // A claim may take more of an unordered webhook's rows than it may have in flight: the
        // rest go back, uncounted. (Ordered webhooks have one row claimed at a time anyway.)
        if row.kind == "event" {
            let taken = per_webhook.entry(webhook.id.clone()).or_insert(0);
            *taken += 1;
            if *taken > webhook.max_in_flight.max(1) {
                work::release_one(&mut conn, &QUEUE, &row.id, &token).await?;
                continue;
            }
        }
        let head = row.claimed(webhook, &token);
        let mut train = Vec::new();
        if head.kind == "event" && head.webhook.ordered {
            train = claim_followers(&mut conn, &with_pending_index(FOLLOWERS, db), &head, now, waited_since).await?;
        }
        train.insert(0, head);
        claimed.push(train);
    }
    conn.commit().await?;
    Ok(claimed)
}

/// Deliveries wait for the index to apply the events received after this time (milliseconds
/// since the epoch): those of the last [`INDEX_WAIT`] while the index keeps up, none once more
/// than [`INDEX_BEHIND`] events wait for it.
pub async fn wait_for_index_since(db: &Db, now: i64) -> Result<i64, sqlx::Error> {
    let (waiting,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM (SELECT 1 FROM registry_events WHERE indexed_at IS NULL AND dead_at IS NULL LIMIT $1) w",
    )
    .bind(INDEX_BEHIND + 1)
    .fetch_one(&db.pool)
    .await?;
    Ok(if waiting > INDEX_BEHIND {
        now
    } else {
        now - INDEX_WAIT.as_millis() as i64
    })
}

/// How many events the index has still to apply before the event `(received_at, id)` of
/// `repository` (it applies them in that order), counted up to `limit + 1`. Untagged pushes to
/// the same repository do not count: they are the platform images of a multi-platform push,
/// pushed just before their index.
pub async fn index_ahead(
    db: &Db,
    (received_at, id, repository): (i64, &str, &str),
    limit: i64,
) -> Result<i64, sqlx::Error> {
    let (ahead,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM (SELECT 1 FROM registry_events WHERE indexed_at IS NULL AND dead_at IS NULL \
         AND (received_at < $1 OR (received_at = $1 AND id < $2)) \
         AND NOT (repository = $3 AND action = 'push' AND (tag IS NULL OR tag = '')) LIMIT $4) w",
    )
    .bind(received_at)
    .bind(id)
    .bind(repository)
    .bind(limit + 1)
    .fetch_one(&db.pool)
    .await?;
    Ok(ahead)
}

/// Claims, under the head's token, the due deliveries right behind an ordered webhook's head
/// (stopping at the first that may not go yet). No other claim takes them meanwhile: they are
/// not the oldest pending delivery of their webhook while the head is pending.
async fn claim_followers(
    conn: &mut AnyConnection,
    followers: &str,
    head: &ClaimedDelivery,
    now: i64,
    waited_since: i64,
) -> Result<Vec<ClaimedDelivery>, sqlx::Error> {
    let rows: Vec<(String, i64)> = sqlx::query_as(followers)
        .bind(&head.webhook.id)
        .bind(head.created_at)
        .bind(&head.id)
        .bind(now)
        .bind(if head.webhook.format.shows_platforms() {
            waited_since
        } else {
            now
        })
        .fetch_all(&mut *conn)
        .await?;
    let ready: Vec<String> = rows
        .into_iter()
        .take(TRAIN - 1)
        .take_while(|(_, ready)| *ready == 1)
        .map(|(id, _)| id)
        .collect();
    if ready.is_empty() {
        return Ok(Vec::new());
    }
    let lease_until = now + LEASE.as_millis() as i64;
    work::claim_ids(conn, &QUEUE, &ready, &head.token, lease_until, now).await?;
    let rows: Vec<DeliveryRow> = sqlx::query_as(&format!(
        "SELECT {CLAIMED_COLUMNS} FROM webhook_deliveries \
         WHERE claimed_by = $1 AND webhook_id = $2 AND id <> $3 ORDER BY created_at, id"
    ))
    .bind(&head.token)
    .bind(&head.webhook.id)
    .bind(&head.id)
    .fetch_all(&mut *conn)
    .await?;
    // Only the rows just claimed: a train being extended holds earlier ones under the same token.
    Ok(rows
        .into_iter()
        .filter(|row| ready.contains(&row.id))
        .map(|row| row.claimed(head.webhook.clone(), &head.token))
        .collect())
}

/// More of an ordered webhook's train: the due deliveries right behind `last` (the last one the
/// train sent), claimed under the train's token, so that a burst goes out without a pause to
/// record and claim again between trains. On the caller's write transaction; `waited_since` from
/// [`wait_for_index_since`].
pub async fn extend_train(
    conn: &mut AnyConnection,
    db: &Db,
    last: &ClaimedDelivery,
    waited_since: i64,
) -> Result<Vec<ClaimedDelivery>, sqlx::Error> {
    claim_followers(conn, &with_pending_index(FOLLOWERS, db), last, now_ms(), waited_since).await
}

/// Gives back the claimed deliveries of a train that were not sent, uncounted.
pub async fn release_unsent(db: &Db, unsent: &[ClaimedDelivery]) -> Result<(), sqlx::Error> {
    if unsent.is_empty() {
        return Ok(());
    }
    let mut tx = db.begin_write().await?;
    for delivery in unsent {
        work::release_one(&mut tx, &QUEUE, &delivery.id, &delivery.token).await?;
    }
    tx.commit().await
}

/// One attempt as sent and as answered.
#[derive(Debug, Clone, Default)]
pub struct AttemptRecord {
    pub started_at: i64,
    pub duration_ms: i64,
    pub url: String,
    pub request_headers: Vec<(String, String)>,
    pub request_body: String,
    pub response_status: Option<u16>,
    pub response_headers: Vec<(String, String)>,
    pub response_body: Option<String>,
    pub error: Option<String>,
}

/// Logs an attempt and freezes the payload it sent.
pub async fn record_attempt(
    conn: &mut AnyConnection,
    delivery: &ClaimedDelivery,
    payload: &str,
    attempt: &AttemptRecord,
) -> Result<(), sqlx::Error> {
    let cap = |text: &str| -> String {
        let mut end = text.len().min(MAX_LOGGED_BODY);
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text[..end].to_string()
    };
    // Numbered after the attempts already logged: a redelivered row starts its count again, its
    // log goes on.
    sqlx::query(
        "INSERT INTO webhook_attempts (delivery_id, attempt, started_at, duration_ms, url, request_headers, request_body, \
         response_status, response_headers, response_body, error) \
         SELECT $1, COALESCE(MAX(attempt), 0) + 1, $2, $3, $4, $5, $6, $7, $8, $9, $10 \
         FROM webhook_attempts WHERE delivery_id = $1",
    )
    .bind(&delivery.id)
    .bind(attempt.started_at)
    .bind(attempt.duration_ms)
    .bind(&attempt.url)
    .bind(serde_json::to_string(&attempt.request_headers).unwrap_or_default())
    .bind(cap(&attempt.request_body))
    .bind(attempt.response_status.map(i64::from))
    .bind(serde_json::to_string(&attempt.response_headers).unwrap_or_default())
    .bind(attempt.response_body.as_deref().map(cap))
    .bind(&attempt.error)
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "UPDATE webhook_deliveries SET payload = $1, last_status = $2, last_attempt_at = $3, last_duration_ms = $4 \
         WHERE id = $5",
    )
    .bind(payload)
    .bind(attempt.response_status.map(i64::from))
    .bind(attempt.started_at)
    .bind(attempt.duration_ms)
    .bind(&delivery.id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Marks (with the time) or unmarks a claimed delivery as being rendered, committed at once: the
/// mark must outlive a process that dies while rendering.
pub async fn mark_rendering(db: &Db, delivery: &ClaimedDelivery, started_at: Option<i64>) -> Result<(), sqlx::Error> {
    let mut tx = db.begin_write().await?;
    sqlx::query("UPDATE webhook_deliveries SET render_started_at = $1 WHERE id = $2 AND claimed_by = $3")
        .bind(started_at)
        .bind(&delivery.id)
        .bind(&delivery.token)
        .execute(&mut *tx)
        .await?;
    tx.commit().await
}

/// Forgets a render that never ended, on the caller's transaction.
pub async fn clear_rendering(conn: &mut AnyConnection, id: &str) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE webhook_deliveries SET render_started_at = NULL WHERE id = $1")
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Queues a delivery again from now, with a fresh attempt count (Redeliver).
pub async fn redeliver(conn: &mut AnyConnection, id: &str) -> Result<bool, sqlx::Error> {
    work::revive(conn, &QUEUE, id).await
}

/// Queues every dead delivery of a webhook again; returns how many.
pub async fn redeliver_failed(conn: &mut AnyConnection, webhook_id: &str) -> Result<u64, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE webhook_deliveries SET dead_at = NULL, attempts = 0, next_attempt_at = $1, claimed_by = NULL, \
         lease_until = NULL WHERE webhook_id = $2 AND dead_at IS NOT NULL",
    )
    .bind(now_ms())
    .bind(webhook_id)
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}

/// Has the webhook had a successful delivery since `since`?
pub async fn delivered_since(conn: &mut AnyConnection, webhook_id: &str, since: i64) -> Result<bool, sqlx::Error> {
    let row: Option<(String,)> =
        sqlx::query_as("SELECT id FROM webhook_deliveries WHERE webhook_id = $1 AND done_at >= $2 LIMIT 1")
            .bind(webhook_id)
            .bind(since)
            .fetch_optional(conn)
            .await?;
    Ok(row.is_some())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::events::parse_envelope;

    fn event(action: &str, media_type: &str, tag: Option<&str>) -> RegistryEvent {
        let mut target = serde_json::json!({"mediaType": media_type, "repository": "shop/api", "digest": "sha256:abaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "size": 10});
        if let Some(tag) = tag {
            target["tag"] = tag.into();
        }
        let envelope = serde_json::json!({"events": [{"id": "e", "timestamp": "2026-11-28T10:00:00Z", "action": action,
            "target": target, "request": {"id": "r", "host": "reg:5000", "method": "PUT", "useragent": "skopeo"},
            "actor": {"name": "ci"}}]});
        parse_envelope(envelope.to_string().as_bytes()).unwrap().remove(0)
    }

    #[test]
    fn only_manifest_pushes_and_deletes_are_delivered() {
        let oci = "application/vnd.oci.image.manifest.v1+json";
        assert_eq!(
            deliverable_action(&event("push", oci, Some("v1"))),
            Some(EventAction::Push)
        );
        assert_eq!(deliverable_action(&event("push", oci, None)), Some(EventAction::Push));
        assert_eq!(
            deliverable_action(&event("push", "application/vnd.oci.image.layer.v1.tar+gzip", None)),
            None
        );
        assert_eq!(deliverable_action(&event("pull", oci, Some("v1"))), None);
        assert_eq!(
            deliverable_action(&event("delete", oci, None)),
            Some(EventAction::Delete)
        );
        assert_eq!(deliverable_action(&event("mount", oci, None)), None);
    }

    #[test]
    fn builds_the_webhook_event_with_wharf_links() {
        let pushed = webhook_event(
            &event("push", "application/vnd.oci.image.manifest.v1+json", Some("v1")),
            EventAction::Push,
            "reg:5000",
            "https://wharf.example/",
        );
        assert_eq!(pushed.request.useragent, "skopeo");
        assert_eq!(pushed.actor.as_deref(), Some("ci"));
        assert_eq!(pushed.wharf_url.as_deref(), Some("https://wharf.example/r/shop/api:v1"));
        assert_eq!(
            wharf_url("http://w", "a/b", None, Some("sha256:1")),
            "http://w/r/a/b@sha256:1"
        );
    }
}
