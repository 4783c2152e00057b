//! The one notifier: wakes the workers when work is queued and carries the live updates that
//! `/api/stream` forwards to browsers. In-process (a broadcast channel) for one console; when
//! replicas share a PostgreSQL database, every signal published also goes to the other replicas
//! (`replicas::signals`, over `LISTEN/NOTIFY`), and theirs arrive here as if published here.
//!
//! A signal is a hint, never the work itself: workers also poll, so a missed signal only delays.

use std::sync::OnceLock;

use serde::{Deserialize, Serialize};
use tokio::sync::broadcast::{self, error::RecvError};
use tokio::sync::mpsc;

use crate::model::{IndexUpdate, ReconcileProgress};

/// How many signals a slow subscriber may fall behind before it is told it lagged.
const CAPACITY: usize = 1024;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "signal", rename_all = "snake_case")]
pub enum Signal {
    /// Registry events were stored: the index worker has events to apply.
    EventsStored,
    /// Webhook deliveries were queued or became due.
    DeliveriesQueued,
    /// For browsers following the live stream.
    Live(IndexUpdate),
    /// Users, teams, roles, robots or credentials changed, or someone signed out: open live
    /// streams check again that their reader is still signed in and what it may hear of.
    AccessChanged,
    /// A credential from `address` was wrong, a password for `account` if named: the other
    /// replicas' throttles count it too. Only ever sent to them ([`Notifier::tell_others`]).
    CredentialFailed { account: Option<String>, address: String },
    /// The reconcile's progress, from the replica running it: the others show it too. Only ever
    /// sent to them ([`Notifier::tell_others`]).
    ReconcileProgress(ReconcileProgress),
    /// Signals from other replicas may have been lost (the connection to the database dropped):
    /// subscribers take it as [`Received::Lagged`].
    Missed,
}

pub struct Notifier {
    sender: broadcast::Sender<Signal>,
    /// To the other replicas, once [`Notifier::forward_to`] is called.
    others: OnceLock<mpsc::Sender<Signal>>,
}

impl Default for Notifier {
    fn default() -> Self {
        Notifier {
            sender: broadcast::channel(CAPACITY).0,
            others: OnceLock::new(),
        }
    }
}

impl Notifier {
    /// Tells this process's subscribers, and the other replicas when there are.
    pub fn publish(&self, signal: Signal) {
        self.tell_others(signal.clone());
        self.publish_here(signal);
    }

    /// Tells the other replicas only (nothing when there are none): for what this process
    /// handled itself.
    pub fn tell_others(&self, signal: Signal) {
        if let Some(others) = self.others.get() {
            // Full only while the database is unreachable for long; the other replicas take
            // that outage as `Missed` anyway.
            let _ = others.try_send(signal);
        }
    }

    /// Tells this process's subscribers only: for signals that came from another replica.
    pub fn publish_here(&self, signal: Signal) {
        // No subscriber is fine: nobody is waiting.
        let _ = self.sender.send(signal);
    }

    /// From now on every published signal also goes to `others` (once; later calls are ignored).
    pub fn forward_to(&self, others: mpsc::Sender<Signal>) {
        let _ = self.others.set(others);
    }

    /// Signals from now on. Subscribe once and keep it: signals sent while the subscriber is busy
    /// wait in the channel.
    pub fn subscribe(&self) -> Subscription {
        Subscription {
            receiver: self.sender.subscribe(),
        }
    }
}

pub struct Subscription {
    receiver: broadcast::Receiver<Signal>,
}

/// What a subscriber receives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Received {
    Signal(Signal),
    /// Signals were dropped because this subscriber fell behind: assume anything happened.
    Lagged,
    Closed,
}

impl Subscription {
    pub async fn recv(&mut self) -> Received {
        match self.receiver.recv().await {
            Ok(Signal::Missed) => Received::Lagged,
            Ok(signal) => Received::Signal(signal),
            Err(RecvError::Lagged(_)) => Received::Lagged,
            Err(RecvError::Closed) => Received::Closed,
        }
    }

    /// Waits until a signal that `wanted` accepts arrives (or signals were lost, which may have
    /// been one). Never returns when the notifier is gone: callers also wait on a timer.
    pub async fn wait_for(&mut self, wanted: impl Fn(&Signal) -> bool) {
        loop {
            match self.recv().await {
                Received::Signal(signal) if wanted(&signal) => return,
                Received::Signal(_) => {}
                Received::Lagged => return,
                Received::Closed => std::future::pending::<()>().await,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn subscribers_wait_for_the_signals_they_want() {
        let notifier = Notifier::default();
        let mut worker = notifier.subscribe();
        notifier.publish(Signal::Live(IndexUpdate::Repository { name: "a".into() }));
        notifier.publish(Signal::EventsStored);
        // Sent before the wait began, still seen.
        tokio::time::timeout(
            std::time::Duration::from_secs(1),
            worker.wait_for(|s| *s == Signal::EventsStored),
        )
        .await
        .expect("the stored signal wakes the worker");
    }

    #[tokio::test]
    async fn a_lagging_subscriber_is_told() {
        let notifier = Notifier::default();
        let mut slow = notifier.subscribe();
        for _ in 0..CAPACITY + 5 {
            notifier.publish(Signal::DeliveriesQueued);
        }
        assert_eq!(slow.recv().await, Received::Lagged);
    }
}
