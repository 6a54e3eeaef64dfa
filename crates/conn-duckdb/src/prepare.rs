//! Arrow columns in shapes that DuckDB's Arrow appender writes exactly.
//!
//! duckdb-rs's Arrow-to-DuckDB conversion changes some values without a word: it
//! writes every Interval and Duration value as non-NULL (their validity is lost) and
//! drops their sub-microsecond part; it casts zoned timestamps and `Time64` to
//! microseconds, truncating nanoseconds; and it refuses negative decimal scales. So
//! before appending, each such column is checked and, where needed, re-expressed:
//!
//! - Interval and Duration: each value as interval text (`14 months 3 days 5
//!   microseconds`), which DuckDB casts to the column's `INTERVAL` with NULLs kept;
//! - zoned `Timestamp(ns)`, `Time64(ns)`, Interval and Duration: a value with
//!   nanoseconds is an error naming the column and the row (DuckDB keeps microseconds
//!   there; cast the column first if dropping them is fine);
//! - `Decimal(p, s)` with `s < 0`: rescaled exactly to `Decimal(p - s, 0)` (the type
//!   [`sql_type`](crate::write::sql_type) creates for it).

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, RecordBatch, StringArray};
use arrow::compute::{CastOptions, cast_with_options};
use arrow::datatypes::{
    DataType, DurationMicrosecondType, DurationMillisecondType, DurationNanosecondType,
    DurationSecondType, Field, IntervalUnit, Schema, TimeUnit,
};
use conn_core::{Error, Result, Table};

/// The most digits a DuckDB `DECIMAL` holds.
const MAX_DECIMAL_DIGITS: i16 = 38;

/// The precision and scale `Decimal(p, s)` is stored at: a negative scale counts whole
/// tens, kept as integer digits. `None` when that needs more digits than DuckDB has.
pub(crate) fn stored_decimal(precision: u8, scale: i8) -> Option<(u8, i8)> {
    if scale >= 0 {
        return Some((precision, scale));
    }
    let digits = i16::from(precision) - i16::from(scale);
    (digits <= MAX_DECIMAL_DIGITS).then(|| (u8::try_from(digits).unwrap_or(38), 0))
}

/// Whether a column needs [`prepare_column`].
pub(crate) fn needs_preparing(data_type: &DataType) -> bool {
    matches!(
        data_type,
        DataType::Interval(_)
            | DataType::Duration(_)
            | DataType::Timestamp(TimeUnit::Nanosecond, Some(_))
            | DataType::Time64(TimeUnit::Nanosecond)
    ) || matches!(data_type, DataType::Decimal128(_, s) | DataType::Decimal256(_, s) if *s < 0)
}

/// `table` with every column the appender would change re-expressed (see the module
/// docs), or an error naming the first column and row that DuckDB cannot hold.
pub(crate) fn prepare(table: &Table) -> Result<Table> {
    let fields = table.schema().fields();
    if !fields.iter().any(|f| needs_preparing(f.data_type())) {
        return Ok(table.clone());
    }
    let mut schema: Option<Arc<Schema>> = None;
    let mut batches = Vec::with_capacity(table.batches().len());
    let mut first_row = 0;
    for batch in table.batches() {
        let mut columns = Vec::with_capacity(batch.num_columns());
        for (field, column) in fields.iter().zip(batch.columns()) {
            columns.push(prepare_column(field, column, first_row)?);
        }
        first_row += batch.num_rows();
        let batch_schema = Arc::clone(schema.get_or_insert_with(|| {
            Arc::new(Schema::new(
                fields
                    .iter()
                    .zip(&columns)
                    .map(|(f, c)| f.as_ref().clone().with_data_type(c.data_type().clone()))
                    .collect::<Vec<Field>>(),
            ))
        }));
        batches.push(
            RecordBatch::try_new(batch_schema, columns)
                .map_err(|e| Error::Data(format!("preparing the table for DuckDB: {e}")))?,
        );
    }
    match schema {
        Some(schema) => Table::new(schema, batches),
        // No batch: nothing to append, the schema is only used to create the table.
        None => Ok(table.clone()),
    }
}

/// One column of one batch, whose first row is row `first_row` of the table.
fn prepare_column(field: &Field, column: &ArrayRef, first_row: usize) -> Result<ArrayRef> {
    let refuse = |index: usize, what: &str| {
        Error::Data(format!(
            "column \"{}\" ({}), row {}: {what}",
            field.name(),
            field.data_type(),
            first_row + index
        ))
    };
    let nanoseconds = |index: usize| {
        refuse(
            index,
            "a value with nanoseconds; DuckDB keeps microseconds (cast the column to \
             microseconds first if dropping them is fine)",
        )
    };
    match column.data_type() {
        DataType::Interval(_) | DataType::Duration(_) => {
            let micros = interval_parts(column)?;
            let mut texts = Vec::with_capacity(micros.len());
            for (index, parts) in micros.into_iter().enumerate() {
                texts.push(match parts {
                    None => None,
                    Some(Parts::Whole(months, days, micros)) => {
                        Some(format!("{months} months {days} days {micros} microseconds"))
                    }
                    Some(Parts::Nanoseconds) => return Err(nanoseconds(index)),
                    Some(Parts::TooLong) => {
                        return Err(refuse(
                            index,
                            "a duration longer than DuckDB's intervals hold",
                        ));
                    }
                });
            }
            Ok(Arc::new(StringArray::from(texts)))
        }
        DataType::Timestamp(TimeUnit::Nanosecond, Some(_))
        | DataType::Time64(TimeUnit::Nanosecond) => {
            let raw = column.to_data();
            let values = raw.buffer::<i64>(0);
            let offset = raw.offset();
            for index in 0..column.len() {
                if column.is_valid(index) && values[offset + index].rem_euclid(1000) != 0 {
                    return Err(nanoseconds(index));
                }
            }
            Ok(Arc::clone(column))
        }
        DataType::Decimal128(p, s) | DataType::Decimal256(p, s) if *s < 0 => {
            let Some((precision, scale)) = stored_decimal(*p, *s) else {
                return Err(Error::Data(format!(
                    "column \"{}\" ({}): needs {} digits at scale 0, more than DuckDB's \
                     decimals hold ({MAX_DECIMAL_DIGITS})",
                    field.name(),
                    field.data_type(),
                    i16::from(*p) - i16::from(*s)
                )));
            };
            let to = match column.data_type() {
                DataType::Decimal128(..) => DataType::Decimal128(precision, scale),
                _ => DataType::Decimal256(precision, scale),
            };
            // Exact: p digits at scale s < 0 are p - s digits at scale 0. Not `safe`, so
            // that an overflow would be an error, never a NULL.
            let options = CastOptions {
                safe: false,
                ..CastOptions::default()
            };
            cast_with_options(column, &to, &options).map_err(|e| {
                Error::Data(format!(
                    "column \"{}\" ({}): {e}",
                    field.name(),
                    field.data_type()
                ))
            })
        }
        _ => Ok(Arc::clone(column)),
    }
}

/// One interval or duration in DuckDB's terms.
enum Parts {
    /// Months, days and microseconds.
    Whole(i32, i32, i64),
    /// A value with a sub-microsecond part.
    Nanoseconds,
    /// Seconds or milliseconds beyond an `i64` of microseconds.
    TooLong,
}

/// Each value of an interval or duration column, `None` for NULL.
fn interval_parts(column: &ArrayRef) -> Result<Vec<Option<Parts>>> {
    let micros = |value: Option<i64>, per_micro: i64, micros_per: i64| {
        value.map(|v| {
            if per_micro > 1 {
                if v % per_micro == 0 {
                    Parts::Whole(0, 0, v / per_micro)
                } else {
                    Parts::Nanoseconds
                }
            } else {
                v.checked_mul(micros_per)
                    .map_or(Parts::TooLong, |m| Parts::Whole(0, 0, m))
            }
        })
    };
    Ok(match column.data_type() {
        DataType::Duration(TimeUnit::Second) => column
            .as_primitive::<DurationSecondType>()
            .iter()
            .map(|v| micros(v, 1, 1_000_000))
            .collect(),
        DataType::Duration(TimeUnit::Millisecond) => column
            .as_primitive::<DurationMillisecondType>()
            .iter()
            .map(|v| micros(v, 1, 1000))
            .collect(),
        DataType::Duration(TimeUnit::Microsecond) => column
            .as_primitive::<DurationMicrosecondType>()
            .iter()
            .map(|v| micros(v, 1, 1))
            .collect(),
        DataType::Duration(TimeUnit::Nanosecond) => column
            .as_primitive::<DurationNanosecondType>()
            .iter()
            .map(|v| micros(v, 1000, 1))
            .collect(),
        DataType::Interval(_) => {
            // Year-month and day-time intervals widen to month-day-nano exactly.
            let wide =
                arrow::compute::cast(column, &DataType::Interval(IntervalUnit::MonthDayNano))
                    .map_err(|e| Error::Data(format!("reading an interval column: {e}")))?;
            wide.as_primitive::<arrow::datatypes::IntervalMonthDayNanoType>()
                .iter()
                .map(|v| {
                    v.map(|v| {
                        if v.nanoseconds % 1000 == 0 {
                            Parts::Whole(v.months, v.days, v.nanoseconds / 1000)
                        } else {
                            Parts::Nanoseconds
                        }
                    })
                })
                .collect()
        }
        other => {
            return Err(Error::Data(format!("not an interval column: {other}")));
        }
    })
}

#[cfg(test)]
mod tests {
    use arrow::array::{
        Decimal128Array, DurationNanosecondArray, IntervalMonthDayNanoArray, Time64NanosecondArray,
    };
    use arrow::datatypes::IntervalMonthDayNano;

    use super::*;

    #[allow(clippy::needless_pass_by_value)]
    fn table(name: &str, column: ArrayRef) -> Table {
        let schema = Arc::new(Schema::new(vec![Field::new(
            name,
            column.data_type().clone(),
            true,
        )]));
        let first = RecordBatch::try_new(Arc::clone(&schema), vec![column.slice(0, 1)]).unwrap();
        let rest =
            RecordBatch::try_new(Arc::clone(&schema), vec![column.slice(1, column.len() - 1)])
                .unwrap();
        Table::new(schema, vec![first, rest]).unwrap()
    }

    #[test]
    fn intervals_become_text_with_their_nulls() {
        let intervals: ArrayRef = Arc::new(IntervalMonthDayNanoArray::from(vec![
            Some(IntervalMonthDayNano::new(14, -3, 5_000)),
            None,
            Some(IntervalMonthDayNano::new(0, 0, -1_000)),
        ]));
        let prepared = prepare(&table("i", intervals)).unwrap();
        let column = prepared.column("i").unwrap();
        let texts: Vec<Option<&str>> = column.as_string::<i32>().iter().collect();
        assert_eq!(
            texts,
            vec![
                Some("14 months -3 days 5 microseconds"),
                None,
                Some("0 months 0 days -1 microseconds")
            ]
        );
    }

    #[test]
    fn nanoseconds_are_errors_naming_column_and_row() {
        let intervals: ArrayRef = Arc::new(IntervalMonthDayNanoArray::from(vec![
            IntervalMonthDayNano::new(0, 0, 1_000),
            IntervalMonthDayNano::new(0, 0, 1_001),
        ]));
        assert_eq!(
            prepare(&table("i", intervals)).unwrap_err().to_string(),
            "column \"i\" (Interval(MonthDayNano)), row 1: a value with nanoseconds; DuckDB \
             keeps microseconds (cast the column to microseconds first if dropping them is fine)"
        );
        let durations: ArrayRef = Arc::new(DurationNanosecondArray::from(vec![None, Some(1)]));
        assert!(
            prepare(&table("d", durations))
                .unwrap_err()
                .to_string()
                .starts_with("column \"d\" (Duration(ns)), row 1: a value with nanoseconds")
        );
        let times: ArrayRef = Arc::new(Time64NanosecondArray::from(vec![2_000, 3_000, 3_001]));
        assert!(
            prepare(&table("t", times))
                .unwrap_err()
                .to_string()
                .starts_with("column \"t\" (Time64(ns)), row 2:")
        );
    }

    #[test]
    fn negative_scales_rescale_exactly() {
        let decimals: ArrayRef = Arc::new(
            Decimal128Array::from(vec![Some(123), None, Some(-99_999)])
                .with_precision_and_scale(5, -2)
                .unwrap(),
        );
        let prepared = prepare(&table("n", decimals)).unwrap();
        let column = prepared.column("n").unwrap();
        assert_eq!(column.data_type(), &DataType::Decimal128(7, 0));
        let values: Vec<Option<i128>> = column
            .as_primitive::<arrow::datatypes::Decimal128Type>()
            .iter()
            .collect();
        assert_eq!(values, vec![Some(12_300), None, Some(-9_999_900)]);
        assert_eq!(stored_decimal(37, -2), None);
    }
}
