//! The query builder of every connection type that runs statements.
//!
//! ```ignore
//! // async
//! let pets = conn.query("select * from pet where owner = :owner")
//!     .param("owner", "Ada")
//!     .ttl(Duration::from_secs(600))
//!     .await?;
//! // blocking, from plain code or inside a runtime
//! let pets = conn.query("select * from pet").timeout(Duration::from_secs(5)).blocking()?;
//! ```

use std::fmt;
use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use crate::error::Result;
use crate::params::{Param, Params};
use crate::plugin::stream::{BatchStream, DEFAULT_PREFETCH};
use crate::plugin::{Base, Call, Idempotence, Queryable};
use crate::table::Table;
use crate::ttl::Ttl;

/// A statement with its parameters, ttl and time limit, run with `.await` or
/// [`blocking`](Self::blocking).
///
/// Results are cached per connection by statement and parameters. The default ttl is
/// forever, as in Streamlit; `ttl(Duration::ZERO)` turns caching off. A statement that
/// writes (`INSERT ... RETURNING`, `SELECT nextval(...)`; see
/// [`Queryable::is_read_only`]) is never cached, never retried once it reached the
/// server, and drops the connection's cached reads: Streamlit would cache it and skip
/// the write the next time.
#[must_use = "a query does nothing until it is awaited or run with .blocking()"]
pub struct Query<C: Queryable> {
    base: Base<C>,
    sql: String,
    params: Params,
    ttl: Ttl,
    timeout: Option<Duration>,
    prefetch: usize,
}

impl<C: Queryable> fmt::Debug for Query<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Query")
            .field("connection", &self.base.name())
            .field("sql", &self.sql)
            .field("params", &self.params)
            .field("ttl", &self.ttl)
            .field("timeout", &self.timeout)
            .field("prefetch", &self.prefetch)
            .finish()
    }
}

impl<C: Queryable> Query<C> {
    /// A query of `sql` on the connection `base` belongs to.
    pub fn new(base: &Base<C>, sql: impl Into<String>) -> Self {
        Query {
            base: base.clone(),
            sql: sql.into(),
            params: Params::new(),
            ttl: Ttl::Forever,
            timeout: None,
            prefetch: DEFAULT_PREFETCH,
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

    /// Stops the query (on the server too, where the type can) and fails with a
    /// timeout error if it takes longer than `limit`; replaces the connection's
    /// `timeout` setting for this query.
    pub fn timeout(mut self, limit: Duration) -> Self {
        self.timeout = Some(limit);
        self
    }

    /// For [`stream`](Self::stream): how many batches may be read ahead of the reader
    /// (default [`DEFAULT_PREFETCH`], at least 1). More smooths out a bursty source;
    /// each one costs a batch of memory.
    pub fn prefetch(mut self, batches: usize) -> Self {
        self.prefetch = batches.max(1);
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

    fn into_call(self) -> Call<Table> {
        let key = self.cache_key();
        let Query {
            base,
            sql,
            params,
            ttl,
            timeout,
            prefetch: _,
        } = self;
        let read_only = base.connector().is_read_only(&sql);
        let sql: Arc<str> = Arc::from(sql);
        let params = Arc::new(params);
        let stats = Arc::clone(base.handle().stats());
        let run = move |connector: Arc<C>, raw| {
            stats.record_query();
            connector.fetch(raw, Arc::clone(&sql), Arc::clone(&params))
        };
        // A statement that writes (`INSERT ... RETURNING`) runs every time, never twice,
        // and drops the cached reads it may have changed.
        let call = if read_only {
            base.read(key, ttl, Idempotence::Read, run)
        } else {
            base.write(run)
        };
        match timeout {
            Some(limit) => call.timeout(limit),
            None => call,
        }
    }

    /// Streams the result: resolves once the schema is known (with the first batch, or
    /// the end of a result without rows) to a [`BatchStream`] of record batches in the
    /// order the source sends them, the producer at most [`prefetch`](Self::prefetch)
    /// batches ahead. `.await` it or call `.blocking()`; the stream is a
    /// `futures::Stream` and, for blocking code, an iterator.
    ///
    /// A stream bypasses the result cache (the ttl is not used): it is for results too
    /// large to keep. An attempt that fails before the first batch is retried as
    /// `query()` would be; after it, an error ends the stream. The time limit
    /// (`timeout`) covers the wait for the first batch. Dropping the stream cancels
    /// the query on the server where the type can. A statement that writes runs once
    /// and drops the cached reads, as with `query()`.
    pub fn stream(self) -> Call<BatchStream> {
        let Query {
            base,
            sql,
            params,
            ttl: _,
            timeout,
            prefetch,
        } = self;
        let idempotence = if base.connector().is_read_only(&sql) {
            Idempotence::Read
        } else {
            Idempotence::Write
        };
        let sql: Arc<str> = Arc::from(sql);
        let params = Arc::new(params);
        let stats = Arc::clone(base.handle().stats());
        let call = base.stream(
            idempotence,
            prefetch,
            move |connector: Arc<C>, raw, sink| {
                stats.record_query();
                connector.fetch_stream(raw, Arc::clone(&sql), Arc::clone(&params), sink)
            },
        );
        match timeout {
            Some(limit) => call.timeout(limit),
            None => call,
        }
    }

    /// Runs the query (or answers from the cache), blocking the calling thread. Works
    /// from plain code and from inside any tokio runtime. A cache hit never leaves the
    /// calling thread.
    pub fn blocking(self) -> Result<Table> {
        self.into_call().blocking()
    }
}

impl<C: Queryable> IntoFuture for Query<C> {
    type Output = Result<Table>;
    type IntoFuture = Pin<Box<dyn Future<Output = Result<Table>> + Send>>;

    fn into_future(self) -> Self::IntoFuture {
        self.into_call().into_future()
    }
}
