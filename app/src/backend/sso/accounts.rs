//! Users who sign in through the provider: found by the provider's subject (never by a name
//! alone, so a provider account cannot take over a local one), created on first sign-in when the
//! settings allow it, and their teams that follow provider groups brought in line with the groups
//! of this sign-in.

use sqlx::Row;

use super::flow::Identity;
use super::settings::SsoSettings;
use crate::backend::db::{now_ms, Db};
use crate::backend::users::{self, User};

/// Stored instead of a password hash: no password matches it, so the user signs in through the
/// provider only (and uses personal access tokens for registry clients).
pub const NO_PASSWORD: &str = "!sso";

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("the account {0} is disabled in Wharf")]
    Disabled(String),
    #[error("a local user named {0} exists already; an administrator must rename one of them")]
    NameTaken(String),
    #[error("there is no Wharf user for {0} and users are not created on sign-in: ask an administrator")]
    NotProvisioned(String),
    #[error("the user name {0:?} from the provider cannot be used (letters, digits, '.', '_', '-', '@'; at most 64)")]
    BadName(String),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

fn usable_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-' | '@'))
}

/// The Wharf user for `identity`, created if allowed; its provider-group teams are synced.
pub async fn user_for(db: &Db, settings: &SsoSettings, identity: &Identity) -> Result<User, AccountError> {
    let linked = sqlx::query("SELECT id, disabled FROM users WHERE sso_subject = $1")
        .bind(&identity.subject)
        .fetch_optional(&db.pool)
        .await?;
    let user_id = match linked {
        Some(row) => {
            if row.try_get::<i64, _>("disabled")? != 0 {
                return Err(AccountError::Disabled(identity.username.clone()));
            }
            row.try_get::<String, _>("id")?
        }
        None => {
            if !usable_name(&identity.username) {
                return Err(AccountError::BadName(identity.username.clone()));
            }
            if users::name_taken(db, &identity.username).await? {
                return Err(AccountError::NameTaken(identity.username.clone()));
            }
            if settings.create_users == 0 {
                return Err(AccountError::NotProvisioned(identity.username.clone()));
            }
            let id = uuid::Uuid::new_v4().to_string();
            sqlx::query(
                "INSERT INTO users (id, username, password_hash, is_admin, created_at, sso_subject) \
                 VALUES ($1, $2, $3, 0, $4, $5)",
            )
            .bind(&id)
            .bind(&identity.username)
            .bind(NO_PASSWORD)
            .bind(now_ms())
            .bind(&identity.subject)
            .execute(&db.pool)
            .await?;
            id
        }
    };
    sync_teams(db, &user_id, &identity.groups).await?;
    users::find_by_id(db, &user_id)
        .await?
        .ok_or_else(|| AccountError::Disabled(identity.username.clone()))
}

/// Teams that follow a provider group: the user is a member exactly when the group was in this
/// sign-in. Teams without a group are left alone.
pub async fn sync_teams(db: &Db, user_id: &str, groups: &[String]) -> Result<(), sqlx::Error> {
    let teams = sqlx::query("SELECT id, sso_group FROM teams WHERE sso_group IS NOT NULL AND sso_group <> ''")
        .fetch_all(&db.pool)
        .await?;
    let mut tx = db.begin_write().await?;
    for team in teams {
        let team_id: String = team.try_get("id")?;
        let group: String = team.try_get("sso_group")?;
        sqlx::query("DELETE FROM team_members WHERE team_id = $1 AND user_id = $2")
            .bind(&team_id)
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        if groups.contains(&group) {
            sqlx::query("INSERT INTO team_members (team_id, user_id) VALUES ($1, $2)")
                .bind(&team_id)
                .bind(user_id)
                .execute(&mut *tx)
                .await?;
        }
    }
    tx.commit().await
}

#[cfg(test)]
mod tests {
    use super::usable_name;

    #[test]
    fn provider_names() {
        assert!(usable_name("alice@example.com"));
        assert!(usable_name("bob.smith"));
        assert!(!usable_name("Alice"));
        assert!(!usable_name("a b"));
        assert!(!usable_name(""));
    }
}
