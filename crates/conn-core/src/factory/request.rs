//! [`ConnectionRequest`]: Streamlit's `st.connection(name, type, max_entries, ttl,
//! **kwargs)` as a builder.

use std::sync::Arc;

use super::ConnectionFactory;
use super::connections::{CacheKey, Cached, Reuse};
use crate::any_connection::AnyConnection;
use crate::config::ConnectionConfig;
use crate::connection::ConnectionType;
use crate::error::{Error, Result};
use crate::registry::ConnectionTypeInfo;
use crate::ttl::Ttl;
use crate::value::{Map, Source, Value, write_canonical_map};

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

impl<'f> ConnectionRequest<'f> {
    pub(super) fn new(factory: &'f ConnectionFactory, name: &str) -> Self {
        ConnectionRequest {
            factory,
            name: name.to_owned(),
            type_name: None,
            options: Map::new(),
            ttl: None,
            max_entries: None,
            reuse: Reuse::IfFresh,
        }
    }

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
        let key = self.key(std::any::TypeId::of::<T>(), &name);
        let inner = &self.factory.inner;
        let any = inner.cache.get_or_build(
            &key,
            ttl,
            self.max_entries,
            self.reuse,
            |cached| Arc::clone(&cached.any),
            || {
                let generation = inner.secrets_generation();
                let config =
                    inner.resolve_config(&name, T::NAME, T::native_config, &self.options)?;
                let conn = Arc::new(T::from_config(config)?);
                let cached = Cached {
                    any: conn.clone(),
                    conn,
                };
                Ok((cached, inner.secrets_generation() == generation))
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
        let inner = &self.factory.inner;
        let info = inner.resolve_type(&name, self.type_name.as_deref(), &self.options)?;
        let key = self.key(info.type_id(), &name);
        let conn = inner.cache.get_or_build(
            &key,
            ttl,
            self.max_entries,
            self.reuse,
            |cached| Arc::clone(&cached.conn),
            || {
                let generation = inner.secrets_generation();
                let config = self.resolve_with(info, &name)?;
                let conn = info.build(config)?;
                let cached = Cached {
                    any: Arc::clone(&conn).into_any(),
                    conn,
                };
                Ok((cached, inner.secrets_generation() == generation))
            },
        )?;
        Ok(AnyConnection::new(Arc::from(name.as_str()), info, conn))
    }

    /// The resolved configuration this request would build from, without building
    /// anything: every value with its source, for inspection and debugging.
    pub fn config(self) -> Result<ConnectionConfig> {
        let name = self.factory.resolve_name(&self.name)?;
        let info =
            self.factory
                .inner
                .resolve_type(&name, self.type_name.as_deref(), &self.options)?;
        self.resolve_with(info, &name)
    }

    fn resolve_with(
        &self,
        info: &'static ConnectionTypeInfo,
        name: &str,
    ) -> Result<ConnectionConfig> {
        self.factory
            .inner
            .resolve_config(name, info.name, info.native_config_fn(), &self.options)
    }

    fn key(&self, type_id: std::any::TypeId, name: &str) -> CacheKey {
        CacheKey {
            type_id,
            name: name.into(),
            options: canonical_options(&self.options).into(),
        }
    }

    fn effective_ttl(&self) -> Result<Ttl> {
        match self.ttl {
            Some(ttl) => Ok(ttl),
            None => self
                .factory
                .inner
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
    write_canonical_map(options, &mut out);
    out
}
