//! The registry's notifications as one unit of work: the new events of an envelope are stored,
//! and one delivery per matching webhook is queued, in the same transaction (the outbox), so a
//! stored event always has its deliveries and a crash in between leaves neither.
//!
//! Pull events are dropped here: the registry reports one for every manifest GET and HEAD
//! (Wharf's own reconcile included), and nothing Wharf does needs them.

use serde::Serialize;

use super::db::Db;
use super::events::{self, RegistryEvent};
use super::webhooks::{deliveries, store as webhook_store};

/// What one envelope did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct IntakeOutcome {
    pub stored: usize,
    pub duplicates: usize,
    /// Pull events, not stored.
    pub dropped: usize,
    pub deliveries: usize,
}

/// Where links in deliveries point.
pub struct IntakeContext<'a> {
    pub registry_host: &'a str,
    pub public_url: &'a str,
}

pub async fn receive(
    db: &Db,
    events: &[RegistryEvent],
    context: &IntakeContext<'_>,
) -> Result<IntakeOutcome, sqlx::Error> {
    let kept: Vec<RegistryEvent> = events.iter().filter(|e| e.action != "pull").cloned().collect();
    let mut outcome = IntakeOutcome {
        dropped: events.len() - kept.len(),
        ..IntakeOutcome::default()
    };
    if kept.is_empty() {
        return Ok(outcome);
    }
    let mut tx = db.pool.begin().await?;
    let new = events::store(&mut tx, &kept).await?;
    let webhooks = webhook_store::active(&mut tx).await?;
    for (event, is_new) in kept.iter().zip(new) {
        if !is_new {
            outcome.duplicates += 1;
            continue;
        }
        outcome.stored += 1;
        outcome.deliveries +=
            deliveries::enqueue_for_event(&mut tx, &webhooks, event, context.registry_host, context.public_url).await?;
    }
    tx.commit().await?;
    Ok(outcome)
}
