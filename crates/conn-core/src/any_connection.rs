//! The type-erased connection the factory hands out when the type is only known at
//! run time.

use std::fmt;
use std::sync::Arc;

use crate::connection::{ConnectionType, DynConnection};
use crate::registry::ConnectionTypeInfo;

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

    /// The type's health check, if it has one (see [`ConnectionType::health_check`]).
    pub fn health_check(&self) -> Option<crate::plugin::Call<()>> {
        self.inner.health_check()
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
