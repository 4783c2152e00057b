//! Signals between replicas: what one replica publishes, the others hear within milliseconds.
//!
//! Sending: the notifier hands every signal to [`start`]'s sender task, which packs what has
//! queued up (duplicates dropped) into JSON payloads and sends them with `pg_notify` on
//! [`CHANNEL`]. Receiving: a `LISTEN` connection ([`sqlx::postgres::PgListener`]) takes the other
//! replicas' payloads, does what each signal means for this process's memory (forgets cached
//! credentials, counts another replica's failed guesses, takes the reconcile progress of the
//! replica running it) and publishes it here, as if it had been published here.
//!
//! When the listening connection drops, signals may have been lost: this replica forgets its
//! cached credentials and publishes [`Signal::Missed`] (workers look for work, live pages
//! refetch) once it listens again.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use sqlx::postgres::PgListener;
use tokio::sync::{mpsc, watch};

use super::this_replica;
use crate::backend::db::{Db, DbKind};
use crate::backend::notifier::Signal;
use crate::backend::AppState;
use crate::model::IndexUpdate;

/// The PostgreSQL notification channel all replicas of one database share.
pub const CHANNEL: &str = "wharf_signals";
/// PostgreSQL refuses payloads of 8,000 bytes or more.
const MAX_PAYLOAD: usize = 7_000;
/// Signals waiting to be sent; beyond this, new ones are dropped (the database is unreachable).
const OUTBOX: usize = 8_192;
/// Signals packed into one round of sending at most.
const BATCH: usize = 512;
/// Wait before listening again after the connection failed.
const RECONNECT: Duration = Duration::from_secs(1);

/// One payload: who sent it, and what.
#[derive(Debug, Serialize, Deserialize, PartialEq)]
struct Payload {
    from: String,
    signals: Vec<Signal>,
}

/// With PostgreSQL, starts sending this replica's signals to the others and listening for
/// theirs, until shutdown. Nothing on SQLite.
pub fn start(state: &AppState) {
    if state.db.kind != DbKind::Postgres {
        return;
    }
    let (outbox, queued) = mpsc::channel(OUTBOX);
    state.notifier.forward_to(outbox);
    state.credentials.share_failures(state.notifier.clone());
    tokio::spawn(send(state.db.clone(), queued, state.sync.stopping()));
    tokio::spawn(listen(state.clone(), state.sync.stopping()));
}

async fn send(db: Db, mut queued: mpsc::Receiver<Signal>, mut stop: watch::Receiver<bool>) {
    loop {
        let first = tokio::select! {
            signal = queued.recv() => match signal {
                Some(signal) => signal,
                None => return,
            },
            _ = stop.changed() => return,
        };
        let mut batch = vec![first];
        while batch.len() < BATCH {
            match queued.try_recv() {
                Ok(signal) => add(&mut batch, signal),
                Err(_) => break,
            }
        }
        for payload in pack(this_replica(), batch) {
            let sent = sqlx::query("SELECT pg_notify($1, $2)")
                .bind(CHANNEL)
                .bind(&payload)
                .execute(&db.pool)
                .await;
            if let Err(err) = sent {
                // The others' listeners lose their connection too, and take it as `Missed`.
                tracing::warn!(error = %err, "cannot tell the other replicas; signals dropped");
            }
        }
    }
}

/// Adds `signal` unless the batch holds it already (a failure is counted each time).
fn add(batch: &mut Vec<Signal>, signal: Signal) {
    if matches!(signal, Signal::CredentialFailed { .. }) || !batch.contains(&signal) {
        batch.push(signal);
    }
}

/// The payloads that carry `signals` in order, each under [`MAX_PAYLOAD`] bytes. A signal too
/// big on its own is dropped with a warning (none is near the limit: names are capped).
fn pack(from: &str, signals: Vec<Signal>) -> Vec<String> {
    let mut payloads = Vec::new();
    let mut current = Payload {
        from: from.to_string(),
        signals: Vec::new(),
    };
    for signal in signals {
        current.signals.push(signal);
        if encode(&current).len() <= MAX_PAYLOAD {
            continue;
        }
        let signal = current.signals.pop().expect("just pushed");
        if !current.signals.is_empty() {
            payloads.push(encode(&current));
        }
        current.signals = vec![signal];
        if encode(&current).len() > MAX_PAYLOAD {
            tracing::warn!("a signal too large to send to the other replicas was dropped");
            current.signals.clear();
        }
    }
    if !current.signals.is_empty() {
        payloads.push(encode(&current));
    }
    payloads
}

fn encode(payload: &Payload) -> String {
    serde_json::to_string(payload).expect("signals serialize")
}

async fn listen(state: AppState, mut stop: watch::Receiver<bool>) {
    let mut listener: Option<PgListener> = None;
    loop {
        let Some(connected) = listener.as_mut() else {
            match connect(&state.db.url).await {
                Ok(connected) => {
                    listener = Some(connected);
                    // Whatever was sent while nobody listened here is lost.
                    missed(&state);
                }
                Err(err) => {
                    tracing::warn!(error = %err, "cannot listen for the other replicas' signals; will try again");
                    tokio::select! {
                        _ = tokio::time::sleep(RECONNECT) => {}
                        _ = stop.changed() => return,
                    }
                }
            }
            continue;
        };
        let received = tokio::select! {
            received = connected.try_recv() => received,
            _ = stop.changed() => return,
        };
        match received {
            Ok(Some(notification)) => match serde_json::from_str::<Payload>(notification.payload()) {
                Ok(payload) if payload.from == this_replica() => {}
                Ok(payload) => payload.signals.into_iter().for_each(|signal| arrived(&state, signal)),
                Err(err) => tracing::warn!(error = %err, "a signal from another replica does not parse; ignored"),
            },
            // The connection dropped; the next call reconnects (and listens again).
            Ok(None) => {
                tracing::warn!("the connection for the other replicas' signals dropped; reconnecting");
                missed(&state);
            }
            Err(err) => {
                tracing::warn!(error = %err, "lost the other replicas' signals; will listen again");
                listener = None;
            }
        }
    }
}

async fn connect(url: &str) -> Result<PgListener, sqlx::Error> {
    let mut listener = tokio::time::timeout(Duration::from_secs(10), PgListener::connect(url))
        .await
        .map_err(|_| sqlx::Error::PoolTimedOut)??;
    listener.listen(CHANNEL).await?;
    Ok(listener)
}

/// Signals may have been lost: a revocation among them, perhaps.
fn missed(state: &AppState) {
    state.credentials.forget_all();
    state.notifier.publish_here(Signal::Missed);
}

/// Applies what another replica's signal means here, then publishes it here.
fn arrived(state: &AppState, signal: Signal) {
    match signal {
        Signal::AccessChanged | Signal::Missed => state.credentials.forget_all(),
        Signal::CredentialFailed { account, address } => {
            return state.credentials.failed_elsewhere(account.as_deref(), &address);
        }
        // Each replica tells its own pages of its own sync status.
        Signal::Live(IndexUpdate::Sync { .. }) => return,
        Signal::ReconcileProgress(progress) => return state.sync.adopt_reconcile(progress),
        Signal::Live(IndexUpdate::Repository { ref name }) => {
            return state.sync.repository_changed_elsewhere(name);
        }
        _ => {}
    }
    state.notifier.publish_here(signal);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repository(name: &str) -> Signal {
        Signal::Live(IndexUpdate::Repository { name: name.into() })
    }

    #[test]
    fn a_batch_drops_repeated_signals_but_counts_every_failure() {
        let failed = Signal::CredentialFailed {
            account: Some("admin".into()),
            address: "10.0.0.1".into(),
        };
        let mut batch = Vec::new();
        for signal in [
            Signal::EventsStored,
            repository("a"),
            Signal::EventsStored,
            repository("b"),
            repository("a"),
            failed.clone(),
            failed.clone(),
        ] {
            add(&mut batch, signal);
        }
        assert_eq!(
            batch,
            [
                Signal::EventsStored,
                repository("a"),
                repository("b"),
                failed.clone(),
                failed
            ]
        );
    }

    #[test]
    fn payloads_stay_under_the_limit_and_keep_every_signal_in_order() {
        let signals: Vec<Signal> = (0..2_000).map(|i| repository(&format!("team-{i}/app"))).collect();
        let payloads = pack("host/1/abc", signals.clone());
        assert!(payloads.len() > 1, "{} payloads", payloads.len());
        let mut unpacked = Vec::new();
        for payload in &payloads {
            assert!(payload.len() <= MAX_PAYLOAD, "{} bytes", payload.len());
            let payload: Payload = serde_json::from_str(payload).unwrap();
            assert_eq!(payload.from, "host/1/abc");
            unpacked.extend(payload.signals);
        }
        assert_eq!(unpacked, signals);
    }

    #[test]
    fn a_signal_too_large_alone_is_dropped_and_the_rest_still_go() {
        let huge = repository(&"x".repeat(MAX_PAYLOAD));
        let payloads = pack("r", vec![Signal::EventsStored, huge, Signal::DeliveriesQueued]);
        let unpacked: Vec<Signal> = payloads
            .iter()
            .flat_map(|p| serde_json::from_str::<Payload>(p).unwrap().signals)
            .collect();
        assert_eq!(unpacked, [Signal::EventsStored, Signal::DeliveriesQueued]);
    }
}
