//! Configuration layering with provenance.
//!
//! A connection's configuration is merged from four layers, highest first:
//!
//! 1. options given in code (Streamlit's `**kwargs`),
//! 2. environment variables `CONN_<NAME>__<KEY>` (see [`env_prefix`]),
//! 3. the `[connections.<name>]` secrets section (project file over global file),
//! 4. the data source's own configuration (`AWS_*`, `~/.snowflake/connections.toml`, ...),
//!    supplied by the connection type.
//!
//! Tables merge key by key; every value keeps its [`Source`].

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use serde::de::DeserializeOwned;

use crate::budget::Budget;
use crate::cache::ResultGroup;

use crate::error::{ConfigError, Error, Result};
use crate::redact::Redactor;
use crate::suggest;
use crate::value::{Env, Kind, Map, PathError, Source, Value, deserialize_value};

/// The environment variable prefix for a connection: `CONN_<NAME>__`, with the name
/// upper-cased and every character other than a letter or digit turned into `_`.
///
/// `CONN_PETS_DB__URL=sqlite:///pets.db` sets `url` of `pets_db`; a double underscore
/// nests (`CONN_PETS_DB__CREATE_ENGINE_KWARGS__POOL_SIZE=5`). Values are strings,
/// converted to numbers or booleans when the type asks for them; a value that starts
/// with `[` or `{` is read as a TOML array or inline table.
pub fn env_prefix(connection: &str) -> String {
    let name: String = connection
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    format!("CONN_{name}__")
}

/// The environment layer of one connection.
pub fn env_layer(connection: &str, env: &Env) -> Map {
    let prefix = env_prefix(connection);
    let mut layer = Map::new();
    for (var, text) in env.with_prefix(&prefix) {
        let path: Vec<String> = var[prefix.len()..]
            .split("__")
            .map(str::to_lowercase)
            .collect();
        if path.iter().any(String::is_empty) {
            continue;
        }
        let source = Source::env(&var);
        let value = parse_env_value(&text).with_source(&source);
        insert_path(&mut layer, &path, value, &source);
    }
    layer
}

fn parse_env_value(text: &str) -> Value {
    let trimmed = text.trim_start();
    if trimmed.starts_with('[') || trimmed.starts_with('{') {
        let document = format!("v = {text}");
        if let Ok(table) = document.parse::<toml::Table>()
            && let Some(value) = table.get("v")
        {
            return from_toml(value);
        }
    }
    Value::from(text)
}

/// Converts a `toml::Value` (no positions) into a [`Value`] from code.
pub(crate) fn from_toml(value: &toml::Value) -> Value {
    let kind = match value {
        toml::Value::String(s) => Kind::String(s.clone()),
        toml::Value::Integer(i) => Kind::Integer(*i),
        toml::Value::Float(f) => Kind::Float(*f),
        toml::Value::Boolean(b) => Kind::Boolean(*b),
        toml::Value::Datetime(d) => Kind::Datetime(d.to_string()),
        toml::Value::Array(items) => Kind::Array(items.iter().map(from_toml).collect()),
        toml::Value::Table(t) => {
            Kind::Table(t.iter().map(|(k, v)| (k.clone(), from_toml(v))).collect())
        }
    };
    Value::new(kind, Source::Code)
}

fn insert_path(map: &mut Map, path: &[String], value: Value, source: &Source) {
    match path {
        [] => {}
        [last] => {
            map.insert(last.clone(), value);
        }
        [first, rest @ ..] => {
            let entry = map
                .entry(first.clone())
                .or_insert_with(|| Value::new(Kind::Table(Map::new()), source.clone()));
            if entry.as_table().is_none() {
                *entry = Value::new(Kind::Table(Map::new()), source.clone());
            }
            if let Kind::Table(inner) = entry.kind_mut() {
                insert_path(inner, rest, value, source);
            }
        }
    }
}

/// Keys the core reads for every connection type (`retry`, `timeout`,
/// `connect_timeout`), accepted by [`ConnectionConfig::check_keys`] without the type
/// listing them.
pub const COMMON_KEYS: &[&str] = &["retry", "timeout", "connect_timeout"];

/// Re-resolves a connection's configuration (with the factory's current secrets).
pub(crate) type Resolve = dyn Fn() -> Result<ConnectionConfig> + Send + Sync;

/// Where a connection's configuration was looked for, for error messages.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Searched {
    /// Secrets locations looked at.
    pub searched: Vec<PathBuf>,
    /// Secrets locations that existed.
    pub loaded: Vec<PathBuf>,
    /// A defined connection with a name near this one, when this one has no section.
    pub suggestion: Option<String>,
    /// A section under a misspelling of `connections` that holds this connection.
    pub misspelled_section: Option<(String, Source)>,
}

/// The resolved configuration of one connection: every layer merged, every value with
/// its source.
///
/// `Debug` shows keys and sources, never values.
#[derive(Clone)]
pub struct ConnectionConfig {
    name: String,
    type_name: String,
    values: Map,
    searched: Searched,
    origin: Option<Source>,
    resolve: Option<Arc<Resolve>>,
    budget: Option<Budget>,
    results_group: Option<ResultGroup>,
    /// The environment the configuration was resolved from (the factory's), for types
    /// that read more of it themselves (a driver's own config file location).
    env: Env,
    /// What the type made of the keys while building (shared by clones, so that whoever
    /// kept a clone can read it afterwards, as `conn explain` does).
    findings: Arc<parking_lot::Mutex<Vec<KeyFinding>>>,
}

/// A key the connection type did not use, found while it read its configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyFinding {
    /// The key, dotted when nested (`create_engine_kwargs.echo_pool`).
    pub key: String,
    /// Where its value came from.
    pub at: Source,
    /// Unknown or ignored.
    pub kind: KeyFindingKind,
}

/// Why a key was not used.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyFindingKind {
    /// The type does not know the key (building fails on the first such key); the
    /// nearest known key, if one is near.
    Unknown {
        /// The nearest known key.
        suggestion: Option<String>,
    },
    /// A key the original accepts that conn reads but ignores, and why.
    Ignored {
        /// Why it has no effect.
        reason: String,
    },
}

impl fmt::Debug for ConnectionConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnectionConfig")
            .field("name", &self.name)
            .field("type_name", &self.type_name)
            .field("values", &self.values)
            .field("origin", &self.origin)
            .finish_non_exhaustive()
    }
}

impl ConnectionConfig {
    /// A configuration from its parts. The factory builds these; connection types and
    /// tests may too.
    pub fn new(name: impl Into<String>, type_name: impl Into<String>, values: Map) -> Self {
        ConnectionConfig {
            name: name.into(),
            type_name: type_name.into(),
            values,
            searched: Searched::default(),
            origin: None,
            resolve: None,
            budget: None,
            results_group: None,
            env: Env::process(),
            findings: Arc::default(),
        }
    }

    /// The same configuration, saying where it was defined (the secrets section, an
    /// environment variable, code), for errors.
    #[must_use]
    pub fn with_origin(mut self, origin: Source) -> Self {
        self.origin = Some(origin);
        self
    }

    /// Where the connection was defined, when known.
    pub fn origin(&self) -> Option<&Source> {
        self.origin.as_ref()
    }

    /// The same configuration, with a way to resolve it again (after a reset, with the
    /// factory's secrets of that moment).
    #[must_use]
    pub(crate) fn with_resolver(mut self, resolve: Arc<Resolve>) -> Self {
        self.resolve = Some(resolve);
        self
    }

    pub(crate) fn resolver(&self) -> Option<Arc<Resolve>> {
        self.resolve.clone()
    }

    /// The same configuration, charging result caches to `budget`.
    #[must_use]
    pub fn with_budget(mut self, budget: Budget) -> Self {
        self.budget = Some(budget);
        self
    }

    /// The same configuration, its result cache cleared with every cache of `group`
    /// (the factory gives every instance of one connection name the same group).
    #[must_use]
    pub fn with_results_group(mut self, group: ResultGroup) -> Self {
        self.results_group = Some(group);
        self
    }

    /// The same configuration with `values` instead of its own: for a type that merges
    /// layers of its own under what the factory resolved (the section of a driver's
    /// config file that a key names). Findings stay shared with this configuration.
    #[must_use]
    pub fn with_values(&self, values: Map) -> Self {
        ConnectionConfig {
            values,
            ..self.clone()
        }
    }

    /// The same configuration, resolved from `env` (the factory's environment).
    #[must_use]
    pub fn with_env(mut self, env: Env) -> Self {
        self.env = env;
        self
    }

    /// The environment the configuration was resolved from: the factory's (a fixed set
    /// in tests), or the process environment. A type that reads more of the
    /// environment itself (`SNOWFLAKE_HOME`, say) reads it here.
    pub fn env(&self) -> &Env {
        &self.env
    }

    /// The group the connection's result cache joins, if any.
    pub fn results_group(&self) -> Option<&ResultGroup> {
        self.results_group.as_ref()
    }

    /// The byte budget the connection's result cache charges: its factory's, or the
    /// process-wide one.
    pub fn budget(&self) -> Budget {
        self.budget
            .clone()
            .unwrap_or_else(|| Budget::global().clone())
    }

    /// A configuration from TOML text (the body of a `[connections.<name>]` section),
    /// as if read from `path`. Handy in tests and examples.
    pub fn from_toml(
        name: &str,
        type_name: &str,
        toml_text: &str,
        path: impl AsRef<std::path::Path>,
    ) -> Result<Self> {
        let secrets = crate::Secrets::from_toml_str(toml_text, path, None)?;
        Ok(Self::new(name, type_name, secrets.root().clone()))
    }

    /// The same configuration, remembering where it was looked for.
    #[must_use]
    pub fn with_searched(mut self, searched: Searched) -> Self {
        self.searched = searched;
        self
    }

    /// The connection's name (`pets_db`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The resolved connection type name (`sql`).
    pub fn type_name(&self) -> &str {
        &self.type_name
    }

    /// Every value, merged.
    pub fn values(&self) -> &Map {
        &self.values
    }

    /// Whether no value is set at all.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// The value at a dotted key.
    pub fn get(&self, dotted: &str) -> Option<&Value> {
        let (first, rest) = match dotted.split_once('.') {
            Some((first, rest)) => (first, Some(rest)),
            None => (dotted, None),
        };
        let top = self.values.get(first)?;
        match rest {
            Some(rest) => top.get_path(rest),
            None => Some(top),
        }
    }

    /// The value at a dotted key, deserialized; `None` when the key is absent.
    pub fn get_as<T: DeserializeOwned>(&self, dotted: &str) -> Result<Option<T>> {
        self.get(dotted)
            .map(|value| deserialize_value(value).map_err(|err| self.invalid(dotted, value, err)))
            .transpose()
    }

    /// The value at a dotted key, deserialized; absent is an error naming the key and
    /// every place it could have been set.
    pub fn require<T: DeserializeOwned>(&self, dotted: &str) -> Result<T> {
        self.get_as(dotted)?.ok_or_else(|| self.missing(dotted, ""))
    }

    /// The whole configuration deserialized into `T` (usually a struct with
    /// `Option` fields). Errors name the key and its file and line.
    pub fn deserialize<T: DeserializeOwned>(&self) -> Result<T> {
        let root = Value::new(Kind::Table(self.values.clone()), Source::Default);
        deserialize_value(&root).map_err(|err| {
            if let Some(field) = err
                .message
                .strip_prefix("missing field `")
                .and_then(|rest| rest.strip_suffix('`'))
            {
                let key = if err.path.is_empty() {
                    field.to_owned()
                } else {
                    format!("{}.{field}", err.path)
                };
                return self.missing(&key, "");
            }
            ConfigError::InvalidValue {
                connection: self.name.clone(),
                key: err.path,
                at: err.source.unwrap_or(Source::Default),
                message: err.message,
            }
            .into()
        })
    }

    /// Checks every top-level key against the keys the type understands (`type` and the
    /// keys every type has, [`COMMON_KEYS`], are always allowed). The first unknown key
    /// is an error with the nearest known one.
    ///
    /// Every unknown key is also recorded (see [`findings`](Self::findings)), so that a
    /// tool can name them all at once.
    pub fn check_keys(&self, known: &[&str]) -> Result<()> {
        let known: Vec<&str> = known.iter().chain(COMMON_KEYS).copied().collect();
        let mut first = None;
        for (key, value) in &self.values {
            if key == "type" || known.contains(&key.as_str()) {
                continue;
            }
            let suggestion = suggest::nearest(key, &known).map(str::to_owned);
            self.record(KeyFinding {
                key: key.clone(),
                at: value.source().clone(),
                kind: KeyFindingKind::Unknown {
                    suggestion: suggestion.clone(),
                },
            });
            first.get_or_insert((key, value.source().clone(), suggestion));
        }
        let Some((key, at, suggestion)) = first else {
            return Ok(());
        };
        let mut known_sorted: Vec<String> = known.iter().map(|k| (*k).to_owned()).collect();
        known_sorted.sort();
        // A type may list a common key too (`retry`): name it once.
        known_sorted.dedup();
        Err(ConfigError::UnknownKey {
            connection: self.name.clone(),
            type_name: self.type_name.clone(),
            key: key.clone(),
            at,
            suggestion,
            known: known_sorted,
        }
        .into())
    }

    /// Records that `key` (dotted when nested: a type checking a nested table itself)
    /// is unknown, with the nearest known key. [`check_keys`](Self::check_keys) records
    /// top-level keys itself.
    pub fn note_unknown(&self, key: &str, suggestion: Option<String>) {
        let at = self
            .get(key)
            .map_or(Source::Default, |value| value.source().clone());
        self.record(KeyFinding {
            key: key.to_owned(),
            at,
            kind: KeyFindingKind::Unknown { suggestion },
        });
    }

    /// Records that `key` (dotted when nested) is accepted, as the original accepts it,
    /// but has no effect in conn, and why.
    pub fn note_ignored(&self, key: &str, reason: impl Into<String>) {
        let at = self
            .get(key)
            .map_or(Source::Default, |value| value.source().clone());
        self.record(KeyFinding {
            key: key.to_owned(),
            at,
            kind: KeyFindingKind::Ignored {
                reason: reason.into(),
            },
        });
    }

    /// The keys the type did not use, as found while it read this configuration (or a
    /// clone of it): unknown ones (the first of which failed the build) and ignored
    /// ones, each once, in the order found.
    pub fn findings(&self) -> Vec<KeyFinding> {
        self.findings.lock().clone()
    }

    fn record(&self, finding: KeyFinding) {
        let mut findings = self.findings.lock();
        if !findings.contains(&finding) {
            findings.push(finding);
        }
    }

    /// The error for a missing key, with `detail` (", or `url`") after the key name.
    pub fn missing(&self, key: &str, detail: &str) -> Error {
        ConfigError::MissingKey {
            connection: self.name.clone(),
            type_name: self.type_name.clone(),
            key: key.to_owned(),
            detail: detail.to_owned(),
            env_prefix: env_prefix(&self.name),
            searched: self.searched.searched.clone(),
            loaded: self.searched.loaded.clone(),
        }
        .into()
    }

    /// The error for a connection that has no configuration at all, for types that
    /// cannot work without one. Names the files searched, the environment prefix, a
    /// near connection name and a misspelled section when there is one.
    pub fn not_configured(&self) -> Error {
        ConfigError::NotConfigured {
            connection: self.name.clone(),
            env_prefix: env_prefix(&self.name),
            searched: self.searched.searched.clone(),
            loaded: self.searched.loaded.clone(),
            suggestion: self.searched.suggestion.clone(),
            misspelled_section: self.searched.misspelled_section.clone(),
        }
        .into()
    }

    /// The error for a value that is present but wrong: names the key and its source.
    pub fn invalid_value(&self, key: &str, message: impl Into<String>) -> Error {
        ConfigError::InvalidValue {
            connection: self.name.clone(),
            key: key.to_owned(),
            at: self
                .get(key)
                .map_or(Source::Default, |v| v.source().clone()),
            message: message.into(),
        }
        .into()
    }

    fn invalid(&self, dotted: &str, value: &Value, err: PathError) -> Error {
        let key = if err.path.is_empty() {
            dotted.to_owned()
        } else {
            format!("{dotted}.{}", err.path)
        };
        ConfigError::InvalidValue {
            connection: self.name.clone(),
            key,
            at: err.source.unwrap_or_else(|| value.source().clone()),
            message: err.message,
        }
        .into()
    }

    /// A redactor that removes every string value of this configuration (and the
    /// password inside any URL) from a text: use it on driver messages before they
    /// become errors or log lines.
    pub fn redactor(&self) -> Redactor {
        Redactor::from_map(&self.values)
    }
}

#[cfg(test)]
mod tests;
