//! A query builder shared by every connection type that runs statements.
//!
//! ```ignore
//! // async
//! let pets = conn.query("select * from pet where owner = :owner")
//!     .param("owner", "Ada")
//!     .ttl(Duration::from_secs(600))
//!     .await?;
//! // blocking, from plain code or inside a runtime
//! let pets = conn.query("select * from pet").blocking()?;
//! ```

use std::fmt;
use std::future::{Future, IntoFuture};
use std::pin::Pin;

use tracing::Instrument;

use crate::error::Result;
use crate::params::{Param, Params};
use crate::result_cache::ResultCache;
use crate::runtime;
use crate::table::Table;
use crate::ttl::Ttl;

/// What a connection type provides to run a [`Query`].
pub trait Execute: Clone + Send + Sync + 'static {
    /// The connection's result cache.
    fn results(&self) -> &ResultCache;

    /// Runs one statement (on conn's runtime), with the connection's retry policy.
    fn execute(&self, sql: String, params: Params) -> impl Future<Output = Result<Table>> + Send;
}

/// A statement with its parameters and ttl, run with `.await` or
/// [`blocking`](Self::blocking).
///
/// Results are cached per connection by statement and parameters. The default ttl is
/// forever, as in Streamlit; `ttl(Duration::ZERO)` turns caching off.
#[must_use = "a query does nothing until it is awaited or run with .blocking()"]
pub struct Query<E: Execute> {
    exec: E,
    sql: String,
    params: Params,
    ttl: Ttl,
}

impl<E: Execute> fmt::Debug for Query<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Query")
            .field("sql", &self.sql)
            .field("params", &self.params)
            .field("ttl", &self.ttl)
            .finish()
    }
}

impl<E: Execute> Query<E> {
    /// A query of `sql` on `exec`.
    pub fn new(exec: E, sql: impl Into<String>) -> Self {
        Query {
            exec,
            sql: sql.into(),
            params: Params::new(),
            ttl: Ttl::Forever,
        }
    }

    /// Appends a positional parameter (`?`, `$1`).
    pub fn bind(mut self, value: impl Into<Param>) -> Self {
        self.params.push(value);
        self
    }

    /// Sets a named parameter (`:name`).
    pub fn param(mut self, name: &str, value: impl Into<Param>) -> Self {
        self.params.set(name, value);
        self
    }

    /// Replaces all parameters.
    pub fn params(mut self, params: Params) -> Self {
        self.params = params;
        self
    }

    /// How long the result stays cached.
    pub fn ttl(mut self, ttl: impl Into<Ttl>) -> Self {
        self.ttl = ttl.into();
        self
    }

    /// The cache key: statement and parameters.
    pub fn cache_key(&self) -> String {
        let mut key = String::with_capacity(self.sql.len() + 16);
        key.push_str(&self.sql);
        key.push('\u{0}');
        self.params.write_canonical(&mut key);
        key
    }

    /// Runs the query (or answers from the cache) without blocking.
    pub async fn fetch(self) -> Result<Table> {
        let key = self.cache_key();
        if let Some(table) = self.exec.results().lookup(&key, self.ttl) {
            return Ok(table);
        }
        runtime::run(self.run_uncached_lookup(key)).await
    }

    /// Runs the query (or answers from the cache), blocking the calling thread. Works
    /// from plain code and from inside any tokio runtime. A cache hit never leaves the
    /// calling thread.
    pub fn blocking(self) -> Result<Table> {
        let key = self.cache_key();
        if let Some(table) = self.exec.results().lookup(&key, self.ttl) {
            return Ok(table);
        }
        runtime::block_on(self.run_uncached_lookup(key))
    }

    /// The miss path: single flight through the cache, then the statement.
    async fn run_uncached_lookup(self, key: String) -> Result<Table> {
        let Query {
            exec,
            sql,
            params,
            ttl,
        } = self;
        let span = tracing::info_span!("conn.query", ttl = %ttl);
        let results = exec.results().clone();
        results
            .fill(&key, ttl, || async move { exec.execute(sql, params).await })
            .instrument(span)
            .await
    }
}

impl<E: Execute> IntoFuture for Query<E> {
    type Output = Result<Table>;
    type IntoFuture = Pin<Box<dyn Future<Output = Result<Table>> + Send>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.fetch())
    }
}
