//! Retention policy server functions. A policy belongs to an access scope; whoever may delete
//! images over all of it (Contributor, Owner, administrator) sees and manages it, starts its
//! runs and reads their plans. One they may not manage is "not found".

// The save function takes the form's fields one by one, as the form posts them.
#![allow(clippy::too_many_arguments)]

use leptos::prelude::*;

use crate::model::{AppError, RetentionItemsPage, RetentionOverview, RetentionPolicyDetail};

#[cfg(feature = "ssr")]
mod server {
    use crate::backend::access::{Action, Scope, Target};
    use crate::backend::housekeeping::retention::{rules, schedule, store};
    use crate::backend::session::{self, Caller};
    use crate::backend::AppState;
    use crate::model::{AppError, RetentionItemView, RetentionPolicyView, RetentionRules, RetentionRunView};

    pub const MAX_NAME: usize = 100;
    pub const MAX_TAGS_TEXT: usize = 4_096;
    pub const DEFAULT_MAX_DELETIONS: i64 = 1_000;
    pub const MAX_DELETIONS_LIMIT: i64 = 100_000;
    pub const RUNS_SHOWN: i64 = 20;
    pub const ITEMS_PAGE: i64 = 100;

    pub use session::internal;

    /// Every retention function starts here: a signed-in caller who may delete somewhere.
    pub async fn authorize() -> Result<(AppState, Caller), AppError> {
        let (state, caller) = session::signed_in().await?;
        if caller.grants.scopes_for(Action::Delete).is_empty() {
            return Err(AppError::Forbidden(
                "manage retention policies (delete images somewhere)".into(),
            ));
        }
        Ok((state, caller))
    }

    /// May the caller delete over all of `scope` (its text)?
    pub fn require_scope(caller: &Caller, scope: &str) -> Result<Scope, AppError> {
        let parsed = Scope::parse(scope).map_err(|e| AppError::BadRequest(format!("Scope: {e}")))?;
        caller.require(
            Target::Within(&parsed),
            Action::Delete,
            &format!("delete images in {}", parsed.describe()),
        )?;
        Ok(parsed)
    }

    pub fn scopes(caller: &Caller) -> Vec<(String, String)> {
        caller
            .grants
            .scopes_for(Action::Delete)
            .iter()
            .map(|s| (s.to_text(), s.describe()))
            .collect()
    }

    /// The policy `id`, once the caller may manage it.
    pub async fn policy(state: &AppState, caller: &Caller, id: &str) -> Result<store::PolicyRow, AppError> {
        let mut conn = state.db.pool.acquire().await.map_err(internal)?;
        store::policy(&mut conn, id)
            .await
            .map_err(internal)?
            .filter(|p| require_scope(caller, &p.scope).is_ok())
            .ok_or_else(|| AppError::NotFound("That retention policy".into()))
    }

    pub fn policy_view(row: &store::PolicyRow, last_run: Option<RetentionRunView>) -> RetentionPolicyView {
        RetentionPolicyView {
            id: row.id.clone(),
            name: row.name.clone(),
            scope: row.scope.clone(),
            scope_label: Scope::parse(&row.scope)
                .map(|s| s.describe())
                .unwrap_or_else(|_| row.scope.clone()),
            rules: row.rules().unwrap_or_default(),
            schedule: row.schedule.clone(),
            schedule_text: row.schedule.as_deref().and_then(schedule::describe),
            next_run_at: row.next_run_at,
            max_deletions: row.max_deletions,
            last_run,
        }
    }

    pub fn run_view(row: store::RunRow) -> RetentionRunView {
        RetentionRunView {
            id: row.id,
            dry_run: row.dry_run == 1,
            trigger: row.trigger_kind,
            actor: row.actor,
            status: row.status,
            requested_at: row.requested_at,
            started_at: row.started_at,
            finished_at: row.finished_at,
            repositories_total: row.repositories_total,
            repositories_done: row.repositories_done,
            images_kept: row.images_kept,
            images_removed: row.images_removed,
            images_deleted: row.images_deleted,
            images_failed: row.images_failed,
            images_skipped: row.images_skipped,
            bytes_removed: row.bytes_removed,
            bytes_freed: row.bytes_freed,
            bytes_deleted: row.bytes_deleted,
            capped: row.capped == 1,
            error: row.last_error,
        }
    }

    pub fn item_view(row: store::ItemRow) -> RetentionItemView {
        RetentionItemView {
            seq: row.seq,
            tags: row.tags(),
            reason: row.reason().map(|r| r.describe()).unwrap_or_default(),
            repository: row.repository,
            digest: row.digest,
            pushed_at: row.pushed_at,
            last_pulled_at: row.last_pulled_at,
            size_bytes: row.size_bytes,
            keep: row.keep == 1,
            state: row.state,
            error: row.error,
        }
    }

    /// A whole number from a form field; empty is none.
    pub fn number(field: &str, what: &str) -> Result<Option<u32>, AppError> {
        let field = field.trim();
        if field.is_empty() {
            return Ok(None);
        }
        field
            .parse::<u32>()
            .map(Some)
            .map_err(|_| AppError::BadRequest(format!("{what}: a whole number is expected")))
    }

    /// The rules from the form's fields, checked.
    pub fn rules_from_form(
        keep_last: &str,
        keep_pushed_days: &str,
        keep_pulled_days: &str,
        keep_tags: &str,
        keep_latest: bool,
        remove_untagged: bool,
    ) -> Result<RetentionRules, AppError> {
        if keep_tags.len() > MAX_TAGS_TEXT {
            return Err(AppError::BadRequest(format!(
                "Tag patterns: at most {MAX_TAGS_TEXT} characters"
            )));
        }
        let rules = RetentionRules {
            keep_last: number(keep_last, "Keep the last")?,
            keep_pushed_days: number(keep_pushed_days, "Pushed within")?,
            keep_pulled_days: number(keep_pulled_days, "Pulled within")?,
            keep_tags: keep_tags
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(String::from)
                .collect(),
            keep_latest,
            remove_untagged,
        };
        rules::check(&rules).map_err(|e| AppError::BadRequest(e.to_string()))?;
        Ok(rules)
    }

    pub async fn last_run(state: &AppState, policy_id: &str) -> Result<Option<RetentionRunView>, AppError> {
        let mut conn = state.db.pool.acquire().await.map_err(internal)?;
        let runs = store::runs(&mut conn, policy_id, i64::MAX, 1).await.map_err(internal)?;
        Ok(runs.into_iter().next().map(run_view))
    }
}

/// The policies the caller may manage.
#[server(prefix = "/api", endpoint = "retention_policies")]
pub async fn list_retention_policies() -> Result<RetentionOverview, AppError> {
    use crate::backend::housekeeping::retention::store;
    use server::*;
    crate::backend::responses::with_status(
        async move {
            let (state, caller) = authorize().await?;
            let rows = store::policies(&mut *state.db.pool.acquire().await.map_err(internal)?)
                .await
                .map_err(internal)?;
            let mut policies = Vec::new();
            for row in rows.iter().filter(|p| require_scope(&caller, &p.scope).is_ok()) {
                policies.push(policy_view(row, last_run(&state, &row.id).await?));
            }
            Ok(RetentionOverview {
                policies,
                scopes: scopes(&caller),
            })
        }
        .await,
    )
    .await
}

/// One policy with its newest runs.
#[server(prefix = "/api", endpoint = "retention_policy")]
pub async fn retention_policy_page(id: String) -> Result<RetentionPolicyDetail, AppError> {
    use crate::backend::housekeeping::retention::store;
    use server::*;
    crate::backend::responses::with_status(
        async move {
            let (state, caller) = authorize().await?;
            let row = policy(&state, &caller, &id).await?;
            let mut conn = state.db.pool.acquire().await.map_err(internal)?;
            let runs: Vec<_> = store::runs(&mut conn, &id, i64::MAX, RUNS_SHOWN)
                .await
                .map_err(internal)?
                .into_iter()
                .map(run_view)
                .collect();
            Ok(RetentionPolicyDetail {
                policy: policy_view(&row, runs.first().cloned()),
                runs,
                scopes: scopes(&caller),
            })
        }
        .await,
    )
    .await
}

/// Creates (empty `id`) or changes a policy; answers its id.
#[server(prefix = "/api", endpoint = "save_retention_policy")]
pub async fn save_retention_policy(
    id: String,
    name: String,
    scope: String,
    keep_last: String,
    keep_pushed_days: String,
    keep_pulled_days: String,
    keep_tags: String,
    keep_latest: Option<String>,
    remove_untagged: Option<String>,
    schedule: String,
    max_deletions: String,
) -> Result<String, AppError> {
    use crate::backend::audit::AuditAction;
    use crate::backend::db::now_ms;
    use crate::backend::housekeeping::retention::{schedule as cron, store};
    use server::*;
    crate::backend::responses::with_status(
        async move {
            let (state, caller) = authorize().await?;
            let name = name.trim().to_string();
            if name.is_empty() || name.chars().count() > MAX_NAME {
                return Err(AppError::BadRequest(format!("Name: 1 to {MAX_NAME} characters")));
            }
            let scope = require_scope(&caller, scope.trim())?.to_text();
            let rules = rules_from_form(
                &keep_last,
                &keep_pushed_days,
                &keep_pulled_days,
                &keep_tags,
                keep_latest.is_some(),
                remove_untagged.is_some(),
            )?;
            let schedule = Some(schedule.trim().to_string()).filter(|s| !s.is_empty());
            if let Some(expression) = &schedule {
                cron::parse(expression).map_err(|e| AppError::BadRequest(format!("Schedule: {e}")))?;
            }
            let max_deletions = match number(&max_deletions, "Delete at most")? {
                None => DEFAULT_MAX_DELETIONS,
                Some(n) if (1..=MAX_DELETIONS_LIMIT).contains(&i64::from(n)) => i64::from(n),
                Some(_) => {
                    return Err(AppError::BadRequest(format!(
                        "Delete at most: 1 to {MAX_DELETIONS_LIMIT}"
                    )))
                }
            };
            let now = now_ms();
            let mut row = store::PolicyRow {
                id: uuid::Uuid::new_v4().to_string(),
                name,
                scope,
                rules: store::rules_json(&rules),
                next_run_at: schedule.as_deref().and_then(|s| cron::next_after(s, now)),
                schedule,
                max_deletions,
                created_by: caller.user.username.clone(),
                created_at: now,
                updated_at: now,
            };
            let mut tx = state.db.begin_write().await.map_err(internal)?;
            let detail = if id.is_empty() {
                store::insert_policy(&mut tx, &row).await.map_err(internal)?;
                "created"
            } else {
                let current = policy(&state, &caller, &id).await?;
                row.id = current.id;
                row.created_by = current.created_by;
                row.created_at = current.created_at;
                store::update_policy(&mut tx, &row).await.map_err(internal)?;
                "changed"
            };
            tx.commit().await.map_err(internal)?;
            let detail = format!("{detail}: {} in {}; {}", row.name, row.scope, rules.summary());
            caller
                .audit(&state, AuditAction::RetentionPolicySaved, &row.name, &detail)
                .await;
            Ok(row.id)
        }
        .await,
    )
    .await
}

/// Deletes a policy with its run history (refused while a run of it is going).
#[server(prefix = "/api", endpoint = "delete_retention_policy")]
pub async fn delete_retention_policy(id: String) -> Result<(), AppError> {
    use crate::backend::audit::AuditAction;
    use crate::backend::housekeeping::retention::store;
    use server::*;
    crate::backend::responses::with_status(
        async move {
            let (state, caller) = authorize().await?;
            let row = policy(&state, &caller, &id).await?;
            let mut tx = state.db.begin_write().await.map_err(internal)?;
            if !store::delete_policy(&mut tx, &id).await.map_err(internal)? {
                return Err(AppError::BadRequest(
                    "A run of this policy is going: wait until it ends.".into(),
                ));
            }
            tx.commit().await.map_err(internal)?;
            caller
                .audit(&state, AuditAction::RetentionPolicyDeleted, &row.name, &row.scope)
                .await;
            Ok(())
        }
        .await,
    )
    .await
}

/// Starts a dry run or a real run of a policy; answers the run's id.
#[server(prefix = "/api", endpoint = "start_retention_run")]
pub async fn start_retention_run(id: String, dry_run: bool) -> Result<String, AppError> {
    use crate::backend::audit::AuditAction;
    use crate::backend::housekeeping::retention::store::{self, RequestError};
    use server::*;
    crate::backend::responses::with_status(
        async move {
            let (state, caller) = authorize().await?;
            let row = policy(&state, &caller, &id).await?;
            let run = match store::request_run(&state.db, &row.id, dry_run, "manual", &caller.user.username).await {
                Ok(run) => run,
                Err(RequestError::Busy) => {
                    return Err(AppError::BadRequest("A run of this policy is already going.".into()))
                }
                Err(RequestError::Database(err)) => return Err(internal(err)),
            };
            let what = if dry_run { "dry run started" } else { "run started" };
            caller.audit(&state, AuditAction::RetentionRun, &row.name, what).await;
            Ok(run)
        }
        .await,
    )
    .await
}

/// A page of a run's decided images: `filter` is `all`, `removed` or `kept`.
#[server(prefix = "/api", endpoint = "retention_run_items")]
pub async fn retention_run_items(run_id: String, filter: String, after: i64) -> Result<RetentionItemsPage, AppError> {
    use crate::backend::housekeeping::retention::store::{self, ItemFilter};
    use server::*;
    crate::backend::responses::with_status(
        async move {
            let (state, caller) = authorize().await?;
            let mut conn = state.db.pool.acquire().await.map_err(internal)?;
            let run = store::run(&mut conn, &run_id)
                .await
                .map_err(internal)?
                .ok_or_else(|| AppError::NotFound("That run".into()))?;
            drop(conn);
            policy(&state, &caller, &run.policy_id).await?;
            let filter = match filter.as_str() {
                "removed" => ItemFilter::Removed,
                "kept" => ItemFilter::Kept,
                _ => ItemFilter::All,
            };
            let mut conn = state.db.pool.acquire().await.map_err(internal)?;
            let rows = store::items(&mut conn, &run_id, filter, after.max(0), ITEMS_PAGE + 1)
                .await
                .map_err(internal)?;
            let next = (rows.len() as i64 > ITEMS_PAGE).then(|| rows[ITEMS_PAGE as usize - 1].seq);
            let items = rows.into_iter().take(ITEMS_PAGE as usize).map(item_view).collect();
            Ok(RetentionItemsPage {
                run: run_view(run),
                items,
                next,
            })
        }
        .await,
    )
    .await
}
