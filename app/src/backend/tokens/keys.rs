//! The token signing key (ECDSA P-256), its self-signed certificate (the registry's
//! `rootcertbundle`) and a JWKS file (for registry 3.x), kept in the data directory.

use std::path::{Path, PathBuf};

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use jsonwebtoken::EncodingKey;
use rcgen::{CertificateParams, DistinguishedName, DnType, KeyPair, PKCS_ECDSA_P256_SHA256};

use super::fingerprint::libtrust_key_id;

pub const KEY_FILE: &str = "token-signing-key.pem";
pub const CERT_FILE: &str = "token-cert.pem";
pub const JWKS_FILE: &str = "token-jwks.json";

pub struct SigningKey {
    pub encoding: EncodingKey,
    /// libtrust fingerprint of the public key: the JWT `kid`.
    pub kid: String,
    /// Base64 (standard) DER of the certificate: the JWT `x5c`.
    pub cert_der_base64: String,
    pub cert_path: PathBuf,
    pub jwks_path: PathBuf,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("cannot write {path}: {source}")]
    Write { path: PathBuf, source: std::io::Error },
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error(
        "{path} is corrupt ({reason}); move it away to generate a new key (registry clients then need to log in again)"
    )]
    Corrupt { path: PathBuf, reason: String },
    #[error("cannot generate the signing key: {0}")]
    Generate(String),
}

impl SigningKey {
    /// Loads the key from `dir`, generating key, certificate and JWKS on first start. A missing
    /// certificate or JWKS is regenerated from the key; a corrupt key is an error, never replaced.
    pub fn load_or_create(dir: &Path) -> Result<SigningKey, KeyError> {
        let key_path = dir.join(KEY_FILE);
        let cert_path = dir.join(CERT_FILE);
        let jwks_path = dir.join(JWKS_FILE);
        let key_pair = if key_path.exists() {
            let pem = std::fs::read_to_string(&key_path).map_err(|source| KeyError::Read {
                path: key_path.clone(),
                source,
            })?;
            let pair = KeyPair::from_pem(&pem).map_err(|e| KeyError::Corrupt {
                path: key_path.clone(),
                reason: e.to_string(),
            })?;
            if !pair.is_compatible(&PKCS_ECDSA_P256_SHA256) {
                return Err(KeyError::Corrupt {
                    path: key_path,
                    reason: "not an ECDSA P-256 key".into(),
                });
            }
            pair
        } else {
            let pair = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(|e| KeyError::Generate(e.to_string()))?;
            write_private(&key_path, pair.serialize_pem().as_bytes())?;
            let _ = std::fs::remove_file(&cert_path);
            pair
        };

        let cert_pem = match std::fs::read_to_string(&cert_path) {
            Ok(pem) => pem,
            Err(_) => {
                let pem = self_signed_certificate(&key_pair)?;
                write(&cert_path, pem.as_bytes())?;
                pem
            }
        };
        let cert_der_base64 = pem_body(&cert_pem).ok_or_else(|| KeyError::Corrupt {
            path: cert_path.clone(),
            reason: "no PEM certificate block".into(),
        })?;
        let kid = libtrust_key_id(&key_pair.public_key_der());
        write(&jwks_path, jwks(&kid, key_pair.public_key_raw()).as_bytes())?;

        let encoding = EncodingKey::from_ec_der(key_pair.serialized_der());
        Ok(SigningKey {
            encoding,
            kid,
            cert_der_base64,
            cert_path,
            jwks_path,
        })
    }
}

fn self_signed_certificate(key_pair: &KeyPair) -> Result<String, KeyError> {
    let mut params = CertificateParams::new(vec!["wharf-token-signer".to_string()])
        .map_err(|e| KeyError::Generate(e.to_string()))?;
    let mut name = DistinguishedName::new();
    name.push(DnType::CommonName, "Wharf registry token signer");
    params.distinguished_name = name;
    params.not_before = time::OffsetDateTime::now_utc() - time::Duration::days(1);
    params.not_after = time::OffsetDateTime::now_utc() + time::Duration::days(3650);
    let cert = params
        .self_signed(key_pair)
        .map_err(|e| KeyError::Generate(e.to_string()))?;
    Ok(cert.pem())
}

/// The base64 body of the first PEM block, which is the DER in standard base64.
fn pem_body(pem: &str) -> Option<String> {
    let start = pem.find("-----BEGIN CERTIFICATE-----")?;
    let rest = &pem[start + "-----BEGIN CERTIFICATE-----".len()..];
    let end = rest.find("-----END CERTIFICATE-----")?;
    let body: String = rest[..end].chars().filter(|c| !c.is_whitespace()).collect();
    STANDARD.decode(&body).ok().filter(|der| !der.is_empty())?;
    Some(body)
}

/// A JWKS document with the public key (uncompressed SEC1 point `04 || x || y`).
fn jwks(kid: &str, public_raw: &[u8]) -> String {
    let (x, y) = public_raw[1..].split_at(32);
    serde_json::json!({
        "keys": [{
            "kty": "EC",
            "crv": "P-256",
            "alg": "ES256",
            "use": "sig",
            "kid": kid,
            "x": URL_SAFE_NO_PAD.encode(x),
            "y": URL_SAFE_NO_PAD.encode(y),
        }]
    })
    .to_string()
}

fn write(path: &Path, contents: &[u8]) -> Result<(), KeyError> {
    std::fs::write(path, contents).map_err(|source| KeyError::Write {
        path: path.to_path_buf(),
        source,
    })
}

fn write_private(path: &Path, contents: &[u8]) -> Result<(), KeyError> {
    write(path, contents)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(|source| KeyError::Write {
            path: path.to_path_buf(),
            source,
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generates_once_then_loads_the_same_key() {
        let dir = std::env::temp_dir().join(format!("wharf-keys-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let first = SigningKey::load_or_create(&dir).unwrap();
        let second = SigningKey::load_or_create(&dir).unwrap();
        assert_eq!(first.kid, second.kid);
        assert_eq!(first.cert_der_base64, second.cert_der_base64);
        let jwks: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join(JWKS_FILE)).unwrap()).unwrap();
        assert_eq!(jwks["keys"][0]["kid"], first.kid);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn corrupt_key_is_an_error_not_replaced() {
        let dir = std::env::temp_dir().join(format!("wharf-keys-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(KEY_FILE), "garbage").unwrap();
        let err = SigningKey::load_or_create(&dir).unwrap_err();
        assert!(matches!(err, KeyError::Corrupt { .. }), "{err}");
        assert_eq!(std::fs::read_to_string(dir.join(KEY_FILE)).unwrap(), "garbage");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
