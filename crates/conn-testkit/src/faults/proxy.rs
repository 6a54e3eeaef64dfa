//! [`FaultProxy`]: a TCP proxy on 127.0.0.1 in front of a real server, whose faults a
//! test injects: cut every open connection, cut after N more bytes from the server
//! (mid-result), stall every byte for a while, refuse new connections for a while.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::Notify;

use super::pipe;
use super::state::{Fault, ProxyStats, Refusal, Shared};

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
        // Bound here, handed to the runtime: no `block_on`, so a proxy may be started
        // inside another runtime too.
        let listener = std::net::TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, 0))?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared::new(target));
        let accepting = Arc::clone(&shared);
        runtime.spawn(async move {
            if let Ok(listener) = TcpListener::from_std(listener) {
                accept_loop(listener, accepting).await;
            }
        });
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
        self.shared.target()
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
        self.shared.heal();
    }

    /// The counters so far.
    pub fn stats(&self) -> ProxyStats {
        self.shared.stats()
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
        let (id, cut) = shared.opened();
        let shared = Arc::clone(&shared);
        tokio::spawn(async move {
            serve(client, &shared, &cut).await;
            shared.closed(id);
        });
    }
}

/// Forwards one connection until both sides are done or a fault cuts it.
async fn serve(mut client: TcpStream, shared: &Shared, cut: &Notify) {
    let connected = tokio::select! {
        connected = TcpStream::connect(shared.target()) => connected,
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
