//! Reads through sqlx's row API, for a session: its transaction's connection stays with
//! the session (a read runs on the session's task, so the session's `timeout` and a
//! dropped call interrupt it as they do any statement of the session). The values go
//! to the same Arrow columns as a pooled read's.

use std::borrow::Cow;

use conn_core::Result;
use futures::TryStreamExt;
use sqlx::sqlite::{SqliteConnection, SqliteRow};
use sqlx::{AssertSqlSafe, Column, Executor, Row, SqlSafeStr, Statement, TypeInfo, ValueRef};

use super::super::Ctx;
use super::super::bind_loose as bind;
use super::super::output::{Output, Read};
use crate::arrow::sqlite::{SqliteColumn, SqliteValue};
use crate::config::Backend;
use crate::named::Prepared;

/// Runs a query on `conn` (a session's transaction).
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
    // sqlx names the declared type in its own words (`INTEGER`, `DATETIME`, `NULL`
    // for an expression or a type it does not know), which read the same.
    let decoders = statement
        .columns()
        .iter()
        .map(|c| SqliteColumn::declared(Some(c.type_info().name())))
        .collect();
    if prepared.statement_count(Backend::Sqlite) == 1 {
        super::enough_values(&statement, prepared.values.len(), ctx)?;
    }
    // As a pooled read: sqlx would return the rows of every statement with rows as one
    // table (decoded by the first one's columns), bind NULL to a parameter without a
    // value and ignore a value no parameter takes. Checked on SQLite's own split of the
    // query, whatever conn's count of its statements says. sqlx's prepare above
    // prepared every statement, so each prepares here too.
    {
        let mut handle = conn.lock_handle().await.map_err(|e| ctx.err(e, "query"))?;
        super::direct::check_read(&mut handle, &prepared, ctx)?;
    }
    let mut batches = out.batches(names, decoders, ctx.batch_size);
    let mut query = statement.query();
    for value in &prepared.values {
        query = bind(query, value);
    }
    let mut rows = query.fetch(&mut *conn);
    while let Some(row) = rows.try_next().await.map_err(|e| ctx.err(e, "query"))? {
        batches.push_row(&row, |decoder, row, index| {
            decoder.append(value_of(row, index)?)
        })?;
        out.send_ready(&mut batches).await?;
    }
    drop(rows);
    out.finish(batches).await
}

/// The value of column `index`, by its storage class.
fn value_of(row: &SqliteRow, index: usize) -> Result<SqliteValue<'_>, String> {
    let undecodable = |err: sqlx::Error| format!("could not be decoded: {err}");
    let raw = row.try_get_raw(index).map_err(undecodable)?;
    if raw.is_null() {
        return Ok(SqliteValue::Null);
    }
    let storage: Cow<'_, _> = raw.type_info();
    Ok(match storage.name() {
        "INTEGER" | "BOOLEAN" => SqliteValue::Integer(
            row.try_get_unchecked::<i64, _>(index)
                .map_err(undecodable)?,
        ),
        "REAL" | "NUMERIC" => SqliteValue::Real(
            row.try_get_unchecked::<f64, _>(index)
                .map_err(undecodable)?,
        ),
        "BLOB" => SqliteValue::Blob(
            row.try_get_unchecked::<&[u8], _>(index)
                .map_err(undecodable)?,
        ),
        _ => SqliteValue::text(
            row.try_get_unchecked::<&[u8], _>(index)
                .map_err(undecodable)?,
        )?,
    })
}
