//! Refresh tokens of the token server: what `docker login` keeps (`offline_token=true`) and
//! trades for access tokens with the OAuth2 `refresh_token` grant. Opaque, bound to a subject
//! and the service (and to the personal access token they were issued for), revocable, and
//! **not rotated** on use: docker keeps using the one it has.

use sqlx::Row;

use super::robots::{self, Robot};
use super::secrets::{self, SecretKind};
use super::Subject;
use crate::backend::db::{now_ms, Db};
use crate::backend::users;

/// Issues a refresh token for a user or robot; `None` for subjects that cannot hold one.
pub async fn issue(
    db: &Db,
    subject: &Subject,
    access_token_id: Option<&str>,
    service: &str,
) -> Result<Option<String>, sqlx::Error> {
    let (kind, id) = match subject {
        Subject::User(user) => ("user", user.id.as_str()),
        Subject::Robot(robot) => ("robot", robot.id.as_str()),
        Subject::Anonymous | Subject::Console => return Ok(None),
    };
    let (secret, hash) = secrets::generate(SecretKind::Refresh);
    sqlx::query(
        "INSERT INTO refresh_tokens (id, secret_hash, subject_kind, subject_id, access_token_id, service, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(uuid::Uuid::new_v4().to_string())
    .bind(hash)
    .bind(kind)
    .bind(id)
    .bind(access_token_id)
    .bind(service)
    .bind(now_ms())
    .execute(&db.pool)
    .await?;
    Ok(Some(secret))
}

/// The subject of a live refresh token for `service`: its user still enabled, its robot still
/// enabled and unexpired, its personal access token still there. `None` otherwise.
pub async fn redeem(db: &Db, secret: &str, service: &str) -> Result<Option<Subject>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT r.id, r.subject_kind, r.subject_id, r.service, r.access_token_id, \
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
