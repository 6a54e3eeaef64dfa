//! `write_table` through DuckDB's Arrow appender.

use conn_core::arrow::datatypes::{DataType, Field, TimeUnit};
use conn_core::{Error, Result, Table, WriteMode};
use duckdb::Connection;

use crate::pool::DuckPool;
use crate::{fit, prepare};

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

/// A table name as DuckDB takes it: `table`, `schema.table` or
/// `catalog.schema.table` (an ATTACHed database's), split at dots outside double quotes;
/// a part in double quotes may hold dots (`"my.table"`).
fn split_name(name: &str) -> Result<Vec<String>> {
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut chars = name.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                current.push('"');
                chars.next();
            }
            '"' => quoted = !quoted,
            '.' if !quoted => parts.push(std::mem::take(&mut current)),
            c => current.push(c),
        }
    }
    parts.push(current);
    if quoted || parts.len() > 3 || parts.iter().any(String::is_empty) {
        return Err(invalid_name(name));
    }
    Ok(parts)
}

/// For a two-part name `first.bare`: the schema holding `bare` when `first` names an
/// attached database rather than a schema of the current one (DuckDB reads `a.b`
/// either way and refuses a name that could be both), else `None`.
fn attached_catalog(conn: &Connection, first: &str, bare: &str) -> Result<Option<String>> {
    let found = conn
        .query_row(
            "SELECT schema_name FROM duckdb_tables() \
             WHERE database_name = ?1 AND table_name = ?2 \
             AND NOT EXISTS (SELECT 1 FROM duckdb_schemas() \
                 WHERE database_name = current_database() AND schema_name = ?1) \
             ORDER BY schema_name = current_schema() DESC LIMIT 1",
            [first, bare],
            |row| row.get::<_, String>(0),
        )
        .map(Some)
        .or_else(|e| match e {
            duckdb::Error::QueryReturnedNoRows => Ok(None),
            e => Err(e),
        });
    found.map_err(|e| Error::Data(format!("write_table: resolving {first}.{bare}: {e}")))
}

fn invalid_name(name: &str) -> Error {
    Error::InvalidArgument(format!(
        "invalid table name {name:?}: use table, schema.table or catalog.schema.table, \
         with a part in double quotes when it holds a dot"
    ))
}

/// Writes `table` on `conn` (inside the caller's transaction).
pub(crate) fn write_table(
    conn: &Connection,
    pool: &DuckPool,
    name: &str,
    table: &Table,
    mode: WriteMode,
) -> Result<u64> {
    let parts = split_name(name)?;
    let quoted = parts.iter().map(|p| quote(p)).collect::<Vec<_>>().join(".");
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
    // The target's column types, as Arrow: every value is checked against them, then
    // the columns the appender would change are re-expressed (see `prepare`); nothing
    // is appended before every batch passed.
    let names: Vec<&str> = table.column_names();
    let selected = names
        .iter()
        .map(|n| quote(n))
        .collect::<Vec<_>>()
        .join(", ");
    let target = conn
        .prepare(&format!("SELECT {selected} FROM {quoted} LIMIT 0"))
        .and_then(|mut statement| statement.query_arrow([]).map(|arrow| arrow.get_schema()))
        .map_err(|e| pool.err(&e, "write_table"))?;
    let mut checked = Vec::with_capacity(table.batches().len());
    let mut first_row = 0;
    for batch in table.batches() {
        checked.push(fit::fitted(batch, &target, first_row, &quoted)?);
        first_row += batch.num_rows();
    }
    let checked = match checked.first() {
        Some(first) => Table::new(first.schema(), checked)?,
        None => table.clone(),
    };
    let prepared = prepare::prepare(&checked)?;
    // The appender takes the table by catalog, schema and name, each optional.
    let mut appender = match parts.as_slice() {
        [bare] => conn.appender_with_columns(bare, &names),
        [first, bare] => match attached_catalog(conn, first, bare)? {
            // `other.t`, where `other` is an ATTACHed database: its default schema.
            Some(schema) => {
                conn.appender_with_columns_to_catalog_and_db(bare, first, &schema, &names)
            }
            None => conn.appender_with_columns_to_db(bare, first, &names),
        },
        [catalog, schema, bare] => {
            conn.appender_with_columns_to_catalog_and_db(bare, catalog, schema, &names)
        }
        _ => return Err(invalid_name(name)),
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
