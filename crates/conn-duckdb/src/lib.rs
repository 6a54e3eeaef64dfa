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
//! timeout = "30s"                   # any query or write; DuckDB is interrupted
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
//! threads run in parallel on a small pool of connections to the same database. A
//! query whose caller gives up (a dropped future, a time limit) is interrupted inside
//! DuckDB. `query(...).stream()` hands out batches as DuckDB produces them, in bounded
//! memory. Building: the `bundled` feature (default) compiles DuckDB from source;
//! without it the crate links a prebuilt libduckdb found through `DUCKDB_LIB_DIR` (see
//! `docs/duckdb.md`).
#![deny(missing_docs)]

mod config;
mod fit;
mod init;
mod pool;
mod prepare;
mod run;
mod session;
mod stream;
mod widen;
mod write;

use std::fmt;
use std::sync::Arc;

use conn_core::plugin::BatchSink;
use conn_core::plugin::{Base, Connector, Queryable, Redactor, runtime};
use conn_core::{
    Call, ConnectionConfig, ConnectionType, Params, Query, Result, StatsSnapshot, Table,
};

pub use conn_core::WriteMode;
pub use pool::DuckPool;
pub use session::Session;

use config::DuckDbConfig;

conn_core::register_connection_type!(DuckDbConnection);

/// A connection to a DuckDB database.
///
/// Cheap to clone (shared). Opens the database on first use; reads are cached per
/// connection by statement and parameters.
#[derive(Clone)]
pub struct DuckDbConnection {
    base: Base<DuckConnector>,
}

/// Opens the database and runs statements on its pool.
#[derive(Debug)]
pub struct DuckConnector {
    config: Arc<DuckDbConfig>,
    name: Arc<str>,
    redactor: Redactor,
}

impl Connector for DuckConnector {
    type Raw = Arc<DuckPool>;

    fn from_config(config: &ConnectionConfig) -> Result<Self> {
        Ok(DuckConnector {
            config: Arc::new(DuckDbConfig::from_config(config)?),
            name: Arc::from(config.name()),
            redactor: config.redactor(),
        })
    }

    async fn connect(&self) -> Result<Arc<DuckPool>> {
        let (config, name, redactor) = (
            Arc::clone(&self.config),
            Arc::clone(&self.name),
            self.redactor.clone(),
        );
        runtime::run_blocking(move || DuckPool::open(config, name, redactor).map(Arc::new)).await
    }

    async fn health_check(&self, pool: &Arc<DuckPool>) -> Result<()> {
        run::on_connection(Arc::clone(pool), "health check", |conn, pool| {
            conn.execute_batch("SELECT 1")
                .map_err(|e| pool.err(&e, "health check"))
        })
        .await
    }

    fn reset_loses_data(&self) -> bool {
        self.config.database.is_none()
    }
}

impl Queryable for DuckConnector {
    fn fetch(
        self: Arc<Self>,
        pool: Arc<DuckPool>,
        sql: Arc<str>,
        params: Arc<Params>,
    ) -> impl Future<Output = Result<Table>> + Send + 'static {
        run::on_connection(pool, "query", move |conn, pool| {
            run::query_on(conn, pool, &sql, &params)
        })
    }

    /// Batches as DuckDB produces them, at most the prefetch depth ahead of the reader
    /// (see the `stream` module).
    fn fetch_stream(
        self: Arc<Self>,
        pool: Arc<DuckPool>,
        sql: Arc<str>,
        params: Arc<Params>,
        sink: BatchSink,
    ) -> impl Future<Output = Result<()>> + Send + 'static {
        // DuckDB commits a streamed statement only when its last chunk is fetched: a
        // write dropped half-way would be rolled back without a word. A statement that
        // may write runs to its end first (its RETURNING rows are materialized by DuckDB
        // anyway), then its batches are handed out.
        let writes = !self.is_read_only(&sql);
        async move {
            if writes {
                let table = self.fetch(pool, sql, params).await?;
                return sink.send_table(table).await;
            }
            stream::fetch_stream(pool, sql, params, sink).await
        }
    }
}

impl ConnectionType for DuckDbConnection {
    const NAME: &'static str = "duckdb";
    const DESCRIPTION: &'static str = "DuckDB files and in-memory databases";
    const EXAMPLE_TOML: &'static str =
        "[connections.analytics]\ntype = \"duckdb\"\ndatabase = \"analytics.duckdb\"\n";

    fn from_config(config: ConnectionConfig) -> Result<Self> {
        Ok(DuckDbConnection {
            base: Base::new(&config, Self::NAME)?,
        })
    }

    fn reset(&self) {
        self.base.reset();
    }

    fn close(&self) {
        self.base.close();
    }

    fn health_check(&self) -> Option<Call<()>> {
        Some(self.base.health_check())
    }
}

impl DuckDbConnection {
    /// A query returning a [`Table`]: await it, or call `.blocking()`. Parameters are
    /// positional (`?`, `$1`, set with `.bind(...)`) or named (`$name`, set with
    /// `.param("name", ...)`). Results are cached by statement and parameters.
    /// `.stream()` instead hands out record batches as DuckDB produces them, in bounded
    /// memory (see `docs/duckdb.md`).
    pub fn query(&self, sql: impl Into<String>) -> Query<DuckConnector> {
        Query::new(&self.base, sql)
    }

    /// Runs statements for their effect (several, separated by `;`), not cached and
    /// never retried; cached results are dropped afterwards.
    pub fn execute_batch(&self, sql: impl Into<String>) -> Call<()> {
        let sql: Arc<str> = Arc::from(sql.into());
        self.base.write(move |_, pool| {
            let sql = Arc::clone(&sql);
            run::on_connection(pool, "execute", move |conn, pool| {
                conn.execute_batch(&sql)
                    .map_err(|e| pool.err(&e, "execute"))
            })
        })
    }

    /// Runs `work` with a raw `duckdb::Connection` of the pool, on conn's blocking
    /// threads: for anything conn does not wrap (UDFs, `COPY`, appenders, ...).
    /// It may write, so cached results are dropped afterwards; a transaction it
    /// leaves open is rolled back when the connection returns to the pool. It runs
    /// once: a failure is not retried.
    pub fn with_raw<T, F>(&self, work: F) -> Call<T>
    where
        F: FnOnce(&duckdb::Connection) -> duckdb::Result<T> + Send + 'static,
        T: Send + 'static,
    {
        let work = parking_lot::Mutex::new(Some(work));
        self.base.write(move |_, pool| {
            let work = work.lock().take();
            run::on_connection(pool, "raw", move |conn, pool| match work {
                Some(work) => work(conn).map_err(|e| pool.err(&e, "raw")),
                None => Err(conn_core::Error::InvalidArgument(
                    "with_raw's work already ran".into(),
                )),
            })
        })
    }

    /// Starts a transaction on a connection of its own. Dropping the [`Session`]
    /// without [`commit`](Session::commit) rolls it back.
    pub fn session(&self) -> Call<Session> {
        let base = self.base.clone();
        self.base.call("begin transaction", async move {
            let pool = base.raw().await?;
            let results = base.results().clone();
            runtime::run_blocking(move || Session::begin(&pool, results)).await
        })
    }

    /// Writes a table through DuckDB's Arrow appender, in one transaction: create it,
    /// append to it, or replace it. A failure leaves the database as it was. Returns
    /// the rows written. Never retried once started.
    pub fn write_table(&self, name: &str, table: &Table, mode: WriteMode) -> Call<u64> {
        let (name, table) = (Arc::<str>::from(name), table.clone());
        let results = self.base.results().clone();
        self.base.write(move |_, pool| {
            let (name, table, results) = (Arc::clone(&name), table.clone(), results.clone());
            async move {
                let session = runtime::run_blocking(move || Session::begin(&pool, results)).await?;
                let written = session.write_table(&name, &table, mode).await?;
                session.commit().await?;
                Ok(written)
            }
        })
    }

    /// The pool, opening the database first if needed.
    pub fn pool(&self) -> Call<Arc<DuckPool>> {
        self.base.raw()
    }

    /// Runs `SELECT 1`; a failure resets the connection.
    pub fn health_check(&self) -> Call<()> {
        self.base.health_check()
    }

    /// Closes the database and drops cached results; the next use reopens it. An
    /// in-memory database is emptied.
    pub fn reset(&self) {
        self.base.reset();
    }

    /// Counters: connects, queries, cache hits and misses, retries, resets.
    pub fn stats(&self) -> StatsSnapshot {
        self.base.stats()
    }

    /// The shared lifecycle: result cache, retry policy, connection state.
    pub fn base(&self) -> &Base<DuckConnector> {
        &self.base
    }
}

impl fmt::Debug for DuckDbConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DuckDbConnection")
            .field("name", &self.base.name())
            .field("connected", &self.base.is_connected())
            .finish_non_exhaustive()
    }
}
