//! The token signing keys (ECDSA P-256) with their self-signed certificates, kept in the data
//! directory, and what the registry trusts: a certificate bundle (its `rootcertbundle`) and a
//! JWKS file (for registry 3.x) with every key that may have signed a live token.
//!
//! Rotation has an overlap, so no client loses a token it holds:
//! 1. [`stage`] makes a *next* key. It is trusted (bundle and JWKS) but signs nothing yet.
//! 2. Once the registry trusts it (Wharf's own registry does from its next start; an external one
//!    once its bundle is copied and it restarts), [`promote`] makes it the *current* key, which
//!    signs from the console's next start. The old key becomes the *previous* one: still trusted,
//!    so tokens it signed stay valid until they expire.
//! 3. The previous key is dropped at the first start more than [`PREVIOUS_KEY_KEPT`] after its
//!    retirement (tokens live minutes), or at once with [`drop_previous`].

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use jsonwebtoken::EncodingKey;
use rcgen::{CertificateParams, DistinguishedName, DnType, KeyPair, PKCS_ECDSA_P256_SHA256};

use super::fingerprint::libtrust_key_id;

/// The current key: it signs.
pub const KEY_FILE: &str = "token-signing-key.pem";
/// The bundle of every trusted certificate: the registry's `rootcertbundle`.
pub const CERT_FILE: &str = "token-cert.pem";
/// Every trusted public key: the registry's `jwks` (3.x).
pub const JWKS_FILE: &str = "token-jwks.json";

/// How long a retired key stays trusted at least: far longer than a token lives.
pub const PREVIOUS_KEY_KEPT: Duration = Duration::from_secs(3600);

/// Where a key stands in a rotation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    Current,
    Next,
    Previous,
}

impl Slot {
    const ALL: [Slot; 3] = [Slot::Current, Slot::Next, Slot::Previous];

    fn key_file(self) -> &'static str {
        match self {
            Slot::Current => KEY_FILE,
            Slot::Next => "token-signing-key.next.pem",
            Slot::Previous => "token-signing-key.previous.pem",
        }
    }

    fn cert_file(self) -> &'static str {
        match self {
            Slot::Current => "token-signing-cert.pem",
            Slot::Next => "token-signing-cert.next.pem",
            Slot::Previous => "token-signing-cert.previous.pem",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Slot::Current => "current",
            Slot::Next => "next (staged)",
            Slot::Previous => "previous (retired)",
        }
    }
}

/// The files that make the ring (every slot's key and certificate): what replicas share. The
/// bundle and the JWKS are made from them at every start.
pub fn ring_files() -> Vec<&'static str> {
    Slot::ALL
        .iter()
        .flat_map(|slot| [slot.key_file(), slot.cert_file()])
        .collect()
}

pub struct SigningKey {
    pub encoding: EncodingKey,
    /// libtrust fingerprint of the public key: the JWT `kid`.
    pub kid: String,
    /// Base64 (standard) DER of the certificate: the JWT `x5c`.
    pub cert_der_base64: String,
    /// The bundle of every trusted certificate.
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
    #[error("{0}")]
    Rotation(String),
}

/// One key of the ring with its certificate.
struct Material {
    pair: KeyPair,
    cert_pem: String,
    kid: String,
}

/// A key of the ring as the command line shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyStatus {
    pub slot: Slot,
    pub kid: String,
    /// When the key file was last written (made, staged, promoted or retired).
    pub since: SystemTime,
}

impl SigningKey {
    /// Loads the current key from `dir`, generating it (with its certificate) on first start,
    /// drops a previous key retired long enough ago, and writes the bundle and JWKS of every
    /// trusted key. A missing certificate is regenerated from its key; a corrupt key is an error,
    /// never replaced.
    pub fn load_or_create(dir: &Path) -> Result<SigningKey, KeyError> {
        let current = match load(dir, Slot::Current)? {
            Some(material) => material,
            None => {
                let pair =
                    KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(|e| KeyError::Generate(e.to_string()))?;
                write_private(&dir.join(KEY_FILE), pair.serialize_pem().as_bytes())?;
                // A certificate left from a key moved away is not this key's.
                for stale in [Slot::Current.cert_file(), CERT_FILE] {
                    let _ = std::fs::remove_file(dir.join(stale));
                }
                load(dir, Slot::Current)?.ok_or_else(|| KeyError::Generate("the new key is gone".into()))?
            }
        };
        if age(dir, Slot::Previous).is_some_and(|age| age > PREVIOUS_KEY_KEPT) {
            drop_previous(dir)?;
        }
        publish(dir)?;
        let cert_der_base64 = pem_body(&current.cert_pem).ok_or_else(|| KeyError::Corrupt {
            path: dir.join(Slot::Current.cert_file()),
            reason: "no PEM certificate block".into(),
        })?;
        Ok(SigningKey {
            encoding: EncodingKey::from_ec_der(current.pair.serialized_der()),
            kid: current.kid,
            cert_der_base64,
            cert_path: dir.join(CERT_FILE),
            jwks_path: dir.join(JWKS_FILE),
        })
    }
}

/// Makes a next key, trusted from now on in the bundle and JWKS but not signing. Refused while
/// one is staged already.
pub fn stage(dir: &Path) -> Result<String, KeyError> {
    if let Some(next) = load(dir, Slot::Next)? {
        return Err(KeyError::Rotation(format!(
            "a next key ({}) is staged already: promote it first",
            next.kid
        )));
    }
    let pair = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(|e| KeyError::Generate(e.to_string()))?;
    write_private(&dir.join(Slot::Next.key_file()), pair.serialize_pem().as_bytes())?;
    let _ = std::fs::remove_file(dir.join(Slot::Next.cert_file()));
    let next = load(dir, Slot::Next)?.ok_or_else(|| KeyError::Generate("the new key is gone".into()))?;
    publish(dir)?;
    Ok(next.kid)
}

/// Makes the staged key current (it signs from the console's next start) and the current one
/// previous (still trusted, see [`PREVIOUS_KEY_KEPT`]). `None`: nothing was staged.
pub fn promote(dir: &Path) -> Result<Option<String>, KeyError> {
    let Some(next) = load(dir, Slot::Next)? else {
        return Ok(None);
    };
    if load(dir, Slot::Current)?.is_some() {
        move_slot(dir, Slot::Current, Slot::Previous)?;
    }
    move_slot(dir, Slot::Next, Slot::Current)?;
    publish(dir)?;
    Ok(Some(next.kid))
}

/// Stops trusting the previous key now (after a leak: tokens it signed stop working at the
/// registry's next start). `false`: there was none.
pub fn drop_previous(dir: &Path) -> Result<bool, KeyError> {
    let key = dir.join(Slot::Previous.key_file());
    if !key.exists() {
        return Ok(false);
    }
    for path in [key, dir.join(Slot::Previous.cert_file())] {
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => return Err(KeyError::Write { path, source }),
        }
    }
    publish(dir)?;
    Ok(true)
}

/// The keys of the ring, current first.
pub fn status(dir: &Path) -> Result<Vec<KeyStatus>, KeyError> {
    let mut keys = Vec::new();
    for slot in Slot::ALL {
        if let Some(material) = load(dir, slot)? {
            let since = std::fs::metadata(dir.join(slot.key_file()))
                .and_then(|m| m.modified())
                .unwrap_or(SystemTime::UNIX_EPOCH);
            keys.push(KeyStatus {
                slot,
                kid: material.kid,
                since,
            });
        }
    }
    Ok(keys)
}

/// How long ago the key in `slot` was written, if there is one.
fn age(dir: &Path, slot: Slot) -> Option<Duration> {
    let modified = std::fs::metadata(dir.join(slot.key_file())).ok()?.modified().ok()?;
    SystemTime::now().duration_since(modified).ok()
}

/// The key in `slot` with its certificate (made and written when missing; a certificate from
/// before key rotation existed, the single one in the bundle, is taken over for the current key).
fn load(dir: &Path, slot: Slot) -> Result<Option<Material>, KeyError> {
    let key_path = dir.join(slot.key_file());
    if !key_path.exists() {
        return Ok(None);
    }
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
    let cert_path = dir.join(slot.cert_file());
    let cert_pem = match std::fs::read_to_string(&cert_path) {
        Ok(pem) if pem_body(&pem).is_some() => pem,
        _ => {
            let legacy = (slot == Slot::Current)
                .then(|| std::fs::read_to_string(dir.join(CERT_FILE)).ok())
                .flatten()
                .filter(|pem| pem.matches("BEGIN CERTIFICATE").count() == 1 && pem_body(pem).is_some());
            let pem = match legacy {
                Some(pem) => pem,
                None => self_signed_certificate(&pair)?,
            };
            write(&cert_path, pem.as_bytes())?;
            pem
        }
    };
    let kid = libtrust_key_id(&pair.public_key_der());
    Ok(Some(Material { pair, cert_pem, kid }))
}

/// Renames a key and its certificate to another slot (the file's time becomes now).
fn move_slot(dir: &Path, from: Slot, to: Slot) -> Result<(), KeyError> {
    for (source, target) in [(from.key_file(), to.key_file()), (from.cert_file(), to.cert_file())] {
        let (source, target) = (dir.join(source), dir.join(target));
        std::fs::rename(&source, &target).map_err(|e| KeyError::Write {
            path: target.clone(),
            source: e,
        })?;
    }
    let key = dir.join(to.key_file());
    let contents = std::fs::read(&key).map_err(|source| KeyError::Read {
        path: key.clone(),
        source,
    })?;
    write_private(&key, &contents)
}

/// Writes the bundle and the JWKS of every key in the ring.
fn publish(dir: &Path) -> Result<(), KeyError> {
    let mut bundle = String::new();
    let mut jwks = Vec::new();
    for slot in Slot::ALL {
        if let Some(material) = load(dir, slot)? {
            bundle.push_str(material.cert_pem.trim_end());
            bundle.push('\n');
            jwks.push(jwk(&material.kid, material.pair.public_key_raw()));
        }
    }
    write(&dir.join(CERT_FILE), bundle.as_bytes())?;
    write(
        &dir.join(JWKS_FILE),
        serde_json::json!({ "keys": jwks }).to_string().as_bytes(),
    )
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

/// A JWK for the public key (uncompressed SEC1 point `04 || x || y`).
fn jwk(kid: &str, public_raw: &[u8]) -> serde_json::Value {
    let (x, y) = public_raw[1..].split_at(32);
    serde_json::json!({
        "kty": "EC",
        "crv": "P-256",
        "alg": "ES256",
        "use": "sig",
        "kid": kid,
        "x": URL_SAFE_NO_PAD.encode(x),
        "y": URL_SAFE_NO_PAD.encode(y),
    })
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

    fn temp() -> PathBuf {
        let dir = std::env::temp_dir().join(format!("wharf-keys-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn trusted_kids(dir: &Path) -> Vec<String> {
        let jwks: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join(JWKS_FILE)).unwrap()).unwrap();
        jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["kid"].as_str().unwrap().to_string())
            .collect()
    }

    fn bundle_size(dir: &Path) -> usize {
        std::fs::read_to_string(dir.join(CERT_FILE))
            .unwrap()
            .matches("BEGIN CERTIFICATE")
            .count()
    }

    #[test]
    fn generates_once_then_loads_the_same_key() {
        let dir = temp();
        let first = SigningKey::load_or_create(&dir).unwrap();
        let second = SigningKey::load_or_create(&dir).unwrap();
        assert_eq!(first.kid, second.kid);
        assert_eq!(first.cert_der_base64, second.cert_der_base64);
        assert_eq!(trusted_kids(&dir), [first.kid.as_str()]);
        assert_eq!(bundle_size(&dir), 1);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_data_directory_from_before_rotation_keeps_its_certificate() {
        let dir = temp();
        let first = SigningKey::load_or_create(&dir).unwrap();
        // The layout before: the key, and its certificate as the whole bundle.
        std::fs::remove_file(dir.join(Slot::Current.cert_file())).unwrap();
        let again = SigningKey::load_or_create(&dir).unwrap();
        assert_eq!(first.cert_der_base64, again.cert_der_base64);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn rotation_trusts_the_next_key_before_it_signs_and_the_previous_one_after() {
        let dir = temp();
        let first = SigningKey::load_or_create(&dir).unwrap().kid;
        assert_eq!(promote(&dir).unwrap(), None, "nothing staged");

        let next = stage(&dir).unwrap();
        assert!(
            matches!(stage(&dir), Err(KeyError::Rotation(_))),
            "one staged key at a time"
        );
        assert_eq!(trusted_kids(&dir), [first.clone(), next.clone()]);
        assert_eq!(bundle_size(&dir), 2);
        assert_eq!(
            SigningKey::load_or_create(&dir).unwrap().kid,
            first,
            "a staged key does not sign"
        );

        assert_eq!(promote(&dir).unwrap().as_deref(), Some(next.as_str()));
        let signing = SigningKey::load_or_create(&dir).unwrap();
        assert_eq!(signing.kid, next);
        assert_eq!(trusted_kids(&dir), [next.clone(), first.clone()]);
        let slots: Vec<Slot> = status(&dir).unwrap().iter().map(|k| k.slot).collect();
        assert_eq!(slots, [Slot::Current, Slot::Previous]);

        // A second rotation retires the first key for good.
        let third = stage(&dir).unwrap();
        promote(&dir).unwrap();
        assert_eq!(trusted_kids(&dir), [third.clone(), next.clone()]);

        assert!(drop_previous(&dir).unwrap());
        assert!(!drop_previous(&dir).unwrap());
        assert_eq!(trusted_kids(&dir), [third]);
        assert_eq!(bundle_size(&dir), 1);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn corrupt_key_is_an_error_not_replaced() {
        let dir = temp();
        std::fs::write(dir.join(KEY_FILE), "garbage").unwrap();
        let err = SigningKey::load_or_create(&dir).unwrap_err();
        assert!(matches!(err, KeyError::Corrupt { .. }), "{err}");
        assert_eq!(std::fs::read_to_string(dir.join(KEY_FILE)).unwrap(), "garbage");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
