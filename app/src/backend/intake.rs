//! The registry's notifications as one unit of work: the new events of an envelope are stored,
//! and one delivery per matching webhook is queued, in the same transaction (the outbox), so a
//! stored event always has its deliveries and a crash in between leaves neither.
//!
//! Envelopes that arrive together share one transaction ([`Intake`]). On SQLite, envelopes are
//! answered once journaled ([`super::intake_journal`]) and stored by a mover, in batches.
//!
//! Pull events are not stored: the pulls of manifests by clients are counted
//! ([`super::pulls`]), once the rest of their envelope is taken in.

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use sqlx::AnyConnection;
use tokio::sync::{mpsc, oneshot};

use super::console_deletes;
use super::db::{now_ms, Db};
use super::events::{self, Actor, Quarantined, RegistryEvent, Split};
use super::intake_journal::{self, Entry as JournalEntry, Journal, Position};
use super::notifier::{Notifier, Signal};
use super::placeholders;
use super::pulls::{ConsoleIdentity, PullRecorder};
use super::webhooks::deliveries;
use super::webhooks::lanes::Lanes;
use super::webhooks::store::{self as webhook_store, Webhook};

/// What one envelope did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct IntakeOutcome {
    pub stored: usize,
    pub duplicates: usize,
    /// Pulls of manifests by clients, counted (not stored as events).
    pub pulls: usize,
    /// Pull events not counted: the console's own, or not naming a manifest properly.
    pub dropped: usize,
    /// Events Wharf cannot use, kept aside.
    pub quarantined: usize,
    pub deliveries: usize,
}

impl IntakeOutcome {
    fn add(&mut self, other: &IntakeOutcome) {
        self.stored += other.stored;
        self.duplicates += other.duplicates;
        self.pulls += other.pulls;
        self.dropped += other.dropped;
        self.quarantined += other.quarantined;
        self.deliveries += other.deliveries;
    }
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
    let envelope = Envelope {
        events,
        quarantined,
        received_at: now_ms(),
    };
    let mut stored = store_together(db, &[envelope], context, None, None).await?;
    Ok(stored.outcomes.remove(0))
}

/// One envelope's writes, on the caller's transaction. `webhooks` are the active ones.
async fn receive_on(
    conn: &mut AnyConnection,
    webhooks: &[Webhook],
    Envelope {
        events,
        quarantined,
        received_at,
    }: &Envelope<'_>,
    context: &IntakeContext<'_>,
    queued: &mut Vec<deliveries::Queued>,
) -> Result<IntakeOutcome, sqlx::Error> {
    let received_at = *received_at;
    let mut outcome = IntakeOutcome {
        quarantined: quarantined.len(),
        ..IntakeOutcome::default()
    };
    if events.is_empty() && quarantined.is_empty() {
        return Ok(outcome);
    }
    events::quarantine(conn, quarantined).await?;
    let new = events::store(conn, events, received_at).await?;
    for (event, is_new) in events.iter().zip(new) {
        if !is_new {
            outcome.duplicates += 1;
            continue;
        }
        outcome.stored += 1;
        let Some(event) = as_delivered(conn, event).await? else {
            continue;
        };
        let new =
            deliveries::enqueue_for_event(conn, webhooks, &event, context.registry_host, context.public_url).await?;
        outcome.deliveries += new.len();
        queued.extend(new);
    }
    Ok(outcome)
}

/// Envelopes waiting together are stored in one transaction (group commit): with SQLite's one
/// writer at a time, that is what lets the intake keep up with bursts. If the shared
/// transaction fails, each envelope is tried again on its own, so one bad envelope fails alone.
pub struct Intake {
    jobs: mpsc::Sender<Job>,
    /// SQLite: envelopes are answered once journaled, and stored by the mover.
    journal: Option<Arc<Journal>>,
    /// SQLite: the lanes the mover hands the deliveries it queues to.
    lanes: Option<Arc<Lanes>>,
    /// Counts the pulls of manifests.
    pulls: PullRecorder,
}

/// What became of an envelope, as the registry is told.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Accepted {
    /// Stored in the database (PostgreSQL).
    Stored(IntakeOutcome),
    /// Journaled (SQLite): stored moments later; the events page and the webhooks show them then.
    Journaled {
        journaled: usize,
        /// Pulls of manifests by clients, counted.
        pulls: usize,
        /// Pull events not counted.
        dropped: usize,
        quarantined: usize,
    },
}

/// Journaled envelopes stored in one transaction at most.
const MOVE_BATCH: usize = 256;
/// The journal file starts again, empty, once everything in it is stored and it is this big.
const START_AGAIN_AT: u64 = 16 * 1024 * 1024;
/// An envelope that failed this many times on its own is quarantined whole instead of blocking
/// the ones behind it (when the database is down, the quarantine fails too, and it waits).
const MAX_FAILURES: i64 = 5;
/// How long the mover waits after a failure, and at most for an append.
const MOVER_RETRY: Duration = Duration::from_secs(1);
const MOVER_POLL: Duration = Duration::from_secs(5);

struct Job {
    events: Vec<RegistryEvent>,
    quarantined: Vec<Quarantined>,
    reply: oneshot::Sender<Result<IntakeOutcome, sqlx::Error>>,
}

/// Envelopes stored in one transaction at most.
const GROUP: usize = 64;

impl Intake {
    /// Starts the writer task (and the pull counter's); it ends when the `Intake` is dropped.
    /// `console` tells the console's own pulls apart.
    pub fn start(db: Db, registry_host: String, public_url: String, console: ConsoleIdentity) -> Intake {
        let pulls = PullRecorder::start(db.clone(), console);
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
        Intake {
            jobs,
            journal: None,
            lanes: None,
            pulls,
        }
    }

    /// An intake that answers each envelope once `journal` holds it, and a mover task that
    /// stores the journaled envelopes in `db` (the envelopes left from a previous run first)
    /// and hands the deliveries it queues to [`Intake::lanes`].
    pub fn start_journaled(
        db: Db,
        registry_host: String,
        public_url: String,
        journal: Journal,
        notifier: Arc<Notifier>,
        console: ConsoleIdentity,
    ) -> Intake {
        let journal = Arc::new(journal);
        let mut intake = Intake::start(db.clone(), registry_host.clone(), public_url.clone(), console);
        let lanes = Lanes::new();
        tokio::spawn(move_journaled(
            journal.clone(),
            db,
            notifier,
            registry_host,
            public_url,
            lanes.clone(),
        ));
        intake.journal = Some(journal);
        intake.lanes = Some(lanes);
        intake
    }

    /// The lanes of a journaled intake: they send once the dispatcher is attached to them.
    pub fn lanes(&self) -> Option<&Arc<Lanes>> {
        self.lanes.as_ref()
    }

    /// Takes in one envelope (`body`, already split): its events journaled when there is a
    /// journal, stored otherwise; then its pulls counted (not before: an envelope that fails is
    /// sent again). An envelope of pull events only is neither journaled nor stored.
    pub async fn accept(&self, body: &[u8], split: Split) -> Result<Accepted, sqlx::Error> {
        let Split {
            events,
            quarantined,
            pulls,
            pulls_dropped,
        } = split;
        let has_events = !events.is_empty() || !quarantined.is_empty();
        let Some(journal) = &self.journal else {
            let mut outcome = match has_events {
                true => self.receive(events, quarantined).await?,
                false => IntakeOutcome::default(),
            };
            (outcome.pulls, outcome.dropped) = self.count_pulls(pulls, pulls_dropped);
            return Ok(Accepted::Stored(outcome));
        };
        if has_events {
            journal.append(now_ms(), body).map_err(sqlx::Error::Io)?;
        }
        let (pulls, dropped) = self.count_pulls(pulls, pulls_dropped);
        Ok(Accepted::Journaled {
            journaled: events.len(),
            pulls,
            dropped,
            quarantined: quarantined.len(),
        })
    }

    /// Counts an envelope's pulls: (counted, dropped).
    fn count_pulls(&self, pulls: Vec<super::pulls::Pull>, malformed: usize) -> (usize, usize) {
        let all = pulls.len();
        let counted = self.pulls.record(pulls);
        (counted, malformed + all - counted)
    }

    /// Writes the pulls counted so far (at shutdown).
    pub async fn flush_pulls(&self) {
        self.pulls.flush().await;
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
        let received_at = now_ms();
        let envelopes: Vec<Envelope<'_>> = group
            .iter()
            .map(|job| Envelope {
                events: &job.events,
                quarantined: &job.quarantined,
                received_at,
            })
            .collect();
        let stored = store_together(db, &envelopes, context, None, None).await;
        tracing::debug!(envelopes = group.len(), elapsed = ?started.elapsed(), "notifications stored together");
        if let Ok(stored) = stored {
            for (job, outcome) in group.into_iter().zip(stored.outcomes) {
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

/// Stores the journaled envelopes, oldest first, in batches, until the process ends.
async fn move_journaled(
    journal: Arc<Journal>,
    db: Db,
    notifier: Arc<Notifier>,
    registry_host: String,
    public_url: String,
    lanes: Arc<Lanes>,
) {
    let context = IntakeContext {
        registry_host: &registry_host,
        public_url: &public_url,
    };
    let recorded = loop {
        match recorded_position(&db).await {
            Ok(recorded) => break recorded,
            Err(err) => {
                tracing::error!(error = %err, "cannot read how far the intake journal is stored; will try again");
                tokio::time::sleep(MOVER_RETRY).await;
            }
        }
    };
    let mut at = journal.resume_from(recorded);
    let mut failures = Failures::default();
    loop {
        let entries = match journal.read(at, MOVE_BATCH) {
            Ok(entries) => entries,
            Err(err) => {
                tracing::error!(error = %err, "cannot read the intake journal");
                tokio::time::sleep(MOVER_RETRY).await;
                continue;
            }
        };
        if entries.is_empty() {
            match journal.start_again_if_stored(at, START_AGAIN_AT) {
                Ok(Some(fresh)) => at = fresh,
                Ok(None) => {}
                Err(err) => tracing::warn!(error = %err, "cannot start the intake journal again"),
            }
            tokio::select! {
                _ = journal.appended() => {}
                _ = tokio::time::sleep(MOVER_POLL) => {}
            }
            continue;
        }
        let started = std::time::Instant::now();
        let moved = move_entries(&db, &entries, &context, &mut failures, Some(&lanes)).await;
        if let Some(stored) = moved.stored_through {
            at = stored;
        }
        let outcome = moved.outcome;
        if outcome != IntakeOutcome::default() {
            tracing::info!(
                envelopes = entries.len(),
                stored = outcome.stored,
                duplicates = outcome.duplicates,
                quarantined = outcome.quarantined,
                deliveries = outcome.deliveries,
                elapsed = ?started.elapsed(),
                "registry events stored"
            );
        }
        if outcome.stored > 0 {
            notifier.publish(Signal::EventsStored);
        }
        // Deliveries handed to lanes need no claim.
        if outcome.deliveries > moved.handed {
            notifier.publish(Signal::DeliveriesQueued);
        }
        if let Some(err) = moved.error {
            tracing::error!(error = %err, "cannot store journaled registry events; will try again");
            tokio::time::sleep(MOVER_RETRY).await;
        }
    }
}

async fn recorded_position(db: &Db) -> Result<Option<Position>, sqlx::Error> {
    let mut conn = db.pool.acquire().await?;
    intake_journal::recorded(&mut conn).await
}

/// Times each journaled envelope (by where it ends) failed on its own.
type Failures = std::collections::HashMap<i64, i64>;

/// What one round of the mover did.
struct Moved {
    outcome: IntakeOutcome,
    /// How far the journal is now stored (recorded in the same transactions).
    stored_through: Option<Position>,
    error: Option<sqlx::Error>,
    /// Deliveries handed to lanes.
    handed: usize,
}

/// Stores `entries` in one transaction (or, if that fails, one by one, so that one envelope
/// fails alone), each transaction recording how far the journal is stored.
async fn move_entries(
    db: &Db,
    entries: &[JournalEntry],
    context: &IntakeContext<'_>,
    failures: &mut Failures,
    lanes: Option<&Arc<Lanes>>,
) -> Moved {
    let parsed: Vec<JournaledEnvelope<'_>> = entries
        .iter()
        .map(|entry| {
            // It was checked when it came: only a change of Wharf's rules could fail this.
            // Its pulls were counted when it came.
            let split = events::split_envelope(&entry.body)
                .map(|split| (split.events, split.quarantined))
                .unwrap_or_else(|err| {
                    tracing::error!(error = %err, "a journaled envelope no longer parses; dropped");
                    (Vec::new(), Vec::new())
                });
            (entry, split)
        })
        .collect();
    let all: Vec<Envelope<'_>> = parsed.iter().map(envelope_of).collect();
    let last = entries.last().map(|e| e.end);
    let mut moved = Moved {
        outcome: IntakeOutcome::default(),
        stored_through: None,
        error: None,
        handed: 0,
    };
    match store_together(db, &all, context, last, lanes).await {
        Ok(stored) => {
            stored.outcomes.iter().for_each(|o| moved.outcome.add(o));
            moved.handed += stored.handed;
            moved.stored_through = last;
            return moved;
        }
        Err(err) => {
            tracing::warn!(error = %err, envelopes = all.len(), "storing journaled envelopes together failed; one by one")
        }
    }
    for item in &parsed {
        let end = item.0.end;
        match store_together(db, &[envelope_of(item)], context, Some(end), lanes).await {
            Ok(stored) => {
                moved.outcome.add(&stored.outcomes[0]);
                moved.handed += stored.handed;
            }
            Err(err) => {
                let failed = failures.entry(end.offset as i64).or_insert(0);
                *failed += 1;
                if *failed < MAX_FAILURES {
                    moved.error = Some(err);
                    return moved;
                }
                if let Err(err) = quarantine_envelope(db, item.0, &err).await {
                    moved.error = Some(err);
                    return moved;
                }
                failures.remove(&(end.offset as i64));
                moved.outcome.quarantined += 1;
                super::metrics::envelope_quarantined();
            }
        }
        moved.stored_through = Some(end);
    }
    moved
}

/// A journaled envelope, split, as stored.
type JournaledEnvelope<'a> = (&'a JournalEntry, (Vec<RegistryEvent>, Vec<Quarantined>));

fn envelope_of<'a>((entry, (events, quarantined)): &'a JournaledEnvelope<'_>) -> Envelope<'a> {
    Envelope {
        events,
        quarantined,
        received_at: entry.received_at,
    }
}

/// Keeps aside a journaled envelope that could not be stored, with the reason, and records the
/// journal stored past it.
async fn quarantine_envelope(db: &Db, entry: &JournalEntry, err: &sqlx::Error) -> Result<(), sqlx::Error> {
    tracing::error!(error = %err, "a journaled envelope could not be stored; quarantined");
    let whole = Quarantined::new(
        0,
        format!("the envelope could not be stored after {MAX_FAILURES} attempts: {err}"),
        String::from_utf8_lossy(&entry.body).into_owned(),
    );
    let mut tx = db.begin_write().await?;
    events::quarantine(&mut tx, std::slice::from_ref(&whole)).await?;
    intake_journal::record(&mut tx, entry.end).await?;
    tx.commit().await
}

/// One envelope: its events, those kept aside, and when it came.
struct Envelope<'a> {
    events: &'a [RegistryEvent],
    quarantined: &'a [Quarantined],
    received_at: i64,
}

/// Envelopes stored in one transaction; their outcomes, in order. With `through`, the same
/// transaction records that the intake journal is stored up to there. With `lanes`, the
/// deliveries it queues are claimed for their lanes where they may go at once, and handed over
/// after the commit.
async fn store_together(
    db: &Db,
    envelopes: &[Envelope<'_>],
    context: &IntakeContext<'_>,
    through: Option<Position>,
    lanes: Option<&Arc<Lanes>>,
) -> Result<Stored, sqlx::Error> {
    let mut tx = db.begin_write_first().await?;
    let webhooks = webhook_store::active(&mut tx).await?;
    let mut outcomes = Vec::with_capacity(envelopes.len());
    let mut queued = Vec::new();
    for envelope in envelopes {
        outcomes.push(receive_on(&mut tx, &webhooks, envelope, context, &mut queued).await?);
    }
    let handoffs = match lanes {
        Some(lanes) => lanes.take(&mut tx, &webhooks, queued).await?,
        None => Vec::new(),
    };
    if let Some(position) = through {
        intake_journal::record(&mut tx, position).await?;
    }
    tx.commit().await?;
    let handed = match lanes {
        Some(lanes) => lanes.hand_over(handoffs),
        None => 0,
    };
    Ok(Stored { outcomes, handed })
}

/// What [`store_together`] stored: each envelope's outcome, and how many of the deliveries it
/// queued went to lanes.
struct Stored {
    outcomes: Vec<IntakeOutcome>,
    handed: usize,
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
