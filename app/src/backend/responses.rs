//! HTTP status of server function errors: a caller's mistake is a 4xx, not a 500.

use axum::http::header::{ACCEPT, RETRY_AFTER};
use axum::http::{HeaderMap, StatusCode, Uri};
use leptos::prelude::use_context;
use leptos_axum::ResponseOptions;

use crate::model::AppError;

/// Where the server functions live (their `prefix`).
const SERVER_FN_PREFIX: &str = "/api/";

/// Sets the response status from the error when the server function was called over HTTP.
/// Left alone: pages rendering on the server (the page shows the error itself) and plain HTML
/// form posts (Leptos redirects those back to the form, carrying the error).
pub async fn with_status<T>(result: Result<T, AppError>) -> Result<T, AppError> {
    if let Err(err) = &result {
        let Ok((uri, headers)) = leptos_axum::extract::<(Uri, HeaderMap)>().await else {
            return result;
        };
        let server_fn_call = uri.path().starts_with(SERVER_FN_PREFIX);
        let form_post = headers
            .get(ACCEPT)
            .and_then(|accept| accept.to_str().ok())
            .is_some_and(|accept| accept.contains("text/html"));
        if server_fn_call && !form_post {
            if let (Some(options), Ok(status)) = (
                use_context::<ResponseOptions>(),
                StatusCode::from_u16(err.status_code()),
            ) {
                options.set_status(status);
                if let AppError::TooManyRequests { retry_after_secs, .. } = err {
                    options.insert_header(RETRY_AFTER, (*retry_after_secs).max(1).into());
                }
            }
        }
    }
    result
}

/// A database failure inside a server function: logged, and shown as "see the server log".
impl From<sqlx::Error> for AppError {
    fn from(err: sqlx::Error) -> AppError {
        super::session::internal(err)
    }
}
