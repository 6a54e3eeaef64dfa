//! Running work on a pooled connection, on conn's blocking threads, interrupting
//! DuckDB when the caller gives up.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use conn_core::arrow::array::RecordBatch;
use conn_core::plugin::{CancelGuard, runtime};
use conn_core::{Error, Param, Params, Result, Table};
use duckdb::InterruptHandle;
use duckdb::types::Value;
use parking_lot::Mutex;

use crate::pool::DuckPool;

/// The interrupt of the statement running for one call, if any.
#[derive(Default)]
struct Interrupt {
    handle: Mutex<Option<Arc<InterruptHandle>>>,
    fired: AtomicBool,
}

impl Interrupt {
    /// The caller gave up: interrupt the statement now, or keep it from starting.
    fn fire(&self) {
        self.fired.store(true, Ordering::SeqCst);
        if let Some(handle) = self.handle.lock().as_ref() {
            handle.interrupt();
        }
    }

    /// Whether the caller gave up.
    fn fired(&self) -> bool {
        self.fired.load(Ordering::SeqCst)
    }
}

/// Runs `work` on a connection of `pool` on conn's blocking threads. If the returned
/// future is dropped before the work ends (its caller gave up, or a time limit fired),
/// DuckDB is interrupted and the connection, which may still carry the interrupt, is
/// closed instead of returning to the pool.
pub(crate) async fn on_connection<T, F>(
    pool: Arc<DuckPool>,
    what: &'static str,
    work: F,
) -> Result<T>
where
    F: FnOnce(&duckdb::Connection, &DuckPool) -> Result<T> + Send + 'static,
    T: Send + 'static,
{
    {
        let interrupt = Arc::new(Interrupt::default());
        let guard = {
            let interrupt = Arc::clone(&interrupt);
            CancelGuard::new(move || async move { interrupt.fire() })
        };
        let outcome = runtime::run_blocking({
            let interrupt = Arc::clone(&interrupt);
            move || {
                let conn = pool.checkout()?;
                *interrupt.handle.lock() = Some(conn.interrupt_handle());
                if interrupt.fired() {
                    conn.discard();
                    return Err(Error::Cancelled {
                        context: format!("duckdb connection \"{}\", {what}", pool.name()),
                    });
                }
                let outcome = work(&conn, &pool);
                // No interrupt may reach the connection once it can serve another call.
                interrupt.handle.lock().take();
                if interrupt.fired() {
                    conn.discard();
                }
                outcome
            }
        })
        .await;
        guard.disarm();
        outcome
    }
}

/// A conn parameter as a DuckDB value.
fn to_value(param: &Param) -> Value {
    match param {
        Param::Bool(b) => Value::Boolean(*b),
        Param::Int(i) => Value::BigInt(*i),
        Param::Float(f) => Value::Double(*f),
        Param::Text(s) => Value::Text(s.clone()),
        Param::Bytes(b) => Value::Blob(b.clone()),
        _ => Value::Null,
    }
}

/// How a prepared statement runs: its whole result at once, or chunk by chunk as it is
/// fetched.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Execution {
    /// DuckDB materializes the result before the first batch is fetched.
    Materialized,
    /// DuckDB produces each chunk when it is fetched (bounded memory).
    Streaming,
}

/// Prepares `sql` on `conn` and runs it with positional or named parameters, leaving
/// its result in the statement (fetch it with `Statement::step`).
pub(crate) fn execute<'conn>(
    conn: &'conn duckdb::Connection,
    pool: &DuckPool,
    sql: &str,
    params: &Params,
    execution: Execution,
) -> Result<duckdb::Statement<'conn>> {
    let mut statement = conn.prepare(sql).map_err(|e| pool.err(&e, "query"))?;
    let positional: Vec<Value> = params.positional().iter().map(to_value).collect();
    let named: Vec<(String, Value)> = params
        .named()
        .iter()
        .map(|(n, v)| (n.clone(), to_value(v)))
        .collect();
    if !positional.is_empty() && !named.is_empty() {
        return Err(Error::InvalidArgument(
            "a statement takes named parameters or positional ones, not both".into(),
        ));
    }
    let pairs: Vec<(&str, &dyn duckdb::ToSql)> = named
        .iter()
        .map(|(n, v)| (n.as_str(), v as &dyn duckdb::ToSql))
        .collect();
    let outcome = match (execution, named.is_empty()) {
        (Execution::Materialized, true) => statement
            .query_arrow(duckdb::params_from_iter(positional.iter()))
            .map(drop),
        (Execution::Materialized, false) => statement.query_arrow(pairs.as_slice()).map(drop),
        (Execution::Streaming, true) => statement
            .stream_arrow(duckdb::params_from_iter(positional.iter()))
            .map(drop),
        (Execution::Streaming, false) => statement.stream_arrow(pairs.as_slice()).map(drop),
    };
    outcome.map_err(|e| pool.err(&e, "query"))?;
    Ok(statement)
}

/// The next Arrow batch of an executed statement, `None` at the end. duckdb-rs may
/// panic while converting a chunk; that stays a conn error.
pub(crate) fn next_batch(
    statement: &duckdb::Statement<'_>,
    pool: &DuckPool,
) -> Result<Option<RecordBatch>> {
    let step = catch_unwind(AssertUnwindSafe(|| statement.step())).map_err(|_| {
        Error::Data(format!(
            "duckdb connection \"{}\", query: DuckDB failed while producing Arrow batches",
            pool.name()
        ))
    })?;
    match step {
        Ok(Some(array)) => Ok(Some(RecordBatch::from(&array))),
        Ok(None) => Ok(None),
        Err(err) => Err(pool.err(&err, "query")),
    }
}

/// Runs `sql` on `conn` with positional or named parameters and collects DuckDB's
/// own Arrow batches.
pub(crate) fn query_on(
    conn: &duckdb::Connection,
    pool: &DuckPool,
    sql: &str,
    params: &Params,
) -> Result<Table> {
    let statement = execute(conn, pool, sql, params, Execution::Materialized)?;
    let schema = statement.schema();
    let mut batches = Vec::new();
    while let Some(batch) = next_batch(&statement, pool)? {
        batches.push(batch);
    }
    let (schema, batches) = crate::widen::settle_decimals(schema, batches)?;
    Table::new(schema, batches)
}
