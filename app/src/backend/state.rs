//! The one application state: handed to axum with `with_state` and to Leptos with `provide_context`.

use std::sync::Arc;

use leptos::config::LeptosOptions;

use super::config::Settings;
use super::db::Db;
use super::notifier::Notifier;
use super::registry::RegistryClient;
use super::sync::SyncHub;
use super::tokens::TokenSigner;

#[derive(Clone)]
pub struct AppState(pub Arc<App>);

pub struct App {
    pub settings: Settings,
    pub db: Db,
    pub signer: Arc<TokenSigner>,
    /// The console's own registry client; it mints its own short-lived tokens.
    pub registry: RegistryClient,
    /// Registry reachability and reconcile progress.
    pub sync: Arc<SyncHub>,
    /// The catalog's counts, kept while the index does not change.
    pub catalog_counts: super::index::catalog_counts::CatalogCounts,
    /// Stores the registry's notifications.
    pub intake: super::intake::Intake,
    /// Wakes the workers and carries live updates.
    pub notifier: Arc<Notifier>,
    /// Where webhooks may be sent.
    pub webhook_policy: Arc<super::webhooks::outbound::OutboundPolicy>,
    /// Compiles and renders webhook templates in memory-limited child processes.
    pub templates: Arc<super::webhooks::formats::sandbox::TemplateSandbox>,
    /// Checks passwords, tokens and robot secrets (throttled, cached).
    pub credentials: Arc<super::access::credentials::Credentials>,
    /// Garbage collection: the managed registry's maintenance (none in external mode) and the
    /// run going on.
    pub gc: super::housekeeping::gc::runner::Collector,
    pub leptos_options: LeptosOptions,
}

impl std::ops::Deref for AppState {
    type Target = App;
    fn deref(&self) -> &App {
        &self.0
    }
}

impl axum::extract::FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}

impl AppState {
    /// Call after any change to users, teams, role assignments, robots or credentials: the
    /// token server forgets the credentials it verified, and open live streams check their
    /// reader's access again, so the change applies at once.
    pub fn access_changed(&self) {
        self.credentials.forget_all();
        self.notifier.publish(super::notifier::Signal::AccessChanged);
    }

    /// The state inside a server function (provided as context by the router).
    pub fn from_context() -> Result<AppState, crate::model::AppError> {
        leptos::prelude::use_context::<AppState>()
            .ok_or_else(|| crate::model::AppError::Internal("application state missing".into()))
    }
}
