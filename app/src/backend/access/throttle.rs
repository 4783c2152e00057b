//! Wrong guesses slow down or stop whoever makes them, never the account's owner.
//!
//! - A client address that keeps failing is locked, whatever names it tries (after a few free
//!   failures, a lock that doubles with each further failure up to a cap).
//! - A password guessed wrong from one address locks that (account, address) pair only: the
//!   owner signing in from anywhere else is not refused.
//! - Failures on one account from every address together only add a short delay before the
//!   account's next password check (never a refusal), which slows a guesser spread over many
//!   addresses without locking anyone out.
//! - Robot secrets, personal access tokens and refresh tokens are long random secrets: nobody
//!   guesses them, so they count against the address alone, never against an account.
//!
//! State lives in bounded in-memory maps (moka) and is forgotten after a quiet spell; the backoff
//! rule itself is written here (rate limiters such as `governor` limit rates, not failures).

use std::net::IpAddr;
use std::time::{Duration, Instant};

use moka::sync::Cache;

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    blocked_until: Option<Instant>,
}

/// When failures lock.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    /// Failures allowed before the first lock.
    pub free: u32,
    /// The longest lock.
    pub max_lock: Duration,
}

/// How failures on one account from every address slow its next checks down.
#[derive(Debug, Clone, Copy)]
pub struct DelayPolicy {
    /// Failures before the first delay.
    pub free: u32,
    /// The first delay; it doubles with each further failure.
    pub first: Duration,
    /// The longest delay.
    pub max: Duration,
}

pub struct Throttle {
    /// Password failures per (account, address).
    pairs: Cache<(String, Option<IpAddr>), Failures>,
    /// Failures of every kind per address.
    addresses: Cache<IpAddr, Failures>,
    /// Password failures per account, from every address: only ever a delay.
    accounts: Cache<String, u32>,
    pair_policy: Policy,
    address_policy: Policy,
    account_delay: DelayPolicy,
}

impl Default for Throttle {
    fn default() -> Throttle {
        Throttle::new(
            Policy {
                free: 5,
                max_lock: Duration::from_secs(300),
            },
            Policy {
                free: 20,
                max_lock: Duration::from_secs(900),
            },
            DelayPolicy {
                free: 10,
                first: Duration::from_millis(250),
                max: Duration::from_secs(2),
            },
        )
    }
}

/// Account keys: case-folded and capped, so a 1 MB user name is a short key.
fn account_key(account: &str) -> String {
    account.chars().take(128).collect::<String>().to_lowercase()
}

impl Throttle {
    pub fn new(pair_policy: Policy, address_policy: Policy, account_delay: DelayPolicy) -> Throttle {
        Throttle {
            pairs: failure_map(),
            addresses: failure_map(),
            accounts: failure_map(),
            pair_policy,
            address_policy,
            account_delay,
        }
    }

    /// `Err(wait)` while the client address is locked.
    pub fn check_address(&self, address: Option<IpAddr>) -> Result<(), Duration> {
        match address {
            Some(address) => remaining(self.addresses.get(&address)),
            None => Ok(()),
        }
    }

    /// `Err(wait)` while a password for `account` may not be tried from `address`: the address
    /// is locked, or this address guessed this account's password wrong too often.
    pub fn check(&self, account: &str, address: Option<IpAddr>) -> Result<(), Duration> {
        self.check_address(address)?;
        remaining(self.pairs.get(&(account_key(account), address)))
    }

    /// How long to wait before checking a password for `account`: zero until its failures from
    /// every address together pass the free ones, then a short delay that doubles up to a cap.
    pub fn account_delay(&self, account: &str) -> Duration {
        let policy = self.account_delay;
        let count = self.accounts.get(&account_key(account)).unwrap_or(0);
        if count <= policy.free {
            return Duration::ZERO;
        }
        let doublings = (count - policy.free - 1).min(16);
        policy.first.saturating_mul(1 << doublings).min(policy.max)
    }

    /// A password for `account` was wrong: counts against the pair, the address and (as a
    /// delay only) the account.
    pub fn password_failed(&self, account: &str, address: Option<IpAddr>) {
        let key = account_key(account);
        let policy = self.pair_policy;
        self.pairs
            .entry((key.clone(), address))
            .and_upsert_with(|old| count_failure(old.map(|e| e.into_value()), policy));
        self.accounts
            .entry(key)
            .and_upsert_with(|old| old.map_or(0, |e| e.into_value()).saturating_add(1));
        self.address_failed(address);
    }

    /// A failure that says nothing about any account (a wrong random secret, an attempt refused
    /// because its address or pair is locked): counts against the address only.
    pub fn address_failed(&self, address: Option<IpAddr>) {
        if let Some(address) = address {
            let policy = self.address_policy;
            self.addresses
                .entry(address)
                .and_upsert_with(|old| count_failure(old.map(|e| e.into_value()), policy));
        }
    }

    /// A right password clears the pair's failures and the account's delay (not the address's
    /// failures: one valid account must not wash an address's guesses away).
    pub fn succeeded(&self, account: &str, address: Option<IpAddr>) {
        let key = account_key(account);
        self.pairs.invalidate(&(key.clone(), address));
        self.accounts.invalidate(&key);
    }
}

fn failure_map<K: std::hash::Hash + Eq + Send + Sync + 'static, V: Clone + Send + Sync + 'static>() -> Cache<K, V> {
    Cache::builder()
        .max_capacity(100_000)
        .time_to_idle(Duration::from_secs(1800))
        .build()
}

fn remaining(failures: Option<Failures>) -> Result<(), Duration> {
    let now = Instant::now();
    match failures.and_then(|f| f.blocked_until) {
        Some(until) if until > now => Err(until - now),
        _ => Ok(()),
    }
}

fn count_failure(old: Option<Failures>, policy: Policy) -> Failures {
    let count = old.map_or(0, |f| f.count).saturating_add(1);
    let blocked_until = (count > policy.free).then(|| {
        let doublings = (count - policy.free - 1).min(20);
        let lock = Duration::from_secs(1u64 << doublings).min(policy.max_lock);
        Instant::now() + lock
    });
    Failures { count, blocked_until }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> Throttle {
        Throttle::new(
            Policy {
                free: 2,
                max_lock: Duration::from_secs(4),
            },
            Policy {
                free: 5,
                max_lock: Duration::from_secs(60),
            },
            DelayPolicy {
                free: 3,
                first: Duration::from_millis(100),
                max: Duration::from_millis(500),
            },
        )
    }

    #[test]
    fn guesses_lock_the_pair_not_the_account() {
        let throttle = small();
        let here: Option<IpAddr> = Some("10.0.0.1".parse().unwrap());
        let elsewhere: Option<IpAddr> = Some("10.0.0.2".parse().unwrap());
        throttle.password_failed("Alice", here);
        throttle.password_failed("alice", here);
        assert!(throttle.check("alice", here).is_ok(), "two free failures");
        throttle.password_failed("alice", here);
        let wait = throttle.check("ALICE", here).unwrap_err();
        assert!(wait <= Duration::from_secs(1) && wait > Duration::ZERO, "{wait:?}");
        assert!(
            throttle.check("alice", elsewhere).is_ok(),
            "the owner elsewhere is not locked"
        );
        assert!(
            throttle.check("bob", here).is_ok(),
            "another account from here is not locked"
        );
        throttle.password_failed("alice", here);
        assert!(throttle.check("alice", here).unwrap_err() > Duration::from_secs(1));
        for _ in 0..10 {
            throttle.password_failed("alice", None);
        }
        assert!(
            throttle.check("alice", None).unwrap_err() <= Duration::from_secs(4),
            "capped"
        );
        // Six failures from here in all (five are free): the address is locked for every
        // account now.
        throttle.address_failed(here);
        throttle.address_failed(here);
        assert!(throttle.check("bob", here).is_err());
        assert!(throttle.check("bob", elsewhere).is_ok());
        throttle.succeeded("alice", here);
        assert!(throttle.check("alice", elsewhere).is_ok());
        assert!(
            throttle.check_address(here).is_err(),
            "a success does not clear the address"
        );
    }

    #[test]
    fn account_failures_only_delay_and_with_a_cap() {
        let throttle = small();
        let addresses: Vec<Option<IpAddr>> = (1..=20).map(|i| Some(format!("10.0.1.{i}").parse().unwrap())).collect();
        for address in &addresses[..3] {
            throttle.password_failed("alice", *address);
        }
        assert_eq!(throttle.account_delay("alice"), Duration::ZERO, "three free failures");
        throttle.password_failed("alice", addresses[3]);
        assert_eq!(throttle.account_delay("alice"), Duration::from_millis(100));
        throttle.password_failed("alice", addresses[4]);
        assert_eq!(throttle.account_delay("alice"), Duration::from_millis(200));
        for address in &addresses[5..] {
            throttle.password_failed("alice", *address);
        }
        assert_eq!(throttle.account_delay("alice"), Duration::from_millis(500), "capped");
        let fresh = Some("10.0.2.1".parse().unwrap());
        assert!(throttle.check("alice", fresh).is_ok(), "a delay, never a refusal");
        assert_eq!(throttle.account_delay("bob"), Duration::ZERO);
        throttle.succeeded("alice", fresh);
        assert_eq!(throttle.account_delay("alice"), Duration::ZERO);
    }

    #[test]
    fn address_failures_never_touch_an_account() {
        let throttle = small();
        let here: Option<IpAddr> = Some("10.0.0.1".parse().unwrap());
        for _ in 0..50 {
            throttle.address_failed(here);
        }
        assert!(throttle.check_address(here).is_err());
        assert_eq!(throttle.account_delay("alice"), Duration::ZERO);
        assert!(throttle.check("alice", Some("10.0.0.2".parse().unwrap())).is_ok());
    }
}
