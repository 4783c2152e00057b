//! Lanes: the deliveries of a burst go out as soon as the intake has stored their event, without
//! waiting for the dispatcher to claim them.
//!
//! Claiming is a write transaction, and on SQLite a write waits for every other writer (the
//! index, the records of earlier attempts): in a burst that wait, not the sending, was most of
//! the delay a webhook added. So on SQLite, where one console owns the database, the intake's
//! transaction claims the deliveries it queues itself, for the lane of their webhook (one task
//! per webhook, one claim token), and hands them over in memory once it commits. The lane sends
//! them in order, one after another, while their attempts are recorded behind it.
//!
//! The queue's rules hold as for any claim:
//! - A delivery is taken only when nothing else of its webhook is pending (a retry, a backlog,
//!   deliveries another claim holds): inside the intake's write transaction, so nothing can come
//!   in between. An ordered webhook's order is therefore the order the lane sends in.
//! - A failed attempt is recorded as any other (retried later by the dispatcher); the lane then
//!   gives back, uncounted, what it holds behind it, and takes a new claim token. Whatever is
//!   still held under the old token, or pending, is "something else" to the intake: the webhook's
//!   deliveries are left to the dispatcher until they are all sent.
//! - A killed console loses nothing: the claims are released at the next start (or their lease
//!   runs out) and the dispatcher sends them; at least once, as before.
//! - A lane holds at most [`MAX_QUEUED`] deliveries, and sends one only while its lease lasts
//!   longer than the webhook's timeout: a slow receiver falls back to the dispatcher.
//!
//! PostgreSQL has no lanes: several replicas may take in events at once there, and only the
//! dispatcher's claims order them.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use sqlx::AnyConnection;
use tokio::sync::{mpsc, oneshot, Notify};

use super::deliveries::{self, ClaimedDelivery, Queued, INDEX_WAIT, LEASE, QUEUE};
use super::dispatcher::{platforms_of, platforms_wanted, Attempted, Dispatcher, KnownPlatforms, Verdict, LEASE_MARGIN};
use super::event::{EventAction, WebhookEvent};
use super::store::Webhook;
use crate::backend::db::now_ms;
use crate::backend::notifier::Signal;
use crate::backend::work::{self, WorkerId};
use crate::model::{IndexUpdate, PlatformRow};

/// Deliveries a lane holds at most (taken, not yet sent).
pub const MAX_QUEUED: usize = 256;
/// Attempts recorded in one transaction at most: the intake's next transaction waits for the
/// one being written, so a long one would hold back every delivery behind it.
const RECORD_AT_ONCE: usize = 16;
/// A push's delivery in a lane waits for the index only while the index has at most this many
/// events to apply before that push: none, so it waits only for its own push to be read (with
/// its platform images, see [`deliveries::index_ahead`]).
const LANE_INDEX_AHEAD: i64 = 0;
/// A delivery that took a lane this long (waiting for the index, then sent) is logged at debug
/// level.
const SLOW_STEP: Duration = Duration::from_millis(30);
/// How often a lane looks whether the index has read a push it waits for, besides when the
/// index says it applied a batch.
const INDEX_POLL: Duration = Duration::from_millis(100);

/// The lanes of this console: one per webhook that had a delivery since the start.
pub struct Lanes {
    dispatcher: OnceLock<Arc<Dispatcher>>,
    worker: WorkerId,
    lanes: Mutex<HashMap<String, LaneState>>,
}

/// What the intake and a lane share about one webhook's lane.
struct LaneState {
    /// The claim token of what the intake takes for the lane now; a new one after each stop.
    token: String,
    /// Moves on with the token: deliveries handed over before a stop are given back, not sent.
    epoch: u64,
    queued: Arc<AtomicUsize>,
    /// Told when a handoff comes (a delivery waiting for the index stops waiting then).
    arrived: Arc<Notify>,
    sender: mpsc::UnboundedSender<Handoff>,
}

/// Deliveries taken for a lane in one intake transaction.
pub struct Handoff {
    webhook_id: String,
    epoch: u64,
    /// When their lease started.
    claimed_at: Instant,
    deliveries: Vec<ClaimedDelivery>,
}

impl Lanes {
    pub fn new() -> Arc<Lanes> {
        Arc::new(Lanes {
            dispatcher: OnceLock::new(),
            worker: WorkerId::new("lanes"),
            lanes: Mutex::new(HashMap::new()),
        })
    }

    /// Lanes send through `dispatcher`; until it is attached, the intake takes nothing.
    pub fn attach(&self, dispatcher: Arc<Dispatcher>) {
        let _ = self.dispatcher.set(dispatcher);
    }

    /// On the intake's write transaction, after it queued `queued`: claims for their webhook's
    /// lane those whose webhook has nothing else pending. Returns what to hand over once the
    /// transaction is committed ([`Lanes::hand_over`]); the rest is left to the dispatcher.
    pub async fn take(
        self: &Arc<Self>,
        conn: &mut AnyConnection,
        webhooks: &[Webhook],
        queued: Vec<Queued>,
    ) -> Result<Vec<Handoff>, sqlx::Error> {
        if queued.is_empty() || self.dispatcher.get().is_none() {
            return Ok(Vec::new());
        }
        let mut by_webhook: Vec<(String, Vec<Queued>)> = Vec::new();
        for q in queued {
            match by_webhook.iter_mut().find(|(id, _)| *id == q.webhook_id) {
                Some((_, list)) => list.push(q),
                None => by_webhook.push((q.webhook_id.clone(), vec![q])),
            }
        }
        let mut handoffs = Vec::new();
        for (webhook_id, list) in by_webhook {
            let Some(webhook) = webhooks.iter().find(|w| w.id == webhook_id) else {
                continue;
            };
            let Some((token, epoch)) = self.open_lane(&webhook_id, list.len()) else {
                continue;
            };
            if let Some(handoff) = claim_for_lane(conn, webhook, list, &token, epoch).await? {
                handoffs.push(handoff);
            }
        }
        Ok(handoffs)
    }

    /// Gives the lanes what [`Lanes::take`] claimed for them, after the commit. Returns how many
    /// deliveries they got.
    pub fn hand_over(&self, handoffs: Vec<Handoff>) -> usize {
        let lanes = self.lanes.lock().expect("lanes lock");
        let mut handed = 0;
        for handoff in handoffs {
            if let Some(lane) = lanes.get(&handoff.webhook_id) {
                let count = handoff.deliveries.len();
                lane.queued.fetch_add(count, Ordering::AcqRel);
                // A closed channel (the runtime is ending): the claims are released at the next start.
                if lane.sender.send(handoff).is_ok() {
                    handed += count;
                }
                lane.arrived.notify_one();
            }
        }
        handed
    }

    /// The lane's token and epoch when it may take `count` more deliveries; starts its task
    /// the first time.
    fn open_lane(self: &Arc<Self>, webhook_id: &str, count: usize) -> Option<(String, u64)> {
        let dispatcher = self.dispatcher.get()?;
        let mut lanes = self.lanes.lock().expect("lanes lock");
        let lane = lanes.entry(webhook_id.to_string()).or_insert_with(|| {
            let (sender, receiver) = mpsc::unbounded_channel();
            let queued = Arc::new(AtomicUsize::new(0));
            let arrived = Arc::new(Notify::new());
            tokio::spawn(run_lane(
                self.clone(),
                dispatcher.clone(),
                webhook_id.to_string(),
                (queued.clone(), arrived.clone()),
                receiver,
            ));
            LaneState {
                token: self.worker.token(),
                epoch: 0,
                queued,
                arrived,
                sender,
            }
        });
        if lane.queued.load(Ordering::Acquire) + count > MAX_QUEUED {
            return None;
        }
        Some((lane.token.clone(), lane.epoch))
    }

    /// After a lane stopped: a new token and epoch. What was handed over before is given back,
    /// and while any of it is held under the old token, the intake takes nothing for the lane.
    fn restart(&self, webhook_id: &str) {
        if let Some(lane) = self.lanes.lock().expect("lanes lock").get_mut(webhook_id) {
            lane.epoch += 1;
            lane.token = self.worker.token();
        }
    }

    fn epoch(&self, webhook_id: &str) -> Option<u64> {
        self.lanes.lock().expect("lanes lock").get(webhook_id).map(|l| l.epoch)
    }
}

/// Claims `list` (just queued for `webhook`) under the lane's token, unless something else of
/// the webhook is pending.
async fn claim_for_lane(
    conn: &mut AnyConnection,
    webhook: &Webhook,
    list: Vec<Queued>,
    token: &str,
    epoch: u64,
) -> Result<Option<Handoff>, sqlx::Error> {
    let ids: Vec<String> = list.iter().map(|q| q.id.clone()).collect();
    let ids_json = serde_json::to_string(&ids).unwrap_or_else(|_| "[]".into());
    let others: Option<i64> = sqlx::query_scalar(
        "SELECT 1 FROM webhook_deliveries INDEXED BY webhook_deliveries_pending WHERE webhook_id = $1 \
         AND done_at IS NULL AND dead_at IS NULL AND kind = 'event' \
         AND (claimed_by IS NULL OR claimed_by <> $2) AND id NOT IN (SELECT value FROM json_each($3)) LIMIT 1",
    )
    .bind(&webhook.id)
    .bind(token)
    .bind(&ids_json)
    .fetch_optional(&mut *conn)
    .await?;
    if others.is_some() {
        return Ok(None);
    }
    let now = now_ms();
    let claimed_at = Instant::now();
    let taken = work::claim_ids(conn, &QUEUE, &ids, token, now + LEASE.as_millis() as i64, now).await?;
    if taken != ids.len() as u64 {
        // Not expected (the rows were inserted by this transaction); leave them to the dispatcher.
        for id in &ids {
            work::release_one(conn, &QUEUE, id, token).await?;
        }
        return Ok(None);
    }
    let deliveries = list
        .into_iter()
        .map(|q| ClaimedDelivery {
            id: q.id,
            webhook: webhook.clone(),
            event_id: Some(q.event_id),
            kind: "event".into(),
            payload: q.payload,
            attempts: 1,
            created_at: q.created_at,
            render_started_at: None,
            token: token.to_string(),
        })
        .collect();
    Ok(Some(Handoff {
        webhook_id: webhook.id.clone(),
        epoch,
        claimed_at,
        deliveries,
    }))
}

/// What the recorder of a lane is told.
enum ToRecorder {
    Attempt(Box<(ClaimedDelivery, Attempted)>),
    /// Answered once everything before it is recorded (or failed to be).
    Flush(oneshot::Sender<()>),
}

/// One webhook's lane: sends what is handed over, in order, until the console stops.
async fn run_lane(
    lanes: Arc<Lanes>,
    dispatcher: Arc<Dispatcher>,
    webhook_id: String,
    (queued, arrived): (Arc<AtomicUsize>, Arc<Notify>),
    mut handoffs: mpsc::UnboundedReceiver<Handoff>,
) {
    let (recorder, records) = mpsc::unbounded_channel();
    tokio::spawn(record_behind(dispatcher.clone(), webhook_id.clone(), records));
    while let Some(handoff) = handoffs.recv().await {
        let count = handoff.deliveries.len();
        if lanes.epoch(&webhook_id) != Some(handoff.epoch) {
            give_back(&dispatcher, &handoff.deliveries).await;
        } else if let Some(unsent) = send_handoff(&dispatcher, handoff, &recorder, (&queued, &arrived)).await {
            stop(&lanes, &dispatcher, &webhook_id, &recorder, unsent).await;
        }
        queued.fetch_sub(count, Ordering::AcqRel);
    }
}

/// Sends a handoff's deliveries one after another. `Some(unsent)` when it stopped: an attempt
/// failed, the database failed, or the next one could outlast its lease. `queued`: what the
/// lane holds, this handoff included.
async fn send_handoff(
    dispatcher: &Dispatcher,
    handoff: Handoff,
    recorder: &mpsc::UnboundedSender<ToRecorder>,
    (queued, arrived): (&AtomicUsize, &Notify),
) -> Option<Vec<ClaimedDelivery>> {
    let lease_ends = handoff.claimed_at + LEASE;
    let count = handoff.deliveries.len();
    // The platforms of the pushed images, read for the whole handoff the first time a delivery
    // goes without looking at the index itself.
    let mut known: Option<KnownPlatforms> = None;
    let mut rest = handoff.deliveries.into_iter();
    while let Some(delivery) = rest.next() {
        let time_left = lease_ends.saturating_duration_since(Instant::now());
        if time_left < delivery.webhook.timeout + LEASE_MARGIN {
            return Some(std::iter::once(delivery).chain(rest).collect());
        }
        let more_in_handoff = rest.len() > 0;
        let waited_for = || more_in_handoff || queued.load(Ordering::Acquire) > count;
        let began = Instant::now();
        let looked = wait_for_index(dispatcher, &delivery, waited_for, arrived)
            .await
            .unwrap_or_else(|err| {
                tracing::warn!(error = %err, "cannot tell whether the index has read a push");
                true
            });
        let waited = began.elapsed();
        let platforms = match looked || !delivery.webhook.format.shows_platforms() {
            // It may have been read meanwhile: the attempt reads its platforms (if any).
            true => None,
            false => {
                if known.is_none() {
                    known = Some(read_platforms(dispatcher, &rest, &delivery).await);
                }
                known.as_ref()
            }
        };
        let result = dispatcher.attempt_knowing(&delivery, platforms).await;
        if began.elapsed() >= SLOW_STEP {
            tracing::debug!(?waited, attempt = ?(began.elapsed() - waited), "a lane's delivery took long");
        }
        match result {
            Ok(Some(attempted)) => {
                let delivered = attempted.verdict == Verdict::Delivered;
                let _ = recorder.send(ToRecorder::Attempt(Box::new((delivery, attempted))));
                if !delivered {
                    return Some(rest.collect());
                }
            }
            // Set aside: it cannot be sent at all, and blocks nothing behind it.
            Ok(None) => {}
            Err(err) => {
                tracing::warn!(delivery = %delivery.id, error = %err, "cannot record a webhook delivery");
                return Some(std::iter::once(delivery).chain(rest).collect());
            }
        }
    }
    None
}

/// After a lane stopped: a new token; the attempts made are recorded (a failure becomes a
/// pending retry) and what was not sent is given back, so the dispatcher sends the rest in order.
async fn stop(
    lanes: &Lanes,
    dispatcher: &Dispatcher,
    webhook_id: &str,
    recorder: &mpsc::UnboundedSender<ToRecorder>,
    unsent: Vec<ClaimedDelivery>,
) {
    lanes.restart(webhook_id);
    let (done, recorded) = oneshot::channel();
    let _ = recorder.send(ToRecorder::Flush(done));
    let _ = recorded.await;
    give_back(dispatcher, &unsent).await;
}

/// Gives deliveries back to the dispatcher, uncounted. (If the database fails, their lease runs
/// out instead.)
async fn give_back(dispatcher: &Dispatcher, deliveries: &[ClaimedDelivery]) {
    if let Err(err) = deliveries::release_unsent(&dispatcher.db, deliveries).await {
        tracing::warn!(error = %err, "cannot give back webhook deliveries");
    }
}

/// The digest of the image `delivery` is to list the platforms of (see [`platforms_wanted`]).
fn delivery_digest(delivery: &ClaimedDelivery) -> Option<String> {
    let event: WebhookEvent = serde_json::from_str(&delivery.payload).ok()?;
    platforms_wanted(delivery, &event).map(str::to_string)
}

/// The platforms of the images that `first` and the deliveries after it are to list, as far as
/// the index has read them, in one query. (A failure reads as none: the deliveries go without.)
async fn read_platforms(
    dispatcher: &Dispatcher,
    rest: &std::vec::IntoIter<ClaimedDelivery>,
    first: &ClaimedDelivery,
) -> KnownPlatforms {
    let digests: Vec<String> = std::iter::once(first)
        .chain(rest.as_slice())
        .filter_map(delivery_digest)
        .collect();
    if digests.is_empty() {
        return HashMap::new();
    }
    let rows: Result<Vec<(String, String)>, sqlx::Error> =
        sqlx::query_as("SELECT digest, platforms FROM manifests WHERE digest IN (SELECT value FROM json_each($1))")
            .bind(serde_json::to_string(&digests).unwrap_or_else(|_| "[]".into()))
            .fetch_all(&dispatcher.db.pool)
            .await;
    match rows {
        Ok(rows) => rows
            .into_iter()
            .map(|(digest, platforms)| {
                let rows: Vec<PlatformRow> = serde_json::from_str(&platforms).unwrap_or_default();
                (digest, platforms_of(rows))
            })
            .collect(),
        Err(err) => {
            tracing::warn!(error = %err, "cannot read the platforms of pushed images");
            HashMap::new()
        }
    }
}

/// A push delivered in a format that shows platforms waits for the index as the dispatcher's
/// claim makes it wait ([`deliveries::wait_for_index_since`]: at most [`INDEX_WAIT`] after the
/// event came, and not at all while the index is behind), and in a lane only while the index
/// has at most [`LANE_INDEX_AHEAD`] other events to apply before it: in a burst a wait would hold
/// back every delivery of the lane for as long as the index needs for those. It stops waiting
/// as soon as deliveries are `waited_for` behind it: they would all wait with it. Returns
/// whether it looked at the index (then the attempt reads the platforms itself).
async fn wait_for_index(
    dispatcher: &Dispatcher,
    delivery: &ClaimedDelivery,
    waited_for: impl Fn() -> bool,
    arrived: &Notify,
) -> Result<bool, sqlx::Error> {
    if !delivery.webhook.format.shows_platforms() {
        return Ok(false);
    }
    let Some(event_id) = &delivery.event_id else {
        return Ok(false);
    };
    if waited_for() {
        return Ok(false);
    }
    // The index tells after each batch it applied.
    let mut applied = dispatcher.notifier.subscribe();
    let deadline = Instant::now() + INDEX_WAIT;
    while Instant::now() < deadline && !waited_for() {
        let row: Option<EventState> = sqlx::query_as(
            "SELECT action, repository, received_at, indexed_at, dead_at FROM registry_events WHERE id = $1",
        )
        .bind(event_id)
        .fetch_optional(&dispatcher.db.pool)
        .await?;
        let Some(EventState {
            action,
            repository,
            received_at,
            indexed_at,
            dead_at,
        }) = row
        else {
            return Ok(false);
        };
        if action != EventAction::Push.as_str() || indexed_at.is_some() || dead_at.is_some() {
            return Ok(true);
        }
        if received_at <= deliveries::wait_for_index_since(&dispatcher.db, now_ms()).await?
            || deliveries::index_ahead(&dispatcher.db, (received_at, event_id, &repository), LANE_INDEX_AHEAD).await?
                > LANE_INDEX_AHEAD
        {
            // Not read yet, and not waited for.
            return Ok(false);
        }
        tokio::select! {
            _ = applied.wait_for(|s| *s == Signal::DeliveriesQueued) => {}
            _ = arrived.notified() => {}
            _ = tokio::time::sleep(INDEX_POLL) => {}
        }
    }
    Ok(true)
}

/// Where a delivery's event is, for [`wait_for_index`].
#[derive(sqlx::FromRow)]
struct EventState {
    action: String,
    repository: String,
    received_at: i64,
    indexed_at: Option<i64>,
    dead_at: Option<i64>,
}

/// Records a lane's attempts behind it, as many at a time as have come (in transactions of at
/// most [`RECORD_AT_ONCE`]).
async fn record_behind(
    dispatcher: Arc<Dispatcher>,
    webhook_id: String,
    mut records: mpsc::UnboundedReceiver<ToRecorder>,
) {
    while let Some(first) = records.recv().await {
        let mut batch = Vec::new();
        let mut flushes = Vec::new();
        let mut next = Some(first);
        while let Some(message) = next.take() {
            match message {
                ToRecorder::Attempt(attempt) => batch.push(*attempt),
                ToRecorder::Flush(done) => flushes.push(done),
            }
            next = records.try_recv().ok();
        }
        for part in batch.chunks(RECORD_AT_ONCE) {
            match dispatcher.record(part).await {
                Ok(()) => dispatcher.notifier.publish(Signal::Live(IndexUpdate::Delivery {
                    webhook_id: webhook_id.clone(),
                })),
                // The lease runs out and the dispatcher sends them again.
                Err(err) => tracing::warn!(error = %err, "cannot record webhook deliveries"),
            }
        }
        for done in flushes {
            let _ = done.send(());
        }
    }
}
