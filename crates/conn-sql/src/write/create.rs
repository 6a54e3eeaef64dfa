//! The column types `Create` and `Replace` give each Arrow type, per database (the
//! table is in docs/sql.md), and the `CREATE TABLE` statement.

use arrow::datatypes::{DataType, Field};
use conn_core::{Error, Result, Table};

use super::name::{TableName, quote_ident};
use crate::config::Backend;

/// PostgreSQL's largest numeric precision.
const POSTGRES_MAX_PRECISION: i32 = 1000;
/// MySQL's largest DECIMAL precision and scale.
const MYSQL_MAX_PRECISION: i32 = 65;
const MYSQL_MAX_SCALE: i32 = 30;

pub(crate) fn is_uuid(field: &Field) -> bool {
    field.extension_type_name() == Some("arrow.uuid")
        || (matches!(field.data_type(), DataType::FixedSizeBinary(16))
            && field.name().to_lowercase().contains("uuid"))
}

pub(crate) fn is_json(field: &Field) -> bool {
    field.extension_type_name() == Some("arrow.json")
}

/// The column type `Create` uses for an Arrow field.
pub(crate) fn sql_type(field: &Field, backend: Backend) -> Result<String> {
    sql_type_of(field, field.data_type(), backend)
}

fn sql_type_of(field: &Field, data_type: &DataType, backend: Backend) -> Result<String> {
    use Backend::{MySql, Postgres, Sqlite};
    let refuse = |why: &str| {
        Err(Error::Data(format!(
            "column \"{}\": conn-sql cannot create a {} column for Arrow type {}{why}",
            field.name(),
            backend.name(),
            field.data_type()
        )))
    };
    Ok(match (data_type, backend) {
        (DataType::Dictionary(_, values), _) => return sql_type_of(field, values, backend),
        (DataType::Null, _) => {
            return refuse(" (a column of NULLs has no type: cast it to the type it should have)");
        }
        (DataType::Boolean, _) => "BOOLEAN".into(),
        (d, Sqlite) if d.is_integer() => "INTEGER".into(),
        (DataType::Int8 | DataType::Int16 | DataType::UInt8, Postgres) => "SMALLINT".into(),
        (DataType::Int32 | DataType::UInt16, Postgres) => "INTEGER".into(),
        (DataType::Int64 | DataType::UInt32, Postgres) => "BIGINT".into(),
        (DataType::UInt64, Postgres) => "NUMERIC(20, 0)".into(),
        (DataType::Int8, MySql) => "TINYINT".into(),
        (DataType::Int16, MySql) => "SMALLINT".into(),
        (DataType::Int32, MySql) => "INT".into(),
        (DataType::Int64, MySql) => "BIGINT".into(),
        (DataType::UInt8, MySql) => "TINYINT UNSIGNED".into(),
        (DataType::UInt16, MySql) => "SMALLINT UNSIGNED".into(),
        (DataType::UInt32, MySql) => "INT UNSIGNED".into(),
        (DataType::UInt64, MySql) => "BIGINT UNSIGNED".into(),
        (d, Sqlite) if d.is_floating() => "REAL".into(),
        (DataType::Float16 | DataType::Float32, Postgres) => "REAL".into(),
        (DataType::Float16 | DataType::Float32, MySql) => "FLOAT".into(),
        (DataType::Float64, Postgres) => "DOUBLE PRECISION".into(),
        (DataType::Float64, MySql) => "DOUBLE".into(),
        (
            DataType::Decimal32(p, s)
            | DataType::Decimal64(p, s)
            | DataType::Decimal128(p, s)
            | DataType::Decimal256(p, s),
            _,
        ) => {
            // A negative scale counts whole tens: keep them as integer digits.
            let (p, s) = if *s < 0 {
                (i32::from(*p) - i32::from(*s), 0)
            } else {
                (i32::from(*p), i32::from(*s))
            };
            match backend {
                Sqlite => "NUMERIC".into(),
                Postgres if p > POSTGRES_MAX_PRECISION => {
                    return refuse(" (PostgreSQL numerics have at most 1000 digits)");
                }
                Postgres => format!("NUMERIC({p}, {s})"),
                MySql if s > MYSQL_MAX_SCALE => {
                    return refuse(" (MySQL DECIMAL keeps at most 30 fractional digits)");
                }
                // Wider than MySQL allows: values with up to 65 digits still fit, and
                // each value is checked.
                MySql => format!("DECIMAL({}, {s})", p.min(MYSQL_MAX_PRECISION).max(s)),
            }
        }
        (DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View, _) if is_json(field) => {
            match backend {
                Postgres | MySql => "JSON".into(),
                Sqlite => "TEXT".into(),
            }
        }
        (DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View, MySql) => "LONGTEXT".into(),
        (DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View, _) => "TEXT".into(),
        (DataType::FixedSizeBinary(16), Postgres) if is_uuid(field) => "UUID".into(),
        (DataType::FixedSizeBinary(n), MySql) if *n <= 255 => format!("BINARY({n})"),
        (
            DataType::Binary
            | DataType::LargeBinary
            | DataType::BinaryView
            | DataType::FixedSizeBinary(_),
            _,
        ) => match backend {
            Postgres => "BYTEA".into(),
            MySql => "LONGBLOB".into(),
            Sqlite => "BLOB".into(),
        },
        (DataType::Date32 | DataType::Date64, _) => "DATE".into(),
        (DataType::Time32(_) | DataType::Time64(_), MySql) => "TIME(6)".into(),
        (DataType::Time32(_) | DataType::Time64(_), _) => "TIME".into(),
        (DataType::Timestamp(_, Some(_)), Postgres) => "TIMESTAMPTZ".into(),
        (DataType::Timestamp(_, None), Postgres) => "TIMESTAMP".into(),
        // MySQL's TIMESTAMP only spans 1970 to 2038: zoned timestamps are stored as
        // their UTC time in a DATETIME.
        (DataType::Timestamp(..), MySql) => "DATETIME(6)".into(),
        (DataType::Timestamp(..), Sqlite) => "DATETIME".into(),
        (DataType::Interval(_) | DataType::Duration(_), Postgres) => "INTERVAL".into(),
        (
            DataType::List(item) | DataType::LargeList(item) | DataType::FixedSizeList(item, _),
            Postgres,
        ) => {
            if matches!(
                item.data_type(),
                DataType::List(_) | DataType::LargeList(_) | DataType::FixedSizeList(..)
            ) {
                return refuse(" (conn-sql writes one-dimensional arrays only)");
            }
            format!("{}[]", sql_type_of(item, item.data_type(), backend)?)
        }
        (DataType::Interval(_) | DataType::Duration(_), _) => {
            return refuse(" (it has no interval type)");
        }
        (DataType::List(_) | DataType::LargeList(_) | DataType::FixedSizeList(..), _) => {
            return refuse(" (it has no array type)");
        }
        _ => return refuse(""),
    })
}

/// `CREATE TABLE name (...)` for `table`'s schema.
pub(crate) fn create_statement(
    name: &TableName,
    table: &Table,
    backend: Backend,
) -> Result<String> {
    let columns = table
        .schema()
        .fields()
        .iter()
        .map(|f| {
            Ok(format!(
                "{} {}",
                quote_ident(f.name(), backend),
                sql_type(f, backend)?
            ))
        })
        .collect::<Result<Vec<String>>>()?;
    // MySQL text columns take the table's character set, which defaults to the
    // database's (latin1 on older servers): utf8mb4 stores any text.
    let options = if backend == Backend::MySql {
        " DEFAULT CHARACTER SET utf8mb4"
    } else {
        ""
    };
    Ok(format!(
        "CREATE TABLE {} ({}){options}",
        name.quoted(backend),
        columns.join(", ")
    ))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::datatypes::TimeUnit;

    use super::*;

    fn field(data_type: DataType) -> Field {
        Field::new("x", data_type, true)
    }

    #[test]
    fn sql_types_per_backend() {
        let decimal = field(DataType::Decimal128(12, 2));
        assert_eq!(
            sql_type(&decimal, Backend::Postgres).unwrap(),
            "NUMERIC(12, 2)"
        );
        assert_eq!(
            sql_type(&decimal, Backend::MySql).unwrap(),
            "DECIMAL(12, 2)"
        );
        assert_eq!(sql_type(&decimal, Backend::Sqlite).unwrap(), "NUMERIC");
        let negative = field(DataType::Decimal128(5, -3));
        assert_eq!(
            sql_type(&negative, Backend::Postgres).unwrap(),
            "NUMERIC(8, 0)"
        );
        assert_eq!(
            sql_type(&negative, Backend::MySql).unwrap(),
            "DECIMAL(8, 0)"
        );
        let wide = field(DataType::Decimal256(76, 10));
        assert_eq!(sql_type(&wide, Backend::MySql).unwrap(), "DECIMAL(65, 10)");
        let zoned = field(DataType::Timestamp(
            TimeUnit::Microsecond,
            Some("UTC".into()),
        ));
        assert_eq!(sql_type(&zoned, Backend::Postgres).unwrap(), "TIMESTAMPTZ");
        assert_eq!(sql_type(&zoned, Backend::MySql).unwrap(), "DATETIME(6)");
        let map = Field::new(
            "m",
            DataType::Map(Arc::new(Field::new("e", DataType::Int32, false)), false),
            true,
        );
        assert_eq!(
            sql_type(&map, Backend::Sqlite).unwrap_err().to_string(),
            "column \"m\": conn-sql cannot create a sqlite column for Arrow type Map(\"e\": non-null Int32, unsorted)"
        );
        let nested = field(DataType::List(Arc::new(Field::new_list_field(
            DataType::List(Arc::new(Field::new_list_field(DataType::Int32, true))),
            true,
        ))));
        assert!(
            sql_type(&nested, Backend::Postgres)
                .unwrap_err()
                .to_string()
                .ends_with("(conn-sql writes one-dimensional arrays only)")
        );
        let null = field(DataType::Null);
        assert!(
            sql_type(&null, Backend::Postgres)
                .unwrap_err()
                .to_string()
                .contains("a column of NULLs has no type")
        );
    }
}
