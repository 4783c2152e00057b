//! Checking what clients present: a user's password, a personal access token, or a robot
//! secret (told apart by the secret's prefix). Failures go to the throttle (which stops the
//! guesser, never the owner: see `throttle`), password hashing runs on a small fixed pool (see
//! `passwords::verify_gated`), and verified credentials are kept a short while in a bounded
//! cache keyed by a hash of name and secret, so a CI job pulling a hundred images costs one
//! argon2 check, not a hundred. The cache is cleared whenever a password, token or robot
//! changes.

use std::net::IpAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use moka::sync::Cache;
use sha2::{Digest, Sha256};

use super::robots;
use super::secrets::SecretKind;
use super::{personal_tokens, Subject, Throttle, UsedCredential};
use crate::backend::db::Db;
use crate::backend::notifier::{Notifier, Signal};
use crate::backend::{passwords, users};

/// Longest user name looked at; longer ones are refused unchecked.
pub const MAX_NAME_BYTES: usize = 256;
/// How long a verified credential is trusted without checking again, by default.
pub const CACHE_TTL: Duration = Duration::from_secs(60);

/// Where the credential is used: the console's sign-in form takes passwords only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    Registry,
    Console,
}

/// Who the credential proved to be.
#[derive(Debug, Clone)]
pub struct Verified {
    pub subject: Subject,
    /// The personal access token used, if one was.
    pub access_token_id: Option<String>,
    /// When the credential itself expires (a token's or robot's expiry, ms): the cache never
    /// keeps it longer.
    pub expires_at: Option<i64>,
}

#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    #[error("wrong user name or password")]
    Wrong,
    #[error("too many failed attempts; try again in {} s", .0.as_secs().max(1))]
    Throttled(Duration),
    #[error("database unavailable")]
    Unavailable(#[from] sqlx::Error),
}

impl Refusal {
    /// The error a server function answers a throttled attempt with: 429 and `Retry-After`.
    pub fn too_many_requests(wait: Duration) -> crate::model::AppError {
        crate::model::AppError::TooManyRequests {
            message: format!("{}.", Refusal::Throttled(wait)),
            retry_after_secs: wait.as_secs().max(1),
        }
    }
}

pub struct Credentials {
    /// `None`: no cache, every check verifies again.
    cache: Option<Cache<[u8; 32], Verified>>,
    pub throttle: Throttle,
    /// Failures are told to the other replicas through it, so their throttles count them too.
    replicas: OnceLock<Arc<Notifier>>,
}

impl Default for Credentials {
    fn default() -> Credentials {
        Credentials::new(Throttle::default(), CACHE_TTL)
    }
}

/// A verified credential is kept `ttl`, or until it expires itself if that comes first.
struct UntilExpiry {
    ttl: Duration,
}

impl moka::Expiry<[u8; 32], Verified> for UntilExpiry {
    fn expire_after_create(
        &self,
        _key: &[u8; 32],
        value: &Verified,
        _created_at: std::time::Instant,
    ) -> Option<Duration> {
        let left = value
            .expires_at
            .map(|at| Duration::from_millis(u64::try_from(at - crate::backend::db::now_ms()).unwrap_or(0)));
        Some(left.map_or(self.ttl, |left| left.min(self.ttl)))
    }
}

fn cache_key(purpose: Purpose, name: &str, secret: &str) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(if purpose == Purpose::Registry { b"r" } else { b"c" });
    hasher.update((name.len() as u64).to_be_bytes());
    hasher.update(name.as_bytes());
    hasher.update(secret.as_bytes());
    hasher.finalize().into()
}

impl Credentials {
    /// `cache_ttl` zero: every check verifies again (no cache).
    pub fn new(throttle: Throttle, cache_ttl: Duration) -> Credentials {
        Credentials {
            cache: (!cache_ttl.is_zero()).then(|| {
                Cache::builder()
                    .max_capacity(10_000)
                    .expire_after(UntilExpiry { ttl: cache_ttl })
                    .build()
            }),
            throttle,
            replicas: OnceLock::new(),
        }
    }

    /// Tells every failure to the other replicas through `notifier` (once; later calls are ignored).
    pub fn share_failures(&self, notifier: Arc<Notifier>) {
        let _ = self.replicas.set(notifier);
    }

    /// A failure that says nothing about any account: counts against the address, here and on
    /// the other replicas.
    pub fn address_failed(&self, client: Option<IpAddr>) {
        self.throttle.address_failed(client);
        self.tell_replicas(None, client);
    }

    /// A wrong password: counts against the pair, the address and the account, here and on the
    /// other replicas.
    fn password_failed(&self, name: &str, client: Option<IpAddr>) {
        self.throttle.password_failed(name, client);
        self.tell_replicas(Some(name), client);
    }

    fn tell_replicas(&self, account: Option<&str>, client: Option<IpAddr>) {
        let (Some(notifier), Some(address)) = (self.replicas.get(), client) else {
            return;
        };
        notifier.tell_others(Signal::CredentialFailed {
            account: account.map(|name| name.chars().take(128).collect()),
            address: address.to_string(),
        });
    }

    /// A failure another replica saw.
    pub fn failed_elsewhere(&self, account: Option<&str>, address: &str) {
        let Ok(address) = address.parse::<IpAddr>() else {
            return;
        };
        match account {
            Some(name) => self.throttle.password_failed(name, Some(address)),
            None => self.throttle.address_failed(Some(address)),
        }
    }

    /// Forget every verified credential: call after any change to passwords, tokens, robots or
    /// users, so the change applies at once.
    pub fn forget_all(&self) {
        if let Some(cache) = &self.cache {
            cache.invalidate_all();
        }
    }

    /// Checks `name` and `secret` from `client`. A credential the cache knows is answered even
    /// from a locked address; a robot secret or access token is checked whatever the address
    /// did (nobody guesses one); a password waits for its hashing turn unless the address, or
    /// this address on this account, is locked.
    pub async fn verify(
        &self,
        db: &Db,
        purpose: Purpose,
        name: &str,
        secret: &str,
        client: Option<IpAddr>,
    ) -> Result<Verified, Refusal> {
        let key = cache_key(purpose, name, secret);
        if let Some(verified) = self.cache.as_ref().and_then(|cache| cache.get(&key)) {
            return Ok(verified);
        }
        let well_formed =
            !name.is_empty() && name.len() <= MAX_NAME_BYTES && secret.len() <= passwords::MAX_PASSWORD_BYTES;
        let outcome = match (purpose, SecretKind::of(secret)) {
            _ if !well_formed => None,
            (Purpose::Registry, Some(SecretKind::PersonalToken | SecretKind::Robot)) => {
                self.check_secret(db, name, secret).await?
            }
            // A refresh token is no password; a robot or token secret signs in to nothing else.
            (_, Some(_)) => None,
            (_, None) => return self.verify_password(db, key, name, secret, client).await,
        };
        match outcome {
            Some(verified) => Ok(self.remember(key, verified)),
            None => {
                self.address_failed(client);
                log_wrong(name, client);
                // A locked address learns that it is locked, not whether the secret was right.
                Err(self
                    .throttle
                    .check_address(client)
                    .map_or_else(Refusal::Throttled, |_| Refusal::Wrong))
            }
        }
    }

    fn remember(&self, key: [u8; 32], verified: Verified) -> Verified {
        if let Some(cache) = &self.cache {
            cache.insert(key, verified.clone());
        }
        verified
    }

    /// A password: refused unhashed while the address or the pair is locked (counting against
    /// the address only), after the account's delay, on the hashing pool.
    async fn verify_password(
        &self,
        db: &Db,
        key: [u8; 32],
        name: &str,
        password: &str,
        client: Option<IpAddr>,
    ) -> Result<Verified, Refusal> {
        if let Err(wait) = self.throttle.check(name, client) {
            self.address_failed(client);
            return Err(Refusal::Throttled(wait));
        }
        let delay = self.throttle.account_delay(name);
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        let found = users::with_password_hash(db, name).await?;
        let stored = found
            .as_ref()
            .map_or_else(|| users::dummy_hash().to_string(), |(_, hash)| hash.clone());
        // Re-checked once a hashing slot is free: requests queued behind a flood that got its
        // address or pair locked are refused without hashing.
        let gate = || self.throttle.check(name, client).is_ok();
        match (passwords::verify_gated(password, stored, gate).await, found) {
            (None, _) => Err(Refusal::Throttled(
                self.throttle
                    .check(name, client)
                    .err()
                    .unwrap_or(Duration::from_secs(1)),
            )),
            (Some(true), Some((user, _))) => {
                self.throttle.succeeded(name, client);
                Ok(self.remember(
                    key,
                    Verified {
                        subject: Subject::User(user),
                        access_token_id: None,
                        expires_at: None,
                    },
                ))
            }
            (Some(_), _) => {
                self.password_failed(name, client);
                log_wrong(name, client);
                Err(Refusal::Wrong)
            }
        }
    }

    /// A personal access token or robot secret: one indexed lookup of its SHA-256.
    async fn check_secret(&self, db: &Db, name: &str, secret: &str) -> Result<Option<Verified>, Refusal> {
        if SecretKind::of(secret) == Some(SecretKind::PersonalToken) {
            let found = personal_tokens::authenticate(db, name, secret).await?;
            if let Some((_, token)) = &found {
                record_use_later(db, UsedCredential::AccessToken, token.id.clone());
            }
            return Ok(found.map(|(user, token)| Verified {
                subject: Subject::User(user),
                access_token_id: Some(token.id),
                expires_at: token.expires_at,
            }));
        }
        let found = robots::authenticate(db, name, secret).await?;
        if let Some((robot, _)) = &found {
            record_use_later(db, UsedCredential::Robot, robot.id.clone());
        }
        Ok(found.map(|(robot, expires_at)| Verified {
            subject: Subject::Robot(robot),
            access_token_id: None,
            expires_at,
        }))
    }
}

fn log_wrong(name: &str, client: Option<IpAddr>) {
    tracing::info!(
        user = %name.chars().take(64).collect::<String>().escape_debug(),
        client = ?client,
        "wrong credentials"
    );
}

/// Records "last used" in the background: a sign-in never waits on it or fails by it.
fn record_use_later(db: &Db, kind: UsedCredential, id: String) {
    let db = db.clone();
    tokio::spawn(async move {
        if let Err(err) = super::record_use(&db, kind, &id).await {
            tracing::warn!(error = %err, "could not record a credential's last use");
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use moka::Expiry;

    fn verified(expires_at: Option<i64>) -> Verified {
        Verified {
            subject: Subject::Console,
            access_token_id: None,
            expires_at,
        }
    }

    #[test]
    fn a_cached_credential_never_outlives_its_own_expiry() {
        let rule = UntilExpiry {
            ttl: Duration::from_secs(60),
        };
        let kept = |expires_at| rule.expire_after_create(&[0; 32], &verified(expires_at), std::time::Instant::now());
        let now = crate::backend::db::now_ms();
        assert_eq!(kept(None), Some(Duration::from_secs(60)));
        assert_eq!(kept(Some(now + 3_600_000)), Some(Duration::from_secs(60)));
        let soon = kept(Some(now + 10_000)).unwrap();
        assert!(
            soon <= Duration::from_secs(10) && soon > Duration::from_secs(8),
            "{soon:?}"
        );
        assert_eq!(
            kept(Some(now - 1_000)),
            Some(Duration::ZERO),
            "expired: not kept at all"
        );
    }
}
