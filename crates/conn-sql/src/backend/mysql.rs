//! MySQL and MariaDB: rows from prepared statements (binary protocol), decoded by the
//! declared column type.

use std::str::FromStr;

use arrow::array::{
    BinaryBuilder, BooleanBuilder, Date32Builder, Float32Builder, Float64Builder, Int8Builder,
    Int16Builder, Int32Builder, Int64Builder, StringBuilder, Time64MicrosecondBuilder,
    TimestampMicrosecondBuilder, UInt8Builder, UInt16Builder, UInt32Builder, UInt64Builder,
};
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use conn_core::{Error, Result};
use futures::TryStreamExt;
use sqlx::mysql::types::MySqlTime;
use sqlx::mysql::{
    MySqlConnectOptions, MySqlConnection, MySqlPoolOptions, MySqlRow, MySqlTypeInfo,
};
use sqlx::{AssertSqlSafe, Column, Executor, MySql, Row, SqlSafeStr, Statement, TypeInfo};

use super::Ctx;
use super::output::{Output, Read};
use crate::arrow::decimal::{DecimalColumn, parse_decimal};
use crate::arrow::generic::{Builder, date_to_days, datetime_to_micros};
use crate::config::SqlConfig;
use crate::named::{Backslashes, Prepared};

/// Opens a pool.
pub(crate) async fn connect(config: &SqlConfig, ctx: &Ctx) -> Result<sqlx::MySqlPool> {
    let mut options =
        MySqlConnectOptions::from_str(config.url.expose()).map_err(|e| ctx.err(e, "connect"))?;
    for (key, value) in &config.pool.connect_args {
        options = match key.as_str() {
            "charset" => options.charset(value),
            "ssl_mode" => options.ssl_mode(
                value
                    .parse()
                    .map_err(|e: sqlx::Error| ctx.err(e, "reading connect_args.ssl_mode"))?,
            ),
            other => {
                super::ignored_connect_arg(crate::config::Backend::MySql, other);
                options
            }
        };
    }
    if config.pool.log_statements {
        options = sqlx::ConnectOptions::log_statements(options, log::LevelFilter::Info);
    }
    // A lazy pool, then one connect of our own: a down server is reported at once
    // with its cause, instead of after sqlx's retries until `pool_timeout`.
    let pool = config
        .pool
        .apply(MySqlPoolOptions::new())
        .connect_lazy_with(options);
    super::checkout::probe(&pool, ctx).await?;
    Ok(pool)
}

/// The builder for a MySQL column type. Binary-looking types (`BLOB`, `VARBINARY`) are
/// text when their collation is not `binary` (MariaDB reports `JSON` and `utf8mb4_bin`
/// text that way).
fn builder_for(column: &str, type_info: &MySqlTypeInfo) -> Result<Builder> {
    let type_name = type_info.name();
    let is_text = <String as sqlx::Type<MySql>>::compatible(type_info);
    Ok(match type_name {
        "BINARY" | "VARBINARY" | "BLOB" | "TINYBLOB" | "MEDIUMBLOB" | "LONGBLOB" if is_text => {
            Builder::Text(StringBuilder::new())
        }
        "BOOLEAN" => Builder::Bool(BooleanBuilder::new()),
        "TINYINT" => Builder::Int8(Int8Builder::new()),
        "TINYINT UNSIGNED" => Builder::UInt8(UInt8Builder::new()),
        "SMALLINT" => Builder::Int16(Int16Builder::new()),
        "SMALLINT UNSIGNED" | "YEAR" => Builder::UInt16(UInt16Builder::new()),
        "MEDIUMINT" | "INT" => Builder::Int32(Int32Builder::new()),
        "MEDIUMINT UNSIGNED" | "INT UNSIGNED" => Builder::UInt32(UInt32Builder::new()),
        "BIGINT" => Builder::Int64(Int64Builder::new()),
        "BIGINT UNSIGNED" | "BIT" => Builder::UInt64(UInt64Builder::new()),
        "FLOAT" => Builder::Float32(Float32Builder::new()),
        "DOUBLE" => Builder::Float64(Float64Builder::new()),
        "DECIMAL" => Builder::Decimal(DecimalColumn::new(None)),
        "CHAR" | "VARCHAR" | "TEXT" | "TINYTEXT" | "MEDIUMTEXT" | "LONGTEXT" | "ENUM" | "SET" => {
            Builder::Text(StringBuilder::new())
        }
        "JSON" => Builder::Json(StringBuilder::new()),
        "BINARY" | "VARBINARY" | "BLOB" | "TINYBLOB" | "MEDIUMBLOB" | "LONGBLOB" => {
            Builder::Binary(BinaryBuilder::new())
        }
        "DATE" => Builder::Date(Date32Builder::new()),
        "TIME" => Builder::Time(Time64MicrosecondBuilder::new()),
        "DATETIME" => Builder::Timestamp(TimestampMicrosecondBuilder::new()),
        "TIMESTAMP" => Builder::timestamp_utc(),
        "NULL" => Builder::Null(0),
        other => {
            return Err(Error::Data(format!(
                "column \"{column}\" has MySQL type {other}, which conn-sql does not map to \
                 Arrow; convert it in the query, for example CAST({column} AS CHAR)"
            )));
        }
    })
}

const ZERO_TIME: &str = "0000-00-00 00:00:00";

/// Whether value `i` of `row`, which sqlx reads as NULL, is in fact MySQL's zero date
/// (a non-NULL value of no date, which sqlx turns into NULL).
#[cold]
fn zero_date(row: &MySqlRow, i: usize) -> bool {
    matches!(row.try_get_unchecked::<&[u8], _>(i), Ok(bytes) if bytes.first() == Some(&0))
}

fn zero_date_error(what: &str, zero: &str) -> String {
    format!(
        "holds the zero {what} {zero}, which is no {what} (conn does not read it as NULL); \
         use NULLIF(column, '{zero}') or CAST(column AS CHAR) in the query"
    )
}

/// A value the driver could not decode, as a message.
#[allow(clippy::needless_pass_by_value)] // used as `map_err(undecodable)`
fn undecodable(err: sqlx::Error) -> String {
    format!("could not be decoded: {err}")
}

fn append(builder: &mut Builder, row: &MySqlRow, i: usize) -> std::result::Result<(), String> {
    append_value(builder, row, i).map_err(undecodable)?
}

/// Appends value `i` of `row`; the outer error is the driver's, the inner one ours.
fn append_value(
    builder: &mut Builder,
    row: &MySqlRow,
    i: usize,
) -> std::result::Result<std::result::Result<(), String>, sqlx::Error> {
    match builder {
        Builder::Null(n) => *n += 1,
        Builder::Bool(b) => {
            // TINYINT(1) may hold any of -128..=127; only 0 and 1 are booleans.
            match row.try_get_unchecked::<Option<i8>, _>(i)? {
                None => b.append_null(),
                Some(0) => b.append_value(false),
                Some(1) => b.append_value(true),
                Some(other) => {
                    return Ok(Err(format!(
                        "holds {other} in a BOOLEAN (TINYINT(1)) column, which holds 0 or 1; \
                         cast the column in the query (CAST(column AS SIGNED))"
                    )));
                }
            }
        }
        Builder::Int8(b) => b.append_option(row.try_get::<Option<i8>, _>(i)?),
        Builder::Int16(b) => b.append_option(row.try_get::<Option<i16>, _>(i)?),
        Builder::Int32(b) => b.append_option(row.try_get::<Option<i32>, _>(i)?),
        Builder::Int64(b) => b.append_option(row.try_get::<Option<i64>, _>(i)?),
        Builder::UInt8(b) => b.append_option(row.try_get::<Option<u8>, _>(i)?),
        Builder::UInt16(b) => b.append_option(row.try_get_unchecked::<Option<u16>, _>(i)?),
        Builder::UInt32(b) => b.append_option(row.try_get::<Option<u32>, _>(i)?),
        Builder::UInt64(b) => b.append_option(row.try_get_unchecked::<Option<u64>, _>(i)?),
        Builder::Float32(b) => b.append_option(row.try_get::<Option<f32>, _>(i)?),
        Builder::Float64(b) => b.append_option(row.try_get::<Option<f64>, _>(i)?),
        Builder::Decimal(c) => {
            // MySQL sends DECIMAL as text: parsed exactly, up to its 65 digits.
            let value = match row.try_get_unchecked::<Option<&str>, _>(i)? {
                Some(text) => match parse_decimal(text) {
                    Ok(value) => Some(value),
                    Err(problem) => return Ok(Err(problem)),
                },
                None => None,
            };
            c.push(value);
        }
        Builder::Text(b) | Builder::Json(b) => {
            b.append_option(row.try_get_unchecked::<Option<&str>, _>(i)?);
        }
        Builder::Binary(b) => b.append_option(row.try_get_unchecked::<Option<&[u8]>, _>(i)?),
        Builder::Date(b) => match row.try_get::<Option<NaiveDate>, _>(i)? {
            None if zero_date(row, i) => return Ok(Err(zero_date_error("date", "0000-00-00"))),
            date => b.append_option(date.map(date_to_days)),
        },
        // MySQL's TIME is a duration (-838:59:59 to 838:59:59); Arrow's Time64 a time
        // of day. sqlx would drop the sign of a negative one.
        Builder::Time(b) => match row.try_get::<Option<MySqlTime>, _>(i)? {
            None => b.append_null(),
            Some(time) if time.is_valid_time_of_day() => b.append_value(
                ((i64::from(time.hours()) * 60 + i64::from(time.minutes())) * 60
                    + i64::from(time.seconds()))
                    * 1_000_000
                    + i64::from(time.microseconds()),
            ),
            Some(time) => {
                return Ok(Err(format!(
                    "holds the TIME {time}, which is not a time of day (Arrow's Time64 holds \
                     00:00:00 to 23:59:59.999999); use TIME_TO_SEC(column) or \
                     CAST(column AS CHAR) in the query"
                )));
            }
        },
        Builder::Timestamp(b) => match row.try_get::<Option<NaiveDateTime>, _>(i)? {
            None if zero_date(row, i) => return Ok(Err(zero_date_error("date-time", ZERO_TIME))),
            time => b.append_option(time.map(datetime_to_micros)),
        },
        Builder::TimestampUtc(b) => match row.try_get::<Option<DateTime<Utc>>, _>(i)? {
            None if zero_date(row, i) => return Ok(Err(zero_date_error("date-time", ZERO_TIME))),
            time => b.append_option(time.map(|t| t.timestamp_micros())),
        },
    }
    Ok(Ok(()))
}

use super::bind_loose as bind;

/// Runs a query on `conn`.
pub(crate) async fn fetch(
    conn: &mut MySqlConnection,
    prepared: Prepared,
    ctx: &Ctx,
    out: Output<'_>,
) -> Result<Read> {
    let statement = conn
        .prepare(AssertSqlSafe(prepared.sql.clone()).into_sql_str())
        .await
        .map_err(|e| ctx.err(e, "query"))?;
    let builders = |columns: &[sqlx::mysql::MySqlColumn]| -> Result<Vec<Builder>> {
        columns
            .iter()
            .map(|c| builder_for(c.name(), c.type_info()))
            .collect()
    };
    let names = statement
        .columns()
        .iter()
        .map(|c| c.name().to_owned())
        .collect();
    let mut batches = out.batches(names, builders(statement.columns())?, ctx.batch_size);
    // The result's column types are fixed by its metadata (sent once, before the
    // rows), never by a value.
    let mut first = true;
    let mut query = statement.query();
    for value in &prepared.values {
        query = bind(query, value);
    }
    let mut rows = query.fetch(&mut *conn);
    while let Some(row) = rows.try_next().await.map_err(|e| ctx.err(e, "query"))? {
        if first {
            // The result's own column types can differ from what PREPARE announced
            // (`? + 1` is DOUBLE there and BIGINT here): the result decides.
            batches.decoders = builders(row.columns())?;
            first = false;
        }
        batches.push_row(&row, append)?;
        out.send_ready(&mut batches).await?;
    }
    drop(rows);
    out.finish(batches).await
}

/// Runs a statement on `conn`; returns the rows it affected.
pub(crate) async fn execute(
    conn: &mut MySqlConnection,
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

/// The statements MySQL runs only after committing the open transaction ("statements
/// that cause an implicit commit"), plus COMMIT and ROLLBACK themselves: inside a
/// session they would end its transaction behind its back. Returns the offending
/// statement's leading keywords, for the error.
pub(crate) fn implicit_commit(sql: &str) -> Option<String> {
    // Split as each sql_mode reads quotes (the default, NO_BACKSLASH_ESCAPES,
    // ANSI_QUOTES): a statement any split shows is refused.
    let split: Vec<&str> = [(true, true), (false, false), (true, false)]
        .into_iter()
        .flat_map(|(single, double)| statements(sql, Backslashes { single, double }))
        .collect();
    split.into_iter().find_map(|statement| {
        let words = leading_words(statement, 3);
        let word = |i: usize| words.get(i).map_or("", String::as_str);
        let commits = match word(0) {
            "create" | "drop" => word(1) != "temporary",
            "alter" | "rename" | "truncate" | "grant" | "revoke" | "lock" | "unlock" | "begin"
            | "start" | "commit" | "analyze" | "optimize" | "repair" | "flush" | "install"
            | "uninstall" | "reset" | "cache" | "change" | "stop" | "xa" => true,
            "rollback" => word(1) != "to" && !(word(1) == "work" && word(2) == "to"),
            "check" => word(1) == "table",
            "load" => word(1) == "index",
            "set" => word(1) == "password" || statement.to_lowercase().contains("autocommit"),
            _ => false,
        };
        commits.then(|| {
            words
                .iter()
                .take(2)
                .map(|w| w.to_uppercase())
                .collect::<Vec<_>>()
                .join(" ")
        })
    })
}

/// The statements of a script, split on `;` outside literals, identifiers and comments,
/// with backslash escapes in quoted runs as `backslashes` says.
fn statements(sql: &str, backslashes: Backslashes) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut start, mut i) = (0, 0);
    while i < sql.len() {
        let skip = crate::named::skip_non_parameter_escaping(
            sql,
            i,
            crate::config::Backend::MySql,
            backslashes,
        );
        if skip > i {
            i = skip;
            continue;
        }
        if sql.as_bytes()[i] == b';' {
            parts.push(&sql[start..i]);
            start = i + 1;
        }
        i += 1;
    }
    parts.push(&sql[start..]);
    parts
}

/// The first `n` words of a statement, lower-cased, after whitespace and comments.
fn leading_words(statement: &str, n: usize) -> Vec<String> {
    let mut words = Vec::new();
    let mut rest = statement;
    while words.len() < n {
        rest = rest.trim_start();
        // `--` is a comment only before whitespace or a control character.
        let dashes = rest.strip_prefix("--").filter(|after| {
            after
                .chars()
                .next()
                .is_none_or(|c| c.is_whitespace() || c.is_control())
        });
        if let Some(after) = dashes.or_else(|| rest.strip_prefix('#')) {
            rest = after.split_once('\n').map_or("", |(_, r)| r);
        } else if let Some(after) = rest
            .strip_prefix("/*!")
            .or_else(|| rest.strip_prefix("/*M!"))
        {
            // An executable comment: its body is the statement's code.
            rest = after.trim_start_matches(|c: char| c.is_ascii_digit());
        } else if let Some(after) = rest.strip_prefix("/*") {
            rest = after.split_once("*/").map_or("", |(_, r)| r);
        } else {
            let word: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if word.is_empty() {
                break;
            }
            rest = &rest[word.len()..];
            words.push(word.to_ascii_lowercase());
        }
    }
    words
}

#[cfg(test)]
mod tests {
    use super::implicit_commit;

    #[test]
    fn statements_that_commit_implicitly() {
        for sql in [
            "CREATE TABLE t (a INT)",
            "  -- a comment\n drop table t",
            "ALTER TABLE t ADD b INT",
            "truncate t",
            "RENAME TABLE a TO b",
            "insert into t values (1); /* then */ CREATE INDEX i ON t (a)",
            "SET autocommit = 1",
            "set @@session.autocommit=1",
            "COMMIT",
            "rollback",
            "START TRANSACTION",
            "LOCK TABLES t WRITE",
            // Executable comments run; `--` needs a space to start a comment; a
            // double-quoted string takes backslash escapes; block comments do not nest.
            "/*!40000 ALTER TABLE t DISABLE KEYS */",
            "/*M!100000 DROP TABLE t */",
            "/*!COMMIT*/",
            "UPDATE t SET a=a--1; DROP TABLE u",
            "SELECT \"\\\"\"; DROP TABLE u; SELECT \"x\"",
            "SELECT 1 /* /* */; DROP TABLE t",
            // Under ANSI_QUOTES `"a\"` is an identifier; under NO_BACKSLASH_ESCAPES
            // `'a\'` is a string: either way what follows is a statement.
            "SELECT \"a\\\"; DROP TABLE t; -- \"",
            "SELECT 'a\\'; DROP TABLE t; -- '",
            // ANSI_QUOTES alone: '...' takes escapes, "..." does not.
            "SELECT \"a\\\" , '\\'' ; DROP TABLE t; -- \"",
        ] {
            assert!(implicit_commit(sql).is_some(), "{sql}");
        }
        for sql in [
            "INSERT INTO t VALUES (1)",
            "CREATE TEMPORARY TABLE t (a INT)",
            "drop temporary table t",
            "SELECT 'CREATE TABLE x'",
            "UPDATE `drop` SET a = 1",
            "insert into t values ('a;create table x')",
            "ROLLBACK TO SAVEPOINT s",
            "rollback work to s",
            "SAVEPOINT s",
            "SET @x = 1",
        ] {
            assert_eq!(implicit_commit(sql), None, "{sql}");
        }
        assert_eq!(
            implicit_commit("select 1; create table t (a int)").as_deref(),
            Some("CREATE TABLE")
        );
    }
}
