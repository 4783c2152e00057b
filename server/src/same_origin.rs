//! Cross-site request forgery: a request that changes something (any method but GET, HEAD and
//! OPTIONS) is refused when a browser says it comes from another origin. SameSite=Lax cookies
//! alone let any *same-site* origin (another port on the host, a sibling subdomain) post with the
//! user's session.
//!
//! Browsers send `Origin` with every POST; it must be Wharf's public origin, or name the host the
//! request was sent to (the console reached under another name, e.g. `localhost`) with the
//! public URL's scheme: `http://wharf.example.com` is another origin than
//! `https://wharf.example.com` (a page served over plain HTTP, by anyone on the path, must not
//! post with the session of the https console). Without
//! `Origin`, `Sec-Fetch-Site` must be `same-origin` or `none`. A request with neither header does
//! not come from a browser, so it carries no victim's cookies: command-line clients and the
//! registry's notifications pass. `/auth/token` and `/registry/events` authenticate every request
//! with credentials of their own, never with the session, and are not checked.

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use app::backend::AppState;

/// Paths authenticated by their own credentials rather than the session cookie.
const EXEMPT: &[&str] = &["/auth/token", "/registry/events"];

pub async fn check(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let method = request.method();
    let safe = method == Method::GET || method == Method::HEAD || method == Method::OPTIONS;
    if safe || EXEMPT.contains(&request.uri().path()) {
        return next.run(request).await;
    }
    match verdict(request.headers(), &state.settings.public_url) {
        Ok(()) => next.run(request).await,
        Err(reason) => {
            tracing::warn!(path = %request.uri().path(), reason, "cross-origin request refused");
            (
                StatusCode::FORBIDDEN,
                axum::Json(serde_json::json!({
                    "error": format!("Refused: {reason}. Use Wharf's own pages to make changes.")
                })),
            )
                .into_response()
        }
    }
}

/// `Ok` when the request may go on; the reason otherwise.
pub fn verdict(headers: &HeaderMap, public_url: &url::Url) -> Result<(), &'static str> {
    if let Some(origin) = headers.get(header::ORIGIN) {
        let origin = origin.to_str().map_err(|_| "the Origin header is not readable")?;
        if origin == public_url.origin().ascii_serialization() {
            return Ok(());
        }
        let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
        let origin = url::Url::parse(origin)
            .ok()
            .filter(|o| o.scheme() == public_url.scheme());
        return match (origin, host) {
            // `host[:port]`, the port left out when it is the scheme's own, as in `Host`.
            (Some(origin), Some(host)) if origin.authority().eq_ignore_ascii_case(host) => Ok(()),
            _ => Err("the request comes from another origin"),
        };
    }
    match headers.get("sec-fetch-site").map(|v| v.as_bytes()) {
        None | Some(b"same-origin") | Some(b"none") => Ok(()),
        Some(_) => Err("the request comes from another site"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, value.parse().unwrap());
        }
        map
    }

    #[test]
    fn only_wharf_itself_may_post() {
        let public = url::Url::parse("https://wharf.example.com/").unwrap();
        let host = ("host", "10.0.0.5:3000");
        assert!(verdict(&headers(&[("origin", "https://wharf.example.com"), host]), &public).is_ok());
        assert!(verdict(&headers(&[("origin", "https://10.0.0.5:3000"), host]), &public).is_ok());
        for refused in [
            "http://evil.example",
            "http://wharf.example.com",
            "http://10.0.0.5:3000",
            "https://wharf.example.com.evil.example",
            "http://10.0.0.5:8080",
            "https://sub.wharf.example.com",
            "null",
        ] {
            assert!(
                verdict(&headers(&[("origin", refused), host]), &public).is_err(),
                "{refused}"
            );
        }
        assert!(verdict(&headers(&[("sec-fetch-site", "same-origin")]), &public).is_ok());
        assert!(verdict(&headers(&[("sec-fetch-site", "same-site")]), &public).is_err());
        assert!(verdict(&headers(&[("sec-fetch-site", "cross-site")]), &public).is_err());
        assert!(verdict(&headers(&[host]), &public).is_ok(), "not a browser");
    }

    #[test]
    fn the_scheme_is_part_of_the_origin() {
        let public = url::Url::parse("http://127.0.0.1:3000/").unwrap();
        let host = ("host", "localhost:3000");
        assert!(verdict(&headers(&[("origin", "http://127.0.0.1:3000"), host]), &public).is_ok());
        assert!(verdict(&headers(&[("origin", "http://localhost:3000"), host]), &public).is_ok());
        for refused in [
            "https://127.0.0.1:3000",
            "https://localhost:3000",
            "ftp://localhost:3000",
        ] {
            assert!(
                verdict(&headers(&[("origin", refused), host]), &public).is_err(),
                "{refused}"
            );
        }
        let public = url::Url::parse("https://wharf.example.com/").unwrap();
        let host = ("host", "wharf.example.com");
        assert!(verdict(&headers(&[("origin", "https://wharf.example.com"), host]), &public).is_ok());
        assert!(verdict(&headers(&[("origin", "http://wharf.example.com"), host]), &public).is_err());
    }
}
