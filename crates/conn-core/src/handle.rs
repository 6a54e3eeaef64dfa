//! The base handle every connection type can build on: Streamlit's `_instance`,
//! `reset()` and `close()`, made safe for many threads.
//!
//! * It connects lazily, on the first [`get`](Handle::get).
//! * Concurrent first uses run one connect; the others wait for it and share it.
//! * [`reset`](Handle::reset) drops the raw connection; the next use reconnects.
//! * [`check`](Handle::check) runs the type's health check and resets on failure.
//! * [`close`](Handle::close) releases the raw connection through the type's close.

use std::fmt;
use std::future::Future;
use std::sync::Arc;

use parking_lot::RwLock;
use tracing::Instrument;

use crate::error::Result;
use crate::retry::RetryPolicy;
use crate::runtime;
use crate::stats::{Stats, StatsSnapshot};

/// How a connection type opens, checks and closes its raw connection.
pub trait Connector: Send + Sync + 'static {
    /// The raw connection: a pool, a client. Cloning must be cheap (an `Arc` inside).
    type Raw: Clone + Send + Sync + 'static;

    /// Opens the raw connection. Runs on conn's runtime.
    fn connect(&self) -> impl Future<Output = Result<Self::Raw>> + Send;

    /// Checks that the raw connection still works (`SELECT 1`). Fine by default.
    fn health_check(&self, raw: &Self::Raw) -> impl Future<Output = Result<()>> + Send {
        let _ = raw;
        async { Ok(()) }
    }

    /// Releases the raw connection. Dropping it is the default.
    fn close(&self, raw: Self::Raw) -> impl Future<Output = ()> + Send {
        drop(raw);
        async {}
    }
}

/// A lazily connected, resettable raw connection. Cheap to clone (shared state).
pub struct Handle<C: Connector> {
    inner: Arc<Inner<C>>,
}

struct Inner<C: Connector> {
    connector: C,
    name: Arc<str>,
    type_name: &'static str,
    current: RwLock<Option<C::Raw>>,
    connecting: tokio::sync::Mutex<()>,
    stats: Arc<Stats>,
    retry: RwLock<RetryPolicy>,
}

impl<C: Connector> Drop for Inner<C> {
    fn drop(&mut self) {
        // A pool may need its runtime to wind down; the last user may be a plain thread.
        if let Some(raw) = self.current.get_mut().take() {
            runtime::drop_in_runtime(raw);
        }
    }
}

impl<C: Connector> Clone for Handle<C> {
    fn clone(&self) -> Self {
        Handle {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<C: Connector> fmt::Debug for Handle<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Handle")
            .field("name", &self.inner.name)
            .field("type", &self.inner.type_name)
            .field("connected", &self.is_connected())
            .finish_non_exhaustive()
    }
}

impl<C: Connector> Handle<C> {
    /// A handle that will connect with `connector`. `name` and `type_name` label
    /// tracing spans and errors.
    pub fn new(name: &str, type_name: &'static str, connector: C) -> Self {
        Handle {
            inner: Arc::new(Inner {
                connector,
                name: Arc::from(name),
                type_name,
                current: RwLock::new(None),
                connecting: tokio::sync::Mutex::new(()),
                stats: Arc::new(Stats::default()),
                retry: RwLock::new(RetryPolicy::default()),
            }),
        }
    }

    /// The connection name.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The connection type name.
    pub fn type_name(&self) -> &'static str {
        self.inner.type_name
    }

    /// The connector.
    pub fn connector(&self) -> &C {
        &self.inner.connector
    }

    /// The connection's counters, shared with its result cache.
    pub fn stats(&self) -> &Arc<Stats> {
        &self.inner.stats
    }

    /// A copy of the counters.
    pub fn stats_snapshot(&self) -> StatsSnapshot {
        self.inner.stats.snapshot()
    }

    /// The retry policy reads through this handle use.
    pub fn retry_policy(&self) -> RetryPolicy {
        *self.inner.retry.read()
    }

    /// Replaces the retry policy.
    pub fn set_retry_policy(&self, policy: RetryPolicy) {
        *self.inner.retry.write() = policy;
    }

    /// Whether a raw connection is open now.
    pub fn is_connected(&self) -> bool {
        self.inner.current.read().is_some()
    }

    /// The raw connection, connecting first if there is none. Concurrent callers share
    /// one connect. Must run on conn's runtime (the connection types' reads do).
    pub async fn get(&self) -> Result<C::Raw> {
        if let Some(raw) = self.inner.current.read().clone() {
            return Ok(raw);
        }
        let _connecting = self.inner.connecting.lock().await;
        if let Some(raw) = self.inner.current.read().clone() {
            return Ok(raw);
        }
        let span = tracing::info_span!(
            "conn.connect",
            connection = %self.inner.name,
            r#type = self.inner.type_name
        );
        let raw = self.inner.connector.connect().instrument(span).await?;
        self.inner.stats.record_connect();
        *self.inner.current.write() = Some(raw.clone());
        Ok(raw)
    }

    /// [`get`](Self::get) from any context: waits on conn's runtime.
    pub async fn connect(&self) -> Result<C::Raw> {
        let this = self.clone();
        runtime::run(async move { this.get().await }).await
    }

    /// [`get`](Self::get) from synchronous code.
    pub fn connect_blocking(&self) -> Result<C::Raw> {
        let this = self.clone();
        runtime::block_on(async move { this.get().await })
    }

    /// Drops the raw connection; the next use reconnects. In-flight work on the old
    /// connection finishes on it (it is closed when its last user lets go).
    pub fn reset(&self) {
        let old = self.inner.current.write().take();
        if let Some(old) = old {
            runtime::drop_in_runtime(old);
            tracing::info!(connection = %self.inner.name, "conn.reset");
            self.inner.stats.record_reset();
        }
    }

    /// Runs the type's health check on the current connection (connecting first if
    /// needed). A failed check resets the handle and returns the error.
    pub async fn check(&self) -> Result<()> {
        let this = self.clone();
        runtime::run(async move {
            let raw = this.get().await?;
            let outcome = this.inner.connector.health_check(&raw).await;
            if outcome.is_err() {
                this.reset();
            }
            outcome
        })
        .await
    }

    /// Closes the raw connection through the type's close. The handle stays usable: the
    /// next use reconnects.
    pub fn close(&self) {
        let Some(raw) = self.inner.current.write().take() else {
            return;
        };
        tracing::info!(connection = %self.inner.name, "conn.close");
        let this = self.clone();
        // Closing may wait on the server; do it on conn's runtime without making the
        // caller (often a cache eviction) wait.
        if let Ok(handle) = runtime::handle() {
            handle.spawn(async move { this.inner.connector.close(raw).await });
        }
    }

    /// Runs `op` with the raw connection, retrying by the handle's policy: a stale or
    /// transient error resets the connection, waits, and tries again on a new one;
    /// a permanent error returns at once. Must run on conn's runtime.
    pub async fn with_retry<T, F, Fut>(&self, mut op: F) -> Result<T>
    where
        F: FnMut(C::Raw) -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let policy = self.retry_policy();
        let mut attempt = 1;
        loop {
            let outcome = match self.get().await {
                Ok(raw) => op(raw).await,
                Err(err) => Err(err),
            };
            match outcome {
                Err(err) if err.class().is_retryable() && attempt < policy.attempts => {
                    tracing::warn!(
                        connection = %self.inner.name,
                        attempt,
                        error = %err,
                        "conn.retry"
                    );
                    self.reset();
                    self.inner.stats.record_retry();
                    attempt += 1;
                    tokio::time::sleep(policy.wait).await;
                }
                Err(err) => {
                    if err.class().is_retryable() {
                        self.reset();
                    }
                    return Err(err);
                }
                Ok(value) => return Ok(value),
            }
        }
    }
}

#[cfg(test)]
mod tests;
