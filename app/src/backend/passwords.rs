//! Password hashing with argon2id (the `argon2` crate's defaults, OWASP's recommended parameters).

use argon2::password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use rand::Rng;

pub fn hash(password: &str) -> String {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .expect("argon2 hashing with default parameters cannot fail")
        .to_string()
}

/// Constant-time check of `password` against a stored PHC string; a malformed hash never matches.
pub fn verify(password: &str, stored: &str) -> bool {
    match PasswordHash::new(stored) {
        Ok(parsed) => Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok(),
        Err(_) => false,
    }
}

/// Passwords longer than this are refused without hashing.
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// [`verify`] on the blocking pool, at most one hash per core at a time: each argon2 check takes
/// 19 MiB and tens of milliseconds, so a flood of made-up credentials waits in line (a few bytes
/// each) instead of taking the server's memory. An over-long password is refused unhashed.
pub async fn verify_bounded(password: &str, stored: String) -> bool {
    verify_gated(password, stored, || true).await.unwrap_or(false)
}

/// [`verify_bounded`], asking `gate` once a hashing slot is free: `None` when it says no (the
/// caller was throttled while it waited in line), and no hash is computed.
pub async fn verify_gated(password: &str, stored: String, gate: impl FnOnce() -> bool) -> Option<bool> {
    static SLOTS: std::sync::OnceLock<tokio::sync::Semaphore> = std::sync::OnceLock::new();
    if password.len() > MAX_PASSWORD_BYTES {
        return Some(false);
    }
    let slots =
        SLOTS.get_or_init(|| tokio::sync::Semaphore::new(std::thread::available_parallelism().map_or(2, |n| n.get())));
    let Ok(_slot) = slots.acquire().await else {
        return Some(false);
    };
    if !gate() {
        return None;
    }
    let password = password.to_string();
    Some(
        tokio::task::spawn_blocking(move || verify(&password, &stored))
            .await
            .unwrap_or(false),
    )
}

/// A random password of 24 characters from an unambiguous alphabet.
pub fn generate() -> String {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::thread_rng();
    (0..24)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect()
}

/// A random hex secret of `bytes` bytes.
pub fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::thread_rng().fill(buf.as_mut_slice());
    hex::encode(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_verifies_only_the_same_password() {
        let stored = hash("correct horse");
        assert!(stored.starts_with("$argon2id$"));
        assert!(verify("correct horse", &stored));
        assert!(!verify("correct horsf", &stored));
        assert!(!verify("correct horse", "not a hash"));
    }

    #[tokio::test]
    async fn bounded_verification_checks_and_refuses_overlong_passwords_unhashed() {
        let stored = hash("correct horse");
        let checks = (0..8).map(|i| {
            let stored = stored.clone();
            async move { verify_bounded(if i == 0 { "correct horse" } else { "wrong" }, stored).await }
        });
        let results = futures::future::join_all(checks).await;
        assert_eq!(results.iter().filter(|ok| **ok).count(), 1);
        let long = "x".repeat(MAX_PASSWORD_BYTES + 1);
        assert!(
            !verify_bounded(&long, hash(&long)).await,
            "refused even when it matches"
        );
    }

    #[test]
    fn generated_passwords_differ() {
        let a = generate();
        assert_eq!(a.len(), 24);
        assert_ne!(a, generate());
    }
}
