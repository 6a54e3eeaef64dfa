//! [`ResultGroup`]: the result caches of every instance of one connection name.
//!
//! A factory may hold two live instances of one connection at once: callers keep the
//! `Arc` of an instance that a secrets edit, a ttl expiry or `fresh()` replaced in the
//! factory's cache, and the new instance caches reads of its own. A write through
//! either must invalidate both, or the other keeps serving what the write changed. So
//! the factory gives every instance of a name the same group, and a clear of one
//! cache (a write, a reset) clears every cache of the group. The group's caches also
//! share one [`WriteGate`]: while a write runs through any of them, none stores.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Weak};

use parking_lot::Mutex;

/// A result cache as its group sees it: something to clear.
pub(crate) trait Clear: Send + Sync {
    /// Drops every entry and keeps every read in progress from storing its result.
    fn clear_local(&self);
}

/// Counts the writes in progress through a cache (or a group of caches).
///
/// A write's effect becomes visible to other readers when the server commits it, a
/// moment before the writer's call returns and clears the cache. A read that ran just
/// before the commit and finishes in that moment would store the old value *after*
/// another caller already saw the new one, and the cache would serve the old value
/// until the clear; a caller who saw the new value could be answered from an entry
/// stored before the write, or by joining a read in flight that started before the
/// commit. Each way its reads would go back in time. So while a write is in progress
/// every read runs afresh for its caller (no lookup, no joining, nothing stored), and
/// the cache is cleared when the write ends, which also unregisters the reads in
/// flight.
#[derive(Debug, Default)]
pub(crate) struct WriteGate {
    in_progress: AtomicUsize,
}

impl WriteGate {
    /// Marks a write as started.
    pub(crate) fn enter(&self) {
        self.in_progress.fetch_add(1, Ordering::SeqCst);
    }

    /// Marks a write as ended.
    pub(crate) fn leave(&self) {
        self.in_progress.fetch_sub(1, Ordering::SeqCst);
    }

    /// Whether a read may be stored now: no write is in progress.
    pub(crate) fn is_open(&self) -> bool {
        self.in_progress.load(Ordering::SeqCst) == 0
    }
}

/// The result caches of one connection name, cleared together. Cheap to clone (shared).
#[derive(Clone, Default)]
pub struct ResultGroup {
    members: Arc<Mutex<Vec<Weak<dyn Clear>>>>,
    gate: Arc<WriteGate>,
}

impl std::fmt::Debug for ResultGroup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResultGroup")
            .field("members", &self.members.lock().len())
            .finish()
    }
}

impl ResultGroup {
    /// Adds a cache; caches that were dropped leave the group here.
    pub(crate) fn join(&self, member: Weak<dyn Clear>) {
        let mut members = self.members.lock();
        members.retain(|m| m.strong_count() > 0);
        members.push(member);
    }

    /// Whether nothing but this handle holds the group: no configuration, cache or
    /// write guard. Such a group can be forgotten; the name's next instance starts a
    /// new one.
    pub(crate) fn is_unused(&self) -> bool {
        Arc::strong_count(&self.members) == 1 && Arc::strong_count(&self.gate) == 1
    }

    /// The write gate the group's caches share.
    pub(crate) fn gate(&self) -> Arc<WriteGate> {
        Arc::clone(&self.gate)
    }

    /// Clears every live cache of the group. The member list is copied first, so no
    /// cache's own lock is taken under the group's.
    pub(crate) fn clear_all(&self) {
        let live: Vec<Arc<dyn Clear>> = self
            .members
            .lock()
            .iter()
            .filter_map(Weak::upgrade)
            .collect();
        for member in live {
            member.clear_local();
        }
    }
}
