//! The `duckdb` connection type of conn: a DuckDB file or in-memory database, queried
//! straight into Arrow.
//!
//! ```toml
//! [connections.analytics]
//! type = "duckdb"
//! database = "analytics.duckdb"     # or ":memory:" (the default)
//! read_only = false
//! config = { threads = 4, memory_limit = "2GB" }
//! extensions = ["json"]             # LOADed on every connection
//! init = ["ATTACH 'other.duckdb' AS other"]
//! ```
//!
//! ```no_run
//! use conn_duckdb::DuckDbConnection;
//! # fn main() -> conn_core::Result<()> {
//! let db = conn_core::connection::<DuckDbConnection>("analytics")?;
//! let top = db.query("SELECT * FROM sales WHERE region = $region").param("region", "EU").blocking()?;
//! # Ok(()) }
//! ```
//!
//! Results come from DuckDB's own Arrow export (no row-by-row copy). Queries from many
//! threads run in parallel on a small pool of connections to the same database.
//! Building: the `bundled` feature (default) compiles DuckDB from source; without it
//! the crate links a prebuilt libduckdb found through `DUCKDB_LIB_DIR` (see
//! `docs/duckdb.md`).
#![deny(missing_docs)]

mod config;
mod init;
mod pool;
mod write;

use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use conn_core::arrow::array::RecordBatch;
use conn_core::{
    ConnectionConfig, ConnectionType, Connector, Error, Execute, Handle, Param, Params, Query,
    Result, ResultCache, StatsSnapshot, Table, runtime,
};
use duckdb::types::Value;

pub use conn_core::WriteMode;
pub use pool::DuckPool;

use config::DuckDbConfig;

conn_core::register_connection_type!(DuckDbConnection);

/// A connection to a DuckDB database.
///
/// Cheap to clone (shared). Opens the database on first use; reads are cached per
/// connection by statement and parameters.
#[derive(Clone)]
pub struct DuckDbConnection {
    inner: Arc<Inner>,
}

struct Inner {
    name: Arc<str>,
    handle: Handle<DuckConnector>,
    results: ResultCache,
}

struct DuckConnector {
    config: Arc<DuckDbConfig>,
    name: Arc<str>,
    redactor: conn_core::Redactor,
}

impl Connector for DuckConnector {
    type Raw = Arc<DuckPool>;

    async fn connect(&self) -> Result<Arc<DuckPool>> {
        let (config, name, redactor) = (
            Arc::clone(&self.config),
            Arc::clone(&self.name),
            self.redactor.clone(),
        );
        runtime::run_blocking(move || DuckPool::open(config, name, redactor).map(Arc::new)).await
    }

    async fn health_check(&self, pool: &Arc<DuckPool>) -> Result<()> {
        let pool = Arc::clone(pool);
        runtime::run_blocking(move || {
            let conn = pool.checkout()?;
            conn.execute_batch("SELECT 1")
                .map_err(|e| pool.err(&e, "health check"))
        })
        .await
    }
}

impl ConnectionType for DuckDbConnection {
    const NAME: &'static str = "duckdb";
    const DESCRIPTION: &'static str = "DuckDB files and in-memory databases";
    const EXAMPLE_TOML: &'static str =
        "[connections.analytics]\ntype = \"duckdb\"\ndatabase = \"analytics.duckdb\"\n";

    fn from_config(config: ConnectionConfig) -> Result<Self> {
        let duck = Arc::new(DuckDbConfig::from_config(&config)?);
        let name: Arc<str> = Arc::from(config.name());
        let handle = Handle::new(
            config.name(),
            Self::NAME,
            DuckConnector {
                config: Arc::clone(&duck),
                name: Arc::clone(&name),
                redactor: config.redactor(),
            },
        );
        handle.set_retry_policy(duck.retry);
        let results = ResultCache::new(Arc::clone(handle.stats()));
        Ok(DuckDbConnection {
            inner: Arc::new(Inner {
                name,
                handle,
                results,
            }),
        })
    }

    fn reset(&self) {
        self.inner.handle.reset();
        self.inner.results.clear();
    }

    fn close(&self) {
        self.inner.handle.close();
        self.inner.results.clear();
    }
}

/// A conn parameter as a DuckDB value.
fn to_value(param: &Param) -> Value {
    match param {
        Param::Bool(b) => Value::Boolean(*b),
        Param::Int(i) => Value::BigInt(*i),
        Param::Float(f) => Value::Double(*f),
        Param::Text(s) => Value::Text(s.clone()),
        Param::Bytes(b) => Value::Blob(b.clone()),
        _ => Value::Null,
    }
}

/// Runs `sql` on a pooled connection.
fn run_query(pool: &Arc<DuckPool>, sql: &str, params: &Params) -> Result<Table> {
    let conn = pool.checkout()?;
    query_on(&conn, pool, sql, params)
}

impl Execute for DuckDbConnection {
    fn results(&self) -> &ResultCache {
        &self.inner.results
    }

    async fn execute(&self, sql: String, params: Params) -> Result<Table> {
        let handle = &self.inner.handle;
        let pool = handle.get().await?;
        handle.stats().record_query();
        runtime::run_blocking(move || run_query(&pool, &sql, &params)).await
    }
}

impl DuckDbConnection {
    /// A query returning a [`Table`]: await it, or call `.blocking()`. Parameters are
    /// positional (`?`, `$1`, set with `.bind(...)`) or named (`$name`, set with
    /// `.param("name", ...)`). Results are cached by statement and parameters.
    pub fn query(&self, sql: impl Into<String>) -> Query<DuckDbConnection> {
        Query::new(self.clone(), sql)
    }

    /// Runs statements for their effect (several, separated by `;`), not cached.
    pub async fn execute_batch(&self, sql: impl Into<String>) -> Result<()> {
        let sql = sql.into();
        self.with_connection(move |conn| conn.execute_batch(&sql).map_err(|e| ("execute", e)))
            .await?;
        self.inner.results.clear();
        Ok(())
    }

    /// [`execute_batch`](Self::execute_batch) from synchronous code.
    pub fn execute_batch_blocking(&self, sql: impl Into<String>) -> Result<()> {
        runtime::block_on_borrowed(self.execute_batch(sql))
    }

    /// Runs `work` with a raw `duckdb::Connection` of the pool, on conn's blocking
    /// threads: for anything conn does not wrap (UDFs, `COPY`, appenders, ...).
    /// It may write, so cached results are dropped afterwards; a transaction it
    /// leaves open is rolled back when the connection returns to the pool.
    pub async fn with_raw<T, F>(&self, work: F) -> Result<T>
    where
        F: FnOnce(&duckdb::Connection) -> duckdb::Result<T> + Send + 'static,
        T: Send + 'static,
    {
        let outcome = self
            .with_connection(move |conn| work(conn).map_err(|e| ("raw", e)))
            .await;
        self.inner.results.clear();
        outcome
    }

    /// [`with_raw`](Self::with_raw) from synchronous code.
    pub fn with_raw_blocking<T, F>(&self, work: F) -> Result<T>
    where
        F: FnOnce(&duckdb::Connection) -> duckdb::Result<T> + Send + 'static,
        T: Send + 'static,
    {
        runtime::block_on_borrowed(self.with_raw(work))
    }

    async fn with_connection<T, F>(&self, work: F) -> Result<T>
    where
        F: FnOnce(&duckdb::Connection) -> std::result::Result<T, (&'static str, duckdb::Error)>
            + Send
            + 'static,
        T: Send + 'static,
    {
        let pool = self.inner.handle.connect().await?;
        runtime::run_blocking(move || {
            let conn = pool.checkout()?;
            work(&conn).map_err(|(what, e)| pool.err(&e, what))
        })
        .await
    }

    /// Starts a transaction on a connection of its own. Dropping the [`Session`]
    /// without [`commit`](Session::commit) rolls it back.
    pub async fn session(&self) -> Result<Session> {
        let pool = self.inner.handle.connect().await?;
        let owner = self.clone();
        runtime::run_blocking(move || Session::begin(&pool, owner)).await
    }

    /// [`session`](Self::session) from synchronous code.
    pub fn session_blocking(&self) -> Result<Session> {
        runtime::block_on_borrowed(self.session())
    }

    /// Writes a table through DuckDB's Arrow appender, in one transaction: create it,
    /// append to it, or replace it. A failure leaves the database as it was. Returns
    /// the rows written.
    pub async fn write_table(&self, name: &str, table: &Table, mode: WriteMode) -> Result<u64> {
        let mut session = self.session().await?;
        let written = session.write_table(name, table, mode).await?;
        session.commit().await?;
        self.inner.results.clear();
        Ok(written)
    }

    /// [`write_table`](Self::write_table) from synchronous code.
    pub fn write_table_blocking(&self, name: &str, table: &Table, mode: WriteMode) -> Result<u64> {
        runtime::block_on_borrowed(self.write_table(name, table, mode))
    }

    /// The pool, opening the database first if needed.
    pub async fn pool(&self) -> Result<Arc<DuckPool>> {
        self.inner.handle.connect().await
    }

    /// Runs `SELECT 1`; a failure resets the connection.
    pub async fn health_check(&self) -> Result<()> {
        self.inner.handle.check().await
    }

    /// Closes the database and drops cached results; the next use reopens it.
    pub fn reset(&self) {
        ConnectionType::reset(self);
    }

    /// Counters: connects, queries, cache hits and misses, retries, resets.
    pub fn stats(&self) -> StatsSnapshot {
        self.inner.handle.stats_snapshot()
    }

    /// The result cache, to invalidate entries or bound its memory.
    pub fn results(&self) -> &ResultCache {
        &self.inner.results
    }
}

impl fmt::Debug for DuckDbConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DuckDbConnection")
            .field("name", &self.inner.name)
            .field("connected", &self.inner.handle.is_connected())
            .finish_non_exhaustive()
    }
}

/// An open DuckDB transaction on a connection of its own.
pub struct Session {
    conn: Option<Arc<parking_lot::Mutex<SessionConn>>>,
    pool: Arc<DuckPool>,
    /// The connection whose cached results a commit invalidates.
    owner: DuckDbConnection,
}

struct SessionConn {
    conn: pool::Pooled,
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("connection", &self.pool.name())
            .field("open", &self.conn.is_some())
            .finish()
    }
}

impl Session {
    fn begin(pool: &Arc<DuckPool>, owner: DuckDbConnection) -> Result<Session> {
        let conn = pool.checkout()?;
        conn.execute_batch("BEGIN TRANSACTION")
            .map_err(|e| pool.err(&e, "begin transaction"))?;
        Ok(Session {
            conn: Some(Arc::new(parking_lot::Mutex::new(SessionConn { conn }))),
            pool: Arc::clone(pool),
            owner,
        })
    }

    fn shared(&self) -> Result<Arc<parking_lot::Mutex<SessionConn>>> {
        self.conn.clone().ok_or_else(|| Error::Closed {
            name: self.pool.name().to_owned(),
        })
    }

    async fn on_connection<T, F>(&self, work: F) -> Result<T>
    where
        F: FnOnce(&duckdb::Connection, &DuckPool) -> Result<T> + Send + 'static,
        T: Send + 'static,
    {
        let shared = self.shared()?;
        let pool = Arc::clone(&self.pool);
        runtime::run_blocking(move || work(&shared.lock().conn, &pool)).await
    }

    /// Runs statements for their effect inside the transaction.
    pub async fn execute_batch(&mut self, sql: impl Into<String>) -> Result<()> {
        let sql = sql.into();
        self.on_connection(move |conn, pool| {
            conn.execute_batch(&sql)
                .map_err(|e| pool.err(&e, "execute"))
        })
        .await
    }

    /// [`execute_batch`](Self::execute_batch) from synchronous code.
    pub fn execute_batch_blocking(&mut self, sql: impl Into<String>) -> Result<()> {
        runtime::block_on_borrowed(self.execute_batch(sql))
    }

    /// A query inside the transaction (sees its uncommitted changes), never cached.
    pub async fn query(&mut self, sql: impl Into<String>, params: Params) -> Result<Table> {
        let sql = sql.into();
        let shared = self.shared()?;
        let pool = Arc::clone(&self.pool);
        runtime::run_blocking(move || {
            let guard = shared.lock();
            query_on(&guard.conn, &pool, &sql, &params)
        })
        .await
    }

    /// [`query`](Self::query) from synchronous code.
    pub fn query_blocking(&mut self, sql: impl Into<String>, params: Params) -> Result<Table> {
        runtime::block_on_borrowed(self.query(sql, params))
    }

    /// Writes a table inside the transaction.
    pub async fn write_table(&mut self, name: &str, table: &Table, mode: WriteMode) -> Result<u64> {
        let (name, table) = (name.to_owned(), table.clone());
        self.on_connection(move |conn, pool| write::write_table(conn, pool, &name, &table, mode))
            .await
    }

    /// Commits the transaction; the connection's cached results are dropped, since
    /// they may predate the committed changes.
    pub async fn commit(mut self) -> Result<()> {
        let result = self
            .on_connection(|conn, pool| {
                conn.execute_batch("COMMIT")
                    .map_err(|e| pool.err(&e, "commit"))
            })
            .await;
        // A failed COMMIT leaves the transaction aborted: the pool rolls the
        // connection back (or discards it) when it returns.
        self.conn = None;
        self.owner.inner.results.clear();
        result
    }

    /// [`commit`](Self::commit) from synchronous code.
    pub fn commit_blocking(self) -> Result<()> {
        runtime::block_on_borrowed(self.commit())
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        if let Some(shared) = self.conn.take() {
            // DuckDB is in-process: rolling back here is quick and needs no runtime.
            let _ = shared.lock().conn.execute_batch("ROLLBACK");
        }
    }
}

/// Runs `sql` on `conn` with positional or named parameters and collects DuckDB's
/// own Arrow batches.
fn query_on(
    conn: &duckdb::Connection,
    pool: &DuckPool,
    sql: &str,
    params: &Params,
) -> Result<Table> {
    let mut statement = conn.prepare(sql).map_err(|e| pool.err(&e, "query"))?;
    let positional: Vec<Value> = params.positional().iter().map(to_value).collect();
    let named: Vec<(String, Value)> = params
        .named()
        .iter()
        .map(|(n, v)| (n.clone(), to_value(v)))
        .collect();
    if !positional.is_empty() && !named.is_empty() {
        return Err(Error::InvalidArgument(
            "a statement takes named parameters or positional ones, not both".into(),
        ));
    }
    let arrow = if named.is_empty() {
        statement.query_arrow(duckdb::params_from_iter(positional.iter()))
    } else {
        let pairs: Vec<(&str, &dyn duckdb::ToSql)> = named
            .iter()
            .map(|(n, v)| (n.as_str(), v as &dyn duckdb::ToSql))
            .collect();
        statement.query_arrow(pairs.as_slice())
    }
    .map_err(|e| pool.err(&e, "query"))?;
    let schema = arrow.get_schema();
    // duckdb-rs panics if a chunk cannot be fetched; keep that a conn error.
    let batches: Vec<RecordBatch> =
        catch_unwind(AssertUnwindSafe(|| arrow.collect())).map_err(|_| {
            Error::Data(format!(
                "duckdb connection \"{}\", query: DuckDB failed while producing Arrow batches",
                pool.name()
            ))
        })?;
    Table::new(schema, batches)
}
