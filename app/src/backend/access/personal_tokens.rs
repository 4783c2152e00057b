//! Personal access tokens: a user's password for registry clients (`docker login -u me -p
//! <token>`), and the way in for single sign-on users. Named, optionally expiring, revocable.

use sqlx::FromRow;

use super::secrets::{self, SecretKind};
use crate::backend::db::{now_ms, Db};
use crate::backend::users::{self, User};

#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct TokenRecord {
    pub id: String,
    pub user_id: String,
    pub name: String,
    pub expires_at: Option<i64>,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

const COLUMNS: &str = "id, user_id, name, expires_at, created_at, last_used_at";

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("you already have a token named {0:?}")]
    Taken(String),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// Creates a token for `user_id`; the secret is returned once and never stored.
pub async fn create(
    db: &Db,
    user_id: &str,
    name: &str,
    expires_at: Option<i64>,
) -> Result<(TokenRecord, String), TokenError> {
    let (secret, hash) = secrets::generate(SecretKind::PersonalToken);
    let record = TokenRecord {
        id: uuid::Uuid::new_v4().to_string(),
        user_id: user_id.to_string(),
        name: name.to_string(),
        expires_at,
        created_at: now_ms(),
        last_used_at: None,
    };
    let mut tx = db.begin_write().await?;
    let taken = sqlx::query("SELECT 1 AS x FROM access_tokens WHERE user_id = $1 AND name = $2")
        .bind(user_id)
        .bind(name)
        .fetch_optional(&mut *tx)
        .await?
        .is_some();
    if taken {
        return Err(TokenError::Taken(name.to_string()));
    }
    sqlx::query(
        "INSERT INTO access_tokens (id, user_id, name, secret_hash, expires_at, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&record.id)
    .bind(&record.user_id)
    .bind(&record.name)
    .bind(&hash)
    .bind(record.expires_at)
    .bind(record.created_at)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok((record, secret))
}

pub async fn list_for_user(db: &Db, user_id: &str) -> Result<Vec<TokenRecord>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM access_tokens WHERE user_id = $1 ORDER BY created_at DESC"
    ))
    .bind(user_id)
    .fetch_all(&db.pool)
    .await
}

/// Revokes one of `user_id`'s tokens (and the refresh tokens issued for it).
pub async fn revoke(db: &Db, user_id: &str, id: &str) -> Result<bool, sqlx::Error> {
    let mut tx = db.begin_write().await?;
    sqlx::query("DELETE FROM refresh_tokens WHERE access_token_id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    let deleted = sqlx::query("DELETE FROM access_tokens WHERE id = $1 AND user_id = $2")
        .bind(id)
        .bind(user_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    tx.commit().await?;
    Ok(deleted > 0)
}

/// A token with the name of its user.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct OwnedToken {
    #[sqlx(flatten)]
    pub token: TokenRecord,
    pub username: String,
}

/// Every user's tokens, most recently used first (for administrators).
pub async fn list_all(db: &Db) -> Result<Vec<OwnedToken>, sqlx::Error> {
    sqlx::query_as(
        "SELECT t.id, t.user_id, t.name, t.expires_at, t.created_at, t.last_used_at, u.username \
         FROM access_tokens t JOIN users u ON u.id = t.user_id \
         ORDER BY COALESCE(t.last_used_at, t.created_at) DESC, t.id",
    )
    .fetch_all(&db.pool)
    .await
}

/// The token `id` of any user, with that user's name.
pub async fn find(db: &Db, id: &str) -> Result<Option<OwnedToken>, sqlx::Error> {
    sqlx::query_as(
        "SELECT t.id, t.user_id, t.name, t.expires_at, t.created_at, t.last_used_at, u.username \
         FROM access_tokens t JOIN users u ON u.id = t.user_id WHERE t.id = $1",
    )
    .bind(id)
    .fetch_optional(&db.pool)
    .await
}

/// The user a token belongs to, if `secret` is a live token of the user named `username`.
pub async fn authenticate(db: &Db, username: &str, secret: &str) -> Result<Option<(User, TokenRecord)>, sqlx::Error> {
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM access_tokens WHERE secret_hash = $1"))
        .bind(secrets::hash(secret))
        .fetch_optional(&db.pool)
        .await?;
    let Some(row) = row else { return Ok(None) };
    let record = TokenRecord::from_row(&row)?;
    if record.expires_at.is_some_and(|at| at <= now_ms()) {
        return Ok(None);
    }
    let Some(user) = users::find_by_id(db, &record.user_id).await? else {
        return Ok(None);
    };
    // The name must match too: a token pasted under another user name is refused.
    if user.username != username {
        return Ok(None);
    }
    Ok(Some((user, record)))
}
