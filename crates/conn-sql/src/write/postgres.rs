//! PostgreSQL: the target columns from the catalog (domains, enums and arrays looked
//! through, type modifiers read), then binary `COPY ... FROM STDIN` encoded for them.
//!
//! Every value whose conversion can fail is checked before the COPY starts, so the
//! stream is not interrupted by a value; an error while streaming (I/O) aborts the COPY
//! with CopyFail, and the server's own errors (constraints) end it through `finish`, so
//! the connection is always left ready for the next statement.

use conn_core::{Error, Result, Table};
use sqlx::Row;
use sqlx::postgres::PgConnection;
use sqlx::postgres::types::Oid;

use super::convert::{Value, can_fail, convert};
use super::name::{TableName, quote_ident};
use super::plan::{CatalogColumn, Planned};
use super::source::Source;
use super::target::{Target, TextRules};
use crate::arrow::postgres::{
    PG_EPOCH_DAYS, PG_EPOCH_MICROS, encode_numeric_digits, encode_numeric_i128,
};
use crate::backend::Ctx;
use crate::config::Backend;

const SIGNATURE: &[u8] = b"PGCOPY\n\xff\r\n\0";
/// Bytes buffered before a chunk is sent to the server.
const CHUNK: usize = 1 << 20;
/// PostgreSQL's date range (4713 BC to 5874897 AD) in days since 1970-01-01.
const DATE_MIN: i32 = -2_440_588;
const DATE_MAX: i32 = 2_145_042_905;
/// PostgreSQL's lowest timestamp (4713 BC) in microseconds since 1970-01-01; its highest
/// (294276 AD) is beyond what Arrow's microseconds reach.
const TIMESTAMP_MIN: i64 = -210_866_803_200_000_000;

fn catalog_error(ctx: &Ctx) -> impl Fn(sqlx::Error) -> Error + '_ {
    move |e| ctx.err(e, "write_table: reading the table's columns")
}

/// The columns of `name`, in order; empty if the table does not exist.
pub(super) async fn columns(
    conn: &mut PgConnection,
    name: &TableName,
    ctx: &Ctx,
) -> Result<Vec<CatalogColumn>> {
    let rows = sqlx::query(
        "SELECT a.attname::text, pg_catalog.format_type(a.atttypid, a.atttypmod), \
         a.atttypid, a.atttypmod \
         FROM pg_catalog.pg_attribute a \
         WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped \
         ORDER BY a.attnum",
    )
    .bind(name.quoted(Backend::Postgres))
    .fetch_all(&mut *conn)
    .await
    .map_err(catalog_error(ctx))?;
    let mut columns = Vec::with_capacity(rows.len());
    for row in rows {
        let name: String = row.try_get(0).map_err(catalog_error(ctx))?;
        let sql_type: String = row.try_get(1).map_err(catalog_error(ctx))?;
        let oid: Oid = row.try_get(2).map_err(catalog_error(ctx))?;
        let typmod: i32 = row.try_get(3).map_err(catalog_error(ctx))?;
        let target = resolve(conn, oid.0, typmod, ctx).await?;
        columns.push(CatalogColumn {
            name,
            sql_type,
            target,
        });
    }
    Ok(columns)
}

/// The target of a column type, looking through domains (to their base type), enums
/// (text the server checks) and arrays (of any of these).
async fn resolve(
    conn: &mut PgConnection,
    mut oid: u32,
    mut typmod: i32,
    ctx: &Ctx,
) -> Result<std::result::Result<Target, String>> {
    // Inside an array: the element type's OID, which the binary array header names.
    let mut element_of: Option<u32> = None;
    let wrap = |target: std::result::Result<Target, String>, element_of: Option<u32>| {
        target.map(|t| match element_of {
            Some(oid) => Target::Array {
                element: Box::new(t),
                oid,
            },
            None => t,
        })
    };
    for _ in 0..16 {
        if let Some(target) = scalar(oid, typmod) {
            return Ok(wrap(target, element_of));
        }
        let row = sqlx::query(
            "SELECT typtype::text, typbasetype, typtypmod, typelem, typcategory::text \
             FROM pg_catalog.pg_type WHERE oid = $1",
        )
        .bind(Oid(oid))
        .fetch_optional(&mut *conn)
        .await
        .map_err(catalog_error(ctx))?;
        let Some(row) = row else {
            break;
        };
        let typtype: String = row.try_get(0).map_err(catalog_error(ctx))?;
        let base: Oid = row.try_get(1).map_err(catalog_error(ctx))?;
        let base_typmod: i32 = row.try_get(2).map_err(catalog_error(ctx))?;
        let element: Oid = row.try_get(3).map_err(catalog_error(ctx))?;
        let category: String = row.try_get(4).map_err(catalog_error(ctx))?;
        match typtype.as_str() {
            // Enum labels are checked by the server.
            "e" => {
                let text = Target::Text(TextRules {
                    no_nul: true,
                    ..TextRules::default()
                });
                return Ok(wrap(Ok(text), element_of));
            }
            "d" => {
                oid = base.0;
                if typmod < 0 {
                    typmod = base_typmod;
                }
            }
            "b" if category == "A" && element.0 != 0 && element_of.is_none() => {
                element_of = Some(element.0);
                oid = element.0;
            }
            _ => break,
        }
    }
    Ok(Err(if element_of.is_some() {
        "conn-sql writes one-dimensional arrays of the types it maps".into()
    } else {
        "conn-sql does not map this type".into()
    }))
}

/// The target of a built-in scalar type (`None` for anything else).
fn scalar(oid: u32, typmod: i32) -> Option<std::result::Result<Target, String>> {
    let text = |rules: TextRules| {
        Target::Text(TextRules {
            no_nul: true,
            ..rules
        })
    };
    // varchar(n), char(n): n + 4; time(p), timestamp(p): p; -1 when absent.
    let length = u64::try_from(typmod - 4).ok().filter(|_| typmod >= 4);
    let digits = u8::try_from(typmod).ok().filter(|d| *d <= 6).unwrap_or(6);
    Some(Ok(match oid {
        16 => Target::Bool,
        21 => Target::Int {
            min: i128::from(i16::MIN),
            max: i128::from(i16::MAX),
        },
        23 => Target::Int {
            min: i128::from(i32::MIN),
            max: i128::from(i32::MAX),
        },
        20 => Target::Int {
            min: i128::from(i64::MIN),
            max: i128::from(i64::MAX),
        },
        26 => Target::Int {
            min: 0,
            max: i128::from(u32::MAX),
        },
        700 | 701 => Target::Float {
            single: oid == 700,
            nan: true,
            infinity: true,
        },
        1700 if typmod >= 4 => {
            let packed = typmod - 4;
            Target::Decimal {
                precision: u32::try_from((packed >> 16) & 0xffff).ok(),
                // PostgreSQL 15 stores the scale in 11 signed bits.
                scale: Some(((packed & 0x7ff) ^ 1024) - 1024),
            }
        }
        1700 => Target::Decimal {
            precision: None,
            scale: None,
        },
        25 | 142 => text(TextRules::default()),
        1043 => text(TextRules {
            max_chars: length,
            ..TextRules::default()
        }),
        1042 => text(TextRules {
            // A bare `char` is char(1).
            max_chars: length.or(Some(1)),
            blank_padded: true,
            ..TextRules::default()
        }),
        19 => text(TextRules {
            max_bytes: Some(63),
            ..TextRules::default()
        }),
        18 => text(TextRules {
            max_bytes: Some(1),
            ..TextRules::default()
        }),
        114 => Target::Json { binary: false },
        3802 => Target::Json { binary: true },
        17 => Target::Binary {
            max_len: None,
            exact_len: None,
        },
        2950 => Target::Uuid,
        1082 => Target::Date {
            min: DATE_MIN,
            max: DATE_MAX,
        },
        1083 => Target::Time { digits },
        1114 | 1184 => Target::Timestamp {
            digits,
            min: TIMESTAMP_MIN,
            max: i64::MAX,
        },
        1186 => {
            if typmod < 0 {
                Target::Interval { digits: 6 }
            } else {
                // interval typmod: the allowed fields above, the precision below.
                let precision = typmod & 0xffff;
                if (typmod >> 16) & 0x7fff != 0x7fff {
                    return Some(Err(
                        "an interval restricted to some fields would drop the others".into(),
                    ));
                }
                Target::Interval {
                    digits: u8::try_from(precision)
                        .ok()
                        .filter(|d| *d <= 6)
                        .unwrap_or(6),
                }
            }
        }
        _ => return None,
    }))
}

/// Appends one value in the binary format of `target`.
fn put(out: &mut Vec<u8>, value: &Value<'_>, target: &Target) -> std::result::Result<(), String> {
    let internal = || "a value of a kind the column cannot hold".to_owned();
    match (target, value) {
        (Target::Bool, Value::Bool(b)) => out.push(u8::from(*b)),
        (Target::Int { min, max }, Value::Int(v)) => {
            let v = *v;
            if *min == 0 && *max == i128::from(u32::MAX) {
                let v = u32::try_from(v).map_err(|_| internal())?;
                out.extend_from_slice(&v.to_be_bytes());
            } else if *min == i128::from(i16::MIN) {
                let v = i16::try_from(v).map_err(|_| internal())?;
                out.extend_from_slice(&v.to_be_bytes());
            } else if *min == i128::from(i32::MIN) {
                let v = i32::try_from(v).map_err(|_| internal())?;
                out.extend_from_slice(&v.to_be_bytes());
            } else {
                out.extend_from_slice(&v.to_be_bytes());
            }
        }
        (Target::Float { single: true, .. }, Value::F32(v)) => {
            out.extend_from_slice(&v.to_be_bytes());
        }
        (Target::Float { single: false, .. }, Value::F64(v)) => {
            out.extend_from_slice(&v.to_be_bytes());
        }
        (Target::Decimal { .. }, Value::Decimal(d)) => {
            encode_numeric_digits(out, d.negative, &d.digits, d.scale)?;
        }
        (Target::Decimal { .. }, Value::SmallDecimal { value, scale }) => {
            encode_numeric_i128(out, *value, *scale)?;
        }
        (Target::Text(_) | Target::Json { binary: false }, Value::Text(t)) => {
            out.extend_from_slice(t.as_bytes());
        }
        (Target::Json { binary: true }, Value::Text(t)) => {
            out.push(1);
            out.extend_from_slice(t.as_bytes());
        }
        (Target::Uuid, Value::Uuid(bytes)) => out.extend_from_slice(bytes),
        (Target::Binary { .. }, Value::Bytes(bytes)) => out.extend_from_slice(bytes),
        (Target::Date { .. }, Value::Date(days)) => {
            let days = days.checked_sub(PG_EPOCH_DAYS).ok_or_else(internal)?;
            out.extend_from_slice(&days.to_be_bytes());
        }
        (Target::Time { .. }, Value::Time(micros)) => {
            out.extend_from_slice(&micros.to_be_bytes());
        }
        (Target::Timestamp { .. }, Value::Timestamp(micros)) => {
            let micros = micros.checked_sub(PG_EPOCH_MICROS).ok_or_else(internal)?;
            out.extend_from_slice(&micros.to_be_bytes());
        }
        (
            Target::Interval { .. },
            Value::Interval {
                months,
                days,
                micros,
            },
        ) => {
            out.extend_from_slice(&micros.to_be_bytes());
            out.extend_from_slice(&days.to_be_bytes());
            out.extend_from_slice(&months.to_be_bytes());
        }
        _ => return Err(internal()),
    }
    Ok(())
}

/// Appends one field of a COPY tuple: its length, then its value (-1 for NULL).
fn encode_cell(
    out: &mut Vec<u8>,
    source: &Source,
    row: usize,
    target: &Target,
) -> std::result::Result<(), String> {
    if source.is_null(row) {
        out.extend_from_slice(&(-1i32).to_be_bytes());
        return Ok(());
    }
    let at = out.len();
    out.extend_from_slice(&0i32.to_be_bytes());
    match target {
        Target::Array { element, oid } => {
            let Source::List { ranges, values, .. } = source else {
                return Err("a value of a kind the column cannot hold".into());
            };
            let (start, end) = ranges.get(row).copied().unwrap_or((0, 0));
            let count = i32::try_from(end - start).map_err(|_| "an array too long")?;
            let has_null = (start..end).any(|i| values.is_null(i));
            // An empty array has no dimensions.
            out.extend_from_slice(&i32::from(count > 0).to_be_bytes());
            out.extend_from_slice(&i32::from(has_null).to_be_bytes());
            out.extend_from_slice(&oid.to_be_bytes());
            if count > 0 {
                out.extend_from_slice(&count.to_be_bytes());
                out.extend_from_slice(&1i32.to_be_bytes());
            }
            for (k, index) in (start..end).enumerate() {
                encode_cell(out, values, index, element)
                    .map_err(|e| format!("element {k}: {e}"))?;
            }
        }
        _ => put(out, &convert(source, row, target)?, target)?,
    }
    let len = i32::try_from(out.len() - at - 4).map_err(|_| "a value over 2 GiB")?;
    out[at..at + 4].copy_from_slice(&len.to_be_bytes());
    Ok(())
}

fn sources(batch: &arrow::array::RecordBatch) -> Result<Vec<Source>> {
    batch
        .columns()
        .iter()
        .map(|array| Source::new(array).map_err(Error::Data))
        .collect()
}

/// Converts one cell without encoding it: what can go wrong before the COPY starts.
fn check_cell(source: &Source, row: usize, target: &Target) -> std::result::Result<(), String> {
    match (source, target) {
        (Source::List { ranges, values, .. }, Target::Array { element, .. })
            if !source.is_null(row) =>
        {
            let (start, end) = ranges.get(row).copied().unwrap_or((0, 0));
            for (k, index) in (start..end).enumerate() {
                check_cell(values, index, element).map_err(|e| format!("element {k}: {e}"))?;
            }
            Ok(())
        }
        _ => convert(source, row, target).map(drop),
    }
}

/// Checks every value that can fail before anything is sent.
fn check_values(table: &Table, columns: &[Planned]) -> Result<()> {
    let mut offset = 0;
    for batch in table.batches() {
        for (source, column) in sources(batch)?.iter().zip(columns) {
            if !can_fail(source, &column.target) {
                continue;
            }
            for row in 0..batch.num_rows() {
                check_cell(source, row, &column.target)
                    .map_err(|e| column.value_error(offset + row, &e))?;
            }
        }
        offset += batch.num_rows();
    }
    Ok(())
}

/// Copies `table` into `name`, whose columns are `columns` (one per field, in order).
pub(super) async fn copy_in(
    conn: &mut PgConnection,
    name: &TableName,
    table: &Table,
    columns: &[Planned],
    ctx: &Ctx,
) -> Result<u64> {
    check_values(table, columns)?;
    let count = i16::try_from(columns.len())
        .map_err(|_| Error::Data("too many columns for COPY".into()))?;
    let list: Vec<String> = columns
        .iter()
        .map(|c| quote_ident(&c.name, Backend::Postgres))
        .collect();
    let statement = format!(
        "COPY {} ({}) FROM STDIN (FORMAT binary)",
        name.quoted(Backend::Postgres),
        list.join(", ")
    );
    let mut copy = conn
        .copy_in_raw(&statement)
        .await
        .map_err(|e| ctx.err(e, "write_table"))?;
    let streamed: Result<()> = async {
        let mut buffer = Vec::with_capacity(CHUNK + 4096);
        buffer.extend_from_slice(SIGNATURE);
        buffer.extend_from_slice(&0i32.to_be_bytes());
        buffer.extend_from_slice(&0i32.to_be_bytes());
        let mut offset = 0;
        for batch in table.batches() {
            let sources = sources(batch)?;
            for row in 0..batch.num_rows() {
                buffer.extend_from_slice(&count.to_be_bytes());
                for (source, column) in sources.iter().zip(columns) {
                    encode_cell(&mut buffer, source, row, &column.target)
                        .map_err(|e| column.value_error(offset + row, &e))?;
                }
                if buffer.len() >= CHUNK {
                    copy.send(std::mem::take(&mut buffer))
                        .await
                        .map_err(|e| ctx.err(e, "write_table"))?;
                }
            }
            offset += batch.num_rows();
        }
        buffer.extend_from_slice(&(-1i16).to_be_bytes());
        copy.send(buffer)
            .await
            .map_err(|e| ctx.err(e, "write_table"))?;
        Ok(())
    }
    .await;
    match streamed {
        Ok(()) => copy.finish().await.map_err(|e| ctx.err(e, "write_table")),
        Err(err) => {
            // CopyFail: the server drops what it received and the connection is ready
            // for the rollback that follows.
            if let Err(abort) = copy.abort(err.to_string()).await {
                tracing::warn!(error = %abort, "aborting a failed COPY");
            }
            Err(err)
        }
    }
}

#[cfg(test)]
mod tests {
    use arrow::array::AsArray;
    use arrow::datatypes::Decimal128Type;

    use super::*;
    use crate::arrow::postgres::{Decoder, PgKind};

    /// Encodes `±digits × 10^-scale`, decodes it back at `read_scale`.
    fn round_trip(negative: bool, digits: &str, scale: i32, read_scale: i8) -> i128 {
        let mut out = Vec::new();
        encode_numeric_digits(&mut out, negative, digits, scale).unwrap();
        let mut decoder = Decoder::new(&PgKind::Numeric(Some((38, read_scale))));
        decoder.append(Some(&out)).unwrap();
        let array = decoder.finish(&|i| i).unwrap();
        array.as_primitive::<Decimal128Type>().value(0)
    }

    #[test]
    fn numerics_round_trip_through_the_wire_format() {
        assert_eq!(round_trip(false, "1234567", 2, 2), 1_234_567);
        assert_eq!(round_trip(true, "5", 3, 3), -5);
        assert_eq!(round_trip(false, "0", 2, 2), 0);
        assert_eq!(round_trip(true, "0", 0, 0), 0);
        assert_eq!(round_trip(false, "12", 6, 6), 12);
        assert_eq!(round_trip(false, "123", -2, 0), 12_300);
        assert_eq!(round_trip(true, "99999999", 4, 4), -99_999_999);
        assert_eq!(
            round_trip(false, "123456789012345678901234567890123456", 10, 10),
            123_456_789_012_345_678_901_234_567_890_123_456
        );
        // The i128 encoder writes the same bytes as the digit one.
        for (value, scale) in [
            (0i128, 0u8),
            (0, 3),
            (1, 0),
            (-1, 5),
            (12_300, 0),
            (10_000, 4),
            (-123_456_789, 2),
            (12, 6),
            (99_999_999_999_999_999, 9),
            (i128::MAX, 0),
            (i128::MIN + 1, 38),
            (170_141_183_460_469_231_731_687_303_715_884_105, 3),
        ] {
            let (mut fast, mut slow) = (Vec::new(), Vec::new());
            encode_numeric_i128(&mut fast, value, scale).unwrap();
            let digits = value.unsigned_abs().to_string();
            encode_numeric_digits(&mut slow, value < 0, &digits, i32::from(scale)).unwrap();
            assert_eq!(fast, slow, "{value} at scale {scale}");
        }
        let mut out = Vec::new();
        assert!(encode_numeric_digits(&mut out, false, "12a", 0).is_err());
        assert!(encode_numeric_digits(&mut out, false, "1", 20_000).is_err());
    }

    #[test]
    fn catalog_types_become_targets() {
        let varchar = scalar(1043, 14).unwrap().unwrap();
        assert_eq!(
            varchar,
            Target::Text(TextRules {
                max_chars: Some(10),
                no_nul: true,
                ..TextRules::default()
            })
        );
        assert_eq!(
            scalar(1700, ((12 << 16) | 2) + 4).unwrap().unwrap(),
            Target::Decimal {
                precision: Some(12),
                scale: Some(2)
            }
        );
        assert_eq!(
            scalar(1700, ((3 << 16) | 0x7fe) + 4).unwrap().unwrap(),
            Target::Decimal {
                precision: Some(3),
                scale: Some(-2)
            }
        );
        assert_eq!(
            scalar(1114, 3).unwrap().unwrap(),
            Target::Timestamp {
                digits: 3,
                min: TIMESTAMP_MIN,
                max: i64::MAX
            }
        );
        // interval YEAR TO MONTH would drop days and seconds.
        assert!(scalar(1186, (0x0006 << 16) | 0xffff).unwrap().is_err());
        assert_eq!(
            scalar(1186, (0x7fff << 16) | 3).unwrap().unwrap(),
            Target::Interval { digits: 3 }
        );
        assert!(scalar(869, -1).is_none(), "inet is not mapped");
    }
}
