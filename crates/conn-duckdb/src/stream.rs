//! Streamed reads: DuckDB's Arrow chunks handed to the reader as DuckDB produces them.
//!
//! The statement runs in DuckDB's streaming mode on a pooled connection, on one of
//! conn's blocking threads, and each chunk goes to the [`BatchSink`] before the next is
//! fetched: DuckDB computes the result no faster than the reader takes it, and memory
//! holds at most the prefetch depth of batches.
//!
//! When the reader drops the stream, the next send fails: the statement is dropped,
//! which closes DuckDB's streaming result and ends the query (the producer's task is
//! aborted too, which interrupts DuckDB as for any abandoned call, see
//! [`run::on_connection`]). The connection goes back to the pool with no transaction
//! open, or is closed when it may carry the interrupt.

use std::sync::Arc;

use conn_core::arrow::datatypes::SchemaRef;
use conn_core::plugin::BatchSink;
use conn_core::{Params, Result};

use crate::pool::DuckPool;
use crate::run::{self, Execution};
use crate::widen;

/// Runs `sql` with `params` on a connection of `pool` and sends its batches to `sink`
/// one by one, in the types [`run::query_on`] gives (HUGEINT widening included, see
/// [`widen::settle_batch`]).
pub(crate) async fn fetch_stream(
    pool: Arc<DuckPool>,
    sql: Arc<str>,
    params: Arc<Params>,
    sink: BatchSink,
) -> Result<()> {
    run::on_connection(pool, "query", move |conn, pool| {
        stream_on(conn, pool, &sql, &params, &sink)
    })
    .await
}

/// The blocking part: execute, then fetch and send chunk by chunk. Returns when the
/// result is done, DuckDB fails, or the reader is gone (the send fails; the statement
/// and its streaming result are dropped on the way out).
fn stream_on(
    conn: &duckdb::Connection,
    pool: &DuckPool,
    sql: &str,
    params: &Params,
    sink: &BatchSink,
) -> Result<()> {
    let statement = run::execute(conn, pool, sql, params, Execution::Streaming)?;
    let mut announced: Option<SchemaRef> = None;
    let mut rows = 0;
    while let Some(batch) = run::next_batch(&statement, pool)? {
        if batch.num_rows() == 0 {
            continue;
        }
        let batch = widen::settle_batch(announced.as_ref(), batch, rows)?;
        rows += batch.num_rows();
        if announced.is_none() {
            announced = Some(batch.schema());
        }
        sink.send_blocking(batch)?;
    }
    if announced.is_none() {
        // No rows: the reader still gets the columns.
        sink.announce_blocking(statement.schema())?;
    }
    Ok(())
}
