//! Fault injection against real servers: a TCP proxy that cuts, stalls and refuses
//! connections ([`FaultProxy`]), and the tally of what a loop of reads and writes saw
//! while it did ([`Tally`], printed as one `FIGURES faults ...` line).
//!
//! The proxy forwards to the real server (PostgreSQL, MariaDB, moto): nothing is faked,
//! only the network between conn and the server misbehaves. Private servers that can be
//! restarted are in [`crate::servers`].
//!
//! A fault test runs [`operations`] operations (100, or `CONN_FAULTS_N` for a long run),
//! injects a fault before every few of them at a pseudo-random moment ([`Rng`], seeded from
//! `CONN_FAULTS_SEED` or the clock, the seed printed with the figures), checks every
//! result against the value it must have, and ends with [`Tally::finish`], which prints
//! the figures and fails the test on a lost read, a wrong result or a doubled write.

mod pipe;
mod proxy;
mod state;
mod tally;

pub use proxy::FaultProxy;
pub use state::{Fault, ProxyStats, Refusal};
pub use tally::{Tally, WriteCheck};

/// The variable that sets how many operations a fault test runs (default 100).
pub const ITERATIONS_VAR: &str = "CONN_FAULTS_N";

/// The variable that fixes the seed of the fault schedule, to replay a run.
pub const SEED_VAR: &str = "CONN_FAULTS_SEED";

/// The variable that, set to 1, prints the text of every error a fault test saw.
pub const VERBOSE_VAR: &str = "CONN_FAULTS_VERBOSE";

/// The variable naming a file each figures line is also appended to.
pub const FIGURES_FILE_VAR: &str = "CONN_FAULTS_FIGURES";

/// How many operations a fault test runs: `CONN_FAULTS_N`, else 100 (the short run CI
/// makes). A value that is not a positive number is a test failure, not a silent 100.
#[allow(clippy::panic)]
pub fn operations() -> u64 {
    match std::env::var(ITERATIONS_VAR) {
        Err(_) => 100,
        Ok(text) => match text.trim().parse::<u64>() {
            Ok(n) if n > 0 => n,
            _ => panic!("{ITERATIONS_VAR}={text:?} is not a positive number of operations"),
        },
    }
}

/// A small deterministic pseudo-random sequence (xorshift64*), so that a fault schedule
/// can be replayed from its seed. Not for anything but test schedules.
#[derive(Debug, Clone)]
pub struct Rng {
    seed: u64,
    state: u64,
}

impl Rng {
    /// A sequence seeded from `CONN_FAULTS_SEED`, else from the clock.
    #[allow(clippy::panic)]
    pub fn from_env() -> Rng {
        let seed = match std::env::var(SEED_VAR) {
            Ok(text) => text
                .trim()
                .parse::<u64>()
                .unwrap_or_else(|_| panic!("{SEED_VAR}={text:?} is not a number")),
            Err(_) => std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| {
                    d.as_secs()
                        .wrapping_mul(1_000_000_007)
                        .wrapping_add(u64::from(d.subsec_nanos()))
                }),
        };
        Rng::new(seed)
    }

    /// A sequence from `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng {
            seed,
            // Zero is xorshift's fixed point.
            state: seed ^ 0x9E37_79B9_7F4A_7C15,
        }
    }

    /// The seed this sequence started from.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The next number.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.state;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.state = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `low..high` (`low` when the range is empty).
    pub fn between(&mut self, low: u64, high: u64) -> u64 {
        if high <= low {
            return low;
        }
        low + self.next_u64() % (high - low)
    }

    /// A duration between `low` and `high`, at millisecond resolution.
    pub fn millis(&mut self, low: u64, high: u64) -> std::time::Duration {
        std::time::Duration::from_millis(self.between(low, high))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rng_replays_from_its_seed_and_stays_in_range() {
        let mut a = Rng::new(42);
        let mut b = Rng::new(42);
        for _ in 0..1000 {
            let x = a.between(10, 20);
            assert_eq!(x, b.between(10, 20));
            assert!((10..20).contains(&x), "{x}");
        }
        assert_eq!(Rng::new(0).seed(), 0);
        assert_ne!(Rng::new(0).next_u64(), 0, "a zero seed still moves");
        assert_eq!(a.between(5, 5), 5);
    }
}
