//! Data shapes shared by server functions and views: serde only, no server dependencies.

mod access;
mod audit;
mod catalog;
mod error;
mod events;
mod gc;
mod insights;
mod manifest;
mod repository;
mod retention;
mod session;
mod settings;
mod sso;
mod sync;
mod webhooks;

pub use access::{
    AccessView, AssignmentView, Explanation, NewSecret, ProfileView, PullSecretView, RefreshTokenView,
    RepositoryAccessEntry, RepositoryAccessView, RobotView, TeamView, TokenView, UserView,
};
pub use audit::{AuditEntryView, AuditPage};
pub use catalog::{CatalogPage, CatalogQuery, CatalogSort, NamespaceCount, RepositoryRow};
pub use error::AppError;
pub use events::{EventRow, EventsPage, QuarantinedEvent};
pub use gc::{GcOverview, GcRunDetail, GcRunView, ProcedureStep};
pub use insights::{
    DayPoint, NamespaceStorage, RepositoryStorage, StorageInsights, UnpulledImage, UnpulledPage, UnpulledQuery, DAY_MS,
    UNPULLED_DAYS,
};
pub use manifest::{DeleteOutcome, HistoryRow, ImageConfigView, ImageDetail, LayerRow, ManifestView};
pub use repository::{Attachment, ImageRow, Label, PlatformRow, PullStats, RepositoryView};
pub use retention::{
    Reason, RetentionItemView, RetentionItemsPage, RetentionOverview, RetentionPolicyDetail, RetentionPolicyView,
    RetentionRules, RetentionRunView,
};
pub use session::CurrentUser;
pub use settings::SettingsView;
pub use sso::{SsoLoginOption, SsoSettingsView, SsoTestResult};
pub use sync::{IndexUpdate, ReconcileProgress, SyncStatus, RECONCILE_FAILED, REGISTRY_UNREACHABLE};
pub use webhooks::{
    AttemptView, DeliveriesPage, DeliveryDetail, DeliveryRow, FormatOption, HeaderField, SavedWebhook, WebhookForm,
    WebhookHealth, WebhookSummary, WebhookView,
};
