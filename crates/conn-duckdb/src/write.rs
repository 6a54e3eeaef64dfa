//! `write_table` through DuckDB's Arrow appender.

use conn_core::arrow::datatypes::{DataType, Field, TimeUnit};
use conn_core::{Error, Result, Table, WriteMode};
use duckdb::Connection;

use crate::pool::DuckPool;
use crate::prepare;

fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// The DuckDB column type for an Arrow field.
pub(crate) fn sql_type(field: &Field) -> Result<String> {
    Ok(match field.data_type() {
        DataType::Boolean => "BOOLEAN".into(),
        DataType::Int8 => "TINYINT".into(),
        DataType::Int16 => "SMALLINT".into(),
        DataType::Int32 => "INTEGER".into(),
        DataType::Int64 => "BIGINT".into(),
        DataType::UInt8 => "UTINYINT".into(),
        DataType::UInt16 => "USMALLINT".into(),
        DataType::UInt32 => "UINTEGER".into(),
        DataType::UInt64 => "UBIGINT".into(),
        DataType::Float16 | DataType::Float32 => "FLOAT".into(),
        DataType::Float64 => "DOUBLE".into(),
        DataType::Decimal128(p, s) => match prepare::stored_decimal(*p, *s) {
            Some((p, s)) => format!("DECIMAL({p}, {s})"),
            None => {
                return Err(Error::Data(format!(
                    "column \"{}\": conn-duckdb cannot create a column for Arrow type {}: \
                     DuckDB decimals hold at most 38 digits",
                    field.name(),
                    field.data_type()
                )));
            }
        },
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => "VARCHAR".into(),
        DataType::Binary | DataType::LargeBinary | DataType::BinaryView => "BLOB".into(),
        DataType::FixedSizeBinary(16) if field.extension_type_name() == Some("arrow.uuid") => {
            "UUID".into()
        }
        DataType::FixedSizeBinary(_) => "BLOB".into(),
        DataType::Date32 | DataType::Date64 => "DATE".into(),
        DataType::Time32(_) | DataType::Time64(_) => "TIME".into(),
        DataType::Timestamp(_, Some(_)) => "TIMESTAMPTZ".into(),
        // DuckDB keeps nanoseconds only in TIMESTAMP_NS (and without a zone).
        DataType::Timestamp(TimeUnit::Nanosecond, None) => "TIMESTAMP_NS".into(),
        DataType::Timestamp(_, None) => "TIMESTAMP".into(),
        DataType::Interval(_) => "INTERVAL".into(),
        DataType::List(item) | DataType::LargeList(item) => format!("{}[]", sql_type(item)?),
        DataType::Struct(fields) => {
            let parts: Result<Vec<String>> = fields
                .iter()
                .map(|f| Ok(format!("{} {}", quote(f.name()), sql_type(f)?)))
                .collect();
            format!("STRUCT({})", parts?.join(", "))
        }
        other => {
            return Err(Error::Data(format!(
                "column \"{}\": conn-duckdb cannot create a column for Arrow type {other}",
                field.name()
            )));
        }
    })
}

/// Writes `table` on `conn` (inside the caller's transaction).
pub(crate) fn write_table(
    conn: &Connection,
    pool: &DuckPool,
    name: &str,
    table: &Table,
    mode: WriteMode,
) -> Result<u64> {
    // Checked and re-expressed before anything is written (see `prepare`); the table is
    // created from the original types.
    let prepared = prepare::prepare(table)?;
    let (schema, bare) = match name.rsplit_once('.') {
        Some((schema, bare)) => (Some(schema), bare),
        None => (None, name),
    };
    let quoted = match schema {
        Some(schema) => format!("{}.{}", quote(schema), quote(bare)),
        None => quote(bare),
    };
    let run = |sql: &str| {
        conn.execute_batch(sql)
            .map_err(|e| pool.err(&e, "write_table"))
    };
    if mode == WriteMode::Replace {
        run(&format!("DROP TABLE IF EXISTS {quoted}"))?;
    }
    if mode != WriteMode::Append {
        let columns: Result<Vec<String>> = table
            .schema()
            .fields()
            .iter()
            .map(|f| Ok(format!("{} {}", quote(f.name()), sql_type(f)?)))
            .collect();
        run(&format!("CREATE TABLE {quoted} ({})", columns?.join(", ")))?;
    }
    let names: Vec<&str> = prepared.column_names();
    let mut appender = match schema {
        Some(schema) => conn.appender_with_columns_to_db(bare, schema, &names),
        None => conn.appender_with_columns(bare, &names),
    }
    .map_err(|e| pool.err(&e, "write_table"))?;
    for batch in prepared.batches() {
        appender
            .append_record_batch(batch.clone())
            .map_err(|e| pool.err(&e, "write_table"))?;
    }
    appender.flush().map_err(|e| pool.err(&e, "write_table"))?;
    Ok(u64::try_from(table.num_rows()).unwrap_or(u64::MAX))
}
