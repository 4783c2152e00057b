//! Generated secrets (robot secrets, personal access tokens, refresh tokens): 32 random bytes
//! behind a prefix that says what they are (so a leaked one is recognisable, and the token
//! server knows which table to look in). They have full entropy, so they are stored as SHA-256,
//! not with a slow password hash.

use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretKind {
    Robot,
    PersonalToken,
    Refresh,
}

impl SecretKind {
    pub fn prefix(self) -> &'static str {
        match self {
            SecretKind::Robot => "wharf_robot_",
            SecretKind::PersonalToken => "wharf_pat_",
            SecretKind::Refresh => "wharf_refresh_",
        }
    }

    /// The kind a presented secret claims to be, from its prefix (`None`: a password).
    pub fn of(secret: &str) -> Option<SecretKind> {
        [SecretKind::Robot, SecretKind::PersonalToken, SecretKind::Refresh]
            .into_iter()
            .find(|kind| secret.starts_with(kind.prefix()))
    }
}

/// A new secret of `kind`, and the hash to store.
pub fn generate(kind: SecretKind) -> (String, String) {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    let secret = format!(
        "{}{}",
        kind.prefix(),
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    );
    let hash = hash(&secret);
    (secret, hash)
}

/// What is stored for a secret.
pub fn hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Equal hashes, compared in constant time.
pub fn same_hash(a: &str, b: &str) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_carry_their_kind_and_hash_stably() {
        let (secret, stored) = generate(SecretKind::PersonalToken);
        assert!(secret.starts_with("wharf_pat_"));
        assert_eq!(secret.len(), "wharf_pat_".len() + 43);
        assert_eq!(SecretKind::of(&secret), Some(SecretKind::PersonalToken));
        assert_eq!(hash(&secret), stored);
        assert!(same_hash(&stored, &hash(&secret)));
        assert!(!same_hash(&stored, &hash("other")));
        assert_ne!(generate(SecretKind::Robot).0, generate(SecretKind::Robot).0);
        assert_eq!(SecretKind::of("hunter2"), None);
        assert!(generate(SecretKind::Robot)
            .0
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-'));
    }
}
