//! The single sign-on settings: one OpenID Connect provider, stored in the database and edited
//! by administrators. The client secret is write-only: kept to redeem codes, never shown.

use sqlx::FromRow;

use crate::backend::db::{now_ms, Db};

#[derive(Clone, PartialEq, Eq, FromRow, Default)]
pub struct SsoSettings {
    pub enabled: i64,
    pub issuer_url: String,
    pub client_id: String,
    pub client_secret: String,
    pub username_claim: String,
    pub groups_claim: String,
    pub create_users: i64,
    pub label: String,
    /// Provider groups of which a user needs one to sign in, one a line (empty: any).
    pub allowed_groups: String,
    /// E-mail domains of which a user needs one to sign in, one a line (empty: any).
    pub allowed_domains: String,
}

/// Everything but the client secret.
impl std::fmt::Debug for SsoSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SsoSettings")
            .field("enabled", &self.enabled)
            .field("issuer_url", &self.issuer_url)
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .field("username_claim", &self.username_claim)
            .field("groups_claim", &self.groups_claim)
            .field("create_users", &self.create_users)
            .field("label", &self.label)
            .field("allowed_groups", &self.allowed_groups)
            .field("allowed_domains", &self.allowed_domains)
            .finish()
    }
}

impl SsoSettings {
    pub fn is_enabled(&self) -> bool {
        self.enabled != 0 && !self.issuer_url.is_empty() && !self.client_id.is_empty()
    }
}

const COLUMNS: &str = "enabled, issuer_url, client_id, client_secret, username_claim, groups_claim, create_users, \
     label, allowed_groups, allowed_domains";

/// The settings, or the defaults (disabled) when none were saved.
pub async fn load(db: &Db) -> Result<SsoSettings, sqlx::Error> {
    let row: Option<SsoSettings> = sqlx::query_as(&format!("SELECT {COLUMNS} FROM sso_settings WHERE id = 1"))
        .fetch_optional(&db.pool)
        .await?;
    Ok(row.unwrap_or_else(|| SsoSettings {
        username_claim: "preferred_username".into(),
        groups_claim: "groups".into(),
        create_users: 1,
        label: "single sign-on".into(),
        ..Default::default()
    }))
}

/// Saves the settings; an empty `client_secret` keeps the stored one.
pub async fn save(db: &Db, settings: &SsoSettings) -> Result<(), sqlx::Error> {
    let mut tx = db.begin_write().await?;
    let exists = sqlx::query("SELECT 1 AS x FROM sso_settings WHERE id = 1")
        .fetch_optional(&mut *tx)
        .await?
        .is_some();
    if !exists {
        sqlx::query("INSERT INTO sso_settings (id) VALUES (1)")
            .execute(&mut *tx)
            .await?;
    }
    sqlx::query(
        "UPDATE sso_settings SET enabled = $1, issuer_url = $2, client_id = $3, \
         client_secret = CASE WHEN $4 = '' THEN client_secret ELSE $4 END, username_claim = $5, \
         groups_claim = $6, create_users = $7, label = $8, allowed_groups = $9, allowed_domains = $10, \
         updated_at = $11 WHERE id = 1",
    )
    .bind(settings.enabled)
    .bind(&settings.issuer_url)
    .bind(&settings.client_id)
    .bind(&settings.client_secret)
    .bind(&settings.username_claim)
    .bind(&settings.groups_claim)
    .bind(settings.create_users)
    .bind(&settings.label)
    .bind(&settings.allowed_groups)
    .bind(&settings.allowed_domains)
    .bind(now_ms())
    .execute(&mut *tx)
    .await?;
    tx.commit().await
}
