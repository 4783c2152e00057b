//! The `webhooks` table: what a webhook is, validated before it is stored.
//!
//! Header values and the signing secret are secrets: [`Webhook`]'s `Debug` masks them, and
//! nothing here logs them.

use std::time::Duration;

use sqlx::{AnyConnection, FromRow};

use super::event::EventAction;
use super::formats::sandbox::TemplateSandbox;
use super::formats::{self, Format};
use super::outbound::OutboundPolicy;
use super::scope::Scope;
use super::signing::SigningSecret;
use crate::backend::access::Scope as AccessScope;
use crate::backend::db::now_ms;

pub const MAX_NAME: usize = 100;
pub const MAX_URL: usize = 2048;
pub const MAX_HEADERS: usize = 20;
pub const MAX_HEADER_NAME: usize = 100;
pub const MAX_HEADER_VALUE: usize = 4096;
pub const MAX_PUSHER: usize = 256;
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(15);
pub const MAX_TIMEOUT: Duration = Duration::from_secs(60);

/// Headers Wharf sets itself; a custom header may not replace them.
const RESERVED_HEADERS: &[&str] = &[
    "host",
    "content-length",
    "content-type",
    "transfer-encoding",
    "connection",
    "webhook-id",
    "webhook-timestamp",
    "webhook-signature",
];

/// A stored webhook.
#[derive(Clone, PartialEq, Eq)]
pub struct Webhook {
    pub id: String,
    pub name: String,
    pub url: String,
    pub enabled: bool,
    pub actions: Vec<EventAction>,
    pub scope: Vec<String>,
    /// The access scope the webhook belongs to (`''`, `team-a/`, a glob): see [`Webhook::wants`].
    pub owner_scope: String,
    pub pusher: Option<String>,
    pub platform_manifests: bool,
    pub format: Format,
    pub template: Option<String>,
    pub headers: Vec<(String, String)>,
    pub timeout: Duration,
    pub secret: String,
    pub previous_secret: Option<String>,
    pub previous_secret_until: Option<i64>,
    pub ordered: bool,
    pub max_in_flight: i64,
    pub disabled_reason: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl std::fmt::Debug for Webhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Webhook")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("format", &self.format)
            .field("enabled", &self.enabled)
            .field("headers", &self.headers.iter().map(|(n, _)| n).collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl Webhook {
    /// Does this webhook receive an event of `action` on `repository:tag` by `actor`?
    pub fn wants(&self, action: EventAction, repository: &str, tag: Option<&str>, actor: Option<&str>) -> bool {
        if !self.actions.contains(&action) {
            return false;
        }
        // Only repositories of the scope it belongs to, whatever its event scope says: a
        // namespace's webhook never hears of another namespace.
        if !AccessScope::parse(&self.owner_scope).is_ok_and(|owner| owner.covers(repository)) {
            return false;
        }
        if action == EventAction::Push {
            if let Some(pusher) = &self.pusher {
                if actor != Some(pusher.as_str()) {
                    return false;
                }
            }
        }
        // A stored scope was validated; one that no longer compiles matches nothing.
        Scope::parse(&self.scope).is_ok_and(|scope| scope.matches(repository, tag))
    }

    /// The keys deliveries are signed with now: the current one, and the previous one while a
    /// rotation overlaps.
    pub fn signing_secrets(&self, now_ms: i64) -> Vec<SigningSecret> {
        let previous = self
            .previous_secret
            .as_deref()
            .filter(|_| self.previous_secret_until.is_some_and(|until| until > now_ms));
        [Some(self.secret.as_str()), previous]
            .into_iter()
            .flatten()
            .filter_map(|s| SigningSecret::parse(s).ok())
            .collect()
    }
}

#[derive(FromRow)]
struct WebhookRow {
    id: String,
    name: String,
    url: String,
    enabled: i64,
    actions: String,
    scope: String,
    owner_scope: String,
    pusher: Option<String>,
    platform_manifests: i64,
    format: String,
    template: Option<String>,
    headers: String,
    timeout_ms: i64,
    secret: String,
    previous_secret: Option<String>,
    previous_secret_until: Option<i64>,
    ordered: i64,
    max_in_flight: i64,
    disabled_reason: Option<String>,
    created_at: i64,
    updated_at: i64,
}

impl From<WebhookRow> for Webhook {
    fn from(row: WebhookRow) -> Webhook {
        Webhook {
            id: row.id,
            name: row.name,
            url: row.url,
            enabled: row.enabled != 0,
            actions: serde_json::from_str(&row.actions).unwrap_or_default(),
            scope: serde_json::from_str(&row.scope).unwrap_or_default(),
            owner_scope: row.owner_scope,
            pusher: row.pusher,
            platform_manifests: row.platform_manifests != 0,
            format: row.format.parse().unwrap_or(Format::Generic),
            template: row.template,
            headers: serde_json::from_str(&row.headers).unwrap_or_default(),
            timeout: Duration::from_millis(row.timeout_ms.max(1) as u64),
            secret: row.secret,
            previous_secret: row.previous_secret,
            previous_secret_until: row.previous_secret_until,
            ordered: row.ordered != 0,
            max_in_flight: row.max_in_flight,
            disabled_reason: row.disabled_reason,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

/// What a user sets on a webhook.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct WebhookInput {
    pub name: String,
    pub url: String,
    pub enabled: bool,
    pub actions: Vec<EventAction>,
    pub scope: Vec<String>,
    /// The access scope it belongs to, as text (`''` is the registry).
    pub owner_scope: String,
    pub pusher: Option<String>,
    pub platform_manifests: bool,
    pub format: Option<Format>,
    pub template: Option<String>,
    /// Header values left empty keep the value already stored under that name.
    pub headers: Vec<(String, String)>,
    pub timeout: Option<Duration>,
    pub ordered: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidWebhook {
    #[error("{0}")]
    Field(String),
    #[error(transparent)]
    Url(#[from] super::outbound::OutboundError),
    #[error(transparent)]
    Scope(#[from] super::scope::ScopeError),
    #[error(transparent)]
    Template(#[from] formats::RenderError),
}

fn field(message: impl Into<String>) -> InvalidWebhook {
    InvalidWebhook::Field(message.into())
}

/// Checks everything but the URL's resolution (see [`OutboundPolicy::check_resolved`]) and the
/// template's syntax (see [`validate_template`]).
pub fn validate(input: &WebhookInput, policy: &OutboundPolicy) -> Result<(), InvalidWebhook> {
    let name = input.name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME {
        return Err(field(format!("Give the webhook a name of 1 to {MAX_NAME} characters.")));
    }
    if input.url.len() > MAX_URL {
        return Err(field(format!("The URL is longer than {MAX_URL} characters.")));
    }
    policy.check_url(input.url.trim())?;
    if input.actions.is_empty() || input.actions.contains(&EventAction::Ping) {
        return Err(field("Choose push, delete or both."));
    }
    Scope::parse(&input.scope)?;
    AccessScope::parse(&input.owner_scope).map_err(|e| field(format!("Belongs to: {e}")))?;
    if input.pusher.as_ref().is_some_and(|p| p.len() > MAX_PUSHER) {
        return Err(field(format!("The pusher is longer than {MAX_PUSHER} characters.")));
    }
    let format = input.format.ok_or_else(|| field("Choose a format."))?;
    if format == Format::Template {
        let template = input.template.as_deref().unwrap_or("");
        if template.trim().is_empty() {
            return Err(field("The template format needs a template."));
        }
    }
    if input.headers.len() > MAX_HEADERS {
        return Err(field(format!("At most {MAX_HEADERS} custom headers.")));
    }
    for (name, value) in &input.headers {
        let valid_name = !name.is_empty()
            && name.len() <= MAX_HEADER_NAME
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
        if !valid_name {
            return Err(field(format!(
                "\"{}\" is not a valid header name.",
                name.chars().take(40).collect::<String>()
            )));
        }
        if RESERVED_HEADERS.contains(&name.to_ascii_lowercase().as_str()) {
            return Err(field(format!("Wharf sets the {name} header itself.")));
        }
        if value.len() > MAX_HEADER_VALUE || value.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0) {
            return Err(field(format!(
                "The value of {name} must be one line of at most {MAX_HEADER_VALUE} bytes."
            )));
        }
    }
    if let Some(timeout) = input.timeout {
        if timeout.is_zero() || timeout > MAX_TIMEOUT {
            return Err(field(format!(
                "The timeout must be between 1 and {} seconds.",
                MAX_TIMEOUT.as_secs()
            )));
        }
    }
    Ok(())
}

/// Secrets a save would keep from the stored webhook (the URL left empty, header values left
/// empty) go only to the receiver, and in the format, they were entered for: a manager who never
/// saw them must not send them elsewhere (another host would receive the header values) or
/// show them (a format without the Slack or Teams mask shows the URL's secret path). So when the
/// receiver's origin (scheme, host, port) or the format changes, they must be entered again.
pub fn check_kept_secrets(current: &Webhook, input: &WebhookInput, url_kept: bool) -> Result<(), InvalidWebhook> {
    let format_changed = input.format.is_some_and(|format| format != current.format);
    if url_kept && format_changed {
        return Err(field(
            "The format changed: enter the URL again (the stored one is not shown, and a new format may show what it hides).",
        ));
    }
    let origin = |url: &str| {
        url::Url::parse(url.trim())
            .map(|u| u.origin().ascii_serialization())
            .ok()
    };
    let receiver_changed = origin(&input.url) != origin(&current.url);
    let kept: Vec<&str> = input
        .headers
        .iter()
        .filter(|(name, value)| value.is_empty() && current.headers.iter().any(|(n, _)| n == name))
        .map(|(name, _)| name.as_str())
        .collect();
    if (receiver_changed || format_changed) && !kept.is_empty() {
        let what = if receiver_changed { "receiver" } else { "format" };
        return Err(field(format!(
            "The {what} changed: enter the values of {} again (a stored header value goes only to the receiver, and in the format, it was entered for).",
            kept.join(", ")
        )));
    }
    Ok(())
}

const COLUMNS: &str = "id, name, url, enabled, actions, scope, owner_scope, pusher, platform_manifests, format, template, headers, \
    timeout_ms, secret, previous_secret, previous_secret_until, ordered, max_in_flight, disabled_reason, created_at, updated_at";

fn json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "[]".into())
}

/// Stores a new (validated) webhook with a fresh signing secret; returns it.
pub async fn create(conn: &mut AnyConnection, input: &WebhookInput) -> Result<Webhook, sqlx::Error> {
    let id = uuid::Uuid::new_v4().to_string();
    let now = now_ms();
    let headers: Vec<(String, String)> = input.headers.iter().filter(|(_, v)| !v.is_empty()).cloned().collect();
    sqlx::query(
        "INSERT INTO webhooks (id, name, url, enabled, actions, scope, pusher, platform_manifests, format, template, \
         headers, timeout_ms, secret, ordered, max_in_flight, created_at, updated_at, owner_scope) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, 4, $15, $15, $16)",
    )
    .bind(&id)
    .bind(input.name.trim())
    .bind(input.url.trim())
    .bind(i64::from(input.enabled))
    .bind(json(&input.actions))
    .bind(json(&clean_scope(&input.scope)))
    .bind(input.pusher.as_deref().map(str::trim).filter(|p| !p.is_empty()))
    .bind(i64::from(input.platform_manifests))
    .bind(input.format.unwrap_or(Format::Generic).as_str())
    .bind(&input.template)
    .bind(json(&headers))
    .bind(input.timeout.unwrap_or(DEFAULT_TIMEOUT).as_millis() as i64)
    .bind(SigningSecret::generate().reveal())
    .bind(i64::from(input.ordered))
    .bind(now)
    .bind(owner_text(&input.owner_scope))
    .execute(&mut *conn)
    .await?;
    Ok(get(conn, &id).await?.expect("the webhook was just stored"))
}

/// Changes a webhook; header values left empty keep their stored value. `false`: no such webhook.
pub async fn update(conn: &mut AnyConnection, id: &str, input: &WebhookInput) -> Result<bool, sqlx::Error> {
    let Some(current) = get(conn, id).await? else {
        return Ok(false);
    };
    let headers: Vec<(String, String)> = input
        .headers
        .iter()
        .filter_map(|(name, value)| {
            let value = if value.is_empty() {
                current
                    .headers
                    .iter()
                    .find(|(n, _)| n == name)
                    .map(|(_, v)| v.clone())?
            } else {
                value.clone()
            };
            Some((name.clone(), value))
        })
        .collect();
    sqlx::query(
        "UPDATE webhooks SET name = $1, url = $2, enabled = $3, actions = $4, scope = $5, pusher = $6, \
         platform_manifests = $7, format = $8, template = $9, headers = $10, timeout_ms = $11, ordered = $12, \
         disabled_reason = CASE WHEN $3 = 1 THEN NULL ELSE disabled_reason END, updated_at = $13, owner_scope = $15 \
         WHERE id = $14",
    )
    .bind(input.name.trim())
    .bind(input.url.trim())
    .bind(i64::from(input.enabled))
    .bind(json(&input.actions))
    .bind(json(&clean_scope(&input.scope)))
    .bind(input.pusher.as_deref().map(str::trim).filter(|p| !p.is_empty()))
    .bind(i64::from(input.platform_manifests))
    .bind(input.format.unwrap_or(current.format).as_str())
    .bind(&input.template)
    .bind(json(&headers))
    .bind(input.timeout.unwrap_or(current.timeout).as_millis() as i64)
    .bind(i64::from(input.ordered))
    .bind(now_ms())
    .bind(id)
    .bind(owner_text(&input.owner_scope))
    .execute(&mut *conn)
    .await?;
    Ok(true)
}

/// The owner scope in its canonical text (validated before).
fn owner_text(owner: &str) -> String {
    AccessScope::parse(owner)
        .map(|s| s.to_text())
        .unwrap_or_else(|_| owner.trim().to_string())
}

fn clean_scope(scope: &[String]) -> Vec<String> {
    scope
        .iter()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

pub async fn get(conn: &mut AnyConnection, id: &str) -> Result<Option<Webhook>, sqlx::Error> {
    let row: Option<WebhookRow> = sqlx::query_as(&format!("SELECT {COLUMNS} FROM webhooks WHERE id = $1"))
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
    Ok(row.map(Webhook::from))
}

/// Every webhook, by name.
pub async fn list(conn: &mut AnyConnection) -> Result<Vec<Webhook>, sqlx::Error> {
    let rows: Vec<WebhookRow> = sqlx::query_as(&format!("SELECT {COLUMNS} FROM webhooks ORDER BY name, id"))
        .fetch_all(&mut *conn)
        .await?;
    Ok(rows.into_iter().map(Webhook::from).collect())
}

/// The webhooks that receive events now.
pub async fn active(conn: &mut AnyConnection) -> Result<Vec<Webhook>, sqlx::Error> {
    let rows: Vec<WebhookRow> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM webhooks WHERE enabled = 1 AND disabled_reason IS NULL"
    ))
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows.into_iter().map(Webhook::from).collect())
}

/// Deletes a webhook with its deliveries and their attempts.
pub async fn delete(conn: &mut AnyConnection, id: &str) -> Result<bool, sqlx::Error> {
    sqlx::query(
        "DELETE FROM webhook_attempts WHERE delivery_id IN (SELECT id FROM webhook_deliveries WHERE webhook_id = $1)",
    )
    .bind(id)
    .execute(&mut *conn)
    .await?;
    sqlx::query("DELETE FROM webhook_deliveries WHERE webhook_id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    let done = sqlx::query("DELETE FROM webhooks WHERE id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Disables a webhook and says why (a 410, a Slack channel gone, failing for days). Enabling
/// it again (saving it enabled) clears the reason.
pub async fn disable(conn: &mut AnyConnection, id: &str, reason: &str) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE webhooks SET enabled = 0, disabled_reason = $1, updated_at = $2 WHERE id = $3")
        .bind(reason.chars().take(500).collect::<String>())
        .bind(now_ms())
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Starts a rotation: a new secret signs from now on, the old one too until `overlap` ends.
/// Returns the new secret (shown once).
pub async fn rotate_secret(
    conn: &mut AnyConnection,
    id: &str,
    overlap: Duration,
) -> Result<Option<SigningSecret>, sqlx::Error> {
    let secret = SigningSecret::generate();
    let now = now_ms();
    let done = sqlx::query(
        "UPDATE webhooks SET previous_secret = secret, previous_secret_until = $1, secret = $2, updated_at = $3 \
         WHERE id = $4",
    )
    .bind(now + overlap.as_millis() as i64)
    .bind(secret.reveal())
    .bind(now)
    .bind(id)
    .execute(&mut *conn)
    .await?;
    Ok((done.rows_affected() == 1).then_some(secret))
}

/// Compiles the template of a template-format webhook, in a child process: the compiler evaluates
/// constant expressions, which can ask for any amount of memory.
pub async fn validate_template(input: &WebhookInput, templates: &TemplateSandbox) -> Result<(), InvalidWebhook> {
    match (input.format, input.template.as_deref()) {
        (Some(Format::Template), Some(source)) => Ok(templates.validate(source).await?),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> WebhookInput {
        WebhookInput {
            name: "deploy".into(),
            url: "https://hooks.example.com/x".into(),
            enabled: true,
            actions: vec![EventAction::Push],
            format: Some(Format::Generic),
            ordered: true,
            ..WebhookInput::default()
        }
    }

    #[test]
    fn validates_every_field() {
        let policy = OutboundPolicy::default();
        assert!(validate(&input(), &policy).is_ok());
        let bad = |change: fn(&mut WebhookInput)| {
            let mut i = input();
            change(&mut i);
            validate(&i, &policy).unwrap_err()
        };
        bad(|i| i.name = " ".into());
        bad(|i| i.name = "n".repeat(MAX_NAME + 1));
        bad(|i| i.url = "http://169.254.169.254/".into());
        bad(|i| i.url = format!("https://x.example/{}", "a".repeat(MAX_URL)));
        bad(|i| i.actions.clear());
        bad(|i| i.actions = vec![EventAction::Ping]);
        bad(|i| i.scope = vec!["[".into()]);
        bad(|i| i.format = None);
        bad(|i| i.format = Some(Format::Template));
        bad(|i| i.headers = vec![("X-Bad Name".into(), "v".into())]);
        bad(|i| i.headers = vec![("Webhook-Signature".into(), "v".into())]);
        bad(|i| i.headers = vec![("X-Token".into(), "a\r\nInjected: 1".into())]);
        bad(|i| i.headers = (0..=MAX_HEADERS).map(|n| (format!("X-{n}"), "v".into())).collect());
        bad(|i| i.timeout = Some(Duration::from_secs(61)));
        bad(|i| i.pusher = Some("p".repeat(MAX_PUSHER + 1)));
        bad(|i| i.owner_scope = "Team A/".into());
    }

    fn stored(url: &str, format: Format) -> Webhook {
        Webhook {
            id: "1".into(),
            name: "n".into(),
            url: url.into(),
            enabled: true,
            actions: vec![EventAction::Push],
            scope: vec![],
            owner_scope: String::new(),
            pusher: None,
            platform_manifests: false,
            format,
            template: None,
            headers: vec![("Authorization".into(), "Bearer top-secret".into())],
            timeout: DEFAULT_TIMEOUT,
            secret: String::new(),
            previous_secret: None,
            previous_secret_until: None,
            ordered: true,
            max_in_flight: 4,
            disabled_reason: None,
            created_at: 0,
            updated_at: 0,
        }
    }

    #[test]
    fn kept_secrets_go_only_to_their_receiver_and_format() {
        let ci = stored("https://ci.example/hook", Format::Generic);
        let change = |url: &str, format: Format, header: (&str, &str)| WebhookInput {
            url: url.into(),
            format: Some(format),
            headers: vec![(header.0.into(), header.1.into())],
            ..input()
        };
        let kept = ("Authorization", "");
        // Same receiver, same format: the stored value stays.
        let same = change("https://ci.example/other-path", Format::Generic, kept);
        assert!(check_kept_secrets(&ci, &same, false).is_ok());
        assert!(check_kept_secrets(&ci, &change("https://ci.example/hook", Format::Generic, kept), true).is_ok());
        // Another host, port or scheme: it must be typed again, or left out.
        for url in [
            "https://evil.example/hook",
            "https://ci.example:8443/hook",
            "http://ci.example/hook",
        ] {
            let err = check_kept_secrets(&ci, &change(url, Format::Generic, kept), false).unwrap_err();
            assert!(
                err.to_string().contains("enter the values of Authorization"),
                "{url}: {err}"
            );
            assert!(!err.to_string().contains("top-secret"));
            assert!(check_kept_secrets(
                &ci,
                &change(url, Format::Generic, ("Authorization", "Bearer new")),
                false
            )
            .is_ok());
            assert!(check_kept_secrets(&ci, &change(url, Format::Generic, ("X-Other", "")), false).is_ok());
        }
        // Another format: the header values and a kept URL must be entered again.
        let err = check_kept_secrets(
            &ci,
            &change("https://ci.example/hook", Format::CloudEvents, kept),
            false,
        )
        .unwrap_err();
        assert!(err.to_string().contains("format changed"), "{err}");
        let slack = Webhook {
            headers: vec![],
            ..stored("https://hooks.slack.com/services/T0/B0/SECRET", Format::Slack)
        };
        let generic = WebhookInput {
            url: slack.url.clone(),
            ..change("", Format::Generic, ("X-Other", "v"))
        };
        let err = check_kept_secrets(&slack, &generic, true).unwrap_err();
        assert!(err.to_string().contains("enter the URL again"), "{err}");
        assert!(check_kept_secrets(&slack, &generic, false).is_ok());
        let still_slack = WebhookInput {
            format: Some(Format::Slack),
            ..generic
        };
        assert!(check_kept_secrets(&slack, &still_slack, true).is_ok());
    }

    #[test]
    fn debug_output_hides_secrets() {
        let hook = Webhook {
            secret: "whsec_c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0".into(),
            ..stored("https://hooks.slack.com/services/SECRET-PATH", Format::Slack)
        };
        let debug = format!("{hook:?}");
        assert!(!debug.contains("top-secret") && !debug.contains("whsec_") && !debug.contains("SECRET-PATH"));
        assert!(hook.wants(EventAction::Push, "a", Some("b"), None));
        assert!(!hook.wants(EventAction::Delete, "a", Some("b"), None));
        let team_a = Webhook {
            owner_scope: "team-a/".into(),
            scope: vec!["*".into()],
            ..hook
        };
        assert!(team_a.wants(EventAction::Push, "team-a/api", Some("1"), None));
        assert!(!team_a.wants(EventAction::Push, "team-b/api", Some("1"), None));
        assert!(!team_a.wants(EventAction::Push, "team-a", Some("1"), None));
    }
}
