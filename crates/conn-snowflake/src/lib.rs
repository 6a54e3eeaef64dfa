//! The `snowflake` connection type of conn: Streamlit's `SnowflakeConnection`.
//!
//! A Streamlit `secrets.toml` works unchanged:
//!
//! ```toml
//! [connections.snowflake]
//! account = "xy12345.us-east-2.aws"
//! user = "ada"
//! private_key_file = "/keys/rsa_key.p8"
//! warehouse = "COMPUTE_WH"
//! database = "ANALYTICS"
//! schema = "PUBLIC"
//! ```
//!
//! ```no_run
//! use conn_snowflake::SnowflakeConnection;
//! # fn main() -> conn_core::Result<()> {
//! let sf = conn_core::connection::<SnowflakeConnection>("snowflake")?;
//! let pets = sf.query("select * from pets where owner = ?").bind("Ada").blocking()?;
//! println!("{pets}");
//! # Ok(()) }
//! ```
//!
//! conn speaks Snowflake's REST protocol itself (login, query with binds, polling of
//! long statements, ordered chunk download, token renewal) on reqwest, and turns
//! Snowflake's raw Arrow into proper Arrow types. See `docs/snowflake.md` for every
//! key, the type table and what differs from the original.
#![deny(missing_docs)]

mod arrow;
mod auth;
mod classify;
mod client;
mod config;
mod protocol;
mod result;
mod session;
mod write;

use std::fmt;
use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::sync::Arc;

use conn_core::plugin::{Base, BatchSink, Connector, Queryable};
use conn_core::{
    Call, ConnectionConfig, ConnectionType, Param, Params, Query, Result, StatsSnapshot, Table,
};

pub use client::SnowflakeClient;
pub use conn_core::WriteMode;
pub use result::QUERY_ID_KEY;
pub use session::{Session, SessionStatement};

use classify::Ctx;
use client::QueryRequest;
use config::Settings;

conn_core::register_connection_type!(SnowflakeConnection);

/// A connection to Snowflake: Streamlit's `SnowflakeConnection`.
///
/// Cheap to clone (shared). Logs in on first use; reads are cached per connection by
/// statement and parameters (see [`query`](Self::query)); an expired session is
/// renewed, a dropped connection retried, SQL and login errors are not, and a write is
/// never applied twice (a resent request carries the same request id, which the
/// server runs once).
#[derive(Clone)]
pub struct SnowflakeConnection {
    base: Base<SnowflakeConnector>,
}

/// Logs in to Snowflake and runs statements in the session.
pub struct SnowflakeConnector {
    settings: Arc<Settings>,
    ctx: Ctx,
}

impl fmt::Debug for SnowflakeConnector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SnowflakeConnector")
            .field("name", &self.ctx.name)
            .field("settings", &self.settings)
            .finish()
    }
}

impl SnowflakeConnector {
    /// A new session with this connector's settings (the connection's, or a
    /// [`Session`]'s own).
    async fn log_in(&self, relogin: bool) -> Result<SnowflakeClient> {
        SnowflakeClient::login(Arc::clone(&self.settings), self.ctx.clone(), relogin).await
    }
}

impl Connector for SnowflakeConnector {
    type Raw = SnowflakeClient;

    fn from_config(config: &ConnectionConfig) -> Result<Self> {
        let config = config::merged(config)?;
        let settings = Settings::from_config(&config)?;
        Ok(SnowflakeConnector {
            settings: Arc::new(settings),
            ctx: Ctx {
                name: Arc::from(config.name()),
                redactor: config.redactor(),
            },
        })
    }

    async fn connect(&self) -> Result<SnowflakeClient> {
        // The connection's own session holds no transaction: when its renewal fails, a
        // new login may take its place.
        self.log_in(true).await
    }

    async fn health_check(&self, client: &SnowflakeClient) -> Result<()> {
        let query = QueryRequest {
            sql: "SELECT 1".into(),
            bindings: None,
        };
        client.run(&query).await.map(drop)
    }

    async fn close(&self, client: SnowflakeClient) {
        client.close();
    }
}

impl Queryable for SnowflakeConnector {
    async fn fetch(
        self: Arc<Self>,
        client: SnowflakeClient,
        sql: Arc<str>,
        params: Arc<Params>,
    ) -> Result<Table> {
        let query = request(&sql, &params)?;
        let outcome = client.run(&query).await?;
        result::table(&client, outcome).await
    }

    /// Sends the first rows, then each chunk as it arrives (in order, a few
    /// downloading ahead), at most the stream's prefetch depth ahead of its reader.
    async fn fetch_stream(
        self: Arc<Self>,
        client: SnowflakeClient,
        sql: Arc<str>,
        params: Arc<Params>,
        sink: BatchSink,
    ) -> Result<()> {
        let query = request(&sql, &params)?;
        let outcome = client.run(&query).await?;
        result::stream(&client, outcome, &sink).await
    }
}

/// A statement and its parameters as a query request.
fn request(sql: &str, params: &Params) -> Result<QueryRequest> {
    Ok(QueryRequest {
        sql: sql.to_owned(),
        bindings: protocol::binds::bindings(params)?,
    })
}

impl ConnectionType for SnowflakeConnection {
    const NAME: &'static str = "snowflake";
    const ALIASES: &'static [&'static str] = &[
        "streamlit.connections.SnowflakeConnection",
        "streamlit.connections.snowflake_connection.SnowflakeConnection",
    ];
    const DESCRIPTION: &'static str = "Snowflake, through its REST protocol";
    const EXAMPLE_TOML: &'static str = "[connections.snowflake]\ntype = \"snowflake\"\naccount = \"xy12345.us-east-2.aws\"\nuser = \"ada\"\nprivate_key_file = \"rsa_key.p8\"\nwarehouse = \"COMPUTE_WH\"\n";

    fn from_config(config: ConnectionConfig) -> Result<Self> {
        Ok(SnowflakeConnection {
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

impl SnowflakeConnection {
    /// A query returning a [`Table`]: await it, or call `.blocking()`.
    ///
    /// Parameters are positional: `?` or `:1` in the text, set in order with
    /// `.bind(...)` (named parameters are refused: Snowflake's `column:path` syntax
    /// makes `:name` ambiguous). Results are cached by statement and parameters; the
    /// default ttl is forever, as in Streamlit, and `.ttl(Duration::ZERO)` turns caching
    /// off. The schema's metadata holds the statement's `snowflake:query_id`.
    pub fn query(&self, sql: impl Into<String>) -> Query<SnowflakeConnector> {
        Query::new(&self.base, sql)
    }

    /// A statement run for its effect (not cached, committed at once, never applied
    /// twice): await it or call `.blocking()` for the rows affected and the query id.
    /// Cached reads are dropped afterwards.
    pub fn execute(&self, sql: impl Into<String>) -> Execution {
        Execution {
            conn: self.clone(),
            sql: sql.into(),
            params: Params::new(),
        }
    }

    /// A session of its own (a second login), for a transaction and temporary tables:
    /// the transaction begins with its first statement that is not DDL;
    /// [`Session::commit`] commits, dropping the session rolls back and closes it.
    pub fn session(&self) -> Call<Session> {
        let base = self.base.clone();
        self.base.call("open session", async move {
            let connector = base.connector();
            let client = connector.log_in(false).await?;
            Ok(Session::new(client, base.results().clone(), base.timeout()))
        })
    }

    /// Writes a table: create it, append to it, or replace it. A failure leaves the
    /// table as it was; the write is never applied twice. Returns the rows written.
    pub fn write_table(&self, name: &str, table: &Table, mode: WriteMode) -> Call<u64> {
        let (name, table) = (Arc::<str>::from(name), table.clone());
        self.base.write(move |connector, _client| {
            let (name, table, connector) =
                (Arc::clone(&name), table.clone(), Arc::clone(&connector));
            async move {
                // Its own session: a transaction of the connection's would take in
                // every concurrent statement.
                let client = connector.log_in(false).await?;
                let written = write::write_table(&client, &name, &table, mode).await;
                client.close();
                written
            }
        })
    }

    /// The logged-in client, logging in first if needed, for anything conn does not
    /// wrap.
    pub fn client(&self) -> Call<SnowflakeClient> {
        self.base.raw()
    }

    /// Runs `SELECT 1`; a failure resets the connection.
    pub fn health_check(&self) -> Call<()> {
        self.base.health_check()
    }

    /// Closes the session and drops the cached results; the next use logs in again
    /// (with the configuration resolved again).
    pub fn reset(&self) {
        self.base.reset();
    }

    /// Counters: logins, queries, cache hits and misses, retries, resets.
    pub fn stats(&self) -> StatsSnapshot {
        self.base.stats()
    }

    /// The shared lifecycle: result cache, retry policy, connection state.
    pub fn base(&self) -> &Base<SnowflakeConnector> {
        &self.base
    }
}

impl fmt::Debug for SnowflakeConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SnowflakeConnection")
            .field("name", &self.base.name())
            .field("connected", &self.base.is_connected())
            .finish_non_exhaustive()
    }
}

/// What a statement run for its effect did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Executed {
    /// The rows it inserted, updated, deleted or merged (0 for other statements).
    pub rows: u64,
    /// The server's id of the statement (for `QUERY_HISTORY` and support).
    pub query_id: String,
}

/// A statement run for its effect; see [`SnowflakeConnection::execute`].
#[must_use = "a statement does nothing until it is awaited or run with .blocking()"]
#[derive(Debug)]
pub struct Execution {
    conn: SnowflakeConnection,
    sql: String,
    params: Params,
}

impl Execution {
    /// Appends a positional parameter (`?` or `:1`, `:2`, ... in the text).
    pub fn bind(mut self, value: impl Into<Param>) -> Self {
        self.params.push(value);
        self
    }

    fn into_call(self) -> Call<Executed> {
        let Execution { conn, sql, params } = self;
        let query = match request(&sql, &params) {
            Ok(query) => query,
            Err(err) => return Call::ready(Err(err)),
        };
        let stats = Arc::clone(conn.base.handle().stats());
        conn.base.write(move |_connector, client| {
            stats.record_query();
            let query = query.clone();
            async move { run_for_effect(&client, &query).await }
        })
    }

    /// Aborts the statement on the server and fails with a timeout error if it takes
    /// longer than `limit`.
    pub fn timeout(self, limit: std::time::Duration) -> Call<Executed> {
        self.into_call().timeout(limit)
    }

    /// Runs the statement from synchronous code.
    pub fn blocking(self) -> Result<Executed> {
        self.into_call().blocking()
    }
}

impl IntoFuture for Execution {
    type Output = Result<Executed>;
    type IntoFuture = Pin<Box<dyn Future<Output = Result<Executed>> + Send>>;

    fn into_future(self) -> Self::IntoFuture {
        self.into_call().into_future()
    }
}

/// Runs one statement and reads how many rows it changed.
pub(crate) async fn run_for_effect(
    client: &SnowflakeClient,
    query: &QueryRequest,
) -> Result<Executed> {
    let outcome = client.run(query).await?;
    let query_id = outcome.query_id.clone();
    let table = result::table(client, outcome).await?;
    Ok(Executed {
        rows: result::rows_affected(&table),
        query_id,
    })
}
