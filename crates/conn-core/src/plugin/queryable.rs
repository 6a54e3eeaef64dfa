//! [`Queryable`]: what a statement-based connection type writes to get the
//! [`Query`](crate::Query) builder.

use std::future::Future;
use std::sync::Arc;

use super::handle::Connector;
use super::statement;
use crate::error::Result;
use crate::params::Params;
use crate::table::Table;

/// A connector that runs statements: what a connection type writes to get
/// [`Query`](crate::Query) (cached, retried, with time limits and cancellation) for free.
pub trait Queryable: Connector {
    /// One attempt of `sql` with `params` on a live raw connection, into a table.
    fn fetch(
        self: Arc<Self>,
        raw: Self::Raw,
        sql: Arc<str>,
        params: Arc<Params>,
    ) -> impl Future<Output = Result<Table>> + Send + 'static;

    /// Whether `sql` only reads, so that an attempt that failed after reaching the
    /// server may run again. By default a conservative look at the statement's words
    /// (see [`statement::is_read_only`]); anything in doubt is a write.
    fn is_read_only(&self, sql: &str) -> bool {
        statement::is_read_only(sql)
    }
}
