//! The HTTP surface: Leptos pages and server functions, the token server, the notification
//! intake, health endpoints, static assets; compression and request tracing around all of it.

use axum::routing::{get, post};
use axum::Router;
use leptos::prelude::provide_context;
use leptos_axum::{generate_route_list, LeptosRoutes};
use tower_http::compression::CompressionLayer;
use tower_http::services::ServeDir;
use tower_http::trace::TraceLayer;

use app::backend::AppState;
use app::{shell, App};

use crate::startup_error::StartupError;
use crate::{health, live_stream, registry_events, sessions, token_endpoint};

/// Notification envelopes are small; anything bigger is not from the registry.
const EVENTS_BODY_LIMIT: usize = 4 * 1024 * 1024;

pub async fn router(state: AppState, secure_cookie: bool) -> Result<Router, StartupError> {
    let options = state.leptos_options.clone();
    let routes = generate_route_list(App);
    let context_state = state.clone();
    let router = Router::new()
        .leptos_routes_with_context(&state, routes, move || provide_context(context_state.clone()), {
            let options = options.clone();
            move || shell(options.clone())
        })
        .route("/auth/token", get(token_endpoint::issue))
        .route(
            "/registry/events",
            post(registry_events::receive).layer(axum::extract::DefaultBodyLimit::max(EVENTS_BODY_LIMIT)),
        )
        .route("/api/stream", get(live_stream::stream))
        .nest_service("/pkg", precompressed_assets(&options))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(shell));
    let router = sessions::layer(router, &state.db, secure_cookie).await?;
    Ok(router
        .layer(CompressionLayer::new())
        .layer(TraceLayer::new_for_http())
        .with_state(state))
}

/// The built JS, wasm and CSS, sent as the `.br` or `.gz` file the build wrote next to each one
/// when the browser accepts it (compressed once at the highest level, not per request).
fn precompressed_assets(options: &leptos::config::LeptosOptions) -> ServeDir {
    let dir = std::path::Path::new(options.site_root.as_ref()).join(options.site_pkg_dir.as_ref());
    ServeDir::new(dir).precompressed_br().precompressed_gzip()
}
