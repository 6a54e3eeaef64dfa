//! Forwarding the bytes of one proxied connection both ways, through the faults in
//! force: a stall holds them, a byte budget from the server cuts the connection.

use std::sync::atomic::Ordering;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::{ReadHalf, WriteHalf};

use super::state::Shared;

/// How forwarding a connection ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Outcome {
    /// Both sides ended in order.
    Done,
    /// A fault cut it: both sides get a reset.
    Cut,
    /// One side failed (a reset, an error): the other gets a reset too.
    Failed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Direction {
    ToServer,
    FromServer,
}

/// Forwards between `client` and `server` until both directions end, or one fails or
/// is cut.
pub(super) async fn forward(
    client: &mut TcpStream,
    server: &mut TcpStream,
    shared: &Shared,
) -> Outcome {
    let (mut client_read, mut client_write) = client.split();
    let (mut server_read, mut server_write) = server.split();
    let up = pump(
        &mut client_read,
        &mut server_write,
        shared,
        Direction::ToServer,
    );
    let down = pump(
        &mut server_read,
        &mut client_write,
        shared,
        Direction::FromServer,
    );
    match tokio::try_join!(up, down) {
        Ok(_) => Outcome::Done,
        Err(outcome) => outcome,
    }
}

/// One direction: read, wait out any stall, forward what the cut budget allows.
/// An end of stream is passed on as an orderly half-close.
async fn pump(
    from: &mut ReadHalf<'_>,
    to: &mut WriteHalf<'_>,
    shared: &Shared,
    direction: Direction,
) -> Result<(), Outcome> {
    let mut buffer = vec![0_u8; 16 * 1024];
    loop {
        let n = from.read(&mut buffer).await.map_err(|_| Outcome::Failed)?;
        if n == 0 {
            let _ = to.shutdown().await;
            return Ok(());
        }
        while let Some(until) = shared.stalled_until() {
            tokio::time::sleep_until(until.into()).await;
        }
        let (allowed, cut) = match direction {
            Direction::FromServer => shared.take_from_server(n),
            Direction::ToServer => (n, false),
        };
        let chunk = buffer.get(..allowed).unwrap_or(&buffer[..]);
        to.write_all(chunk).await.map_err(|_| Outcome::Failed)?;
        let counter = match direction {
            Direction::FromServer => &shared.bytes_from_server,
            Direction::ToServer => &shared.bytes_to_server,
        };
        counter.fetch_add(u64::try_from(chunk.len()).unwrap_or(0), Ordering::Relaxed);
        if cut {
            let _ = to.flush().await;
            return Err(Outcome::Cut);
        }
    }
}
