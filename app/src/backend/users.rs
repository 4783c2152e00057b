//! Local user accounts.

use sqlx::Row;

use super::db::{now_ms, Db};
use super::passwords;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: String,
    pub username: String,
    pub is_admin: bool,
}

pub const ADMIN_USERNAME: &str = "admin";

fn from_row(row: &sqlx::any::AnyRow) -> Result<User, sqlx::Error> {
    Ok(User {
        id: row.try_get("id")?,
        username: row.try_get("username")?,
        is_admin: row.try_get::<i64, _>("is_admin")? != 0,
    })
}

pub async fn count(db: &Db) -> Result<i64, sqlx::Error> {
    sqlx::query("SELECT COUNT(*) AS n FROM users")
        .fetch_one(&db.pool)
        .await?
        .try_get("n")
}

pub async fn create(db: &Db, username: &str, password: &str, is_admin: bool) -> Result<User, sqlx::Error> {
    let id = uuid::Uuid::new_v4().to_string();
    let hash = passwords::hash(password);
    let now = now_ms();
    let mut tx = db.begin_write().await?;
    sqlx::query("INSERT INTO users (id, username, password_hash, is_admin, created_at) VALUES ($1, $2, $3, $4, $5)")
        .bind(&id)
        .bind(username)
        .bind(hash)
        .bind(i64::from(is_admin))
        .bind(now)
        .execute(&mut *tx)
        .await?;
    if is_admin {
        // An administrator is an Owner of the whole registry.
        sqlx::query(
            "INSERT INTO role_assignments (id, subject_kind, subject_id, role, scope, created_at) \
             VALUES ($1, 'user', $2, 'owner', '', $3)",
        )
        .bind(format!("owner-{id}"))
        .bind(&id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(User {
        id,
        username: username.to_string(),
        is_admin,
    })
}

pub async fn find_by_id(db: &Db, id: &str) -> Result<Option<User>, sqlx::Error> {
    sqlx::query("SELECT id, username, is_admin FROM users WHERE id = $1 AND disabled = 0")
        .bind(id)
        .fetch_optional(&db.pool)
        .await?
        .map(|row| from_row(&row))
        .transpose()
}

/// An enabled user and their password hash, by name.
pub async fn with_password_hash(db: &Db, username: &str) -> Result<Option<(User, String)>, sqlx::Error> {
    let row =
        sqlx::query("SELECT id, username, is_admin, password_hash FROM users WHERE username = $1 AND disabled = 0")
            .bind(username)
            .fetch_optional(&db.pool)
            .await?;
    row.map(|row| Ok((from_row(&row)?, row.try_get("password_hash")?)))
        .transpose()
}

/// A real hash to verify against when the user does not exist, so the answer time does not tell
/// which names exist.
pub fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| passwords::hash("wharf-dummy-password"))
}

/// What happened when the admin account was ensured on start.
#[derive(Debug, PartialEq, Eq)]
pub enum AdminSetup {
    AlreadyPresent,
    Created { password_generated: Option<String> },
}

/// Creates the `admin` user when the database has no users yet. The password comes from
/// `password` (WHARF_ADMIN_PASSWORD) or is generated and returned so the caller prints it once.
pub async fn ensure_admin(db: &Db, password: Option<&str>) -> Result<AdminSetup, sqlx::Error> {
    if count(db).await? > 0 {
        return Ok(AdminSetup::AlreadyPresent);
    }
    let (password, generated) = match password {
        Some(p) if !p.is_empty() => (p.to_string(), None),
        _ => {
            let p = passwords::generate();
            (p.clone(), Some(p))
        }
    };
    create(db, ADMIN_USERNAME, &password, true).await?;
    Ok(AdminSetup::Created {
        password_generated: generated,
    })
}
