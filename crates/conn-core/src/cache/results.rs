//! The result cache of one connection instance (Streamlit's `st.cache_data` around
//! `query()`).
//!
//! Keyed by whatever identifies a read (statement, parameters, read options). A hit
//! returns the stored value itself (a [`Table`] shares its Arrow buffers), so it costs a
//! hash lookup and a few reference-count increments whatever the size; Streamlit
//! pickles and unpickles a copy.
//!
//! Misses of one key run the read once (single flight): the first caller leads, later
//! ones wait and receive the leader's value *or its error*. If the leader is dropped
//! (cancelled) before it finishes, a waiter takes over. A read's value is stored only if
//! its flight is still registered when it finishes: [`clear`](ResultCache::clear) and
//! [`invalidate`](ResultCache::invalidate) unregister flights in progress, so a read that
//! started before a write (or a reset) can never store its now stale result afterwards.
//!
//! While a write is in progress ([`clear_on_drop`](ResultCache::clear_on_drop)) every
//! read runs afresh (no lookup, no joining a flight, nothing stored), and the cache is
//! cleared when the write ends: no caller that saw the write's effect is answered from
//! before it (see [`WriteGate`]).
//!
//! A cache may belong to a [`ResultGroup`] (the factory puts every instance of one
//! connection name in one): then a clear clears every cache of the group, and a write
//! through any of them holds the stores of all.
//!
//! Stored bytes are charged to a [`Budget`] shared with other caches (the process-wide
//! one by default), which evicts least recently used entries across all of them.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Weak};
use std::time::Instant;

use arc_swap::ArcSwap;
use dashmap::DashMap;
use parking_lot::Mutex;
use tokio::sync::watch;

use super::clock;
use super::group::{Clear, ResultGroup, WriteGate};
use super::janitor::{self, Sweep};
use crate::budget::{Budget, Candidate, Member};
use crate::error::Result;
use crate::stats::Stats;
use crate::table::Table;
use crate::ttl::Ttl;

/// A value the result cache can hold.
pub trait CacheValue: Clone + Send + Sync + 'static {
    /// Bytes held, charged to the cache's budget.
    fn memory_size(&self) -> usize;
}

impl CacheValue for Table {
    fn memory_size(&self) -> usize {
        Table::memory_size(self)
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

struct Entry<V> {
    hit: Hit<V>,
    stored: Instant,
    /// The ttl the value was stored with: the janitor frees it once that has passed.
    ttl: Ttl,
    bytes: usize,
    last_used: AtomicU64,
}

/// What waiters of a flight receive: `None` until the leader finishes.
type Outcome<V> = Option<Result<Hit<V>>>;

struct Inner<V> {
    entries: DashMap<Arc<str>, Arc<Entry<V>>>,
    /// Reads in progress, by key. Also the lock that orders stores against clears.
    flights: Mutex<HashMap<Arc<str>, watch::Receiver<Outcome<V>>>>,
    bytes: AtomicUsize,
    budget: Budget,
    stats: Arc<Stats>,
    /// Writes in progress (this cache's own, or its group's once it joins one).
    gate: ArcSwap<WriteGate>,
}

/// Results of one connection, by read key. Cheap to clone (shared).
pub struct ResultCache<V: CacheValue = Table> {
    inner: Arc<Inner<V>>,
    /// The caches cleared with this one (other instances of the same connection).
    group: Option<ResultGroup>,
}

impl<V: CacheValue> Clone for ResultCache<V> {
    fn clone(&self) -> Self {
        ResultCache {
            inner: Arc::clone(&self.inner),
            group: self.group.clone(),
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

impl<V: CacheValue> ResultCache<V> {
    /// An empty cache counting hits and misses into `stats`, charging the process-wide
    /// [`Budget::global`].
    pub fn new(stats: Arc<Stats>) -> Self {
        Self::with_budget(stats, Budget::global().clone())
    }

    /// An empty cache charging `budget`.
    pub fn with_budget(stats: Arc<Stats>, budget: Budget) -> Self {
        let inner = Arc::new(Inner {
            entries: DashMap::new(),
            flights: Mutex::new(HashMap::new()),
            bytes: AtomicUsize::new(0),
            budget,
            stats,
            gate: ArcSwap::from_pointee(WriteGate::default()),
        });
        let member: Weak<dyn Member> = Arc::downgrade(&inner) as Weak<dyn Member>;
        inner.budget.register(member);
        let sweep: Weak<dyn Sweep> = Arc::downgrade(&inner) as Weak<dyn Sweep>;
        janitor::register(sweep);
        ResultCache { inner, group: None }
    }

    /// This cache as a member of `group`: a clear of any cache of the group (this one
    /// included) clears them all.
    #[must_use]
    pub fn in_group(mut self, group: ResultGroup) -> Self {
        let member: Weak<dyn Clear> = Arc::downgrade(&self.inner) as Weak<dyn Clear>;
        self.inner.gate.store(group.gate());
        group.join(member);
        self.group = Some(group);
        self
    }

    /// The budget this cache charges.
    pub fn budget(&self) -> &Budget {
        &self.inner.budget
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
        // During a write, what is stored may be older than what another caller saw.
        if ttl.is_zero() || !self.inner.gate.load().is_open() {
            return None;
        }
        let entry = Arc::clone(&*self.inner.entries.get(key)?);
        if ttl.is_expired(entry.stored.elapsed()) {
            return None;
        }
        entry.last_used.store(clock::now(), Ordering::Relaxed);
        Some(entry.hit.clone())
    }

    /// The value for `key`: from the cache if younger than `ttl`, else from `read`,
    /// which then is stored. See [`fill`](Self::fill).
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
    /// looked `key` up: concurrent callers run `read` once and share its value or its
    /// error; the value is stored unless the cache was cleared or the key invalidated
    /// meanwhile. A `ttl` of zero bypasses the cache.
    pub async fn fill<F, Fut>(&self, key: &str, ttl: Ttl, read: F) -> Result<V>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<V>>,
    {
        self.fill_versioned(key, ttl, || async { Ok((read().await?, None)) })
            .await
    }

    /// [`fill`](Self::fill) for reads that know the version (ETag) of what they read,
    /// stored beside the value for [`lookup_versioned`](Self::lookup_versioned).
    pub async fn fill_versioned<F, Fut>(&self, key: &str, ttl: Ttl, read: F) -> Result<V>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<(V, Option<Arc<str>>)>>,
    {
        if ttl.is_zero() {
            return read().await.map(|(value, _)| value);
        }
        let mut read = Some(read);
        loop {
            // During a write a flight in progress may have read before its commit, and
            // this caller may already have seen the write's effect: read afresh.
            if !self.inner.gate.load().is_open()
                && let Some(read) = read.take()
            {
                return read().await.map(|(value, _)| value);
            }
            if let Some(hit) = self.lookup_versioned(key, ttl) {
                return Ok(hit.value);
            }
            match self.join_or_lead(key) {
                Role::Wait(mut waiting) => {
                    if let Ok(outcome) = waiting.wait_for(Option::is_some).await
                        && let Some(outcome) = outcome.clone()
                    {
                        return outcome.map(|hit| hit.value);
                    }
                    // The leader was dropped before it finished: try again, maybe as the
                    // leader this time.
                }
                Role::Lead(flight) => {
                    let Some(read) = read.take() else {
                        continue;
                    };
                    let outcome = read().await.map(|(value, version)| Hit { value, version });
                    flight.finish(ttl, &outcome);
                    return outcome.map(|hit| hit.value);
                }
            }
        }
    }

    fn join_or_lead(&self, key: &str) -> Role<'_, V> {
        let mut flights = self.inner.flights.lock();
        if let Some(waiting) = flights.get(key) {
            return Role::Wait(waiting.clone());
        }
        let (sender, receiver) = watch::channel(None);
        let key: Arc<str> = Arc::from(key);
        flights.insert(Arc::clone(&key), receiver.clone());
        Role::Lead(Flight {
            cache: &self.inner,
            key,
            sender,
            receiver,
            finished: false,
        })
    }

    /// Drops the entry for `key`, and keeps a read of `key` in progress from storing
    /// its result. Returns whether there was an entry.
    pub fn invalidate(&self, key: &str) -> bool {
        let mut flights = self.inner.flights.lock();
        flights.remove(key);
        self.inner.remove_entry(key, None)
    }

    /// Drops every entry, and keeps every read in progress from storing its result;
    /// the same for every cache of its [`ResultGroup`].
    pub fn clear(&self) {
        match &self.group {
            Some(group) => group.clear_all(),
            None => self.inner.clear_local(),
        }
    }

    /// Entries held.
    pub fn len(&self) -> usize {
        self.inner.entries.len()
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.inner.entries.is_empty()
    }

    /// Bytes held by this cache.
    pub fn bytes(&self) -> usize {
        self.inner.bytes.load(Ordering::Relaxed)
    }

    /// Marks a write as in progress until the guard drops: meanwhile lookups miss and
    /// nothing read is stored; when dropped the cache is cleared unless
    /// [`disarm`](ClearGuard::disarm)ed. Hold it across a write (or a commit), so that
    /// a write that may have applied (it finished, failed after reaching the server,
    /// or was dropped half-way) always invalidates what was cached before it, and no
    /// caller who saw its effect is answered from before it.
    pub fn clear_on_drop(&self) -> ClearGuard<V> {
        let gate = self.inner.gate.load_full();
        gate.enter();
        ClearGuard {
            cache: Some(self.clone()),
            gate,
        }
    }

    /// Drops every entry whose own ttl has passed (the janitor does this in the
    /// background; call it to free memory now).
    pub fn sweep_expired(&self) {
        self.inner.sweep_expired();
    }
}

/// A write in progress on a result cache: clears it when dropped, unless disarmed (see
/// [`ResultCache::clear_on_drop`]).
#[must_use = "the guard clears the cache when dropped"]
pub struct ClearGuard<V: CacheValue> {
    cache: Option<ResultCache<V>>,
    gate: Arc<WriteGate>,
}

impl<V: CacheValue> ClearGuard<V> {
    /// Ends the write without clearing: nothing reached the data source.
    pub fn disarm(mut self) {
        self.cache = None;
    }
}

impl<V: CacheValue> fmt::Debug for ClearGuard<V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClearGuard")
            .field("armed", &self.cache.is_some())
            .finish()
    }
}

impl<V: CacheValue> Drop for ClearGuard<V> {
    fn drop(&mut self) {
        // Cleared before the gate opens: a read that ran during the write never stores.
        if let Some(results) = self.cache.take() {
            results.clear();
        }
        self.gate.leave();
    }
}

enum Role<'c, V: CacheValue> {
    Wait(watch::Receiver<Outcome<V>>),
    Lead(Flight<'c, V>),
}

/// The leader's side of a single-flight read. Dropped unfinished (the leader was
/// cancelled), it unregisters itself so that a waiter can lead.
struct Flight<'c, V: CacheValue> {
    cache: &'c Arc<Inner<V>>,
    key: Arc<str>,
    sender: watch::Sender<Outcome<V>>,
    receiver: watch::Receiver<Outcome<V>>,
    finished: bool,
}

impl<V: CacheValue> Flight<'_, V> {
    /// Stores a successful outcome if the flight is still registered (nothing cleared
    /// or invalidated it meanwhile) and no write is in progress, unregisters it, and
    /// hands the outcome to waiters.
    fn finish(mut self, ttl: Ttl, outcome: &Result<Hit<V>>) {
        let stored_key = {
            let mut flights = self.cache.flights.lock();
            let current = flights
                .get(&self.key)
                .is_some_and(|r| r.same_channel(&self.receiver));
            if current {
                flights.remove(&self.key);
            }
            // Checked under the flights lock: a write that starts after this check
            // clears what is stored here once the lock is free.
            let storable = current && self.cache.gate.load().is_open();
            match outcome {
                Ok(hit) if storable => self.cache.insert(&self.key, hit.clone(), ttl),
                _ => false,
            }
        };
        self.finished = true;
        self.sender.send_replace(Some(outcome.clone()));
        if stored_key {
            let address = Arc::as_ptr(self.cache).cast::<()>() as usize;
            self.cache.budget.enforce(Some((address, &self.key)));
        }
    }
}

impl<V: CacheValue> Drop for Flight<'_, V> {
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        let mut flights = self.cache.flights.lock();
        if flights
            .get(&self.key)
            .is_some_and(|r| r.same_channel(&self.receiver))
        {
            flights.remove(&self.key);
        }
        // Dropping the sender wakes the waiters with an error: one of them leads next.
    }
}

impl<V> Drop for Inner<V> {
    fn drop(&mut self) {
        // The entries go with the cache: give their bytes back to the shared budget.
        self.budget.release(*self.bytes.get_mut());
    }
}

impl<V: CacheValue> Inner<V> {
    /// Stores `hit` for `key` (the caller holds the flights lock). Returns whether it
    /// was stored: a value larger than the whole budget is not.
    fn insert(&self, key: &Arc<str>, hit: Hit<V>, ttl: Ttl) -> bool {
        let bytes = hit.value.memory_size();
        if !self.budget.admits(bytes) {
            tracing::debug!(
                bytes,
                "conn.cache: a result larger than the budget is not stored"
            );
            return false;
        }
        let entry = Arc::new(Entry {
            hit,
            stored: Instant::now(),
            ttl,
            bytes,
            last_used: AtomicU64::new(clock::now()),
        });
        self.budget.charge(bytes);
        self.bytes.fetch_add(bytes, Ordering::Relaxed);
        if let Some(previous) = self.entries.insert(Arc::clone(key), entry) {
            self.release(previous.bytes);
        }
        true
    }

    /// Removes `key`'s entry (only if it is the one `token` names, when given).
    fn remove_entry(&self, key: &str, token: Option<usize>) -> bool {
        let removed = self.entries.remove_if(key, |_, entry| {
            token.is_none_or(|token| entry_token(entry) == token)
        });
        match removed {
            Some((_, entry)) => {
                self.release(entry.bytes);
                true
            }
            None => false,
        }
    }

    fn release(&self, bytes: usize) {
        self.bytes.fetch_sub(bytes, Ordering::Relaxed);
        self.budget.release(bytes);
    }
}

fn entry_token<V>(entry: &Arc<Entry<V>>) -> usize {
    Arc::as_ptr(entry) as usize
}

impl<V: CacheValue> Member for Inner<V> {
    fn candidates(self: Arc<Self>, out: &mut Vec<Candidate>) {
        let me: Arc<dyn Member> = Arc::clone(&self) as Arc<dyn Member>;
        for entry in &self.entries {
            out.push(Candidate {
                last_used: entry.value().last_used.load(Ordering::Relaxed),
                member: Arc::clone(&me),
                key: Arc::clone(entry.key()),
                token: entry_token(entry.value()),
            });
        }
    }

    fn evict(&self, key: &str, token: usize) {
        self.remove_entry(key, Some(token));
    }
}

impl<V: CacheValue> Clear for Inner<V> {
    fn clear_local(&self) {
        let mut flights = self.flights.lock();
        flights.clear();
        let keys: Vec<Arc<str>> = self.entries.iter().map(|e| Arc::clone(e.key())).collect();
        for key in keys {
            self.remove_entry(&key, None);
        }
    }
}

impl<V: CacheValue> Sweep for Inner<V> {
    fn sweep_expired(&self) {
        let expired: Vec<(Arc<str>, usize)> = self
            .entries
            .iter()
            .filter(|e| e.value().ttl.is_expired(e.value().stored.elapsed()))
            .map(|e| (Arc::clone(e.key()), entry_token(e.value())))
            .collect();
        for (key, token) in expired {
            self.remove_entry(&key, Some(token));
        }
    }
}

#[cfg(test)]
#[path = "results_tests.rs"]
mod tests;
