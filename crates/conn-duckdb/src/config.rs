//! The `duckdb` connection's configuration.

use std::collections::BTreeMap;

use conn_core::{ConnectionConfig, Kind, Result, Secret};

use crate::init::{self, InitStatement};

/// Every top-level key the `duckdb` type reads.
pub(crate) const KEYS: &[&str] = &[
    "database",
    "read_only",
    "config",
    "extensions",
    "init",
    "init_once",
    "init_each",
    "max_idle_connections",
];

/// The resolved configuration of one `duckdb` connection. `Debug` shows setting names,
/// never their values (`s3_secret_access_key` is a DuckDB setting).
#[derive(Clone)]
pub(crate) struct DuckDbConfig {
    /// A file path, or `None` for an in-memory database.
    pub(crate) database: Option<String>,
    /// DuckDB settings applied when the database is opened (`threads`, `memory_limit`,
    /// `s3_secret_access_key`, ...), each a [`Secret`] (some are credentials).
    pub(crate) settings: BTreeMap<String, Secret>,
    /// Extensions loaded on every new connection.
    pub(crate) extensions: Vec<String>,
    /// Init statements in order, each run once per database or on every new
    /// connection (see [`crate::init`]).
    pub(crate) init: Vec<InitStatement>,
    /// Connections kept open for reuse.
    pub(crate) max_idle: usize,
}

impl std::fmt::Debug for DuckDbConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DuckDbConfig")
            // A MotherDuck path may carry a token in its query: show the path only.
            .field(
                "database",
                &self
                    .database
                    .as_deref()
                    .map(|d| d.split('?').next().unwrap_or(d)),
            )
            .field("setting_names", &self.settings.keys().collect::<Vec<_>>())
            .field("extensions", &self.extensions)
            .field("init_statements", &self.init.len())
            .finish_non_exhaustive()
    }
}

impl DuckDbConfig {
    pub(crate) fn from_config(config: &ConnectionConfig) -> Result<Self> {
        config.check_keys(KEYS)?;
        let database = config
            .get_as::<String>("database")?
            .filter(|d| !d.is_empty() && d != ":memory:");
        let read_only = config.get_as::<bool>("read_only")?.unwrap_or(false);
        if read_only && database.is_none() {
            return Err(config.invalid_value(
                "read_only",
                "an in-memory database cannot be opened read-only; give `database` a file",
            ));
        }
        let mut settings = BTreeMap::new();
        if let Some(table) = config.get("config") {
            let Some(table) = table.as_table() else {
                return Err(config.invalid_value("config", "expected a table of DuckDB settings"));
            };
            for (key, value) in table {
                let text = match value.kind() {
                    Kind::String(s) => s.clone(),
                    Kind::Integer(i) => i.to_string(),
                    Kind::Float(f) => f.to_string(),
                    Kind::Boolean(b) => b.to_string(),
                    _ => {
                        return Err(config.invalid_value(
                            &format!("config.{key}"),
                            "expected a string, number or boolean",
                        ));
                    }
                };
                settings.insert(key.clone(), Secret::new(text));
            }
        }
        if read_only {
            settings.insert("access_mode".into(), Secret::new("READ_ONLY"));
        }
        let max_idle = config
            .get_as::<usize>("max_idle_connections")?
            .unwrap_or_else(|| {
                std::thread::available_parallelism().map_or(4, std::num::NonZero::get) * 2
            });
        Ok(DuckDbConfig {
            database,
            settings,
            extensions: string_list(config, "extensions")?,
            init: init::plan(
                &string_list(config, "init_once")?,
                &string_list(config, "init")?,
                &string_list(config, "init_each")?,
            ),
            max_idle,
        })
    }
}

/// A string or a list of strings.
fn string_list(config: &ConnectionConfig, key: &str) -> Result<Vec<String>> {
    match config.get(key).map(conn_core::Value::kind) {
        None => Ok(Vec::new()),
        Some(Kind::String(s)) => Ok(vec![s.clone()]),
        Some(_) => config.require::<Vec<String>>(key),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(toml: &str) -> Result<DuckDbConfig> {
        let config = ConnectionConfig::from_toml("ducks", "duckdb", toml, "/s.toml")?;
        DuckDbConfig::from_config(&config)
    }

    #[test]
    fn keys_and_defaults() {
        let c = parse("").unwrap();
        assert_eq!(c.database, None);
        let c = parse(
            "database = \"f.duckdb\"\nread_only = true\nconfig = { threads = 2, memory_limit = \"1GB\" }\n\
             extensions = \"json\"\ninit = [\"SET x = 1\"]",
        )
        .unwrap();
        assert_eq!(c.database.as_deref(), Some("f.duckdb"));
        assert_eq!(c.settings.get("threads").map(Secret::expose), Some("2"));
        assert_eq!(
            c.settings.get("access_mode").map(Secret::expose),
            Some("READ_ONLY")
        );
        assert_eq!(c.extensions, vec!["json".to_owned()]);
        assert_eq!(
            c.init,
            vec![InitStatement {
                sql: "SET x = 1".into(),
                scope: init::Scope::Connection
            }]
        );
    }

    #[test]
    fn typos_get_suggestions_and_bad_combinations_are_refused() {
        let err = parse("databse = \"x\"").unwrap_err().to_string();
        assert!(
            err.starts_with(
                "unknown key `databse` for connection \"ducks\" (type duckdb) at /s.toml:1:11; \
                 did you mean \"database\"?"
            ),
            "{err}"
        );
        let err = parse("read_only = true").unwrap_err().to_string();
        assert_eq!(
            err,
            "invalid `read_only` for connection \"ducks\" at /s.toml:1:13: an in-memory database \
             cannot be opened read-only; give `database` a file"
        );
    }
}
