//! SQLite: rows decoded by declared type where it means something Arrow has (BOOLEAN,
//! DATE, TIME, DATETIME), by each value's storage class otherwise (SQLite's columns are
//! dynamically typed).

use std::borrow::Cow;

use arrow::array::{
    BooleanBuilder, Date32Builder, Time64MicrosecondBuilder, TimestampMicrosecondBuilder,
};
use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime};
use conn_core::{Error, Result};
use futures::TryStreamExt;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection, SqlitePoolOptions, SqliteRow};
use sqlx::{AssertSqlSafe, Column, Executor, Row, SqlSafeStr, Statement, TypeInfo, ValueRef};

use super::Ctx;
use super::output::{Output, Read};
use crate::arrow::generic::{
    Builder, DynamicColumn, DynamicValue, date_to_days, datetime_to_micros, time_to_micros,
};
use crate::config::{SqlConfig, SqliteTarget};
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
                super::ignored_connect_arg(crate::config::Backend::Sqlite, other);
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

fn builder_for(declared: &str) -> Builder {
    match declared {
        "BOOLEAN" => Builder::Bool(BooleanBuilder::new()),
        "DATE" => Builder::Date(Date32Builder::new()),
        "TIME" => Builder::Time(Time64MicrosecondBuilder::new()),
        "DATETIME" => Builder::Timestamp(TimestampMicrosecondBuilder::new()),
        other => Builder::Dynamic(DynamicColumn::declared(other)),
    }
}

fn dynamic_value(row: &SqliteRow, i: usize) -> std::result::Result<DynamicValue, sqlx::Error> {
    let raw = row.try_get_raw(i)?;
    if raw.is_null() {
        return Ok(DynamicValue::Null);
    }
    let storage: Cow<'_, _> = raw.type_info();
    Ok(match storage.name() {
        "INTEGER" | "BOOLEAN" => DynamicValue::Int(row.try_get_unchecked::<i64, _>(i)?),
        "REAL" | "NUMERIC" => DynamicValue::Real(row.try_get_unchecked::<f64, _>(i)?),
        "BLOB" => DynamicValue::Blob(row.try_get_unchecked::<Vec<u8>, _>(i)?),
        _ => DynamicValue::Text(row.try_get_unchecked::<String, _>(i)?),
    })
}

/// A value the driver could not decode, as a message.
#[allow(clippy::needless_pass_by_value)] // used as `map_err(undecodable)`
fn undecodable(err: sqlx::Error) -> String {
    format!("could not be decoded: {err}")
}

fn append(builder: &mut Builder, row: &SqliteRow, i: usize) -> std::result::Result<(), String> {
    match builder {
        // SQLite has no booleans: a BOOLEAN column holds 0 and 1, anything else is not
        // a boolean (never read as `true`).
        Builder::Bool(b) => match dynamic_value(row, i).map_err(undecodable)? {
            DynamicValue::Null => b.append_null(),
            DynamicValue::Int(0) => b.append_value(false),
            DynamicValue::Int(1) => b.append_value(true),
            DynamicValue::Int(other) => {
                return Err(format!(
                    "holds the INTEGER {other} in a BOOLEAN column, which holds 0 or 1; cast \
                     the column in the query"
                ));
            }
            _ => {
                return Err(
                    "holds a value that is not 0 or 1 in a BOOLEAN column; cast the column in \
                     the query"
                        .to_owned(),
                );
            }
        },
        Builder::Date(b) => b.append_option(
            row.try_get::<Option<NaiveDate>, _>(i)
                .map_err(undecodable)?
                .map(date_to_days),
        ),
        Builder::Time(b) => b.append_option(
            row.try_get::<Option<NaiveTime>, _>(i)
                .map_err(undecodable)?
                .map(time_to_micros),
        ),
        Builder::Timestamp(b) => {
            // A text with an offset (`...+02:00`, `...Z`) is that instant: read it as
            // UTC. (sqlx's NaiveDateTime would keep the wall clock and drop the offset.)
            let value = match row.try_get::<Option<DateTime<FixedOffset>>, _>(i) {
                Ok(value) => value.map(|at| at.naive_utc()),
                Err(_) => row
                    .try_get::<Option<NaiveDateTime>, _>(i)
                    .map_err(undecodable)?,
            };
            b.append_option(value.map(datetime_to_micros));
        }
        Builder::Dynamic(c) => c.push(dynamic_value(row, i).map_err(undecodable)?),
        _ => return Err("has a type conn-sql's SQLite reader does not build".to_owned()),
    }
    Ok(())
}

use super::bind_loose as bind;

/// Runs a query on `conn`.
pub(crate) async fn fetch(
    conn: &mut SqliteConnection,
    prepared: Prepared,
    ctx: &Ctx,
    out: Output<'_>,
) -> Result<Read> {
    let statement = conn
        .prepare(AssertSqlSafe(prepared.sql.clone()).into_sql_str())
        .await
        .map_err(|e| ctx.err(e, "query"))?;
    let names: Vec<String> = statement
        .columns()
        .iter()
        .map(|c| c.name().to_owned())
        .collect();
    let builders = statement
        .columns()
        .iter()
        .map(|c| builder_for(c.type_info().name()))
        .collect();
    let mut batches = out.batches(names, builders, ctx.batch_size);
    let mut query = statement.query();
    for value in &prepared.values {
        query = bind(query, value);
    }
    let mut rows = query.fetch(&mut *conn);
    while let Some(row) = rows.try_next().await.map_err(|e| ctx.err(e, "query"))? {
        batches.push_row(&row, append)?;
        out.send_ready(&mut batches).await?;
    }
    drop(rows);
    out.finish(batches).await
}

/// Runs a statement on `conn`; returns the rows it affected.
pub(crate) async fn execute(
    conn: &mut SqliteConnection,
    prepared: Prepared,
    ctx: &Ctx,
) -> Result<u64> {
    if prepared.values.is_empty() {
        return sqlx::raw_sql(AssertSqlSafe(prepared.sql))
            .execute(&mut *conn)
            .await
            .map(|done| done.rows_affected())
            .map_err(|e| ctx.err(e, "execute"));
    }
    let mut query = sqlx::query(AssertSqlSafe(prepared.sql));
    for value in &prepared.values {
        query = bind(query, value);
    }
    query
        .execute(&mut *conn)
        .await
        .map(|done| done.rows_affected())
        .map_err(|e| ctx.err(e, "execute"))
}
