//! The audit log: sign-ins (and failures), changes to users, teams, roles, robots, tokens and
//! webhooks, deletes, and refused token requests. Recording never fails the action it records
//! (a failure is logged). Refused tokens and failed sign-ins that repeat exactly (same actor,
//! target, address and detail) within an hour share a row with a count, and one address gets at
//! most [`MAX_DISTINCT_PER_ADDRESS_HOUR`] distinct rows of a kind per hour (the rest are counted
//! together), so a pull loop or a flood of guesses cannot flood the log.

use sqlx::FromRow;

use super::db::{now_ms, Db};

/// What happened. Stored as its `as_str`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditAction {
    SignIn,
    SignInFailed,
    TokenDenied,
    RoleAssigned,
    RoleRemoved,
    UserCreated,
    UserDisabled,
    UserEnabled,
    PasswordReset,
    PasswordChanged,
    TeamCreated,
    TeamDeleted,
    TeamMemberAdded,
    TeamMemberRemoved,
    RobotCreated,
    RobotSecretRegenerated,
    RobotEnabled,
    RobotDisabled,
    RobotDeleted,
    AccessTokenCreated,
    AccessTokenRevoked,
    WebhookSaved,
    WebhookDeleted,
    WebhookSecretRotated,
    TagDeleted,
    ImageDeleted,
    SsoSettingsSaved,
    RetentionPolicySaved,
    RetentionPolicyDeleted,
    RetentionRun,
    GarbageCollection,
    GcScheduleChanged,
}

impl AuditAction {
    pub const ALL: [AuditAction; 32] = [
        AuditAction::SignIn,
        AuditAction::SignInFailed,
        AuditAction::TokenDenied,
        AuditAction::RoleAssigned,
        AuditAction::RoleRemoved,
        AuditAction::UserCreated,
        AuditAction::UserDisabled,
        AuditAction::UserEnabled,
        AuditAction::PasswordReset,
        AuditAction::PasswordChanged,
        AuditAction::TeamCreated,
        AuditAction::TeamDeleted,
        AuditAction::TeamMemberAdded,
        AuditAction::TeamMemberRemoved,
        AuditAction::RobotCreated,
        AuditAction::RobotSecretRegenerated,
        AuditAction::RobotEnabled,
        AuditAction::RobotDisabled,
        AuditAction::RobotDeleted,
        AuditAction::AccessTokenCreated,
        AuditAction::AccessTokenRevoked,
        AuditAction::WebhookSaved,
        AuditAction::WebhookDeleted,
        AuditAction::WebhookSecretRotated,
        AuditAction::TagDeleted,
        AuditAction::ImageDeleted,
        AuditAction::SsoSettingsSaved,
        AuditAction::RetentionPolicySaved,
        AuditAction::RetentionPolicyDeleted,
        AuditAction::RetentionRun,
        AuditAction::GarbageCollection,
        AuditAction::GcScheduleChanged,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AuditAction::SignIn => "sign-in",
            AuditAction::SignInFailed => "sign-in failed",
            AuditAction::TokenDenied => "token denied",
            AuditAction::RoleAssigned => "role assigned",
            AuditAction::RoleRemoved => "role removed",
            AuditAction::UserCreated => "user created",
            AuditAction::UserDisabled => "user disabled",
            AuditAction::UserEnabled => "user enabled",
            AuditAction::PasswordReset => "password reset",
            AuditAction::PasswordChanged => "password changed",
            AuditAction::TeamCreated => "team created",
            AuditAction::TeamDeleted => "team deleted",
            AuditAction::TeamMemberAdded => "team member added",
            AuditAction::TeamMemberRemoved => "team member removed",
            AuditAction::RobotCreated => "robot created",
            AuditAction::RobotSecretRegenerated => "robot secret regenerated",
            AuditAction::RobotEnabled => "robot enabled",
            AuditAction::RobotDisabled => "robot disabled",
            AuditAction::RobotDeleted => "robot deleted",
            AuditAction::AccessTokenCreated => "access token created",
            AuditAction::AccessTokenRevoked => "access token revoked",
            AuditAction::WebhookSaved => "webhook saved",
            AuditAction::WebhookDeleted => "webhook deleted",
            AuditAction::WebhookSecretRotated => "webhook secret rotated",
            AuditAction::TagDeleted => "tag deleted",
            AuditAction::ImageDeleted => "image deleted",
            AuditAction::SsoSettingsSaved => "single sign-on changed",
            AuditAction::RetentionPolicySaved => "retention policy saved",
            AuditAction::RetentionPolicyDeleted => "retention policy deleted",
            AuditAction::RetentionRun => "retention run",
            AuditAction::GarbageCollection => "garbage collection",
            AuditAction::GcScheduleChanged => "garbage collection schedule changed",
        }
    }

    pub fn parse(text: &str) -> Option<AuditAction> {
        AuditAction::ALL.into_iter().find(|a| a.as_str() == text)
    }

    /// Entries of these kinds are counted per identical entry and hour instead of one row each.
    fn aggregated(self) -> bool {
        matches!(self, AuditAction::TokenDenied | AuditAction::SignInFailed)
    }
}

/// One thing to record.
#[derive(Debug, Clone)]
pub struct Entry<'a> {
    pub actor: &'a str,
    pub action: AuditAction,
    pub target: &'a str,
    pub detail: &'a str,
    pub address: Option<std::net::IpAddr>,
}

/// User-supplied text is cut to this many characters (a name can be a megabyte of garbage).
const MAX_TEXT: usize = 200;

fn bounded(text: &str) -> String {
    text.chars().filter(|c| !c.is_control()).take(MAX_TEXT).collect()
}

/// Records a sign-in to the console (`how`: "" for a password, "single sign-on").
pub async fn signed_in(db: &Db, username: &str, how: &str, address: Option<std::net::IpAddr>) {
    record(
        db,
        Entry {
            actor: username,
            action: AuditAction::SignIn,
            target: "console",
            detail: how,
            address,
        },
    )
    .await;
}

/// Records `entry`; a database failure is logged, not returned.
pub async fn record(db: &Db, entry: Entry<'_>) {
    if let Err(err) = write(db, &entry).await {
        tracing::warn!(error = %err, action = entry.action.as_str(), "could not write the audit log");
    }
}

/// Distinct rows of one aggregated kind kept apart per client address and hour; further ones
/// from that address are counted in one overflow row (a flood of made-up names or scopes is a
/// count, not thousands of rows).
pub const MAX_DISTINCT_PER_ADDRESS_HOUR: i64 = 20;

async fn write(db: &Db, entry: &Entry<'_>) -> Result<(), sqlx::Error> {
    let now = now_ms();
    let row = Row {
        actor: bounded(entry.actor),
        target: bounded(entry.target),
        detail: bounded(entry.detail),
        address: entry.address.map(|a| a.to_string()).unwrap_or_default(),
        action: entry.action.as_str(),
    };
    if !entry.action.aggregated() {
        return insert(db, now, &row, None).await;
    }
    let hour = now / 3_600_000;
    let bucket = row.bucket(hour);
    // Only identical entries (same actor, target, address and detail) share a row.
    let merged = sqlx::query("UPDATE audit_log SET count = count + 1, at = $1 WHERE bucket = $2")
        .bind(now)
        .bind(&bucket)
        .execute(&db.pool)
        .await?
        .rows_affected();
    if merged > 0 {
        return Ok(());
    }
    let (kept,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM audit_log WHERE address = $1 AND at >= $2 AND action = $3 AND bucket IS NOT NULL",
    )
    .bind(&row.address)
    .bind(hour * 3_600_000)
    .bind(row.action)
    .fetch_one(&db.pool)
    .await?;
    if kept < MAX_DISTINCT_PER_ADDRESS_HOUR {
        return insert(db, now, &row, Some(bucket)).await;
    }
    let overflow = Row {
        actor: "(several)".into(),
        target: "(several)".into(),
        detail: "more distinct entries from this address this hour than are kept apart".into(),
        ..row
    };
    let bucket = overflow.bucket(hour);
    insert(db, now, &overflow, Some(bucket)).await
}

/// An entry's columns, bounded.
struct Row {
    actor: String,
    action: &'static str,
    target: String,
    detail: String,
    address: String,
}

impl Row {
    fn bucket(&self, hour: i64) -> String {
        let Row {
            actor,
            action,
            target,
            detail,
            address,
        } = self;
        format!("{action}\u{1f}{actor}\u{1f}{target}\u{1f}{address}\u{1f}{hour}\u{1f}{detail}")
    }
}

/// Inserts a row; with a bucket, one written meanwhile by another request is counted instead.
async fn insert(db: &Db, now: i64, row: &Row, bucket: Option<String>) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO audit_log (id, at, actor, action, target, detail, address, count, bucket) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, 1, $8) \
         ON CONFLICT (bucket) DO UPDATE SET count = audit_log.count + 1, at = excluded.at",
    )
    .bind(uuid::Uuid::now_v7().to_string())
    .bind(now)
    .bind(&row.actor)
    .bind(row.action)
    .bind(&row.target)
    .bind(&row.detail)
    .bind(&row.address)
    .bind(bucket)
    .execute(&db.pool)
    .await?;
    Ok(())
}

#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct AuditRow {
    pub id: String,
    pub at: i64,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub detail: String,
    pub address: String,
    pub count: i64,
}

/// What the audit page asks for.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub actor: String,
    pub action: Option<AuditAction>,
    /// Only entries at or after this time (Unix ms).
    pub since_ms: Option<i64>,
    /// Only entries older than this one (the page's cursor: time and id).
    pub before: Option<(i64, String)>,
}

pub const PAGE_SIZE: i64 = 50;

/// Newest first, at most [`PAGE_SIZE`].
pub async fn list(db: &Db, filter: &AuditFilter) -> Result<Vec<AuditRow>, sqlx::Error> {
    let mut conditions = vec!["(at < $1 OR (at = $1 AND id < $2))".to_string(), "at >= $3".to_string()];
    let mut texts = Vec::new();
    if !filter.actor.trim().is_empty() {
        texts.push(filter.actor.trim().to_string());
        conditions.push(format!("actor = ${}", texts.len() + 3));
    }
    if let Some(action) = filter.action {
        texts.push(action.as_str().to_string());
        conditions.push(format!("action = ${}", texts.len() + 3));
    }
    let sql = format!(
        "SELECT id, at, actor, action, target, detail, address, count FROM audit_log WHERE {} \
         ORDER BY at DESC, id DESC LIMIT {PAGE_SIZE}",
        conditions.join(" AND ")
    );
    let (before_at, before_id) = filter.before.clone().unwrap_or((i64::MAX, "\u{10FFFF}".to_string()));
    let mut query = sqlx::query_as(&sql)
        .bind(before_at)
        .bind(before_id)
        .bind(filter.since_ms.unwrap_or(0));
    for text in texts {
        query = query.bind(text);
    }
    query.fetch_all(&db.pool).await
}

/// Removes entries older than `before_ms`.
pub async fn prune(db: &Db, before_ms: i64) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query("DELETE FROM audit_log WHERE at < $1")
        .bind(before_ms)
        .execute(&db.pool)
        .await?
        .rows_affected())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_round_trip_and_text_is_bounded() {
        for action in AuditAction::ALL {
            assert_eq!(AuditAction::parse(action.as_str()), Some(action));
        }
        assert_eq!(bounded(&"x".repeat(10_000)).len(), MAX_TEXT);
        assert_eq!(bounded("a\nb\u{1b}[31m"), "ab[31m");
    }
}
