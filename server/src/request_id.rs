//! A request id for every request: taken from the `x-request-id` a proxy in front set (when it is
//! a plain token of at most 64 characters), or made here (a UUID). It is in the tracing span of
//! the request, so every log line written while serving it carries it (`request_id` in the JSON
//! logs), in the `x-request-id` header of every response, and in the body of a server error that
//! would otherwise have none, so a user can quote it and an operator find the log lines.

use axum::body::Body;
use axum::extract::Request;
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderName, HeaderValue};
use axum::response::Response;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};

pub const HEADER: HeaderName = HeaderName::from_static("x-request-id");
/// The longest id taken from a request.
const MAX_LEN: usize = 64;

/// Sets the id (keeping a usable one from the request).
pub fn set() -> SetRequestIdLayer<MakeRequestUuid> {
    SetRequestIdLayer::new(HEADER, MakeRequestUuid)
}

/// Copies the id to the response.
pub fn propagate() -> PropagateRequestIdLayer {
    PropagateRequestIdLayer::new(HEADER)
}

/// Drops an `x-request-id` that is too long or holds anything but letters, digits, `-`, `_`,
/// `.`, so a client cannot write what it likes into the logs; a fresh one is made instead.
pub async fn drop_unusable(mut request: Request) -> Request {
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

/// The request's id, as set by [`set`].
pub fn of(request: &axum::http::Request<Body>) -> &str {
    request
        .headers()
        .get(&HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

/// The tracing span of a request: method, path (not the query, which may hold an SSO code) and id.
pub fn span(request: &axum::http::Request<Body>) -> tracing::Span {
    tracing::info_span!(
        "request",
        method = %request.method(),
        path = %request.uri().path(),
        request_id = %of(request),
    )
}

/// A server error (5xx) sent without a body gets one that names the request id.
pub async fn explain_empty_error(response: Response) -> Response {
    let empty = axum::body::HttpBody::size_hint(response.body()).exact() == Some(0);
    if !response.status().is_server_error() || !empty {
        return response;
    }
    let Some(id) = response.headers().get(&HEADER).and_then(|v| v.to_str().ok()) else {
        return response;
    };
    let reason = response.status().canonical_reason().unwrap_or("Server error");
    let text = format!("{reason}. Request id {id}: the server log has the details.\n");
    let (mut parts, _) = response.into_parts();
    parts
        .headers
        .insert(CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    parts.headers.remove(axum::http::header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(text))
}

#[cfg(test)]
mod tests {
    use axum::http::StatusCode;
    use axum::response::IntoResponse;

    use super::*;

    #[tokio::test]
    async fn an_empty_server_error_names_the_request_id() {
        let mut response = StatusCode::SERVICE_UNAVAILABLE.into_response();
        response.headers_mut().insert(HEADER, HeaderValue::from_static("req-7"));
        let response = explain_empty_error(response).await;
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        let body = axum::body::to_bytes(response.into_body(), 1024).await.unwrap();
        assert_eq!(
            String::from_utf8_lossy(&body),
            "Service Unavailable. Request id req-7: the server log has the details.\n"
        );

        let mut kept = (StatusCode::INTERNAL_SERVER_ERROR, "own text").into_response();
        kept.headers_mut().insert(HEADER, HeaderValue::from_static("req-8"));
        let body = axum::body::to_bytes(explain_empty_error(kept).await.into_body(), 1024)
            .await
            .unwrap();
        assert_eq!(&body[..], b"own text");
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
