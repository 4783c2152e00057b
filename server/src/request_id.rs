//! A request id for every request: taken from the `x-request-id` a proxy in front set (when it is
//! a plain token of at most 64 characters), or made here (a UUID). It is in the tracing span of
//! the request, so every log line written while serving it carries it (`request_id` in the JSON
//! logs), in the `x-request-id` header of every response, and in the body of a server error that
//! would otherwise have none, so a user can quote it and an operator find the log lines.

use axum::body::Body;
use axum::extract::Request;
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use axum::Router;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

pub const HEADER: HeaderName = HeaderName::from_static("x-request-id");
/// The longest id taken from a request.
const MAX_LEN: usize = 64;

/// `router` with request ids and request tracing around it, outermost first: an unusable id
/// from the client is dropped, the id is set, copied to the response, named in an empty server
/// error, and the request's span carries it.
pub fn around<S: Clone + Send + Sync + 'static>(router: Router<S>) -> Router<S> {
    router
        .layer(TraceLayer::new_for_http().make_span_with(span))
        .layer(axum::middleware::from_fn(explain_empty_errors))
        .layer(PropagateRequestIdLayer::new(HEADER))
        .layer(SetRequestIdLayer::new(HEADER, MakeRequestUuid))
        .layer(axum::middleware::map_request(drop_unusable))
}

/// Drops an `x-request-id` that is too long or holds anything but letters, digits, `-`, `_`,
/// `.`, so a client cannot write what it likes into the logs; a fresh one is made instead.
async fn drop_unusable(mut request: Request) -> Request {
    let usable = request
        .headers()
        .get(&HEADER)
        .is_none_or(|value| usable(value.as_bytes()));
    if !usable {
        request.headers_mut().remove(&HEADER);
    }
    request
}

fn usable(id: &[u8]) -> bool {
    !id.is_empty()
        && id.len() <= MAX_LEN
        && id
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// The request's id, as set by [`around`].
fn of<B>(request: &axum::http::Request<B>) -> &str {
    request
        .headers()
        .get(&HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

/// The tracing span of a request: method, path (not the query, which may hold an SSO code) and id.
fn span<B>(request: &axum::http::Request<B>) -> tracing::Span {
    tracing::info_span!(
        "request",
        method = %request.method(),
        path = %request.uri().path(),
        request_id = %of(request),
    )
}

/// A server error (5xx) sent without a body gets one that names the request id.
async fn explain_empty_errors(request: Request, next: Next) -> Response {
    let id = of(&request).to_string();
    let response = next.run(request).await;
    let empty = axum::body::HttpBody::size_hint(response.body()).exact() == Some(0);
    if !response.status().is_server_error() || !empty || id.is_empty() {
        return response;
    }
    let reason = response.status().canonical_reason().unwrap_or("Server error");
    let text = format!("{reason}. Request id {id}: the server log has the details.\n");
    let (mut parts, _) = response.into_parts();
    parts
        .headers
        .insert(CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    parts.headers.remove(CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(text))
}

#[cfg(test)]
mod tests {
    use axum::http::StatusCode;
    use axum::routing::get;
    use tower::ServiceExt;

    use super::*;

    async fn answer(router: &Router, path: &str, id: Option<&str>) -> (StatusCode, String, String) {
        let mut request = axum::http::Request::get(path);
        if let Some(id) = id {
            request = request.header(HEADER, id);
        }
        let response = router
            .clone()
            .oneshot(request.body(Body::empty()).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let id = response.headers()[HEADER].to_str().unwrap().to_string();
        let body = axum::body::to_bytes(response.into_body(), 4096).await.unwrap();
        (status, id, String::from_utf8_lossy(&body).into_owned())
    }

    #[tokio::test]
    async fn every_response_has_an_id_and_an_empty_server_error_names_it() {
        let router = around(
            Router::new()
                .route("/down", get(|| async { StatusCode::SERVICE_UNAVAILABLE }))
                .route(
                    "/broken",
                    get(|| async { (StatusCode::INTERNAL_SERVER_ERROR, "own text") }),
                )
                .route("/fine", get(|| async { "fine" })),
        );
        let (status, id, body) = answer(&router, "/down", None).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(id.len(), 36, "a UUID: {id}");
        assert_eq!(
            body,
            format!("Service Unavailable. Request id {id}: the server log has the details.\n")
        );
        let (_, id, body) = answer(&router, "/broken", Some("edge-7")).await;
        assert_eq!((id.as_str(), body.as_str()), ("edge-7", "own text"));
        let (_, id, body) = answer(&router, "/fine", Some("a b")).await;
        assert_ne!(id, "a b");
        assert_eq!(body, "fine");
    }

    #[test]
    fn takes_plain_ids_only() {
        assert!(usable(b"6f1c2a9e-1d2b-4c3d-9e8f-0a1b2c3d4e5f"));
        assert!(usable(b"req_42.a"));
        assert!(!usable(b""));
        assert!(!usable(b"a b"));
        assert!(!usable(b"x\"}{\"admin\":true"));
        assert!(!usable("é".as_bytes()));
        assert!(!usable(&[b'a'; 65]));
    }
}
