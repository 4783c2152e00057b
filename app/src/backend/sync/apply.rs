//! Applying stored registry events to the index. Each event is a leased row (see
//! [`crate::backend::work`]): claimed in the order the events were received, fetched from the
//! registry, then written in one transaction together with marking the event applied.
//!
//! An event that fails on its own (the registry answers 500 for its manifest) gets its own next
//! attempt with backoff and is set aside after [`MAX_ATTEMPTS`], so it never holds up the events
//! behind it. When the registry as a whole is unreachable, the claimed events are handed back
//! without counting the attempt.

use std::time::Duration;

use futures::StreamExt;
use sqlx::{AnyConnection, Row};

use crate::backend::db::{now_ms, Db, WRITE_BUDGET};
use crate::backend::index::fetch::{index_manifest, Details, FetchError, Fetched};
use crate::backend::index::store;
use crate::backend::registry::{RegistryClient, RegistryError};
use crate::backend::work::{self, Queue, WorkerId};

use super::hub::SyncHub;

pub const QUEUE: Queue = Queue {
    table: "registry_events",
    done_column: "indexed_at",
    lock: "FOR UPDATE SKIP LOCKED",
};

/// Events claimed, fetched and written together at most (the LIMIT of [`CANDIDATES`]).
pub const BATCH: i64 = 25;

/// Due events, oldest first; `$1` is now.
pub const CANDIDATES: &str = "SELECT id FROM registry_events \
     WHERE indexed_at IS NULL AND dead_at IS NULL AND next_attempt_at <= $1 \
     AND (lease_until IS NULL OR lease_until < $1) ORDER BY received_at, id LIMIT 25";

/// Long enough for a batch of fetches from a slow registry; a killed worker's events are
/// claimed again after it.
const LEASE: Duration = Duration::from_secs(120);
/// Failed attempts before an event is set aside.
pub const MAX_ATTEMPTS: i64 = 8;
const RETRY_BASE: Duration = Duration::from_secs(10);
const RETRY_CAP: Duration = Duration::from_secs(3600);

/// One stored event, as much as the index needs of it.
#[derive(Debug, Clone)]
pub struct PendingEvent {
    pub id: String,
    pub action: String,
    pub repository: String,
    pub tag: Option<String>,
    pub digest: Option<String>,
    pub media_type: Option<String>,
    pub occurred_at: String,
    pub attempts: i64,
}

/// The index writes one event makes, found before any of them is written.
pub enum Plan {
    Push {
        fetched: Fetched,
        digest: String,
        tag: Option<String>,
        pushed_at: i64,
    },
    Delete {
        digest: Option<String>,
        tag: Option<String>,
    },
    Nothing,
}

/// Applies due events until none are left. Returns how many were finished (applied, or set
/// aside); an error means the registry or the database is unavailable and the rest waits.
///
/// Each claimed batch is fetched `concurrency` events at a time, then written in transactions
/// of [`WRITE_AT_ONCE`] events (in the order the events arrived), together with marking them
/// applied; each changed repository's totals are refreshed once per transaction. Once a batch is committed, the
/// webhook dispatcher is woken: the pushes' deliveries wait for the index.
pub async fn apply_pending(
    db: &Db,
    registry: &RegistryClient,
    hub: &SyncHub,
    worker: &WorkerId,
    concurrency: usize,
) -> Result<usize, FetchError> {
    let mut finished = 0;
    loop {
        let started = std::time::Instant::now();
        let claim = work::claim(db, &QUEUE, worker, CANDIDATES, LEASE).await?;
        if claim.count == 0 {
            return Ok(finished);
        }
        let claimed_in = started.elapsed();
        let events = claimed(db, &claim.token).await?;
        let token = claim.token.as_str();
        let plans: Vec<Result<Planned, FetchError>> = futures::stream::iter(events.clone())
            .map(|event| async move { plan_claimed(db, registry, &event, token).await })
            .buffered(concurrency.max(1))
            .collect()
            .await;
        let mut planned = Vec::new();
        for (event, plan) in events.iter().zip(plans) {
            match plan {
                Ok(Planned::Write(plan)) => planned.push((event, plan)),
                Ok(Planned::Finished) => finished += 1,
                Ok(Planned::Later) => {}
                Err(err) => {
                    // Not this event's fault: hand the rest back, uncounted, and wait.
                    let mut tx = db.begin_write().await?;
                    work::release(&mut tx, &QUEUE, &claim.token, now_ms()).await?;
                    tx.commit().await?;
                    return Err(err);
                }
            }
        }
        if planned.is_empty() {
            continue;
        }
        let fetched_in = started.elapsed();
        let mut rest = planned.as_slice();
        while !rest.is_empty() {
            let Some((written, changed)) = write_part(db, rest, &claim.token).await? else {
                // Another worker took them over after our lease ran out: its result stands.
                break;
            };
            tracing::debug!(events = written, ?claimed_in, ?fetched_in, elapsed = ?started.elapsed(), "registry events applied");
            finished += written;
            rest = &rest[written..];
            hub.index_applied();
            for repository in changed {
                hub.repository_changed(repository);
            }
        }
    }
}

/// Events written in one transaction at most (fewer once it has held the writer's turn for
/// [`WRITE_BUDGET`]): the notification intake's next transaction waits for the one being written
/// (SQLite has one writer at a time).
const WRITE_AT_ONCE: usize = 8;

/// Writes the first events of `planned` (a claimed batch) in one transaction, marking them
/// applied, and refreshes the totals of the repositories they changed; returns how many it
/// wrote and those repositories. `None` (nothing written) when the claim was lost.
async fn write_part<'a>(
    db: &Db,
    planned: &[(&'a PendingEvent, Plan)],
    token: &str,
) -> Result<Option<(usize, Vec<&'a str>)>, sqlx::Error> {
    let mut tx = db.begin_write().await?;
    let started = std::time::Instant::now();
    let mut changed = Vec::new();
    let mut kept = true;
    let mut written = 0;
    for (event, plan) in planned.iter().take(WRITE_AT_ONCE) {
        if write(&mut tx, plan, &event.repository).await? {
            changed.push(event.repository.as_str());
        }
        // One claim, one lease: lost for one event, lost for all of them.
        kept &= work::complete(&mut tx, &QUEUE, &event.id, token).await?;
        written += 1;
        if started.elapsed() >= WRITE_BUDGET {
            break;
        }
    }
    if !kept {
        tx.rollback().await?;
        return Ok(None);
    }
    changed.sort_unstable();
    changed.dedup();
    for repository in &changed {
        store::refresh_repository(&mut tx, repository).await?;
    }
    tx.commit().await?;
    Ok(Some((written, changed)))
}

/// What became of a claimed event before the batch's writes.
enum Planned {
    /// Fetched: to be written with the batch.
    Write(Plan),
    /// Set aside.
    Finished,
    /// Waits for its next attempt.
    Later,
}

async fn claimed(db: &Db, token: &str) -> Result<Vec<PendingEvent>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT id, action, repository, tag, digest, media_type, occurred_at, attempts FROM registry_events \
         WHERE claimed_by = $1 ORDER BY received_at, id",
    )
    .bind(token)
    .fetch_all(&db.pool)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(PendingEvent {
                id: row.try_get("id")?,
                action: row.try_get("action")?,
                repository: row.try_get("repository")?,
                tag: row.try_get("tag")?,
                digest: row.try_get("digest")?,
                media_type: row.try_get("media_type")?,
                occurred_at: row.try_get("occurred_at")?,
                attempts: row.try_get("attempts")?,
            })
        })
        .collect()
}

/// Fetches what one claimed event will write; an event that failed on its own is recorded
/// (next attempt, or set aside) here. `Err` when the registry or database is unavailable as a
/// whole.
async fn plan_claimed(
    db: &Db,
    registry: &RegistryClient,
    event: &PendingEvent,
    token: &str,
) -> Result<Planned, FetchError> {
    if event.attempts > MAX_ATTEMPTS {
        // Claimed this often without finishing: it takes its worker down with it.
        let reason = "abandoned: every attempt ended without a result";
        let mut tx = db.begin_write().await?;
        work::bury(&mut tx, &QUEUE, &event.id, token, reason).await?;
        tx.commit().await?;
        return Ok(Planned::Finished);
    }
    match plan(db, registry, event).await {
        Ok(plan) => Ok(Planned::Write(plan)),
        // Gone from the registry since: a later event or reconcile says the rest.
        Err(err) if err.is_not_found() => Ok(Planned::Write(Plan::Nothing)),
        Err(err) if is_outage(&err) => Err(err),
        Err(err) => fail(db, event, token, &err).await,
    }
}

/// The registry or the database as a whole is unavailable: no event can be applied now.
fn is_outage(err: &FetchError) -> bool {
    matches!(
        err,
        FetchError::Database(_) | FetchError::Registry(RegistryError::Unreachable { .. })
    )
}

/// Records a failure of this event: a next attempt with backoff while that can help, set aside
/// otherwise.
async fn fail(db: &Db, event: &PendingEvent, token: &str, err: &FetchError) -> Result<Planned, FetchError> {
    let mut tx = db.begin_write().await?;
    let reason = err.to_string();
    if err.is_transient() && event.attempts < MAX_ATTEMPTS {
        let delay = work::backoff(event.attempts, RETRY_BASE, RETRY_CAP);
        tracing::warn!(event = %event.id, attempts = event.attempts, error = %reason, ?delay, "cannot apply a registry event yet");
        work::retry(
            &mut tx,
            &QUEUE,
            &event.id,
            token,
            now_ms() + delay.as_millis() as i64,
            &reason,
        )
        .await?;
        tx.commit().await?;
        Ok(Planned::Later)
    } else {
        tracing::warn!(event = %event.id, error = %reason, "cannot apply a registry event; set aside");
        work::bury(&mut tx, &QUEUE, &event.id, token, &reason).await?;
        tx.commit().await?;
        Ok(Planned::Finished)
    }
}

fn is_manifest_event(event: &PendingEvent) -> bool {
    event.tag.is_some()
        || event
            .media_type
            .as_deref()
            .is_some_and(|m| m.contains("manifest") || m.contains("image.index"))
}

/// What applying `event` will write: fetches from the registry, reads the database, writes nothing.
pub async fn plan(db: &Db, registry: &RegistryClient, event: &PendingEvent) -> Result<Plan, FetchError> {
    match event.action.as_str() {
        "push" if is_manifest_event(event) => {
            let Some(digest) = event.digest.clone() else {
                return Ok(Plan::Nothing);
            };
            let (_, fetched) = index_manifest(db, registry, &event.repository, &digest, None, Details::Now).await?;
            Ok(Plan::Push {
                fetched,
                digest,
                tag: event.tag.clone(),
                pushed_at: rfc3339_ms(&event.occurred_at).unwrap_or_else(now_ms),
            })
        }
        "delete" => Ok(Plan::Delete {
            digest: event.digest.clone().filter(|d| !d.is_empty()),
            tag: event.tag.clone(),
        }),
        _ => Ok(Plan::Nothing),
    }
}

/// Writes a plan; `true` when the index changed (the caller then refreshes the repository's
/// totals with [`store::refresh_repository`], once for all the events of a batch).
pub async fn write(conn: &mut AnyConnection, plan: &Plan, repository: &str) -> Result<bool, sqlx::Error> {
    match plan {
        Plan::Push {
            fetched,
            digest,
            tag,
            pushed_at,
        } => {
            store::ensure_repository(conn, repository).await?;
            fetched.write(conn, repository).await?;
            if let Some(tag) = tag {
                store::set_tag(conn, repository, tag, digest, *pushed_at, false).await?;
                crate::backend::housekeeping::insights::count_push(conn, repository, *pushed_at).await?;
            }
            Ok(true)
        }
        Plan::Delete { digest, tag } => {
            let mut changed = false;
            if let Some(digest) = digest {
                changed |= store::remove_manifest(conn, repository, digest).await? > 0;
            }
            if let Some(tag) = tag {
                changed |= store::remove_tag(conn, repository, tag).await?;
            }
            Ok(changed)
        }
        Plan::Nothing => Ok(false),
    }
}

/// RFC 3339 → Unix milliseconds.
pub fn rfc3339_ms(timestamp: &str) -> Option<i64> {
    let parsed = time::OffsetDateTime::parse(timestamp, &time::format_description::well_known::Rfc3339).ok()?;
    Some((parsed.unix_timestamp_nanos() / 1_000_000) as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_times() {
        assert_eq!(rfc3339_ms("1970-01-01T00:00:01.5Z"), Some(1500));
        assert_eq!(rfc3339_ms("yesterday"), None);
    }

    #[test]
    fn tells_manifest_events_from_blob_events() {
        let event = |media_type: &str, tag: Option<&str>| PendingEvent {
            id: "1".into(),
            action: "push".into(),
            repository: "a".into(),
            tag: tag.map(str::to_string),
            digest: Some("sha256:1".into()),
            media_type: Some(media_type.into()),
            occurred_at: String::new(),
            attempts: 1,
        };
        assert!(is_manifest_event(&event(
            "application/vnd.oci.image.manifest.v1+json",
            None
        )));
        assert!(is_manifest_event(&event(
            "application/vnd.oci.image.index.v1+json",
            None
        )));
        assert!(is_manifest_event(&event("application/octet-stream", Some("1.0"))));
        assert!(!is_manifest_event(&event(
            "application/vnd.oci.image.layer.v1.tar+gzip",
            None
        )));
    }

    #[test]
    fn outages_are_told_from_failures_of_one_event() {
        let unreachable = FetchError::Registry(RegistryError::Unreachable {
            url: "u".into(),
            reason: "r".into(),
        });
        let broken_manifest = FetchError::Registry(RegistryError::Status {
            status: 500,
            body: String::new(),
        });
        assert!(is_outage(&unreachable));
        assert!(!is_outage(&broken_manifest) && broken_manifest.is_transient());
    }

    #[test]
    fn a_claim_takes_one_batch() {
        assert!(CANDIDATES.ends_with(&format!("LIMIT {BATCH}")), "{CANDIDATES}");
    }
}
