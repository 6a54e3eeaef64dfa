//! The core of conn: Streamlit's `st.connection` for Rust.
//!
//! Name a data source once in `.streamlit/secrets.toml`, get a cached, thread-safe
//! connection to it with one call, and an Arrow [`Table`] from it with one more.
//! This crate holds what every connection type shares: the [`ConnectionType`] trait,
//! secrets and layered configuration with provenance, the type [`Registry`], the
//! connection factory and its cache, [`Table`], and [`Call`], which makes every
//! operation both awaitable and blocking, with a time limit.
//!
//! Its root is the application API, which the `conn` facade re-exports. The [`plugin`]
//! module is for connection type authors, who depend on this crate alone: the [`plugin::Base`]
//! that writes the lifecycle every type shares once (lazy connect, reset, the result
//! cache under a process-wide byte budget, retries that never repeat a write, time
//! limits and cancellation).
#![deny(missing_docs)]

mod any_connection;
mod budget;
mod cache;
mod config;
mod connection;
mod error;
mod factory;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
mod params;
pub mod plugin;

pub mod stream {
    //! Streamed reads: Arrow record batches as the source sends them, in bounded memory.
    //!
    //! ```ignore
    //! // async
    //! let mut batches = conn.query("select * from events").stream().await?;
    //! println!("{}", batches.schema());
    //! while let Some(batch) = batches.next().await {
    //!     handle(batch?);
    //! }
    //! // blocking: a BatchStream is also an iterator
    //! for batch in conn.query("select * from events").stream().blocking()? {
    //!     handle(batch?);
    //! }
    //! ```
    //!
    //! A connection type produces batches into a [`BatchSink`](crate::plugin::BatchSink); the reader holds a
    //! [`BatchStream`]. Between them is a channel of a few batches (the *prefetch* depth), so
    //! a producer never runs more than that far ahead of its reader: memory stays bounded
    //! whatever the size of the result.
    //!
    //! The schema is known before the first batch is handed out, and every batch has it.
    //! A later batch whose values need another type (SQLite's dynamic types, a decimal
    //! with more places) is cast to the announced type when every value fits unchanged;
    //! otherwise the stream ends with an error naming the column, the row and both types.
    //! (`query()` can widen a column after the fact; a stream cannot take back the batches
    //! it already handed out.)
    //!
    //! Dropping a [`BatchStream`] stops the read: the producer's task is aborted, which
    //! cancels the query on the server where the type can.

    pub use crate::plugin::stream::{BatchStream, BlockingBatches, DEFAULT_PREFETCH};
}
mod query;
mod redact;
mod registry;
mod retry;
#[cfg(test)]
mod review_tests;
mod secret;
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

use plugin::runtime;

// The application API: what the `conn` facade exports. What connection type authors
// need besides lives in `plugin`.

pub use any_connection::AnyConnection;
/// The Arrow crate conn is built on (one major version for the whole workspace).
pub use arrow;
pub use budget::{Budget, RESULT_CACHE_BUDGET_VAR};
pub use config::{ConnectionConfig, KeyFinding, KeyFindingKind};
pub use connection::ConnectionType;
pub use error::{
    ConfigError, DriverError, Error, ErrorClass, ErrorKind, FeatureHint, Limit, Result,
    TimeoutError, UnknownTypeError,
};
pub use factory::{
    ConnectionFactory, ConnectionRequest, DEFAULT_TTL_VAR, FactoryBuilder, INTERPOLATE_VAR,
    connection, connection_dyn,
};
pub use params::{Param, Params};
pub use plugin::Call;
pub use plugin::stream::{BatchStream, BlockingBatches};
pub use query::Query;
pub use registry::{ConnectionTypeInfo, Registry};
pub use retry::RetryPolicy;
pub use secret::Secret;
pub use secrets::{SECRETS_FILES_VAR, Secrets, SecretsError, SecretsLocations};
pub use stats::StatsSnapshot;
pub use table::{DisplayOptions, Table};
pub use ttl::Ttl;
pub use value::{Env, Kind, Map, Source, Value};
pub use watch::{SecretsWatcher, watched_folders};
pub use write_mode::WriteMode;

/// Re-exports for the macros; not public API.
#[doc(hidden)]
pub mod __private {
    pub use inventory;
}
