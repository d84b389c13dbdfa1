//! An in-process cache of authenticated tokens, so a repeated token costs a
//! hash and a map lookup instead of two queries.
//!
//! Entries live at most the configured TTL of monotonic time. Every revocation
//! made through this process (logout, logout-all, refresh rotation or reuse,
//! [`Knox::invalidate_user`](crate::Knox::invalidate_user)) removes the user's
//! entries before it returns; a revocation made by another process is seen
//! once the entry's TTL has passed. Token expiry is checked on every hit.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::RwLock;
use std::time::{Duration, Instant};

use crate::store::TokenRecord;

/// Most entries of each kind; past it the oldest half is dropped, so a flood
/// of random tokens cannot grow memory without bound.
const MAXIMUM_ENTRIES: usize = 20_000;

/// A cache entry found for a digest.
pub(crate) enum Hit<U> {
    /// A token that authenticated this user.
    Valid(TokenRecord, U),
    /// A digest that matched no live token.
    Missing,
}

struct Entry<U> {
    record: TokenRecord,
    user: U,
    stored: Instant,
}

struct Inner<U> {
    valid: HashMap<String, Entry<U>>,
    by_user: HashMap<String, HashSet<String>>,
    missing: HashMap<String, Instant>,
}

/// The cache of one [`Knox`](crate::Knox) state.
pub(crate) struct AuthCache<U> {
    ttl: Duration,
    inner: RwLock<Inner<U>>,
    /// Bumped by every invalidation; a lookup that started before one does
    /// not store its result, which may predate the revocation.
    epoch: AtomicU64,
}

impl<U: Clone> AuthCache<U> {
    pub(crate) fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            inner: RwLock::new(Inner {
                valid: HashMap::new(),
                by_user: HashMap::new(),
                missing: HashMap::new(),
            }),
            epoch: AtomicU64::new(0),
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Inner<U>> {
        // A panic while holding the lock leaves maps that are still consistent.
        self.inner
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Inner<U>> {
        self.inner
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Returns the current epoch, to pass to [`store_valid`](Self::store_valid).
    pub(crate) fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    /// Looks a digest up; entries older than the TTL are ignored.
    pub(crate) fn get(&self, digest: &str) -> Option<Hit<U>> {
        let inner = self.read();
        if let Some(entry) = inner.valid.get(digest) {
            if entry.stored.elapsed() < self.ttl {
                return Some(Hit::Valid(entry.record.clone(), entry.user.clone()));
            }
            return None;
        }
        match inner.missing.get(digest) {
            Some(stored) if stored.elapsed() < self.ttl => Some(Hit::Missing),
            _ => None,
        }
    }

    /// Remembers a token that authenticated `user`, unless an invalidation
    /// happened since `epoch`.
    pub(crate) fn store_valid(&self, epoch: u64, record: &TokenRecord, user: &U) {
        let mut inner = self.write();
        if self.epoch() != epoch {
            return;
        }
        if inner.valid.len() >= MAXIMUM_ENTRIES {
            evict_oldest_half(&mut inner);
        }
        inner
            .by_user
            .entry(record.user_id.clone())
            .or_default()
            .insert(record.digest.clone());
        inner.missing.remove(&record.digest);
        inner.valid.insert(
            record.digest.clone(),
            Entry {
                record: record.clone(),
                user: user.clone(),
                stored: Instant::now(),
            },
        );
    }

    /// Remembers a digest that matched no live token.
    pub(crate) fn store_missing(&self, digest: &str) {
        let mut inner = self.write();
        if inner.missing.len() >= MAXIMUM_ENTRIES {
            let cutoff = median_instant(inner.missing.values().copied());
            inner.missing.retain(|_, stored| *stored > cutoff);
        }
        inner.missing.insert(digest.to_owned(), Instant::now());
    }

    /// Records a new expiry of a cached token after auto-refresh.
    pub(crate) fn update_expiry(
        &self,
        digest: &str,
        expiry: Option<chrono::DateTime<chrono::Utc>>,
    ) {
        if let Some(entry) = self.write().valid.get_mut(digest) {
            entry.record.expiry = expiry;
        }
    }

    /// Forgets one digest.
    pub(crate) fn forget(&self, digest: &str) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
        let mut inner = self.write();
        if let Some(entry) = inner.valid.remove(digest) {
            if let Some(digests) = inner.by_user.get_mut(&entry.record.user_id) {
                digests.remove(digest);
            }
        }
        inner.missing.remove(digest);
    }

    /// Forgets every token of a user.
    pub(crate) fn forget_user(&self, user_id: &str) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
        let mut inner = self.write();
        if let Some(digests) = inner.by_user.remove(user_id) {
            for digest in digests {
                inner.valid.remove(&digest);
            }
        }
    }

    /// Forgets everything.
    pub(crate) fn clear(&self) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
        let mut inner = self.write();
        inner.valid.clear();
        inner.by_user.clear();
        inner.missing.clear();
    }
}

fn evict_oldest_half<U>(inner: &mut Inner<U>) {
    let cutoff = median_instant(inner.valid.values().map(|entry| entry.stored));
    let mut evicted = Vec::new();
    inner.valid.retain(|digest, entry| {
        let keep = entry.stored > cutoff;
        if !keep {
            evicted.push((entry.record.user_id.clone(), digest.clone()));
        }
        keep
    });
    for (user_id, digest) in evicted {
        if let Some(digests) = inner.by_user.get_mut(&user_id) {
            digests.remove(&digest);
            if digests.is_empty() {
                inner.by_user.remove(&user_id);
            }
        }
    }
}

fn median_instant(instants: impl Iterator<Item = Instant>) -> Instant {
    let mut all: Vec<Instant> = instants.collect();
    all.sort_unstable();
    all.get(all.len() / 2).copied().unwrap_or_else(Instant::now)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    fn record(digest: &str, user_id: &str) -> TokenRecord {
        TokenRecord {
            digest: digest.to_owned(),
            token_key: String::new(),
            user_id: user_id.to_owned(),
            created: Utc::now(),
            expiry: None,
        }
    }

    #[test]
    fn stores_and_forgets_by_user() {
        let cache = AuthCache::new(Duration::from_secs(60));
        cache.store_valid(cache.epoch(), &record("a", "1"), &"alice");
        cache.store_valid(cache.epoch(), &record("b", "1"), &"alice");
        cache.store_valid(cache.epoch(), &record("c", "2"), &"bob");
        assert!(matches!(cache.get("a"), Some(Hit::Valid(_, "alice"))));

        cache.forget_user("1");
        assert!(cache.get("a").is_none());
        assert!(cache.get("b").is_none());
        assert!(matches!(cache.get("c"), Some(Hit::Valid(_, "bob"))));
    }

    #[test]
    fn stale_lookup_is_not_stored() {
        let cache = AuthCache::new(Duration::from_secs(60));
        let epoch = cache.epoch();
        cache.forget_user("1");
        cache.store_valid(epoch, &record("a", "1"), &"alice");
        assert!(
            cache.get("a").is_none(),
            "a revocation happened during the lookup"
        );
    }

    #[test]
    fn entries_expire_after_ttl() {
        let cache = AuthCache::new(Duration::from_millis(20));
        cache.store_valid(cache.epoch(), &record("a", "1"), &"alice");
        cache.store_missing("z");
        assert!(cache.get("a").is_some());
        assert!(matches!(cache.get("z"), Some(Hit::Missing)));
        std::thread::sleep(Duration::from_millis(30));
        assert!(cache.get("a").is_none());
        assert!(cache.get("z").is_none());
    }

    #[test]
    fn size_is_bounded() {
        let cache = AuthCache::<&str>::new(Duration::from_secs(60));
        for index in 0..(MAXIMUM_ENTRIES + 10) {
            cache.store_missing(&index.to_string());
        }
        assert!(cache.read().missing.len() <= MAXIMUM_ENTRIES);
    }
}
