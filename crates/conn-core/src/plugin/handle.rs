//! The raw connection of a connection type: Streamlit's `_instance`, `reset()` and
//! `close()`, made safe for many threads.
//!
//! * It connects lazily, on the first [`get`](Handle::get), within `connect_timeout`.
//! * Concurrent first uses run one connect; the others wait for it and share its
//!   connection, or its error (they do not repeat a connect that just failed).
//! * Every connection it opens has a generation. [`reset_if`](Handle::reset_if) drops
//!   the raw connection only if it is still the one a caller failed on, so that many
//!   callers hitting one broken connection reconnect once, and a caller never drops a
//!   connection that another caller just opened.
//! * After a reset the configuration is resolved again (when the factory gave a way
//!   to), so a reset connection reconnects with the current secrets, as Streamlit's
//!   does.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use arc_swap::ArcSwap;
use parking_lot::RwLock;
use tracing::Instrument;

use crate::config::{ConnectionConfig, Resolve};
use crate::error::{Error, Limit, Result, TimeoutError};
use crate::runtime;
use crate::stats::Stats;
use crate::value::Source;

/// How a connection type opens, checks and closes its raw connection: the part of a
/// connection type that talks to the data source.
pub trait Connector: Send + Sync + Sized + 'static {
    /// The raw connection: a pool, a client. Cloning must be cheap (an `Arc` inside).
    type Raw: Clone + Send + Sync + 'static;

    /// Reads the settings from the resolved configuration, without any I/O. Called when
    /// the connection is built, and again after a reset when the secrets changed.
    fn from_config(config: &ConnectionConfig) -> Result<Self>;

    /// Opens the raw connection. Runs on conn's runtime, within `connect_timeout`.
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

    /// Whether dropping the raw connection loses data (an in-memory database). Such a
    /// connection is never reset by a retry, only by an explicit `reset()`.
    fn reset_loses_data(&self) -> bool {
        false
    }
}

/// A raw connection and the generation of the connect that opened it.
#[derive(Clone, Debug)]
pub struct Lease<R> {
    raw: R,
    generation: u64,
}

impl<R> Lease<R> {
    /// The raw connection.
    pub fn raw(&self) -> &R {
        &self.raw
    }

    /// The raw connection, owned.
    pub fn into_raw(self) -> R {
        self.raw
    }

    /// Which connect opened it: pass it to [`Handle::reset_if`].
    pub fn generation(&self) -> u64 {
        self.generation
    }
}

/// The limit on one connect.
#[derive(Clone, Debug)]
pub(crate) struct ConnectTimeout {
    pub(crate) after: Duration,
    pub(crate) at: Source,
}

/// A lazily connected, resettable raw connection. Cheap to clone (shared state).
pub struct Handle<C: Connector> {
    inner: Arc<Inner<C>>,
}

struct Inner<C: Connector> {
    name: Arc<str>,
    type_name: &'static str,
    connector: ArcSwap<C>,
    current: RwLock<Option<Lease<C::Raw>>>,
    generations: AtomicU64,
    /// Held while connecting; holds the error of the last connect if it failed.
    connecting: tokio::sync::Mutex<Option<Error>>,
    connects_finished: AtomicU64,
    stats: Arc<Stats>,
    connect_timeout: ConnectTimeout,
    resolve: Option<Arc<Resolve>>,
    /// Set by a reset: resolve the configuration again before the next connect.
    reconfigure: AtomicBool,
    /// Counts resets and closes: a connect that a reset overtook is not installed.
    resets: AtomicU64,
}

impl<C: Connector> Drop for Inner<C> {
    fn drop(&mut self) {
        // A pool may need its runtime to wind down; the last user may be a plain thread.
        if let Some(lease) = self.current.get_mut().take() {
            runtime::drop_in_runtime(lease);
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
    /// A handle for the connection `config` describes: the connector is built from it
    /// now (no I/O); connecting waits for the first use.
    pub fn from_config(config: &ConnectionConfig, type_name: &'static str) -> Result<Self> {
        let connector = C::from_config(config)?;
        let settings = crate::plugin::settings::CommonSettings::from_config(config)?;
        Ok(Self::build(
            config.name(),
            type_name,
            connector,
            settings.connect_timeout,
            config.resolver(),
        ))
    }

    /// A handle around an already built connector (tests, and types that build their
    /// connector themselves). It never re-resolves its configuration.
    pub fn new(name: &str, type_name: &'static str, connector: C) -> Self {
        Self::build(
            name,
            type_name,
            connector,
            crate::plugin::settings::CommonSettings::default().connect_timeout,
            None,
        )
    }

    fn build(
        name: &str,
        type_name: &'static str,
        connector: C,
        connect_timeout: ConnectTimeout,
        resolve: Option<Arc<Resolve>>,
    ) -> Self {
        Handle {
            inner: Arc::new(Inner {
                name: Arc::from(name),
                type_name,
                connector: ArcSwap::from_pointee(connector),
                current: RwLock::new(None),
                generations: AtomicU64::new(0),
                connecting: tokio::sync::Mutex::new(None),
                connects_finished: AtomicU64::new(0),
                stats: Arc::new(Stats::default()),
                connect_timeout,
                resolve,
                reconfigure: AtomicBool::new(false),
                resets: AtomicU64::new(0),
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

    /// The current connector (a new one after a reset that picked up changed secrets).
    pub fn connector(&self) -> Arc<C> {
        self.inner.connector.load_full()
    }

    /// The connection's counters, shared with its result cache.
    pub fn stats(&self) -> &Arc<Stats> {
        &self.inner.stats
    }

    /// Whether a raw connection is open now.
    pub fn is_connected(&self) -> bool {
        self.inner.current.read().is_some()
    }

    /// The raw connection with its generation, connecting first if there is none.
    /// Concurrent callers share one connect, and its error if it fails. Must run on
    /// conn's runtime. A connect error is marked as raised before anything was sent.
    pub async fn get(&self) -> Result<Lease<C::Raw>> {
        if let Some(lease) = self.inner.current.read().clone() {
            return Ok(lease);
        }
        let seen = self.inner.connects_finished.load(Ordering::Acquire);
        let mut last_failure = self.inner.connecting.lock().await;
        if let Some(lease) = self.inner.current.read().clone() {
            return Ok(lease);
        }
        if self.inner.connects_finished.load(Ordering::Acquire) > seen
            && let Some(err) = last_failure.as_ref()
        {
            return Err(err.clone());
        }
        let outcome = self.connect_now().await;
        self.inner.connects_finished.fetch_add(1, Ordering::AcqRel);
        match outcome {
            Ok(lease) => {
                *last_failure = None;
                Ok(lease)
            }
            Err(err) => {
                *last_failure = Some(err.clone());
                Err(err)
            }
        }
    }

    /// One connect (the caller holds the connecting lock). If a reset or close happens
    /// while it runs, its connection serves this caller but is not installed: the next
    /// caller connects again, with the configuration resolved again.
    async fn connect_now(&self) -> Result<Lease<C::Raw>> {
        let resets = self.inner.resets.load(Ordering::Acquire);
        if self.inner.reconfigure.swap(false, Ordering::AcqRel)
            && let Some(resolve) = &self.inner.resolve
        {
            match resolve().and_then(|config| C::from_config(&config)) {
                Ok(connector) => self.inner.connector.store(Arc::new(connector)),
                Err(err) => {
                    self.inner.reconfigure.store(true, Ordering::Release);
                    return Err(err);
                }
            }
        }
        let connector = self.connector();
        let span = tracing::info_span!(
            "conn.connect",
            connection = %self.inner.name,
            r#type = self.inner.type_name
        );
        let limit = &self.inner.connect_timeout;
        let raw =
            match tokio::time::timeout(limit.after, connector.connect().instrument(span)).await {
                Ok(Ok(raw)) => raw,
                Ok(Err(err)) => return Err(err.before_send()),
                Err(_) => {
                    return Err(TimeoutError {
                        connection: self.inner.name.to_string(),
                        operation: "connect".into(),
                        after: limit.after,
                        limit: Limit::Setting {
                            key: "connect_timeout",
                            at: limit.at.clone(),
                        },
                    }
                    .into());
                }
            };
        self.inner.stats.record_connect();
        let lease = Lease {
            raw,
            generation: self.inner.generations.fetch_add(1, Ordering::Relaxed) + 1,
        };
        let mut current = self.inner.current.write();
        if self.inner.resets.load(Ordering::Acquire) == resets {
            *current = Some(lease.clone());
        } else {
            tracing::debug!(connection = %self.inner.name, "conn.connect: overtaken by a reset; not kept");
        }
        Ok(lease)
    }

    /// Drops the raw connection; the next use reconnects, with the configuration
    /// resolved again. In-flight work on the old connection finishes on it (it is
    /// closed when its last user lets go).
    pub fn reset(&self) {
        self.inner.reconfigure.store(true, Ordering::Release);
        let old = {
            let mut current = self.inner.current.write();
            self.inner.resets.fetch_add(1, Ordering::AcqRel);
            current.take()
        };
        if let Some(old) = old {
            runtime::drop_in_runtime(old);
            tracing::info!(connection = %self.inner.name, "conn.reset");
            self.inner.stats.record_reset();
        }
    }

    /// Drops the raw connection only if it is still the one of `generation` (the one a
    /// caller failed on). Returns whether it did.
    pub fn reset_if(&self, generation: u64) -> bool {
        let old = {
            let mut current = self.inner.current.write();
            if current.as_ref().is_some_and(|l| l.generation == generation) {
                current.take()
            } else {
                None
            }
        };
        match old {
            Some(old) => {
                runtime::drop_in_runtime(old);
                tracing::info!(connection = %self.inner.name, generation, "conn.reset");
                self.inner.stats.record_reset();
                true
            }
            None => false,
        }
    }

    /// Runs the type's health check on the current connection (connecting first if
    /// needed). A check that finds the connection gone (a stale error) resets that
    /// connection, unless resetting it would lose data; every failure is returned.
    pub async fn check(&self) -> Result<()> {
        let lease = self.get().await?;
        let connector = self.connector();
        let outcome = connector.health_check(&lease.raw).await;
        if let Err(err) = &outcome
            && err.class() == crate::error::ErrorClass::Stale
            && !connector.reset_loses_data()
        {
            self.reset_if(lease.generation);
        }
        outcome
    }

    /// Closes the raw connection through the type's close. The handle stays usable: the
    /// next use reconnects.
    pub fn close(&self) {
        let taken = {
            let mut current = self.inner.current.write();
            self.inner.resets.fetch_add(1, Ordering::AcqRel);
            current.take()
        };
        let Some(lease) = taken else {
            return;
        };
        tracing::info!(connection = %self.inner.name, "conn.close");
        let connector = self.connector();
        // Closing may wait on the server; do it on conn's runtime without making the
        // caller (often a cache eviction) wait.
        runtime::spawn_detached(async move { connector.close(lease.raw).await });
    }
}

#[cfg(test)]
#[path = "handle_tests.rs"]
mod tests;
