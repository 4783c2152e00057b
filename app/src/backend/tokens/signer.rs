use jsonwebtoken::{Algorithm, Header};
use serde::Serialize;

use super::keys::SigningKey;
use super::scope::ResourceAccess;

/// Signs registry bearer tokens.
#[derive(Debug)]
pub struct TokenSigner {
    key: SigningKey,
    issuer: String,
    service: String,
    lifetime_secs: i64,
}

#[derive(Debug, Serialize)]
struct Claims<'a> {
    iss: &'a str,
    sub: &'a str,
    /// A string, never an array: distribution 2.8 rejects an array here.
    aud: &'a str,
    exp: i64,
    nbf: i64,
    iat: i64,
    jti: String,
    access: &'a [ResourceAccess],
}

/// A signed token and the body `/auth/token` answers with.
#[derive(Debug, Clone, Serialize)]
pub struct IssuedToken {
    pub token: String,
    pub access_token: String,
    pub expires_in: i64,
    pub issued_at: String,
    /// The granted scopes, space-separated (the OAuth2 form's answer).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// Set when the client asked for an offline token.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
}

impl TokenSigner {
    pub fn new(key: SigningKey, issuer: &str, service: &str, lifetime_secs: i64) -> TokenSigner {
        TokenSigner {
            key,
            issuer: issuer.to_string(),
            service: service.to_string(),
            lifetime_secs,
        }
    }

    pub fn service(&self) -> &str {
        &self.service
    }

    pub fn key(&self) -> &SigningKey {
        &self.key
    }

    /// Seconds a token it signs is valid.
    pub fn lifetime_secs(&self) -> u64 {
        self.lifetime_secs.max(0) as u64
    }

    pub fn sign(&self, subject: &str, access: &[ResourceAccess]) -> Result<IssuedToken, jsonwebtoken::errors::Error> {
        let now = time::OffsetDateTime::now_utc();
        let iat = now.unix_timestamp();
        let claims = Claims {
            iss: &self.issuer,
            sub: subject,
            aud: &self.service,
            exp: iat + self.lifetime_secs,
            nbf: iat - 10,
            iat,
            jti: uuid::Uuid::new_v4().to_string(),
            access,
        };
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(self.key.kid.clone());
        header.x5c = Some(vec![self.key.cert_der_base64.clone()]);
        let token = jsonwebtoken::encode(&header, &claims, &self.key.encoding)?;
        Ok(IssuedToken {
            access_token: token.clone(),
            token,
            expires_in: self.lifetime_secs,
            issued_at: now
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default(),
            scope: None,
            refresh_token: None,
        })
    }
}
