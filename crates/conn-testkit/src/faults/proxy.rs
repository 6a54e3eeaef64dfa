//! [`FaultProxy`]: a TCP proxy on 127.0.0.1 in front of a real server, whose faults a
//! test injects: cut every open connection, cut after N more bytes from the server
//! (mid-result), stall every byte for a while, refuse new connections for a while.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::Notify;

use super::pipe;

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
    /// off in the middle. Replaces an earlier, unspent `CutAfter`.
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

/// The faults in force, shared by the accept loop and every connection.
#[derive(Debug, Default)]
pub(super) struct Controls {
    /// Bytes from the server still forwarded before a cut.
    cut_budget: Option<u64>,
    stall_until: Option<Instant>,
    refuse_until: Option<(Instant, Refusal)>,
}

/// State shared by the proxy's tasks.
#[derive(Debug)]
pub(super) struct Shared {
    target: SocketAddr,
    controls: Mutex<Controls>,
    /// One notifier per open connection, by id: notified, the connection is cut.
    open: Mutex<HashMap<u64, Arc<Notify>>>,
    /// Wakes the accept loop when a refusal starts.
    accept_wake: Notify,
    next_id: AtomicU64,
    pub(super) connections: AtomicU64,
    pub(super) cut: AtomicU64,
    refused: AtomicU64,
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

    fn refusal(&self) -> Option<(Instant, Refusal)> {
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

    fn inject(&self, fault: Fault) {
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

/// A TCP proxy from 127.0.0.1 (a port of its own) to a real server, on a runtime of its
/// own, that injects [`Fault`]s. Dropped, it stops and every connection through it is
/// closed.
#[derive(Debug)]
pub struct FaultProxy {
    shared: Arc<Shared>,
    addr: SocketAddr,
    runtime: Option<tokio::runtime::Runtime>,
}

impl FaultProxy {
    /// A proxy forwarding to `target` (`127.0.0.1:5432`).
    pub fn start(target: SocketAddr) -> io::Result<FaultProxy> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("conn-fault-proxy")
            .enable_all()
            .build()?;
        let listener = runtime.block_on(bind(SocketAddr::from(([127, 0, 0, 1], 0))))?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
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
        });
        runtime.spawn(accept_loop(listener, Arc::clone(&shared)));
        Ok(FaultProxy {
            shared,
            addr,
            runtime: Some(runtime),
        })
    }

    /// A proxy forwarding to the host and port of `url` (`postgres://u@127.0.0.1:5432/db`;
    /// the port is required), and `url` with them replaced by the proxy's.
    pub fn for_url(url: &str) -> io::Result<(FaultProxy, String)> {
        let invalid = |why: &str| io::Error::new(io::ErrorKind::InvalidInput, why.to_owned());
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| invalid("the URL has no scheme"))?;
        let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(authority_end);
        let (user, host_port) = match authority.rsplit_once('@') {
            Some((user, host_port)) => (Some(user), host_port),
            None => (None, authority),
        };
        let target: SocketAddr = std::net::ToSocketAddrs::to_socket_addrs(host_port)?
            .find(SocketAddr::is_ipv4)
            .ok_or_else(|| invalid("the URL's host has no IPv4 address"))?;
        let proxy = FaultProxy::start(target)?;
        let user = user.map(|u| format!("{u}@")).unwrap_or_default();
        let proxied = format!("{scheme}://{user}{}{tail}", proxy.addr());
        Ok((proxy, proxied))
    }

    /// The proxy's address (`127.0.0.1:PORT`).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The server the proxy forwards to.
    pub fn target(&self) -> SocketAddr {
        self.shared.target
    }

    /// Injects `fault` now.
    pub fn inject(&self, fault: Fault) {
        self.shared.inject(fault);
    }

    /// Injects `fault` after `delay`, without waiting: to land it in the middle of
    /// whatever the caller does next.
    pub fn inject_in(&self, delay: Duration, fault: Fault) {
        let shared = Arc::clone(&self.shared);
        if let Some(runtime) = &self.runtime {
            runtime.spawn(async move {
                tokio::time::sleep(delay).await;
                shared.inject(fault);
            });
        }
    }

    /// Ends every fault in force: a stall, a refusal, an unspent cut budget.
    pub fn heal(&self) {
        *lock(&self.shared.controls) = Controls::default();
        self.shared.accept_wake.notify_one();
    }

    /// The counters so far.
    pub fn stats(&self) -> ProxyStats {
        let s = &self.shared;
        ProxyStats {
            connections: s.connections.load(Ordering::Relaxed),
            open: u64::try_from(lock(&s.open).len()).unwrap_or(u64::MAX),
            cut: s.cut.load(Ordering::Relaxed),
            refused: s.refused.load(Ordering::Relaxed),
            bytes_to_server: s.bytes_to_server.load(Ordering::Relaxed),
            bytes_from_server: s.bytes_from_server.load(Ordering::Relaxed),
            faults: s.faults.load(Ordering::Relaxed),
        }
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            // Drops every task, and with them every socket; never blocks, so a proxy
            // may be dropped inside another runtime.
            runtime.shutdown_background();
        }
    }
}

/// A listener on `addr` that can be bound again right after it was closed.
async fn bind(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = TcpSocket::new_v4()?;
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(1024)
}

/// Accepts connections and forwards each, honouring refusals.
async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    let Ok(addr) = listener.local_addr() else {
        return;
    };
    let mut listener = Some(listener);
    loop {
        let refusal = shared.refusal();
        if let Some((until, Refusal::Unbound)) = refusal {
            // Close the port, wait, open it again.
            listener = None;
            tokio::select! {
                () = tokio::time::sleep_until(until.into()) => {}
                () = shared.accept_wake.notified() => {}
            }
            continue;
        }
        let current = match &listener {
            Some(current) => current,
            None => match bind(addr).await {
                Ok(bound) => listener.insert(bound),
                Err(_) => {
                    // The port is briefly unavailable; try again shortly.
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            },
        };
        let accepted = tokio::select! {
            accepted = current.accept() => accepted,
            () = shared.accept_wake.notified() => continue,
        };
        let Ok((client, _)) = accepted else {
            continue;
        };
        if matches!(shared.refusal(), Some((_, Refusal::AcceptAndClose))) {
            shared.refused.fetch_add(1, Ordering::Relaxed);
            drop(client);
            continue;
        }
        shared.connections.fetch_add(1, Ordering::Relaxed);
        let id = shared.next_id.fetch_add(1, Ordering::Relaxed);
        let cut = Arc::new(Notify::new());
        lock(&shared.open).insert(id, Arc::clone(&cut));
        let shared = Arc::clone(&shared);
        tokio::spawn(async move {
            serve(client, &shared, &cut).await;
            lock(&shared.open).remove(&id);
        });
    }
}

/// Forwards one connection until both sides are done or a fault cuts it.
async fn serve(mut client: TcpStream, shared: &Shared, cut: &Notify) {
    let connected = tokio::select! {
        connected = TcpStream::connect(shared.target) => connected,
        () = cut.notified() => {
            shared.cut.fetch_add(1, Ordering::Relaxed);
            reset(&client);
            return;
        }
    };
    let Ok(mut server) = connected else {
        // The server refused: so does the proxy.
        reset(&client);
        return;
    };
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let outcome = tokio::select! {
        outcome = pipe::forward(&mut client, &mut server, shared) => outcome,
        () = cut.notified() => pipe::Outcome::Cut,
    };
    match outcome {
        pipe::Outcome::Done => {}
        pipe::Outcome::Cut => {
            shared.cut.fetch_add(1, Ordering::Relaxed);
            reset(&client);
            reset(&server);
        }
        pipe::Outcome::Failed => {
            // One side failed: the other sees the failure as a reset too.
            reset(&client);
            reset(&server);
        }
    }
}

/// Makes closing `stream` send a reset instead of an orderly end.
fn reset(stream: &TcpStream) {
    let _ = stream.set_zero_linger();
}

#[cfg(test)]
#[path = "proxy_tests.rs"]
mod tests;
