//! A small pool of DuckDB connections to one database.
//!
//! A `duckdb::Connection` may move between threads but not be shared by them, and
//! DuckDB runs queries from different connections in parallel. So each query checks a
//! connection out (reusing an idle one, or cloning a new one onto the same database),
//! and returns it afterwards: many threads query at once, none waits on a mutex
//! around a single connection.
//!
//! A connection comes back clean or not at all: one returned inside a transaction
//! (a `BEGIN` run through `with_raw` or a query, or a statement that failed and left
//! the transaction aborted) is rolled back, and discarded if that fails.

use std::ops::Deref;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use conn_core::plugin::Redactor;
use conn_core::{DriverError, Error, ErrorClass, ErrorKind, Result};
use duckdb::{Config, Connection};
use parking_lot::Mutex;

use crate::config::DuckDbConfig;
use crate::init::Scope;

/// A DuckDB error as a conn error (DuckDB is in-process: nothing is stale, nothing
/// is worth a retry).
pub(crate) fn to_conn_error(
    err: &duckdb::Error,
    name: &str,
    what: &str,
    redactor: &Redactor,
) -> Error {
    let text = err.to_string();
    let kind = if text.contains("INTERRUPT") {
        Some(ErrorKind::Cancelled)
    } else if text.starts_with("Catalog Error") && text.contains("does not exist") {
        Some(ErrorKind::NotFound)
    } else {
        None
    };
    let error = DriverError::new(
        format!("duckdb connection \"{name}\", {what}"),
        ErrorClass::Permanent,
        redactor.redact(&text),
    );
    match kind {
        Some(kind) => error.with_kind(kind).into(),
        None => error.into(),
    }
}

/// The pool of one database.
pub struct DuckPool {
    base: Mutex<Connection>,
    idle: Mutex<Vec<Connection>>,
    config: Arc<DuckDbConfig>,
    opened: AtomicUsize,
    /// Connections checked out now.
    in_use: AtomicUsize,
    name: Arc<str>,
    redactor: Redactor,
}

impl std::fmt::Debug for DuckPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DuckPool")
            .field("connection", &self.name)
            .field("opened", &self.opened.load(Ordering::Relaxed))
            .field("idle", &self.idle.lock().len())
            .field("in_use", &self.in_use.load(Ordering::Relaxed))
            .finish()
    }
}

impl DuckPool {
    /// Opens the database.
    pub(crate) fn open(
        config: Arc<DuckDbConfig>,
        name: Arc<str>,
        redactor: Redactor,
    ) -> Result<Self> {
        let err = |e: duckdb::Error| to_conn_error(&e, &name, "open", &redactor);
        let mut settings = Config::default();
        for (key, value) in &config.settings {
            settings = settings.with(key, value.expose()).map_err(err)?;
        }
        let base = match &config.database {
            Some(path) => Connection::open_with_flags(path, settings),
            None => Connection::open_in_memory_with_flags(settings),
        }
        .map_err(err)?;
        let pool = DuckPool {
            base: Mutex::new(base),
            idle: Mutex::new(Vec::new()),
            config,
            opened: AtomicUsize::new(0),
            in_use: AtomicUsize::new(0),
            name,
            redactor,
        };
        // The first connection runs every init statement, the database-wide ones
        // included (only once: later connections share the database they changed). A
        // bad extension or init statement fails the connect.
        let first = pool.new_connection(true)?;
        pool.idle.lock().push(first);
        Ok(pool)
    }

    fn error(&self, err: &duckdb::Error, what: &str) -> Error {
        to_conn_error(err, &self.name, what, &self.redactor)
    }

    fn new_connection(&self, first: bool) -> Result<Connection> {
        let conn = self
            .base
            .lock()
            .try_clone()
            .map_err(|e| self.error(&e, "connect"))?;
        for extension in &self.config.extensions {
            let statement = format!("LOAD {}", quote_identifier(extension));
            conn.execute_batch(&statement)
                .map_err(|e| self.error(&e, &format!("loading extension {extension}")))?;
        }
        for statement in &self.config.init {
            if first || statement.scope == Scope::Connection {
                conn.execute_batch(&statement.sql)
                    .map_err(|e| self.error(&e, "running an init statement"))?;
            }
        }
        self.opened.fetch_add(1, Ordering::Relaxed);
        Ok(conn)
    }

    /// A connection for one piece of work; it returns itself to the pool when dropped.
    pub(crate) fn checkout(self: &Arc<Self>) -> Result<Pooled> {
        let reused = self.idle.lock().pop();
        let conn = match reused {
            Some(conn) => conn,
            None => self.new_connection(false)?,
        };
        self.in_use.fetch_add(1, Ordering::AcqRel);
        Ok(Pooled {
            conn: Some(conn),
            pool: Arc::clone(self),
        })
    }

    /// How many connections have been opened onto the database.
    pub fn connections_opened(&self) -> usize {
        self.opened.load(Ordering::Relaxed)
    }

    /// How many connections are checked out now (running a query, or held by a session
    /// or a stream that has not ended).
    pub fn connections_in_use(&self) -> usize {
        self.in_use.load(Ordering::Acquire)
    }

    /// The connection's name, for errors.
    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// Converts a DuckDB error raised while doing `what`.
    pub(crate) fn err(&self, err: &duckdb::Error, what: &str) -> Error {
        self.error(err, what)
    }
}

fn quote_identifier(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// A checked-out connection.
pub(crate) struct Pooled {
    conn: Option<Connection>,
    pool: Arc<DuckPool>,
}

impl Deref for Pooled {
    type Target = Connection;

    fn deref(&self) -> &Connection {
        // Present from checkout until drop.
        self.conn
            .as_ref()
            .unwrap_or_else(|| unreachable_connection())
    }
}

impl Pooled {
    /// Closes the connection instead of returning it to the pool (one that may carry a
    /// pending interrupt).
    pub(crate) fn discard(mut self) {
        drop(self.conn.take());
    }
}

/// Counts a checked-out connection back in when dropped (after its rollback).
struct InUse<'a>(&'a AtomicUsize);

impl Drop for InUse<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

#[allow(clippy::panic)]
fn unreachable_connection() -> ! {
    panic!("a pooled DuckDB connection was used after it was returned")
}

/// Ends any transaction left open on `conn`; `false` if the connection cannot be
/// made clean and must be discarded.
///
/// duckdb-rs's `is_autocommit` always answers `true` and DuckDB's C API has no
/// such check, so this asks DuckDB to roll back: "no transaction is active" means
/// the connection was clean already.
fn settle(conn: &Connection, pool: &DuckPool) -> bool {
    match conn.execute_batch("ROLLBACK") {
        Ok(()) => {
            tracing::warn!(
                connection = %pool.name,
                "conn.duckdb: a connection came back to the pool inside a transaction; rolled back"
            );
            true
        }
        Err(err) if err.to_string().contains("no transaction is active") => true,
        Err(err) => {
            tracing::warn!(
                connection = %pool.name,
                error = %pool.redactor.redact(&err.to_string()),
                "conn.duckdb: a connection could not be rolled back; discarded"
            );
            false
        }
    }
}

impl Drop for Pooled {
    fn drop(&mut self) {
        let conn = self.conn.take();
        // Counted back in when this drop ends, after the rollback.
        let _returned = InUse(&self.pool.in_use);
        if let Some(conn) = conn {
            if !settle(&conn, &self.pool) {
                return;
            }
            let mut idle = self.pool.idle.lock();
            if idle.len() < self.pool.config.max_idle {
                idle.push(conn);
            }
        }
    }
}
