//! Counters a user can read: how often a connection connected, hit its result cache,
//! missed it, retried and was reset.

use std::sync::atomic::{AtomicU64, Ordering};

/// Live counters of one connection. Cheap to update (relaxed atomics).
#[derive(Debug, Default)]
pub struct Stats {
    connects: AtomicU64,
    resets: AtomicU64,
    queries: AtomicU64,
    cache_hits: AtomicU64,
    cache_misses: AtomicU64,
    retries: AtomicU64,
}

/// A point-in-time copy of [`Stats`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct StatsSnapshot {
    /// Successful connects (the first one and every reconnect).
    pub connects: u64,
    /// Resets (explicit, after a stale error, or after a secrets change).
    pub resets: u64,
    /// Statements sent to the data source (cache misses that ran, and uncached reads).
    pub queries: u64,
    /// Reads answered from the result cache.
    pub cache_hits: u64,
    /// Reads the result cache could not answer.
    pub cache_misses: u64,
    /// Attempts repeated after a stale or transient error.
    pub retries: u64,
}

macro_rules! counters {
    ($($field:ident => $record:ident),* $(,)?) => {
        impl Stats {
            $(
                #[doc = concat!("Adds one to `", stringify!($field), "`.")]
                pub fn $record(&self) {
                    self.$field.fetch_add(1, Ordering::Relaxed);
                }
            )*

            /// The current values.
            pub fn snapshot(&self) -> StatsSnapshot {
                StatsSnapshot {
                    $($field: self.$field.load(Ordering::Relaxed),)*
                }
            }
        }
    };
}

counters! {
    connects => record_connect,
    resets => record_reset,
    queries => record_query,
    cache_hits => record_cache_hit,
    cache_misses => record_cache_miss,
    retries => record_retry,
}
