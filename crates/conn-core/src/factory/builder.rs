//! [`FactoryBuilder`]: a factory's settings, from code, the environment and Streamlit's
//! `.streamlit/config.toml`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arc_swap::ArcSwap;

use super::connections::ConnectionCache;
use super::{ConnectionFactory, FactoryInner, SecretsState};
use crate::budget::{Budget, RESULT_CACHE_BUDGET_VAR, parse_bytes};
use crate::cache::janitor;
use crate::registry::Registry;
use crate::secrets::{Secrets, SecretsLocations};
use crate::ttl::Ttl;
use crate::value::Env;

/// The variable that sets the default connection ttl (Streamlit's
/// `runner.connectionDefaultTTL`, which `.streamlit/config.toml` can also set).
pub const DEFAULT_TTL_VAR: &str = "CONN_CONNECTION_DEFAULT_TTL";

/// The variable that turns on `${VAR}` references in secrets (`1`, `true`); also
/// `[conn] interpolateSecrets = true` in `.streamlit/config.toml`.
pub const INTERPOLATE_VAR: &str = "CONN_SECRETS_INTERPOLATE";

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
    interpolate: Option<bool>,
    budget: Option<Budget>,
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

    /// Use these secrets instead of reading any file. They are kept as given: neither
    /// [`reload_secrets`](ConnectionFactory::reload_secrets) nor a watcher replaces them.
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

    /// Expand `${VAR}` and `${VAR:-default}` in secrets values (default: off, as in
    /// Streamlit, so that an existing secrets file keeps its meaning; also turned on by
    /// `CONN_SECRETS_INTERPOLATE=1` or `[conn] interpolateSecrets = true` in
    /// `.streamlit/config.toml`).
    pub fn interpolate_secrets(mut self, on: bool) -> Self {
        self.interpolate = Some(on);
        self
    }

    /// The byte budget of the result caches of this factory's connections (default: the
    /// process-wide [`Budget::global`]).
    pub fn result_cache_budget(mut self, budget: Budget) -> Self {
        self.budget = Some(budget);
        self
    }

    /// Bounds the result caches of this factory's connections to `max_bytes` together,
    /// with a budget of their own.
    pub fn result_cache_max_bytes(self, max_bytes: usize) -> Self {
        self.result_cache_budget(Budget::new(max_bytes))
    }

    /// The factory. Secrets are read now; a read error is kept and reported by every
    /// request that needs secrets, as Streamlit does.
    pub fn build(self) -> ConnectionFactory {
        let env = self.env.unwrap_or_default();
        let cwd = self
            .cwd
            .unwrap_or_else(|| std::env::current_dir().unwrap_or_default());
        let config = StreamlitConfig::read(&cwd);
        let locations = self
            .locations
            .unwrap_or_else(|| SecretsLocations::discover(&env, &cwd));
        let interpolate = self.interpolate.unwrap_or_else(|| {
            env.get(INTERPOLATE_VAR)
                .map(|v| {
                    matches!(
                        v.trim().to_ascii_lowercase().as_str(),
                        "1" | "true" | "yes" | "on"
                    )
                })
                .or(config.interpolate_secrets)
                .unwrap_or(false)
        });
        let fixed_secrets = self.secrets.is_some();
        let secrets = match self.secrets {
            Some(secrets) => Ok(Arc::new(secrets)),
            None => Secrets::load_from(&locations, interpolate.then_some(&env)).map(Arc::new),
        };
        let default_ttl = match self.default_ttl {
            Some(ttl) => Ok(ttl),
            None => default_ttl_from(&env, config.default_ttl.as_deref()),
        };
        // The config file's budget is this factory's own (the process-wide one belongs to
        // every factory; the environment variable sets that one).
        let configured = config
            .result_cache_max_bytes
            .as_deref()
            .filter(|_| env.get(RESULT_CACHE_BUDGET_VAR).is_none())
            .and_then(|text| match parse_bytes(text) {
                Ok(bytes) => Some(Budget::new(bytes)),
                Err(err) => {
                    tracing::warn!(error = %err, "[conn] resultCacheMaxBytes ignored");
                    None
                }
            });
        let budget = self
            .budget
            .or(configured)
            .unwrap_or_else(|| Budget::global().clone());
        let cache = Arc::new(ConnectionCache::default());
        janitor::register(Arc::downgrade(&cache) as std::sync::Weak<dyn janitor::Sweep>);
        ConnectionFactory {
            inner: Arc::new(FactoryInner {
                registry: self.registry.unwrap_or_else(Registry::global),
                env,
                locations,
                secrets: ArcSwap::from_pointee(secrets as SecretsState),
                fixed_secrets,
                interpolate,
                cache,
                default_ttl,
                budget,
                results_groups: parking_lot::Mutex::default(),
                secrets_generation: std::sync::atomic::AtomicU64::new(0),
            }),
        }
    }
}

/// What conn reads from Streamlit's `.streamlit/config.toml`.
#[derive(Debug, Default)]
struct StreamlitConfig {
    /// `[runner] connectionDefaultTTL`, as text.
    default_ttl: Option<String>,
    /// `[conn] interpolateSecrets`.
    interpolate_secrets: Option<bool>,
    /// `[conn] resultCacheMaxBytes`.
    result_cache_max_bytes: Option<String>,
}

impl StreamlitConfig {
    /// The project's config file; a missing or unparsable one gives the defaults (it
    /// is Streamlit's file, and Streamlit reports its errors).
    fn read(cwd: &Path) -> Self {
        let Some(table) = std::fs::read_to_string(cwd.join(".streamlit/config.toml"))
            .ok()
            .and_then(|text| text.parse::<toml::Table>().ok())
        else {
            return StreamlitConfig::default();
        };
        let text = |value: &toml::Value| match value {
            toml::Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let conn = table.get("conn");
        StreamlitConfig {
            default_ttl: table
                .get("runner")
                .and_then(|runner| runner.get("connectionDefaultTTL"))
                .map(text),
            interpolate_secrets: conn
                .and_then(|c| c.get("interpolateSecrets"))
                .and_then(toml::Value::as_bool),
            result_cache_max_bytes: conn.and_then(|c| c.get("resultCacheMaxBytes")).map(text),
        }
    }
}

/// The default ttl from `CONN_CONNECTION_DEFAULT_TTL` or Streamlit's
/// `[runner] connectionDefaultTTL`, validated with Streamlit's message.
fn default_ttl_from(env: &Env, configured: Option<&str>) -> Result<Ttl, String> {
    let Some(text) = env
        .get(DEFAULT_TTL_VAR)
        .or_else(|| configured.map(str::to_owned))
    else {
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
