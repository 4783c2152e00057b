//! Refresh tokens of the token server: what `docker login` keeps (`offline_token=true`) and
//! trades for access tokens with the OAuth2 `refresh_token` grant. Opaque, bound to a subject
//! and the service (and to the personal access token they were issued for), revocable, and
//! **not rotated** on use: docker keeps using the one it has. Each ends a fixed time after it
//! was issued however much it is used (`--refresh-token-days`), and a subject holds at most
//! [`MAX_PER_SUBJECT`]: a new one ends the oldest.

use std::time::Duration;

use sqlx::Row;

use super::robots::{self, Robot};
use super::secrets::{self, SecretKind};
use super::Subject;
use crate::backend::db::{now_ms, Db};
use crate::backend::users;

/// Refresh tokens one user or robot holds at most; issuing one more ends the oldest.
pub const MAX_PER_SUBJECT: i64 = 50;
/// The longest client name kept (it comes from the client, unchecked).
const MAX_CLIENT_CHARS: usize = 64;

/// Issues a refresh token for a user or robot; `None` for subjects that cannot hold one.
/// `client` is the OAuth2 `client_id` the client sent (e.g. `docker`), kept to tell tokens apart.
pub async fn issue(
    db: &Db,
    subject: &Subject,
    access_token_id: Option<&str>,
    service: &str,
    client: Option<&str>,
) -> Result<Option<String>, sqlx::Error> {
    let (kind, id) = match subject {
        Subject::User(user) => ("user", user.id.as_str()),
        Subject::Robot(robot) => ("robot", robot.id.as_str()),
        Subject::Anonymous | Subject::Console => return Ok(None),
    };
    let (secret, hash) = secrets::generate(SecretKind::Refresh);
    let client = client.map(clean_client).filter(|c| !c.is_empty());
    let mut tx = db.begin_write().await?;
    sqlx::query(
        "INSERT INTO refresh_tokens (id, secret_hash, subject_kind, subject_id, access_token_id, service, created_at, client) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(uuid::Uuid::new_v4().to_string())
    .bind(hash)
    .bind(kind)
    .bind(id)
    .bind(access_token_id)
    .bind(service)
    .bind(now_ms())
    .bind(client)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "DELETE FROM refresh_tokens WHERE subject_kind = $1 AND subject_id = $2 AND id NOT IN \
         (SELECT id FROM refresh_tokens WHERE subject_kind = $1 AND subject_id = $2 \
          ORDER BY created_at DESC, id LIMIT $3)",
    )
    .bind(kind)
    .bind(id)
    .bind(MAX_PER_SUBJECT)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Some(secret))
}

/// A client name as shown: no control characters, bounded.
fn clean_client(client: &str) -> String {
    client
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_CLIENT_CHARS)
        .collect::<String>()
        .trim()
        .to_string()
}

/// Milliseconds of `lifetime`, saturating.
fn lifetime_ms(lifetime: Duration) -> i64 {
    i64::try_from(lifetime.as_millis()).unwrap_or(i64::MAX)
}

/// The subject of a live refresh token for `service`: issued less than `lifetime` ago, its user
/// still enabled, its robot still enabled and unexpired, its personal access token still there.
/// `None` otherwise (a token past its lifetime is deleted).
pub async fn redeem(db: &Db, secret: &str, service: &str, lifetime: Duration) -> Result<Option<Subject>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT r.id, r.subject_kind, r.subject_id, r.service, r.access_token_id, r.created_at, \
                t.expires_at AS token_expires_at, t.id AS token_id \
         FROM refresh_tokens r LEFT JOIN access_tokens t ON t.id = r.access_token_id \
         WHERE r.secret_hash = $1",
    )
    .bind(secrets::hash(secret))
    .fetch_optional(&db.pool)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let stored_service: String = row.try_get("service")?;
    if stored_service != service {
        return Ok(None);
    }
    let created_at: i64 = row.try_get("created_at")?;
    if now_ms().saturating_sub(created_at) >= lifetime_ms(lifetime) {
        let id: String = row.try_get("id")?;
        sqlx::query("DELETE FROM refresh_tokens WHERE id = $1")
            .bind(id)
            .execute(&db.pool)
            .await?;
        return Ok(None);
    }
    let via_token: Option<String> = row.try_get("access_token_id")?;
    let token_id: Option<String> = row.try_get("token_id")?;
    let token_expires: Option<i64> = row.try_get("token_expires_at")?;
    if via_token.is_some() && (token_id.is_none() || token_expires.is_some_and(|at| at <= now_ms())) {
        return Ok(None);
    }
    let kind: String = row.try_get("subject_kind")?;
    let subject_id: String = row.try_get("subject_id")?;
    let subject = match kind.as_str() {
        "user" => users::find_by_id(db, &subject_id).await?.map(Subject::User),
        "robot" => robots::find(db, &subject_id)
            .await?
            .filter(|robot| robot.usable_at(now_ms()))
            .map(|robot| {
                Subject::Robot(Robot {
                    id: robot.id,
                    name: robot.name,
                })
            }),
        _ => None,
    };
    if subject.is_some() {
        let id: String = row.try_get("id")?;
        super::record_use(db, super::UsedCredential::RefreshToken, &id).await?;
    }
    Ok(subject)
}

/// Ends every refresh token of a user or robot (password reset, disabling, new robot secret).
pub async fn revoke_all(db: &Db, subject_kind: &str, subject_id: &str) -> Result<u64, sqlx::Error> {
    Ok(
        sqlx::query("DELETE FROM refresh_tokens WHERE subject_kind = $1 AND subject_id = $2")
            .bind(subject_kind)
            .bind(subject_id)
            .execute(&db.pool)
            .await?
            .rows_affected(),
    )
}

/// A user's refresh token as listed on Profile (never its secret).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct RefreshTokenRecord {
    pub id: String,
    pub client: Option<String>,
    /// The personal access token it was issued for (`None`: issued for the password).
    pub token_name: Option<String>,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

impl RefreshTokenRecord {
    /// When it stops working, whatever its use.
    pub fn expires_at(&self, lifetime: Duration) -> i64 {
        self.created_at.saturating_add(lifetime_ms(lifetime))
    }
}

/// The user's refresh tokens still within `lifetime`, newest first (at most [`MAX_PER_SUBJECT`]).
pub async fn list_for_user(db: &Db, user_id: &str, lifetime: Duration) -> Result<Vec<RefreshTokenRecord>, sqlx::Error> {
    sqlx::query_as(
        "SELECT r.id, r.client, t.name AS token_name, r.created_at, r.last_used_at \
         FROM refresh_tokens r LEFT JOIN access_tokens t ON t.id = r.access_token_id \
         WHERE r.subject_kind = 'user' AND r.subject_id = $1 AND r.created_at > $2 \
         ORDER BY r.created_at DESC, r.id LIMIT $3",
    )
    .bind(user_id)
    .bind(now_ms().saturating_sub(lifetime_ms(lifetime)))
    .bind(MAX_PER_SUBJECT)
    .fetch_all(&db.pool)
    .await
}

/// Ends one of `user_id`'s refresh tokens; `false` when the user has no such token.
pub async fn revoke(db: &Db, user_id: &str, id: &str) -> Result<bool, sqlx::Error> {
    Ok(
        sqlx::query("DELETE FROM refresh_tokens WHERE id = $1 AND subject_kind = 'user' AND subject_id = $2")
            .bind(id)
            .bind(user_id)
            .execute(&db.pool)
            .await?
            .rows_affected()
            > 0,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_names_are_cleaned_and_bounded() {
        assert_eq!(clean_client("docker"), "docker");
        assert_eq!(clean_client(" a\u{1b}[31mb\n "), "a[31mb");
        assert_eq!(clean_client(&"x".repeat(1000)).chars().count(), MAX_CLIENT_CHARS);
    }

    #[test]
    fn lifetimes_saturate() {
        assert_eq!(lifetime_ms(Duration::from_secs(90 * 24 * 3600)), 90 * 24 * 3600 * 1000);
        assert_eq!(lifetime_ms(Duration::MAX), i64::MAX);
    }
}
