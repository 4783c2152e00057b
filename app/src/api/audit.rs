//! The audit log, for registry administrators: newest first, by actor, action and date.

use leptos::prelude::*;

use crate::model::{AppError, AuditPage};

/// A page of the audit log. `since` is a date (`2026-11-28`, UTC) or empty; `cursor` comes from
/// the previous page's `next`.
#[server(prefix = "/api", endpoint = "audit")]
pub async fn read_audit_log(
    actor: String,
    action: String,
    since: String,
    cursor: String,
) -> Result<AuditPage, AppError> {
    use crate::backend::access::{Action, Target};
    use crate::backend::audit::{self, AuditAction, AuditFilter, PAGE_SIZE};
    use crate::backend::session;
    use crate::model::AuditEntryView;
    crate::backend::responses::with_status(
        async move {
            let (state, _) = session::authorize(Target::Registry, Action::Administer, "read the audit log").await?;
            if actor.len() > 256 || cursor.len() > 128 {
                return Err(AppError::BadRequest("The filter is too long.".into()));
            }
            let action = match action.trim() {
                "" => None,
                text => Some(
                    AuditAction::parse(text)
                        .ok_or_else(|| AppError::BadRequest(format!("{text:?} is not an action in the log.")))?,
                ),
            };
            let since_ms = match since.trim() {
                "" => None,
                text => {
                    let format = time::macros::format_description!("[year]-[month]-[day]");
                    let date = time::Date::parse(text, &format)
                        .map_err(|_| AppError::BadRequest("Give the date as YYYY-MM-DD.".into()))?;
                    Some(date.midnight().assume_utc().unix_timestamp() * 1000)
                }
            };
            let before = match cursor.split_once(':') {
                Some((at, id)) => Some((
                    at.parse::<i64>()
                        .map_err(|_| AppError::BadRequest("That page link is broken; start again.".into()))?,
                    id.to_string(),
                )),
                None => None,
            };
            let rows = audit::list(
                &state.db,
                &AuditFilter {
                    actor,
                    action,
                    since_ms,
                    before,
                },
            )
            .await?;
            let next = (rows.len() as i64 == PAGE_SIZE)
                .then(|| rows.last().map(|r| format!("{}:{}", r.at, r.id)))
                .flatten();
            Ok(AuditPage {
                entries: rows
                    .into_iter()
                    .map(|r| AuditEntryView {
                        id: r.id,
                        at_ms: r.at,
                        actor: r.actor,
                        action: r.action,
                        target: r.target,
                        detail: r.detail,
                        address: r.address,
                        count: r.count,
                    })
                    .collect(),
                next,
                actions: AuditAction::ALL.iter().map(|a| a.as_str().to_string()).collect(),
                retention_days: state.settings.audit_retention.as_secs() / 86_400,
            })
        }
        .await,
    )
    .await
}
