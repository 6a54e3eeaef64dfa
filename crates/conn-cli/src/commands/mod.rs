//! One module per command, and the connection kinds they work with.

pub mod check;
pub mod copy;
pub mod explain;
pub mod list;
pub mod query;

use std::future::IntoFuture;
use std::sync::Arc;

use conn_core::plugin::runtime;

use conn::duckdb::DuckDbConnection;
use conn::files::FilesConnection;
use conn::sql::SqlConnection;

use crate::error::{CliError, CliResult};
use crate::interrupt;
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
            Opened::Other(name) => name,
        }
    }
}

/// Milliseconds, for reports.
pub fn millis(elapsed: std::time::Duration) -> u64 {
    u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX)
}

/// Runs `work` (a query, read or write) until it ends or Ctrl-C is pressed. On Ctrl-C
/// the work is dropped, which makes the connection type ask the server to stop the
/// statement (and roll back an unfinished write), and that request is given up to five
/// seconds to go out before the command exits with code 130.
pub fn interruptible<W, T>(work: W) -> CliResult<T>
where
    W: IntoFuture<Output = conn::Result<T>>,
    W::IntoFuture: Send + 'static,
    T: Send + 'static,
{
    interrupt::install();
    if interrupt::requested() {
        return Err(stop_after_interrupt());
    }
    let work = work.into_future();
    let outcome = runtime::block_on(async move {
        tokio::select! {
            result = work => Ok(Some(result)),
            () = interrupt::pressed() => Ok(None),
        }
    })?;
    match outcome {
        Some(result) => Ok(result?),
        None => Err(stop_after_interrupt()),
    }
}

/// The error of an interrupted command, once the cancel requests of the work it
/// dropped went out (or five seconds passed). A dropped call's task counts as pending
/// work until it has stopped, so there is no need to give it a moment first.
pub fn stop_after_interrupt() -> CliError {
    runtime::settle_detached(std::time::Duration::from_secs(5));
    CliError::interrupted()
}
