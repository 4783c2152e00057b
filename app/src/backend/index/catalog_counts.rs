//! The catalog's counts (matching, total, repositories per namespace) kept between pages: at
//! 100,000 repositories each is a scan, and they only change when a repository does. An entry
//! is good while the index generation it was counted at is current ([`SyncHub::repository_changed`]
//! moves it on) and for [`FRESH`] at most, so changes another replica made show soon too.
//!
//! [`SyncHub::repository_changed`]: crate::backend::sync::hub::SyncHub::repository_changed

use std::collections::HashMap;
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
