//! Response headers that keep pages from being framed, sniffed, leaked through referrers or
//! cached, and a Content-Security-Policy that fits Leptos' hydration: its inline scripts carry
//! the per-response nonce leptos_axum generates, and only they (and what they load) run. When
//! the public URL is https, `Strict-Transport-Security` keeps browsers from ever trying plain
//! HTTP (where the session cookie could be stripped or a page changed on the way).

use axum::extract::{Request, State};
use axum::http::header::{self, HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use leptos::prelude::use_context;
use leptos_axum::ResponseOptions;

/// The policy of a rendered page, for its nonce.
pub fn page_policy(nonce: &str) -> String {
    format!(
        "default-src 'self'; script-src 'nonce-{nonce}' 'strict-dynamic' 'wasm-unsafe-eval'; \
         style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; \
         object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )
}

/// What every other response gets: nothing may frame or embed it.
const DEFAULT_POLICY: &str = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'";

/// Called while a page renders (inside the shell): sets the page's policy with its nonce.
pub fn set_page_policy() {
    let (Some(nonce), Some(options)) = (leptos::nonce::use_nonce(), use_context::<ResponseOptions>()) else {
        return;
    };
    if let Ok(value) = HeaderValue::from_str(&page_policy(&nonce.to_string())) {
        options.insert_header(header::CONTENT_SECURITY_POLICY, value);
    }
}

/// A year: browsers remember to use https only; the console's host only (other names under the
/// same domain are not Wharf's to decide).
const HSTS: &str = "max-age=31536000";

/// How browsers reach the console (its public URL's scheme).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Transport {
    pub https: bool,
}

/// The middleware: the fixed headers on every response (HSTS when the console is reached over
/// https), a default policy where a page did not set one, and `no-store` on everything but the
/// static assets.
pub async fn add(State(transport): State<Transport>, request: Request, next: Next) -> Response {
    let cacheable = request.uri().path().starts_with("/pkg/") || request.uri().path().starts_with("/favicon");
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    let fixed: [(HeaderName, &str); 3] = [
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "same-origin"),
        (header::X_FRAME_OPTIONS, "DENY"),
    ];
    for (name, value) in fixed {
        headers.insert(name, HeaderValue::from_static(value));
    }
    if transport.https {
        headers.insert(header::STRICT_TRANSPORT_SECURITY, HeaderValue::from_static(HSTS));
    }
    if !headers.contains_key(header::CONTENT_SECURITY_POLICY) {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(DEFAULT_POLICY),
        );
    }
    if !cacheable && !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}
