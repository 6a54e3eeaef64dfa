//! SQLite: pooled reads through SQLite's own statement API ([`direct`]), reads inside a
//! session and every write through sqlx ([`rows`]); the values become Arrow columns in
//! [`crate::arrow::sqlite`].

mod direct;
pub(crate) mod rows;

use conn_core::plugin::runtime;
use conn_core::{Error, Result};
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection, SqlitePoolOptions};
use sqlx::{AssertSqlSafe, Executor, SqlSafeStr, Sqlite, Statement};

use super::checkout::Checkout;
use super::output::{Output, Read};
use super::{Ctx, bind_loose as bind, cancel};
use crate::config::{Backend, SqlConfig, SqliteTarget};
use crate::named::Prepared;

/// Opens a pool. A file database is created if missing (as SQLAlchemy does); an
/// in-memory database lives on one connection that is never recycled, so that every
/// statement sees the same database.
pub(crate) async fn connect(config: &SqlConfig, ctx: &Ctx) -> Result<sqlx::SqlitePool> {
    let target = config.sqlite.clone().unwrap_or(SqliteTarget::Memory);
    let mut options = match &target {
        SqliteTarget::Memory => SqliteConnectOptions::new().in_memory(true),
        SqliteTarget::File(path) => SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true),
    };
    for (key, value) in &config.pool.connect_args {
        options = match key.as_str() {
            "timeout" => match value
                .parse::<f64>()
                .ok()
                .and_then(|s| std::time::Duration::try_from_secs_f64(s).ok())
            {
                Some(timeout) => options.busy_timeout(timeout),
                None => {
                    return Err(Error::InvalidArgument(format!(
                        "connect_args.timeout of connection \"{}\" must be a number of seconds",
                        ctx.name
                    )));
                }
            },
            // Python's sqlite3 settings with no meaning here.
            "check_same_thread" | "detect_types" | "isolation_level" | "uri"
            | "cached_statements" => options,
            other => {
                super::ignored_connect_arg(Backend::Sqlite, other);
                options
            }
        };
    }
    if config.pool.log_statements {
        options = sqlx::ConnectOptions::log_statements(options, log::LevelFilter::Info);
    }
    let mut pool = config.pool.apply(SqlitePoolOptions::new());
    if target == SqliteTarget::Memory {
        pool = pool
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None);
    }
    pool.connect_with(options)
        .await
        .map_err(|e| ctx.err(e, "connect"))
}

/// A read on a pooled connection, on one of conn's blocking threads through SQLite's
/// own statement API (see [`direct`]). The statement is interrupted if the call is
/// dropped; the connection goes back to the pool when the read ends.
pub(crate) async fn fetch_pooled(
    mut conn: Checkout<Sqlite>,
    prepared: Prepared,
    ctx: &Ctx,
    out: Output<'_>,
) -> Result<Read> {
    let guard = cancel::sqlite(&mut conn, ctx).await?.guard(ctx);
    let sink = out.sink().cloned();
    let read_ctx = ctx.clone();
    let (conn, outcome) = runtime::run_blocking(move || {
        let out = sink.as_ref().map_or(Output::Table, Output::Stream);
        let outcome = futures::executor::block_on(conn.lock_handle())
            .map_err(|e| read_ctx.err(e, "query").before_send())
            .and_then(|mut handle| direct::read(&mut handle, &prepared, &read_ctx, out));
        Ok((conn, outcome))
    })
    .await?;
    out.release(guard, conn, &outcome);
    outcome
}

/// Runs a statement on `conn`; returns the rows it affected.
pub(crate) async fn execute(
    conn: &mut SqliteConnection,
    prepared: Prepared,
    ctx: &Ctx,
) -> Result<u64> {
    let one_statement = prepared.statement_count(Backend::Sqlite) == 1;
    if !one_statement {
        // sqlx would bind NULL to a parameter without a value and ignore a value no
        // parameter takes. Checked from the text before anything runs.
        script_values(&prepared, ctx)?;
    }
    if !one_statement && prepared.values.is_empty() {
        // A script: each statement is prepared as the one before has run (a later one
        // may use a table an earlier one creates).
        return sqlx::raw_sql(AssertSqlSafe(prepared.sql))
            .execute(&mut *conn)
            .await
            .map(|done| done.rows_affected())
            .map_err(|e| ctx.err(e, "execute"));
    }
    // One statement: its parameters are counted first (sqlx would bind NULL to those
    // without a value).
    let statement = if one_statement {
        let statement = conn
            .prepare(AssertSqlSafe(prepared.sql.clone()).into_sql_str())
            .await
            .map_err(|e| ctx.err(e, "execute"))?;
        enough_values(&statement, prepared.values.len(), ctx)?;
        // `VALUES (?1, ?)` with two values: sqlx binds value 1 to both.
        if let (1.., Some(numbered)) = prepared.sqlite_parameters() {
            return Err(Error::InvalidArgument(format!(
                "sql connection \"{}\": the statement mixes ? with {numbered}, which sqlx \
                 numbers apart (a value could go to two parameters and another to none); use \
                 one form",
                ctx.name
            )));
        }
        Some(statement)
    } else {
        None
    };
    let mut query = match &statement {
        Some(statement) => statement.query(),
        None => sqlx::query(AssertSqlSafe(prepared.sql.clone())),
    };
    for value in &prepared.values {
        query = bind(query, value);
    }
    query
        .execute(&mut *conn)
        .await
        .map(|done| done.rows_affected())
        .map_err(|e| ctx.err(e, "execute"))
}

/// A script of several statements with parameters (read from its text, before
/// anything runs): only plain `?` parameters, as many as the values given. sqlx binds a
/// script's values by a count across statements over the slots SQLite gives each (a
/// numbered or named parameter leaves gaps there), and binds NULL where it runs out:
/// numbered or named parameters in a script, or a count that differs, are refused.
fn script_values(prepared: &Prepared, ctx: &Ctx) -> Result<()> {
    let (plain, other) = prepared.sqlite_parameters();
    let given = prepared.values.len();
    if let Some(parameter) = other {
        return Err(Error::InvalidArgument(format!(
            "sql connection \"{}\": the script's parameter {parameter} cannot be bound: a \
             query of several statements takes ? parameters only (or run its statements \
             one at a time)",
            ctx.name
        )));
    }
    if plain > given {
        return Err(Error::InvalidArgument(format!(
            "sql connection \"{}\": the script uses parameter {} but {given} value(s) were \
             given",
            ctx.name,
            given + 1
        )));
    }
    if plain < given {
        return Err(Error::InvalidArgument(format!(
            "sql connection \"{}\": {given} value(s) were given but no parameter of the \
             script takes value {}",
            ctx.name,
            plain + 1
        )));
    }
    Ok(())
}

/// An error when `statement` has more parameters than `given` values: sqlx would bind
/// NULL to the rest (a write would store NULLs nobody asked for). SQLite counts a
/// statement's parameters by their highest number; a statement mixing `?NNN` and `?`
/// may need fewer values than that (sqlx numbers the `?` on their own) and is refused.
pub(crate) fn enough_values(
    statement: &sqlx::sqlite::SqliteStatement,
    given: usize,
    ctx: &Ctx,
) -> Result<()> {
    let expected = match statement.parameters() {
        Some(sqlx::Either::Right(count)) => count,
        Some(sqlx::Either::Left(types)) => types.len(),
        None => 0,
    };
    if given < expected {
        return Err(Error::InvalidArgument(format!(
            "sql connection \"{}\": the statement has {expected} parameter(s) but {given} \
             value(s) were given",
            ctx.name
        )));
    }
    Ok(())
}
