//! What connection type authors need, apart from what applications use.
//!
//! A connection type is a struct holding a [`Base`], a [`Connector`] that opens its raw
//! connection, and its own reads and writes, each a closure given to
//! [`Base::read`] or [`Base::write`] (or [`Queryable::fetch`] for statement-based
//! types, which get the [`Query`](crate::Query) builder for free). The base writes
//! the rest once for every type: lazy connect, reset and close, counters, health
//! checks, the result cache, retries, time limits, cancellation and the blocking twin
//! of every call ([`Call`]). See `docs/writing-a-connection-type.md`.

mod base;
mod call;
mod cancel;
pub(crate) mod handle;
mod queryable;
pub mod runtime;
pub(crate) mod settings;
pub(crate) mod settle;
pub mod statement;
pub(crate) mod stream;

pub use base::{Base, Idempotence};
pub use call::{BorrowedCall, Call};
pub use cancel::CancelGuard;
pub use handle::{Connector, Handle, Lease};
pub use queryable::Queryable;
pub use settings::{COMMON_KEYS, DEFAULT_CONNECT_TIMEOUT, connect_timeout};
pub use settle::Settle;

pub use crate::budget::Budget;
pub use crate::cache::{CacheValue, ClearGuard, Hit, ResultCache, ResultGroup};
pub use crate::config::{Searched, env_layer, env_prefix};
pub use crate::connection::DynConnection;
pub use crate::plugin::stream::BatchSink;
pub use crate::redact::{Redactor, is_secret_key};
pub use crate::stats::Stats;
pub use crate::suggest::nearest as did_you_mean;
pub use crate::value::{DeError, map_to_json, merge_over};
