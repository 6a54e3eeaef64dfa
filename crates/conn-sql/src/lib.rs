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
mod named;
mod session;
mod write;

use std::fmt;
use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::sync::Arc;

use conn_core::{
    ConnectionConfig, ConnectionType, Connector, Execute, Handle, Param, Params, Query, Result,
    ResultCache, StatsSnapshot, Table,
};

pub use backend::Pool as SqlPool;
pub use config::Backend;
pub use conn_core::WriteMode;
pub use session::{Session, SessionStatement};

use backend::Ctx;
use config::SqlConfig;

conn_core::register_connection_type!(SqlConnection);

/// A connection to a SQL database: Streamlit's `SQLConnection`.
///
/// Cheap to clone (shared). Connects on first use; reads are cached per connection by
/// statement and parameters (see [`query`](Self::query)); stale connections are reset
/// and retried, syntax and constraint errors are not.
#[derive(Clone)]
pub struct SqlConnection {
    inner: Arc<Inner>,
}

struct Inner {
    backend: Backend,
    handle: Handle<SqlConnector>,
    results: ResultCache,
    ctx: Ctx,
    autocommit: bool,
}

struct SqlConnector {
    config: SqlConfig,
    ctx: Ctx,
}

impl Connector for SqlConnector {
    type Raw = SqlPool;

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
        let sql = SqlConfig::from_config(&config)?;
        let ctx = Ctx {
            name: Arc::from(config.name()),
            redactor: config.redactor(),
            batch_size: sql.batch_size,
        };
        let handle = Handle::new(
            config.name(),
            Self::NAME,
            SqlConnector {
                config: sql.clone(),
                ctx: ctx.clone(),
            },
        );
        handle.set_retry_policy(sql.retry);
        let results = ResultCache::new(Arc::clone(handle.stats()));
        Ok(SqlConnection {
            inner: Arc::new(Inner {
                backend: sql.backend,
                handle,
                results,
                ctx,
                autocommit: sql.autocommit,
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

impl Execute for SqlConnection {
    fn results(&self) -> &ResultCache {
        &self.inner.results
    }

    async fn execute(&self, sql: String, params: Params) -> Result<Table> {
        let prepared = named::prepare(&sql, &params, self.inner.backend)?;
        let ctx = &self.inner.ctx;
        let handle = &self.inner.handle;
        handle
            .with_retry(|pool| {
                handle.stats().record_query();
                let prepared = prepared.clone();
                async move { pool.fetch(prepared, ctx).await }
            })
            .await
    }
}

impl SqlConnection {
    /// A query returning a [`Table`]: await it, or call `.blocking()`.
    ///
    /// Parameters are named (`:owner`, set with `.param("owner", ...)`) or positional
    /// (`$1` for PostgreSQL, `?` for MySQL and SQLite, set with `.bind(...)`). Results
    /// are cached by statement and parameters; the default ttl is forever, as in
    /// Streamlit, and `.ttl(Duration::ZERO)` turns caching off.
    pub fn query(&self, sql: impl Into<String>) -> Query<SqlConnection> {
        Query::new(self.clone(), sql)
    }

    /// A statement run for its effect (not cached, not retried, committed at once):
    /// await it or call `.blocking()` for the number of rows affected.
    pub fn execute(&self, sql: impl Into<String>) -> Execution {
        Execution {
            conn: self.clone(),
            sql: sql.into(),
            params: Params::new(),
        }
    }

    /// Starts a transaction. Dropping the [`Session`] without
    /// [`commit`](Session::commit) rolls it back.
    pub async fn session(&self) -> Result<Session> {
        let conn = self.clone();
        conn_core::runtime::run(async move {
            let pool = conn.inner.handle.get().await?;
            let tx = pool.begin(&conn.inner.ctx).await?;
            Ok(Session::new(
                tx,
                conn.inner.ctx.clone(),
                conn.inner.results.clone(),
            ))
        })
        .await
    }

    /// [`session`](Self::session) from synchronous code.
    pub fn session_blocking(&self) -> Result<Session> {
        conn_core::runtime::block_on_borrowed(self.session())
    }

    /// Writes a table in one transaction: create it, append to it, or replace it. A
    /// failure leaves the database as it was. Returns the rows written.
    pub async fn write_table(&self, name: &str, table: &Table, mode: WriteMode) -> Result<u64> {
        let conn = self.clone();
        let name = name.to_owned();
        let table = table.clone();
        conn_core::runtime::run(async move {
            let pool = conn.inner.handle.get().await?;
            let written = write::write_table(&pool, &name, &table, mode, &conn.inner.ctx).await;
            if written.is_ok() {
                // Cached reads may now be out of date.
                conn.inner.results.clear();
            }
            written
        })
        .await
    }

    /// [`write_table`](Self::write_table) from synchronous code.
    pub fn write_table_blocking(&self, name: &str, table: &Table, mode: WriteMode) -> Result<u64> {
        conn_core::runtime::block_on_borrowed(self.write_table(name, table, mode))
    }

    /// The database behind the connection.
    pub fn backend(&self) -> Backend {
        self.inner.backend
    }

    /// Whether `autocommit` was set (accepted for Streamlit compatibility: statements
    /// outside a [`Session`] always commit at once).
    pub fn autocommit(&self) -> bool {
        self.inner.autocommit
    }

    /// The sqlx pool, connecting first if needed, for anything conn does not wrap.
    pub async fn pool(&self) -> Result<SqlPool> {
        self.inner.handle.connect().await
    }

    /// [`pool`](Self::pool) from synchronous code.
    pub fn pool_blocking(&self) -> Result<SqlPool> {
        self.inner.handle.connect_blocking()
    }

    /// Runs `SELECT 1`; a failure resets the connection.
    pub async fn health_check(&self) -> Result<()> {
        self.inner.handle.check().await
    }

    /// Drops the pool and the cached results; the next use reconnects.
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

    /// The handle, for the retry policy and connection state.
    pub fn handle(&self) -> &Handle<impl Connector> {
        &self.inner.handle
    }
}

impl fmt::Debug for SqlConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqlConnection")
            .field("name", &self.inner.ctx.name)
            .field("backend", &self.inner.backend)
            .field("connected", &self.inner.handle.is_connected())
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

    async fn run(self) -> Result<u64> {
        let Execution { conn, sql, params } = self;
        conn_core::runtime::run(async move {
            let prepared = named::prepare(&sql, &params, conn.inner.backend)?;
            let pool = conn.inner.handle.get().await?;
            conn.inner.handle.stats().record_query();
            let outcome = pool.execute(prepared, &conn.inner.ctx).await;
            if let Err(err) = &outcome {
                if err.class().is_retryable() {
                    conn.inner.handle.reset();
                }
            } else {
                conn.inner.results.clear();
            }
            outcome
        })
        .await
    }

    /// Runs the statement from synchronous code.
    pub fn blocking(self) -> Result<u64> {
        conn_core::runtime::block_on_borrowed(self.run())
    }
}

impl IntoFuture for Execution {
    type Output = Result<u64>;
    type IntoFuture = Pin<Box<dyn Future<Output = Result<u64>> + Send>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.run())
    }
}
