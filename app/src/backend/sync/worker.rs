//! The background tasks that keep the index in step with the registry: the event applier, the
//! periodic reconcile and the registry health check. They stop when the shutdown token fires.

use std::time::Duration;

use tokio::sync::watch;

use crate::backend::notifier::Signal;
use crate::backend::work::WorkerId;
use crate::backend::AppState;

use super::{apply, reconcile, turns};

/// How often the registry is pinged for the "data may be stale" banner.
const PING_INTERVAL: Duration = Duration::from_secs(5);
/// How often old events and deliveries are pruned.
const PRUNE_INTERVAL: Duration = Duration::from_secs(3600);
/// Pending events are looked at this often even without a wake-up.
const EVENT_POLL: Duration = Duration::from_secs(5);
/// Wait after a failed batch (registry down), doubling up to the cap.
const RETRY_MIN: Duration = Duration::from_secs(1);
const RETRY_MAX: Duration = Duration::from_secs(30);

/// Starts the workers. `reconcile_every` of zero disables the timer (start and button only).
pub fn spawn(state: AppState, reconcile_every: Duration) {
    let shutdown = state.sync.stopping();
    tokio::spawn(apply_events(state.clone(), shutdown.clone()));
    tokio::spawn(reconcile_loop(state.clone(), reconcile_every, shutdown.clone()));
    tokio::spawn(retention_loop(state.clone(), shutdown.clone()));
    tokio::spawn(health_loop(state, shutdown));
}

async fn apply_events(state: AppState, mut shutdown: watch::Receiver<bool>) {
    let worker = WorkerId::new("index");
    let mut wake = state.notifier.subscribe();
    let mut retry = RETRY_MIN;
    loop {
        let wait = match apply::apply_pending(
            &state.db,
            &state.registry,
            &state.sync,
            &worker,
            state.settings.registry_concurrency,
        )
        .await
        {
            // Each applied batch woke the webhook dispatcher (pushes wait for the index).
            Ok(_) => {
                retry = RETRY_MIN;
                EVENT_POLL
            }
            Err(err) => {
                tracing::warn!(error = %err, "cannot apply registry events yet; will retry");
                retry = (retry * 2).min(RETRY_MAX);
                retry
            }
        };
        tokio::select! {
            _ = wake.wait_for(|s| *s == Signal::EventsStored) => {}
            _ = tokio::time::sleep(wait) => {}
            _ = shutdown.changed() => return,
        }
    }
}

async fn reconcile_loop(state: AppState, every: Duration, mut shutdown: watch::Receiver<bool>) {
    let mut requested = state.sync.resync_requests();
    // At start (events may have been missed while the console was down) and on request, every
    // tag is checked; a run on the timer checks one slice of the repositories' tags.
    let mut digests = reconcile::Digests::All;
    let mut why = turns::Why::AskedAt(crate::backend::db::now_ms());
    let mut timed_runs = 0u64;
    let mut takeover = tokio::time::interval(turns::TAKEOVER_CHECK);
    takeover.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        // Requests made before this run starts are answered by it.
        requested.borrow_and_update();
        let turn = tokio::select! {
            turn = turns::take(&state.db, why) => turn,
            _ = shutdown.changed() => return,
        };
        match turn {
            Ok(Some(turn)) => reconcile_in_turn(&state, turn, digests).await,
            Ok(None) => tracing::debug!("another replica reconciled meanwhile"),
            Err(err) => tracing::warn!(error = %err, "cannot take a turn to reconcile"),
        }
        loop {
            let timer = async {
                if every.is_zero() {
                    std::future::pending::<()>().await
                } else {
                    tokio::time::sleep(every).await
                }
            };
            tokio::select! {
                changed = requested.changed() => {
                    if changed.is_err() {
                        return;
                    }
                    digests = reconcile::Digests::All;
                    why = turns::Why::AskedAt(crate::backend::db::now_ms());
                }
                _ = timer => {
                    digests = reconcile::Digests::for_run(timed_runs, state.settings.reconcile_digest_slices);
                    why = turns::Why::Timer(every);
                    timed_runs += 1;
                }
                // A replica that died in the middle of a run: this one runs it again.
                _ = takeover.tick() => match turns::abandoned(&state.db).await {
                    Ok(Some(turn)) => {
                        tracing::warn!("a replica stopped in the middle of a reconcile; this one runs it");
                        reconcile_in_turn(&state, turn, reconcile::Digests::All).await;
                        continue;
                    }
                    Ok(None) => continue,
                    Err(err) => {
                        tracing::warn!(error = %err, "cannot look for an abandoned reconcile");
                        continue;
                    }
                },
                _ = shutdown.changed() => return,
            }
            break;
        }
    }
}

async fn reconcile_in_turn(state: &AppState, turn: turns::Turn, digests: reconcile::Digests) {
    let outcome = reconcile::reconcile(
        &state.db,
        &state.registry,
        &state.sync,
        reconcile::Limits {
            max_pages: state.settings.catalog_max_pages,
            concurrency: state.settings.registry_concurrency,
            digests,
        },
    )
    .await;
    match &outcome {
        Ok(report) => tracing::info!(%report, "reconcile finished"),
        Err(err) => tracing::warn!(error = %err, "reconcile failed"),
    }
    turn.finish(&state.db, outcome.is_ok()).await;
}

/// Prunes what is older than the retention period: at start, then every hour.
async fn retention_loop(state: AppState, mut shutdown: watch::Receiver<bool>) {
    loop {
        let before = crate::backend::db::now_ms() - state.settings.event_retention.as_millis() as i64;
        match crate::backend::retention::prune(&state.db, before).await {
            Ok(pruned) if pruned != Default::default() => tracing::info!(?pruned, "old events and deliveries pruned"),
            Ok(_) => {}
            Err(err) => tracing::warn!(error = %err, "cannot prune old events; will try again"),
        }
        let audit_before = crate::backend::db::now_ms() - state.settings.audit_retention.as_millis() as i64;
        match crate::backend::audit::prune(&state.db, audit_before).await {
            Ok(0) => {}
            Ok(pruned) => tracing::info!(pruned, "old audit entries pruned"),
            Err(err) => tracing::warn!(error = %err, "cannot prune the audit log; will try again"),
        }
        tokio::select! {
            _ = tokio::time::sleep(PRUNE_INTERVAL) => {}
            _ = shutdown.changed() => return,
        }
    }
}

async fn health_loop(state: AppState, mut shutdown: watch::Receiver<bool>) {
    loop {
        let error = state.registry.ping().await.err().map(|e| e.to_string());
        state.sync.set_registry_error(error);
        tokio::select! {
            _ = tokio::time::sleep(PING_INTERVAL) => {}
            _ = shutdown.changed() => return,
        }
    }
}
