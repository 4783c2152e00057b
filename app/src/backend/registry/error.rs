#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("registry at {url} is unreachable ({reason})")]
    Unreachable { url: String, reason: String },
    #[error("registry denied access (HTTP {status}): {body}")]
    Denied { status: u16, body: String },
    #[error("not found in the registry: {0}")]
    NotFound(String),
    #[error("registry answered HTTP {status}: {body}")]
    Status { status: u16, body: String },
    #[error("unexpected registry response: {0}")]
    Protocol(String),
    #[error("cannot sign a registry token: {0}")]
    Token(String),
    #[error("the {what} is larger than the {} MiB Wharf reads", .limit >> 20)]
    TooLarge { what: String, limit: u64 },
    /// A name or reference that is not the registry's grammar: no request was sent.
    #[error(transparent)]
    InvalidName(#[from] crate::names::NameError),
}

impl RegistryError {
    pub(crate) fn from_reqwest(url: &str, err: reqwest::Error) -> RegistryError {
        let reason = if err.is_timeout() {
            "timed out".to_string()
        } else if err.is_connect() {
            "connection refused or host unknown".to_string()
        } else {
            err.to_string()
        };
        RegistryError::Unreachable {
            url: url.to_string(),
            reason,
        }
    }
}
