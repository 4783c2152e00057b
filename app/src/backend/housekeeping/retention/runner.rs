//! Carrying out retention runs: durable work in `retention_runs`. A claimed run is planned
//! ([`super::plan`]: every image decided and written down), then, unless it is a dry run, its
//! planned groups are deleted one by one through [`crate::backend::deletion`] (so webhooks hear
//! of each delete, with the policy as actor) and each item is marked deleted or failed. A run
//! whose process was killed is claimed again when its lease runs out: planning starts over,
//! deleting goes on with the items not yet marked.

use std::time::Duration;

use sqlx::AnyConnection;

use super::plan::{self, PlanCursor, Tally};
use super::schedule;
use super::store::{self, ItemRow, PolicyRow, RunRow, CANDIDATES, QUEUE};
use crate::backend::access::Scope;
use crate::backend::audit::{self, AuditAction};
use crate::backend::db::now_ms;
use crate::backend::deletion::{self, DeleteError};
use crate::backend::index::queries;
use crate::backend::notifier::Signal;
use crate::backend::registry::RegistryError;
use crate::backend::work::{self, WorkerId};
use crate::backend::AppState;
use crate::model::IndexUpdate;
use crate::names::{Digest, RepositoryName};

/// A run renews its lease as it goes; one killed is taken over after this.
const LEASE: Duration = Duration::from_secs(60);
/// How often the worker looks for due runs and scheduled policies.
const POLL: Duration = Duration::from_secs(2);
/// Runs whose items are kept per policy (older runs keep their counts).
const RUNS_WITH_ITEMS: i64 = 3;
/// Deletions that fail in a row because the registry cannot be reached end the run.
const UNREACHABLE_IN_A_ROW: u32 = 3;
/// Items read per batch while deleting.
const DELETE_BATCH: i64 = 50;

/// Starts the worker, until shutdown.
pub fn spawn(state: AppState) {
    tokio::spawn(async move {
        let worker = WorkerId::new("retention");
        let mut stopping = state.sync.stopping();
        loop {
            if let Err(err) = schedule::request_due(&state).await {
                tracing::warn!(error = %err, "could not start scheduled retention runs");
            }
            while let Ok(true) = run_one(&state, &worker).await {}
            tokio::select! {
                _ = tokio::time::sleep(POLL) => {}
                _ = stopping.changed() => return,
            }
            if *stopping.borrow() {
                return;
            }
        }
    });
}

/// Claims and carries out one due run; `false` when none was due.
pub async fn run_one(state: &AppState, worker: &WorkerId) -> Result<bool, sqlx::Error> {
    let claim = work::claim(&state.db, &QUEUE, worker, CANDIDATES, LEASE).await?;
    if claim.count == 0 {
        return Ok(false);
    }
    let id: Option<String> = sqlx::query_scalar("SELECT id FROM retention_runs WHERE claimed_by = $1")
        .bind(&claim.token)
        .fetch_optional(&state.db.pool)
        .await?;
    let Some(id) = id else { return Ok(true) };
    let mut job = Job {
        state,
        id,
        token: claim.token,
    };
    if let Err(err) = job.carry_out().await {
        tracing::warn!(error = %err, run = job.id, "retention run stopped");
        job.finish("failed", Some(&err.to_string())).await?;
    }
    Ok(true)
}

#[derive(Debug, thiserror::Error)]
enum RunError {
    #[error("the policy was deleted")]
    PolicyGone,
    #[error("the policy's rules cannot be used: {0}")]
    Rules(String),
    #[error("another worker took the run over")]
    Lost,
    #[error("the registry cannot be reached: {0}")]
    Unreachable(String),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
}

struct Job<'a> {
    state: &'a AppState,
    id: String,
    token: String,
}

impl Job<'_> {
    async fn carry_out(&mut self) -> Result<(), RunError> {
        let (run, policy) = self.load().await?;
        if run.status == "queued" || run.status == "planning" {
            self.plan(&policy).await?;
            if run.dry_run == 1 {
                return Ok(self.finish("done", None).await?);
            }
            self.set_status("deleting").await?;
        }
        self.delete(&policy).await?;
        let failed: i64 = self
            .count("SELECT COUNT(*) FROM retention_run_items WHERE run_id = $1 AND state = 'failed'")
            .await?;
        let outcome = if failed > 0 { "failed" } else { "done" };
        let message = (failed > 0).then(|| format!("{failed} images could not be deleted: see the items"));
        Ok(self.finish(outcome, message.as_deref()).await?)
    }

    async fn load(&self) -> Result<(RunRow, PolicyRow), RunError> {
        let mut conn = self.state.db.pool.acquire().await?;
        let run = store::run(&mut conn, &self.id).await?.ok_or(RunError::Lost)?;
        let policy = store::policy(&mut conn, &run.policy_id)
            .await?
            .ok_or(RunError::PolicyGone)?;
        Ok((run, policy))
    }

    /// Decides every image in the policy's scope and writes the plan, a slice of repositories
    /// at a time.
    async fn plan(&self, policy: &PolicyRow) -> Result<(), RunError> {
        let mut cursor = PlanCursor::new(policy, now_ms(), self.state.db.kind).map_err(RunError::Rules)?;
        let total = self.scope_size(cursor.scope()).await?;
        self.start_planning(total).await?;
        plan::plan_slices(&self.state.db, &mut cursor, |items, tally, done| {
            let (state, id, token, scope) = (
                self.state.clone(),
                self.id.clone(),
                self.token.clone(),
                policy.scope.clone(),
            );
            async move {
                let mut tx = state.db.begin_write().await?;
                renew(&mut tx, &id, &token).await?;
                plan::store(&mut tx, state.db.kind, &id, &items).await?;
                record_tally(&mut tx, &id, &tally, done).await?;
                tx.commit().await?;
                state
                    .notifier
                    .publish(Signal::Live(IndexUpdate::Housekeeping { scope }));
                Ok::<_, RunError>(())
            }
        })
        .await?;
        let mut conn = self.state.db.pool.acquire().await?;
        let freed = store::freed_bytes(&mut conn, &self.id).await?;
        drop(conn);
        let mut tx = self.state.db.begin_write().await?;
        self.renew(&mut tx).await?;
        sqlx::query("UPDATE retention_runs SET bytes_freed = $2 WHERE id = $1")
            .bind(&self.id)
            .bind(freed)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Repositories in scope (for the progress bar; a glob's count is an estimate).
    async fn scope_size(&self, scope: &Scope) -> Result<i64, sqlx::Error> {
        let query = match scope.like_pattern() {
            Some(pattern) => {
                sqlx::query_scalar("SELECT COUNT(*) FROM repositories WHERE name LIKE $1 ESCAPE '\\'").bind(pattern)
            }
            None => sqlx::query_scalar("SELECT COUNT(*) FROM repositories"),
        };
        query.fetch_one(&self.state.db.pool).await
    }

    /// Clears what an earlier attempt planned, and marks the run as planning.
    async fn start_planning(&self, total: i64) -> Result<(), RunError> {
        let mut tx = self.state.db.begin_write().await?;
        self.renew(&mut tx).await?;
        store::delete_plan(&mut tx, &self.id).await?;
        sqlx::query(
            "UPDATE retention_runs SET status = 'planning', started_at = COALESCE(started_at, $2), \
             repositories_total = $3, repositories_done = 0, images_kept = 0, images_removed = 0, \
             images_deleted = 0, images_failed = 0, images_skipped = 0, bytes_removed = 0, bytes_freed = 0, bytes_deleted = 0, \
             capped = 0 WHERE id = $1",
        )
        .bind(&self.id)
        .bind(now_ms())
        .bind(total)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Deletes the planned groups in order, marking each item.
    async fn delete(&self, policy: &PolicyRow) -> Result<(), RunError> {
        let actor = format!("retention policy {}", policy.name);
        let mut unreachable = 0;
        let mut after = 0;
        loop {
            let groups: Vec<i64> = sqlx::query_scalar(&format!(
                "SELECT DISTINCT grp FROM retention_run_items WHERE run_id = $1 AND state = 'planned' AND grp > $2 \
                 ORDER BY grp LIMIT {DELETE_BATCH}"
            ))
            .bind(&self.id)
            .bind(after)
            .fetch_all(&self.state.db.pool)
            .await?;
            let Some(&last) = groups.last() else { break };
            after = last;
            for group in groups {
                let outcome = self.delete_group(group, &actor).await?;
                unreachable = if outcome { 0 } else { unreachable + 1 };
                if unreachable >= UNREACHABLE_IN_A_ROW {
                    return Err(RunError::Unreachable(
                        "deletions failed in a row; the rest stays planned: see the items".into(),
                    ));
                }
            }
            self.progress(policy);
        }
        Ok(())
    }

    /// Deletes one group (signatures, the image, its platform images) unless one of them
    /// changed since it was planned (a tag added): then the whole group is skipped. `false`
    /// when the registry could not be reached.
    async fn delete_group(&self, group: i64, actor: &str) -> Result<bool, RunError> {
        let items: Vec<ItemRow> = {
            let mut conn = self.state.db.pool.acquire().await?;
            store::group_items(&mut conn, &self.id, group).await?
        };
        for item in &items {
            let now = queries::tags_of(&self.state.db, &item.repository, &item.digest).await?;
            let planned = item.tags();
            if now.iter().any(|tag| !planned.contains(tag)) {
                for item in items.iter().filter(|i| i.state == "planned") {
                    self.mark(item, "skipped", Some("changed since it was planned: kept".into()))
                        .await?;
                }
                return Ok(true);
            }
        }
        for item in items.iter().filter(|i| i.state == "planned") {
            match self.delete_item(item, actor).await {
                Ok(()) => self.mark(item, "deleted", None).await?,
                Err(err) => {
                    let unreachable = matches!(err, DeleteError::Registry(RegistryError::Unreachable { .. }));
                    self.mark(item, "failed", Some(err.to_string())).await?;
                    // The group's next items go only with this one.
                    return Ok(!unreachable);
                }
            }
        }
        Ok(true)
    }

    async fn delete_item(&self, item: &ItemRow, actor: &str) -> Result<(), DeleteError> {
        let repository = RepositoryName::parse(&item.repository)?;
        let digest = Digest::parse(&item.digest)?;
        deletion::delete_image(self.state, &repository, &digest, actor).await?;
        Ok(())
    }

    async fn mark(&self, item: &ItemRow, state: &str, error: Option<String>) -> Result<(), RunError> {
        let mut tx = self.state.db.begin_write().await?;
        self.renew(&mut tx).await?;
        sqlx::query("UPDATE retention_run_items SET state = $3, error = $4 WHERE run_id = $1 AND seq = $2")
            .bind(&self.id)
            .bind(item.seq)
            .bind(state)
            .bind(&error)
            .execute(&mut *tx)
            .await?;
        let counter = match state {
            "deleted" => sqlx::query(
                "UPDATE retention_runs SET images_deleted = images_deleted + 1, bytes_deleted = bytes_deleted + $2 WHERE id = $1",
            )
            .bind(&self.id)
            .bind(item.size_bytes),
            "failed" => sqlx::query("UPDATE retention_runs SET images_failed = images_failed + 1 WHERE id = $1").bind(&self.id),
            _ => sqlx::query("UPDATE retention_runs SET images_skipped = images_skipped + 1 WHERE id = $1").bind(&self.id),
        };
        counter.execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn set_status(&self, status: &str) -> Result<(), RunError> {
        let mut tx = self.state.db.begin_write().await?;
        self.renew(&mut tx).await?;
        sqlx::query("UPDATE retention_runs SET status = $2 WHERE id = $1")
            .bind(&self.id)
            .bind(status)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Extends the lease, in the transaction about to write; the run is lost when another
    /// worker holds it.
    async fn renew(&self, conn: &mut AnyConnection) -> Result<(), RunError> {
        renew(conn, &self.id, &self.token).await
    }

    async fn count(&self, sql: &str) -> Result<i64, sqlx::Error> {
        sqlx::query_scalar(sql)
            .bind(&self.id)
            .fetch_one(&self.state.db.pool)
            .await
    }

    /// Ends the run, frees the policy for the next, and records it in the audit log.
    async fn finish(&self, status: &str, error: Option<&str>) -> Result<(), sqlx::Error> {
        let mut tx = self.state.db.begin_write().await?;
        let skipped = store::skipped_count(&mut tx, &self.id).await?;
        let done = sqlx::query(
            "UPDATE retention_runs SET status = $3, finished_at = $4, last_error = $5, active_policy = NULL, \
             claimed_by = NULL, lease_until = NULL, \
             images_skipped = $6 WHERE id = $1 AND claimed_by = $2",
        )
        .bind(&self.id)
        .bind(&self.token)
        .bind(status)
        .bind(now_ms())
        .bind(error)
        .bind(skipped)
        .execute(&mut *tx)
        .await?;
        let run = store::run(&mut tx, &self.id).await?;
        if let Some(run) = &run {
            store::prune_items(&mut tx, &run.policy_id, RUNS_WITH_ITEMS).await?;
        }
        tx.commit().await?;
        if let (1, Some(run)) = (done.rows_affected(), run) {
            // The policy once, for the audit entry and the live update (it may be gone).
            let policy = self.load().await.ok().map(|(_, p)| p);
            let name = policy.as_ref().map_or(run.policy_id.as_str(), |p| p.name.as_str());
            self.audit(&run, name).await;
            let scope = policy.map(|p| p.scope).unwrap_or_default();
            self.state
                .notifier
                .publish(Signal::Live(IndexUpdate::Housekeeping { scope }));
        }
        Ok(())
    }

    async fn audit(&self, run: &RunRow, policy: &str) {
        let what = if run.dry_run == 1 { "dry run" } else { "run" };
        let detail = format!(
            "{what} {}: {} removed{}, {} kept, {} failed{}",
            run.status,
            if run.dry_run == 1 {
                run.images_removed
            } else {
                run.images_deleted
            },
            if run.dry_run == 1 { " (planned)" } else { "" },
            run.images_kept,
            run.images_failed,
            if run.capped == 1 {
                "; stopped at the policy's cap"
            } else {
                ""
            },
        );
        audit::record(
            &self.state.db,
            audit::Entry {
                actor: &run.actor,
                action: AuditAction::RetentionRun,
                target: policy,
                detail: &detail,
                address: None,
            },
        )
        .await;
    }

    fn progress(&self, policy: &PolicyRow) {
        self.state.notifier.publish(Signal::Live(IndexUpdate::Housekeeping {
            scope: policy.scope.clone(),
        }));
    }
}

/// Extends the lease of run `id` held with `token`, in the transaction about to write.
async fn renew(conn: &mut AnyConnection, id: &str, token: &str) -> Result<(), RunError> {
    let done = sqlx::query("UPDATE retention_runs SET lease_until = $3 WHERE id = $1 AND claimed_by = $2")
        .bind(id)
        .bind(token)
        .bind(now_ms() + LEASE.as_millis() as i64)
        .execute(&mut *conn)
        .await?;
    if done.rows_affected() == 1 {
        Ok(())
    } else {
        Err(RunError::Lost)
    }
}

async fn record_tally(conn: &mut AnyConnection, id: &str, tally: &Tally, done: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE retention_runs SET repositories_done = $2, images_kept = $3, images_removed = $4, \
         images_skipped = $5, bytes_removed = $6, capped = $7 WHERE id = $1",
    )
    .bind(id)
    .bind(done)
    .bind(tally.kept)
    .bind(tally.removed)
    .bind(tally.skipped)
    .bind(tally.bytes_removed)
    .bind(i64::from(tally.capped))
    .execute(conn)
    .await?;
    Ok(())
}
