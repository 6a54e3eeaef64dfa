//! The process-wide connection cache (Streamlit's `st.cache_resource` under
//! `st.connection`).
//!
//! Keyed by resolved type, connection name and the options in canonical (sorted) form.
//! A hit is a shard read lock, an `Arc` clone and an expiry check. Concurrent misses
//! of one key build exactly one connection; a failed build is not cached.
//! `max_entries` bounds the entries of one connection *name* (Streamlit bounds every
//! connection that shares a ttl, which lets unrelated names evict each other). Evicted
//! and expired connections are closed.

use std::any::{Any, TypeId};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use arc_swap::ArcSwapOption;
use dashmap::DashMap;
use parking_lot::Mutex;

use crate::cache::janitor::Sweep;
use crate::connection::DynConnection;
use crate::error::{Error, Result};
use crate::ttl::Ttl;

/// What identifies one cached connection.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub(crate) struct CacheKey {
    pub(crate) type_id: TypeId,
    pub(crate) name: Box<str>,
    /// Options in canonical form; empty when none were given.
    pub(crate) options: Box<str>,
}

/// A cached connection, in both of the forms callers need.
#[derive(Clone)]
pub(crate) struct Cached {
    pub(crate) conn: Arc<dyn DynConnection>,
    pub(crate) any: Arc<dyn Any + Send + Sync>,
}

struct Entry {
    cached: Cached,
    created: Instant,
    /// The ttl in nanoseconds, `u64::MAX` for forever; the latest request sets it.
    ttl_nanos: AtomicU64,
}

fn ttl_to_nanos(ttl: Ttl) -> u64 {
    match ttl {
        Ttl::Forever => u64::MAX,
        Ttl::After(d) => u64::try_from(d.as_nanos()).unwrap_or(u64::MAX - 1),
    }
}

impl Entry {
    fn ttl(&self) -> Ttl {
        match self.ttl_nanos.load(Ordering::Relaxed) {
            u64::MAX => Ttl::Forever,
            nanos => Ttl::After(std::time::Duration::from_nanos(nanos)),
        }
    }

    fn expired(&self) -> bool {
        self.ttl().is_expired(self.created.elapsed())
    }
}

#[derive(Default)]
struct Slot {
    /// Read without locking on every hit.
    entry: ArcSwapOption<Entry>,
    /// Held while building, so that concurrent misses build once. Holds the error of
    /// the last build that failed and how many builds had finished then, so that
    /// callers who waited for that build receive its error instead of repeating it.
    build: Mutex<Option<(u64, Error)>>,
    /// Builds finished (successfully or not).
    builds: AtomicU64,
    /// Nanoseconds since the cache's epoch of the last use, for LRU eviction.
    last_used: AtomicU64,
}

/// How to treat an existing entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Reuse {
    /// Return it if it has not expired.
    IfFresh,
    /// Close it and build a new one.
    Replace,
}

pub(crate) struct ConnectionCache {
    slots: DashMap<CacheKey, Arc<Slot>>,
    epoch: Instant,
}

impl Default for ConnectionCache {
    fn default() -> Self {
        ConnectionCache {
            slots: DashMap::new(),
            epoch: Instant::now(),
        }
    }
}

impl ConnectionCache {
    fn now(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    /// The cached connection for `key`, building it with `build` on a miss. `pick`
    /// takes what the caller needs out of the entry, so a hit clones one `Arc`.
    ///
    /// Concurrent misses of one key build once; if that build fails, the callers that
    /// waited for it receive its error (the next call after them builds again). A failed
    /// build leaves no slot behind. A build that says it is not to be kept (its
    /// configuration changed while it ran) serves its caller but is not stored.
    pub(crate) fn get_or_build<R>(
        &self,
        key: &CacheKey,
        ttl: Ttl,
        max_entries: Option<usize>,
        reuse: Reuse,
        pick: impl Fn(&Cached) -> R,
        build: impl FnOnce() -> Result<(Cached, bool)>,
    ) -> Result<R> {
        if reuse == Reuse::IfFresh
            && let Some(slot) = self.slots.get(key)
            && let Some(hit) = self.fresh(&slot, ttl, max_entries.is_some(), &pick)
        {
            tracing::trace!(connection = %key.name, "connection cache hit");
            return Ok(hit);
        }
        let mut build = Some(build);
        loop {
            let slot = Arc::clone(&self.slots.entry(key.clone()).or_default());
            let seen = slot.builds.load(Ordering::Acquire);
            let mut last_failure = slot.build.lock();
            // A build that finished while we waited failed: its error is ours too (even
            // though the failed slot has left the map).
            if slot.builds.load(Ordering::Acquire) > seen
                && let Some((_, err)) = last_failure.as_ref()
            {
                return Err(err.clone());
            }
            if !self.is_current(key, &slot) {
                // The slot was dropped (a clear) while we waited.
                continue;
            }
            if reuse == Reuse::IfFresh
                && let Some(hit) = self.fresh(&slot, ttl, max_entries.is_some(), &pick)
            {
                return Ok(hit);
            }
            let Some(build) = build.take() else {
                continue;
            };
            tracing::debug!(connection = %key.name, "connection cache miss: building");
            let built = build();
            let finished = slot.builds.fetch_add(1, Ordering::AcqRel) + 1;
            let cached = match built {
                Ok((cached, true)) => {
                    *last_failure = None;
                    cached
                }
                Ok((cached, false)) => {
                    *last_failure = None;
                    drop(last_failure);
                    self.forget_if_empty(key, &slot);
                    return Ok(pick(&cached));
                }
                Err(err) => {
                    *last_failure = Some((finished, err.clone()));
                    drop(last_failure);
                    self.forget_if_empty(key, &slot);
                    return Err(err);
                }
            };
            let previous = slot.entry.swap(Some(Arc::new(Entry {
                cached: cached.clone(),
                created: Instant::now(),
                ttl_nanos: AtomicU64::new(ttl_to_nanos(ttl)),
            })));
            slot.last_used.store(self.now(), Ordering::Relaxed);
            drop(last_failure);
            if let Some(previous) = previous {
                previous.cached.conn.close();
            }
            if let Some(max) = max_entries {
                self.evict_beyond(&key.name, max, key);
            }
            self.sweep_expired_but(key);
            return Ok(pick(&cached));
        }
    }

    /// Whether `slot` is still the one the map holds for `key`.
    fn is_current(&self, key: &CacheKey, slot: &Arc<Slot>) -> bool {
        self.slots
            .get(key)
            .is_some_and(|current| Arc::ptr_eq(&current, slot))
    }

    /// The slot's entry if it exists and has not expired. A later call's ttl replaces
    /// the entry's, so the most recent request decides how long a connection lives.
    ///
    /// Recency (for `max_entries`) is recorded only by requests that set `max_entries`:
    /// the others skip the write, so concurrent hits do not fight over the cache line.
    fn fresh<R>(
        &self,
        slot: &Slot,
        ttl: Ttl,
        record_use: bool,
        pick: impl Fn(&Cached) -> R,
    ) -> Option<R> {
        let guard = slot.entry.load();
        let entry = guard.as_ref()?;
        let nanos = ttl_to_nanos(ttl);
        if entry.ttl_nanos.load(Ordering::Relaxed) != nanos {
            entry.ttl_nanos.store(nanos, Ordering::Relaxed);
        }
        if ttl != Ttl::Forever && ttl.is_expired(entry.created.elapsed()) {
            return None;
        }
        if record_use {
            slot.last_used.store(self.now(), Ordering::Relaxed);
        }
        Some(pick(&entry.cached))
    }

    fn forget_if_empty(&self, key: &CacheKey, slot: &Arc<Slot>) {
        if slot.entry.load().is_none() {
            self.slots
                .remove_if(key, |_, s| Arc::ptr_eq(s, slot) && s.entry.load().is_none());
        }
    }

    /// Evicts the least recently used entries of `name` beyond `max`, never `keep`.
    fn evict_beyond(&self, name: &str, max: usize, keep: &CacheKey) {
        let mut same_name: Vec<(CacheKey, u64)> = self
            .slots
            .iter()
            .filter(|e| &*e.key().name == name && e.value().entry.load().is_some())
            .map(|e| (e.key().clone(), e.value().last_used.load(Ordering::Relaxed)))
            .collect();
        if same_name.len() <= max {
            return;
        }
        same_name.retain(|(k, _)| k != keep);
        same_name.sort_by_key(|(_, used)| *used);
        let excess = same_name.len() + 1 - max;
        for (key, _) in same_name.into_iter().take(excess) {
            tracing::debug!(connection = %key.name, "connection cache: evicting least recently used");
            self.remove(&key);
        }
    }

    /// Closes and removes every expired entry but `keep` (just stored: with a ttl of 0
    /// it is already expired, and the caller is about to use it).
    fn sweep_expired_but(&self, keep: &CacheKey) {
        self.sweep(Some(keep));
    }

    fn sweep(&self, keep: Option<&CacheKey>) {
        let expired: Vec<(CacheKey, Arc<Entry>)> = self
            .slots
            .iter()
            .filter(|e| Some(e.key()) != keep)
            .filter_map(|e| {
                let entry = e.value().entry.load_full()?;
                entry.expired().then(|| (e.key().clone(), entry))
            })
            .collect();
        for (key, entry) in expired {
            // Only if it still holds that entry: a request may have replaced it since.
            let removed = self.slots.remove_if(&key, |_, slot| {
                slot.entry
                    .load()
                    .as_ref()
                    .is_some_and(|current| Arc::ptr_eq(current, &entry))
            });
            if let Some((_, slot)) = removed
                && let Some(entry) = slot.entry.swap(None)
            {
                tracing::debug!(connection = %key.name, "connection cache: closing an expired connection");
                entry.cached.conn.close();
            }
        }
    }

    fn remove(&self, key: &CacheKey) {
        if let Some((_, slot)) = self.slots.remove(key)
            && let Some(entry) = slot.entry.swap(None)
        {
            entry.cached.conn.close();
        }
    }

    /// Closes and removes every connection called `name`; returns how many.
    pub(crate) fn clear_name(&self, name: &str) -> usize {
        let keys: Vec<CacheKey> = self
            .slots
            .iter()
            .filter(|e| &*e.key().name == name)
            .map(|e| e.key().clone())
            .collect();
        keys.iter().for_each(|k| self.remove(k));
        keys.len()
    }

    /// Removes every connection called `name` without closing it (it was reset).
    pub(crate) fn forget_name(&self, name: &str) {
        self.slots.retain(|key, _| &*key.name != name);
    }

    /// Closes and removes every connection; returns how many.
    pub(crate) fn clear(&self) -> usize {
        let keys: Vec<CacheKey> = self.slots.iter().map(|e| e.key().clone()).collect();
        keys.iter().for_each(|k| self.remove(k));
        keys.len()
    }

    /// Every live connection with its name, for secrets-change handling.
    pub(crate) fn live(&self) -> Vec<(Box<str>, Cached)> {
        self.slots
            .iter()
            .filter_map(|e| {
                let entry = e.value().entry.load();
                entry
                    .as_ref()
                    .map(|entry| (e.key().name.clone(), entry.cached.clone()))
            })
            .collect()
    }

    /// How many connections are cached.
    pub(crate) fn len(&self) -> usize {
        self.slots
            .iter()
            .filter(|e| e.value().entry.load().is_some())
            .count()
    }
}

impl Sweep for ConnectionCache {
    fn sweep_expired(&self) {
        self.sweep(None);
    }
}
