//! Frees expired cache entries in the background, so an expired connection is closed and
//! an expired result's memory returned without waiting for the next miss.
//!
//! One task on conn's runtime, started by the first cache that registers, wakes every
//! [`PERIOD`] and sweeps every cache still alive. It holds caches weakly: a dropped cache
//! simply leaves the list.

use std::sync::{LazyLock, Once, Weak};
use std::time::Duration;

use parking_lot::Mutex;

/// How often expired entries are looked for.
pub(crate) const PERIOD: Duration = Duration::from_millis(250);

/// A cache the janitor sweeps.
pub(crate) trait Sweep: Send + Sync {
    /// Drops (and closes) every expired entry.
    fn sweep_expired(&self);
}

static CACHES: LazyLock<Mutex<Vec<Weak<dyn Sweep>>>> = LazyLock::new(|| Mutex::new(Vec::new()));
static START: Once = Once::new();

/// Adds a cache to the sweep, starting the janitor on first use.
pub(crate) fn register(cache: Weak<dyn Sweep>) {
    CACHES.lock().push(cache);
    // Not `spawn_detached`: that is for cleanup work a program may wait for before it
    // exits (`settle_detached`), and the janitor never ends.
    START.call_once(|| {
        if let Ok(handle) = crate::runtime::handle() {
            drop(handle.spawn(run()));
        }
    });
}

async fn run() {
    let mut tick = tokio::time::interval(PERIOD);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        sweep_all();
    }
}

/// Sweeps every live cache once (the janitor's tick; tests call it directly).
pub(crate) fn sweep_all() {
    let live: Vec<_> = {
        let mut caches = CACHES.lock();
        caches.retain(|c| c.strong_count() > 0);
        caches.iter().filter_map(Weak::upgrade).collect()
    };
    for cache in live {
        cache.sweep_expired();
    }
}
