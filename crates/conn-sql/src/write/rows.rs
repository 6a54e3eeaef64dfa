//! MySQL and SQLite: the target columns from the catalog (`information_schema.COLUMNS`,
//! `pragma_table_info`), then multi-row `INSERT ... VALUES (?, ...), (?, ...)` with
//! every value bound, checked against its column first.

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime};
use conn_core::{Error, Result, Table};
use sqlx::{AssertSqlSafe, Row};

use super::convert::{Value, convert};
use super::name::{TableName, quote_ident};
use super::plan::{CatalogColumn, Planned};
use super::source::Source;
use super::target::{Charset, Target, TextRules};
use crate::backend::{Ctx, Tx};

/// Bound parameters per statement stay under both drivers' limits (MySQL 65 535, SQLite
/// 32 766), and statements under MySQL's default `max_allowed_packet`.
const MAX_PARAMETERS: usize = 30_000;
const MAX_ROWS: usize = 1000;
const MAX_BYTES: usize = 4 << 20;

/// MySQL's TIMESTAMP range: 1970-01-01 00:00:01 to 2038-01-19 03:14:07.999999 UTC.
const MYSQL_TIMESTAMP_MIN: i64 = 1_000_000;
const MYSQL_TIMESTAMP_MAX: i64 = 2_147_483_647_999_999;

fn catalog_error(ctx: &Ctx) -> impl Fn(sqlx::Error) -> Error + '_ {
    move |e| ctx.err(e, "write_table: reading the table's columns")
}

/// The columns of `name`, in order; empty if the table does not exist.
pub(super) async fn columns(
    tx: &mut Tx,
    name: &TableName,
    ctx: &Ctx,
) -> Result<Vec<CatalogColumn>> {
    match tx {
        #[cfg(feature = "mysql")]
        Tx::MySql(conn) => mysql_columns(conn, name, ctx).await,
        #[cfg(feature = "sqlite")]
        Tx::Sqlite(conn) => sqlite_columns(conn, name, ctx).await,
        #[allow(unreachable_patterns)]
        _ => Err(Error::InvalidArgument(
            "bound inserts are for MySQL and SQLite".into(),
        )),
    }
}

#[cfg(feature = "mysql")]
async fn mysql_columns(
    conn: &mut sqlx::MySqlConnection,
    name: &TableName,
    ctx: &Ctx,
) -> Result<Vec<CatalogColumn>> {
    let rows = sqlx::query(
        "SELECT COLUMN_NAME, DATA_TYPE, COLUMN_TYPE, \
         CAST(CHARACTER_MAXIMUM_LENGTH AS SIGNED), CAST(CHARACTER_OCTET_LENGTH AS SIGNED), \
         CAST(NUMERIC_PRECISION AS SIGNED), CAST(NUMERIC_SCALE AS SIGNED), \
         CAST(DATETIME_PRECISION AS SIGNED), CHARACTER_SET_NAME \
         FROM information_schema.COLUMNS \
         WHERE TABLE_SCHEMA = COALESCE(?, DATABASE()) AND TABLE_NAME = ? \
         ORDER BY ORDINAL_POSITION",
    )
    .bind(name.schema.clone())
    .bind(name.table.clone())
    .fetch_all(&mut *conn)
    .await
    .map_err(catalog_error(ctx))?;
    let text = |row: &sqlx::mysql::MySqlRow, i: usize| -> Result<String> {
        Ok(row
            .try_get_unchecked::<Option<String>, _>(i)
            .map_err(catalog_error(ctx))?
            .unwrap_or_default())
    };
    let number = |row: &sqlx::mysql::MySqlRow, i: usize| -> Result<Option<u64>> {
        Ok(row
            .try_get::<Option<i64>, _>(i)
            .map_err(catalog_error(ctx))?
            .and_then(|n| u64::try_from(n).ok()))
    };
    rows.iter()
        .map(|row| {
            let column_type = text(row, 2)?;
            let target = mysql_target(&MySqlColumn {
                data_type: text(row, 1)?.to_lowercase(),
                column_type: column_type.clone(),
                char_max: number(row, 3)?,
                octets: number(row, 4)?,
                precision: number(row, 5)?,
                scale: number(row, 6)?,
                fsp: number(row, 7)?,
                charset: text(row, 8)?,
            });
            Ok(CatalogColumn {
                name: text(row, 0)?,
                sql_type: column_type,
                target,
            })
        })
        .collect()
}

/// A row of `information_schema.COLUMNS`.
#[derive(Debug, Default)]
struct MySqlColumn {
    data_type: String,
    column_type: String,
    char_max: Option<u64>,
    octets: Option<u64>,
    precision: Option<u64>,
    scale: Option<u64>,
    fsp: Option<u64>,
    charset: String,
}

fn mysql_target(c: &MySqlColumn) -> std::result::Result<Target, String> {
    let unsigned = c.column_type.to_lowercase().contains("unsigned");
    let int = |bits: u32| {
        if unsigned {
            Target::Int {
                min: 0,
                max: (1i128 << bits) - 1,
            }
        } else {
            Target::Int {
                min: -(1i128 << (bits - 1)),
                max: (1i128 << (bits - 1)) - 1,
            }
        }
    };
    let charset = match c.charset.as_str() {
        "utf8" | "utf8mb3" => Charset::Bmp,
        "latin1" => Charset::Latin1,
        "ascii" => Charset::Ascii,
        // utf8mb4, and others the server checks itself (strict mode).
        _ => Charset::Unicode,
    };
    let digits = u8::try_from(c.fsp.unwrap_or(0)).unwrap_or(6).min(6);
    Ok(match c.data_type.as_str() {
        // MySQL's BOOLEAN: conn reads TINYINT(1) back as Boolean, so only 0 and 1
        // (and booleans) read back as what was written.
        "tinyint" if c.column_type.to_lowercase().starts_with("tinyint(1)") => {
            Target::Int { min: 0, max: 1 }
        }
        "tinyint" => int(8),
        "smallint" => int(16),
        "mediumint" => int(24),
        "int" | "integer" => int(32),
        "bigint" => int(64),
        "year" => Target::Int {
            min: 1901,
            max: 2155,
        },
        "decimal" | "numeric" => Target::Decimal {
            precision: c.precision.and_then(|p| u32::try_from(p).ok()),
            scale: Some(c.scale.and_then(|s| i32::try_from(s).ok()).unwrap_or(0)),
        },
        "float" => Target::Float {
            single: true,
            nan: false,
            infinity: false,
        },
        "double" | "real" | "double precision" => Target::Float {
            single: false,
            nan: false,
            infinity: false,
        },
        "char" | "varchar" => Target::Text(TextRules {
            max_chars: c.char_max,
            charset,
            ..TextRules::default()
        }),
        "tinytext" | "text" | "mediumtext" | "longtext" => Target::Text(TextRules {
            max_bytes: c.octets,
            charset,
            ..TextRules::default()
        }),
        "json" | "set" => Target::Text(TextRules {
            charset,
            ..TextRules::default()
        }),
        "enum" => Target::Text(TextRules {
            charset,
            labels: Some(enum_labels(&c.column_type)),
            ..TextRules::default()
        }),
        "binary" => Target::Binary {
            max_len: None,
            exact_len: c.octets,
        },
        "varbinary" | "tinyblob" | "blob" | "mediumblob" | "longblob" => Target::Binary {
            max_len: c.octets,
            exact_len: None,
        },
        "date" => Target::four_digit_dates(),
        "datetime" => Target::four_digit_timestamps(digits),
        "timestamp" => Target::Timestamp {
            digits,
            min: MYSQL_TIMESTAMP_MIN,
            max: MYSQL_TIMESTAMP_MAX,
        },
        "time" => Target::Time { digits },
        "uuid" => Target::Uuid,
        _ => return Err("conn-sql does not map this type".into()),
    })
}

/// The labels of `enum('a','it''s')`.
fn enum_labels(column_type: &str) -> Vec<String> {
    let mut labels = Vec::new();
    let mut chars = column_type.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\'' {
            continue;
        }
        let mut label = String::new();
        while let Some(c) = chars.next() {
            if c == '\'' {
                if chars.peek() == Some(&'\'') {
                    chars.next();
                    label.push('\'');
                } else {
                    break;
                }
            } else {
                label.push(c);
            }
        }
        labels.push(label);
    }
    labels
}

#[cfg(feature = "sqlite")]
async fn sqlite_columns(
    conn: &mut sqlx::SqliteConnection,
    name: &TableName,
    ctx: &Ctx,
) -> Result<Vec<CatalogColumn>> {
    let query = match &name.schema {
        Some(schema) => sqlx::query("SELECT name, type FROM pragma_table_info(?, ?)")
            .bind(name.table.clone())
            .bind(schema.clone()),
        None => sqlx::query("SELECT name, type FROM pragma_table_info(?)").bind(name.table.clone()),
    };
    let rows = query
        .fetch_all(&mut *conn)
        .await
        .map_err(catalog_error(ctx))?;
    rows.iter()
        .map(|row| {
            let name: String = row.try_get(0).map_err(catalog_error(ctx))?;
            let declared: String = row.try_get(1).map_err(catalog_error(ctx))?;
            Ok(CatalogColumn {
                name,
                target: Ok(sqlite_target(&declared)),
                sql_type: if declared.is_empty() {
                    "(no declared type)".into()
                } else {
                    declared
                },
            })
        })
        .collect()
}

/// What a SQLite column holds, by its declared type: the names conn reads as Boolean,
/// Date, Time and Timestamp first, then SQLite's affinity rules.
fn sqlite_target(declared: &str) -> Target {
    let d = declared.trim().to_ascii_lowercase();
    match d.as_str() {
        "" => Target::Any,
        "boolean" | "bool" => Target::Bool,
        "date" => Target::four_digit_dates(),
        "time" => Target::Time { digits: 6 },
        "datetime" | "timestamp" => Target::four_digit_timestamps(6),
        "json" => Target::Text(TextRules::default()),
        _ if d.contains("int") => Target::Int {
            min: i128::from(i64::MIN),
            max: i128::from(i64::MAX),
        },
        _ if d.contains("char") || d.contains("clob") || d.contains("text") => {
            Target::Text(TextRules::default())
        }
        _ if d.contains("blob") => Target::Binary {
            max_len: None,
            exact_len: None,
        },
        // SQLite stores NaN as NULL; infinities survive.
        _ if d.contains("real") || d.contains("floa") || d.contains("doub") => Target::Float {
            single: false,
            nan: false,
            infinity: true,
        },
        _ => Target::Approximate,
    }
}

/// One bound value.
#[derive(Debug, Clone)]
enum Cell {
    Null,
    Bool(bool),
    Int(i64),
    UInt(u64),
    F32(f32),
    F64(f64),
    Text(String),
    Bytes(Vec<u8>),
    Date(NaiveDate),
    Time(NaiveTime),
    Timestamp(NaiveDateTime),
}

impl Cell {
    fn size(&self) -> usize {
        match self {
            Cell::Text(t) => t.len() + 8,
            Cell::Bytes(b) => b.len() + 8,
            _ => 16,
        }
    }
}

/// Days since 1970-01-01 from 0001-01-01.
const UNIX_EPOCH_DAYS_FROM_CE: i32 = 719_163;

fn cell(value: Value<'_>) -> std::result::Result<Cell, String> {
    let range = || "a value out of range".to_owned();
    Ok(match value {
        Value::Null => Cell::Null,
        Value::Bool(b) => Cell::Bool(b),
        Value::Int(v) => Cell::Int(v),
        Value::UInt(v) => Cell::UInt(v),
        Value::F32(v) => Cell::F32(v),
        Value::F64(v) => Cell::F64(v),
        // MySQL turns the text into DECIMAL exactly.
        Value::Decimal(d) => Cell::Text(d.to_plain()),
        Value::SmallDecimal { value, scale } => Cell::Text(
            super::dec::Dec::from_unscaled(&value.to_string(), i32::from(scale)).to_plain(),
        ),
        Value::Text(t) => Cell::Text(t.to_owned()),
        Value::Bytes(b) => Cell::Bytes(b.to_vec()),
        Value::Uuid(b) => Cell::Text(uuid::Uuid::from_bytes(b).hyphenated().to_string()),
        Value::Date(days) => Cell::Date(
            days.checked_add(UNIX_EPOCH_DAYS_FROM_CE)
                .and_then(NaiveDate::from_num_days_from_ce_opt)
                .ok_or_else(range)?,
        ),
        Value::Time(micros) => {
            let secs = u32::try_from(micros.div_euclid(1_000_000)).map_err(|_| range())?;
            let nanos = u32::try_from(micros.rem_euclid(1_000_000) * 1000).map_err(|_| range())?;
            Cell::Time(
                NaiveTime::from_num_seconds_from_midnight_opt(secs, nanos).ok_or_else(range)?,
            )
        }
        Value::Timestamp(micros) => Cell::Timestamp(
            DateTime::from_timestamp_micros(micros)
                .map(|d| d.naive_utc())
                .ok_or_else(range)?,
        ),
        Value::Interval { .. } => return Err("an interval, which the column cannot hold".into()),
    })
}

/// Binds every cell of a chunk of rows and runs the statement.
async fn run_chunk(tx: &mut Tx, sql: String, cells: Vec<Cell>, ctx: &Ctx) -> Result<u64> {
    match tx {
        #[cfg(feature = "mysql")]
        Tx::MySql(conn) => {
            let mut query = sqlx::query(AssertSqlSafe(sql));
            for cell in cells {
                query = match cell {
                    Cell::Null => query.bind(Option::<String>::None),
                    Cell::Bool(v) => query.bind(v),
                    Cell::Int(v) => query.bind(v),
                    Cell::UInt(v) => query.bind(v),
                    Cell::F32(v) => query.bind(v),
                    Cell::F64(v) => query.bind(v),
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
                .map_err(|e| ctx.err(e, "write_table"))
        }
        #[cfg(feature = "sqlite")]
        Tx::Sqlite(conn) => {
            let mut query = sqlx::query(AssertSqlSafe(sql));
            for cell in cells {
                query = match cell {
                    Cell::Null => query.bind(Option::<String>::None),
                    Cell::Bool(v) => query.bind(v),
                    Cell::Int(v) => query.bind(v),
                    Cell::UInt(v) => query.bind(i64::try_from(v).map_err(|_| {
                        Error::Data("an integer beyond SQLite's 64-bit integers".into())
                    })?),
                    Cell::F32(v) => query.bind(f64::from(v)),
                    Cell::F64(v) => query.bind(v),
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
                .map_err(|e| ctx.err(e, "write_table"))
        }
        #[allow(unreachable_patterns)]
        _ => Err(Error::InvalidArgument(
            "bound inserts are for MySQL and SQLite".into(),
        )),
    }
}

/// Inserts `table` into `name`, whose columns are `columns` (one per field, in order).
pub(super) async fn insert(
    tx: &mut Tx,
    name: &TableName,
    table: &Table,
    columns: &[Planned],
    ctx: &Ctx,
) -> Result<u64> {
    let backend = tx.backend();
    let list: Vec<String> = columns
        .iter()
        .map(|c| quote_ident(&c.name, backend))
        .collect();
    let head = format!(
        "INSERT INTO {} ({}) VALUES ",
        name.quoted(backend),
        list.join(", ")
    );
    let placeholders = format!("({})", vec!["?"; columns.len()].join(", "));
    let max_rows = (MAX_PARAMETERS / columns.len().max(1)).clamp(1, MAX_ROWS);
    let statement = |rows: usize| format!("{head}{}", vec![placeholders.as_str(); rows].join(", "));
    let mut written = 0;
    let mut offset = 0;
    let mut cells = Vec::new();
    let mut rows = 0;
    let mut bytes = 0;
    for batch in table.batches() {
        let sources: Vec<Source> = batch
            .columns()
            .iter()
            .map(|array| Source::new(array).map_err(Error::Data))
            .collect::<Result<_>>()?;
        for row in 0..batch.num_rows() {
            for (source, column) in sources.iter().zip(columns) {
                let value = convert(source, row, &column.target)
                    .and_then(cell)
                    .map_err(|e| column.value_error(offset + row, &e))?;
                bytes += value.size();
                cells.push(value);
            }
            rows += 1;
            if rows == max_rows || bytes >= MAX_BYTES {
                written += run_chunk(tx, statement(rows), std::mem::take(&mut cells), ctx).await?;
                (rows, bytes) = (0, 0);
            }
        }
        offset += batch.num_rows();
    }
    if rows > 0 {
        written += run_chunk(tx, statement(rows), cells, ctx).await?;
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mysql_targets_from_the_catalog() {
        let column = |data_type: &str, column_type: &str| MySqlColumn {
            data_type: data_type.into(),
            column_type: column_type.into(),
            ..MySqlColumn::default()
        };
        assert_eq!(
            mysql_target(&column("tinyint", "tinyint(3) unsigned")),
            Ok(Target::Int { min: 0, max: 255 })
        );
        assert_eq!(
            mysql_target(&column("mediumint", "mediumint(9)")),
            Ok(Target::Int {
                min: -8_388_608,
                max: 8_388_607
            })
        );
        assert_eq!(
            mysql_target(&column("bigint", "bigint(20) unsigned")),
            Ok(Target::Int {
                min: 0,
                max: i128::from(u64::MAX)
            })
        );
        assert!(mysql_target(&column("bit", "bit(3)")).is_err());
        let Ok(Target::Text(rules)) = mysql_target(&column("enum", "enum('a','it''s')")) else {
            panic!("an enum is text")
        };
        assert_eq!(rules.labels, Some(vec!["a".into(), "it's".into()]));
    }

    #[test]
    fn sqlite_targets_from_declared_types() {
        assert_eq!(sqlite_target(""), Target::Any);
        assert_eq!(sqlite_target("BOOLEAN"), Target::Bool);
        assert!(matches!(sqlite_target("BIGINT"), Target::Int { .. }));
        assert!(matches!(sqlite_target("VARCHAR(10)"), Target::Text(_)));
        assert!(matches!(
            sqlite_target("DOUBLE PRECISION"),
            Target::Float { .. }
        ));
        assert_eq!(sqlite_target("DECIMAL(10, 2)"), Target::Approximate);
        assert_eq!(sqlite_target("NUMERIC"), Target::Approximate);
    }
}
