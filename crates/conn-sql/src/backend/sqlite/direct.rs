//! Reads through SQLite's own statement API, on the connection sqlx opened.
//!
//! sqlx-sqlite steps a statement on a worker thread of its own and sends each row to
//! the async caller over a channel, copying every value into an allocation of its own
//! on the way; on two cores that cost more than SQLite itself (about 0.4 context
//! switches per row, measured in `benches/README.md`). A pooled read instead locks the
//! connection's handle away from sqlx's worker ([`sqlx::sqlite::LockedSqliteHandle`]),
//! and steps the statement on one of conn's blocking threads, appending each value,
//! borrowed, straight to its Arrow column.
//!
//! The handle is used only while the lock is held, by the thread holding it, and every
//! statement prepared here is finalized before the lock is released: to sqlx the
//! connection looks as if it had run a statement of its own. The progress handler
//! [`cancel::sqlite`](super::super::cancel::sqlite) installed still interrupts the
//! statement when the call is dropped.

use std::time::{Duration, Instant};

use rusqlite::fallible_iterator::FallibleIterator;

use conn_core::{DriverError, Error, ErrorClass, Param, Result};
use rusqlite::types::ValueRef;
use sqlx::sqlite::LockedSqliteHandle;

use super::super::Ctx;
use super::super::output::{Output, Read};
use crate::arrow::sqlite::{SqliteColumn, SqliteValue};
use crate::classify::{class_of_sqlite_code, kind_of_sqlite_message};
use crate::config::Backend;
use crate::named::Prepared;

/// Runs `prepared` on the locked connection and hands its batches to `out`. Blocks:
/// call it on a blocking thread.
pub(crate) fn read(
    handle: &mut LockedSqliteHandle<'_>,
    prepared: &Prepared,
    ctx: &Ctx,
    out: Output<'_>,
) -> Result<Read> {
    // SAFETY: the handle is sqlx's open connection, locked away from its worker thread
    // for as long as `handle` is borrowed here; `from_handle` does not take ownership
    // (the connection is not closed when `db` drops), and `db` with every statement
    // prepared on it is dropped before this function returns, so nothing of it
    // outlives the lock.
    #[allow(unsafe_code)]
    let db = unsafe { rusqlite::Connection::from_handle(handle.as_raw_handle().as_ptr()) }
        .map_err(|e| failure(e, ctx))?;
    let started = Instant::now();
    // Several statements run under a savepoint: when a later one fails (or a value is
    // left over), the earlier ones are undone, never half applied. (A `BEGIN` among
    // them then fails: transactions belong in a session.)
    let script = prepared.statement_count(Backend::Sqlite) > 1;
    if script {
        db.execute_batch("SAVEPOINT conn_read")
            .map_err(|e| failure(e, ctx))?;
    }
    let mut outcome = read_on(&db, prepared, ctx, out);
    if script {
        let ended = match outcome {
            Ok(_) => db.execute_batch("RELEASE conn_read"),
            Err(_) => db.execute_batch("ROLLBACK TO conn_read; RELEASE conn_read"),
        };
        if let Err(err) = ended
            && outcome.is_ok()
        {
            outcome = Err(failure(err, ctx));
        }
    }
    log_statement(&prepared.sql, started.elapsed(), ctx.echo);
    if !db.is_autocommit() {
        // The query began a transaction (`BEGIN; ...`) and did not end it: the pooled
        // connection would carry it into every later read. Undo it.
        let rolled_back = db.execute_batch("ROLLBACK");
        if outcome.is_err() && rolled_back.is_ok() {
            // The query's own error says what went wrong.
            return outcome;
        }
        let rollback = match rolled_back {
            Ok(()) => "which was rolled back".to_owned(),
            Err(e) => format!("whose rollback failed ({})", SqliteFailure(e)),
        };
        let earlier = match outcome {
            Err(err) => format!("; the query had failed: {err}"),
            Ok(_) => String::new(),
        };
        outcome = Err(Error::InvalidArgument(format!(
            "sql connection \"{}\": the query left a transaction open, {rollback}; run \
             transactions in a session{earlier}",
            ctx.name
        )));
    }
    outcome
}

/// The error for a query of several statements that return rows.
fn more_than_one_result(ctx: &Ctx) -> Error {
    Error::InvalidArgument(format!(
        "sql connection \"{}\": the query holds more than one statement that returns rows; \
         a read returns one result (run the others on their own)",
        ctx.name
    ))
}

/// Checks a query read through sqlx's rows (in a session) as a pooled read checks it,
/// before any of it runs: each statement is prepared on the locked connection, its
/// parameters bound, and finalized without being stepped (SQLite applies some PRAGMAs
/// while preparing, as sqlx's own prepare of the same query did). Fails when more than
/// one statement returns rows (sqlx would return the rows of all as one table), when a
/// parameter has no value (sqlx would bind NULL) or a value no parameter takes.
pub(crate) fn check_read(
    handle: &mut LockedSqliteHandle<'_>,
    prepared: &Prepared,
    ctx: &Ctx,
) -> Result<()> {
    // SAFETY: as in `read`: the locked handle is used only while borrowed here, not
    // owned by `db`, and `db` with every statement prepared on it is dropped before
    // this function returns.
    #[allow(unsafe_code)]
    let db = unsafe { rusqlite::Connection::from_handle(handle.as_raw_handle().as_ptr()) }
        .map_err(|e| failure(e, ctx))?;
    let mut statements = rusqlite::Batch::new(&db, &prepared.sql);
    let mut binder = Binder::new(&prepared.values);
    let mut with_rows = 0;
    while let Some(mut statement) = statements.next().map_err(|e| failure(e, ctx))? {
        binder.bind(&mut statement, ctx)?;
        if statement.column_count() > 0 {
            with_rows += 1;
        }
    }
    binder.all_used(ctx)?;
    if with_rows > 1 {
        return Err(more_than_one_result(ctx));
    }
    Ok(())
}

/// Logs the statement as sqlx logs the statements it runs (target `sqlx::query`): at
/// info level with `echo`, and as a warning when it took a second or more.
fn log_statement(sql: &str, elapsed: Duration, echo: bool) {
    let summary: String = sql.split_whitespace().take(4).collect::<Vec<_>>().join(" ");
    if elapsed >= SLOW_STATEMENT {
        tracing::warn!(
            target: "sqlx::query",
            summary,
            db.statement = sql,
            elapsed_secs = elapsed.as_secs_f64(),
            "slow statement: execution time exceeded alert threshold"
        );
    } else if echo {
        tracing::info!(
            target: "sqlx::query",
            summary,
            db.statement = sql,
            elapsed_secs = elapsed.as_secs_f64(),
        );
    }
}

/// sqlx's default threshold for logging a slow statement.
const SLOW_STATEMENT: Duration = Duration::from_secs(1);

/// Runs each statement of `prepared` in order, as sqlx ran them: those without result
/// columns (`CREATE TEMP TABLE ...`, `PRAGMA ...`) are executed, the one with columns
/// is read into `out`. A second statement with columns is an error (a read returns one
/// result); none gives an empty one.
fn read_on(
    db: &rusqlite::Connection,
    prepared: &Prepared,
    ctx: &Ctx,
    out: Output<'_>,
) -> Result<Read> {
    let mut statements = rusqlite::Batch::new(db, &prepared.sql);
    let mut binder = Binder::new(&prepared.values);
    let mut result = None;
    let one_statement = prepared.statement_count(Backend::Sqlite) == 1;
    while let Some(mut statement) = statements.next().map_err(|e| failure(e, ctx))? {
        binder.bind(&mut statement, ctx)?;
        if one_statement {
            // Before it runs (it may write): every value given must have a parameter.
            binder.all_used(ctx)?;
        }
        if statement.column_count() == 0 {
            statement.raw_execute().map_err(|e| failure(e, ctx))?;
        } else if result.is_some() {
            return Err(more_than_one_result(ctx));
        } else {
            result = Some(read_rows(statement, ctx, out)?);
        }
    }
    binder.all_used(ctx)?;
    match result {
        Some(read) => Ok(read),
        None => out.finish_blocking(out.batches(Vec::new(), Vec::<SqliteColumn>::new(), 1)),
    }
}

/// Reads the rows of `statement` (bound) into `out`.
fn read_rows(mut statement: rusqlite::Statement<'_>, ctx: &Ctx, out: Output<'_>) -> Result<Read> {
    let names = (0..statement.column_count())
        .map(|i| statement.column_name(i).map(str::to_owned))
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(|e| failure(e, ctx))?;
    let decoders = statement
        .columns()
        .iter()
        .map(|column| SqliteColumn::declared(column.decl_type()))
        .collect();
    let mut batches = out.batches(names, decoders, ctx.batch_size);
    let mut rows = statement.raw_query();
    while let Some(row) = rows.next().map_err(|e| failure(e, ctx))? {
        batches.push_row(row, |decoder, row, index| {
            let value = match row.get_ref(index) {
                Ok(ValueRef::Null) => SqliteValue::Null,
                Ok(ValueRef::Integer(i)) => SqliteValue::Integer(i),
                Ok(ValueRef::Real(f)) => SqliteValue::Real(f),
                Ok(ValueRef::Text(bytes)) => SqliteValue::text(bytes)?,
                Ok(ValueRef::Blob(bytes)) => SqliteValue::Blob(bytes),
                Err(err) => return Err(format!("could not be read: {err}")),
            };
            decoder.append(value)
        })?;
        out.send_ready_blocking(&mut batches)?;
    }
    drop(rows);
    out.finish_blocking(batches)
}

/// Binds the values to each statement's parameters as sqlx does: `?` takes the next
/// value (counting across the statements), `?NNN` and `$NNN` value NNN (from 1); a
/// boolean goes as 0 or 1. A parameter without its value is an error (sqlx bound
/// NULL), as are a value no parameter takes and any other parameter name (sqlx refused
/// those names too).
struct Binder<'v> {
    values: &'v [Param],
    /// `?` parameters bound so far.
    anonymous: usize,
    /// Which values a parameter took.
    used: Vec<bool>,
}

impl<'v> Binder<'v> {
    fn new(values: &'v [Param]) -> Self {
        Binder {
            values,
            anonymous: 0,
            used: vec![false; values.len()],
        }
    }

    /// An error when a value was given that no parameter takes (a miscounted call).
    fn all_used(&self, ctx: &Ctx) -> Result<()> {
        if let Some(unused) = self.used.iter().position(|used| !used) {
            return Err(Error::InvalidArgument(format!(
                "sql connection \"{}\": {} value(s) were given but no parameter of the \
                 query takes value {}",
                ctx.name,
                self.values.len(),
                unused + 1
            )));
        }
        Ok(())
    }

    fn bind(&mut self, statement: &mut rusqlite::Statement<'_>, ctx: &Ctx) -> Result<()> {
        for position in 1..=statement.parameter_count() {
            let number = match statement.parameter_name(position) {
                None => {
                    self.anonymous += 1;
                    self.anonymous
                }
                Some(name) => parameter_number(name).ok_or_else(|| {
                    Error::InvalidArgument(format!(
                        "sql connection \"{}\": the parameter {name} cannot be bound (SQLite \
                         takes ?, ?NNN or $NNN with bind(), :name with param())",
                        ctx.name
                    ))
                })?,
            };
            if let Some(used) = self.used.get_mut(number - 1) {
                *used = true;
            }
            let Some(value) = self.values.get(number - 1) else {
                return Err(Error::InvalidArgument(format!(
                    "sql connection \"{}\": the statement uses parameter {number} but {} \
                     value(s) were given",
                    ctx.name,
                    self.values.len()
                )));
            };
            let bound = match value {
                Param::Null => statement.raw_bind_parameter(position, rusqlite::types::Null),
                Param::Bool(b) => statement.raw_bind_parameter(position, i64::from(*b)),
                Param::Int(i) => statement.raw_bind_parameter(position, *i),
                Param::Float(f) => statement.raw_bind_parameter(position, *f),
                Param::Text(s) => statement.raw_bind_parameter(position, s.as_str()),
                Param::Bytes(b) => statement.raw_bind_parameter(position, b.as_slice()),
                _ => {
                    return Err(Error::InvalidArgument(format!(
                        "sql connection \"{}\": parameter {number} is of a kind conn-sql \
                         cannot bind for SQLite",
                        ctx.name
                    )));
                }
            };
            bound.map_err(|e| failure(e, ctx))?;
        }
        Ok(())
    }
}

/// The value number of a named parameter: `?NNN` or `$NNN`, from 1.
fn parameter_number(name: &str) -> Option<usize> {
    let digits = name.strip_prefix('?').or_else(|| name.strip_prefix('$'))?;
    digits.parse::<usize>().ok().filter(|n| *n >= 1)
}

/// A SQLite error as sqlx words it (`error returned from database: (code: N) ...`), so
/// that reads and writes say the same; other errors of the wrapper as they are.
#[derive(Debug)]
struct SqliteFailure(rusqlite::Error);

impl std::fmt::Display for SqliteFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            rusqlite::Error::SqliteFailure(code, message) => {
                let message = message.clone().unwrap_or_else(|| code.to_string());
                write!(
                    f,
                    "error returned from database: (code: {}) {message}",
                    code.extended_code
                )
            }
            other => other.fmt(f),
        }
    }
}

impl std::error::Error for SqliteFailure {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

/// A conn error for a failure of the read: its class, code and kind as for sqlx's
/// SQLite errors (see [`crate::classify`]).
fn failure(err: rusqlite::Error, ctx: &Ctx) -> Error {
    let (class, code, kind) = match &err {
        rusqlite::Error::SqliteFailure(code, message) => (
            class_of_sqlite_code(code.extended_code),
            Some(code.extended_code.to_string()),
            message.as_deref().and_then(kind_of_sqlite_message),
        ),
        _ => (ErrorClass::Permanent, None, None),
    };
    let mut error = DriverError::from_source(
        format!("sql connection \"{}\", query", ctx.name),
        class,
        SqliteFailure(err),
        &ctx.redactor,
    );
    if let Some(code) = code {
        error = error.with_code(code);
    }
    if let Some(kind) = kind {
        error = error.with_kind(kind);
    }
    error.into()
}
