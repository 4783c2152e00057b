//! The OpenID Connect authorization code flow with PKCE and a nonce (the `openidconnect` crate):
//! discovery, the redirect to the provider, and the callback's code exchange and ID token check.
//! The claims Wharf reads (the user name and groups, whose names are settings) come from the
//! verified ID token's payload.

use std::time::Duration;

use base64::Engine;
use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce, PkceCodeChallenge, PkceCodeVerifier,
    RedirectUrl, Scope,
};
use serde::{Deserialize, Serialize};

use super::settings::SsoSettings;

/// What the session keeps between the redirect to the provider and its callback.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PendingLogin {
    pub state: String,
    pub nonce: String,
    pub pkce_verifier: String,
    /// Where to go after sign-in (already checked to be local).
    pub next: String,
    /// An administrator's "test sign-in": show what the provider said, do not sign in.
    pub test: bool,
}

/// Who the provider says signed in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    /// `issuer|sub`: stable across renames.
    pub subject: String,
    pub username: String,
    pub groups: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum SsoError {
    #[error("single sign-on is not set up")]
    NotConfigured,
    #[error("the provider's settings are wrong: {0}")]
    Settings(String),
    #[error("the provider could not be reached or answered wrongly: {0}")]
    Provider(String),
    #[error("the sign-in could not be verified: {0}")]
    Rejected(String),
}

fn http_client() -> Result<reqwest::Client, SsoError> {
    reqwest::Client::builder()
        // A provider is never followed elsewhere (no open redirects, no request smuggling).
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .connect_timeout(Duration::from_secs(5))
        .build()
        .map_err(|e| SsoError::Provider(e.to_string()))
}

async fn metadata(settings: &SsoSettings, http: &reqwest::Client) -> Result<CoreProviderMetadata, SsoError> {
    if !settings.is_enabled() {
        return Err(SsoError::NotConfigured);
    }
    let issuer =
        IssuerUrl::new(settings.issuer_url.trim().to_string()).map_err(|e| SsoError::Settings(e.to_string()))?;
    CoreProviderMetadata::discover_async(issuer, http)
        .await
        .map_err(|e| SsoError::Provider(format!("discovery failed: {e}")))
}

fn redirect(callback_url: &str) -> Result<RedirectUrl, SsoError> {
    RedirectUrl::new(callback_url.to_string()).map_err(|e| SsoError::Settings(e.to_string()))
}

/// The provider's sign-in address, and what to keep until its callback.
pub async fn start(
    settings: &SsoSettings,
    callback_url: &str,
    next: String,
    test: bool,
    login_hint: Option<&str>,
) -> Result<(String, PendingLogin), SsoError> {
    let http = http_client()?;
    let metadata = metadata(settings, &http).await?;
    let client = CoreClient::from_provider_metadata(metadata, ClientId::new(settings.client_id.clone()), None)
        .set_redirect_uri(redirect(callback_url)?);
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let mut request = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("openid".into()))
        .add_scope(Scope::new("profile".into()))
        .add_scope(Scope::new("email".into()))
        .set_pkce_challenge(challenge);
    if let Some(hint) = login_hint.filter(|h| !h.is_empty() && h.len() <= 256) {
        request = request.add_extra_param("login_hint", hint.to_string());
    }
    let (url, state, nonce) = request.url();
    Ok((
        url.to_string(),
        PendingLogin {
            state: state.secret().clone(),
            nonce: nonce.secret().clone(),
            pkce_verifier: verifier.secret().clone(),
            next,
            test,
        },
    ))
}

/// Redeems the callback's `code` and checks the ID token (signature, issuer, audience, expiry,
/// nonce); returns who signed in.
pub async fn finish(
    settings: &SsoSettings,
    callback_url: &str,
    pending: &PendingLogin,
    code: &str,
) -> Result<Identity, SsoError> {
    let http = http_client()?;
    let metadata = metadata(settings, &http).await?;
    let secret = (!settings.client_secret.is_empty()).then(|| ClientSecret::new(settings.client_secret.clone()));
    let client = CoreClient::from_provider_metadata(metadata, ClientId::new(settings.client_id.clone()), secret)
        .set_redirect_uri(redirect(callback_url)?);
    let response = client
        .exchange_code(AuthorizationCode::new(code.to_string()))
        .map_err(|e| SsoError::Settings(e.to_string()))?
        .set_pkce_verifier(PkceCodeVerifier::new(pending.pkce_verifier.clone()))
        .request_async(&http)
        .await
        .map_err(|e| SsoError::Provider(format!("the code exchange failed: {e}")))?;
    use openidconnect::TokenResponse;
    let id_token = response
        .id_token()
        .ok_or_else(|| SsoError::Rejected("the provider sent no ID token".into()))?;
    let claims = id_token
        .claims(&client.id_token_verifier(), &Nonce::new(pending.nonce.clone()))
        .map_err(|e| SsoError::Rejected(e.to_string()))?;
    let subject = format!("{}|{}", claims.issuer().as_str(), claims.subject().as_str());
    // The token is verified: its payload can be read for the claims named in the settings.
    let payload = id_token
        .to_string()
        .split('.')
        .nth(1)
        .and_then(|part| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(part).ok())
        .and_then(|bytes| serde_json::from_slice::<serde_json::Value>(&bytes).ok())
        .ok_or_else(|| SsoError::Rejected("the ID token's claims are unreadable".into()))?;
    identity_from_claims(settings, subject, &payload)
}

/// The user name and groups from verified claims, by the claim names in the settings.
pub fn identity_from_claims(
    settings: &SsoSettings,
    subject: String,
    claims: &serde_json::Value,
) -> Result<Identity, SsoError> {
    let username = claims
        .get(settings.username_claim.trim())
        .and_then(|v| v.as_str())
        .map(|name| name.trim().to_lowercase())
        .filter(|name| !name.is_empty())
        .ok_or_else(|| {
            SsoError::Rejected(format!(
                "the ID token has no {:?} claim for the user name",
                settings.username_claim
            ))
        })?;
    let groups = match claims.get(settings.groups_claim.trim()) {
        Some(serde_json::Value::Array(items)) => items
            .iter()
            .filter_map(|g| g.as_str())
            .map(|g| g.chars().take(256).collect())
            .take(1000)
            .collect(),
        Some(serde_json::Value::String(one)) => vec![one.clone()],
        _ => Vec::new(),
    };
    Ok(Identity {
        subject,
        username,
        groups,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims_by_their_configured_names() {
        let settings = SsoSettings {
            username_claim: "upn".into(),
            groups_claim: "roles".into(),
            ..Default::default()
        };
        let claims = serde_json::json!({"upn": " Alice@Example.com ", "roles": ["a", "b", 3]});
        let identity = identity_from_claims(&settings, "iss|1".into(), &claims).unwrap();
        assert_eq!(identity.username, "alice@example.com");
        assert_eq!(identity.groups, ["a", "b"]);
        let missing = identity_from_claims(&settings, "iss|1".into(), &serde_json::json!({"sub": "1"}));
        assert!(matches!(missing, Err(SsoError::Rejected(_))));
        let one_group = serde_json::json!({"upn": "bob", "roles": "admins"});
        assert_eq!(
            identity_from_claims(&settings, "s".into(), &one_group).unwrap().groups,
            ["admins"]
        );
    }
}
