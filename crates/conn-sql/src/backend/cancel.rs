//! Stopping a statement on the server when the call running it is dropped (its caller
//! gave up, or a time limit fired).
//!
//! Before a statement runs, conn asks the server for the connection's id (PostgreSQL's
//! `pg_backend_pid()`, MySQL's `CONNECTION_ID()`); a dropped call then sends the
//! server's cancel (`pg_cancel_backend`, `KILL QUERY`) from a connection of its own,
//! while the connection that ran the statement is closed rather than returned to the
//! pool, so a cancel can never reach a later statement. The id query also proves the
//! pooled connection alive: if it fails, nothing was sent, and even a write may be
//! retried. SQLite is interrupted in-process through a progress handler. A session
//! asks for the id once, when it begins, and guards each of its statements.

use std::sync::Arc;
#[cfg(feature = "sqlite")]
use std::sync::atomic::{AtomicBool, Ordering};
#[cfg(any(feature = "postgres", feature = "mysql"))]
use std::time::Duration;

use conn_core::Result;
use conn_core::plugin::CancelGuard;
#[cfg(any(feature = "postgres", feature = "mysql"))]
use sqlx::ConnectOptions;

use super::Ctx;

/// How to stop what one connection runs.
#[derive(Clone)]
pub(crate) enum Canceller {
    /// `pg_cancel_backend(pid)` from a connection of its own.
    #[cfg(feature = "postgres")]
    Postgres {
        options: Arc<sqlx::postgres::PgConnectOptions>,
        pid: i32,
    },
    /// `KILL QUERY id` from a connection of its own.
    #[cfg(feature = "mysql")]
    MySql {
        options: Arc<sqlx::mysql::MySqlConnectOptions>,
        id: u64,
    },
    /// The flag the connection's progress handler reads.
    #[cfg(feature = "sqlite")]
    Sqlite(Arc<AtomicBool>),
}

impl Canceller {
    /// A guard that stops the connection's statement if dropped before disarmed.
    /// `ctx` gives the server cancels their connect timeout; SQLite's needs none.
    #[cfg_attr(
        not(any(feature = "postgres", feature = "mysql")),
        allow(unused_variables)
    )]
    pub(crate) fn guard(&self, ctx: &Ctx) -> CancelGuard {
        match self.clone() {
            #[cfg(feature = "postgres")]
            Canceller::Postgres { options, pid } => {
                send_from_another(options, ctx, move |mut conn| async move {
                    sqlx::query("SELECT pg_cancel_backend($1)")
                        .bind(pid)
                        .execute(&mut conn)
                        .await?;
                    sqlx::Connection::close(conn).await
                })
            }
            #[cfg(feature = "mysql")]
            Canceller::MySql { options, id } => {
                send_from_another(options, ctx, move |mut conn| async move {
                    sqlx::Executor::execute(
                        &mut conn,
                        sqlx::AssertSqlSafe(format!("KILL QUERY {id}")),
                    )
                    .await?;
                    sqlx::Connection::close(conn).await
                })
            }
            #[cfg(feature = "sqlite")]
            Canceller::Sqlite(stop) => {
                // A statement of its own: the flag starts lowered.
                stop.store(false, Ordering::Relaxed);
                CancelGuard::new(move || async move {
                    stop.store(true, Ordering::Relaxed);
                })
            }
        }
    }
}

/// A guard that connects with `options` within the connect timeout and runs `send`
/// there.
#[cfg(any(feature = "postgres", feature = "mysql"))]
fn send_from_another<O, F, Fut>(options: Arc<O>, ctx: &Ctx, send: F) -> CancelGuard
where
    O: ConnectOptions,
    O::Connection: Sized,
    F: FnOnce(O::Connection) -> Fut + Send + 'static,
    Fut: Future<Output = std::result::Result<(), sqlx::Error>> + Send + 'static,
{
    let (timeout, name): (Duration, Arc<str>) = (ctx.connect_timeout, Arc::clone(&ctx.name));
    CancelGuard::new(move || async move {
        match tokio::time::timeout(timeout, options.connect()).await {
            Ok(Ok(conn)) => {
                if let Err(err) = send(conn).await {
                    tracing::warn!(connection = %name, error = %err, "conn.cancel failed");
                }
            }
            _ => tracing::warn!(connection = %name, "conn.cancel: could not connect to send it"),
        }
    })
}

/// How to cancel what `conn` (a PostgreSQL connection) runs.
#[cfg(feature = "postgres")]
pub(crate) async fn postgres(
    conn: &mut sqlx::PgConnection,
    options: Arc<sqlx::postgres::PgConnectOptions>,
    ctx: &Ctx,
) -> Result<Canceller> {
    let pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
        .persistent(false)
        .fetch_one(&mut *conn)
        .await
        .map_err(|e| ctx.err(e, "query").before_send())?;
    Ok(Canceller::Postgres { options, pid })
}

/// How to cancel what `conn` (a MySQL or MariaDB connection) runs.
#[cfg(feature = "mysql")]
pub(crate) async fn mysql(
    conn: &mut sqlx::MySqlConnection,
    options: Arc<sqlx::mysql::MySqlConnectOptions>,
    ctx: &Ctx,
) -> Result<Canceller> {
    let id: u64 = sqlx::query_scalar("SELECT CONNECTION_ID()")
        .persistent(false)
        .fetch_one(&mut *conn)
        .await
        .map_err(|e| ctx.err(e, "query").before_send())?;
    Ok(Canceller::MySql { options, id })
}

/// How to interrupt what `conn` (a SQLite connection) runs: a progress handler that
/// stops the statement once the guard fires, replacing any handler left from before
/// (one a dropped call tripped).
#[cfg(feature = "sqlite")]
pub(crate) async fn sqlite(conn: &mut sqlx::SqliteConnection, ctx: &Ctx) -> Result<Canceller> {
    let stop = Arc::new(AtomicBool::new(false));
    let watched = Arc::clone(&stop);
    conn.lock_handle()
        .await
        .map_err(|e| ctx.err(e, "query").before_send())?
        .set_progress_handler(1_000, move || !watched.load(Ordering::Relaxed));
    Ok(Canceller::Sqlite(stop))
}
