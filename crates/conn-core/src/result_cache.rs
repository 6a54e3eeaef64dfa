//! The result cache of one connection instance (Streamlit's `st.cache_data` around
//! `query()`).
//!
//! Keyed by whatever identifies a read (statement, parameters, read options). A hit
//! returns the stored value itself (a [`Table`] shares its Arrow buffers), so it costs a
//! hash lookup and a few reference-count increments whatever the size; Streamlit
//! pickles and unpickles a copy. Concurrent identical misses run the read once; errors
//! are never stored. An optional bound in bytes evicts least recently used entries.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Instant;

use dashmap::DashMap;
use parking_lot::RwLock;

use crate::error::Result;
use crate::stats::Stats;
use crate::table::Table;
use crate::ttl::Ttl;

/// A value the result cache can hold.
pub trait CacheValue: Clone + Send + Sync + 'static {
    /// Bytes held, counted against the cache's bound.
    fn memory_size(&self) -> usize;
}

impl CacheValue for Table {
    fn memory_size(&self) -> usize {
        Table::memory_size(self)
    }
}

struct Stored<V> {
    value: V,
    /// A version of the source the value was read from (an ETag), if known.
    version: Option<Arc<str>>,
    stored: Instant,
    ttl: Ttl,
    bytes: usize,
}

struct Slot<V> {
    stored: RwLock<Option<Stored<V>>>,
    flight: tokio::sync::Mutex<()>,
    last_used: AtomicU64,
}

impl<V> Default for Slot<V> {
    fn default() -> Self {
        Slot {
            stored: RwLock::new(None),
            flight: tokio::sync::Mutex::new(()),
            last_used: AtomicU64::new(0),
        }
    }
}

struct Inner<V> {
    slots: DashMap<Arc<str>, Arc<Slot<V>>>,
    bytes: AtomicUsize,
    max_bytes: AtomicUsize,
    epoch: Instant,
    stats: Arc<Stats>,
}

/// Results of one connection, by read key. Cheap to clone (shared).
pub struct ResultCache<V: CacheValue = Table> {
    inner: Arc<Inner<V>>,
}

impl<V: CacheValue> Clone for ResultCache<V> {
    fn clone(&self) -> Self {
        ResultCache {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<V: CacheValue> fmt::Debug for ResultCache<V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResultCache")
            .field("entries", &self.len())
            .field("bytes", &self.bytes())
            .finish()
    }
}

/// A cache lookup that found a value, with the source version it was read at.
#[derive(Debug, Clone)]
pub struct Hit<V> {
    /// The cached value.
    pub value: V,
    /// The source version (ETag, last-modified) stored with it.
    pub version: Option<Arc<str>>,
}

impl<V: CacheValue> ResultCache<V> {
    /// An empty cache counting hits and misses into `stats`.
    pub fn new(stats: Arc<Stats>) -> Self {
        ResultCache {
            inner: Arc::new(Inner {
                slots: DashMap::new(),
                bytes: AtomicUsize::new(0),
                max_bytes: AtomicUsize::new(usize::MAX),
                epoch: Instant::now(),
                stats,
            }),
        }
    }

    /// Bounds the bytes held; least recently used entries go first. `None` removes the
    /// bound.
    pub fn set_max_bytes(&self, max: Option<usize>) {
        self.inner
            .max_bytes
            .store(max.unwrap_or(usize::MAX), Ordering::Relaxed);
        self.evict_to_bound(None);
    }

    fn now(&self) -> u64 {
        u64::try_from(self.inner.epoch.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    /// The stored value for `key` if it is younger than `ttl`. Counts a hit or a miss.
    pub fn lookup(&self, key: &str, ttl: Ttl) -> Option<V> {
        let hit = self.lookup_versioned(key, ttl).map(|hit| hit.value);
        if hit.is_some() {
            self.inner.stats.record_cache_hit();
            tracing::trace!("conn.cache.hit");
        } else {
            self.inner.stats.record_cache_miss();
            tracing::debug!("conn.cache.miss");
        }
        hit
    }

    /// Like [`lookup`](Self::lookup), with the version stored beside the value, and
    /// counting nothing: the caller decides whether a changed version is a miss.
    pub fn lookup_versioned(&self, key: &str, ttl: Ttl) -> Option<Hit<V>> {
        if ttl.is_zero() {
            return None;
        }
        let slot = Arc::clone(&*self.inner.slots.get(key)?);
        let stored = slot.stored.read();
        let stored = stored.as_ref()?;
        if ttl.is_expired(stored.stored.elapsed()) {
            return None;
        }
        slot.last_used.store(self.now(), Ordering::Relaxed);
        Some(Hit {
            value: stored.value.clone(),
            version: stored.version.clone(),
        })
    }

    /// The value for `key`: from the cache if younger than `ttl`, else from `read`,
    /// which then is stored. Concurrent calls for one key run `read` once; the others
    /// wait and share its result. A `ttl` of zero bypasses the cache.
    pub async fn get_or_read<F, Fut>(&self, key: &str, ttl: Ttl, read: F) -> Result<V>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<V>>,
    {
        if let Some(value) = self.lookup(key, ttl) {
            return Ok(value);
        }
        self.fill(key, ttl, read).await
    }

    /// The miss path of [`get_or_read`](Self::get_or_read), for callers that already
    /// looked `key` up: runs `read` once for all concurrent callers and stores it.
    pub async fn fill<F, Fut>(&self, key: &str, ttl: Ttl, read: F) -> Result<V>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<V>>,
    {
        if ttl.is_zero() {
            return read().await;
        }
        let slot = self.slot(key);
        let _flight = slot.flight.lock().await;
        // Whoever held the flight before us may have stored it.
        if let Some(hit) = self.lookup_versioned(key, ttl) {
            return Ok(hit.value);
        }
        let value = read().await?;
        self.store(key, value.clone(), None, ttl);
        Ok(value)
    }

    fn slot(&self, key: &str) -> Arc<Slot<V>> {
        match self.inner.slots.get(key) {
            Some(slot) => Arc::clone(&slot),
            None => Arc::clone(&self.inner.slots.entry(Arc::from(key)).or_default()),
        }
    }

    /// Holds the single-flight lock of `key` while `f` runs (for callers that do their
    /// own lookup and store, such as a read with a freshness check).
    pub async fn in_flight<T, Fut: Future<Output = T>>(
        &self,
        key: &str,
        f: impl FnOnce() -> Fut,
    ) -> T {
        let slot = self.slot(key);
        let _flight = slot.flight.lock().await;
        f().await
    }

    /// Stores `value` for `key`, with the source `version` it was read at.
    pub fn store(&self, key: &str, value: V, version: Option<Arc<str>>, ttl: Ttl) {
        if ttl.is_zero() {
            return;
        }
        let bytes = value.memory_size();
        let slot = self.slot(key);
        let previous = slot.stored.write().replace(Stored {
            value,
            version,
            stored: Instant::now(),
            ttl,
            bytes,
        });
        slot.last_used.store(self.now(), Ordering::Relaxed);
        self.inner.bytes.fetch_add(bytes, Ordering::Relaxed);
        if let Some(previous) = previous {
            self.inner
                .bytes
                .fetch_sub(previous.bytes, Ordering::Relaxed);
        }
        self.sweep_expired(key);
        self.evict_to_bound(Some(key));
    }

    /// Drops the entry for `key`. Returns whether there was one.
    pub fn invalidate(&self, key: &str) -> bool {
        match self.inner.slots.remove(key) {
            Some((_, slot)) => match slot.stored.write().take() {
                Some(stored) => {
                    self.inner.bytes.fetch_sub(stored.bytes, Ordering::Relaxed);
                    true
                }
                None => false,
            },
            None => false,
        }
    }

    /// Drops every entry.
    pub fn clear(&self) {
        let keys: Vec<Arc<str>> = self
            .inner
            .slots
            .iter()
            .map(|e| Arc::clone(e.key()))
            .collect();
        for key in keys {
            self.invalidate(&key);
        }
    }

    /// Entries held.
    pub fn len(&self) -> usize {
        self.inner
            .slots
            .iter()
            .filter(|e| e.value().stored.read().is_some())
            .count()
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes held.
    pub fn bytes(&self) -> usize {
        self.inner.bytes.load(Ordering::Relaxed)
    }

    fn sweep_expired(&self, keep: &str) {
        let expired: Vec<Arc<str>> = self
            .inner
            .slots
            .iter()
            .filter(|e| {
                &**e.key() != keep
                    && e.value()
                        .stored
                        .read()
                        .as_ref()
                        .is_some_and(|s| s.ttl.is_expired(s.stored.elapsed()))
            })
            .map(|e| Arc::clone(e.key()))
            .collect();
        for key in expired {
            self.invalidate(&key);
        }
    }

    fn evict_to_bound(&self, keep: Option<&str>) {
        let max = self.inner.max_bytes.load(Ordering::Relaxed);
        while self.bytes() > max {
            let oldest = self
                .inner
                .slots
                .iter()
                .filter(|e| Some(&**e.key()) != keep && e.value().stored.read().is_some())
                .min_by_key(|e| e.value().last_used.load(Ordering::Relaxed))
                .map(|e| Arc::clone(e.key()));
            match oldest {
                Some(key) => {
                    tracing::debug!("conn.cache.evict");
                    self.invalidate(&key);
                }
                None => break,
            }
        }
    }
}

#[cfg(test)]
mod tests;
