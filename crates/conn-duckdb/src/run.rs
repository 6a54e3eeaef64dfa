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

/// Runs `sql` on `conn` with positional or named parameters and collects DuckDB's
/// own Arrow batches.
pub(crate) fn query_on(
    conn: &duckdb::Connection,
    pool: &DuckPool,
    sql: &str,
    params: &Params,
) -> Result<Table> {
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
    let arrow = if named.is_empty() {
        statement.query_arrow(duckdb::params_from_iter(positional.iter()))
    } else {
        let pairs: Vec<(&str, &dyn duckdb::ToSql)> = named
            .iter()
            .map(|(n, v)| (n.as_str(), v as &dyn duckdb::ToSql))
            .collect();
        statement.query_arrow(pairs.as_slice())
    }
    .map_err(|e| pool.err(&e, "query"))?;
    let schema = arrow.get_schema();
    // duckdb-rs panics if a chunk cannot be fetched (an interrupted query, say); keep
    // that a conn error.
    let batches: Vec<RecordBatch> =
        catch_unwind(AssertUnwindSafe(|| arrow.collect())).map_err(|_| {
            Error::Data(format!(
                "duckdb connection \"{}\", query: DuckDB failed while producing Arrow batches",
                pool.name()
            ))
        })?;
    let (schema, batches) = crate::widen::settle_decimals(schema, batches)?;
    Table::new(schema, batches)
}
