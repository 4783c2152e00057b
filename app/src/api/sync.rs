use leptos::prelude::*;

use crate::model::{AppError, SettingsView, SyncStatus};

/// Asks the reconcile worker to walk the registry now (administrators).
#[server(prefix = "/api", endpoint = "resync")]
pub async fn resync() -> Result<SyncStatus, AppError> {
    use crate::backend::access::{Action, Target};
    use crate::backend::session;
    crate::backend::responses::with_status(
        async move {
            let (state, _) = session::authorize(Target::Registry, Action::Administer, "resync the index").await?;
            state.sync.request_resync();
            Ok(state.sync.status())
        }
        .await,
    )
    .await
}

/// How Wharf is connected to its registry (administrators: it holds the notification secret).
#[server(prefix = "/api", endpoint = "settings")]
pub async fn settings() -> Result<SettingsView, AppError> {
    use crate::backend::access::{Action, Target};
    use crate::backend::registry_config::notification_stanza;
    use crate::backend::session;
    crate::backend::responses::with_status(
        async move {
            let (state, _) =
                session::authorize(Target::Registry, Action::Administer, "see the registry settings").await?;
            let settings = &state.settings;
            let events_url = settings
                .public_url
                .join("/registry/events")
                .map(|u| u.to_string())
                .unwrap_or_default();
            Ok(SettingsView {
                managed_registry: settings.managed_registry,
                registry_url: settings.registry_url.to_string(),
                registry_host: settings.registry_host.clone(),
                registry_username: settings.registry_username.clone(),
                token_realm: settings
                    .public_url
                    .join("/auth/token")
                    .map(|u| u.to_string())
                    .unwrap_or_default(),
                token_service: settings.token_service.clone(),
                notification_stanza: notification_stanza(&events_url, &settings.notification_secret),
                reconcile_interval_secs: settings.reconcile_interval.as_secs(),
                sync: state.sync.status(),
            })
        }
        .await,
    )
    .await
}
