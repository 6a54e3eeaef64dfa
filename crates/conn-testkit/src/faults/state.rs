//! What the proxy's tasks share: the faults in force ([`Fault`], [`Refusal`]), the open
//! connections (to cut them) and the counters ([`ProxyStats`]).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

/// How new connections are refused during [`Fault::Refuse`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The port is closed: a connect fails at once with "connection refused", as when
    /// the server is down.
    Unbound,
    /// Connections are accepted and closed at once, before a byte is exchanged, as by
    /// a server that is starting up or out of connections.
    AcceptAndClose,
}

/// One fault the proxy injects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Every open connection is reset now (both sides see a reset); new ones work.
    CutAll,
    /// The connection that carries the `n`-th byte from the server from now on (counted
    /// over every connection) forwards up to that byte and is then reset: a result cut
    /// off in the middle (the reset may overtake the last bytes still on their way, so
    /// the client gets at most `n`). Replaces an earlier, unspent `CutAfter`; once spent,
    /// nothing more is cut.
    CutAfter(u64),
    /// Every byte, in both directions and on every connection, new ones included, is
    /// held until the duration has passed; nothing is lost.
    Stall(Duration),
    /// New connections are refused for the duration (open ones go on).
    Refuse(Duration, Refusal),
}

/// The proxy's counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProxyStats {
    /// Connections accepted and forwarded.
    pub connections: u64,
    /// Connections open now.
    pub open: u64,
    /// Connections reset by a fault ([`Fault::CutAll`], [`Fault::CutAfter`]).
    pub cut: u64,
    /// Connections refused (accepted and closed; connects to a closed port are not
    /// seen by the proxy and not counted).
    pub refused: u64,
    /// Bytes forwarded to the server.
    pub bytes_to_server: u64,
    /// Bytes forwarded from the server.
    pub bytes_from_server: u64,
    /// Faults injected.
    pub faults: u64,
}

/// The faults in force.
#[derive(Debug, Default)]
struct Controls {
    /// Bytes from the server still forwarded before a cut.
    cut_budget: Option<u64>,
    stall_until: Option<Instant>,
    refuse_until: Option<(Instant, Refusal)>,
}

/// State shared by the proxy's tasks: the accept loop and one task per connection.
#[derive(Debug)]
pub(super) struct Shared {
    target: SocketAddr,
    controls: Mutex<Controls>,
    /// One notifier per open connection, by id: notified, the connection is cut.
    open: Mutex<HashMap<u64, Arc<Notify>>>,
    /// Wakes the accept loop when a refusal starts or ends early.
    pub(super) accept_wake: Notify,
    next_id: AtomicU64,
    connections: AtomicU64,
    pub(super) cut: AtomicU64,
    pub(super) refused: AtomicU64,
    pub(super) bytes_to_server: AtomicU64,
    pub(super) bytes_from_server: AtomicU64,
    faults: AtomicU64,
}

/// Locks `mutex`; a panicking holder leaves the value as it was, which is all the
/// proxy's short critical sections need.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    /// No fault in force, no connection yet, for a proxy to `target`.
    pub(super) fn new(target: SocketAddr) -> Shared {
        Shared {
            target,
            controls: Mutex::new(Controls::default()),
            open: Mutex::new(HashMap::new()),
            accept_wake: Notify::new(),
            next_id: AtomicU64::new(0),
            connections: AtomicU64::new(0),
            cut: AtomicU64::new(0),
            refused: AtomicU64::new(0),
            bytes_to_server: AtomicU64::new(0),
            bytes_from_server: AtomicU64::new(0),
            faults: AtomicU64::new(0),
        }
    }

    /// The server the proxy forwards to.
    pub(super) fn target(&self) -> SocketAddr {
        self.target
    }

    /// Registers a new connection: its id, and what cuts it when notified.
    pub(super) fn opened(&self) -> (u64, Arc<Notify>) {
        self.connections.fetch_add(1, Ordering::Relaxed);
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let cut = Arc::new(Notify::new());
        lock(&self.open).insert(id, Arc::clone(&cut));
        (id, cut)
    }

    /// Forgets the connection `id`, which has ended.
    pub(super) fn closed(&self, id: u64) {
        lock(&self.open).remove(&id);
    }

    /// Ends every fault in force.
    pub(super) fn heal(&self) {
        *lock(&self.controls) = Controls::default();
        self.accept_wake.notify_one();
    }

    /// The counters now.
    pub(super) fn stats(&self) -> ProxyStats {
        ProxyStats {
            connections: self.connections.load(Ordering::Relaxed),
            open: u64::try_from(lock(&self.open).len()).unwrap_or(u64::MAX),
            cut: self.cut.load(Ordering::Relaxed),
            refused: self.refused.load(Ordering::Relaxed),
            bytes_to_server: self.bytes_to_server.load(Ordering::Relaxed),
            bytes_from_server: self.bytes_from_server.load(Ordering::Relaxed),
            faults: self.faults.load(Ordering::Relaxed),
        }
    }

    /// Until when bytes are held, if a stall is in force.
    pub(super) fn stalled_until(&self) -> Option<Instant> {
        let mut controls = lock(&self.controls);
        match controls.stall_until {
            Some(until) if until > Instant::now() => Some(until),
            Some(_) => {
                controls.stall_until = None;
                None
            }
            None => None,
        }
    }

    /// How many of `n` bytes from the server may be forwarded, and whether the
    /// connection is cut after them.
    pub(super) fn take_from_server(&self, n: usize) -> (usize, bool) {
        let mut controls = lock(&self.controls);
        let Some(budget) = controls.cut_budget else {
            return (n, false);
        };
        let wanted = u64::try_from(n).unwrap_or(u64::MAX);
        if wanted < budget {
            controls.cut_budget = Some(budget - wanted);
            return (n, false);
        }
        controls.cut_budget = None;
        (usize::try_from(budget).unwrap_or(n), true)
    }

    /// The refusal in force, if any, and until when.
    pub(super) fn refusal(&self) -> Option<(Instant, Refusal)> {
        let mut controls = lock(&self.controls);
        match controls.refuse_until {
            Some((until, how)) if until > Instant::now() => Some((until, how)),
            Some(_) => {
                controls.refuse_until = None;
                None
            }
            None => None,
        }
    }

    /// Puts `fault` in force (or, for a cut of every connection, carries it out).
    pub(super) fn inject(&self, fault: Fault) {
        self.faults.fetch_add(1, Ordering::Relaxed);
        match fault {
            Fault::CutAll => {
                for notify in lock(&self.open).values() {
                    notify.notify_one();
                }
            }
            Fault::CutAfter(n) => lock(&self.controls).cut_budget = Some(n),
            Fault::Stall(d) => {
                let until = Instant::now() + d;
                let mut controls = lock(&self.controls);
                controls.stall_until = Some(controls.stall_until.map_or(until, |u| u.max(until)));
            }
            Fault::Refuse(d, how) => {
                lock(&self.controls).refuse_until = Some((Instant::now() + d, how));
                self.accept_wake.notify_one();
            }
        }
    }
}
