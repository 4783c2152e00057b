//! The one error type that server functions return: each variant maps to a message a user can act on.

use leptos::server_fn::codec::JsonEncoding;
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum AppError {
    #[error("Sign in to continue.")]
    Unauthorized,
    #[error("You do not have permission to {0}.")]
    Forbidden(String),
    #[error("{0}")]
    BadRequest(String),
    #[error("{0} was not found.")]
    NotFound(String),
    /// Too many failed attempts from here: wait `retry_after_secs` (sent as `Retry-After`).
    #[error("{message}")]
    TooManyRequests { message: String, retry_after_secs: u64 },
    #[error("The registry cannot be reached: {0}")]
    RegistryUnavailable(String),
    #[error("Something went wrong on the server: {0}. Try again; if it persists, check the server log.")]
    Internal(String),
    #[error("The request did not reach the server: {0}")]
    Transport(String),
}

impl AppError {
    /// The HTTP status a server function answers with for this error.
    pub fn status_code(&self) -> u16 {
        match self {
            AppError::Unauthorized => 401,
            AppError::Forbidden(_) => 403,
            AppError::BadRequest(_) => 400,
            AppError::NotFound(_) => 404,
            AppError::TooManyRequests { .. } => 429,
            AppError::RegistryUnavailable(_) => 503,
            AppError::Internal(_) | AppError::Transport(_) => 500,
        }
    }
}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        AppError::Transport(value.to_string())
    }
}

/// A name or reference that is not the registry's grammar: the message says what is allowed.
impl From<crate::names::NameError> for AppError {
    fn from(err: crate::names::NameError) -> Self {
        AppError::BadRequest(format!("{err}."))
    }
}

impl From<ServerFnErrorErr> for AppError {
    fn from(value: ServerFnErrorErr) -> Self {
        AppError::from_server_fn_error(value)
    }
}
