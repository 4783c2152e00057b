//! The registry's notifications as one unit of work: the new events of an envelope are stored,
//! and one delivery per matching webhook is queued, in the same transaction (the outbox), so a
//! stored event always has its deliveries and a crash in between leaves neither.
//!
//! Envelopes that arrive together share one transaction ([`Intake`]).
//!
//! Pull events are dropped here: the registry reports one for every manifest GET and HEAD
//! (Wharf's own reconcile included), and nothing Wharf does needs them.

use serde::Serialize;

use sqlx::AnyConnection;
use tokio::sync::{mpsc, oneshot};

use super::console_deletes;
use super::db::Db;
use super::events::{self, Actor, Quarantined, RegistryEvent};
use super::placeholders;
use super::webhooks::deliveries;
use super::webhooks::store::{self as webhook_store, Webhook};

/// What one envelope did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct IntakeOutcome {
    pub stored: usize,
    pub duplicates: usize,
    /// Pull events, not stored.
    pub dropped: usize,
    /// Events Wharf cannot use, kept aside.
    pub quarantined: usize,
    pub deliveries: usize,
}

/// Where links in deliveries point.
pub struct IntakeContext<'a> {
    pub registry_host: &'a str,
    pub public_url: &'a str,
}

/// Stores one envelope's events in a transaction of its own. ([`Intake`] stores the envelopes
/// that arrive together in one.)
pub async fn receive(
    db: &Db,
    events: &[RegistryEvent],
    quarantined: &[Quarantined],
    context: &IntakeContext<'_>,
) -> Result<IntakeOutcome, sqlx::Error> {
    let mut outcomes = store_together(db, &[(events, quarantined)], context).await?;
    Ok(outcomes.remove(0))
}

/// One envelope's writes, on the caller's transaction. `webhooks` are the active ones.
async fn receive_on(
    conn: &mut AnyConnection,
    webhooks: &[Webhook],
    events: &[RegistryEvent],
    quarantined: &[Quarantined],
    context: &IntakeContext<'_>,
) -> Result<IntakeOutcome, sqlx::Error> {
    let kept: Vec<RegistryEvent> = events.iter().filter(|e| e.action != "pull").cloned().collect();
    let mut outcome = IntakeOutcome {
        dropped: events.len() - kept.len(),
        quarantined: quarantined.len(),
        ..IntakeOutcome::default()
    };
    if kept.is_empty() && quarantined.is_empty() {
        return Ok(outcome);
    }
    events::quarantine(conn, quarantined).await?;
    let new = events::store(conn, &kept).await?;
    for (event, is_new) in kept.iter().zip(new) {
        if !is_new {
            outcome.duplicates += 1;
            continue;
        }
        outcome.stored += 1;
        let Some(event) = as_delivered(conn, event).await? else {
            continue;
        };
        outcome.deliveries +=
            deliveries::enqueue_for_event(conn, webhooks, &event, context.registry_host, context.public_url).await?;
    }
    Ok(outcome)
}

/// Envelopes waiting together are stored in one transaction (group commit): with SQLite's one
/// writer at a time, that is what lets the intake keep up with bursts. If the shared
/// transaction fails, each envelope is tried again on its own, so one bad envelope fails alone.
pub struct Intake {
    jobs: mpsc::Sender<Job>,
}

struct Job {
    events: Vec<RegistryEvent>,
    quarantined: Vec<Quarantined>,
    reply: oneshot::Sender<Result<IntakeOutcome, sqlx::Error>>,
}

/// Envelopes stored in one transaction at most.
const GROUP: usize = 64;

impl Intake {
    /// Starts the writer task; it ends when the `Intake` is dropped.
    pub fn start(db: Db, registry_host: String, public_url: String) -> Intake {
        let (jobs, mut queue) = mpsc::channel::<Job>(1024);
        tokio::spawn(async move {
            let context = IntakeContext {
                registry_host: &registry_host,
                public_url: &public_url,
            };
            while let Some(first) = queue.recv().await {
                let mut group = vec![first];
                while group.len() < GROUP {
                    match queue.try_recv() {
                        Ok(job) => group.push(job),
                        Err(_) => break,
                    }
                }
                store_group(&db, group, &context).await;
            }
        });
        Intake { jobs }
    }

    /// Stores one envelope's events (with the others waiting now) and queues their deliveries.
    pub async fn receive(
        &self,
        events: Vec<RegistryEvent>,
        quarantined: Vec<Quarantined>,
    ) -> Result<IntakeOutcome, sqlx::Error> {
        let (reply, answer) = oneshot::channel();
        let job = Job {
            events,
            quarantined,
            reply,
        };
        self.jobs.send(job).await.map_err(|_| sqlx::Error::PoolClosed)?;
        answer.await.map_err(|_| sqlx::Error::PoolClosed)?
    }
}

async fn store_group(db: &Db, group: Vec<Job>, context: &IntakeContext<'_>) {
    if group.len() > 1 {
        let started = std::time::Instant::now();
        let envelopes: Vec<Envelope<'_>> = group
            .iter()
            .map(|job| (job.events.as_slice(), job.quarantined.as_slice()))
            .collect();
        let stored = store_together(db, &envelopes, context).await;
        tracing::debug!(envelopes = group.len(), elapsed = ?started.elapsed(), "notifications stored together");
        if let Ok(outcomes) = stored {
            for (job, outcome) in group.into_iter().zip(outcomes) {
                let _ = job.reply.send(Ok(outcome));
            }
            return;
        }
    }
    for job in group {
        let outcome = receive(db, &job.events, &job.quarantined, context).await;
        let _ = job.reply.send(outcome);
    }
}

/// One envelope: its events, and those kept aside.
type Envelope<'a> = (&'a [RegistryEvent], &'a [Quarantined]);

/// Envelopes stored in one transaction; their outcomes, in order.
async fn store_together(
    db: &Db,
    envelopes: &[Envelope<'_>],
    context: &IntakeContext<'_>,
) -> Result<Vec<IntakeOutcome>, sqlx::Error> {
    let mut tx = db.begin_write().await?;
    let webhooks = webhook_store::active(&mut tx).await?;
    let mut outcomes = Vec::with_capacity(envelopes.len());
    for (events, quarantined) in envelopes {
        outcomes.push(receive_on(&mut tx, &webhooks, events, quarantined, context).await?);
    }
    tx.commit().await?;
    Ok(outcomes)
}

/// The event as webhooks see it: one delete per thing deleted, by whoever deleted it.
/// - The two events of Wharf's own tag-only delete (the placeholder pushed to the tag, then
///   deleted by digest) become one delete of the tag, with the digest it pointed to; `None` for
///   the push.
/// - A delete by digest is reported by the registry once for the manifest and once more for each
///   tag it removed (same request, no digest): the manifest's event says it all, the others are
///   `None`.
/// - A delete made in the console names the user who made it, not the console's token, and
///   carries the media type of what was deleted.
async fn as_delivered(conn: &mut AnyConnection, event: &RegistryEvent) -> Result<Option<RegistryEvent>, sqlx::Error> {
    let Some(digest) = event.target.digest.as_deref().filter(|d| !d.is_empty()) else {
        if event.action == "delete" && is_tag_of_a_manifest_delete(conn, event).await? {
            return Ok(None);
        }
        return Ok(Some(event.clone()));
    };
    let placeholder = placeholders::find(conn, &event.target.repository, digest).await?;
    if placeholder.is_some() && event.action != "delete" {
        return Ok(None);
    }
    if event.action != "delete" {
        return Ok(Some(event.clone()));
    }
    let mut delete = event.clone();
    if let Some(placeholder) = placeholder {
        delete.target.tag = Some(placeholder.tag);
        delete.target.digest = placeholder.previous_digest;
        delete.target.media_type = None;
        delete.target.size = None;
    }
    if let Some(console) = console_deletes::find(conn, &event.target.repository, digest).await? {
        delete.actor = Some(Actor {
            name: Some(console.actor),
        });
        if delete.target.media_type.as_deref().is_none_or(str::is_empty) {
            delete.target.media_type = console.media_type;
        }
    }
    Ok(Some(delete))
}

/// A tag's removal that the registry reports on its own after deleting the manifest the tag
/// pointed to (same request), or after Wharf's placeholder removed it.
async fn is_tag_of_a_manifest_delete(conn: &mut AnyConnection, event: &RegistryEvent) -> Result<bool, sqlx::Error> {
    let Some(tag) = &event.target.tag else {
        return Ok(false);
    };
    if placeholders::is_recent_tag(conn, &event.target.repository, tag).await? {
        return Ok(true);
    }
    let Some(wanted) = request_id(&event.request) else {
        return Ok(false);
    };
    // The manifest's event comes first, from the same request, moments before.
    let recent: Vec<(String,)> = sqlx::query_as(
        "SELECT payload FROM registry_events WHERE repository = $1 AND action = 'delete' AND digest IS NOT NULL \
         AND digest <> '' AND received_at >= $2 AND id <> $3 ORDER BY received_at DESC LIMIT 64",
    )
    .bind(&event.target.repository)
    .bind(super::db::now_ms() - 600_000)
    .bind(&event.id)
    .fetch_all(&mut *conn)
    .await?;
    Ok(recent.iter().any(|(payload,)| {
        serde_json::from_str::<serde_json::Value>(payload)
            .ok()
            .and_then(|raw| request_id(&raw.get("request").cloned()).map(|id| id == wanted))
            .unwrap_or(false)
    }))
}

/// The id of the registry request an event came from.
fn request_id(request: &Option<serde_json::Value>) -> Option<String> {
    request
        .as_ref()?
        .get("id")?
        .as_str()
        .filter(|id| !id.is_empty())
        .map(str::to_string)
}
