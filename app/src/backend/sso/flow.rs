//! The OpenID Connect authorization code flow with PKCE and a nonce (the `openidconnect` crate):
//! discovery, the redirect to the provider, and the callback's code exchange and ID token check.
//! The claims Wharf reads (the user name and groups, whose names are settings, and the e-mail
//! address) come from the verified ID token's payload; a claim the ID token lacks is read from
//! the provider's UserInfo endpoint, as OpenID Connect Core allows (Okta and `oidc-provider` keep
//! profile claims there), whose `sub` must be the ID token's.

use std::time::Duration;

use base64::Engine;
use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreGenderClaim, CoreProviderMetadata};
use openidconnect::{
    AccessToken, AdditionalClaims, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointMaybeSet,
    EndpointNotSet, EndpointSet, IssuerUrl, Nonce, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope,
    SubjectIdentifier, UserInfoClaims,
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
    /// The `email` claim, lower case, unless the provider marks it unverified.
    #[serde(default)]
    pub email: Option<String>,
}

/// An administrator's last test sign-in, kept in the session; the settings page shows it when
/// its address carries the same `id` (every time it renders, so a second fetch of the page's
/// data after hydration shows it again instead of finding it gone).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TestSignIn {
    pub id: String,
    pub identity: Identity,
}

impl TestSignIn {
    /// `identity` under a fresh random id.
    pub fn new(identity: Identity) -> TestSignIn {
        TestSignIn {
            id: uuid::Uuid::new_v4().simple().to_string(),
            identity,
        }
    }
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

/// The scopes asked for; the crate adds `openid` itself.
const SCOPES: [&str; 2] = ["profile", "email"];

/// The client as discovery configures it: the token and UserInfo endpoints as the provider says.
type ProviderClient =
    CoreClient<EndpointSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointMaybeSet, EndpointMaybeSet>;

/// UserInfo claims beyond the standard ones (`groups` and whatever else the settings name).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct OtherClaims {
    #[serde(flatten)]
    claims: serde_json::Map<String, serde_json::Value>,
}

impl AdditionalClaims for OtherClaims {}

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

/// The provider's client for these settings, after discovery; the secret only to redeem codes.
async fn provider_client(
    settings: &SsoSettings,
    http: &reqwest::Client,
    callback_url: &str,
    with_secret: bool,
) -> Result<ProviderClient, SsoError> {
    let metadata = metadata(settings, http).await?;
    let secret =
        (with_secret && !settings.client_secret.is_empty()).then(|| ClientSecret::new(settings.client_secret.clone()));
    let redirect = RedirectUrl::new(callback_url.to_string()).map_err(|e| SsoError::Settings(e.to_string()))?;
    Ok(
        CoreClient::from_provider_metadata(metadata, ClientId::new(settings.client_id.clone()), secret)
            .set_redirect_uri(redirect),
    )
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
    let client = provider_client(settings, &http, callback_url, false).await?;
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let mut request = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scopes(SCOPES.map(|scope| Scope::new(scope.into())))
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
/// nonce); reads UserInfo for the claims the ID token lacks; returns who signed in.
pub async fn finish(
    settings: &SsoSettings,
    callback_url: &str,
    pending: &PendingLogin,
    code: &str,
) -> Result<Identity, SsoError> {
    use openidconnect::{OAuth2TokenResponse, TokenResponse};
    let http = http_client()?;
    let client = provider_client(settings, &http, callback_url, true).await?;
    let response = client
        .exchange_code(AuthorizationCode::new(code.to_string()))
        .map_err(|e| SsoError::Settings(e.to_string()))?
        .set_pkce_verifier(PkceCodeVerifier::new(pending.pkce_verifier.clone()))
        .request_async(&http)
        .await
        .map_err(|e| SsoError::Provider(format!("the code exchange failed: {e}")))?;
    let id_token = response
        .id_token()
        .ok_or_else(|| SsoError::Rejected("the provider sent no ID token".into()))?;
    let claims = id_token
        .claims(&client.id_token_verifier(), &Nonce::new(pending.nonce.clone()))
        .map_err(|e| SsoError::Rejected(e.to_string()))?;
    let subject = format!("{}|{}", claims.issuer().as_str(), claims.subject().as_str());
    // The token is verified: its payload can be read for the claims named in the settings.
    let mut payload = id_token
        .to_string()
        .split('.')
        .nth(1)
        .and_then(|part| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(part).ok())
        .and_then(|bytes| serde_json::from_slice::<serde_json::Value>(&bytes).ok())
        .ok_or_else(|| SsoError::Rejected("the ID token's claims are unreadable".into()))?;
    if needs_user_info(settings, &payload) {
        let token = response.access_token().clone();
        if let Some(user_info) = user_info(&client, &http, token, claims.subject().clone()).await? {
            fill_missing(&mut payload, user_info);
        }
    }
    identity_from_claims(settings, subject, &payload)
}

/// Whether a claim Wharf reads is missing from the ID token.
fn needs_user_info(settings: &SsoSettings, id_token: &serde_json::Value) -> bool {
    let mut wanted = vec![settings.username_claim.trim(), settings.groups_claim.trim()];
    if !settings.allowed_domains.trim().is_empty() {
        wanted.push("email");
    }
    wanted.iter().any(|claim| id_token.get(claim).is_none())
}

/// The UserInfo claims (JSON or a signed JWT, its `sub` checked), or `None` when the provider
/// has no UserInfo endpoint.
async fn user_info(
    client: &ProviderClient,
    http: &reqwest::Client,
    access_token: AccessToken,
    subject: SubjectIdentifier,
) -> Result<Option<serde_json::Value>, SsoError> {
    let Ok(request) = client.user_info(access_token, Some(subject)) else {
        return Ok(None);
    };
    let claims: UserInfoClaims<OtherClaims, CoreGenderClaim> = request
        .request_async(http)
        .await
        .map_err(|e| SsoError::Provider(format!("the UserInfo request failed: {e}")))?;
    serde_json::to_value(&claims)
        .map(Some)
        .map_err(|e| SsoError::Provider(format!("the UserInfo claims are unreadable: {e}")))
}

/// Adds the UserInfo claims the ID token does not have (the ID token's own claims win).
fn fill_missing(id_token: &mut serde_json::Value, user_info: serde_json::Value) {
    let (Some(claims), serde_json::Value::Object(extra)) = (id_token.as_object_mut(), user_info) else {
        return;
    };
    for (name, value) in extra {
        claims.entry(name).or_insert(value);
    }
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
                "neither the ID token nor UserInfo has a {:?} claim for the user name",
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
        email: verified_email(claims),
    })
}

/// The `email` claim in lower case, unless `email_verified` says it is not verified (a provider
/// that sends no `email_verified`, like Entra ID, is trusted for its addresses).
fn verified_email(claims: &serde_json::Value) -> Option<String> {
    if claims.get("email_verified").and_then(|v| v.as_bool()) == Some(false) {
        return None;
    }
    claims
        .get("email")
        .and_then(|v| v.as_str())
        .map(|email| email.trim().to_lowercase())
        .filter(|email| !email.is_empty() && email.len() <= 320)
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

    #[test]
    fn user_info_fills_only_what_the_id_token_lacks() {
        let settings = SsoSettings {
            username_claim: "preferred_username".into(),
            groups_claim: "groups".into(),
            ..Default::default()
        };
        let mut claims = serde_json::json!({"sub": "1", "iss": "https://idp"});
        assert!(needs_user_info(&settings, &claims));
        fill_missing(
            &mut claims,
            serde_json::json!({"sub": "1", "iss": "https://elsewhere", "preferred_username": "Ann",
                "groups": ["devs"], "email": "Ann@Corp.Example", "email_verified": true}),
        );
        assert_eq!(claims["iss"], "https://idp", "the ID token's own claims win");
        assert!(!needs_user_info(&settings, &claims));
        let identity = identity_from_claims(&settings, "s".into(), &claims).unwrap();
        assert_eq!(
            (identity.username.as_str(), identity.groups.as_slice()),
            ("ann", &["devs".to_string()][..])
        );
        assert_eq!(identity.email.as_deref(), Some("ann@corp.example"));

        // An allow-list by domain needs the e-mail address too.
        let by_domain = SsoSettings {
            allowed_domains: "corp.example".into(),
            ..settings.clone()
        };
        let no_email = serde_json::json!({"preferred_username": "ann", "groups": []});
        assert!(!needs_user_info(&settings, &no_email));
        assert!(needs_user_info(&by_domain, &no_email));
    }

    #[test]
    fn an_unverified_email_is_not_used() {
        let settings = SsoSettings {
            username_claim: "preferred_username".into(),
            groups_claim: "groups".into(),
            ..Default::default()
        };
        let unverified =
            serde_json::json!({"preferred_username": "ann", "email": "ann@corp.example", "email_verified": false});
        assert_eq!(
            identity_from_claims(&settings, "s".into(), &unverified).unwrap().email,
            None
        );
    }
}
