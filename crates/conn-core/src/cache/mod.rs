//! The result caches (Streamlit's `st.cache_data` around `query()`) and what every cache
//! shares: a janitor that frees expired entries without waiting for the next miss, and
//! a monotonic clock for least-recently-used order. The connection cache (its
//! `st.cache_resource` under `st.connection`) lives with the factory that fills it.
//!
//! Why our own and not `moka`: every store must be refused atomically when the cache was
//! cleared while the read ran (a generation check under the same lock as the clear), the
//! freshness of a hit depends on the ttl the *caller* asks for (Streamlit's semantics,
//! not the ttl the value was stored with), file reads check an ETag beside the value,
//! and byte accounting must be exact at every moment. moka's invalidation closures and
//! weighted size are eventually consistent and its single flight knows none of these.
//! What is left is small: a concurrent map per cache, one budget, one sweep.

mod clock;
mod group;
pub(crate) mod janitor;
pub(crate) mod results;

pub use group::ResultGroup;
pub use results::{CacheValue, ClearGuard, Hit, ResultCache};
