//! Fitting appended values to the target table's column types, unchanged or not at all.
//!
//! DuckDB's appender casts every Arrow column to its table column's type with DuckDB's
//! own rules, without a word: 2.5 into an INTEGER becomes 3, the text "1.2345" into a
//! DECIMAL(10,2) becomes 1.23, the integer 2 into a BOOLEAN becomes true, nanoseconds
//! into a TIMESTAMP are cut. So conn casts each column itself before appending, casts
//! the result back and refuses the write, naming the column, the row and both types, if
//! any value came back different.

use std::sync::Arc;

use conn_core::arrow::array::{Array, ArrayRef, RecordBatch};
use conn_core::arrow::compute::kernels::cmp::distinct;
use conn_core::arrow::compute::{CastOptions, cast_with_options};
use conn_core::arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use conn_core::{Error, Result};

use crate::prepare;

/// `batch` with each column in the type of the target table's column, checked to hold
/// every value unchanged. Nothing is appended unless every batch passed.
pub(crate) fn fitted(
    batch: &RecordBatch,
    target: &Schema,
    first_row: usize,
    table: &str,
) -> Result<RecordBatch> {
    let mut columns = Vec::with_capacity(batch.num_columns());
    for (field, array) in batch.schema().fields().iter().zip(batch.columns()) {
        let wanted = target
            .field_with_name(field.name())
            .map_err(|_| {
                Error::Data(format!(
                    "column \"{}\" is not in table {table}",
                    field.name()
                ))
            })?
            .data_type();
        columns.push(fit_column(array, wanted).map_err(|row| {
            let at = row
                .map(|r| format!(", row {}", first_row + r))
                .unwrap_or_default();
            Error::Data(format!(
                "column \"{}\"{at}: Arrow {} values do not fit the column's DuckDB type \
                 ({wanted}) unchanged; change the column's type or cast the data first",
                field.name(),
                array.data_type()
            ))
        })?);
    }
    let schema = Arc::new(Schema::new(
        batch
            .schema()
            .fields()
            .iter()
            .zip(&columns)
            .map(|(f, c)| Field::new(f.name(), c.data_type().clone(), true))
            .collect::<Vec<_>>(),
    ));
    RecordBatch::try_new(schema, columns).map_err(|e| Error::Data(e.to_string()))
}

/// `array` in the `wanted` type, or the first row whose value would change (`None`
/// when the types cannot be converted at all).
fn fit_column(array: &ArrayRef, wanted: &DataType) -> std::result::Result<ArrayRef, Option<usize>> {
    if passes_as_is(array.data_type(), wanted) {
        return Ok(Arc::clone(array));
    }
    let strict = CastOptions {
        safe: false,
        ..CastOptions::default()
    };
    let cast =
        cast_with_options(array, wanted, &strict).map_err(|_| first_uncastable(array, wanted))?;
    let back = cast_with_options(&cast, array.data_type(), &strict)
        .map_err(|_| first_uncastable(&cast, array.data_type()))?;
    match first_changed(array, &back, wanted)? {
        Some(row) => Err(Some(row)),
        None => Ok(cast),
    }
}

/// The first row of `array` that cannot be cast to `to` (a value that becomes NULL in a
/// lenient cast), or `None` when the types cannot be cast at all.
fn first_uncastable(array: &ArrayRef, to: &DataType) -> Option<usize> {
    let lenient = cast_with_options(array, to, &CastOptions::default()).ok()?;
    (0..array.len()).find(|&i| array.is_valid(i) && lenient.is_null(i))
}

/// Pairs appended as they are: the same type; types `prepare` re-expresses exactly
/// (intervals, durations, nanosecond times); a UUID's 16 bytes into a UUID column (which
/// exports as text; the appender takes the bytes as the UUID); lists that differ only in
/// their item field's name or nullability.
fn passes_as_is(given: &DataType, wanted: &DataType) -> bool {
    given == wanted
        || prepare::needs_preparing(given)
        || matches!(
            (given, wanted),
            (
                DataType::FixedSizeBinary(16),
                DataType::Utf8 | DataType::Utf8View
            )
        )
        || same_ignoring_field_names(given, wanted)
}

fn same_ignoring_field_names(a: &DataType, b: &DataType) -> bool {
    match (a, b) {
        (DataType::List(x), DataType::List(y))
        | (DataType::LargeList(x), DataType::LargeList(y)) => {
            same_ignoring_field_names(x.data_type(), y.data_type())
        }
        (DataType::FixedSizeList(x, n), DataType::FixedSizeList(y, m)) => {
            n == m && same_ignoring_field_names(x.data_type(), y.data_type())
        }
        _ => a == b,
    }
}

/// The first row where `back` (the values cast to `wanted` and back) differs from
/// `original`. Text compares by what it means in `wanted` when it can be read exactly
/// (the text "1.5" into a DECIMAL(10,2) comes back "1.50", the same number; "1.2345"
/// comes back "1.23", a different one); otherwise, and for every other type, values
/// compare as they are.
fn first_changed(
    original: &ArrayRef,
    back: &ArrayRef,
    wanted: &DataType,
) -> std::result::Result<Option<usize>, Option<usize>> {
    let is_text = matches!(
        original.data_type(),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
    );
    let (left, right) = match meaning_of_text(wanted).filter(|_| is_text) {
        Some(meaning) => {
            let strict = CastOptions {
                safe: false,
                ..CastOptions::default()
            };
            match (
                cast_with_options(original, &meaning, &strict),
                cast_with_options(back, &meaning, &strict),
            ) {
                (Ok(l), Ok(r)) => (l, r),
                _ => (Arc::clone(original), Arc::clone(back)),
            }
        }
        None => (Arc::clone(original), Arc::clone(back)),
    };
    let changed = distinct(&left, &right).map_err(|_| None)?;
    Ok((0..changed.len()).find(|&i| changed.is_valid(i) && changed.value(i)))
}

/// A type that reads text of a value of `wanted` exactly, at least as finely as any
/// value `wanted` holds: decimals of 76 digits, 38 of them places, for numbers;
/// nanoseconds for times.
fn meaning_of_text(wanted: &DataType) -> Option<DataType> {
    match wanted {
        w if w.is_numeric() => Some(DataType::Decimal256(76, 38)),
        DataType::Boolean => Some(DataType::Boolean),
        DataType::Date32 | DataType::Date64 | DataType::Timestamp(_, None) => {
            Some(DataType::Timestamp(TimeUnit::Nanosecond, None))
        }
        DataType::Timestamp(_, Some(zone)) => Some(DataType::Timestamp(
            TimeUnit::Nanosecond,
            Some(Arc::clone(zone)),
        )),
        DataType::Time32(_) | DataType::Time64(_) => Some(DataType::Time64(TimeUnit::Nanosecond)),
        _ => None,
    }
}
