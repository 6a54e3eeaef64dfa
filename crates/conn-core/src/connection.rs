//! The trait a connection type implements, and the type-erased handle the factory hands
//! out when the type is only known at run time.

use std::any::Any;
use std::fmt;
use std::sync::Arc;

use crate::config::ConnectionConfig;
use crate::error::Result;
use crate::registry::ConnectionTypeInfo;
use crate::value::{Env, Map};

/// A kind of data connection: `sql`, `duckdb`, `files`, or a third party's.
///
/// This is Streamlit's `BaseConnection` subclass. [`from_config`](Self::from_config)
/// is its `__init__` minus the connect: it must not do I/O, so that asking for a
/// connection is cheap and cannot hang; connect lazily on first use, for example with a
/// [`Handle`](crate::Handle), which also gives `reset()` and single-flight connects.
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
}

/// The object-safe face of a [`ConnectionType`], implemented for every one of them.
pub trait DynConnection: Send + Sync + 'static {
    /// See [`ConnectionType::reset`].
    fn reset(&self);
    /// See [`ConnectionType::close`].
    fn close(&self);
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

    fn into_any(self: Arc<Self>) -> Arc<dyn Any + Send + Sync> {
        self
    }
}

/// A connection whose type was chosen at run time (from the `type` key, say).
///
/// Cheap to clone. [`downcast`](Self::downcast) gives the concrete type back.
#[derive(Clone)]
pub struct AnyConnection {
    name: Arc<str>,
    info: &'static ConnectionTypeInfo,
    inner: Arc<dyn DynConnection>,
}

impl AnyConnection {
    pub(crate) fn new(
        name: Arc<str>,
        info: &'static ConnectionTypeInfo,
        inner: Arc<dyn DynConnection>,
    ) -> Self {
        AnyConnection { name, info, inner }
    }

    /// The connection's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The registered type name (`"sql"`).
    pub fn type_name(&self) -> &'static str {
        self.info.name
    }

    /// Everything the registry knows of the type.
    pub fn type_info(&self) -> &'static ConnectionTypeInfo {
        self.info
    }

    /// The concrete connection, if it is a `T`.
    pub fn downcast<T: ConnectionType>(&self) -> Option<Arc<T>> {
        Arc::clone(&self.inner).into_any().downcast::<T>().ok()
    }

    /// See [`ConnectionType::reset`].
    pub fn reset(&self) {
        self.inner.reset();
    }

    /// See [`ConnectionType::close`].
    pub fn close(&self) {
        self.inner.close();
    }
}

impl fmt::Debug for AnyConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AnyConnection")
            .field("name", &self.name)
            .field("type", &self.info.name)
            .finish_non_exhaustive()
    }
}
