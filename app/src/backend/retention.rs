//! Retention: registry events, webhook deliveries (with their attempt logs) and quarantined
//! events are kept for a period (`--event-retention-days`, 30 by default) and then pruned.
//! Only finished work is pruned: an event not yet applied, or with a delivery still kept, stays.

use super::db::Db;

/// What one prune removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pruned {
    pub events: u64,
    pub deliveries: u64,
    pub attempts: u64,
    pub quarantined: u64,
}

/// Removes finished rows received before `before_ms`, in one transaction.
pub async fn prune(db: &Db, before_ms: i64) -> Result<Pruned, sqlx::Error> {
    let mut tx = db.begin_write().await?;
    let finished_deliveries =
        "SELECT id FROM webhook_deliveries WHERE created_at < $1 AND (done_at IS NOT NULL OR dead_at IS NOT NULL)";
    let attempts = sqlx::query(&format!(
        "DELETE FROM webhook_attempts WHERE delivery_id IN ({finished_deliveries})"
    ))
    .bind(before_ms)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    let deliveries = sqlx::query(&format!(
        "DELETE FROM webhook_deliveries WHERE id IN ({finished_deliveries})"
    ))
    .bind(before_ms)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    let events = sqlx::query(
        "DELETE FROM registry_events WHERE received_at < $1 AND (indexed_at IS NOT NULL OR dead_at IS NOT NULL) \
         AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.event_id = registry_events.id)",
    )
    .bind(before_ms)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    sqlx::query("DELETE FROM placeholder_tags WHERE created_at < $1")
        .bind(before_ms)
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM console_deletes WHERE created_at < $1")
        .bind(before_ms)
        .execute(&mut *tx)
        .await?;
    let quarantined = sqlx::query("DELETE FROM quarantined_events WHERE received_at < $1")
        .bind(before_ms)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    tx.commit().await?;
    Ok(Pruned {
        events,
        deliveries,
        attempts,
        quarantined,
    })
}
