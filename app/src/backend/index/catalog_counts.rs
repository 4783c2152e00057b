//! The catalog's counts (matching, total, repositories per namespace) kept between pages: at
//! 100,000 repositories each is a scan, and they only change when a repository does. An entry
//! is good while the index generation it was counted at is current ([`SyncHub::repository_changed`]
//! moves it on) and for [`FRESH`] at most, so changes another replica made show soon too.
//!
//! [`SyncHub::repository_changed`]: crate::backend::sync::hub::SyncHub::repository_changed

use std::collections::HashMap;
use std::future::Future;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::model::NamespaceCount;

/// How long a count is used at most, whatever the generation says.
pub const FRESH: Duration = Duration::from_secs(10);
/// Different filters remembered; beyond it the cache starts over.
const MAX_ENTRIES: usize = 512;

#[derive(Debug, Clone, PartialEq)]
pub enum Counted {
    Count(i64),
    Namespaces(Vec<NamespaceCount>),
}

struct Entry {
    generation: u64,
    at: Instant,
    value: Counted,
}

#[derive(Default)]
pub struct CatalogCounts {
    entries: Mutex<HashMap<String, Entry>>,
}

impl CatalogCounts {
    /// The value counted for `key` at `generation`, if it is still fresh.
    pub fn get(&self, key: &str, generation: u64) -> Option<Counted> {
        let entries = self.entries.lock().expect("catalog counts lock");
        entries
            .get(key)
            .filter(|entry| entry.generation == generation && entry.at.elapsed() < FRESH)
            .map(|entry| entry.value.clone())
    }

    /// The value kept for `key` at `generation`, or the one `count` finds (then kept).
    pub async fn get_or_count<T, E, F>(&self, key: String, generation: u64, count: F) -> Result<T, E>
    where
        T: CountedValue,
        F: Future<Output = Result<T, E>>,
    {
        if let Some(value) = self.get(&key, generation).and_then(T::unwrap) {
            return Ok(value);
        }
        let value = count.await?;
        self.put(key, generation, value.clone().wrap());
        Ok(value)
    }

    pub fn put(&self, key: String, generation: u64, value: Counted) {
        let mut entries = self.entries.lock().expect("catalog counts lock");
        if entries.len() >= MAX_ENTRIES {
            entries.retain(|_, entry| entry.generation == generation && entry.at.elapsed() < FRESH);
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
        }
        entries.insert(
            key,
            Entry {
                generation,
                at: Instant::now(),
                value,
            },
        );
    }
}

/// A value the cache holds: a count or a namespace list.
pub trait CountedValue: Clone + Sized {
    fn wrap(self) -> Counted;
    fn unwrap(counted: Counted) -> Option<Self>;
}

impl CountedValue for i64 {
    fn wrap(self) -> Counted {
        Counted::Count(self)
    }
    fn unwrap(counted: Counted) -> Option<Self> {
        match counted {
            Counted::Count(n) => Some(n),
            Counted::Namespaces(_) => None,
        }
    }
}

impl CountedValue for Vec<NamespaceCount> {
    fn wrap(self) -> Counted {
        Counted::Namespaces(self)
    }
    fn unwrap(counted: Counted) -> Option<Self> {
        match counted {
            Counted::Namespaces(namespaces) => Some(namespaces),
            Counted::Count(_) => None,
        }
    }
}

/// The key of a query with its parameters.
pub fn key(sql: &str, params: &[String]) -> String {
    let mut key = sql.to_string();
    for param in params {
        key.push('\0');
        key.push_str(param);
    }
    key
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_holds_for_its_generation_only() {
        let counts = CatalogCounts::default();
        let k = key("SELECT COUNT(*)", &["a".into()]);
        assert_eq!(counts.get(&k, 1), None);
        counts.put(k.clone(), 1, Counted::Count(7));
        assert_eq!(counts.get(&k, 1), Some(Counted::Count(7)));
        assert_eq!(counts.get(&k, 2), None);
        assert_eq!(counts.get(&key("SELECT COUNT(*)", &["b".into()]), 1), None);
    }

    #[tokio::test]
    async fn get_or_count_counts_once_per_generation() {
        let counts = CatalogCounts::default();
        let k = key("SELECT COUNT(*)", &[]);
        let first: Result<i64, ()> = counts.get_or_count(k.clone(), 1, async { Ok(3) }).await;
        assert_eq!(first, Ok(3));
        let kept: Result<i64, ()> = counts.get_or_count(k.clone(), 1, async { Ok(99) }).await;
        assert_eq!(kept, Ok(3), "the kept count is used within the generation");
        let next: Result<i64, ()> = counts.get_or_count(k.clone(), 2, async { Ok(4) }).await;
        assert_eq!(next, Ok(4));
        let failed: Result<i64, &str> = counts.get_or_count(key("other", &[]), 2, async { Err("down") }).await;
        assert_eq!(failed, Err("down"));
        assert_eq!(counts.get(&key("other", &[]), 2), None, "a failed count is not kept");
    }

    #[test]
    fn parameters_cannot_run_together() {
        assert_ne!(key("q", &["ab".into()]), key("q", &["a".into(), "b".into()]));
    }

    #[test]
    fn the_cache_stays_bounded() {
        let counts = CatalogCounts::default();
        for i in 0..(MAX_ENTRIES * 3) {
            counts.put(format!("k{i}"), 1, Counted::Count(i as i64));
        }
        assert!(counts.entries.lock().unwrap().len() <= MAX_ENTRIES);
        let last = format!("k{}", MAX_ENTRIES * 3 - 1);
        assert!(counts.get(&last, 1).is_some());
    }
}
