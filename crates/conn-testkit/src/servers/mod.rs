//! Private database servers a test starts, restarts and stops: a PostgreSQL cluster
//! ([`PgCluster`]) and a MariaDB server ([`MariaDbServer`]) of the machine's binaries,
//! each in a temporary folder of its own, on a free port of 127.0.0.1, stopped and
//! removed when dropped.
//!
//! They exist to be restarted while conn uses them (the shared servers of the other
//! tests must never be), so they need root: the servers run as their own system users
//! (`postgres`, `mysql`). Missing binaries skip the test with a message, unless
//! `CONN_TEST_REQUIRE_SERVERS=1` makes that a failure.
//!
//! [`SnowflakePeer`] is of another kind: a loopback server of the Snowflake REST
//! protocol (fakesnow in the test venv, wrapped), which needs no root and no restart.

mod mariadb;
mod postgres;
mod process;
mod snowflake;

pub use mariadb::MariaDbServer;
pub use postgres::PgCluster;
pub use snowflake::{PYTHON_VAR, SnowflakePeer};

/// How a private server is stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shutdown {
    /// In order: connections are closed, data is flushed (PostgreSQL's fast shutdown,
    /// SIGTERM for MariaDB).
    Clean,
    /// At once, as in a crash: the next start recovers from the log (PostgreSQL's
    /// immediate shutdown, SIGKILL for MariaDB).
    Crash,
}
