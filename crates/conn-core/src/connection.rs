//! The trait a connection type implements, and its object-safe face.

use std::any::Any;
use std::sync::Arc;

use crate::config::ConnectionConfig;
use crate::error::Result;
use crate::plugin::Call;
use crate::value::{Env, Map};

/// A kind of data connection: `sql`, `duckdb`, `files`, or a third party's.
///
/// This is Streamlit's `BaseConnection` subclass. [`from_config`](Self::from_config)
/// is its `__init__` minus the connect: it must not do I/O, so that asking for a
/// connection is cheap and cannot hang; connect lazily on first use: a
/// [`Base`](crate::plugin::Base) does, and gives `reset()`, single-flight connects, the
/// result cache and retries.
///
/// Register the type with [`register_connection_type!`](crate::register_connection_type)
/// so that `type = "<NAME>"` in `secrets.toml` finds it.
pub trait ConnectionType: Send + Sync + Sized + 'static {
    /// The name used in `type = "..."`: `"sql"`.
    const NAME: &'static str;
    /// Other names that resolve to this type (Streamlit class paths, for example).
    const ALIASES: &'static [&'static str] = &[];
    /// One line saying what the type connects to.
    const DESCRIPTION: &'static str;
    /// A `secrets.toml` section showing the type's usual keys.
    const EXAMPLE_TOML: &'static str;

    /// Builds the connection from its resolved configuration, without connecting.
    fn from_config(config: ConnectionConfig) -> Result<Self>;

    /// The data source's own configuration (`AWS_*` variables, a driver's config
    /// file), the lowest-precedence layer. Empty by default.
    fn native_config(name: &str, env: &Env) -> Result<Map> {
        let _ = (name, env);
        Ok(Map::new())
    }

    /// Drops the underlying connection so that the next use reconnects, and forgets
    /// cached results. Called when the connection's secrets change.
    fn reset(&self);

    /// Releases the underlying connection for good. Called when the connection cache
    /// evicts this connection. Using the connection afterwards reconnects.
    fn close(&self);

    /// Connects if needed and checks that the data source answers (`SELECT 1`, a
    /// listing): what `conn check` runs for connections of this type. `None` (the
    /// default) when the type has no check; `conn check` then reports it as skipped.
    fn health_check(&self) -> Option<Call<()>> {
        None
    }
}

/// The object-safe face of a [`ConnectionType`], implemented for every one of them.
pub trait DynConnection: Send + Sync + 'static {
    /// See [`ConnectionType::reset`].
    fn reset(&self);
    /// See [`ConnectionType::close`].
    fn close(&self);
    /// See [`ConnectionType::health_check`].
    fn health_check(&self) -> Option<Call<()>>;
    /// For downcasting to the concrete type.
    fn into_any(self: Arc<Self>) -> Arc<dyn Any + Send + Sync>;
}

impl<T: ConnectionType> DynConnection for T {
    fn reset(&self) {
        ConnectionType::reset(self);
    }

    fn close(&self) {
        ConnectionType::close(self);
    }

    fn health_check(&self) -> Option<Call<()>> {
        ConnectionType::health_check(self)
    }

    fn into_any(self: Arc<Self>) -> Arc<dyn Any + Send + Sync> {
        self
    }
}
