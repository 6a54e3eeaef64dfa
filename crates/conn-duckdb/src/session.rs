//! Transactions on a connection of their own.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use conn_core::plugin::{CancelGuard, ResultCache, Settle, runtime};
use conn_core::{Call, Error, Params, Result, Table, WriteMode};
use parking_lot::Mutex;

use crate::pool::{DuckPool, Pooled};
use crate::{run, write};

/// An open DuckDB transaction on a connection of its own.
///
/// Statements run in it with [`execute_batch`](Self::execute_batch),
/// [`query`](Self::query) (never cached) and [`write_table`](Self::write_table);
/// [`commit`](Self::commit) makes them permanent and drops the connection's cached
/// results. Dropping the session without committing rolls it back. Once a statement
/// failed, the transaction is aborted: committing it is an error (DuckDB itself would
/// answer a `COMMIT` of an aborted transaction with a silent rollback).
pub struct Session {
    state: Arc<State>,
}

struct State {
    conn: Mutex<Option<Pooled>>,
    pool: Arc<DuckPool>,
    /// A statement failed: the transaction can only roll back.
    failed: AtomicBool,
    /// The cached results of the connection, dropped by a commit.
    results: ResultCache,
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("connection", &self.state.pool.name())
            .field("open", &self.state.conn.lock().is_some())
            .finish()
    }
}

impl Session {
    /// Checks a connection out and begins a transaction on it (blocking).
    pub(crate) fn begin(pool: &Arc<DuckPool>, results: ResultCache) -> Result<Session> {
        let conn = pool.checkout()?;
        conn.execute_batch("BEGIN TRANSACTION")
            .map_err(|e| pool.err(&e, "begin transaction"))?;
        Ok(Session {
            state: Arc::new(State {
                conn: Mutex::new(Some(conn)),
                pool: Arc::clone(pool),
                failed: AtomicBool::new(false),
                results,
            }),
        })
    }

    fn call<T, F>(&self, what: &'static str, work: F) -> Call<T>
    where
        F: FnOnce(&duckdb::Connection, &DuckPool) -> Result<T> + Send + 'static,
        T: Send + 'static,
    {
        let state = Arc::clone(&self.state);
        Call::new(self.state.pool.name(), what, async move {
            state.run(what, work).await
        })
    }

    /// Runs statements for their effect inside the transaction.
    pub fn execute_batch(&self, sql: impl Into<String>) -> Call<()> {
        let sql = sql.into();
        self.call("execute", move |conn, pool| {
            conn.execute_batch(&sql)
                .map_err(|e| pool.err(&e, "execute"))
        })
    }

    /// A query inside the transaction (sees its uncommitted changes), never cached.
    pub fn query(&self, sql: impl Into<String>, params: Params) -> Call<Table> {
        let sql = sql.into();
        self.call("query", move |conn, pool| {
            run::query_on(conn, pool, &sql, &params)
        })
    }

    /// Writes a table inside the transaction.
    pub fn write_table(&self, name: &str, table: &Table, mode: WriteMode) -> Call<u64> {
        let (name, table) = (name.to_owned(), table.clone());
        self.call("write", move |conn, pool| {
            write::write_table(conn, pool, &name, &table, mode)
        })
    }

    /// Commits the transaction; the connection's cached results are dropped, since
    /// they may predate the committed changes. A transaction in which a statement
    /// failed is rolled back instead, and the commit is an error.
    pub fn commit(self) -> Call<()> {
        let name = self.state.pool.name().to_owned();
        Call::new(&name, "commit", async move {
            // The session moves in here, so that dropping it cannot roll back first.
            let state = Arc::clone(&self.state);
            if state.failed.load(Ordering::SeqCst) {
                state
                    .run("rollback", |conn, pool| {
                        conn.execute_batch("ROLLBACK")
                            .map_err(|e| pool.err(&e, "rollback"))
                    })
                    .await?;
                state.release();
                return Err(Error::InvalidArgument(format!(
                    "duckdb connection \"{}\": the transaction was rolled back, not committed: \
                     a statement in it failed",
                    state.pool.name()
                )));
            }
            // Cleared however the commit ends (DuckDB's COMMIT is in-process: it
            // may have applied even if this call is dropped half-way).
            // Dropped half-way, the results are cleared once the COMMIT has ended.
            let (outcome, _stale_results) = Settle::new(
                state.results.clear_on_drop(),
                state.run("commit", |conn, pool| {
                    conn.execute_batch("COMMIT")
                        .map_err(|e| pool.err(&e, "commit"))
                }),
            )
            .await;
            // A failed COMMIT leaves the transaction aborted: the pool rolls the
            // connection back (or discards it) when it returns.
            state.release();
            drop(self);
            outcome
        })
    }

    /// Rolls the transaction back now (dropping the session does too).
    pub fn rollback(self) -> Call<()> {
        let name = self.state.pool.name().to_owned();
        Call::new(&name, "rollback", async move {
            let state = Arc::clone(&self.state);
            let outcome = state
                .run("rollback", |conn, pool| {
                    conn.execute_batch("ROLLBACK")
                        .map_err(|e| pool.err(&e, "rollback"))
                })
                .await;
            state.release();
            drop(self);
            outcome
        })
    }
}

impl State {
    /// Runs `work` on the session's connection on conn's blocking threads; DuckDB is
    /// interrupted if the caller gives up. A failure marks the transaction aborted.
    async fn run<T, F>(self: &Arc<Self>, what: &'static str, work: F) -> Result<T>
    where
        F: FnOnce(&duckdb::Connection, &DuckPool) -> Result<T> + Send + 'static,
        T: Send + 'static,
    {
        let interrupt = {
            let conn = self.conn.lock();
            let conn = conn.as_ref().ok_or_else(|| Error::Closed {
                name: self.pool.name().to_owned(),
            })?;
            conn.interrupt_handle()
        };
        let guard = {
            let state = Arc::clone(self);
            CancelGuard::new(move || async move {
                state.failed.store(true, Ordering::SeqCst);
                interrupt.interrupt();
            })
        };
        let state = Arc::clone(self);
        let outcome = runtime::run_blocking(move || {
            let conn = state.conn.lock();
            let conn = conn.as_ref().ok_or_else(|| Error::Closed {
                name: state.pool.name().to_owned(),
            })?;
            let outcome = work(conn, &state.pool);
            if outcome.is_err() {
                tracing::debug!(
                    what,
                    "conn.duckdb: a statement failed; the session can only roll back"
                );
                state.failed.store(true, Ordering::SeqCst);
            }
            outcome
        })
        .await;
        guard.disarm();
        outcome
    }

    /// Returns the connection to the pool (which rolls back anything left open).
    fn release(&self) {
        drop(self.conn.lock().take());
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        // The last owner rolls back; DuckDB is in-process, so this is quick.
        if let Some(conn) = self.state.conn.lock().take() {
            let _ = conn.execute_batch("ROLLBACK");
        }
    }
}
