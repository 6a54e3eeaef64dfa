//! The core of conn: Streamlit's `st.connection` for Rust.
//!
//! Name a data source once in `.streamlit/secrets.toml`, get a cached, thread-safe
//! connection to it with one call, and an Arrow [`Table`] from it with one more.
//! This crate holds what every connection type shares: the [`ConnectionType`] trait and
//! its [`Handle`], secrets and layered configuration with provenance, the type
//! [`Registry`], the connection factory and its cache, the result cache, [`Table`], the
//! retry policy, and the bridge that makes every read both awaitable and blocking.
//!
//! Applications use the `conn` facade crate; connection type authors depend on this
//! crate alone.
#![deny(missing_docs)]

mod config;
mod connection;
mod connection_cache;
mod error;
mod factory;
mod handle;
mod params;
mod query;
mod redact;
mod registry;
mod result_cache;
mod retry;
pub mod runtime;
mod secrets;
mod stats;
mod suggest;
mod table;
#[cfg(test)]
mod test_support;
mod ttl;
mod value;
mod watch;
mod write_mode;

pub use config::{ConnectionConfig, Searched, env_layer, env_prefix};
pub use connection::{AnyConnection, ConnectionType, DynConnection};
pub use error::{
    ConfigError, DriverError, Error, ErrorClass, ErrorKind, FeatureHint, Limit, Result,
    TimeoutError,
};
pub use factory::{
    ConnectionFactory, ConnectionRequest, DEFAULT_TTL_VAR, FactoryBuilder, connection,
    connection_dyn,
};
pub use handle::{Connector, Handle};
pub use params::{Param, Params};
pub use query::{Execute, Query};
pub use redact::Redactor;
pub use result_cache::{CacheValue, Hit, ResultCache};
pub use table::{DisplayOptions, Table};
pub use value::{DeError, Env, Kind, Map, Source, Value, map_to_json, merge_over};
pub use watch::SecretsWatcher;
pub use write_mode::WriteMode;

/// The Arrow crate conn is built on (one major version for the whole workspace).
pub use arrow;
pub use registry::{ConnectionTypeInfo, Registry};
pub use retry::RetryPolicy;
pub use secrets::{SECRETS_FILES_VAR, Secrets, SecretsError, SecretsLocations};
pub use stats::{Stats, StatsSnapshot};
pub use suggest::nearest as did_you_mean;
pub use ttl::Ttl;

/// Re-exports for the macros; not public API.
#[doc(hidden)]
pub mod __private {
    pub use inventory;
}
