//! Pages whose code is loaded on demand: each is a separate wasm chunk, fetched the first time
//! the page is shown (or before hydrating when it is the page loaded). The first load of the
//! catalog and the image pages carries only what browsing needs.
//!
//! The split is made by `cargo leptos build --split`; without it every page is in the one
//! wasm file and these routes behave as plain ones.

use leptos::prelude::*;
use leptos_router::{lazy_route, LazyRoute};

use super::access::AccessPage;
use super::audit::AuditLogPage;
use super::delivery::DeliveryPage;
use super::events::EventsPage;
use super::gc::GcPage;
use super::profile::ProfilePage;
use super::retention::{RetentionPoliciesPage, RetentionPolicyPage};
use super::settings::SettingsPage;
use super::storage::StoragePage;
use super::webhook::WebhookPage;
use super::webhooks::WebhooksPage;

/// `$route`: a route (for `Lazy::<$route>::new()`) whose view is the component `$page`. The
/// page loads its own data, so the route's data half is empty.
macro_rules! on_demand {
    ($($route:ident => $page:ident),* $(,)?) => {$(
        #[derive(Clone, Copy)]
        pub struct $route;

        #[lazy_route]
        impl LazyRoute for $route {
            fn data() -> Self {
                Self
            }

            fn view(_this: Self) -> AnyView {
                view! { <$page/> }.into_any()
            }
        }
    )*};
}

on_demand! {
    AccessRoute => AccessPage,
    AuditRoute => AuditLogPage,
    DeliveryRoute => DeliveryPage,
    EventsRoute => EventsPage,
    GcRoute => GcPage,
    ProfileRoute => ProfilePage,
    RetentionPoliciesRoute => RetentionPoliciesPage,
    RetentionPolicyRoute => RetentionPolicyPage,
    SettingsRoute => SettingsPage,
    StorageRoute => StoragePage,
    WebhookRoute => WebhookPage,
    WebhooksRoute => WebhooksPage,
}
