//! Garbage collection, for administrators: the overview (runs, schedule, procedure), one run's
//! log, starting (dry or real), cancelling, the schedule, and "mark as collected" for a registry
//! Wharf does not manage.

use leptos::prelude::*;

use crate::model::{AppError, GcOverview, GcRunDetail};

#[cfg(feature = "ssr")]
mod server {
    use crate::backend::access::{Action, Target};
    use crate::backend::housekeeping::gc::{procedure, runner::StartError, store};
    use crate::backend::session::{self, Caller};
    use crate::backend::AppState;
    use crate::model::{AppError, GcRunView};

    pub async fn authorize(what: &str) -> Result<(AppState, Caller), AppError> {
        session::authorize(Target::Registry, Action::Administer, what).await
    }

    pub fn run_view(row: store::RunRow) -> GcRunView {
        GcRunView {
            id: row.id,
            actor: row.actor,
            dry_run: row.dry_run != 0,
            status: row.status,
            phase: row.phase,
            started_at_ms: row.started_at,
            finished_at_ms: row.finished_at,
            bytes_before: row.bytes_before,
            bytes_after: row.bytes_after,
            blob_count: row.blob_count,
            error: row.error,
        }
    }

    impl From<StartError> for AppError {
        fn from(err: StartError) -> AppError {
            match err {
                StartError::Database(err) => err.into(),
                other => AppError::BadRequest(other.to_string()),
            }
        }
    }

    pub fn procedure(state: &AppState) -> Vec<crate::model::ProcedureStep> {
        if state.gc.is_managed() {
            Vec::new()
        } else {
            procedure::external_steps(state.settings.registry_url.as_str())
        }
    }
}

/// The page's data: runs (page `page`, from 1), the one going on, the schedule, and in external
/// mode the procedure and the collectable bytes.
#[server(prefix = "/api", endpoint = "gc")]
pub async fn garbage_collection(page: u32) -> Result<GcOverview, AppError> {
    use crate::backend::housekeeping::gc::store;
    crate::backend::responses::with_status(
        async move {
            let (state, _) = server::authorize("see garbage collection").await?;
            let (rows, total) = store::list_runs(&state.db, page).await?;
            let schedule = store::schedule(&state.db).await?;
            let collectable = match store::collectable(&state.db).await {
                Ok(figure) => Some(figure),
                Err(err) => {
                    tracing::debug!(error = %err, "the collectable bytes cannot be computed");
                    None
                }
            };
            Ok(GcOverview {
                managed: state.gc.is_managed(),
                storage: state.gc.storage_description(),
                running: store::running(&state.db).await?.map(server::run_view),
                runs: rows.into_iter().map(server::run_view).collect(),
                page: page.max(1),
                pages: u32::try_from((total + store::PAGE_SIZE - 1) / store::PAGE_SIZE).unwrap_or(1),
                schedule: schedule.schedule,
                next_run_at_ms: schedule.next_run_at,
                schedule_updated_by: schedule.updated_by,
                collectable_blobs: collectable.map(|c| c.blobs),
                collectable_bytes: collectable.map(|c| c.bytes),
                procedure: server::procedure(&state),
            })
        }
        .await,
    )
    .await
}

/// One run with its log and the blobs it named.
#[server(prefix = "/api", endpoint = "gc_run")]
pub async fn gc_run(id: String) -> Result<GcRunDetail, AppError> {
    use crate::backend::housekeeping::gc::store;
    crate::backend::responses::with_status(
        async move {
            let (state, _) = server::authorize("see garbage collection").await?;
            if id.len() > 64 {
                return Err(AppError::NotFound("That run".into()));
            }
            let detail = store::get_run(&state.db, &id)
                .await?
                .ok_or_else(|| AppError::NotFound("That run".into()))?;
            Ok(GcRunDetail {
                run: server::run_view(detail.run),
                blobs: detail.blobs.lines().map(str::to_string).collect(),
                log: detail.log,
            })
        }
        .await,
    )
    .await
}

/// Starts a collection: `mode` is `run` (the registry goes read-only meanwhile) or `dry-run`
/// (lists what it would remove). Returns the run's id.
#[server(prefix = "/api", endpoint = "gc_start")]
pub async fn start_gc(mode: String) -> Result<String, AppError> {
    use crate::backend::housekeeping::gc::runner;
    use crate::backend::session;
    crate::backend::responses::with_status(
        async move {
            let (state, caller) = server::authorize("run garbage collection").await?;
            let dry_run = match mode.as_str() {
                "run" => false,
                "dry-run" => true,
                _ => return Err(AppError::BadRequest("Choose a run or a dry run.".into())),
            };
            let address = session::client_address().await;
            Ok(runner::start(&state, &caller.user.username, address, dry_run).await?)
        }
        .await,
    )
    .await
}

/// Stops the collector of the run `id` (the registry is made writable again).
#[server(prefix = "/api", endpoint = "gc_cancel")]
pub async fn cancel_gc(id: String) -> Result<bool, AppError> {
    crate::backend::responses::with_status(
        async move {
            let (state, _) = server::authorize("cancel garbage collection").await?;
            if state.gc.cancel(&id) {
                Ok(true)
            } else {
                Err(AppError::BadRequest(
                    "That collection is not running here (it ended, or another replica runs it).".into(),
                ))
            }
        }
        .await,
    )
    .await
}

/// Sets the schedule (cron syntax, UTC; empty: none).
#[server(prefix = "/api", endpoint = "gc_schedule")]
pub async fn save_gc_schedule(schedule: String) -> Result<Option<i64>, AppError> {
    use crate::backend::audit::{self, AuditAction};
    use crate::backend::db::now_ms;
    use crate::backend::housekeeping::gc::{schedule as cron, store};
    use crate::backend::session;
    crate::backend::responses::with_status(
        async move {
            let (state, caller) = server::authorize("schedule garbage collection").await?;
            if !state.gc.is_managed() {
                return Err(AppError::BadRequest(
                    "Wharf does not manage this registry: schedule its collector where it runs.".into(),
                ));
            }
            let schedule = schedule.trim().to_string();
            let next = if schedule.is_empty() {
                None
            } else {
                let parsed = cron::parse(&schedule).map_err(AppError::BadRequest)?;
                cron::next_after(&parsed, now_ms())
            };
            store::save_schedule(&state.db, &schedule, next, &caller.user.username).await?;
            let detail = if schedule.is_empty() {
                "none".to_string()
            } else {
                schedule.clone()
            };
            let address = session::client_address().await;
            audit::record(
                &state.db,
                audit::Entry {
                    actor: &caller.user.username,
                    action: AuditAction::GcScheduleChanged,
                    target: "garbage collection",
                    detail: &detail,
                    address,
                },
            )
            .await;
            Ok(next)
        }
        .await,
    )
    .await
}

/// A registry Wharf does not manage was collected by hand: what was collectable counts no more.
#[server(prefix = "/api", endpoint = "gc_mark_collected")]
pub async fn mark_gc_collected() -> Result<u64, AppError> {
    use crate::backend::audit::{self, AuditAction};
    use crate::backend::housekeeping::gc::store;
    use crate::backend::session;
    crate::backend::responses::with_status(
        async move {
            let (state, caller) = server::authorize("record a garbage collection").await?;
            if state.gc.is_managed() {
                return Err(AppError::BadRequest(
                    "Wharf runs this registry's collections and records them itself.".into(),
                ));
            }
            if store::collectable(&state.db).await.is_err() {
                return Err(AppError::BadRequest(
                    "The index does not record image layers yet: there is nothing to mark.".into(),
                ));
            }
            let recorded = store::record_collected(&state.db).await?;
            let address = session::client_address().await;
            audit::record(
                &state.db,
                audit::Entry {
                    actor: &caller.user.username,
                    action: AuditAction::GarbageCollection,
                    target: "registry",
                    detail: &format!("marked as collected by hand: {recorded} blobs"),
                    address,
                },
            )
            .await;
            Ok(recorded)
        }
        .await,
    )
    .await
}
