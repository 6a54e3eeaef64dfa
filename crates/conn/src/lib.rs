//! # conn
//!
//! Streamlit's `st.connection` for Rust. Name a data source once in
//! `.streamlit/secrets.toml`:
//!
//! ```toml
//! [connections.pets_db]
//! url = "sqlite:///pets.db"
//! ```
//!
//! then get a cached, thread-safe connection with one call and an Arrow [`Table`] with
//! one more, cached with a ttl:
//!
//! ```no_run
//! # #[cfg(feature = "sqlite")]
//! # fn main() -> conn::Result<()> {
//! use std::time::Duration;
//! use conn::sql::SqlConnection;
//!
//! let db = conn::connection::<SqlConnection>("pets_db")?;
//! let pets = db.query("select * from pet").ttl(Duration::from_secs(600)).blocking()?;
//! println!("{pets}");
//! # Ok(()) }
//! # #[cfg(not(feature = "sqlite"))] fn main() {}
//! ```
//!
//! Every read can also be awaited (`db.query(...).await`), from any executor.
//!
//! ## Connection types
//!
//! | type | crate | feature |
//! |---|---|---|
//! | `sql` (PostgreSQL, MySQL/MariaDB, SQLite) | `conn-sql` | `sql` (or `postgres`, `mysql`, `sqlite`) |
//! | `duckdb` | `conn-duckdb` | `duckdb` (compiles DuckDB) or `duckdb-system` (links a prebuilt libduckdb) |
//! | `files` (local, memory, S3, GCS, Azure, HTTP) | `conn-files` | `files` (or `files-local`, `files-aws`, ...) |
//! | `snowflake` | `conn-snowflake` | `snowflake` |
//!
//! Third-party crates register more types with
//! [`register_connection_type!`](conn_core::register_connection_type); see
//! `docs/writing-a-connection-type.md`.
#![deny(missing_docs)]

// The application API of conn-core. What connection type authors need besides
// (`conn_core::plugin`) is not re-exported: they depend on conn-core.
#[doc(inline)]
pub use conn_core::{
    AnyConnection, BatchStream, BlockingBatches, Budget, Call, ConfigError, ConnectionConfig,
    ConnectionFactory, ConnectionRequest, ConnectionType, ConnectionTypeInfo, DEFAULT_TTL_VAR,
    DisplayOptions, DriverError, Env, Error, ErrorClass, ErrorKind, FactoryBuilder, FeatureHint,
    INTERPOLATE_VAR, Kind, Limit, Map, Param, Params, Query, RESULT_CACHE_BUDGET_VAR, Registry,
    Result, RetryPolicy, SECRETS_FILES_VAR, Secret, Secrets, SecretsError, SecretsLocations,
    SecretsWatcher, Source, StatsSnapshot, Table, TimeoutError, Ttl, UnknownTypeError, Value,
    WriteMode, arrow, connection, connection_dyn, register_connection_type, watched_folders,
};

/// The `sql` connection type.
#[cfg(any(feature = "postgres", feature = "mysql", feature = "sqlite"))]
pub mod sql {
    #[doc(inline)]
    pub use conn_sql::*;
}

/// The `duckdb` connection type.
#[cfg(feature = "duckdb-system")]
pub mod duckdb {
    #[doc(inline)]
    pub use conn_duckdb::*;
}

/// The `files` connection type.
#[cfg(feature = "files-local")]
pub mod files {
    #[doc(inline)]
    pub use conn_files::*;
}

/// The `snowflake` connection type.
#[cfg(feature = "snowflake")]
pub mod snowflake {
    #[doc(inline)]
    pub use conn_snowflake::*;
}

/// The connection type names this build of `conn` provides, sorted.
///
/// Naming each plugin crate here is also what keeps the linker from dropping their
/// `inventory` registrations.
pub fn enabled_types() -> Vec<&'static str> {
    let mut names: Vec<&'static str> = vec![
        #[cfg(any(feature = "postgres", feature = "mysql", feature = "sqlite"))]
        <conn_sql::SqlConnection as ConnectionType>::NAME,
        #[cfg(feature = "duckdb-system")]
        <conn_duckdb::DuckDbConnection as ConnectionType>::NAME,
        #[cfg(feature = "files-local")]
        <conn_files::FilesConnection as ConnectionType>::NAME,
        #[cfg(feature = "snowflake")]
        <conn_snowflake::SnowflakeConnection as ConnectionType>::NAME,
    ];
    names.sort_unstable();
    names
}

/// The types most programs use.
pub mod prelude {
    #[doc(no_inline)]
    pub use conn_core::{
        AnyConnection, ConnectionFactory, Error, Result, Table, Ttl, connection, connection_dyn,
    };
    #[cfg(feature = "duckdb-system")]
    #[doc(no_inline)]
    pub use conn_duckdb::DuckDbConnection;
    #[cfg(feature = "files-local")]
    #[doc(no_inline)]
    pub use conn_files::FilesConnection;
    #[cfg(feature = "snowflake")]
    #[doc(no_inline)]
    pub use conn_snowflake::SnowflakeConnection;
    #[cfg(any(feature = "postgres", feature = "mysql", feature = "sqlite"))]
    #[doc(no_inline)]
    pub use conn_sql::{SqlConnection, WriteMode};
}
