//! The `sql` connection type of conn: PostgreSQL, MySQL/MariaDB and SQLite through
//! sqlx, with results straight into Arrow.
//!
//! A Streamlit `secrets.toml` works unchanged:
//!
//! ```toml
//! [connections.pets_db]
//! url = "sqlite:///pets.db"
//!
//! [connections.warehouse]
//! dialect = "postgresql"
//! host = "localhost"
//! port = 5432
//! database = "analytics"
//! username = "ada"
//! password = "${PGPASSWORD}"
//! create_engine_kwargs = { pool_size = 5, pool_pre_ping = true }
//! ```
//!
//! ```no_run
//! use conn_sql::SqlConnection;
//! # fn main() -> conn_core::Result<()> {
//! let db = conn_core::connection::<SqlConnection>("pets_db")?;
//! let pets = db.query("select * from pet where owner = :owner").param("owner", "Ada").blocking()?;
//! println!("{pets}");
//! # Ok(()) }
//! ```
//!
//! Each driver is used through its concrete pool (sqlx's `Any` driver cannot decode
//! dates, decimals, json or uuids). PostgreSQL results come through binary `COPY` when
//! the statement allows it. See `docs/sql.md` for every key and type mapping.
#![deny(missing_docs)]

mod arrow;
mod backend;
mod classify;
mod config;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
mod named;
mod session;
mod write;

use std::fmt;
use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::sync::Arc;

use conn_core::plugin::BatchSink;
use conn_core::plugin::{Base, Connector, Queryable};
use conn_core::{
    Call, ConnectionConfig, ConnectionType, Param, Params, Query, Result, StatsSnapshot, Table,
};

pub use backend::Pool as SqlPool;
pub use config::Backend;
pub use conn_core::WriteMode;
pub use session::{Session, SessionStatement};

use backend::Ctx;
use config::{SqlConfig, SqliteTarget};

conn_core::register_connection_type!(SqlConnection);

/// A connection to a SQL database: Streamlit's `SQLConnection`.
///
/// Cheap to clone (shared). Connects on first use; reads are cached per connection by
/// statement and parameters (see [`query`](Self::query)); stale connections are reset
/// and retried, syntax and constraint errors are not, and writes are never run twice.
#[derive(Clone)]
pub struct SqlConnection {
    base: Base<SqlConnector>,
}

/// Opens the pool of a `sql` connection and runs statements on it.
pub struct SqlConnector {
    config: SqlConfig,
    ctx: Ctx,
}

impl fmt::Debug for SqlConnector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqlConnector")
            .field("name", &self.ctx.name)
            .field("backend", &self.config.backend)
            .finish_non_exhaustive()
    }
}

impl Connector for SqlConnector {
    type Raw = SqlPool;

    fn from_config(config: &ConnectionConfig) -> Result<Self> {
        let sql = SqlConfig::from_config(config)?;
        let (connect_timeout, connect_timeout_at) = conn_core::plugin::connect_timeout(config)?;
        let ctx = Ctx {
            name: Arc::from(config.name()),
            redactor: config.redactor(),
            batch_size: sql.batch_size,
            connect_timeout,
            connect_timeout_at,
            echo: sql.pool.log_statements,
        };
        Ok(SqlConnector { config: sql, ctx })
    }

    async fn connect(&self) -> Result<SqlPool> {
        let config = &self.config;
        let ctx = &self.ctx;
        match config.backend {
            #[cfg(feature = "postgres")]
            Backend::Postgres => backend::postgres::connect(config, ctx)
                .await
                .map(SqlPool::Postgres),
            #[cfg(feature = "mysql")]
            Backend::MySql => backend::mysql::connect(config, ctx)
                .await
                .map(SqlPool::MySql),
            #[cfg(feature = "sqlite")]
            Backend::Sqlite => backend::sqlite::connect(config, ctx)
                .await
                .map(SqlPool::Sqlite),
            #[allow(unreachable_patterns)]
            other => Err(backend::not_compiled(other)),
        }
    }

    async fn health_check(&self, pool: &SqlPool) -> Result<()> {
        pool.ping(&self.ctx).await
    }

    async fn close(&self, pool: SqlPool) {
        pool.close().await;
    }

    fn reset_loses_data(&self) -> bool {
        self.config.backend == Backend::Sqlite
            && matches!(self.config.sqlite, None | Some(SqliteTarget::Memory))
    }
}

impl Queryable for SqlConnector {
    async fn fetch(
        self: Arc<Self>,
        pool: SqlPool,
        sql: Arc<str>,
        params: Arc<Params>,
    ) -> Result<Table> {
        let prepared = named::prepare(&sql, &params, self.config.backend)?;
        pool.fetch(prepared, &self.ctx).await
    }

    /// Sends each batch as it is decoded (PostgreSQL's COPY and rows, MySQL's and
    /// SQLite's rows alike), at most the stream's prefetch depth ahead of its reader.
    async fn fetch_stream(
        self: Arc<Self>,
        pool: SqlPool,
        sql: Arc<str>,
        params: Arc<Params>,
        sink: BatchSink,
    ) -> Result<()> {
        let prepared = named::prepare(&sql, &params, self.config.backend)?;
        pool.fetch_stream(prepared, &self.ctx, &sink).await
    }
}

impl ConnectionType for SqlConnection {
    const NAME: &'static str = "sql";
    const ALIASES: &'static [&'static str] = &[
        "streamlit.connections.SQLConnection",
        "streamlit.connections.sql_connection.SQLConnection",
    ];
    const DESCRIPTION: &'static str = "PostgreSQL, MySQL/MariaDB and SQLite through sqlx";
    const EXAMPLE_TOML: &'static str =
        "[connections.pets_db]\ntype = \"sql\"\nurl = \"sqlite:///pets.db\"\n";

    fn from_config(config: ConnectionConfig) -> Result<Self> {
        Ok(SqlConnection {
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

impl SqlConnection {
    /// A query returning a [`Table`]: await it, or call `.blocking()`.
    ///
    /// Parameters are named (`:owner`, set with `.param("owner", ...)`) or positional
    /// (`$1` for PostgreSQL, `?` for MySQL and SQLite, set with `.bind(...)`). Results
    /// are cached by statement and parameters; the default ttl is forever, as in
    /// Streamlit, and `.ttl(Duration::ZERO)` turns caching off. `.timeout(d)` stops the
    /// query on the server when it takes longer.
    pub fn query(&self, sql: impl Into<String>) -> Query<SqlConnector> {
        Query::new(&self.base, sql)
    }

    /// A statement run for its effect (not cached, committed at once, never run twice):
    /// await it or call `.blocking()` for the number of rows affected. Cached reads are
    /// dropped afterwards.
    pub fn execute(&self, sql: impl Into<String>) -> Execution {
        Execution {
            conn: self.clone(),
            sql: sql.into(),
            params: Params::new(),
        }
    }

    /// Starts a transaction. Dropping the [`Session`] without
    /// [`commit`](Session::commit) rolls it back.
    pub fn session(&self) -> Call<Session> {
        let base = self.base.clone();
        self.base.call("begin transaction", async move {
            let pool = base.raw().await?;
            let connector = base.connector();
            let (tx, canceller) = pool.begin(&connector.ctx).await?;
            Ok(Session::new(
                tx,
                connector.ctx.clone(),
                base.results().clone(),
                canceller,
                base.timeout(),
            ))
        })
    }

    /// Writes a table in one transaction: create it, append to it, or replace it. A
    /// failure leaves the database as it was; the write is never run twice. Returns the
    /// rows written.
    pub fn write_table(&self, name: &str, table: &Table, mode: WriteMode) -> Call<u64> {
        let (name, table) = (Arc::<str>::from(name), table.clone());
        self.base.write(move |connector, pool| {
            let (name, table) = (Arc::clone(&name), table.clone());
            async move { write::write_table(&pool, &name, &table, mode, &connector.ctx).await }
        })
    }

    /// The database behind the connection.
    pub fn backend(&self) -> Backend {
        self.base.connector().config.backend
    }

    /// Whether `autocommit` was set (accepted for Streamlit compatibility: statements
    /// outside a [`Session`] always commit at once).
    pub fn autocommit(&self) -> bool {
        self.base.connector().config.autocommit
    }

    /// The sqlx pool, connecting first if needed, for anything conn does not wrap.
    pub fn pool(&self) -> Call<SqlPool> {
        self.base.raw()
    }

    /// Runs `SELECT 1`; a failure resets the connection.
    pub fn health_check(&self) -> Call<()> {
        self.base.health_check()
    }

    /// Drops the pool and the cached results; the next use reconnects (with the
    /// configuration resolved again).
    pub fn reset(&self) {
        self.base.reset();
    }

    /// Counters: connects, queries, cache hits and misses, retries, resets.
    pub fn stats(&self) -> StatsSnapshot {
        self.base.stats()
    }

    /// The shared lifecycle: result cache, retry policy, connection state.
    pub fn base(&self) -> &Base<SqlConnector> {
        &self.base
    }
}

impl fmt::Debug for SqlConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqlConnection")
            .field("name", &self.base.name())
            .field("backend", &self.backend())
            .field("connected", &self.base.is_connected())
            .finish_non_exhaustive()
    }
}

/// A statement run for its effect; see [`SqlConnection::execute`].
#[must_use = "a statement does nothing until it is awaited or run with .blocking()"]
#[derive(Debug)]
pub struct Execution {
    conn: SqlConnection,
    sql: String,
    params: Params,
}

impl Execution {
    /// Appends a positional parameter.
    pub fn bind(mut self, value: impl Into<Param>) -> Self {
        self.params.push(value);
        self
    }

    /// Sets a named parameter (`:name`).
    pub fn param(mut self, name: &str, value: impl Into<Param>) -> Self {
        self.params.set(name, value);
        self
    }

    fn into_call(self) -> Call<u64> {
        let Execution { conn, sql, params } = self;
        let prepared = match named::prepare(&sql, &params, conn.backend()) {
            Ok(prepared) => prepared,
            Err(err) => return Call::ready(Err(err)),
        };
        let stats = Arc::clone(conn.base.handle().stats());
        conn.base.write(move |connector, pool| {
            stats.record_query();
            let prepared = prepared.clone();
            async move { pool.execute(prepared, &connector.ctx).await }
        })
    }

    /// Stops the statement on the server and fails with a timeout error if it takes
    /// longer than `limit`; an uncommitted change is rolled back.
    pub fn timeout(self, limit: std::time::Duration) -> Call<u64> {
        self.into_call().timeout(limit)
    }

    /// Runs the statement from synchronous code.
    pub fn blocking(self) -> Result<u64> {
        self.into_call().blocking()
    }
}

impl IntoFuture for Execution {
    type Output = Result<u64>;
    type IntoFuture = Pin<Box<dyn Future<Output = Result<u64>> + Send>>;

    fn into_future(self) -> Self::IntoFuture {
        self.into_call().into_future()
    }
}
