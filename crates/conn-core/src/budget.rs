//! The byte budget of result caches: one for the whole process by default, so that many
//! connections together cannot grow without bound.
//!
//! Every result cache charges the bytes of the values it stores to its budget. When a
//! store takes the total past the budget, the least recently used entries of *any*
//! cache sharing the budget are dropped until it fits again. A value larger than the
//! whole budget is returned to its caller but not stored.

use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock, Weak};

use parking_lot::Mutex;

use crate::error::{Error, Result};

/// The environment variable that sets the process-wide result cache budget
/// (`"512MiB"`, `"2GB"`, `"25%"` of physical memory, or bytes).
pub const RESULT_CACHE_BUDGET_VAR: &str = "CONN_RESULT_CACHE_MAX_BYTES";

/// The share of physical memory the global budget takes by default.
pub const DEFAULT_BUDGET_PERCENT: u64 = 25;

/// How full a budget is after an eviction pass: evicting a little more than needed
/// amortizes the pass's scan of every entry over the stores that follow.
pub const LOW_WATER_PERCENT: usize = 90;

/// The budget when physical memory cannot be read: 1 GiB.
pub const FALLBACK_BUDGET_BYTES: usize = 1 << 30;

/// A byte budget shared by result caches. Cheap to clone (shared).
///
/// [`Budget::global`] is the one every connection uses unless its factory was given
/// another ([`FactoryBuilder::result_cache_budget`](crate::FactoryBuilder)).
#[derive(Clone)]
pub struct Budget {
    inner: Arc<Inner>,
}

struct Inner {
    max: AtomicUsize,
    used: AtomicUsize,
    members: Mutex<Vec<Weak<dyn Member>>>,
    /// One eviction pass at a time: two would pick the same victims.
    evicting: Mutex<()>,
}

/// A cache whose entries a budget can evict.
pub(crate) trait Member: Send + Sync {
    /// Pushes every stored entry as an eviction candidate.
    fn candidates(self: Arc<Self>, out: &mut Vec<Candidate>);
    /// Drops the entry `key` if it is still the one `token` names.
    fn evict(&self, key: &str, token: usize);
}

/// One entry that could be evicted.
pub(crate) struct Candidate {
    pub(crate) last_used: u64,
    pub(crate) member: Arc<dyn Member>,
    pub(crate) key: Arc<str>,
    /// Identifies the stored entry (its address), so that an entry replaced since the
    /// candidates were gathered is not evicted in its place.
    pub(crate) token: usize,
}

static GLOBAL: LazyLock<Budget> = LazyLock::new(|| {
    let max = std::env::var(RESULT_CACHE_BUDGET_VAR)
        .ok()
        .and_then(|text| match parse_bytes(&text) {
            Ok(bytes) => Some(bytes),
            Err(err) => {
                tracing::warn!(error = %err, "{RESULT_CACHE_BUDGET_VAR} ignored");
                None
            }
        })
        .unwrap_or_else(default_max_bytes);
    Budget::new(max)
});

impl Budget {
    /// A budget of `max_bytes` for the caches that will share it.
    pub fn new(max_bytes: usize) -> Self {
        Budget {
            inner: Arc::new(Inner {
                max: AtomicUsize::new(max_bytes),
                used: AtomicUsize::new(0),
                members: Mutex::new(Vec::new()),
                evicting: Mutex::new(()),
            }),
        }
    }

    /// The process-wide budget: `CONN_RESULT_CACHE_MAX_BYTES` when set, else a quarter
    /// of physical memory (the cgroup limit when there is one), else 1 GiB.
    pub fn global() -> &'static Budget {
        &GLOBAL
    }

    /// The bound in bytes.
    pub fn max_bytes(&self) -> usize {
        self.inner.max.load(Ordering::Relaxed)
    }

    /// Changes the bound; entries beyond it are evicted now.
    pub fn set_max_bytes(&self, max_bytes: usize) {
        self.inner.max.store(max_bytes, Ordering::Relaxed);
        self.enforce(None);
    }

    /// Bytes held by every cache sharing this budget.
    pub fn used_bytes(&self) -> usize {
        self.inner.used.load(Ordering::Relaxed)
    }

    /// Whether both are the same budget.
    pub fn same_as(&self, other: &Budget) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }

    pub(crate) fn register(&self, member: Weak<dyn Member>) {
        let mut members = self.inner.members.lock();
        members.retain(|m| m.strong_count() > 0);
        members.push(member);
    }

    /// Whether a value of `bytes` may be stored at all.
    pub(crate) fn admits(&self, bytes: usize) -> bool {
        bytes <= self.max_bytes()
    }

    pub(crate) fn charge(&self, bytes: usize) {
        self.inner.used.fetch_add(bytes, Ordering::Relaxed);
    }

    pub(crate) fn release(&self, bytes: usize) {
        self.inner.used.fetch_sub(bytes, Ordering::Relaxed);
    }

    /// Evicts least recently used entries until the budget holds, never the entry
    /// `keep` (a member's address and key: the value just stored). It evicts down to
    /// [`LOW_WATER_PERCENT`] of the bound, so that the scan of every entry it takes is
    /// paid once per many stores, not on each store into a full budget.
    pub(crate) fn enforce(&self, keep: Option<(usize, &str)>) {
        if self.used_bytes() <= self.max_bytes() {
            return;
        }
        let _evicting = self.inner.evicting.lock();
        let target = self.max_bytes() / 100 * LOW_WATER_PERCENT;
        while self.used_bytes() > target {
            let mut candidates = Vec::new();
            let members: Vec<Arc<dyn Member>> = self
                .inner
                .members
                .lock()
                .iter()
                .filter_map(Weak::upgrade)
                .collect();
            for member in members {
                member.candidates(&mut candidates);
            }
            candidates.retain(|c| {
                keep.is_none_or(|(member, key)| {
                    member_address(&c.member) != member || &*c.key != key
                })
            });
            if candidates.is_empty() {
                return;
            }
            candidates.sort_unstable_by_key(|c| c.last_used);
            for candidate in candidates {
                if self.used_bytes() <= target {
                    return;
                }
                tracing::debug!("conn.cache.evict");
                candidate.member.evict(&candidate.key, candidate.token);
            }
        }
    }
}

/// The address of a member, to recognize it among others.
pub(crate) fn member_address(member: &Arc<dyn Member>) -> usize {
    Arc::as_ptr(member).cast::<()>() as usize
}

impl fmt::Debug for Budget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Budget")
            .field("max_bytes", &self.max_bytes())
            .field("used_bytes", &self.used_bytes())
            .finish()
    }
}

/// A quarter of physical memory (or of the cgroup's limit), else 1 GiB.
pub fn default_max_bytes() -> usize {
    physical_memory()
        .map(|total| total / 100 * DEFAULT_BUDGET_PERCENT)
        .and_then(|bytes| usize::try_from(bytes).ok())
        .unwrap_or(FALLBACK_BUDGET_BYTES)
}

/// Physical memory in bytes, bounded by the cgroup v2 or v1 limit, on Linux.
fn physical_memory() -> Option<u64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    let total_kib: u64 = meminfo
        .lines()
        .find_map(|line| line.strip_prefix("MemTotal:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    let total = total_kib.checked_mul(1024)?;
    let cgroup = [
        "/sys/fs/cgroup/memory.max",
        "/sys/fs/cgroup/memory/memory.limit_in_bytes",
    ]
    .iter()
    .filter_map(|path| std::fs::read_to_string(path).ok())
    .find_map(|text| text.trim().parse::<u64>().ok());
    Some(cgroup.map_or(total, |limit| limit.min(total)))
}

/// Parses a byte size: `1048576`, `512KiB`, `512MiB`, `2GiB`, `1.5GB`, `25%` (of
/// physical memory).
pub fn parse_bytes(text: &str) -> Result<usize> {
    let trimmed = text.trim();
    let invalid = || {
        Error::InvalidArgument(format!(
            "invalid byte size \"{trimmed}\": use bytes (\"1048576\"), a size with a unit \
             (\"512MiB\", \"2GB\") or a share of physical memory (\"25%\")"
        ))
    };
    if let Some(percent) = trimmed.strip_suffix('%') {
        let percent: f64 = percent.trim().parse().map_err(|_| invalid())?;
        if !(0.0..=100.0).contains(&percent) {
            return Err(invalid());
        }
        let total = physical_memory().unwrap_or(FALLBACK_BUDGET_BYTES as u64 * 4);
        #[allow(
            clippy::cast_precision_loss,
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss
        )]
        return Ok((total as f64 * percent / 100.0) as usize);
    }
    let split = trimmed
        .find(|c: char| c.is_ascii_alphabetic())
        .unwrap_or(trimmed.len());
    let (number, unit) = trimmed.split_at(split);
    let scale: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" => 1_000,
        "kib" => 1 << 10,
        "m" | "mb" => 1_000_000,
        "mib" => 1 << 20,
        "g" | "gb" => 1_000_000_000,
        "gib" => 1 << 30,
        "t" | "tb" => 1_000_000_000_000,
        "tib" => 1 << 40,
        _ => return Err(invalid()),
    };
    let number: f64 = number.trim().parse().map_err(|_| invalid())?;
    if !number.is_finite() || number < 0.0 {
        return Err(invalid());
    }
    #[allow(
        clippy::cast_precision_loss,
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss
    )]
    Ok((number * scale as f64) as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_with_units() {
        assert_eq!(parse_bytes("1048576").unwrap(), 1 << 20);
        assert_eq!(parse_bytes("512MiB").unwrap(), 512 << 20);
        assert_eq!(parse_bytes(" 2 GB ").unwrap(), 2_000_000_000);
        assert_eq!(parse_bytes("1.5KiB").unwrap(), 1536);
        assert!(parse_bytes("25%").unwrap() > 0);
        let err = parse_bytes("lots").unwrap_err().to_string();
        assert!(err.starts_with("invalid byte size \"lots\""), "{err}");
        assert!(parse_bytes("150%").is_err());
        assert!(parse_bytes("-1MB").is_err());
    }

    #[test]
    fn the_default_is_a_share_of_this_machines_memory() {
        let default = default_max_bytes() as u64;
        // Read MemTotal independently of the code under test.
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let total_kib: Option<u64> = meminfo
            .lines()
            .find(|l| l.starts_with("MemTotal:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|n| n.parse().ok());
        match total_kib {
            Some(kib) => {
                assert!(default <= kib * 1024 / 2, "{default} of {kib} KiB");
                assert!(default >= 16 << 20, "{default}");
            }
            None => assert_eq!(default, FALLBACK_BUDGET_BYTES as u64),
        }
    }
}
