//! [`Queryable`]: what a statement-based connection type writes to get the
//! [`Query`](crate::Query) builder.

use std::future::Future;
use std::sync::Arc;

use super::handle::Connector;
use super::statement;
use crate::error::Result;
use crate::params::Params;
use crate::plugin::stream::BatchSink;
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

    /// One attempt of `sql` with `params`, streamed: each batch goes to `sink` as soon as
    /// it is decoded (`sink.send` waits while the reader is behind, which bounds
    /// memory; it fails once the reader is gone, and the read should then stop). A
    /// result without rows announces its schema (`sink.announce`).
    ///
    /// The default reads the whole result with [`fetch`](Self::fetch) and sends its
    /// batches: correct, but not bounded. Types whose drivers deliver rows
    /// incrementally override it.
    fn fetch_stream(
        self: Arc<Self>,
        raw: Self::Raw,
        sql: Arc<str>,
        params: Arc<Params>,
        sink: BatchSink,
    ) -> impl Future<Output = Result<()>> + Send + 'static {
        let table = self.fetch(raw, sql, params);
        async move { sink.send_table(table.await?).await }
    }

    /// Whether `sql` only reads, so that an attempt that failed after reaching the
    /// server may run again. By default a conservative look at the statement's words
    /// (see [`statement::is_read_only`]); anything in doubt is a write.
    fn is_read_only(&self, sql: &str) -> bool {
        statement::is_read_only(sql)
    }
}
