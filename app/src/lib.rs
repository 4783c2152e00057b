//! The Wharf web app: compiled to wasm (hydrate) and natively (ssr).

pub mod api;
pub mod components;
pub mod format;
pub mod model;
pub mod names;
pub mod pages;
pub mod urls;

#[cfg(feature = "ssr")]
pub mod backend;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Stylesheet, Title};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::{path, Lazy, SsrMode};

use crate::api::auth::{who_am_i, Login, Logout};
use crate::components::live::provide_live_updates;
use crate::components::nav::Nav;
use crate::model::{AppError, CurrentUser};
use crate::pages::on_demand::{
    AccessRoute, AuditRoute, DeliveryRoute, EventsRoute, GcRoute, ProfileRoute, RetentionPoliciesRoute,
    RetentionPolicyRoute, SettingsRoute, StorageRoute, WebhookRoute, WebhooksRoute,
};
use crate::pages::{catalog::CatalogPage, login::LoginPage, not_found::NotFound, reference::ReferencePage};

/// The HTML document around the app (server side only renders it).
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <link rel="icon" href="/favicon.svg" type="image/svg+xml"/>
                <AutoReload options=options.clone()/>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

/// Sign-in state shared by the navigation and the pages.
#[derive(Clone, Copy)]
pub struct Auth {
    pub login: ServerAction<Login>,
    pub logout: ServerAction<Logout>,
    pub user: Resource<Result<Option<CurrentUser>, AppError>>,
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    let login = ServerAction::<Login>::new();
    let logout = ServerAction::<Logout>::new();
    let user = Resource::new(move || (login.version().get(), logout.version().get()), |_| who_am_i());
    provide_context(Auth { login, logout, user });
    provide_live_updates(Signal::derive(move || {
        user.get().and_then(|u| u.ok()).flatten().is_some()
    }));

    view! {
        <Stylesheet id="leptos" href="/pkg/wharf.css"/>
        <Title formatter=|text: String| if text.is_empty() { "Wharf".to_string() } else { format!("{text} · Wharf") }/>
        <Router>
            <Nav/>
            <main class="content">
                <Routes fallback=NotFound>
                    <Route path=path!("/") view=CatalogPage ssr=SsrMode::Async/>
                    <Route path=path!("/login") view=LoginPage ssr=SsrMode::Async/>
                    <Route path=path!("/events") view={Lazy::<EventsRoute>::new()} ssr=SsrMode::Async/>
                    <Route path=path!("/webhooks") view={Lazy::<WebhooksRoute>::new()} ssr=SsrMode::Async/>
                    <Route path=path!("/webhooks/:id") view={Lazy::<WebhookRoute>::new()} ssr=SsrMode::Async/>
                    <Route path=path!("/webhooks/:id/deliveries/:delivery") view={Lazy::<DeliveryRoute>::new()} ssr=SsrMode::Async/>
                    <Route path=path!("/access") view={Lazy::<AccessRoute>::new()} ssr=SsrMode::Async/>
                    <Route path=path!("/profile") view={Lazy::<ProfileRoute>::new()} ssr=SsrMode::Async/>
                    <Route path=path!("/audit") view={Lazy::<AuditRoute>::new()} ssr=SsrMode::Async/>
                    <Route path=path!("/housekeeping/gc") view={Lazy::<GcRoute>::new()} ssr=SsrMode::Async/>
                    <Route path=path!("/r/*path") view=ReferencePage ssr=SsrMode::Async/>
                    <Route path=path!("/housekeeping/retention") view={Lazy::<RetentionPoliciesRoute>::new()} ssr=SsrMode::Async/>
                    <Route path=path!("/housekeeping/retention/:id") view={Lazy::<RetentionPolicyRoute>::new()} ssr=SsrMode::Async/>
                    <Route path=path!("/settings") view={Lazy::<SettingsRoute>::new()} ssr=SsrMode::Async/>
                    <Route path=path!("/housekeeping/storage") view={Lazy::<StorageRoute>::new()} ssr=SsrMode::Async/>
                </Routes>
            </main>
        </Router>
    }
}
