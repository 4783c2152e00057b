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

/// An enabled user whose session generation is still `generation` (see [`session_generation`]).
pub async fn find_signed_in(db: &Db, id: &str, generation: i64) -> Result<Option<User>, sqlx::Error> {
    sqlx::query("SELECT id, username, is_admin FROM users WHERE id = $1 AND disabled = 0 AND session_generation = $2")
        .bind(id)
        .bind(generation)
        .fetch_optional(&db.pool)
        .await?
        .map(|row| from_row(&row))
        .transpose()
}

/// The generation a session signed in now belongs to. A password change, a reset or disabling
/// the user raises it, so every session signed in before is over, whatever replica holds it.
pub async fn session_generation(db: &Db, id: &str) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query("SELECT session_generation FROM users WHERE id = $1")
        .bind(id)
        .fetch_optional(&db.pool)
        .await?
        .map(|row| row.try_get("session_generation"))
        .transpose()
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
/// which names exist. A constant of a throw-away password (it never lets anyone in: no user goes
/// with it) with the parameters `passwords::hash` uses: computing one on the first unknown name
/// cost 19 MiB of memory outside the hashing threads.
pub fn dummy_hash() -> &'static str {
    "$argon2id$v=19$m=19456,t=2,p=1$s+8+lQ6fZaDco21BbxJHiw$+t+s9xmMcjK3DRo6O81GvN4DxnP9tFw7WKRMaYcQFEg"
}

/// What happened when the admin account was ensured on start.
#[derive(PartialEq, Eq)]
pub enum AdminSetup {
    AlreadyPresent,
    Created { password_generated: Option<String> },
}

/// Without the generated password (printed once, on purpose, and nowhere else).
impl std::fmt::Debug for AdminSetup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AdminSetup::AlreadyPresent => f.write_str("AlreadyPresent"),
            AdminSetup::Created { password_generated } => f
                .debug_struct("Created")
                .field("password_generated", &password_generated.as_ref().map(|_| "<redacted>"))
                .finish(),
        }
    }
}

/// Creates the `admin` user when the database has no users yet. The password comes from
/// `password` (WHARF_ADMIN_PASSWORD) or is generated and returned so the caller prints it once.
pub async fn ensure_admin(db: &Db, password: Option<&str>) -> Result<AdminSetup, sqlx::Error> {
    // Replicas starting together on an empty database: one creates the user, the others find it.
    let lock = db.setup_lock().await?;
    let setup = create_admin_if_none(db, password).await;
    lock.release().await;
    setup
}

async fn create_admin_if_none(db: &Db, password: Option<&str>) -> Result<AdminSetup, sqlx::Error> {
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

/// A user as listed.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct UserRecord {
    pub id: String,
    pub username: String,
    pub disabled: i64,
    pub created_at: i64,
}

pub async fn list(db: &Db) -> Result<Vec<UserRecord>, sqlx::Error> {
    sqlx::query_as("SELECT id, username, disabled, created_at FROM users ORDER BY username")
        .fetch_all(&db.pool)
        .await
}

/// Any user (enabled or not) by name.
pub async fn find_record_by_name(db: &Db, username: &str) -> Result<Option<UserRecord>, sqlx::Error> {
    sqlx::query_as("SELECT id, username, disabled, created_at FROM users WHERE username = $1")
        .bind(username)
        .fetch_optional(&db.pool)
        .await
}

/// Whether a user or a robot already has this name (they share one name space: both are
/// registry logins).
pub async fn name_taken(db: &Db, name: &str) -> Result<bool, sqlx::Error> {
    Ok(
        sqlx::query("SELECT 1 AS x FROM users WHERE username = $1 UNION ALL SELECT 1 AS x FROM robots WHERE name = $1")
            .bind(name)
            .fetch_optional(&db.pool)
            .await?
            .is_some(),
    )
}

/// Sets a new password and ends the user's sessions and refresh tokens. `false`: no such user.
pub async fn set_password(db: &Db, id: &str, password: &str) -> Result<bool, sqlx::Error> {
    let hash = passwords::hash(password);
    let mut tx = db.begin_write().await?;
    let changed =
        sqlx::query("UPDATE users SET password_hash = $1, session_generation = session_generation + 1 WHERE id = $2")
            .bind(hash)
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
    sqlx::query("DELETE FROM refresh_tokens WHERE subject_kind = 'user' AND subject_id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(changed > 0)
}

/// Disables (or enables) a user: a disabled user cannot sign in, its sessions end (enabling it
/// again does not bring them back) and its tokens stop working.
pub async fn set_disabled(db: &Db, id: &str, disabled: bool) -> Result<bool, sqlx::Error> {
    Ok(
        sqlx::query("UPDATE users SET disabled = $1, session_generation = session_generation + $1 WHERE id = $2")
            .bind(i64::from(disabled))
            .bind(id)
            .execute(&db.pool)
            .await?
            .rows_affected()
            > 0,
    )
}

/// The stored hash of a user's password (to check the current one before a change).
pub async fn password_hash(db: &Db, id: &str) -> Result<Option<String>, sqlx::Error> {
    sqlx::query("SELECT password_hash FROM users WHERE id = $1")
        .bind(id)
        .fetch_optional(&db.pool)
        .await?
        .map(|row| row.try_get("password_hash"))
        .transpose()
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_dummy_hash_costs_what_a_real_one_does() {
        let params = |phc: &str| {
            let parsed = argon2::PasswordHash::new(phc).unwrap();
            (parsed.algorithm.to_string(), parsed.version, parsed.params.to_string())
        };
        assert_eq!(params(super::dummy_hash()), params(&super::passwords::hash("x")));
    }
}
