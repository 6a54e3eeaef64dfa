//! A process-wide monotonic clock in nanoseconds, for least-recently-used order across
//! every cache (one epoch, so stamps of different caches compare).

use std::sync::LazyLock;
use std::time::Instant;

static EPOCH: LazyLock<Instant> = LazyLock::new(Instant::now);

/// Nanoseconds since the first call in this process.
pub(crate) fn now() -> u64 {
    u64::try_from(EPOCH.elapsed().as_nanos()).unwrap_or(u64::MAX)
}
