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
    sqlx::query("INSERT INTO users (id, username, password_hash, is_admin, created_at) VALUES ($1, $2, $3, $4, $5)")
        .bind(&id)
        .bind(username)
        .bind(passwords::hash(password))
        .bind(i64::from(is_admin))
        .bind(now_ms())
        .execute(&db.pool)
        .await?;
    Ok(User {
        id,
        username: username.to_string(),
        is_admin,
    })
}

pub async fn find_by_id(db: &Db, id: &str) -> Result<Option<User>, sqlx::Error> {
    sqlx::query("SELECT id, username, is_admin FROM users WHERE id = $1")
        .bind(id)
        .fetch_optional(&db.pool)
        .await?
        .map(|row| from_row(&row))
        .transpose()
}

/// The user whose name and password match, or `None`. Unknown names cost a hash too, so the
/// answer time does not tell which names exist.
pub async fn authenticate(db: &Db, username: &str, password: &str) -> Result<Option<User>, sqlx::Error> {
    let row = sqlx::query("SELECT id, username, is_admin, password_hash FROM users WHERE username = $1")
        .bind(username)
        .fetch_optional(&db.pool)
        .await?;
    let stored: String = match &row {
        Some(row) => row.try_get("password_hash")?,
        None => dummy_hash().to_string(),
    };
    let ok = passwords::verify_bounded(password, stored).await;
    match row {
        Some(row) if ok => Ok(Some(from_row(&row)?)),
        _ => Ok(None),
    }
}

/// A real hash to verify against when the user does not exist.
fn dummy_hash() -> &'static str {
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
