//! `GET /auth/token`: the registry's token server (the Docker token protocol). Checks the Basic
//! credentials, grants the allowed subset of each requested scope and signs a JWT.

use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::Engine;

use app::backend::access::{allowed_actions, Subject};
use app::backend::tokens::{parse_scope, ResourceAccess};
use app::backend::{users, AppState};

const BASIC_CHALLENGE: &str = r#"Basic realm="Wharf registry token service", charset="UTF-8""#;

pub async fn issue(State(state): State<AppState>, headers: HeaderMap, RawQuery(query): RawQuery) -> Response {
    let query = query.unwrap_or_default();
    let mut service = None;
    let mut scopes = Vec::new();
    for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
        match key.as_ref() {
            "service" => service = Some(value.into_owned()),
            // Some clients join several scopes with spaces in one parameter.
            "scope" => scopes.extend(value.split(' ').filter(|s| !s.is_empty()).map(str::to_string)),
            _ => {}
        }
    }
    if let Some(service) = &service {
        if service != state.signer.service() {
            return error(
                StatusCode::BAD_REQUEST,
                "UNSUPPORTED",
                &format!("this token server serves {:?}, not {service:?}", state.signer.service()),
            );
        }
    }
    let mut requested = Vec::with_capacity(scopes.len());
    for scope in &scopes {
        match parse_scope(scope) {
            Ok(access) => requested.push(access),
            Err(err) => return error(StatusCode::BAD_REQUEST, "SCOPE_INVALID", &err.to_string()),
        }
    }

    let subject = match headers.get(header::AUTHORIZATION) {
        None => Subject::Anonymous,
        Some(value) => {
            let Some((username, password)) = value.to_str().ok().and_then(decode_basic) else {
                return unauthorized("send HTTP Basic credentials");
            };
            match users::authenticate(&state.db, &username, &password).await {
                Ok(Some(user)) => Subject::User(user),
                Ok(None) => {
                    tracing::info!(user = %username, "token request with wrong credentials");
                    return unauthorized("wrong user name or password");
                }
                Err(err) => {
                    tracing::error!(error = %err, "token request: database error");
                    return error(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "UNAVAILABLE",
                        "database unavailable, try again",
                    );
                }
            }
        }
    };

    let granted: Vec<ResourceAccess> = requested
        .into_iter()
        .filter_map(|asked| {
            let actions = allowed_actions(&subject, &asked.resource_type, &asked.name, &asked.actions);
            (!actions.is_empty()).then_some(ResourceAccess { actions, ..asked })
        })
        .collect();
    match state.signer.sign(&subject.token_subject(), &granted) {
        Ok(token) => {
            tracing::debug!(subject = %subject.token_subject(), granted = granted.len(), "token issued");
            Json(token).into_response()
        }
        Err(err) => {
            tracing::error!(error = %err, "cannot sign token");
            error(StatusCode::INTERNAL_SERVER_ERROR, "UNKNOWN", "cannot sign the token")
        }
    }
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

fn unauthorized(message: &str) -> Response {
    let mut response = error(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", message);
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        header::HeaderValue::from_static(BASIC_CHALLENGE),
    );
    response
}

/// Errors in the registry's own `{"errors":[{code,message}]}` shape, which clients print.
fn error(status: StatusCode, code: &str, message: &str) -> Response {
    let body = serde_json::json!({"errors": [{"code": code, "message": message}]});
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
