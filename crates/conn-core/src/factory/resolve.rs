//! Resolution: which type a connection is, and its configuration merged from every
//! layer with provenance.

use std::sync::Arc;

use super::FactoryInner;
use crate::cache::ResultGroup;
use crate::config::{ConnectionConfig, Searched, env_layer, env_prefix};
use crate::error::{ConfigError, Error, Result};
use crate::registry::ConnectionTypeInfo;
use crate::secrets::Secrets;
use crate::suggest;
use crate::value::{Env, Kind, Map, Source, Value, merge_over};

/// A connection type's own configuration layer (`AWS_*`, a driver's config file).
pub(super) type NativeConfig = fn(&str, &Env) -> Result<Map>;

impl FactoryInner {
    /// The configuration of `name` as type `type_name`, with a resolver that resolves
    /// it again later (after a reset) with the secrets of that moment.
    pub(super) fn resolve_config(
        self: &Arc<Self>,
        name: &str,
        type_name: &'static str,
        native: NativeConfig,
        options: &Map,
    ) -> Result<ConnectionConfig> {
        let config = self.resolve_config_once(name, type_name, native, options)?;
        let weak = Arc::downgrade(self);
        let fallback = config.clone();
        let (name, options) = (name.to_owned(), options.clone());
        let resolve = move || match weak.upgrade() {
            Some(factory) => factory.resolve_config_once(&name, type_name, native, &options),
            None => Ok(fallback.clone()),
        };
        Ok(config.with_resolver(Arc::new(resolve)))
    }

    fn resolve_config_once(
        &self,
        name: &str,
        type_name: &'static str,
        native: NativeConfig,
        options: &Map,
    ) -> Result<ConnectionConfig> {
        let secrets = self.secrets()?;
        let native = native(name, &self.env)?;
        let values = self.merged_layers(&secrets, name, options, native)?;
        let origin = self.origin(&secrets, name, options);
        // `type` stays: Streamlit counts it as configuration, and a GCS service account
        // key has its own `type` field.
        let mut config = ConnectionConfig::new(name, type_name, values)
            .with_searched(self.searched(&secrets, name))
            .with_budget(self.budget.clone())
            .with_results_group(self.results_group(name))
            .with_env(self.env.clone());
        if let Some(origin) = origin {
            config = config.with_origin(origin);
        }
        Ok(config)
    }

    /// The result-cache group of every instance of `name` (made on first use). Groups
    /// no instance holds any more are forgotten here, so an application that makes
    /// connections under ever new names does not grow the map.
    fn results_group(&self, name: &str) -> ResultGroup {
        let mut groups = self.results_groups.lock();
        groups.retain(|_, group| !group.is_unused());
        groups.entry(name.to_owned()).or_default().clone()
    }

    /// Where `name` is defined: its secrets section, else its environment variables,
    /// else code.
    fn origin(&self, secrets: &Secrets, name: &str, options: &Map) -> Option<Source> {
        if let Some(section) = secrets.connection_section(name) {
            return Some(section.source().clone());
        }
        let prefix = env_prefix(name);
        if let Some((var, _)) = self.env.with_prefix(&prefix).into_iter().next() {
            return Some(Source::env(&var));
        }
        (!options.is_empty()).then_some(Source::Code)
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

    /// The type a dynamic request resolves to: an explicit type, else the `type` key
    /// (code, environment, secrets), else the name itself when it is a type name.
    pub(super) fn resolve_type(
        &self,
        name: &str,
        explicit: Option<&str>,
        options: &Map,
    ) -> Result<&'static ConnectionTypeInfo> {
        if let Some(type_name) = explicit {
            return self.lookup(name, type_name, &Source::Code);
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
            return self.lookup(name, type_name, value.source());
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

    /// The registered type `type_name`, given at `at` (for the error when there is none).
    fn lookup(
        &self,
        name: &str,
        type_name: &str,
        at: &Source,
    ) -> Result<&'static ConnectionTypeInfo> {
        if type_name == "snowpark" {
            return Err(Error::SnowparkRemoved {
                name: name.to_owned(),
            });
        }
        self.registry.lookup(type_name).map_err(|err| match err {
            Error::UnknownType(mut unknown) => {
                unknown.at.get_or_insert_with(|| at.clone());
                Error::UnknownType(unknown)
            }
            other => other,
        })
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
