//! `write_table`: an Arrow table into a SQL table, in one transaction.
//!
//! PostgreSQL gets binary `COPY ... FROM STDIN`, encoded for the target columns' types
//! (so appending Int64 data to an INTEGER column works, and a value that does not fit is
//! an error, never a silent NULL). MySQL and SQLite get multi-row `INSERT`s with bound
//! values. PostgreSQL and SQLite run the DDL inside the transaction; MySQL commits DDL
//! implicitly, so there `create` drops the new table again on failure and `replace`
//! fills a new table and swaps it in with one atomic `RENAME TABLE`.

use arrow::array::ArrayRef;
use arrow::compute::{CastOptions, cast_with_options};
use arrow::datatypes::{DataType, Field};
use conn_core::{Error, Result, Table, WriteMode};

use crate::backend::{Ctx, Pool, Tx, quote_name};
use crate::config::Backend;
use crate::named::Prepared;

/// Casting that fails on overflow instead of writing NULL.
fn strict() -> CastOptions<'static> {
    CastOptions {
        safe: false,
        ..CastOptions::default()
    }
}

pub(crate) fn cast(array: &ArrayRef, to: &DataType, column: &str) -> Result<ArrayRef> {
    if array.data_type() == to {
        return Ok(array.clone());
    }
    cast_with_options(array, to, &strict()).map_err(|e| {
        Error::Data(format!(
            "column \"{column}\": cannot write {} values as {to}: {e}",
            array.data_type()
        ))
    })
}

fn is_uuid(field: &Field) -> bool {
    field.extension_type_name() == Some("arrow.uuid")
        || (matches!(field.data_type(), DataType::FixedSizeBinary(16))
            && field.name().to_lowercase().contains("uuid"))
}

fn is_json(field: &Field) -> bool {
    field.extension_type_name() == Some("arrow.json")
}

/// The column type `create` uses for an Arrow field.
pub(crate) fn sql_type(field: &Field, backend: Backend) -> Result<String> {
    use Backend::{MySql, Postgres, Sqlite};
    let unsupported = || {
        Error::Data(format!(
            "column \"{}\": conn-sql cannot create a {} column for Arrow type {}",
            field.name(),
            backend.name(),
            field.data_type()
        ))
    };
    Ok(match (field.data_type(), backend) {
        (DataType::Boolean, _) => "BOOLEAN".into(),
        (DataType::Int8, MySql) => "TINYINT".into(),
        (DataType::Int8 | DataType::Int16 | DataType::UInt8, Postgres) => "SMALLINT".into(),
        (DataType::Int16, MySql) => "SMALLINT".into(),
        (DataType::Int32 | DataType::UInt16, Postgres) => "INTEGER".into(),
        (DataType::Int32, MySql) => "INT".into(),
        (DataType::Int64 | DataType::UInt32, Postgres) => "BIGINT".into(),
        (DataType::Int64, MySql) => "BIGINT".into(),
        (DataType::UInt8, MySql) => "TINYINT UNSIGNED".into(),
        (DataType::UInt16, MySql) => "SMALLINT UNSIGNED".into(),
        (DataType::UInt32, MySql) => "INT UNSIGNED".into(),
        (DataType::UInt64, MySql) => "BIGINT UNSIGNED".into(),
        (DataType::UInt64, Postgres) => "NUMERIC(20, 0)".into(),
        (d, Sqlite) if d.is_integer() => "INTEGER".into(),
        (DataType::Float16 | DataType::Float32, Postgres) => "REAL".into(),
        (DataType::Float16 | DataType::Float32, MySql) => "FLOAT".into(),
        (DataType::Float64, Postgres) => "DOUBLE PRECISION".into(),
        (DataType::Float64, MySql) => "DOUBLE".into(),
        (d, Sqlite) if d.is_floating() => "REAL".into(),
        (DataType::Decimal128(p, s), Postgres) => format!("NUMERIC({p}, {s})"),
        (DataType::Decimal128(p, s), MySql) => format!("DECIMAL({}, {s})", (*p).min(65)),
        (DataType::Decimal128(..), Sqlite) => "NUMERIC".into(),
        (DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View, _) if is_json(field) => {
            match backend {
                Postgres => "JSONB".into(),
                MySql => "JSON".into(),
                Sqlite => "TEXT".into(),
            }
        }
        (DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View, MySql) => "LONGTEXT".into(),
        (DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View, _) => "TEXT".into(),
        (DataType::FixedSizeBinary(16), Postgres) if is_uuid(field) => "UUID".into(),
        (DataType::FixedSizeBinary(n), MySql) => format!("BINARY({n})"),
        (
            DataType::Binary
            | DataType::LargeBinary
            | DataType::BinaryView
            | DataType::FixedSizeBinary(_),
            Postgres,
        ) => "BYTEA".into(),
        (DataType::Binary | DataType::LargeBinary | DataType::BinaryView, MySql) => {
            "LONGBLOB".into()
        }
        (
            DataType::Binary
            | DataType::LargeBinary
            | DataType::BinaryView
            | DataType::FixedSizeBinary(_),
            Sqlite,
        ) => "BLOB".into(),
        (DataType::Date32 | DataType::Date64, _) => "DATE".into(),
        (DataType::Time32(_) | DataType::Time64(_), MySql) => "TIME(6)".into(),
        (DataType::Time32(_) | DataType::Time64(_), _) => "TIME".into(),
        (DataType::Timestamp(_, Some(_)), Postgres) => "TIMESTAMPTZ".into(),
        (DataType::Timestamp(_, _), Postgres) => "TIMESTAMP".into(),
        (DataType::Timestamp(_, _), MySql) => "DATETIME(6)".into(),
        (DataType::Timestamp(_, _), Sqlite) => "DATETIME".into(),
        (DataType::Interval(_), Postgres) => "INTERVAL".into(),
        (DataType::List(item) | DataType::LargeList(item), Postgres) => {
            format!("{}[]", sql_type(item, backend)?)
        }
        _ => return Err(unsupported()),
    })
}

fn create_statement(name: &str, table: &Table, backend: Backend) -> Result<String> {
    let columns: Result<Vec<String>> = table
        .schema()
        .fields()
        .iter()
        .map(|f| {
            Ok(format!(
                "{} {}",
                quote_name(f.name(), backend),
                sql_type(f, backend)?
            ))
        })
        .collect();
    Ok(format!(
        "CREATE TABLE {} ({})",
        quote_name(name, backend),
        columns?.join(", ")
    ))
}

fn statement(sql: String) -> Prepared {
    Prepared {
        sql,
        values: Vec::new(),
    }
}

/// Writes `table` through `pool`, atomically.
pub(crate) async fn write_table(
    pool: &Pool,
    name: &str,
    table: &Table,
    mode: WriteMode,
    ctx: &Ctx,
) -> Result<u64> {
    if pool.backend() == Backend::MySql {
        return write_mysql(pool, name, table, mode, ctx).await;
    }
    let mut tx = pool.begin(ctx).await?;
    let written = write_in_tx(&mut tx, name, table, mode, ctx).await?;
    tx.commit(ctx).await?;
    Ok(written)
}

/// Writes `table` inside an open transaction (DDL included, except on MySQL where DDL
/// commits).
pub(crate) async fn write_in_tx(
    tx: &mut Tx,
    name: &str,
    table: &Table,
    mode: WriteMode,
    ctx: &Ctx,
) -> Result<u64> {
    let backend = tx.backend();
    if mode == WriteMode::Replace {
        let drop = format!("DROP TABLE IF EXISTS {}", quote_name(name, backend));
        tx.execute(statement(drop), ctx).await?;
    }
    if mode != WriteMode::Append {
        tx.execute(statement(create_statement(name, table, backend)?), ctx)
            .await?;
    }
    insert(tx, name, table, ctx).await
}

async fn insert(tx: &mut Tx, name: &str, table: &Table, ctx: &Ctx) -> Result<u64> {
    match tx {
        #[cfg(feature = "postgres")]
        Tx::Postgres(pg) => postgres_copy::copy_in(pg, name, table, ctx).await,
        #[cfg(any(feature = "mysql", feature = "sqlite"))]
        _ => insert_rows::insert(tx, name, table, ctx).await,
        #[cfg(not(any(feature = "mysql", feature = "sqlite")))]
        #[allow(unreachable_patterns)]
        _ => unreachable_backend(),
    }
}

#[cfg(not(any(feature = "mysql", feature = "sqlite")))]
fn unreachable_backend() -> Result<u64> {
    Err(Error::InvalidArgument(
        "no SQL driver is compiled in".into(),
    ))
}

/// MySQL: DDL commits implicitly, so atomicity comes from cleaning up and from an
/// atomic rename.
async fn write_mysql(
    pool: &Pool,
    name: &str,
    table: &Table,
    mode: WriteMode,
    ctx: &Ctx,
) -> Result<u64> {
    let quoted = quote_name(name, Backend::MySql);
    match mode {
        WriteMode::Append => {
            let mut tx = pool.begin(ctx).await?;
            let written = insert(&mut tx, name, table, ctx).await?;
            tx.commit(ctx).await?;
            Ok(written)
        }
        WriteMode::Create => {
            pool.execute(
                statement(create_statement(name, table, Backend::MySql)?),
                ctx,
            )
            .await?;
            match fill_mysql(pool, name, table, ctx).await {
                Ok(written) => Ok(written),
                Err(err) => {
                    let _ = pool
                        .execute(statement(format!("DROP TABLE {quoted}")), ctx)
                        .await;
                    Err(err)
                }
            }
        }
        WriteMode::Replace => {
            let stamp = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos());
            let fresh = format!("{name}__conn_new_{stamp}");
            let old = format!("{name}__conn_old_{stamp}");
            let (fresh_q, old_q) = (
                quote_name(&fresh, Backend::MySql),
                quote_name(&old, Backend::MySql),
            );
            pool.execute(
                statement(create_statement(&fresh, table, Backend::MySql)?),
                ctx,
            )
            .await?;
            let written = match fill_mysql(pool, &fresh, table, ctx).await {
                Ok(written) => written,
                Err(err) => {
                    let _ = pool
                        .execute(statement(format!("DROP TABLE {fresh_q}")), ctx)
                        .await;
                    return Err(err);
                }
            };
            let swap = format!("RENAME TABLE {quoted} TO {old_q}, {fresh_q} TO {quoted}");
            match pool.execute(statement(swap), ctx).await {
                Ok(_) => {
                    pool.execute(statement(format!("DROP TABLE {old_q}")), ctx)
                        .await?;
                }
                Err(err) if err.code() == Some("42S02") => {
                    pool.execute(
                        statement(format!("RENAME TABLE {fresh_q} TO {quoted}")),
                        ctx,
                    )
                    .await?;
                }
                Err(err) => {
                    let _ = pool
                        .execute(statement(format!("DROP TABLE {fresh_q}")), ctx)
                        .await;
                    return Err(err);
                }
            }
            Ok(written)
        }
        other => Err(Error::InvalidArgument(format!(
            "write mode {other:?} is not supported by conn-sql"
        ))),
    }
}

async fn fill_mysql(pool: &Pool, name: &str, table: &Table, ctx: &Ctx) -> Result<u64> {
    let mut tx = pool.begin(ctx).await?;
    let written = insert(&mut tx, name, table, ctx).await?;
    tx.commit(ctx).await?;
    Ok(written)
}

#[cfg(any(feature = "mysql", feature = "sqlite"))]
mod insert_rows {
    //! Multi-row `INSERT ... VALUES (?, ...), (?, ...)` with bound values.

    use arrow::array::{Array, ArrayRef, AsArray};
    use arrow::datatypes::{
        DataType, Date32Type, Decimal128Type, Float64Type, Int64Type, Time64MicrosecondType,
        TimeUnit, TimestampMicrosecondType, UInt64Type,
    };
    use chrono::{DateTime, NaiveDate, NaiveTime};
    use conn_core::{Error, Result, Table};

    use super::{Tx, cast};
    use crate::backend::{Ctx, quote_name};

    /// One cell, ready to bind.
    #[derive(Debug, Clone)]
    pub(super) enum Cell {
        Null,
        Bool(bool),
        Int(i64),
        UInt(u64),
        Float(f64),
        Decimal(rust_decimal::Decimal),
        Text(String),
        Bytes(Vec<u8>),
        Date(NaiveDate),
        Time(NaiveTime),
        Timestamp(chrono::NaiveDateTime),
    }

    /// The canonical type a column is cast to before its cells are read.
    fn canonical(data_type: &DataType) -> DataType {
        match data_type {
            DataType::Boolean => DataType::Boolean,
            DataType::UInt64 => DataType::UInt64,
            d if d.is_integer() => DataType::Int64,
            d if d.is_floating() => DataType::Float64,
            DataType::Decimal128(p, s) => DataType::Decimal128(*p, *s),
            DataType::Binary
            | DataType::LargeBinary
            | DataType::BinaryView
            | DataType::FixedSizeBinary(_) => DataType::Binary,
            DataType::Date32 | DataType::Date64 => DataType::Date32,
            DataType::Time32(_) | DataType::Time64(_) => DataType::Time64(TimeUnit::Microsecond),
            DataType::Timestamp(_, tz) => DataType::Timestamp(TimeUnit::Microsecond, tz.clone()),
            _ => DataType::Utf8,
        }
    }

    fn cell(array: &ArrayRef, row: usize) -> Result<Cell> {
        if array.is_null(row) {
            return Ok(Cell::Null);
        }
        Ok(match array.data_type() {
            DataType::Boolean => Cell::Bool(array.as_boolean().value(row)),
            DataType::Int64 => Cell::Int(array.as_primitive::<Int64Type>().value(row)),
            DataType::UInt64 => Cell::UInt(array.as_primitive::<UInt64Type>().value(row)),
            DataType::Float64 => Cell::Float(array.as_primitive::<Float64Type>().value(row)),
            DataType::Decimal128(_, s) => {
                let v = array.as_primitive::<Decimal128Type>().value(row);
                let scale = u32::try_from(*s).unwrap_or(0);
                Cell::Decimal(
                    rust_decimal::Decimal::try_from_i128_with_scale(v, scale).map_err(|e| {
                        Error::Data(format!("a decimal value cannot be written: {e}"))
                    })?,
                )
            }
            DataType::Binary => Cell::Bytes(array.as_binary::<i32>().value(row).to_vec()),
            DataType::Date32 => {
                let days = array.as_primitive::<Date32Type>().value(row);
                Cell::Date(
                    DateTime::from_timestamp(i64::from(days) * 86_400, 0)
                        .map(|d| d.date_naive())
                        .ok_or_else(|| Error::Data("a date out of range".into()))?,
                )
            }
            DataType::Time64(_) => {
                let micros = array.as_primitive::<Time64MicrosecondType>().value(row);
                let secs = u32::try_from(micros.div_euclid(1_000_000)).unwrap_or(0);
                let nanos = u32::try_from(micros.rem_euclid(1_000_000) * 1000).unwrap_or(0);
                Cell::Time(
                    NaiveTime::from_num_seconds_from_midnight_opt(secs, nanos)
                        .ok_or_else(|| Error::Data("a time out of range".into()))?,
                )
            }
            DataType::Timestamp(..) => {
                let micros = array.as_primitive::<TimestampMicrosecondType>().value(row);
                Cell::Timestamp(
                    DateTime::from_timestamp_micros(micros)
                        .map(|d| d.naive_utc())
                        .ok_or_else(|| Error::Data("a timestamp out of range".into()))?,
                )
            }
            _ => Cell::Text(array.as_string::<i32>().value(row).to_owned()),
        })
    }

    /// Binds every cell of a chunk of rows and runs the statement.
    async fn run_chunk(tx: &mut Tx, sql: &str, cells: Vec<Cell>, ctx: &Ctx) -> Result<u64> {
        use sqlx::AssertSqlSafe;
        match tx {
            #[cfg(feature = "mysql")]
            Tx::MySql(conn) => {
                let mut query = sqlx::query(AssertSqlSafe(sql.to_owned()));
                for cell in cells {
                    query = match cell {
                        Cell::Null => query.bind(Option::<String>::None),
                        Cell::Bool(v) => query.bind(v),
                        Cell::Int(v) => query.bind(v),
                        Cell::UInt(v) => query.bind(v),
                        Cell::Float(v) => query.bind(v),
                        Cell::Decimal(v) => query.bind(v),
                        Cell::Text(v) => query.bind(v),
                        Cell::Bytes(v) => query.bind(v),
                        Cell::Date(v) => query.bind(v),
                        Cell::Time(v) => query.bind(v),
                        Cell::Timestamp(v) => query.bind(v),
                    };
                }
                query
                    .execute(&mut **conn)
                    .await
                    .map(|r| r.rows_affected())
                    .map_err(|e| ctx.err(&e, "write_table"))
            }
            #[cfg(feature = "sqlite")]
            Tx::Sqlite(conn) => {
                let mut query = sqlx::query(AssertSqlSafe(sql.to_owned()));
                for cell in cells {
                    query = match cell {
                        Cell::Null => query.bind(Option::<String>::None),
                        Cell::Bool(v) => query.bind(v),
                        Cell::Int(v) => query.bind(v),
                        Cell::UInt(v) => match i64::try_from(v) {
                            Ok(v) => query.bind(v),
                            Err(_) => query.bind(v.to_string()),
                        },
                        Cell::Float(v) => query.bind(v),
                        Cell::Decimal(v) => query.bind(v.to_string()),
                        Cell::Text(v) => query.bind(v),
                        Cell::Bytes(v) => query.bind(v),
                        Cell::Date(v) => query.bind(v),
                        Cell::Time(v) => query.bind(v),
                        Cell::Timestamp(v) => query.bind(v),
                    };
                }
                query
                    .execute(&mut **conn)
                    .await
                    .map(|r| r.rows_affected())
                    .map_err(|e| ctx.err(&e, "write_table"))
            }
            #[allow(unreachable_patterns)]
            _ => Err(Error::InvalidArgument(
                "bound inserts are for MySQL and SQLite".into(),
            )),
        }
    }

    pub(super) async fn insert(tx: &mut Tx, name: &str, table: &Table, ctx: &Ctx) -> Result<u64> {
        let backend = tx.backend();
        let fields = table.schema().fields();
        if fields.is_empty() {
            return Ok(0);
        }
        let columns: Vec<String> = fields
            .iter()
            .map(|f| quote_name(f.name(), backend))
            .collect();
        // Bound parameters per statement stay under both drivers' limits.
        let rows_per_statement = (30_000 / fields.len()).clamp(1, 1000);
        let mut written = 0;
        for batch in table.batches() {
            let arrays: Vec<ArrayRef> = batch
                .columns()
                .iter()
                .zip(fields.iter())
                .map(|(a, f)| cast(a, &canonical(a.data_type()), f.name()))
                .collect::<Result<_>>()?;
            let mut start = 0;
            while start < batch.num_rows() {
                let end = (start + rows_per_statement).min(batch.num_rows());
                let placeholders = format!("({})", vec!["?"; columns.len()].join(", "));
                let sql = format!(
                    "INSERT INTO {} ({}) VALUES {}",
                    quote_name(name, backend),
                    columns.join(", "),
                    vec![placeholders; end - start].join(", ")
                );
                let mut cells = Vec::with_capacity((end - start) * columns.len());
                for row in start..end {
                    for array in &arrays {
                        cells.push(cell(array, row)?);
                    }
                }
                written += run_chunk(tx, &sql, cells, ctx).await?;
                start = end;
            }
        }
        Ok(written)
    }
}

#[cfg(feature = "postgres")]
mod postgres_copy {
    //! Binary `COPY ... FROM STDIN`, encoded for the target columns' types.

    use std::sync::Arc;

    use arrow::array::{Array, ArrayRef, AsArray};
    use arrow::datatypes::{
        DataType, Date32Type, Decimal128Type, Field, Float32Type, Float64Type, Int16Type,
        Int32Type, Int64Type, IntervalMonthDayNanoType, Time64MicrosecondType,
        TimestampMicrosecondType, UInt32Type,
    };
    use conn_core::{Error, Result, Table};
    use sqlx::postgres::PgConnection;
    use sqlx::{AssertSqlSafe, Column, Executor, SqlSafeStr, Statement};

    use super::cast;
    use crate::arrow::postgres::{Decoder, PgKind, encode_numeric};
    use crate::backend::{Ctx, quote_name};
    use crate::config::Backend;

    const SIGNATURE: &[u8] = b"PGCOPY\n\xff\r\n\0";
    /// Bytes buffered before a chunk is sent to the server.
    const CHUNK: usize = 1 << 20;

    /// The PostgreSQL kind an Arrow field is written as when the table is new.
    fn kind_for(field: &Field) -> Result<PgKind> {
        Ok(match field.data_type() {
            DataType::Boolean => PgKind::Bool,
            DataType::Int8 | DataType::Int16 | DataType::UInt8 => PgKind::Int2,
            DataType::Int32 | DataType::UInt16 => PgKind::Int4,
            DataType::Int64 | DataType::UInt32 => PgKind::Int8,
            DataType::UInt64 => PgKind::Numeric(Some((20, 0))),
            DataType::Float16 | DataType::Float32 => PgKind::Float4,
            DataType::Float64 => PgKind::Float8,
            DataType::Decimal128(p, s) => PgKind::Numeric(Some((*p, *s))),
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View if super::is_json(field) => {
                PgKind::Jsonb
            }
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => PgKind::Text,
            DataType::FixedSizeBinary(16) if super::is_uuid(field) => PgKind::Uuid,
            DataType::Binary
            | DataType::LargeBinary
            | DataType::BinaryView
            | DataType::FixedSizeBinary(_) => PgKind::Bytea,
            DataType::Date32 | DataType::Date64 => PgKind::Date,
            DataType::Time32(_) | DataType::Time64(_) => PgKind::Time,
            DataType::Timestamp(_, Some(_)) => PgKind::TimestampTz,
            DataType::Timestamp(_, None) => PgKind::Timestamp,
            DataType::Interval(_) => PgKind::Interval,
            DataType::List(item) | DataType::LargeList(item) => {
                PgKind::Array(Box::new(kind_for(item)?))
            }
            other => {
                return Err(Error::Data(format!(
                    "column \"{}\": conn-sql cannot write Arrow type {other} to PostgreSQL",
                    field.name()
                )));
            }
        })
    }

    /// The element OID of an array kind.
    fn oid_of(kind: &PgKind) -> u32 {
        match kind {
            PgKind::Bool => 16,
            PgKind::Int2 => 21,
            PgKind::Int4 => 23,
            PgKind::Int8 => 20,
            PgKind::Oid => 26,
            PgKind::Float4 => 700,
            PgKind::Float8 => 701,
            PgKind::Numeric(_) => 1700,
            PgKind::Text => 25,
            PgKind::Json => 114,
            PgKind::Jsonb => 3802,
            PgKind::Bytea => 17,
            PgKind::Uuid => 2950,
            PgKind::Date => 1082,
            PgKind::Time => 1083,
            PgKind::Timestamp => 1114,
            PgKind::TimestampTz => 1184,
            PgKind::Interval => 1186,
            PgKind::Array(_) => 0,
        }
    }

    /// The kinds of the target table's columns, by name.
    async fn table_kinds(
        conn: &mut PgConnection,
        quoted: &str,
        ctx: &Ctx,
    ) -> Result<Vec<(String, PgKind)>> {
        let probe = format!("SELECT * FROM {quoted} LIMIT 0");
        let statement = conn
            .prepare(AssertSqlSafe(probe).into_sql_str())
            .await
            .map_err(|e| ctx.err(&e, "write_table"))?;
        statement
            .columns()
            .iter()
            .map(|c| {
                let oid = c.type_info().oid().map_or(0, |o| o.0);
                let kind = PgKind::from_oid(oid).ok_or_else(|| {
                    Error::Data(format!(
                        "column \"{}\" of the target table has a type conn-sql cannot write",
                        c.name()
                    ))
                })?;
                Ok((c.name().to_owned(), kind))
            })
            .collect()
    }

    pub(super) async fn copy_in(
        conn: &mut PgConnection,
        name: &str,
        table: &Table,
        ctx: &Ctx,
    ) -> Result<u64> {
        let quoted = quote_name(name, Backend::Postgres);
        let existing = table_kinds(conn, &quoted, ctx).await?;
        let fields = table.schema().fields();
        let mut kinds = Vec::with_capacity(fields.len());
        for field in fields {
            let kind = match existing.iter().find(|(n, _)| n == field.name()) {
                Some((_, PgKind::Numeric(None))) => kind_for(field)?,
                Some((_, kind)) => kind.clone(),
                None => {
                    let names: Vec<&str> = existing.iter().map(|(n, _)| n.as_str()).collect();
                    return Err(Error::Data(format!(
                        "column \"{}\" is not in table {name} (its columns: {})",
                        field.name(),
                        names.join(", ")
                    )));
                }
            };
            kinds.push(kind);
        }
        let columns: Vec<String> = fields
            .iter()
            .map(|f| quote_name(f.name(), Backend::Postgres))
            .collect();
        let statement = format!(
            "COPY {quoted} ({}) FROM STDIN (FORMAT binary)",
            columns.join(", ")
        );
        let mut copy = conn
            .copy_in_raw(&statement)
            .await
            .map_err(|e| ctx.err(&e, "write_table"))?;
        let mut buffer = Vec::with_capacity(CHUNK + 4096);
        buffer.extend_from_slice(SIGNATURE);
        buffer.extend_from_slice(&0i32.to_be_bytes());
        buffer.extend_from_slice(&0i32.to_be_bytes());
        let count = i16::try_from(kinds.len())
            .map_err(|_| Error::Data("too many columns for COPY".into()))?;
        for batch in table.batches() {
            let arrays: Vec<ArrayRef> = batch
                .columns()
                .iter()
                .zip(fields.iter().zip(&kinds))
                .map(|(array, (field, kind))| {
                    cast(array, &Decoder::new(kind).data_type(), field.name())
                })
                .collect::<Result<_>>()?;
            for row in 0..batch.num_rows() {
                buffer.extend_from_slice(&count.to_be_bytes());
                for ((array, kind), field) in arrays.iter().zip(&kinds).zip(fields.iter()) {
                    encode_field(&mut buffer, array, row, kind)
                        .map_err(|e| Error::Data(format!("column \"{}\": {e}", field.name())))?;
                }
                if buffer.len() >= CHUNK {
                    copy.send(std::mem::take(&mut buffer))
                        .await
                        .map_err(|e| ctx.err(&e, "write_table"))?;
                }
            }
        }
        buffer.extend_from_slice(&(-1i16).to_be_bytes());
        copy.send(buffer)
            .await
            .map_err(|e| ctx.err(&e, "write_table"))?;
        copy.finish().await.map_err(|e| ctx.err(&e, "write_table"))
    }

    /// Appends one field: its length, then its binary value (or -1 for NULL).
    fn encode_field(
        out: &mut Vec<u8>,
        array: &ArrayRef,
        row: usize,
        kind: &PgKind,
    ) -> std::result::Result<(), String> {
        if array.is_null(row) {
            out.extend_from_slice(&(-1i32).to_be_bytes());
            return Ok(());
        }
        let at = out.len();
        out.extend_from_slice(&0i32.to_be_bytes());
        encode_value(out, array, row, kind)?;
        let len = i32::try_from(out.len() - at - 4).map_err(|_| "a value over 2 GiB")?;
        out[at..at + 4].copy_from_slice(&len.to_be_bytes());
        Ok(())
    }

    fn encode_value(
        out: &mut Vec<u8>,
        array: &ArrayRef,
        row: usize,
        kind: &PgKind,
    ) -> std::result::Result<(), String> {
        match kind {
            PgKind::Bool => out.push(u8::from(array.as_boolean().value(row))),
            PgKind::Int2 => {
                out.extend_from_slice(&array.as_primitive::<Int16Type>().value(row).to_be_bytes());
            }
            PgKind::Int4 => {
                out.extend_from_slice(&array.as_primitive::<Int32Type>().value(row).to_be_bytes());
            }
            PgKind::Int8 => {
                out.extend_from_slice(&array.as_primitive::<Int64Type>().value(row).to_be_bytes());
            }
            PgKind::Oid => {
                out.extend_from_slice(&array.as_primitive::<UInt32Type>().value(row).to_be_bytes());
            }
            PgKind::Float4 => {
                out.extend_from_slice(
                    &array.as_primitive::<Float32Type>().value(row).to_be_bytes(),
                );
            }
            PgKind::Float8 => {
                out.extend_from_slice(
                    &array.as_primitive::<Float64Type>().value(row).to_be_bytes(),
                );
            }
            PgKind::Numeric(_) => {
                let DataType::Decimal128(_, scale) = array.data_type() else {
                    return Err("a numeric column that is not Decimal128".into());
                };
                encode_numeric(
                    out,
                    array.as_primitive::<Decimal128Type>().value(row),
                    *scale,
                );
            }
            PgKind::Text | PgKind::Json => {
                out.extend_from_slice(array.as_string::<i32>().value(row).as_bytes());
            }
            PgKind::Jsonb => {
                out.push(1);
                out.extend_from_slice(array.as_string::<i32>().value(row).as_bytes());
            }
            PgKind::Bytea => out.extend_from_slice(array.as_binary::<i32>().value(row)),
            PgKind::Uuid => out.extend_from_slice(array.as_fixed_size_binary().value(row)),
            PgKind::Date => {
                let days = array.as_primitive::<Date32Type>().value(row) - 10_957;
                out.extend_from_slice(&days.to_be_bytes());
            }
            PgKind::Time => out.extend_from_slice(
                &array
                    .as_primitive::<Time64MicrosecondType>()
                    .value(row)
                    .to_be_bytes(),
            ),
            PgKind::Timestamp | PgKind::TimestampTz => {
                let micros = array.as_primitive::<TimestampMicrosecondType>().value(row)
                    - 946_684_800_000_000;
                out.extend_from_slice(&micros.to_be_bytes());
            }
            PgKind::Interval => {
                let value = array.as_primitive::<IntervalMonthDayNanoType>().value(row);
                out.extend_from_slice(&(value.nanoseconds / 1000).to_be_bytes());
                out.extend_from_slice(&value.days.to_be_bytes());
                out.extend_from_slice(&value.months.to_be_bytes());
            }
            PgKind::Array(item) => {
                let list = array.as_list::<i32>();
                let values: ArrayRef = list.value(row);
                let values = Arc::clone(&values);
                let len = i32::try_from(values.len()).map_err(|_| "an array too long")?;
                out.extend_from_slice(&1i32.to_be_bytes());
                out.extend_from_slice(&i32::from(values.null_count() > 0).to_be_bytes());
                out.extend_from_slice(&oid_of(item).to_be_bytes());
                out.extend_from_slice(&len.to_be_bytes());
                out.extend_from_slice(&1i32.to_be_bytes());
                for index in 0..values.len() {
                    encode_field(out, &values, index, item)?;
                }
            }
        }
        Ok(())
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        fn roundtrip(value: i128, scale: i8) -> (i128, i8) {
            let mut out = Vec::new();
            encode_numeric(&mut out, value, scale);
            let mut decoder = Decoder::new(&PgKind::Numeric(Some((38, scale))));
            decoder.append(Some(&out)).unwrap();
            let array = decoder.finish(&|i| i).unwrap();
            (array.as_primitive::<Decimal128Type>().value(0), scale)
        }

        #[test]
        fn numerics_round_trip_through_the_wire_format() {
            for (value, scale) in [
                (1_234_567, 2),
                (-5, 3),
                (0, 2),
                (1_000_000, 0),
                (12, 6),
                (-99_999_999, 4),
                (i128::from(i64::MAX), 0),
            ] {
                assert_eq!(
                    roundtrip(value, scale),
                    (value, scale),
                    "{value} scale {scale}"
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use arrow::datatypes::TimeUnit;

    use super::*;

    #[test]
    fn sql_types_per_backend() {
        let field = Field::new("x", DataType::Decimal128(12, 2), true);
        assert_eq!(
            sql_type(&field, Backend::Postgres).unwrap(),
            "NUMERIC(12, 2)"
        );
        assert_eq!(sql_type(&field, Backend::MySql).unwrap(), "DECIMAL(12, 2)");
        let field = Field::new(
            "t",
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            true,
        );
        assert_eq!(sql_type(&field, Backend::Postgres).unwrap(), "TIMESTAMPTZ");
        let field = Field::new(
            "m",
            DataType::Map(
                std::sync::Arc::new(Field::new("e", DataType::Int32, false)),
                false,
            ),
            true,
        );
        assert_eq!(
            sql_type(&field, Backend::Sqlite).unwrap_err().to_string(),
            "column \"m\": conn-sql cannot create a sqlite column for Arrow type Map(\"e\": non-null Int32, unsorted)"
        );
    }
}
