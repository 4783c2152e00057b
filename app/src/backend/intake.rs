//! The registry's notifications as one unit of work: the new events of an envelope are stored,
//! and one delivery per matching webhook is queued, in the same transaction (the outbox), so a
//! stored event always has its deliveries and a crash in between leaves neither.
//!
//! Pull events are dropped here: the registry reports one for every manifest GET and HEAD
//! (Wharf's own reconcile included), and nothing Wharf does needs them.

use serde::Serialize;

use sqlx::AnyConnection;

use super::db::Db;
use super::events::{self, Quarantined, RegistryEvent};
use super::placeholders;
use super::webhooks::{deliveries, store as webhook_store};

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

pub async fn receive(
    db: &Db,
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
    let mut tx = db.pool.begin().await?;
    events::quarantine(&mut tx, quarantined).await?;
    let new = events::store(&mut tx, &kept).await?;
    let webhooks = webhook_store::active(&mut tx).await?;
    for (event, is_new) in kept.iter().zip(new) {
        if !is_new {
            outcome.duplicates += 1;
            continue;
        }
        outcome.stored += 1;
        let Some(event) = as_delivered(&mut tx, event).await? else {
            continue;
        };
        outcome.deliveries +=
            deliveries::enqueue_for_event(&mut tx, &webhooks, &event, context.registry_host, context.public_url)
                .await?;
    }
    tx.commit().await?;
    Ok(outcome)
}

/// The event as webhooks see it: the two events of Wharf's own tag-only delete (the placeholder
/// pushed to the tag, then deleted by digest) become one delete of the tag, with the digest it
/// pointed to; `None` for the push.
async fn as_delivered(conn: &mut AnyConnection, event: &RegistryEvent) -> Result<Option<RegistryEvent>, sqlx::Error> {
    let Some(digest) = event.target.digest.as_deref().filter(|d| !d.is_empty()) else {
        // The registry also reports the tag's removal on its own: the delete made from the
        // placeholder's digest already says it.
        if event.action == "delete" {
            if let Some(tag) = &event.target.tag {
                if placeholders::is_recent_tag(conn, &event.target.repository, tag).await? {
                    return Ok(None);
                }
            }
        }
        return Ok(Some(event.clone()));
    };
    let Some(placeholder) = placeholders::find(conn, &event.target.repository, digest).await? else {
        return Ok(Some(event.clone()));
    };
    Ok(match event.action.as_str() {
        "delete" => {
            let mut delete = event.clone();
            delete.target.tag = Some(placeholder.tag);
            delete.target.digest = placeholder.previous_digest;
            delete.target.media_type = None;
            delete.target.size = None;
            Some(delete)
        }
        _ => None,
    })
}
