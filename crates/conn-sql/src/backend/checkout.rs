//! Taking a connection out of a sqlx pool: failing fast with the real cause when the
//! server is down, and closing (not returning) a connection whose work was dropped
//! half-way.
//!
//! sqlx's `acquire` retries a refused connect until `pool_timeout` (30 s by default) and
//! then says only "pool timed out". When the pool has no idle connection and room for a
//! new one, conn first opens one itself within `connect_timeout`: a refused port, a DNS
//! or TLS failure or a bad password is then reported at once, with its cause, marked as
//! raised before anything was sent (so even a write may be retried after it). Only when
//! the pool is full does `acquire` wait, for `pool_timeout`: the wait for a busy pool.

use std::ops::{Deref, DerefMut};

use conn_core::{Error, Limit, Result, TimeoutError, plugin::runtime};
use sqlx::pool::PoolConnection;
use sqlx::{ConnectOptions, Connection, Database, Pool};

use super::Ctx;

/// A pooled connection for one piece of work. [`finish`](Self::finish) returns it to
/// the pool; dropped unfinished (the work was cancelled, or failed in a way that may
/// leave the connection mid-statement), it is closed instead, so that no later caller
/// inherits a half-read result or a cancel meant for the work that was dropped.
pub(crate) struct Checkout<DB: Database> {
    conn: Option<PoolConnection<DB>>,
    /// Whether an unfinished connection is closed. Not for SQLite: its in-memory
    /// database lives in its one connection, and a statement there is interrupted
    /// rather than left running.
    closes: bool,
}

impl<DB: Database> Checkout<DB> {
    /// Returns the connection to the pool.
    pub(crate) fn finish(mut self) {
        drop(self.conn.take());
    }

    /// Returns the connection to the pool after an outcome: a success or an error the
    /// server reported for the statement (a SQLSTATE) leaves it in step; anything else
    /// (I/O, protocol, a value that would not decode mid-result) closes it.
    pub(crate) fn settle<T>(self, outcome: &Result<T>) {
        match outcome {
            Ok(_) => self.finish(),
            Err(err) if err.code().is_some() => self.finish(),
            Err(_) => drop(self),
        }
    }
}

impl<DB: Database> Drop for Checkout<DB> {
    fn drop(&mut self) {
        if let Some(mut conn) = self.conn.take() {
            if self.closes {
                conn.close_on_drop();
            }
            runtime::drop_in_runtime(conn);
        }
    }
}

impl<DB: Database> Deref for Checkout<DB> {
    type Target = DB::Connection;

    fn deref(&self) -> &DB::Connection {
        match &self.conn {
            Some(conn) => conn,
            None => unreachable_checkout(),
        }
    }
}

impl<DB: Database> DerefMut for Checkout<DB> {
    fn deref_mut(&mut self) -> &mut DB::Connection {
        match &mut self.conn {
            Some(conn) => conn,
            None => unreachable_checkout(),
        }
    }
}

#[allow(clippy::panic)]
fn unreachable_checkout() -> ! {
    panic!("a checked-out connection was used after it was returned")
}

/// A connection of `pool`, failing fast with the cause when a new one cannot be opened
/// (see the module docs).
///
/// Only a pool whose every connection is busy makes the caller wait up to
/// `pool_timeout`. Otherwise `acquire` may be opening a connection (no idle one, or an
/// idle one that failed the pool's ping because the server went away): it gets
/// `connect_timeout`, after which the server is checked to report why.
pub(crate) async fn acquire<DB: Database>(pool: &Pool<DB>, ctx: &Ctx) -> Result<Checkout<DB>> {
    let closes = DB::NAME != "SQLite";
    // (Not `try_acquire`: it would skip the pool's ping of an idle connection.)
    reachable(pool, ctx).await?;
    let busy = pool.num_idle() == 0 && pool.size() >= pool.options().get_max_connections();
    let acquired = if busy || !closes {
        pool.acquire().await
    } else {
        match tokio::time::timeout(ctx.connect_timeout, pool.acquire()).await {
            Ok(acquired) => acquired,
            Err(_) => {
                // Why could no connection be had? A probe says (a refused port, DNS, ...).
                probe(pool, ctx).await?;
                pool.acquire().await
            }
        }
    };
    match acquired {
        Ok(conn) => Ok(Checkout {
            conn: Some(conn),
            closes,
        }),
        Err(sqlx::Error::PoolTimedOut) => Err(Error::driver(
            format!("sql connection \"{}\", connect", ctx.name),
            conn_core::ErrorClass::Transient,
            "no pooled connection became free within `pool_timeout` (every connection of \
             the pool is busy; raise create_engine_kwargs.pool_size or pool_timeout)",
        )
        .before_send()),
        Err(err) => Err(ctx.err(err, "connect")),
    }
}

/// When `pool` would open a new connection for the next `acquire` (no idle one, room
/// for more), checks that one can be opened, failing fast with the cause if not. A
/// SQLite database is a local file and is not checked.
pub(crate) async fn reachable<DB: Database>(pool: &Pool<DB>, ctx: &Ctx) -> Result<()> {
    if DB::NAME != "SQLite"
        && pool.num_idle() == 0
        && pool.size() < pool.options().get_max_connections()
    {
        probe(pool, ctx).await?;
    }
    Ok(())
}

/// Opens (and closes) one connection with the pool's options within `connect_timeout`,
/// to learn whether the server can be reached and, if not, why.
pub(crate) async fn probe<DB: Database>(pool: &Pool<DB>, ctx: &Ctx) -> Result<()> {
    let options = pool.connect_options();
    match tokio::time::timeout(ctx.connect_timeout, options.connect()).await {
        Ok(Ok(conn)) => {
            // The probe did its job; closing it gracefully may wait, so don't.
            runtime::spawn_detached(async move {
                let _ = conn.close().await;
            });
            Ok(())
        }
        Ok(Err(err)) => Err(ctx.err(err, "connect")),
        Err(_) => Err(TimeoutError {
            connection: ctx.name.to_string(),
            operation: "connect".into(),
            after: ctx.connect_timeout,
            limit: Limit::Setting {
                key: "connect_timeout",
                at: ctx.connect_timeout_at.clone(),
            },
        }
        .into()),
    }
}
