//! [`Base`]: the lifecycle every connection type shares, written once.
//!
//! A connection type holds a `Base` and writes only what is its own: a [`Connector`]
//! (connect, health check, close), its reads and writes as closures over the raw
//! connection, and its drivers' error classification. The base gives it:
//!
//! * the lazy, resettable raw connection ([`Handle`]) and its counters;
//! * the result cache, with single flight, under the process-wide byte budget;
//! * the retry loop: stale and transient errors are retried (a stale one resets the
//!   connection that failed, not one another caller just opened); a write is retried
//!   only if it failed before anything was sent;
//! * time limits (`timeout`, `connect_timeout`, `.timeout()`) and cancellation on drop;
//! * a [`Call`] for every operation, awaitable and blocking.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;
use parking_lot::RwLock;

use super::call::Call;
use super::handle::{Connector, Handle, Lease};
use super::runtime;
use super::settings::CommonSettings;
use super::settle::Settle;
use crate::cache::{CacheValue, ResultCache};
use crate::config::ConnectionConfig;
use crate::error::{Error, ErrorClass, Limit, Result};
use crate::plugin::stream::{self, AbortOnDrop, BatchSink, BatchStream};
use crate::retry::RetryPolicy;
use crate::stats::StatsSnapshot;
use crate::table::Table;
use crate::ttl::Ttl;

/// Whether an operation may run twice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Idempotence {
    /// A read: running it again after a failure changes nothing, so it is retried even
    /// if the failed attempt reached the server.
    Read,
    /// A write: retried only if the failed attempt never reached the server (it failed
    /// while connecting), so it is never applied twice.
    Write,
}

/// The shared lifecycle of one connection instance. Cheap to clone (shared).
pub struct Base<C: Connector, V: CacheValue = Table> {
    inner: Arc<Inner<C, V>>,
}

struct Inner<C: Connector, V: CacheValue> {
    handle: Handle<C>,
    results: ResultCache<V>,
    retry: RwLock<RetryPolicy>,
    timeout: Option<(Duration, Limit)>,
    /// Where the connection was configured, for errors.
    origin: Option<String>,
}

impl<C: Connector, V: CacheValue> Clone for Base<C, V> {
    fn clone(&self) -> Self {
        Base {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<C: Connector, V: CacheValue> fmt::Debug for Base<C, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Base")
            .field("name", &self.name())
            .field("type", &self.type_name())
            .field("connected", &self.is_connected())
            .finish_non_exhaustive()
    }
}

impl<C: Connector, V: CacheValue> Base<C, V> {
    /// The base of a connection of type `type_name` from its resolved configuration:
    /// reads the common keys (`retry`, `timeout`, `connect_timeout`) and builds the
    /// connector (no I/O).
    pub fn new(config: &ConnectionConfig, type_name: &'static str) -> Result<Self> {
        let settings = CommonSettings::from_config(config)?;
        let handle = Handle::from_config(config, type_name)?;
        let mut results = ResultCache::with_budget(Arc::clone(handle.stats()), config.budget());
        if let Some(group) = config.results_group() {
            results = results.in_group(group.clone());
        }
        Ok(Base {
            inner: Arc::new(Inner {
                handle,
                results,
                retry: RwLock::new(settings.retry),
                timeout: settings.timeout,
                origin: config.origin().map(ToString::to_string),
            }),
        })
    }

    /// The connection name.
    pub fn name(&self) -> &str {
        self.inner.handle.name()
    }

    /// The connection type name.
    pub fn type_name(&self) -> &'static str {
        self.inner.handle.type_name()
    }

    /// The raw connection's handle.
    pub fn handle(&self) -> &Handle<C> {
        &self.inner.handle
    }

    /// The current connector.
    pub fn connector(&self) -> Arc<C> {
        self.inner.handle.connector()
    }

    /// The result cache.
    pub fn results(&self) -> &ResultCache<V> {
        &self.inner.results
    }

    /// Counters: connects, queries, cache hits and misses, retries, resets.
    pub fn stats(&self) -> StatsSnapshot {
        self.inner.handle.stats().snapshot()
    }

    /// Whether a raw connection is open now.
    pub fn is_connected(&self) -> bool {
        self.inner.handle.is_connected()
    }

    /// The connection's `timeout` setting (the limit on each operation) and where it was
    /// set, for operations a type times itself (statements in a session).
    pub fn timeout(&self) -> Option<(Duration, Limit)> {
        self.inner.timeout.clone()
    }

    /// The retry policy of this connection.
    pub fn retry_policy(&self) -> RetryPolicy {
        *self.inner.retry.read()
    }

    /// Replaces the retry policy.
    pub fn set_retry_policy(&self, policy: RetryPolicy) {
        *self.inner.retry.write() = policy;
    }

    /// Drops the raw connection and the cached results; the next use reconnects with
    /// the configuration resolved again.
    pub fn reset(&self) {
        self.inner.handle.reset();
        self.inner.results.clear();
    }

    /// Releases the raw connection and the cached results (the connection cache calls
    /// this on eviction). Using the connection afterwards reconnects.
    pub fn close(&self) {
        self.inner.handle.close();
        self.inner.results.clear();
    }

    /// The raw connection, connecting first if needed.
    pub fn raw(&self) -> Call<C::Raw> {
        let handle = self.inner.handle.clone();
        self.call(
            "connect",
            async move { handle.get().await.map(Lease::into_raw) },
        )
    }

    /// Runs the type's health check; a failure resets the connection that failed.
    pub fn health_check(&self) -> Call<()> {
        let handle = self.inner.handle.clone();
        let origin = self.inner.origin.clone();
        self.call("health check", async move {
            handle
                .check()
                .await
                .map_err(|err| with_origin(err, origin.as_deref()))
        })
    }

    /// Any operation of this connection as a [`Call`], with the connection's `timeout`.
    pub fn call<T: Send + 'static>(
        &self,
        operation: &'static str,
        future: impl Future<Output = Result<T>> + Send + 'static,
    ) -> Call<T> {
        Call::new(self.name(), operation, future).default_limit(self.inner.timeout.clone())
    }

    /// A read through the result cache: a hit is answered on the caller's thread; a
    /// miss runs `read` (once for all concurrent callers of `key`, with retries) on
    /// conn's runtime and stores its value for `ttl`.
    pub fn read<F, Fut>(&self, key: String, ttl: Ttl, idempotence: Idempotence, read: F) -> Call<V>
    where
        F: Fn(Arc<C>, C::Raw) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<V>> + Send + 'static,
    {
        if let Some(value) = self.inner.results.lookup(&key, ttl) {
            return Call::ready(Ok(value));
        }
        let this = self.clone();
        self.call("query", async move {
            let results = this.inner.results.clone();
            let span = tracing::info_span!("conn.query", connection = %this.name(), ttl = %ttl);
            tracing::Instrument::instrument(
                results.fill(&key, ttl, || this.run(idempotence, read)),
                span,
            )
            .await
        })
    }

    /// A write: never retried once it may have reached the server. Whether it succeeds,
    /// fails after reaching the server, or is dropped half-way (a time limit, a caller
    /// that gave up), the cached results are dropped: they may be out of date.
    pub fn write<T, F, Fut>(&self, write: F) -> Call<T>
    where
        T: Send + 'static,
        F: Fn(Arc<C>, C::Raw) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<T>> + Send + 'static,
    {
        let this = self.clone();
        self.call("write", async move {
            this.write_settled(write, || true, || false).await
        })
    }

    /// The body of [`write`](Self::write), without its `Call` (and so without its time
    /// limit): retried while `may_retry()` (and the error allows it); the cached results
    /// are kept only when the write failed before reaching the server and `ran()` says
    /// nothing of it ran either.
    async fn write_settled<T, F, Fut>(
        &self,
        write: F,
        may_retry: impl Fn() -> bool,
        ran: impl Fn() -> bool,
    ) -> Result<T>
    where
        F: Fn(Arc<C>, C::Raw) -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        // Dropped half-way, the guard clears once the work it started has ended.
        let (outcome, stale_results) = Settle::new(
            self.inner.results.clear_on_drop(),
            self.run_while(Idempotence::Write, write, may_retry),
        )
        .await;
        if let Some(stale_results) = stale_results
            && outcome
                .as_ref()
                .is_err_and(|err| !err.may_have_reached_server() && !ran())
        {
            // Nothing reached the server: the cached results are still true.
            stale_results.disarm();
        }
        outcome
    }

    /// A streamed read (or a write that returns rows): `produce` sends one attempt's
    /// batches into its sink. Resolves once the schema is known to a [`BatchStream`];
    /// the producer runs on conn's runtime at most `prefetch` batches ahead of the
    /// reader and is aborted when the stream is dropped (which cancels the query on the
    /// server where the type can).
    ///
    /// An attempt that fails before it handed out a batch is retried like any read (a
    /// write: only if nothing was sent); after that the error ends the stream. A write
    /// drops the cached results, as [`write`](Self::write) does. The result cache is
    /// not used. The connection's `timeout` covers the wait for the first batch.
    pub fn stream<F, Fut>(
        &self,
        idempotence: Idempotence,
        prefetch: usize,
        produce: F,
    ) -> Call<BatchStream>
    where
        F: Fn(Arc<C>, C::Raw, BatchSink) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<()>> + Send + 'static,
    {
        let (sink, receiver) = stream::channel(prefetch);
        let this = self.clone();
        let producer = async move {
            let attempt_sink = sink.clone();
            let attempt =
                move |connector: Arc<C>, raw: C::Raw| produce(connector, raw, attempt_sink.clone());
            // Rows handed out cannot be taken back: no attempt starts over after them. A
            // write whose statement ran (it touched the sink) is not run again either.
            let may_retry = || match idempotence {
                Idempotence::Read => !sink.started(),
                Idempotence::Write => !sink.touched(),
            };
            let outcome = match idempotence {
                Idempotence::Read => this.run_while(Idempotence::Read, attempt, may_retry).await,
                Idempotence::Write => {
                    this.write_settled(attempt, may_retry, || sink.touched())
                        .await
                }
            };
            match outcome {
                Ok(()) => sink.end().await,
                Err(err) => sink.fail(err).await,
            }
        };
        let producer = async move {
            // A producer that panics ends the stream with an error, never as if the
            // result were complete.
            if let Err(panic) = std::panic::AssertUnwindSafe(producer).catch_unwind().await {
                tracing::error!(panic = %panic_text(&panic), "conn.stream producer panicked");
            }
        };
        self.call("stream", async move {
            let task = runtime::handle()?.spawn(producer);
            BatchStream::start(receiver, AbortOnDrop::new(task)).await
        })
    }

    /// Runs `op` on the raw connection with the retry policy: a retryable error
    /// (stale or transient) is tried again after a short backoff; a stale one first
    /// resets the connection it happened on. A write is retried only if it failed
    /// before anything was sent. Errors say where the connection was configured.
    pub async fn run<T, F, Fut>(&self, idempotence: Idempotence, op: F) -> Result<T>
    where
        F: Fn(Arc<C>, C::Raw) -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        self.run_while(idempotence, op, || true).await
    }

    /// [`run`](Self::run), retrying only while `may_retry()` also says so (a stream that
    /// handed out rows may not start over). A stale error still resets its connection.
    async fn run_while<T, F, Fut>(
        &self,
        idempotence: Idempotence,
        op: F,
        may_retry: impl Fn() -> bool,
    ) -> Result<T>
    where
        F: Fn(Arc<C>, C::Raw) -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let policy = self.retry_policy();
        let handle = &self.inner.handle;
        let mut attempt = 1;
        loop {
            let (outcome, generation) = match handle.get().await {
                Ok(lease) => {
                    let generation = lease.generation();
                    (
                        op(handle.connector(), lease.into_raw()).await,
                        Some(generation),
                    )
                }
                Err(err) => (Err(err), None),
            };
            let err = match outcome {
                Ok(value) => return Ok(value),
                Err(err) => err,
            };
            let stale = err.class() == ErrorClass::Stale;
            let resets = stale && !handle.connector().reset_loses_data();
            if resets && let Some(generation) = generation {
                handle.reset_if(generation);
            }
            let retry = err.class().is_retryable()
                && (!stale || resets)
                && (idempotence == Idempotence::Read || !err.may_have_reached_server())
                && attempt < policy.attempts
                && may_retry();
            if !retry {
                return Err(err.on_connection(self.name(), self.inner.origin.as_deref()));
            }
            let wait = backoff(policy, attempt);
            tracing::warn!(
                connection = %self.name(),
                attempt,
                wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
                error = %err,
                "conn.retry"
            );
            handle.stats().record_retry();
            attempt += 1;
            tokio::time::sleep(wait).await;
        }
    }
}

/// The pause before attempt `attempt + 1`: 100 ms, doubling, at most the policy's wait.
fn backoff(policy: RetryPolicy, attempt: u32) -> Duration {
    let exponent = attempt.saturating_sub(1).min(16);
    Duration::from_millis(100)
        .saturating_mul(1 << exponent)
        .min(policy.wait)
}

/// The message of a caught panic.
fn panic_text(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic".to_owned())
}

fn with_origin(err: Error, origin: Option<&str>) -> Error {
    match origin {
        Some(origin) => err.configured_at(origin),
        None => err,
    }
}

#[cfg(test)]
#[path = "base_tests.rs"]
mod tests;
