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

use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock};

use arc_swap::ArcSwap;

use crate::config::{ConnectionConfig, Searched, env_layer, env_prefix};
use crate::connection::{AnyConnection, ConnectionType};
use crate::connection_cache::{CacheKey, Cached, ConnectionCache, Reuse};
use crate::error::{ConfigError, Error, Result};
use crate::registry::{ConnectionTypeInfo, Registry};
use crate::secrets::{Secrets, SecretsError, SecretsLocations};
use crate::suggest;
use crate::ttl::Ttl;
use crate::value::write_canonical_map as value_canonical_map;
use crate::value::{Env, Kind, Map, Source, Value, merge_over};
use crate::watch::SecretsWatcher;

/// The variable that sets the default connection ttl (Streamlit's
/// `runner.connectionDefaultTTL`, which `.streamlit/config.toml` can also set).
pub const DEFAULT_TTL_VAR: &str = "CONN_CONNECTION_DEFAULT_TTL";

type SecretsState = std::result::Result<Arc<Secrets>, SecretsError>;

/// Creates, caches and hands out connections. [`ConnectionFactory::global`] is the
/// one `conn::connection` uses; build your own with [`ConnectionFactory::builder`] to
/// read other secrets files or a fixed environment.
pub struct ConnectionFactory {
    registry: &'static Registry,
    env: Env,
    locations: SecretsLocations,
    secrets: ArcSwap<SecretsState>,
    cache: ConnectionCache,
    default_ttl: std::result::Result<Ttl, String>,
}

impl std::fmt::Debug for ConnectionFactory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectionFactory")
            .field("locations", &self.locations)
            .field("cached_connections", &self.cache.len())
            .finish_non_exhaustive()
    }
}

static GLOBAL: LazyLock<Arc<ConnectionFactory>> =
    LazyLock::new(|| Arc::new(ConnectionFactory::builder().build()));

/// A typed connection from the global factory: `connection::<SqlConnection>("pets_db")`.
pub fn connection<T: ConnectionType>(name: &str) -> Result<Arc<T>> {
    ConnectionFactory::global().get::<T>(name)
}

/// A connection whose type is read from its configuration, from the global factory.
pub fn connection_dyn(name: &str) -> Result<AnyConnection> {
    ConnectionFactory::global().get_dyn(name)
}

/// Settings for a [`ConnectionFactory`].
#[derive(Debug, Default)]
#[must_use]
pub struct FactoryBuilder {
    env: Option<Env>,
    cwd: Option<PathBuf>,
    locations: Option<SecretsLocations>,
    secrets: Option<Secrets>,
    default_ttl: Option<Ttl>,
    registry: Option<&'static Registry>,
}

impl FactoryBuilder {
    /// The environment to read `CONN_*` variables and `${VAR}` references from
    /// (default: the process environment).
    pub fn env(mut self, env: Env) -> Self {
        self.env = Some(env);
        self
    }

    /// The directory `.streamlit/` is looked for in (default: the current directory).
    pub fn project_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.cwd = Some(dir.into());
        self
    }

    /// Read secrets from exactly these files and directories, first to last.
    pub fn secrets_files<P: Into<PathBuf>>(mut self, paths: impl IntoIterator<Item = P>) -> Self {
        self.locations = Some(SecretsLocations::paths(paths));
        self
    }

    /// Use these secrets instead of reading any file.
    pub fn secrets(mut self, secrets: Secrets) -> Self {
        self.secrets = Some(secrets);
        self
    }

    /// The ttl of connections whose request does not give one (default: forever, or
    /// `CONN_CONNECTION_DEFAULT_TTL`, or `[runner] connectionDefaultTTL` in
    /// `.streamlit/config.toml`).
    pub fn default_ttl(mut self, ttl: impl Into<Ttl>) -> Self {
        self.default_ttl = Some(ttl.into());
        self
    }

    /// Resolve type names in this registry (default: [`Registry::global`]).
    pub fn registry(mut self, registry: &'static Registry) -> Self {
        self.registry = Some(registry);
        self
    }

    /// The factory. Secrets are read now; a read error is kept and reported by every
    /// request that needs secrets, as Streamlit does.
    pub fn build(self) -> ConnectionFactory {
        let env = self.env.unwrap_or_default();
        let cwd = self
            .cwd
            .unwrap_or_else(|| std::env::current_dir().unwrap_or_default());
        let locations = self
            .locations
            .unwrap_or_else(|| SecretsLocations::discover(&env, &cwd));
        let secrets = match self.secrets {
            Some(secrets) => Ok(Arc::new(secrets)),
            None => Secrets::load_from(&locations, &env).map(Arc::new),
        };
        let default_ttl = match self.default_ttl {
            Some(ttl) => Ok(ttl),
            None => default_ttl_from(&env, &cwd),
        };
        ConnectionFactory {
            registry: self.registry.unwrap_or_else(Registry::global),
            env,
            locations,
            secrets: ArcSwap::from_pointee(secrets),
            cache: ConnectionCache::default(),
            default_ttl,
        }
    }
}

/// The default ttl from `CONN_CONNECTION_DEFAULT_TTL` or Streamlit's
/// `[runner] connectionDefaultTTL`, validated with Streamlit's message.
fn default_ttl_from(env: &Env, cwd: &Path) -> std::result::Result<Ttl, String> {
    let configured = env.get(DEFAULT_TTL_VAR).or_else(|| {
        let text = std::fs::read_to_string(cwd.join(".streamlit/config.toml")).ok()?;
        let table: toml::Table = text.parse().ok()?;
        let value = table.get("runner")?.get("connectionDefaultTTL")?;
        Some(match value {
            toml::Value::String(s) => s.clone(),
            other => other.to_string(),
        })
    });
    let Some(text) = configured else {
        return Ok(Ttl::Forever);
    };
    match text.trim().parse::<f64>() {
        Ok(seconds) if seconds.is_finite() && seconds >= 0.0 => {
            Ttl::from_secs_f64(seconds).map_err(|e| e.to_string())
        }
        // Streamlit prints the value's repr: numbers bare, text quoted.
        parsed => Err(format!(
            "Invalid `runner.connectionDefaultTTL` value. Use a finite, non-negative number \
             of seconds, or leave the option unset to keep connections cached until they \
             are cleared. Received {}.",
            if parsed.is_ok() {
                text.trim().to_owned()
            } else {
                format!("'{text}'")
            }
        )),
    }
}

impl ConnectionFactory {
    /// The process-wide factory: the default secrets locations, the process
    /// environment, the global registry. Created on first use.
    pub fn global() -> &'static Arc<ConnectionFactory> {
        &GLOBAL
    }

    /// Watches the secrets locations and applies changes as
    /// [`reload_secrets`](Self::reload_secrets) does, until the watcher is dropped.
    pub fn watch_secrets(self: &Arc<Self>) -> Result<SecretsWatcher> {
        SecretsWatcher::start(Arc::clone(self))
    }

    /// Settings for a new factory.
    pub fn builder() -> FactoryBuilder {
        FactoryBuilder::default()
    }

    /// A request for the connection called `name`, to set options on before
    /// [`get`](ConnectionRequest::get).
    pub fn connection(&self, name: &str) -> ConnectionRequest<'_> {
        ConnectionRequest {
            factory: self,
            name: name.to_owned(),
            type_name: None,
            options: Map::new(),
            ttl: None,
            max_entries: None,
            reuse: Reuse::IfFresh,
        }
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
        match &**self.secrets.load() {
            Ok(secrets) => Ok(Arc::clone(secrets)),
            Err(err) => Err(err.clone().into()),
        }
    }

    /// The secrets locations this factory reads.
    pub fn secrets_locations(&self) -> &SecretsLocations {
        &self.locations
    }

    /// The environment this factory reads.
    pub fn env(&self) -> &Env {
        &self.env
    }

    /// The registry this factory resolves type names in.
    pub fn registry(&self) -> &'static Registry {
        self.registry
    }

    /// Closes and forgets every cached connection called `name`. Returns how many.
    pub fn clear_connection(&self, name: &str) -> usize {
        self.cache.clear_name(name)
    }

    /// Closes and forgets every cached connection. Returns how many.
    pub fn clear(&self) -> usize {
        self.cache.clear()
    }

    /// How many connections are cached.
    pub fn cached_connections(&self) -> usize {
        self.cache.len()
    }

    /// Re-reads the secrets locations. On success, every cached connection whose own
    /// `[connections.<name>]` section changed is reset (its raw connection and cached
    /// results are dropped) and leaves the cache, so the next request builds it from
    /// the new values; the others are untouched.
    /// Returns the names that were reset. On a parse error the last good secrets stay
    /// in use and the error is returned.
    pub fn reload_secrets(&self) -> Result<Vec<String>> {
        let new = Secrets::load_from(&self.locations, &self.env)?;
        Ok(self.replace_secrets(new))
    }

    /// Installs new secrets (see [`reload_secrets`](Self::reload_secrets)).
    pub fn replace_secrets(&self, new: Secrets) -> Vec<String> {
        let old = self.secrets.swap(Arc::new(Ok(Arc::new(new))));
        let current = self.secrets.load();
        let (Ok(new), old) = (&**current, &*old) else {
            return Vec::new();
        };
        let section_key = |secrets: &Secrets, name: &str| {
            secrets.connection_section(name).map(Value::canonical_key)
        };
        let mut reset = Vec::new();
        for (name, cached) in self.cache.live() {
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
            self.cache.forget_name(name);
        }
        reset
    }

    fn resolve_name(&self, name: &str) -> Result<String> {
        match name.strip_prefix("env:") {
            Some(var) => self.env.get(var).ok_or_else(|| Error::NameVariableUnset {
                var: var.to_owned(),
            }),
            None => Ok(name.to_owned()),
        }
    }

    /// The secrets section of `name` as a map (empty when absent).
    fn section(&self, secrets: &Secrets, name: &str) -> Result<Map> {
        match secrets.connection_section(name) {
            None => Ok(Map::new()),
            Some(value) => match value.kind() {
                Kind::Table(map) => Ok(map.clone()),
                _ => Err(ConfigError::InvalidValue {
                    connection: name.to_owned(),
                    key: format!("connections.{name}"),
                    at: value.source().clone(),
                    message: format!("expected a table, found {}", value.type_name()),
                }
                .into()),
            },
        }
    }

    /// Merges every layer for `name`, lowest first: the type's own config, the secrets
    /// section, the environment, options from code.
    fn merged_layers(
        &self,
        secrets: &Secrets,
        name: &str,
        options: &Map,
        native: Map,
    ) -> Result<Map> {
        let mut values = native;
        merge_over(&mut values, self.section(secrets, name)?);
        merge_over(&mut values, env_layer(name, &self.env));
        merge_over(&mut values, options.clone());
        Ok(values)
    }

    fn searched(&self, secrets: &Secrets, name: &str) -> Searched {
        let mut searched = Searched {
            searched: secrets.searched().to_vec(),
            loaded: secrets.loaded().to_vec(),
            suggestion: None,
            misspelled_section: None,
        };
        if secrets.connection_section(name).is_none() {
            searched.suggestion =
                suggest::nearest(name, secrets.connection_names()).map(str::to_owned);
            searched.misspelled_section = misspelled_section(secrets, name);
        }
        searched
    }

    fn resolve_config(
        &self,
        name: &str,
        info: &ConnectionTypeInfo,
        options: &Map,
    ) -> Result<ConnectionConfig> {
        let secrets = self.secrets()?;
        let native = info.native_config(name, &self.env)?;
        let values = self.merged_layers(&secrets, name, options, native)?;
        // `type` stays: Streamlit counts it as configuration, and a GCS service account
        // key has its own `type` field.
        Ok(ConnectionConfig::new(name, info.name, values)
            .with_searched(self.searched(&secrets, name)))
    }

    /// The type a dynamic request resolves to: an explicit type, else the `type` key
    /// (code, environment, secrets), else the name itself when it is a type name.
    fn resolve_type(
        &self,
        name: &str,
        explicit: Option<&str>,
        options: &Map,
    ) -> Result<&'static ConnectionTypeInfo> {
        if let Some(type_name) = explicit {
            return self.lookup(name, type_name);
        }
        if name == "snowpark" {
            return Err(Error::SnowparkRemoved {
                name: name.to_owned(),
            });
        }
        let secrets = self.secrets()?;
        if let Some(value) = self.type_key(&secrets, name, options) {
            let Some(type_name) = value.as_str() else {
                return Err(ConfigError::InvalidValue {
                    connection: name.to_owned(),
                    key: "type".into(),
                    at: value.source().clone(),
                    message: format!("expected a string, found {}", value.type_name()),
                }
                .into());
            };
            return self.lookup(name, type_name);
        }
        if self.registry.is_type_name(name) {
            return self.registry.lookup(name);
        }
        let searched = self.searched(&secrets, name);
        let values = self.merged_layers(&secrets, name, options, Map::new())?;
        if values.is_empty() {
            return Err(ConfigError::NotConfigured {
                connection: name.to_owned(),
                env_prefix: env_prefix(name),
                searched: searched.searched,
                loaded: searched.loaded,
                suggestion: searched.suggestion,
                misspelled_section: searched.misspelled_section,
            }
            .into());
        }
        Err(ConfigError::NoType {
            connection: name.to_owned(),
            section: secrets.connection_section(name).map(|v| v.source().clone()),
            env_prefix: env_prefix(name),
            registered: self.registry.names(),
        }
        .into())
    }

    /// The `type` key from the highest layer that has one: code, environment, secrets.
    /// Direct lookups, no merge: this runs on every dynamic request, hits included.
    fn type_key(&self, secrets: &Secrets, name: &str, options: &Map) -> Option<Value> {
        if let Some(value) = options.get("type") {
            return Some(value.clone());
        }
        let var = format!("{}TYPE", env_prefix(name));
        if let Some(text) = self.env.get(&var) {
            return Some(Value::from(text).with_source(&Source::env(&var)));
        }
        secrets
            .connection_section(name)
            .and_then(Value::as_table)
            .and_then(|section| section.get("type"))
            .cloned()
    }

    fn lookup(&self, name: &str, type_name: &str) -> Result<&'static ConnectionTypeInfo> {
        if type_name == "snowpark" {
            return Err(Error::SnowparkRemoved {
                name: name.to_owned(),
            });
        }
        self.registry.lookup(type_name)
    }
}

/// A section such as `[connection.pets_db]` or `[conections.pets_db]` that holds
/// `name` under a misspelling of `connections`.
fn misspelled_section(secrets: &Secrets, name: &str) -> Option<(String, Source)> {
    secrets.root().iter().find_map(|(top, value)| {
        if top == "connections" || suggest::nearest(top, &["connections"]).is_none() {
            return None;
        }
        let section = value.as_table()?.get(name)?;
        Some((format!("{top}.{name}"), section.source().clone()))
    })
}

/// A request for one connection, with Streamlit's `type`, `ttl`, `max_entries` and
/// kwargs. Finish with [`get`](Self::get) or [`get_dyn`](Self::get_dyn).
#[derive(Debug)]
#[must_use]
pub struct ConnectionRequest<'f> {
    factory: &'f ConnectionFactory,
    name: String,
    type_name: Option<String>,
    options: Map,
    ttl: Option<Ttl>,
    max_entries: Option<usize>,
    reuse: Reuse,
}

impl ConnectionRequest<'_> {
    /// The connection type by name, alias or Rust path (for [`get_dyn`](Self::get_dyn);
    /// [`get`](Self::get) takes its type from the type parameter).
    pub fn type_name(mut self, type_name: &str) -> Self {
        self.type_name = Some(type_name.to_owned());
        self
    }

    /// One option, overriding the same key from every other source. Options are part
    /// of the cache key, in any order.
    pub fn option(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.options
            .insert(key.to_owned(), value.into().with_source(&Source::Code));
        self
    }

    /// Several options at once.
    pub fn options(mut self, options: Map) -> Self {
        for (key, value) in options {
            self.options.insert(key, value.with_source(&Source::Code));
        }
        self
    }

    /// How long the connection stays cached (default: the factory's default ttl).
    pub fn ttl(mut self, ttl: impl Into<Ttl>) -> Self {
        self.ttl = Some(ttl.into());
        self
    }

    /// At most `n` cached connections of this name (with different options); the least
    /// recently used is closed beyond that. `n` must be at least 1.
    pub fn max_entries(mut self, n: usize) -> Self {
        self.max_entries = Some(n);
        self
    }

    /// Close any cached connection for this request and build a new one.
    pub fn fresh(mut self) -> Self {
        self.reuse = Reuse::Replace;
        self
    }

    /// The connection as a `T`.
    pub fn get<T: ConnectionType>(self) -> Result<Arc<T>> {
        let name = self.factory.resolve_name(&self.name)?;
        let ttl = self.effective_ttl()?;
        self.check_max_entries()?;
        let key = CacheKey {
            type_id: std::any::TypeId::of::<T>(),
            name: name.as_str().into(),
            options: canonical_options(&self.options).into(),
        };
        let factory = self.factory;
        let any = factory.cache.get_or_build(
            &key,
            ttl,
            self.max_entries,
            self.reuse,
            |cached| Arc::clone(&cached.any),
            || {
                let info = ConnectionTypeInfo::of::<T>(std::any::type_name::<T>());
                let config = factory.resolve_config(&name, &info, &self.options)?;
                let conn = Arc::new(T::from_config(config)?);
                Ok(Cached {
                    any: conn.clone(),
                    conn,
                })
            },
        )?;
        any.downcast::<T>().map_err(|_| Error::TypeMismatch {
            name,
            expected: T::NAME,
            actual: "another type",
        })
    }

    /// The connection, its type chosen by the explicit type name, else the `type` key,
    /// else the name when it is a type name.
    pub fn get_dyn(self) -> Result<AnyConnection> {
        let name = self.factory.resolve_name(&self.name)?;
        let ttl = self.effective_ttl()?;
        self.check_max_entries()?;
        let info = self
            .factory
            .resolve_type(&name, self.type_name.as_deref(), &self.options)?;
        let key = CacheKey {
            type_id: info.type_id(),
            name: name.as_str().into(),
            options: canonical_options(&self.options).into(),
        };
        let factory = self.factory;
        let conn = factory.cache.get_or_build(
            &key,
            ttl,
            self.max_entries,
            self.reuse,
            |cached| Arc::clone(&cached.conn),
            || {
                let config = factory.resolve_config(&name, info, &self.options)?;
                let conn = info.build(config)?;
                Ok(Cached {
                    any: Arc::clone(&conn).into_any(),
                    conn,
                })
            },
        )?;
        Ok(AnyConnection::new(Arc::from(name.as_str()), info, conn))
    }

    /// The resolved configuration this request would build from, without building
    /// anything: every value with its source, for inspection and debugging.
    pub fn config(self) -> Result<ConnectionConfig> {
        let name = self.factory.resolve_name(&self.name)?;
        let info = self
            .factory
            .resolve_type(&name, self.type_name.as_deref(), &self.options)?;
        self.factory.resolve_config(&name, info, &self.options)
    }

    fn effective_ttl(&self) -> Result<Ttl> {
        match self.ttl {
            Some(ttl) => Ok(ttl),
            None => self
                .factory
                .default_ttl
                .clone()
                .map_err(Error::InvalidArgument),
        }
    }

    fn check_max_entries(&self) -> Result<()> {
        match self.max_entries {
            Some(0) => Err(Error::InvalidArgument(
                "max_entries must be at least 1 (it bounds the cached connections of one \
                 name); leave it unset for no bound"
                    .into(),
            )),
            _ => Ok(()),
        }
    }
}

fn canonical_options(options: &Map) -> String {
    if options.is_empty() {
        return String::new();
    }
    let mut out = String::new();
    value_canonical_map(options, &mut out);
    out
}

#[cfg(test)]
mod tests;
