//! The connection factory: `st.connection` for Rust.
//!
//! ```no_run
//! # use conn_core::{ConnectionFactory, Result};
//! # fn demo<T: conn_core::ConnectionType>() -> Result<()> {
//! // Typed: the type is given, the name picks the secrets section.
//! let conn = conn_core::connection::<T>("pets_db")?;
//! // Dynamic: the type comes from `type = "..."` (or the name, or CONN_<NAME>__TYPE).
//! let any = conn_core::connection_dyn("pets_db")?;
//! // With options (Streamlit's kwargs), a ttl and a bound on cached entries:
//! let conn = ConnectionFactory::global()
//!     .connection("pets_db")
//!     .option("autocommit", true)
//!     .ttl(std::time::Duration::from_secs(600))
//!     .max_entries(4)
//!     .get::<T>()?;
//! # Ok(()) }
//! ```

mod builder;
mod connections;
mod request;
mod resolve;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock};

use arc_swap::ArcSwap;

pub use builder::{DEFAULT_TTL_VAR, FactoryBuilder, INTERPOLATE_VAR};
pub use request::ConnectionRequest;

use crate::any_connection::AnyConnection;
use crate::budget::Budget;
use crate::cache::ResultGroup;
use crate::connection::ConnectionType;
use crate::error::{Error, Result};
use crate::registry::Registry;
use crate::secrets::{Secrets, SecretsError, SecretsLocations};
use crate::ttl::Ttl;
use crate::value::{Env, Value};
use crate::watch::SecretsWatcher;
use connections::ConnectionCache;

type SecretsState = std::result::Result<Arc<Secrets>, SecretsError>;

/// Creates, caches and hands out connections. [`ConnectionFactory::global`] is the
/// one `conn::connection` uses; build your own with [`ConnectionFactory::builder`] to
/// read other secrets files or a fixed environment. Cheap to clone (shared).
#[derive(Clone)]
pub struct ConnectionFactory {
    inner: Arc<FactoryInner>,
}

struct FactoryInner {
    registry: &'static Registry,
    env: Env,
    locations: SecretsLocations,
    secrets: ArcSwap<SecretsState>,
    /// Secrets were given in code: reloads and watchers leave them alone.
    fixed_secrets: bool,
    /// Whether `${VAR}` references in secrets are expanded.
    interpolate: bool,
    cache: Arc<ConnectionCache>,
    default_ttl: std::result::Result<Ttl, String>,
    budget: Budget,
    /// The result caches of each connection name's instances, cleared together.
    results_groups: parking_lot::Mutex<HashMap<String, ResultGroup>>,
    /// Counts secrets replacements: a connection built from secrets that were replaced
    /// while it was being built is not cached.
    secrets_generation: AtomicU64,
}

impl std::fmt::Debug for ConnectionFactory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectionFactory")
            .field("locations", &self.inner.locations)
            .field("cached_connections", &self.inner.cache.len())
            .finish_non_exhaustive()
    }
}

static GLOBAL: LazyLock<ConnectionFactory> = LazyLock::new(|| ConnectionFactory::builder().build());

/// A typed connection from the global factory: `connection::<SqlConnection>("pets_db")`.
pub fn connection<T: ConnectionType>(name: &str) -> Result<Arc<T>> {
    ConnectionFactory::global().get::<T>(name)
}

/// A connection whose type is read from its configuration, from the global factory.
pub fn connection_dyn(name: &str) -> Result<AnyConnection> {
    ConnectionFactory::global().get_dyn(name)
}

impl FactoryInner {
    fn secrets_generation(&self) -> u64 {
        self.secrets_generation.load(Ordering::Acquire)
    }

    fn secrets(&self) -> Result<Arc<Secrets>> {
        match &**self.secrets.load() {
            Ok(secrets) => Ok(Arc::clone(secrets)),
            Err(err) => Err(err.clone().into()),
        }
    }
}

impl ConnectionFactory {
    /// The process-wide factory: the default secrets locations, the process
    /// environment, the global registry. Created on first use.
    pub fn global() -> &'static ConnectionFactory {
        &GLOBAL
    }

    /// Settings for a new factory.
    pub fn builder() -> FactoryBuilder {
        FactoryBuilder::default()
    }

    /// Watches the secrets locations and applies changes as
    /// [`reload_secrets`](Self::reload_secrets) does, until the watcher is dropped.
    /// Refused when the secrets were given in code (there is nothing to watch).
    pub fn watch_secrets(&self) -> Result<SecretsWatcher> {
        if self.inner.fixed_secrets {
            return Err(Error::InvalidArgument(
                "this factory's secrets were given in code (FactoryBuilder::secrets); there \
                 are no secrets files to watch"
                    .into(),
            ));
        }
        let weak = Arc::downgrade(&self.inner);
        SecretsWatcher::start(self.inner.locations.as_slice(), move || {
            let Some(inner) = weak.upgrade() else {
                return;
            };
            match (ConnectionFactory { inner }).reload_secrets() {
                Ok(reset) if reset.is_empty() => {
                    tracing::debug!("conn.secrets.reload: no connection section changed");
                }
                Ok(reset) => {
                    tracing::info!(connections = ?reset, "conn.secrets.reload: reset changed connections");
                }
                Err(err) => {
                    tracing::error!(error = %err, "conn.secrets.reload failed; keeping the last good secrets");
                }
            }
        })
    }

    /// A request for the connection called `name`, to set options on before
    /// [`get`](ConnectionRequest::get).
    pub fn connection(&self, name: &str) -> ConnectionRequest<'_> {
        ConnectionRequest::new(self, name)
    }

    /// The connection `name` as a `T`, from the cache or new.
    pub fn get<T: ConnectionType>(&self, name: &str) -> Result<Arc<T>> {
        self.connection(name).get::<T>()
    }

    /// The connection `name`, its type read from its configuration.
    pub fn get_dyn(&self, name: &str) -> Result<AnyConnection> {
        self.connection(name).get_dyn()
    }

    /// The loaded secrets, or the error that loading them gave.
    pub fn secrets(&self) -> Result<Arc<Secrets>> {
        self.inner.secrets()
    }

    /// The secrets locations this factory reads.
    pub fn secrets_locations(&self) -> &SecretsLocations {
        &self.inner.locations
    }

    /// The environment this factory reads.
    pub fn env(&self) -> &Env {
        &self.inner.env
    }

    /// The registry this factory resolves type names in.
    pub fn registry(&self) -> &'static Registry {
        self.inner.registry
    }

    /// The byte budget of this factory's result caches.
    pub fn result_cache_budget(&self) -> &Budget {
        &self.inner.budget
    }

    /// Closes and forgets every cached connection called `name`. Returns how many.
    pub fn clear_connection(&self, name: &str) -> usize {
        self.inner.cache.clear_name(name)
    }

    /// Closes and forgets every cached connection. Returns how many.
    pub fn clear(&self) -> usize {
        self.inner.cache.clear()
    }

    /// How many connections are cached.
    pub fn cached_connections(&self) -> usize {
        self.inner.cache.len()
    }

    /// Re-reads the secrets locations. On success, every cached connection whose own
    /// `[connections.<name>]` section changed is reset (its raw connection and cached
    /// results are dropped; its next use resolves its configuration again) and leaves
    /// the cache, so the next request builds it from the new values; the others are
    /// untouched. Returns the names that were reset. On a parse error the last good
    /// secrets stay in use and the error is returned. Secrets given in code are kept:
    /// then nothing is read and nothing is reset.
    pub fn reload_secrets(&self) -> Result<Vec<String>> {
        if self.inner.fixed_secrets {
            tracing::debug!("conn.secrets.reload: secrets were given in code; kept");
            return Ok(Vec::new());
        }
        let interpolate = self.inner.interpolate.then_some(&self.inner.env);
        let new = Secrets::load_from(&self.inner.locations, interpolate)?;
        Ok(self.replace_secrets(new))
    }

    /// Installs new secrets (see [`reload_secrets`](Self::reload_secrets)).
    pub fn replace_secrets(&self, new: Secrets) -> Vec<String> {
        let inner = &self.inner;
        let old = inner.secrets.swap(Arc::new(Ok(Arc::new(new))));
        inner.secrets_generation.fetch_add(1, Ordering::AcqRel);
        let current = inner.secrets.load();
        let (Ok(new), old) = (&**current, &*old) else {
            return Vec::new();
        };
        let section_key = |secrets: &Secrets, name: &str| {
            secrets.connection_section(name).map(Value::canonical_key)
        };
        let mut reset = Vec::new();
        for (name, cached) in inner.cache.live() {
            let before = old.as_ref().ok().and_then(|s| section_key(s, &name));
            let after = section_key(new, &name);
            if before != after {
                tracing::info!(connection = %name, "secrets section changed: resetting");
                cached.conn.reset();
                reset.push(name.into_string());
            }
        }
        reset.sort();
        reset.dedup();
        for name in &reset {
            inner.cache.forget_name(name);
        }
        reset
    }

    fn resolve_name(&self, name: &str) -> Result<String> {
        match name.strip_prefix("env:") {
            Some(var) => self
                .inner
                .env
                .get(var)
                .ok_or_else(|| Error::NameVariableUnset {
                    var: var.to_owned(),
                }),
            None => Ok(name.to_owned()),
        }
    }
}

#[cfg(test)]
mod tests;
