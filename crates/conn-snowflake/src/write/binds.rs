//! A table's columns as Snowflake column types and array binds: each column's values
//! as text, the way the drivers send them, sent in slices of rows.

use arrow::array::{Array, ArrayRef, AsArray as _, RecordBatch};
use arrow::datatypes::{
    DataType, Date32Type, Float16Type, Float32Type, Float64Type, Time32MillisecondType,
    Time32SecondType, Time64MicrosecondType, Time64NanosecondType, TimeUnit,
};
use conn_core::{Error, Result, Table};
use serde_json::{Map, Value, json};

use super::names;
use crate::protocol::binds::{float_text, hex};

/// At most this many values (rows times columns) go in one statement.
const VALUES_PER_STATEMENT: usize = 200_000;

/// One column to write.
#[derive(Debug, Clone)]
pub(crate) struct Column {
    /// The column's name as SQL.
    pub sql_name: String,
    /// Its Snowflake type.
    pub sql_type: String,
    /// The bind type its values are sent as.
    bind_type: &'static str,
    /// The Arrow name, for errors.
    name: String,
}

/// The Snowflake columns of `table`; an Arrow type with no Snowflake column type is an
/// error naming the column.
pub(crate) fn columns(table: &Table) -> Result<Vec<Column>> {
    table
        .schema()
        .fields()
        .iter()
        .map(|field| {
            let (sql_type, bind_type) = snowflake_type(field.data_type()).ok_or_else(|| {
                Error::InvalidArgument(format!(
                    "column \"{}\" has the Arrow type {}, which write_table cannot write to \
                     Snowflake (cast it to text, numbers, booleans, bytes, dates, times or \
                     timestamps first)",
                    field.name(),
                    field.data_type()
                ))
            })?;
            Ok(Column {
                sql_name: names::column(field.name()),
                sql_type,
                bind_type,
                name: field.name().clone(),
            })
        })
        .collect()
}

/// The Snowflake column type and bind type for an Arrow type.
fn snowflake_type(data_type: &DataType) -> Option<(String, &'static str)> {
    Some(match data_type {
        DataType::Boolean => ("BOOLEAN".into(), "BOOLEAN"),
        DataType::Int8 | DataType::Int16 | DataType::Int32 | DataType::Int64 => {
            ("NUMBER(38,0)".into(), "FIXED")
        }
        DataType::UInt8 | DataType::UInt16 | DataType::UInt32 | DataType::UInt64 => {
            ("NUMBER(38,0)".into(), "FIXED")
        }
        DataType::Float16 | DataType::Float32 | DataType::Float64 => ("FLOAT".into(), "REAL"),
        DataType::Decimal128(p, s) if *p <= 38 && *s >= 0 => (format!("NUMBER({p},{s})"), "TEXT"),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Null => {
            ("VARCHAR".into(), "TEXT")
        }
        DataType::Binary
        | DataType::LargeBinary
        | DataType::BinaryView
        | DataType::FixedSizeBinary(_) => ("BINARY".into(), "BINARY"),
        // Typed binds, as the drivers send them (milliseconds, nanoseconds): text would
        // be read through the account's DATE/TIME/TIMESTAMP input formats.
        DataType::Date32 | DataType::Date64 => ("DATE".into(), "DATE"),
        DataType::Time32(_) | DataType::Time64(_) => ("TIME(9)".into(), "TIME"),
        DataType::Timestamp(_, None) => ("TIMESTAMP_NTZ(9)".into(), "TIMESTAMP_NTZ"),
        DataType::Timestamp(_, Some(_)) => ("TIMESTAMP_TZ(9)".into(), "TIMESTAMP_TZ"),
        DataType::Dictionary(_, value) => return snowflake_type(value),
        _ => return None,
    })
}

/// `batch` in slices small enough for one statement each: at most `max_rows` rows and
/// about [`VALUES_PER_STATEMENT`] values.
pub(crate) fn slices(batch: &RecordBatch, max_rows: usize) -> Vec<RecordBatch> {
    let per_row = batch.num_columns().max(1);
    let rows = (VALUES_PER_STATEMENT / per_row).clamp(1, max_rows.max(1));
    (0..batch.num_rows())
        .step_by(rows)
        .map(|start| batch.slice(start, rows.min(batch.num_rows() - start)))
        .collect()
}

/// The array `bindings` of one slice: `{"1": {type, value: [text or null, ...]}, ...}`.
pub(crate) fn array_bindings(
    slice: &RecordBatch,
    columns: &[Column],
    first_row: usize,
) -> Result<Value> {
    let mut out = Map::new();
    for (index, (array, column)) in slice.columns().iter().zip(columns).enumerate() {
        let values = texts(array, column, first_row)?;
        out.insert(
            (index + 1).to_string(),
            json!({ "type": column.bind_type, "value": values }),
        );
    }
    Ok(Value::Object(out))
}

/// A column's values as bind texts (JSON null for NULL).
fn texts(array: &ArrayRef, column: &Column, first_row: usize) -> Result<Vec<Value>> {
    let array = match array.data_type() {
        DataType::Dictionary(_, value) => arrow::compute::cast(array, value)
            .map_err(|e| cast_error(column, first_row, &e.to_string()))?,
        _ => array.clone(),
    };
    let text = |i: usize, f: &dyn Fn(usize) -> String| -> Value {
        if array.is_null(i) {
            Value::Null
        } else {
            Value::String(f(i))
        }
    };
    let len = array.len();
    Ok(match array.data_type() {
        DataType::Boolean => {
            let values = array.as_boolean();
            (0..len)
                .map(|i| text(i, &|i| values.value(i).to_string()))
                .collect()
        }
        DataType::Float16 => {
            let values = array.as_primitive::<Float16Type>();
            (0..len)
                .map(|i| text(i, &|i| float_text(values.value(i).to_f64())))
                .collect()
        }
        DataType::Float32 => {
            let values = array.as_primitive::<Float32Type>();
            (0..len)
                .map(|i| text(i, &|i| float_text(f64::from(values.value(i)))))
                .collect()
        }
        DataType::Float64 => {
            let values = array.as_primitive::<Float64Type>();
            (0..len)
                .map(|i| text(i, &|i| float_text(values.value(i))))
                .collect()
        }
        DataType::Binary
        | DataType::LargeBinary
        | DataType::BinaryView
        | DataType::FixedSizeBinary(_) => {
            let bytes = arrow::compute::cast(&array, &DataType::LargeBinary)
                .map_err(|e| cast_error(column, first_row, &e.to_string()))?;
            let bytes = bytes.as_binary::<i64>();
            (0..len)
                .map(|i| text(i, &|i| hex(bytes.value(i))))
                .collect()
        }
        DataType::Date32 => {
            let days = array.as_primitive::<Date32Type>();
            let mut out = Vec::with_capacity(len);
            for i in 0..len {
                out.push(match days.is_null(i) {
                    true => Value::Null,
                    false => Value::String(date_text(days.value(i)).ok_or_else(|| {
                        cast_error(
                            column,
                            first_row + i,
                            "the date is outside the years Snowflake holds (0001-9999)",
                        )
                    })?),
                });
            }
            out
        }
        DataType::Date64 => {
            // Milliseconds that must be whole days: a time of day would be lost.
            let ms = array.as_primitive::<arrow::datatypes::Date64Type>();
            let mut out = Vec::with_capacity(len);
            for i in 0..len {
                if ms.is_null(i) {
                    out.push(Value::Null);
                    continue;
                }
                let value = ms.value(i);
                let days = i32::try_from(value.div_euclid(86_400_000)).ok();
                let text = match days {
                    Some(days) if value.rem_euclid(86_400_000) == 0 => date_text(days),
                    _ => None,
                };
                out.push(Value::String(text.ok_or_else(|| {
                    cast_error(
                        column,
                        first_row + i,
                        "the Date64 value is not a whole day of the years Snowflake holds \
                         (0001-9999)",
                    )
                })?));
            }
            out
        }
        DataType::Time32(_) | DataType::Time64(_) => time_texts(&array, column, first_row)?,
        DataType::Timestamp(_, zone) => timestamp_texts(&array, column, first_row, zone.is_some())?,
        // Integers, decimals, text: Arrow's own text is exact.
        _ => {
            let strings = arrow::compute::cast(&array, &DataType::LargeUtf8)
                .map_err(|e| cast_error(column, first_row, &e.to_string()))?;
            let strings = strings.as_string::<i64>();
            (0..len)
                .map(|i| text(i, &|i| strings.value(i).to_owned()))
                .collect()
        }
    })
}

/// Days since 1970-01-01 of 0001-01-01 and 9999-12-31, the dates Snowflake holds.
const DAYS: std::ops::RangeInclusive<i32> = -719_162..=2_932_896;

/// A DATE bind: milliseconds since 1970-01-01, for days in [`DAYS`].
fn date_text(days: i32) -> Option<String> {
    DAYS.contains(&days)
        .then(|| (i64::from(days) * 86_400_000).to_string())
}

/// A TIME bind: nanoseconds since midnight (within one day).
fn time_text(nanos: i64) -> Option<String> {
    (0..86_400_000_000_000)
        .contains(&nanos)
        .then(|| nanos.to_string())
}

/// TIME binds of any Arrow time unit; a time outside one day is an error.
fn time_texts(array: &ArrayRef, column: &Column, first_row: usize) -> Result<Vec<Value>> {
    let (per_unit, values): (i64, Vec<Option<i64>>) = match array.data_type() {
        DataType::Time32(TimeUnit::Second) => {
            let v = array.as_primitive::<Time32SecondType>();
            (1_000_000_000, v.iter().map(|x| x.map(i64::from)).collect())
        }
        DataType::Time32(_) => {
            let v = array.as_primitive::<Time32MillisecondType>();
            (1_000_000, v.iter().map(|x| x.map(i64::from)).collect())
        }
        DataType::Time64(TimeUnit::Microsecond) => (
            1_000,
            array
                .as_primitive::<Time64MicrosecondType>()
                .iter()
                .collect(),
        ),
        _ => (
            1,
            array
                .as_primitive::<Time64NanosecondType>()
                .iter()
                .collect(),
        ),
    };
    values
        .into_iter()
        .enumerate()
        .map(|(i, value)| match value {
            None => Ok(Value::Null),
            Some(value) => value
                .checked_mul(per_unit)
                .and_then(time_text)
                .map(Value::String)
                .ok_or_else(|| cast_error(column, first_row + i, "the time is not within one day")),
        })
        .collect()
}

/// TIMESTAMP binds: nanoseconds since 1970 (as text, so years before 1677 fit), with
/// the offset in minutes plus 1440 for instants (`<ns> 1440`: UTC).
fn timestamp_texts(
    array: &ArrayRef,
    column: &Column,
    first_row: usize,
    instant: bool,
) -> Result<Vec<Value>> {
    let DataType::Timestamp(unit, _) = array.data_type() else {
        return Ok(Vec::new());
    };
    let per_second: i64 = match unit {
        TimeUnit::Second => 1,
        TimeUnit::Millisecond => 1_000,
        TimeUnit::Microsecond => 1_000_000,
        TimeUnit::Nanosecond => 1_000_000_000,
    };
    let raw = arrow::compute::cast(array, &DataType::Int64)
        .map_err(|e| cast_error(column, first_row, &e.to_string()))?;
    let raw = raw.as_primitive::<arrow::datatypes::Int64Type>();
    let mut out = Vec::with_capacity(raw.len());
    for i in 0..raw.len() {
        if raw.is_null(i) {
            out.push(Value::Null);
            continue;
        }
        let value = raw.value(i);
        let seconds = value.div_euclid(per_second);
        let nanos = value.rem_euclid(per_second) * (1_000_000_000 / per_second);
        let in_range = chrono::DateTime::from_timestamp(seconds, 0)
            .is_some_and(|moment| (1..=9999).contains(&chrono::Datelike::year(&moment)));
        if !in_range {
            return Err(cast_error(
                column,
                first_row + i,
                "the timestamp is outside the years Snowflake holds (0001-9999)",
            ));
        }
        let total = i128::from(seconds) * 1_000_000_000 + i128::from(nanos);
        let text = if instant {
            format!("{total} 1440")
        } else {
            total.to_string()
        };
        out.push(Value::String(text));
    }
    Ok(out)
}

fn cast_error(column: &Column, row: usize, why: &str) -> Error {
    Error::Data(format!(
        "write_table: column \"{}\", row {row}: {why}",
        column.name
    ))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{
        Date32Array, Decimal128Array, Int64Array, StringArray, TimestampNanosecondArray,
    };

    use super::*;

    fn table(columns: Vec<(&str, ArrayRef)>) -> (Table, RecordBatch) {
        let batch = RecordBatch::try_from_iter(columns).unwrap();
        (Table::from_batch(batch.clone()), batch)
    }

    #[test]
    fn values_become_exact_texts_with_nulls() {
        let (table, batch) = table(vec![
            (
                "id",
                Arc::new(Int64Array::from(vec![Some(i64::MIN), None, Some(7)])) as ArrayRef,
            ),
            (
                "price",
                Arc::new(
                    Decimal128Array::from(vec![Some(12345), Some(-1), None])
                        .with_precision_and_scale(38, 2)
                        .unwrap(),
                ),
            ),
            (
                "day",
                Arc::new(Date32Array::from(vec![Some(0), Some(-719_162), None])),
            ),
            (
                "at",
                Arc::new(TimestampNanosecondArray::from(vec![
                    Some(-1),
                    Some(1_700_000_000_123_456_789),
                    None,
                ])),
            ),
            (
                "name",
                Arc::new(StringArray::from(vec![Some("a\"b"), None, Some("")])),
            ),
        ]);
        let columns = columns(&table).unwrap();
        assert_eq!(columns[1].sql_type, "NUMBER(38,2)");
        let bound = array_bindings(&batch, &columns, 0).unwrap();
        assert_eq!(
            bound["1"]["value"],
            json!(["-9223372036854775808", null, "7"])
        );
        assert_eq!(bound["2"]["value"], json!(["123.45", "-0.01", null]));
        assert_eq!(bound["3"]["value"], json!(["0", "-62135596800000", null]));
        assert_eq!(
            bound["4"]["value"],
            json!(["-1", "1700000000123456789", null])
        );
        assert_eq!(bound["5"]["value"], json!(["a\"b", null, ""]));
    }

    #[test]
    fn unsupported_types_name_the_column() {
        let list = arrow::array::ListArray::from_iter_primitive::<arrow::datatypes::Int32Type, _, _>(
            vec![Some(vec![Some(1)])],
        );
        let (table, _) = table(vec![("tags", Arc::new(list) as ArrayRef)]);
        let err = columns(&table).unwrap_err().to_string();
        assert!(
            err.contains("column \"tags\"") && err.contains("List"),
            "{err}"
        );
    }

    #[test]
    fn slices_bound_the_values_per_statement() {
        let ids: ArrayRef = Arc::new(Int64Array::from_iter_values(0..25_000));
        let batch = RecordBatch::try_from_iter(vec![("id", ids)]).unwrap();
        let sizes: Vec<usize> = slices(&batch, 10_000)
            .iter()
            .map(RecordBatch::num_rows)
            .collect();
        assert_eq!(sizes, vec![10_000, 10_000, 5_000]);
    }
}
