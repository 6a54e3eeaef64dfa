//! One module per command, and the connection kinds they work with.

pub mod check;
pub mod copy;
pub mod explain;
pub mod list;
pub mod query;

use std::sync::Arc;

use conn::duckdb::DuckDbConnection;
use conn::files::FilesConnection;
use conn::snowflake::SnowflakeConnection;
use conn::sql::SqlConnection;

use crate::project::Project;

/// A connection as one of the built-in types the commands know how to drive, or
/// another (third-party) type, which the commands can resolve but not run.
#[derive(Debug, Clone)]
pub enum Opened {
    /// Type `sql`.
    Sql(Arc<SqlConnection>),
    /// Type `duckdb`.
    Duck(Arc<DuckDbConnection>),
    /// Type `files`.
    Files(Arc<FilesConnection>),
    /// Type `snowflake`.
    Snowflake(Arc<SnowflakeConnection>),
    /// Any other registered type, by name.
    Other(&'static str),
}

impl Opened {
    /// The connection `name`, its type read from its configuration (no I/O yet).
    pub fn open(project: &Project, name: &str) -> conn::Result<Opened> {
        let any = project.request(name).get_dyn()?;
        Ok(if let Some(sql) = any.downcast::<SqlConnection>() {
            Opened::Sql(sql)
        } else if let Some(duck) = any.downcast::<DuckDbConnection>() {
            Opened::Duck(duck)
        } else if let Some(files) = any.downcast::<FilesConnection>() {
            Opened::Files(files)
        } else if let Some(snowflake) = any.downcast::<SnowflakeConnection>() {
            Opened::Snowflake(snowflake)
        } else {
            Opened::Other(any.type_name())
        })
    }

    /// The type name.
    pub fn type_name(&self) -> &'static str {
        match self {
            Opened::Sql(_) => "sql",
            Opened::Duck(_) => "duckdb",
            Opened::Files(_) => "files",
            Opened::Snowflake(_) => "snowflake",
            Opened::Other(name) => name,
        }
    }
}

/// Milliseconds, for reports.
pub fn millis(elapsed: std::time::Duration) -> u64 {
    u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX)
}

pub use crate::interrupt::interruptible;
