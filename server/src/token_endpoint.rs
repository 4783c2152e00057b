//! `/auth/token`: the registry's token server. Both forms of distribution's token protocol:
//! `GET` with HTTP Basic (docker, skopeo; `offline_token=true` adds a refresh token) and `POST`
//! with an OAuth2 form (`password` and `refresh_token` grants; containerd tries it first). The
//! credentials are checked by `access::credentials` (throttled, cached), the granted subset of
//! each requested scope comes from the one decision function, and the answer is a signed JWT.

use std::net::{IpAddr, SocketAddr};

use axum::body::Bytes;
use axum::extract::{ConnectInfo, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use axum::Json;
use base64::Engine;

use app::backend::access::credentials::{Purpose, Refusal, Verified};
use app::backend::access::{assignments, refresh_tokens, Subject};
use app::backend::audit::{self, AuditAction};
use app::backend::metrics::{self, Denial};
use app::backend::tokens::{parse_scope, ResourceAccess};
use app::backend::AppState;

const BASIC_CHALLENGE: &str = r#"Basic realm="Wharf registry token service", charset="UTF-8""#;
/// Scopes looked at per request; a client asks for a handful.
const MAX_SCOPES: usize = 64;
/// The largest POST form read.
pub const MAX_FORM_BYTES: usize = 16 * 1024;

/// What a token request asks for, whichever form it came in.
struct TokenRequest {
    service: Option<String>,
    scopes: Vec<String>,
    /// The client wants a refresh token back.
    offline: bool,
    /// The OAuth2 `client_id` (e.g. `docker`), kept with a refresh token.
    client_id: Option<String>,
    credential: Credential,
    form: Form,
}

enum Credential {
    None,
    Password { username: String, password: String },
    Refresh(String),
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Form {
    Get,
    Post,
}

pub async fn issue_get(
    State(state): State<AppState>,
    client: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let query = query.unwrap_or_default();
    let mut request = TokenRequest {
        service: None,
        scopes: Vec::new(),
        offline: false,
        client_id: None,
        credential: Credential::None,
        form: Form::Get,
    };
    for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
        match key.as_ref() {
            "service" => request.service = Some(value.into_owned()),
            // Some clients join several scopes with spaces in one parameter.
            "scope" => request
                .scopes
                .extend(value.split(' ').filter(|s| !s.is_empty()).map(str::to_string)),
            "offline_token" => request.offline = value == "true",
            "client_id" => request.client_id = Some(value.into_owned()),
            _ => {}
        }
    }
    if let Some(value) = headers.get(header::AUTHORIZATION) {
        let Some((username, password)) = value.to_str().ok().and_then(decode_basic) else {
            metrics::token_denied(Denial::BadRequest);
            return unauthorized(Form::Get, "send HTTP Basic credentials");
        };
        request.credential = Credential::Password { username, password };
    }
    answer(&state, client.map(|c| c.0 .0), request).await
}

pub async fn issue_post(
    State(state): State<AppState>,
    client: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match post_request(&headers, &body) {
        Ok(request) => answer(&state, client.map(|c| c.0 .0), request).await,
        Err(response) => {
            metrics::token_denied(Denial::BadRequest);
            response
        }
    }
}

/// The OAuth2 form of a `POST`, or the answer to a form this token server does not take.
#[allow(clippy::result_large_err, reason = "the error is the answer, sent at once")]
fn post_request(headers: &HeaderMap, body: &[u8]) -> Result<TokenRequest, Response> {
    let form_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !form_type {
        return Err(oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "send an application/x-www-form-urlencoded form",
        ));
    }
    let mut fields = std::collections::HashMap::new();
    let mut scopes = Vec::new();
    for (key, value) in url::form_urlencoded::parse(body) {
        if key == "scope" {
            scopes.extend(value.split(' ').filter(|s| !s.is_empty()).map(str::to_string));
        } else {
            fields.insert(key.into_owned(), value.into_owned());
        }
    }
    let field = |name: &str| fields.get(name).filter(|v| !v.is_empty()).cloned();
    if field("client_id").is_none() {
        return Err(oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "client_id is required",
        ));
    }
    let credential = match field("grant_type").as_deref() {
        Some("password") => match (field("username"), field("password")) {
            (Some(username), Some(password)) => Credential::Password { username, password },
            _ => {
                return Err(oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "the password grant needs username and password",
                ))
            }
        },
        Some("refresh_token") => match field("refresh_token") {
            Some(token) => Credential::Refresh(token),
            None => {
                return Err(oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "the refresh_token grant needs refresh_token",
                ))
            }
        },
        Some(other) => {
            return Err(oauth_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                &format!(
                    "grant_type {:?} is not supported: use password or refresh_token",
                    truncate(other)
                ),
            ))
        }
        None => {
            return Err(oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "grant_type is required",
            ))
        }
    };
    Ok(TokenRequest {
        service: field("service"),
        scopes,
        offline: field("access_type").as_deref() == Some("offline"),
        client_id: field("client_id"),
        credential,
        form: Form::Post,
    })
}

/// Answers a parsed token request: each step either hands its result on or is the answer.
async fn answer(state: &AppState, client: Option<SocketAddr>, request: TokenRequest) -> Response {
    match issue(state, client.map(|c| c.ip()), request).await {
        Ok(response) | Err(response) => response,
    }
}

async fn issue(state: &AppState, address: Option<IpAddr>, request: TokenRequest) -> Result<Response, Response> {
    let form = request.form;
    let requested = requested_scopes(state, &request).inspect_err(|_| metrics::token_denied(Denial::BadRequest))?;
    let (verified, refresh_token) = authenticate(state, form, address, request.credential).await?;
    let granted = grant(state, form, &verified.subject, requested, address).await?;
    let refresh_token = match refresh_token {
        Some(token) => Some(token),
        None if request.offline => refresh_tokens::issue(
            &state.db,
            &verified.subject,
            verified.access_token_id.as_deref(),
            state.signer.service(),
            request.client_id.as_deref(),
        )
        .await
        .map_err(|err| unavailable(form, &err))?,
        None => None,
    };
    let signed = signed(state, form, &verified.subject, &granted, refresh_token)?;
    metrics::token_granted();
    Ok(signed)
}

/// The scopes asked for, parsed, once the request is for this token server and asks for few.
#[allow(clippy::result_large_err, reason = "the error is the answer, sent at once")]
fn requested_scopes(state: &AppState, request: &TokenRequest) -> Result<Vec<ResourceAccess>, Response> {
    let form = request.form;
    let service = state.signer.service();
    if let Some(asked) = request.service.as_ref().filter(|asked| *asked != service) {
        return Err(error(
            form,
            StatusCode::BAD_REQUEST,
            "UNSUPPORTED",
            &format!("this token server serves {service:?}, not {:?}", truncate(asked)),
        ));
    }
    if request.scopes.len() > MAX_SCOPES {
        return Err(error(
            form,
            StatusCode::BAD_REQUEST,
            "SCOPE_INVALID",
            &format!("at most {MAX_SCOPES} scopes per request"),
        ));
    }
    request
        .scopes
        .iter()
        .map(|scope| parse_scope(scope))
        .collect::<Result<_, _>>()
        .map_err(|err| error(form, StatusCode::BAD_REQUEST, "SCOPE_INVALID", &err.to_string()))
}

/// Who is asking (anonymous without credentials), and the refresh token they redeemed, if any.
async fn authenticate(
    state: &AppState,
    form: Form,
    address: Option<IpAddr>,
    credential: Credential,
) -> Result<(Verified, Option<String>), Response> {
    match credential {
        Credential::None => Ok((
            Verified {
                subject: Subject::Anonymous,
                access_token_id: None,
                expires_at: None,
            },
            None,
        )),
        Credential::Password { username, password } => {
            match state
                .credentials
                .verify(&state.db, Purpose::Registry, &username, &password, address)
                .await
            {
                Ok(verified) => Ok((verified, None)),
                Err(refusal) => {
                    audit_refusal(state, &refusal, &username, address).await;
                    Err(refused(form, refusal))
                }
            }
        }
        Credential::Refresh(token) => redeem(state, form, address, token).await,
    }
}

/// A refused sign-in, in the audit log. Throttled attempts are counted per address, whatever
/// name they try.
async fn audit_refusal(state: &AppState, refusal: &Refusal, username: &str, address: Option<IpAddr>) {
    let (actor, detail) = match refusal {
        Refusal::Wrong => (username, "registry token: wrong credentials"),
        Refusal::Throttled(_) => ("(throttled)", "registry token: throttled"),
        Refusal::Unavailable(_) => return,
    };
    let entry = audit::Entry {
        actor,
        action: AuditAction::SignInFailed,
        target: "registry",
        detail,
        address,
    };
    audit::record(&state.db, entry).await;
}

/// A refresh token (a long random secret, so checked whatever the address did before); a wrong
/// one counts against the address.
async fn redeem(
    state: &AppState,
    form: Form,
    address: Option<IpAddr>,
    token: String,
) -> Result<(Verified, Option<String>), Response> {
    match refresh_tokens::redeem(
        &state.db,
        &token,
        state.signer.service(),
        state.settings.refresh_token_lifetime,
    )
    .await
    {
        Ok(Some(subject)) => Ok((
            Verified {
                subject,
                access_token_id: None,
                expires_at: None,
            },
            // Not rotated: the client keeps the one it has.
            Some(token),
        )),
        Ok(None) => {
            state.credentials.address_failed(address);
            if let Err(wait) = state.credentials.throttle.check_address(address) {
                return Err(refused(form, Refusal::Throttled(wait)));
            }
            metrics::token_denied(Denial::InvalidRefreshToken);
            Err(oauth_error(
                StatusCode::UNAUTHORIZED,
                "invalid_grant",
                "the refresh token is unknown, revoked or expired: log in again",
            ))
        }
        Err(err) => Err(unavailable(form, &err)),
    }
}

/// The allowed subset of each requested scope. What was refused goes to the audit log as one
/// entry per request (an anonymous client asking for 64 scopes writes one row, not 64).
async fn grant(
    state: &AppState,
    form: Form,
    subject: &Subject,
    requested: Vec<ResourceAccess>,
    address: Option<IpAddr>,
) -> Result<Vec<ResourceAccess>, Response> {
    let grants = assignments::grants_of(&state.db, subject)
        .await
        .map_err(|err| unavailable(form, &err))?;
    let mut granted: Vec<ResourceAccess> = Vec::with_capacity(requested.len());
    let mut denied = Denials::default();
    for asked in requested {
        let actions = grants.token_actions(&asked.resource_type, &asked.name, &asked.actions);
        if actions != asked.actions {
            denied.add(&asked, &actions);
        }
        if !actions.is_empty() {
            granted.push(ResourceAccess { actions, ..asked });
        }
    }
    if let Some((target, detail)) = denied.summary() {
        metrics::token_denied(Denial::ScopeDenied);
        let subject_name = subject.token_subject();
        let actor = match subject {
            Subject::Anonymous => "(anonymous)",
            _ => &subject_name,
        };
        let entry = audit::Entry {
            actor,
            action: AuditAction::TokenDenied,
            target: &target,
            detail: &detail,
            address,
        };
        audit::record(&state.db, entry).await;
    }
    Ok(granted)
}

/// The scopes of one request that were not granted in full.
#[derive(Default)]
struct Denials {
    targets: Vec<String>,
    /// Distinct "asked …; granted …" texts, in order of appearance.
    details: Vec<String>,
}

impl Denials {
    fn add(&mut self, asked: &ResourceAccess, granted: &[String]) {
        self.targets.push(format!("{}:{}", asked.resource_type, asked.name));
        let granted = if granted.is_empty() {
            "nothing".to_string()
        } else {
            granted.join(",")
        };
        let detail = format!("asked {}; granted {granted}", asked.actions.join(","));
        if !self.details.contains(&detail) {
            self.details.push(detail);
        }
    }

    /// The audit entry's target and detail: the scopes and what each kind asked and got.
    fn summary(&self) -> Option<(String, String)> {
        if self.targets.is_empty() {
            return None;
        }
        Some((self.targets.join(", "), self.details.join(" | ")))
    }
}

/// The signed token, in the answer's shape for the request's form.
#[allow(clippy::result_large_err, reason = "the error is the answer, sent at once")]
fn signed(
    state: &AppState,
    form: Form,
    subject: &Subject,
    granted: &[ResourceAccess],
    refresh_token: Option<String>,
) -> Result<Response, Response> {
    let mut token = state.signer.sign(&subject.token_subject(), granted).map_err(|err| {
        tracing::error!(error = %err, "cannot sign token");
        error(
            form,
            StatusCode::INTERNAL_SERVER_ERROR,
            "UNKNOWN",
            "cannot sign the token",
        )
    })?;
    tracing::debug!(subject = %subject.token_subject(), granted = granted.len(), "token issued");
    if form == Form::Post {
        token.scope = Some(
            granted
                .iter()
                .map(|a| format!("{}:{}:{}", a.resource_type, a.name, a.actions.join(",")))
                .collect::<Vec<_>>()
                .join(" "),
        );
    }
    token.refresh_token = refresh_token;
    let mut response = Json(token).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

fn refused(form: Form, refusal: Refusal) -> Response {
    match refusal {
        Refusal::Wrong => {
            metrics::token_denied(Denial::WrongCredentials);
            unauthorized(form, "wrong user name or password (or token)")
        }
        Refusal::Throttled(wait) => {
            metrics::token_denied(Denial::Throttled);
            let mut response = error(
                form,
                StatusCode::TOO_MANY_REQUESTS,
                "TOOMANYREQUESTS",
                &refusal.to_string(),
            );
            if let Ok(value) = HeaderValue::from_str(&wait.as_secs().max(1).to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
            response
        }
        Refusal::Unavailable(err) => unavailable(form, &err),
    }
}

fn unavailable(form: Form, err: &sqlx::Error) -> Response {
    tracing::error!(error = %err, "token request: database error");
    metrics::token_denied(Denial::Unavailable);
    error(
        form,
        StatusCode::SERVICE_UNAVAILABLE,
        "UNAVAILABLE",
        "database unavailable, try again",
    )
}

fn truncate(text: &str) -> String {
    text.chars().take(64).collect()
}

fn decode_basic(value: &str) -> Option<(String, String)> {
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD.decode(encoded.trim()).ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (user, password) = decoded.split_once(':')?;
    Some((user.to_string(), password.to_string()))
}

fn unauthorized(form: Form, message: &str) -> Response {
    let mut response = error(form, StatusCode::UNAUTHORIZED, "UNAUTHORIZED", message);
    response
        .headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(BASIC_CHALLENGE));
    response
}

/// Errors in the registry's own `{"errors":[{code,message}]}` shape for `GET`, which clients
/// print; OAuth2's `{"error", "error_description"}` for the `POST` form.
fn error(form: Form, status: StatusCode, code: &str, message: &str) -> Response {
    match form {
        Form::Get => {
            let body = serde_json::json!({"errors": [{"code": code, "message": message}]});
            (status, Json(body)).into_response()
        }
        Form::Post => {
            let oauth_code = match status {
                StatusCode::UNAUTHORIZED => "invalid_grant",
                StatusCode::BAD_REQUEST if code == "SCOPE_INVALID" => "invalid_scope",
                StatusCode::BAD_REQUEST => "invalid_request",
                StatusCode::TOO_MANY_REQUESTS => "slow_down",
                _ => "temporarily_unavailable",
            };
            oauth_error(status, oauth_code, message)
        }
    }
}

fn oauth_error(status: StatusCode, code: &str, description: &str) -> Response {
    let body = serde_json::json!({"error": code, "error_description": description});
    (status, Json(body)).into_response()
}

#[cfg(test)]
mod tests {
    use super::decode_basic;

    #[test]
    fn decodes_basic_credentials() {
        assert_eq!(
            decode_basic("Basic YWRtaW46cGE6c3M="),
            Some(("admin".to_string(), "pa:ss".to_string()))
        );
        assert_eq!(decode_basic("Bearer abc"), None);
        assert_eq!(decode_basic("Basic !!!"), None);
        assert_eq!(decode_basic("Basic"), None);
    }
}
