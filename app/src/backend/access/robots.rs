//! Robot accounts: a name and a generated secret for CI and Kubernetes. They sign in to the
//! registry only, never to the console; their roles come from assignments like everyone's.

use sqlx::{FromRow, Row};

use super::secrets::{self, SecretKind};
use crate::backend::db::{now_ms, Db};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Robot {
    pub id: String,
    pub name: String,
}

/// A robot as listed (never with its secret).
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct RobotRecord {
    pub id: String,
    pub name: String,
    pub description: String,
    /// Where it belongs (a scope's text form, see `Scope`).
    pub scope: String,
    pub enabled: i64,
    pub expires_at: Option<i64>,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

impl RobotRecord {
    pub fn usable_at(&self, now: i64) -> bool {
        self.enabled != 0 && self.expires_at.is_none_or(|at| at > now)
    }
}

const COLUMNS: &str = "id, name, description, scope, enabled, expires_at, created_at, last_used_at";

/// Robot and user names: lower-case letters, digits, `.`, `_`, `-`; no `$` or spaces, so they
/// need no quoting in a shell or YAML.
pub fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-'))
}

#[derive(Debug, thiserror::Error)]
pub enum RobotError {
    #[error("a user or robot named {0:?} already exists")]
    Taken(String),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// Creates a robot; returns it with its secret, which is shown once and never stored.
pub async fn create(
    db: &Db,
    name: &str,
    description: &str,
    scope: &super::Scope,
    expires_at: Option<i64>,
) -> Result<(RobotRecord, String), RobotError> {
    let mut tx = db.begin_write().await?;
    let taken =
        sqlx::query("SELECT 1 AS x FROM users WHERE username = $1 UNION ALL SELECT 1 AS x FROM robots WHERE name = $1")
            .bind(name)
            .fetch_optional(&mut *tx)
            .await?
            .is_some();
    if taken {
        return Err(RobotError::Taken(name.to_string()));
    }
    let (secret, hash) = secrets::generate(SecretKind::Robot);
    let record = RobotRecord {
        id: uuid::Uuid::new_v4().to_string(),
        name: name.to_string(),
        description: description.to_string(),
        scope: scope.to_text(),
        enabled: 1,
        expires_at,
        created_at: now_ms(),
        last_used_at: None,
    };
    sqlx::query(
        "INSERT INTO robots (id, name, description, scope, secret_hash, enabled, expires_at, created_at) \
         VALUES ($1, $2, $3, $4, $5, 1, $6, $7)",
    )
    .bind(&record.id)
    .bind(&record.name)
    .bind(&record.description)
    .bind(&record.scope)
    .bind(&hash)
    .bind(record.expires_at)
    .bind(record.created_at)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok((record, secret))
}

pub async fn list(db: &Db) -> Result<Vec<RobotRecord>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM robots ORDER BY name"))
        .fetch_all(&db.pool)
        .await
}

pub async fn find_by_name(db: &Db, name: &str) -> Result<Option<RobotRecord>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM robots WHERE name = $1"))
        .bind(name)
        .fetch_optional(&db.pool)
        .await
}

pub async fn find(db: &Db, id: &str) -> Result<Option<RobotRecord>, sqlx::Error> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM robots WHERE id = $1"))
        .bind(id)
        .fetch_optional(&db.pool)
        .await
}

/// The robot named `name` if `secret` is its current secret and it is enabled and unexpired,
/// with when it expires (ms).
pub async fn authenticate(db: &Db, name: &str, secret: &str) -> Result<Option<(Robot, Option<i64>)>, sqlx::Error> {
    let row = sqlx::query(&format!("SELECT {COLUMNS}, secret_hash FROM robots WHERE name = $1"))
        .bind(name)
        .fetch_optional(&db.pool)
        .await?;
    let Some(row) = row else { return Ok(None) };
    let record = RobotRecord::from_row(&row)?;
    let stored: String = row.try_get("secret_hash")?;
    if !secrets::same_hash(&stored, &secrets::hash(secret)) || !record.usable_at(now_ms()) {
        return Ok(None);
    }
    Ok(Some((
        Robot {
            id: record.id,
            name: record.name,
        },
        record.expires_at,
    )))
}

/// A new secret; the old one (and refresh tokens got with it) stops working. `None` when there
/// is no such robot.
pub async fn regenerate(db: &Db, id: &str) -> Result<Option<String>, sqlx::Error> {
    let (secret, hash) = secrets::generate(SecretKind::Robot);
    let mut tx = db.begin_write().await?;
    let changed = sqlx::query("UPDATE robots SET secret_hash = $1 WHERE id = $2")
        .bind(hash)
        .bind(id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    // Refresh tokens got with the old secret end with it.
    sqlx::query("DELETE FROM refresh_tokens WHERE subject_kind = 'robot' AND subject_id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok((changed > 0).then_some(secret))
}

pub async fn set_enabled(db: &Db, id: &str, enabled: bool) -> Result<bool, sqlx::Error> {
    Ok(sqlx::query("UPDATE robots SET enabled = $1 WHERE id = $2")
        .bind(i64::from(enabled))
        .bind(id)
        .execute(&db.pool)
        .await?
        .rows_affected()
        > 0)
}

/// Deletes the robot, its assignments and refresh tokens.
pub async fn delete(db: &Db, id: &str) -> Result<bool, sqlx::Error> {
    let mut tx = db.begin_write().await?;
    for sql in [
        "DELETE FROM role_assignments WHERE subject_kind = 'robot' AND subject_id = $1",
        "DELETE FROM refresh_tokens WHERE subject_kind = 'robot' AND subject_id = $1",
    ] {
        sqlx::query(sql).bind(id).execute(&mut *tx).await?;
    }
    let deleted = sqlx::query("DELETE FROM robots WHERE id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    tx.commit().await?;
    Ok(deleted > 0)
}

#[cfg(test)]
mod tests {
    use super::valid_name;

    #[test]
    fn names_need_no_quoting() {
        for good in ["robot-ci", "ci", "a.b_c-1", "0day"] {
            assert!(valid_name(good), "{good}");
        }
        for bad in ["", "robot$ci", "Robot", "-ci", "a b", "a/b", "a:b", &"a".repeat(65)] {
            assert!(!valid_name(bad), "{bad}");
        }
    }
}
