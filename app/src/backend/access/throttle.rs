//! Failed sign-ins slow down whoever makes them: per account and per client address, a few free
//! failures, then a lock that doubles with each further failure up to a cap. State lives in
//! bounded in-memory maps (moka) and is forgotten after a quiet spell; the backoff rule itself
//! is written here (rate limiters such as `governor` limit rates, not failures).

use std::net::IpAddr;
use std::time::{Duration, Instant};

use moka::sync::Cache;

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    blocked_until: Option<Instant>,
}

#[derive(Debug, Clone, Copy)]
pub struct Policy {
    /// Failures allowed before the first lock.
    pub free: u32,
    /// The longest lock.
    pub max_lock: Duration,
}

pub struct Throttle {
    accounts: Cache<String, Failures>,
    addresses: Cache<IpAddr, Failures>,
    account_policy: Policy,
    address_policy: Policy,
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
        )
    }
}

/// Account keys: case-folded and capped, so a 1 MB user name is a short key.
fn account_key(account: &str) -> String {
    account.chars().take(128).collect::<String>().to_lowercase()
}

impl Throttle {
    pub fn new(account_policy: Policy, address_policy: Policy) -> Throttle {
        Throttle {
            accounts: failure_map(),
            addresses: failure_map(),
            account_policy,
            address_policy,
        }
    }

    /// `Err(wait)` while the client address is locked.
    pub fn check_address(&self, address: Option<IpAddr>) -> Result<(), Duration> {
        match address {
            Some(address) => remaining(self.addresses.get(&address)),
            None => Ok(()),
        }
    }

    /// `Err(wait)` while the account is locked.
    pub fn check_account(&self, account: &str) -> Result<(), Duration> {
        remaining(self.accounts.get(&account_key(account)))
    }

    pub fn check(&self, account: &str, address: Option<IpAddr>) -> Result<(), Duration> {
        self.check_address(address)?;
        self.check_account(account)
    }

    pub fn failed(&self, account: &str, address: Option<IpAddr>) {
        let policy = self.account_policy;
        self.accounts
            .entry(account_key(account))
            .and_upsert_with(|old| count_failure(old.map(|e| e.into_value()), policy));
        if let Some(address) = address {
            let policy = self.address_policy;
            self.addresses
                .entry(address)
                .and_upsert_with(|old| count_failure(old.map(|e| e.into_value()), policy));
        }
    }

    /// A success clears the account's failures (not the address's: one valid account must not
    /// wash an address's guesses away).
    pub fn succeeded(&self, account: &str) {
        self.accounts.invalidate(&account_key(account));
    }
}

fn failure_map<K: std::hash::Hash + Eq + Send + Sync + 'static>() -> Cache<K, Failures> {
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

    #[test]
    fn failures_lock_with_growing_waits() {
        let throttle = Throttle::new(
            Policy {
                free: 2,
                max_lock: Duration::from_secs(4),
            },
            Policy {
                free: 3,
                max_lock: Duration::from_secs(60),
            },
        );
        let here: Option<IpAddr> = Some("10.0.0.1".parse().unwrap());
        let elsewhere: Option<IpAddr> = Some("10.0.0.2".parse().unwrap());
        throttle.failed("Alice", here);
        throttle.failed("alice", here);
        assert!(throttle.check("alice", here).is_ok(), "two free failures");
        throttle.failed("alice", here);
        let wait = throttle.check("ALICE", elsewhere).unwrap_err();
        assert!(wait <= Duration::from_secs(1) && wait > Duration::ZERO, "{wait:?}");
        throttle.failed("alice", here);
        assert!(throttle.check_account("alice").unwrap_err() > Duration::from_secs(1));
        for _ in 0..10 {
            throttle.failed("alice", None);
        }
        assert!(
            throttle.check_account("alice").unwrap_err() <= Duration::from_secs(4),
            "capped"
        );
        // The address made 4 failures: locked for every account now.
        assert!(throttle.check("bob", here).is_err());
        assert!(throttle.check("bob", elsewhere).is_ok());
        throttle.succeeded("alice");
        assert!(throttle.check_account("alice").is_ok());
        assert!(
            throttle.check_address(here).is_err(),
            "a success does not clear the address"
        );
    }
}
