//! The registry of connection types: filled at link time through `inventory`, and at
//! run time through [`Registry::register`].
//!
//! A plugin crate registers its type with one line:
//!
//! ```ignore
//! conn_core::register_connection_type!(SqlConnection);
//! ```
//!
//! The linker drops a crate's registrations when nothing in the final binary names that
//! crate, so the `conn` facade names every plugin it enables, and a program that uses a
//! third-party type should name its crate too (`use my_type as _;`) or call
//! [`Registry::register`].

use std::any::TypeId;
use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, LazyLock};

use parking_lot::RwLock;

use crate::config::ConnectionConfig;
use crate::connection::{ConnectionType, DynConnection};
use crate::error::{Error, FeatureHint, Result, UnknownTypeError};
use crate::suggest;
use crate::value::{Env, Map};

/// Everything the registry knows of one connection type.
pub struct ConnectionTypeInfo {
    /// The name used in `type = "..."`.
    pub name: &'static str,
    /// Other accepted names.
    pub aliases: &'static [&'static str],
    /// The Rust path of the type, also accepted as a name: `conn_sql::SqlConnection`.
    pub type_path: &'static str,
    /// One line saying what it connects to.
    pub description: &'static str,
    /// An example `secrets.toml` section.
    pub example_toml: &'static str,
    build: fn(ConnectionConfig) -> Result<Arc<dyn DynConnection>>,
    native_config: fn(&str, &Env) -> Result<Map>,
    type_id: fn() -> TypeId,
}

impl ConnectionTypeInfo {
    /// The descriptor of `T`, registered under `type_path`. Used by
    /// [`register_connection_type!`](crate::register_connection_type).
    pub const fn of<T: ConnectionType>(type_path: &'static str) -> Self {
        ConnectionTypeInfo {
            name: T::NAME,
            aliases: T::ALIASES,
            type_path,
            description: T::DESCRIPTION,
            example_toml: T::EXAMPLE_TOML,
            build: build::<T>,
            native_config: T::native_config,
            type_id: TypeId::of::<T>,
        }
    }

    /// Builds a connection of this type from a resolved configuration.
    pub fn build(&self, config: ConnectionConfig) -> Result<Arc<dyn DynConnection>> {
        (self.build)(config)
    }

    /// The type's own configuration layer for a connection name.
    pub fn native_config(&self, name: &str, env: &Env) -> Result<Map> {
        (self.native_config)(name, env)
    }

    pub(crate) fn native_config_fn(&self) -> fn(&str, &Env) -> Result<Map> {
        self.native_config
    }

    /// The `TypeId` of the Rust type.
    pub fn type_id(&self) -> TypeId {
        (self.type_id)()
    }

    fn names(&self) -> impl Iterator<Item = &'static str> {
        [self.name, self.type_path]
            .into_iter()
            .chain(self.aliases.iter().copied())
    }
}

fn build<T: ConnectionType>(config: ConnectionConfig) -> Result<Arc<dyn DynConnection>> {
    Ok(Arc::new(T::from_config(config)?))
}

impl fmt::Debug for ConnectionTypeInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnectionTypeInfo")
            .field("name", &self.name)
            .field("aliases", &self.aliases)
            .field("type_path", &self.type_path)
            .finish_non_exhaustive()
    }
}

inventory::collect!(ConnectionTypeInfo);

/// Registers a [`ConnectionType`] at link time, so that `type = "<NAME>"` finds it.
///
/// Use it once, at the root of the crate that defines the type (the registered Rust
/// path is `<module path of the call>::<type>`):
///
/// ```ignore
/// conn_core::register_connection_type!(MyConnection);
/// ```
#[macro_export]
macro_rules! register_connection_type {
    ($ty:ident) => {
        $crate::__private::inventory::submit! {
            $crate::ConnectionTypeInfo::of::<$ty>(concat!(module_path!(), "::", stringify!($ty)))
        }
    };
}

/// First-party types, with the crate and `conn` feature that provide them, so that a
/// request for one that is not compiled in says which feature to turn on.
const FIRST_PARTY: &[(&str, FeatureHint)] = &[
    (
        "sql",
        FeatureHint {
            crate_name: "conn-sql",
            feature: "sql",
        },
    ),
    (
        "duckdb",
        FeatureHint {
            crate_name: "conn-duckdb",
            feature: "duckdb",
        },
    ),
    (
        "files",
        FeatureHint {
            crate_name: "conn-files",
            feature: "files",
        },
    ),
    (
        "snowflake",
        FeatureHint {
            crate_name: "conn-snowflake",
            feature: "snowflake",
        },
    ),
];

/// Streamlit class paths that mean a first-party type, so that a Streamlit app's
/// `secrets.toml` works unchanged even when the type is not compiled in.
const STREAMLIT_NAMES: &[(&str, &str)] = &[
    ("streamlit.connections.SQLConnection", "sql"),
    ("streamlit.connections.sql_connection.SQLConnection", "sql"),
    ("st_files_connection.FilesConnection", "files"),
    ("st_files_connection.connection.FilesConnection", "files"),
    ("streamlit.connections.SnowflakeConnection", "snowflake"),
    (
        "streamlit.connections.snowflake_connection.SnowflakeConnection",
        "snowflake",
    ),
];

/// All known connection types.
#[derive(Debug)]
pub struct Registry {
    index: RwLock<Index>,
}

#[derive(Debug, Default)]
struct Index {
    types: Vec<&'static ConnectionTypeInfo>,
    by_name: HashMap<&'static str, &'static ConnectionTypeInfo>,
    duplicates: HashMap<&'static str, (&'static str, &'static str)>,
}

impl Index {
    fn add(&mut self, info: &'static ConnectionTypeInfo) {
        if self.types.iter().any(|t| t.type_id() == info.type_id()) {
            return;
        }
        self.types.push(info);
        for name in info.names() {
            match self.by_name.get(name) {
                Some(existing) if existing.type_id() != info.type_id() => {
                    self.duplicates
                        .insert(name, (existing.type_path, info.type_path));
                }
                Some(_) => {}
                None => {
                    self.by_name.insert(name, info);
                }
            }
        }
    }
}

static GLOBAL: LazyLock<Registry> = LazyLock::new(|| {
    let registry = Registry::empty();
    {
        let mut index = registry.index.write();
        let mut collected: Vec<&'static ConnectionTypeInfo> =
            inventory::iter::<ConnectionTypeInfo>.into_iter().collect();
        // inventory's order is unspecified; sort so duplicate reports are stable.
        collected.sort_by_key(|info| (info.name, info.type_path));
        collected.into_iter().for_each(|info| index.add(info));
    }
    registry
});

impl Registry {
    /// The process-wide registry: every type registered through `inventory` plus those
    /// added with [`register`](Self::register).
    pub fn global() -> &'static Registry {
        &GLOBAL
    }

    /// A registry with no types, for tests of the registry itself.
    pub fn empty() -> Self {
        Registry {
            index: RwLock::new(Index::default()),
        }
    }

    /// Adds `T` at run time: the explicit path beside `inventory`, for platforms or
    /// builds where link-time registration is not available. Registering a type twice
    /// is harmless.
    pub fn register<T: ConnectionType>(&self) {
        if self.by_type_id(TypeId::of::<T>()).is_some() {
            return;
        }
        let info: &'static ConnectionTypeInfo = Box::leak(Box::new(ConnectionTypeInfo::of::<T>(
            std::any::type_name::<T>(),
        )));
        self.index.write().add(info);
    }

    /// Adds a descriptor (for example one built by hand in a test).
    pub fn register_info(&self, info: &'static ConnectionTypeInfo) {
        self.index.write().add(info);
    }

    /// The type registered under a name, alias or Rust path.
    pub fn lookup(&self, requested: &str) -> Result<&'static ConnectionTypeInfo> {
        let index = self.index.read();
        if let Some((first, second)) = index.duplicates.get(requested) {
            return Err(Error::DuplicateType {
                name: requested.to_owned(),
                first,
                second,
            });
        }
        if let Some(info) = index.by_name.get(requested) {
            return Ok(info);
        }
        let first_party = STREAMLIT_NAMES
            .iter()
            .find(|(streamlit, _)| *streamlit == requested)
            .map_or(requested, |(_, ours)| *ours);
        if let Some(info) = index.by_name.get(first_party) {
            return Ok(info);
        }
        let lowered = requested.to_lowercase();
        if let Some(info) = index.by_name.get(lowered.as_str()) {
            return Ok(info);
        }
        let registered = sorted_names(&index.types);
        Err(UnknownTypeError {
            requested: requested.to_owned(),
            suggestion: suggest::nearest(requested, &registered).map(str::to_owned),
            feature: FIRST_PARTY
                .iter()
                .find(|(name, _)| *name == first_party)
                .map(|(_, hint)| hint.clone()),
            registered,
            at: None,
        }
        .into())
    }

    /// Whether a name is a registered type name (not an alias or path). Used to infer a
    /// connection's type from its name, as Streamlit does for `"sql"`.
    pub fn is_type_name(&self, name: &str) -> bool {
        self.index.read().types.iter().any(|t| t.name == name)
    }

    /// The type with this `TypeId`, if registered.
    pub fn by_type_id(&self, id: TypeId) -> Option<&'static ConnectionTypeInfo> {
        self.index
            .read()
            .types
            .iter()
            .find(|t| t.type_id() == id)
            .copied()
    }

    /// Every registered type, sorted by name.
    pub fn types(&self) -> Vec<&'static ConnectionTypeInfo> {
        let mut types = self.index.read().types.clone();
        types.sort_by_key(|t| t.name);
        types
    }

    /// Every registered type name, sorted.
    pub fn names(&self) -> Vec<String> {
        sorted_names(&self.index.read().types)
    }

    /// The first name claimed by two types, if any: an error a test can assert on.
    pub fn check_duplicates(&self) -> Result<()> {
        let index = self.index.read();
        let mut duplicates: Vec<_> = index.duplicates.iter().collect();
        duplicates.sort();
        match duplicates.first() {
            Some((name, (first, second))) => Err(Error::DuplicateType {
                name: (**name).to_owned(),
                first,
                second,
            }),
            None => Ok(()),
        }
    }
}

fn sorted_names(types: &[&'static ConnectionTypeInfo]) -> Vec<String> {
    let mut names: Vec<String> = types.iter().map(|t| t.name.to_owned()).collect();
    names.sort();
    names.dedup();
    names
}

#[cfg(test)]
mod tests;
