//! The HTTP surface: Leptos pages and server functions, the token server, the notification
//! intake, health endpoints, static assets; compression, request ids, request tracing and
//! timings around all of it.

use axum::routing::{get, post};
use axum::Router;
use leptos::prelude::provide_context;
use leptos_axum::{generate_route_list, LeptosRoutes};
use tower_http::compression::predicate::{NotForContentType, Predicate, SizeAbove};
use tower_http::compression::CompressionLayer;
use tower_http::services::ServeDir;

use app::backend::AppState;
use app::{shell, App};

use crate::startup_error::StartupError;
use crate::{
    health, live_stream, metrics_endpoint, registry_events, request_id, retention_csv, same_origin, security_headers,
    sessions, sso_routes, token_endpoint,
};

pub async fn router(state: AppState, https: bool) -> Result<Router, StartupError> {
    let options = state.leptos_options.clone();
    let routes = generate_route_list(App);
    let context_state = state.clone();
    let router = Router::new()
        .leptos_routes_with_context(&state, routes, move || provide_context(context_state.clone()), {
            let options = options.clone();
            move || {
                security_headers::set_page_policy();
                shell(options.clone())
            }
        })
        .route(
            "/auth/token",
            get(token_endpoint::issue_get)
                .post(token_endpoint::issue_post)
                .layer(axum::extract::DefaultBodyLimit::max(token_endpoint::MAX_FORM_BYTES)),
        )
        .route("/registry/events", post(registry_events::receive))
        .route("/auth/sso/start", get(sso_routes::start))
        .route("/auth/sso/callback", get(sso_routes::callback))
        .route("/api/stream", get(live_stream::stream))
        .route(
            "/housekeeping/retention/runs/{id}/items.csv",
            get(retention_csv::download),
        )
        .nest_service("/pkg", precompressed_assets(&options))
        .route("/favicon.svg", get(favicon))
        .route("/favicon.ico", get(favicon))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(|options| {
            security_headers::set_page_policy();
            shell(options)
        }));
    let router = sessions::layer(router, &state.db, https).await?;
    let router = router
        .layer(axum::middleware::from_fn_with_state(state.clone(), same_origin::check))
        .layer(axum::middleware::from_fn_with_state(
            security_headers::Transport { https },
            security_headers::add,
        ))
        .layer(axum::middleware::from_fn(metrics_endpoint::track_request))
        .layer(
            CompressionLayer::new().compress_when(
                SizeAbove::new(COMPRESS_ABOVE)
                    .and(NotForContentType::GRPC)
                    .and(NotForContentType::IMAGES)
                    .and(NotForContentType::SSE),
            ),
        );
    Ok(request_id::around(router).with_state(state))
}

/// Smaller responses go as they are (the default is 32 bytes): for the answer to a registry
/// notification or a small server function result, setting up an encoder costs more than it
/// saves, and the registry waits for each answer before it sends the next notification.
const COMPRESS_ABOVE: u16 = 1024;

/// The icon, built into the binary: browsers ask for `/favicon.ico` on every site whatever the
/// page links, and a 404 there is an error in every browser's console.
async fn favicon() -> impl axum::response::IntoResponse {
    (
        [
            (axum::http::header::CONTENT_TYPE, "image/svg+xml"),
            (axum::http::header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        include_str!("../../public/favicon.svg"),
    )
}

/// The built JS, wasm and CSS, sent as the `.br` or `.gz` file the build wrote next to each one
/// when the browser accepts it (compressed once at the highest level, not per request). If any
/// compressed copy is stale (a build that did not write them again), none are used.
fn precompressed_assets(options: &leptos::config::LeptosOptions) -> ServeDir {
    let dir = std::path::Path::new(options.site_root.as_ref()).join(options.site_pkg_dir.as_ref());
    let serve = ServeDir::new(&dir);
    match stale_compressed_copies(&dir) {
        stale if stale.is_empty() => serve.precompressed_br().precompressed_gzip(),
        stale => {
            tracing::warn!(files = ?stale, "compressed web assets are older than the build; compressing per request");
            serve
        }
    }
}

/// `x.br` / `x.gz` whose modification time differs from `x` (brotli and gzip keep it when they
/// write the copy; brotli to the second), or whose `x` is gone.
fn stale_compressed_copies(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let modified = |path: &std::path::Path| {
        let time = std::fs::metadata(path).and_then(|m| m.modified()).ok()?;
        time.duration_since(std::time::UNIX_EPOCH).ok().map(|d| d.as_secs())
    };
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| matches!(path.extension().and_then(|e| e.to_str()), Some("br" | "gz")))
        .filter(|copy| {
            let original = copy.with_extension("");
            modified(&original).is_none() || modified(&original) != modified(copy)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::stale_compressed_copies;

    #[test]
    fn finds_stale_compressed_copies() {
        let dir = std::env::temp_dir().join(format!("wharf-assets-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let original = dir.join("app.js");
        std::fs::write(&original, "new").unwrap();
        let copy = dir.join("app.js.br");
        std::fs::write(&copy, "old").unwrap();
        let same = std::fs::metadata(&original).unwrap().modified().unwrap();
        std::fs::File::options()
            .write(true)
            .open(&copy)
            .unwrap()
            .set_modified(same)
            .unwrap();
        assert!(stale_compressed_copies(&dir).is_empty());
        let earlier = same - std::time::Duration::from_secs(60);
        std::fs::File::options()
            .write(true)
            .open(&copy)
            .unwrap()
            .set_modified(earlier)
            .unwrap();
        assert_eq!(stale_compressed_copies(&dir), vec![copy]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
