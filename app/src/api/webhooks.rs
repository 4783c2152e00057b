//! Webhook server functions. A webhook belongs to an access scope (the registry, a namespace, a
//! repository glob): whoever may manage webhooks over all of it (a Contributor or Owner there)
//! sees and manages it, and it hears only of repositories inside it. Secrets are write-only (a
//! header value or URL left empty keeps the stored one, unless the receiver or the format
//! changes: then they must be entered again) and the signing secret is shown once, when made.
//! A receiver's answer body is shown to administrators only: a webhook is a request sent from
//! inside the network, and its answer is not every webhook manager's to read.

// The save function takes the form's fields one by one, as the form posts them.
#![allow(clippy::too_many_arguments)]

use leptos::prelude::*;

use crate::model::{AppError, DeliveriesPage, DeliveryDetail, SavedWebhook, WebhookSummary, WebhookView};

#[cfg(feature = "ssr")]
use crate::backend::audit::AuditAction;

#[cfg(feature = "ssr")]
mod server {
    use std::time::Duration;

    use crate::backend::access::{Action, Scope as AccessScope, Target};
    use crate::backend::session;
    use crate::backend::webhooks::deliveries::{self, DeliveryKind};
    use crate::backend::webhooks::event::{EventAction, WebhookEvent};
    use crate::backend::webhooks::formats::Format;
    use crate::backend::webhooks::log;
    use crate::backend::webhooks::store::{self, Webhook, WebhookInput};
    use crate::backend::AppState;
    use crate::model::{AppError, DeliveryDetail, FormatOption, HeaderField, WebhookForm, WebhookView};

    /// Every webhook function starts here: a signed-in caller who may manage webhooks somewhere.
    pub async fn authorize() -> Result<(AppState, session::Caller), AppError> {
        let (state, caller) = session::signed_in().await?;
        if caller.grants.scopes_for(Action::ManageWebhooks).is_empty() {
            return Err(AppError::Forbidden("manage webhooks".into()));
        }
        Ok((state, caller))
    }

    /// May the caller manage webhooks over all of `owner_scope` (its text form)?
    pub fn require_owner(caller: &session::Caller, owner_scope: &str) -> Result<AccessScope, AppError> {
        let scope = AccessScope::parse(owner_scope).map_err(|e| AppError::BadRequest(format!("Belongs to: {e}")))?;
        caller.require(
            Target::Within(&scope),
            Action::ManageWebhooks,
            &format!("manage webhooks in {}", scope.describe()),
        )?;
        Ok(scope)
    }

    /// Where the caller may put a webhook, for the form.
    pub fn owner_choices(caller: &session::Caller) -> Vec<(String, String)> {
        caller
            .grants
            .scopes_for(Action::ManageWebhooks)
            .iter()
            .map(|scope| (scope.to_text(), scope.describe()))
            .collect()
    }

    /// The description of a stored owner scope.
    pub fn owner_label(owner_scope: &str) -> String {
        AccessScope::parse(owner_scope)
            .map(|s| s.describe())
            .unwrap_or_else(|_| owner_scope.to_string())
    }

    pub fn internal(err: impl std::fmt::Display) -> AppError {
        session::internal(err)
    }

    /// The webhook `id`, once the caller may manage webhooks where it belongs. One it may not
    /// manage is "not found", as one that does not exist.
    pub async fn webhook(state: &AppState, caller: &session::Caller, id: &str) -> Result<Webhook, AppError> {
        let mut conn = state.db.pool.acquire().await.map_err(internal)?;
        store::get(&mut conn, id)
            .await
            .map_err(internal)?
            .filter(|hook| require_owner(caller, &hook.owner_scope).is_ok())
            .ok_or_else(|| AppError::NotFound("That webhook".into()))
    }

    pub fn formats() -> Vec<FormatOption> {
        Format::ALL
            .iter()
            .map(|f| FormatOption {
                value: f.as_str().to_string(),
                label: f.label().to_string(),
                signed: f.is_signed(),
            })
            .collect()
    }

    pub fn form(webhook: Option<&Webhook>, default_owner: String) -> WebhookForm {
        match webhook {
            None => WebhookForm {
                owner_scope: default_owner,
                enabled: true,
                push: true,
                format: Format::Generic.as_str().to_string(),
                timeout_secs: store::DEFAULT_TIMEOUT.as_secs(),
                ordered: true,
                ..WebhookForm::default()
            },
            Some(w) => WebhookForm {
                id: Some(w.id.clone()),
                name: w.name.clone(),
                url_masked: log::masked_url(&w.url, w.format),
                enabled: w.enabled,
                push: w.actions.contains(&EventAction::Push),
                delete: w.actions.contains(&EventAction::Delete),
                scope: w.scope.join("\n"),
                owner_scope: w.owner_scope.clone(),
                pusher: w.pusher.clone().unwrap_or_default(),
                platform_manifests: w.platform_manifests,
                format: w.format.as_str().to_string(),
                template: w.template.clone().unwrap_or_default(),
                headers: w
                    .headers
                    .iter()
                    .map(|(name, _)| HeaderField { name: name.clone() })
                    .collect(),
                timeout_secs: w.timeout.as_secs(),
                ordered: w.ordered,
            },
        }
    }

    pub async fn page(
        state: &AppState,
        caller: &session::Caller,
        webhook: Option<&Webhook>,
    ) -> Result<WebhookView, AppError> {
        let owner_choices = owner_choices(caller);
        let default_owner = owner_choices.first().map(|(text, _)| text.clone()).unwrap_or_default();
        let health = match webhook {
            Some(w) => log::health(&state.db, &w.id).await.map_err(internal)?,
            None => Default::default(),
        };
        let now = crate::backend::db::now_ms();
        Ok(WebhookView {
            form: form(webhook, default_owner),
            formats: formats(),
            disabled_reason: webhook.and_then(|w| w.disabled_reason.clone()),
            health,
            rotation_until_ms: webhook
                .filter(|w| w.previous_secret.is_some())
                .and_then(|w| w.previous_secret_until)
                .filter(|until| *until > now),
            registry_host: state.settings.registry_host.clone(),
            owner_choices,
        })
    }

    /// "Name: value" lines → pairs; a line without a value keeps the stored value.
    pub fn parse_headers(text: &str) -> Result<Vec<(String, String)>, AppError> {
        text.lines()
            .map(str::trim)
            .filter(|line| !line.is_empty())
            .map(|line| {
                let (name, value) = line.split_once(':').ok_or_else(|| {
                    AppError::BadRequest(format!(
                        "Write each header as \"Name: value\" (line \"{}\").",
                        line.chars().take(40).collect::<String>()
                    ))
                })?;
                Ok((name.trim().to_string(), value.trim().to_string()))
            })
            .collect()
    }

    pub fn input(
        current: Option<&Webhook>,
        name: String,
        url: String,
        enabled: bool,
        push: bool,
        delete: bool,
        scope: String,
        owner_scope: String,
        pusher: String,
        platform_manifests: bool,
        format: String,
        template: String,
        headers: String,
        timeout_secs: String,
        ordered: bool,
    ) -> Result<WebhookInput, AppError> {
        let url_kept = url.trim().is_empty();
        let url = match (url.trim(), current) {
            ("", Some(current)) => current.url.clone(),
            ("", None) => return Err(AppError::BadRequest("Enter the URL that receives the webhook.".into())),
            (url, _) => url.to_string(),
        };
        let format: Format = format
            .parse()
            .map_err(|_| AppError::BadRequest("Choose one of the formats offered.".into()))?;
        let timeout = match timeout_secs.trim() {
            "" => None,
            secs => Some(Duration::from_secs(secs.parse::<u64>().map_err(|_| {
                AppError::BadRequest("The timeout is a whole number of seconds.".into())
            })?)),
        };
        let actions = [(push, EventAction::Push), (delete, EventAction::Delete)]
            .into_iter()
            .filter_map(|(on, action)| on.then_some(action))
            .collect();
        let input = WebhookInput {
            name,
            url,
            enabled,
            actions,
            scope: scope.lines().map(str::to_string).collect(),
            owner_scope,
            pusher: Some(pusher).filter(|p| !p.trim().is_empty()),
            platform_manifests,
            format: Some(format),
            template: Some(template).filter(|t| !t.trim().is_empty()),
            headers: parse_headers(&headers)?,
            timeout,
            ordered,
        };
        if let Some(current) = current {
            store::check_kept_secrets(current, &input, url_kept).map_err(|e| AppError::BadRequest(e.to_string()))?;
        }
        Ok(input)
    }

    /// Queues a ping or test delivery and waits (bounded) for its first attempt.
    pub async fn send_now(
        state: &AppState,
        webhook: &Webhook,
        kind: DeliveryKind,
        event: &WebhookEvent,
    ) -> Result<DeliveryDetail, AppError> {
        let id = {
            let mut conn = state.db.pool.acquire().await.map_err(internal)?;
            deliveries::enqueue_manual(&mut conn, &webhook.id, kind, event)
                .await
                .map_err(internal)?
        };
        state
            .notifier
            .publish(crate::backend::notifier::Signal::DeliveriesQueued);
        let deadline = tokio::time::Instant::now() + webhook.timeout + Duration::from_secs(5);
        loop {
            let detail = log::delivery(&state.db, &id, webhook)
                .await
                .map_err(internal)?
                .ok_or_else(|| AppError::NotFound("That delivery".into()))?;
            // A body that cannot be rendered fails without an attempt.
            let failed = detail.delivery.state == "failed";
            if !detail.attempts.is_empty() || failed || tokio::time::Instant::now() >= deadline {
                return Ok(detail);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// A delivery as the caller may see it: the receivers' answer bodies for administrators
    /// only (with private networks allowed, a body is what an internal service answered).
    pub fn for_caller(mut detail: DeliveryDetail, caller: &session::Caller) -> DeliveryDetail {
        if !caller.is_administrator() {
            for attempt in &mut detail.attempts {
                attempt.response_body_hidden = attempt.response_body.take().is_some_and(|body| !body.is_empty());
            }
        }
        detail
    }

    pub fn checked(value: Option<String>) -> bool {
        // An HTML checkbox sends "on" when ticked and nothing otherwise.
        value.is_some_and(|v| matches!(v.as_str(), "on" | "true" | "1"))
    }
}

/// Every webhook with its health.
#[server(prefix = "/api", endpoint = "webhooks")]
pub async fn list_webhooks() -> Result<Vec<WebhookSummary>, AppError> {
    use crate::backend::webhooks::{log, store};
    use server::*;
    crate::backend::responses::with_status(
        async move {
            let (state, caller) = authorize().await?;
            let hooks = store::list(&mut *state.db.pool.acquire().await.map_err(internal)?)
                .await
                .map_err(internal)?;
            let mut summaries = Vec::with_capacity(hooks.len());
            for hook in hooks
                .into_iter()
                .filter(|hook| require_owner(&caller, &hook.owner_scope).is_ok())
            {
                summaries.push(WebhookSummary {
                    health: log::health(&state.db, &hook.id).await.map_err(internal)?,
                    url: log::masked_url(&hook.url, hook.format),
                    format: hook.format.label().to_string(),
                    actions: hook.actions.iter().map(|a| a.as_str().to_string()).collect(),
                    scope: hook.scope.clone(),
                    owner: owner_label(&hook.owner_scope),
                    id: hook.id,
                    name: hook.name,
                    enabled: hook.enabled,
                    disabled_reason: hook.disabled_reason,
                });
            }
            Ok(summaries)
        }
        .await,
    )
    .await
}

/// A webhook's page (`id` empty: the form for a new one).
#[server(prefix = "/api", endpoint = "webhook")]
pub async fn webhook_page(id: String) -> Result<WebhookView, AppError> {
    use server::*;
    crate::backend::responses::with_status(
        async move {
            let (state, caller) = authorize().await?;
            if id.is_empty() {
                return page(&state, &caller, None).await;
            }
            let hook = webhook(&state, &caller, &id).await?;
            page(&state, &caller, Some(&hook)).await
        }
        .await,
    )
    .await
}

/// Creates (`id` empty) or changes a webhook. The URL is checked, resolved and refused when it
/// leads to a loopback, link-local or (when denied) private address.
#[server(prefix = "/api", endpoint = "save_webhook")]
pub async fn save_webhook(
    id: String,
    name: String,
    url: String,
    enabled: Option<String>,
    push: Option<String>,
    delete: Option<String>,
    scope: String,
    // Absent (an older form): the registry, which only registry-wide managers may choose.
    #[server(default)] owner_scope: String,
    pusher: String,
    platform_manifests: Option<String>,
    format: String,
    template: String,
    headers: String,
    timeout_secs: String,
    ordered: Option<String>,
) -> Result<SavedWebhook, AppError> {
    use crate::backend::webhooks::store;
    use server::*;
    crate::backend::responses::with_status(
        async move {
            let (state, caller) = authorize().await?;
            let current = match id.as_str() {
                "" => None,
                id => Some(webhook(&state, &caller, id).await?),
            };
            require_owner(&caller, &owner_scope)?;
            let input = input(
                current.as_ref(),
                name,
                url,
                checked(enabled),
                checked(push),
                checked(delete),
                scope,
                owner_scope,
                pusher,
                checked(platform_manifests),
                format,
                template,
                headers,
                timeout_secs,
                checked(ordered),
            )?;
            store::validate(&input, &state.webhook_policy).map_err(|e| AppError::BadRequest(e.to_string()))?;
            store::validate_template(&input, &state.templates)
                .await
                .map_err(|e| AppError::BadRequest(e.to_string()))?;
            state
                .webhook_policy
                .check_resolved(input.url.trim())
                .await
                .map_err(|e| AppError::BadRequest(e.to_string()))?;
            let mut conn = state.db.pool.acquire().await.map_err(internal)?;
            match current {
                None => {
                    let created = store::create(&mut conn, &input).await.map_err(internal)?;
                    caller
                        .audit(&state, AuditAction::WebhookSaved, &created.name, "created")
                        .await;
                    Ok(SavedWebhook {
                        id: created.id,
                        secret: Some(created.secret),
                    })
                }
                Some(current) => {
                    store::update(&mut conn, &current.id, &input).await.map_err(internal)?;
                    caller
                        .audit(&state, AuditAction::WebhookSaved, &current.name, "changed")
                        .await;
                    // Deliveries that were waiting for this webhook may go now.
                    state
                        .notifier
                        .publish(crate::backend::notifier::Signal::DeliveriesQueued);
                    Ok(SavedWebhook {
                        id: current.id,
                        secret: None,
                    })
                }
            }
        }
        .await,
    )
    .await
}

/// Deletes a webhook, its deliveries and their log; `confirm` must be the webhook's name.
#[server(prefix = "/api", endpoint = "delete_webhook")]
pub async fn delete_webhook(id: String, confirm: String) -> Result<(), AppError> {
    use crate::backend::webhooks::store;
    use server::*;
    crate::backend::responses::with_status(
        async move {
            let (state, caller) = authorize().await?;
            let hook = webhook(&state, &caller, &id).await?;
            if confirm.trim() != hook.name {
                return Err(AppError::BadRequest(format!(
                    "Type the webhook's name, {}, to delete it.",
                    hook.name
                )));
            }
            let mut tx = state.db.begin_write().await.map_err(internal)?;
            store::delete(&mut tx, &id).await.map_err(internal)?;
            tx.commit().await.map_err(internal)?;
            caller.audit(&state, AuditAction::WebhookDeleted, &hook.name, "").await;
            Ok(())
        }
        .await,
    )
    .await
}

/// Sends a ping now and returns the attempt (waits for it, up to the webhook's timeout).
#[server(prefix = "/api", endpoint = "ping_webhook")]
pub async fn ping_webhook(id: String) -> Result<DeliveryDetail, AppError> {
    use crate::backend::webhooks::deliveries::DeliveryKind;
    use crate::backend::webhooks::event::WebhookEvent;
    use server::*;
    crate::backend::responses::with_status(
        async move {
            let (state, caller) = authorize().await?;
            let hook = webhook(&state, &caller, &id).await?;
            let event = WebhookEvent::ping(&state.settings.registry_host, Some(state.settings.public_url.as_str()));
            Ok(for_caller(
                send_now(&state, &hook, DeliveryKind::Ping, &event).await?,
                &caller,
            ))
        }
        .await,
    )
    .await
}

/// Sends the most recent real event in the webhook's scope (or a realistic sample) now.
#[server(prefix = "/api", endpoint = "test_webhook")]
pub async fn test_webhook(id: String) -> Result<DeliveryDetail, AppError> {
    use crate::backend::webhooks::deliveries::DeliveryKind;
    use crate::backend::webhooks::event::WebhookEvent;
    use crate::backend::webhooks::log;
    use server::*;
    crate::backend::responses::with_status(
        async move {
            let (state, caller) = authorize().await?;
            let hook = webhook(&state, &caller, &id).await?;
            let settings = &state.settings;
            let public_url = settings.public_url.as_str();
            let event = match log::recent_event_in_scope(&state.db, &hook, &settings.registry_host, public_url)
                .await
                .map_err(internal)?
            {
                Some(event) => event,
                None => WebhookEvent::sample(&settings.registry_host, Some(public_url)),
            };
            Ok(for_caller(
                send_now(&state, &hook, DeliveryKind::Test, &event).await?,
                &caller,
            ))
        }
        .await,
    )
    .await
}

/// A page of a webhook's delivery log, newest first.
#[server(prefix = "/api", endpoint = "webhook_deliveries")]
pub async fn webhook_deliveries(
    id: String,
    failed_only: bool,
    cursor: Option<String>,
) -> Result<DeliveriesPage, AppError> {
    use crate::backend::webhooks::log;
    use server::*;
    crate::backend::responses::with_status(
        async move {
            let (state, caller) = authorize().await?;
            let hook = webhook(&state, &caller, &id).await?;
            log::deliveries(
                &state.db,
                &hook.id,
                failed_only,
                cursor.as_deref().filter(|c| !c.is_empty()),
            )
            .await
            .map_err(internal)
        }
        .await,
    )
    .await
}

/// One delivery with its attempts (request and response).
#[server(prefix = "/api", endpoint = "webhook_delivery")]
pub async fn webhook_delivery(id: String, delivery: String) -> Result<DeliveryDetail, AppError> {
    use crate::backend::webhooks::log;
    use server::*;
    crate::backend::responses::with_status(
        async move {
            let (state, caller) = authorize().await?;
            let hook = webhook(&state, &caller, &id).await?;
            let detail = log::delivery(&state.db, &delivery, &hook)
                .await
                .map_err(internal)?
                .ok_or_else(|| AppError::NotFound("That delivery".into()))?;
            Ok(for_caller(detail, &caller))
        }
        .await,
    )
    .await
}

/// Queues one delivery again (`delivery` set) or every failed one of the webhook; returns how
/// many were queued.
#[server(prefix = "/api", endpoint = "redeliver")]
pub async fn redeliver(id: String, delivery: Option<String>) -> Result<u64, AppError> {
    use crate::backend::webhooks::deliveries;
    use server::*;
    crate::backend::responses::with_status(
        async move {
            let (state, caller) = authorize().await?;
            let hook = webhook(&state, &caller, &id).await?;
            let mut conn = state.db.pool.acquire().await.map_err(internal)?;
            let queued = match delivery.filter(|d| !d.is_empty()) {
                Some(delivery) => {
                    let belongs = crate::backend::webhooks::log::delivery(&state.db, &delivery, &hook)
                        .await
                        .map_err(internal)?
                        .is_some();
                    if !belongs {
                        return Err(AppError::NotFound("That delivery".into()));
                    }
                    u64::from(deliveries::redeliver(&mut conn, &delivery).await.map_err(internal)?)
                }
                None => deliveries::redeliver_failed(&mut conn, &hook.id)
                    .await
                    .map_err(internal)?,
            };
            state
                .notifier
                .publish(crate::backend::notifier::Signal::DeliveriesQueued);
            Ok(queued)
        }
        .await,
    )
    .await
}

/// Makes a new signing secret (shown once); the old one keeps signing for 24 hours, so
/// receivers can switch without losing deliveries.
#[server(prefix = "/api", endpoint = "rotate_webhook_secret")]
pub async fn rotate_webhook_secret(id: String) -> Result<String, AppError> {
    use crate::backend::webhooks::store;
    use server::*;
    crate::backend::responses::with_status(
        async move {
            let (state, caller) = authorize().await?;
            let hook = webhook(&state, &caller, &id).await?;
            let mut conn = state.db.pool.acquire().await.map_err(internal)?;
            let secret = store::rotate_secret(&mut conn, &hook.id, std::time::Duration::from_secs(24 * 3600))
                .await
                .map_err(internal)?
                .ok_or_else(|| AppError::NotFound("That webhook".into()))?;
            caller
                .audit(&state, AuditAction::WebhookSecretRotated, &hook.name, "")
                .await;
            Ok(secret.reveal())
        }
        .await,
    )
    .await
}

/// Renders a template against the most recent real event in the webhook's scope (or a sample):
/// the live preview of the template format.
#[server(prefix = "/api", endpoint = "preview_template")]
pub async fn preview_template(id: String, template: String) -> Result<String, AppError> {
    use crate::backend::webhooks::event::WebhookEvent;
    use crate::backend::webhooks::formats::{self, Format};
    use crate::backend::webhooks::log;
    use server::*;
    crate::backend::responses::with_status(
        async move {
            let (state, caller) = authorize().await?;
            let settings = &state.settings;
            let public_url = settings.public_url.as_str();
            let recent = match id.as_str() {
                "" => None,
                id => {
                    let hook = webhook(&state, &caller, id).await?;
                    log::recent_event_in_scope(&state.db, &hook, &settings.registry_host, public_url)
                        .await
                        .map_err(internal)?
                }
            };
            let event = recent.unwrap_or_else(|| WebhookEvent::sample(&settings.registry_host, Some(public_url)));
            let rendered = formats::render(Format::Template, &event, Some(&template), &state.templates)
                .await
                .map_err(|e| AppError::BadRequest(e.to_string()))?;
            Ok(String::from_utf8_lossy(&rendered.body).into_owned())
        }
        .await,
    )
    .await
}
