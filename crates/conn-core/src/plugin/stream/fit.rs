//! Fitting a later batch of a stream to the schema its first batch announced, every
//! value unchanged or not at all.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, RecordBatch, new_null_array};
use arrow::compute::kernels::cmp::distinct;
use arrow::compute::{CastOptions, cast_with_options};
use arrow::datatypes::{DataType, SchemaRef};

use crate::error::{Error, Result};

/// `batch` in `schema`: columns whose type differs are cast to the announced type and
/// cast back; if any value comes back different (or cannot be cast), the error names
/// the column, the row of the whole result (`first_row` is the row before this batch)
/// and both types.
pub(super) fn to_schema(
    batch: &RecordBatch,
    schema: &SchemaRef,
    first_row: usize,
) -> Result<RecordBatch> {
    if batch.schema_ref() == schema {
        return Ok(batch.clone());
    }
    if batch.num_columns() != schema.fields().len() {
        return Err(Error::Data(format!(
            "a streamed batch has {} columns where the first had {}",
            batch.num_columns(),
            schema.fields().len()
        )));
    }
    if let Some((field, given)) = schema
        .fields()
        .iter()
        .zip(batch.schema_ref().fields())
        .find(|(field, given)| field.name() != given.name())
    {
        return Err(Error::Data(format!(
            "a streamed batch has a column \"{}\" where the first had \"{}\"",
            given.name(),
            field.name()
        )));
    }
    let mut columns = Vec::with_capacity(batch.num_columns());
    for ((field, array), given) in schema
        .fields()
        .iter()
        .zip(batch.columns())
        .zip(batch.schema_ref().fields())
    {
        let wanted = field.data_type();
        let fitted = fit_column(array, wanted).map_err(|row| {
            let at = row
                .map(|r| format!(" row {}", first_row + r))
                .unwrap_or_else(|| " a later batch".to_owned());
            Error::Data(format!(
                "column \"{}\",{at}: a {} value does not fit the column's type {wanted}, \
                 announced by the stream's first batch; read it with query() (which \
                 widens the column) or cast it in the statement",
                given.name(),
                array.data_type()
            ))
        })?;
        if !field.is_nullable() && fitted.null_count() > 0 {
            return Err(Error::Data(format!(
                "column \"{}\": a NULL in a later batch of a column announced as NOT NULL",
                field.name()
            )));
        }
        columns.push(fitted);
    }
    RecordBatch::try_new(Arc::clone(schema), columns).map_err(|e| {
        Error::Data(format!(
            "a streamed batch does not fit the announced schema: {e}"
        ))
    })
}

/// `array` as `wanted`, or the first row whose value would change (`None` when the
/// types cannot be cast at all).
fn fit_column(array: &ArrayRef, wanted: &DataType) -> std::result::Result<ArrayRef, Option<usize>> {
    if array.data_type() == wanted {
        return Ok(Arc::clone(array));
    }
    if array.logical_null_count() == array.len() {
        return Ok(new_null_array(wanted, array.len()));
    }
    if !same_kind(array.data_type(), wanted) {
        // Arrow would cast an integer to a date or a timestamp as a count of days or
        // seconds, and back to the same integer: the round trip cannot catch it.
        return Err((0..array.len()).find(|&i| array.is_valid(i)));
    }
    let strict = CastOptions {
        safe: false,
        ..CastOptions::default()
    };
    let cast =
        cast_with_options(array, wanted, &strict).map_err(|_| first_uncastable(array, wanted))?;
    let back = cast_with_options(&cast, array.data_type(), &strict)
        .map_err(|_| first_uncastable(&cast, array.data_type()))?;
    let changed = distinct(array, &back).map_err(|_| None)?;
    match (0..changed.len()).find(|&i| changed.is_valid(i) && changed.value(i)) {
        Some(row) => Err(Some(row)),
        None => Ok(cast),
    }
}

/// Whether values of `from` keep their meaning as `to` when they fit: numbers as
/// numbers, text as text, bytes as bytes, instants in the same time zone, dates as
/// dates, times of day as times of day, durations as durations. A column of NULLs fits
/// anything.
fn same_kind(from: &DataType, to: &DataType) -> bool {
    use DataType as T;
    match (from, to) {
        (T::Null, _) => true,
        (a, b) if a.is_numeric() && b.is_numeric() => true,
        (T::Utf8 | T::LargeUtf8 | T::Utf8View, T::Utf8 | T::LargeUtf8 | T::Utf8View) => true,
        (
            T::Binary | T::LargeBinary | T::BinaryView | T::FixedSizeBinary(_),
            T::Binary | T::LargeBinary | T::BinaryView,
        ) => true,
        (T::Timestamp(_, a), T::Timestamp(_, b)) => a == b,
        (T::Date32 | T::Date64, T::Date32 | T::Date64) => true,
        (T::Time32(_) | T::Time64(_), T::Time32(_) | T::Time64(_)) => true,
        (T::Duration(_), T::Duration(_)) => true,
        _ => false,
    }
}

/// The first row of `array` a lenient cast to `to` turns into NULL, or `None` when the
/// types cannot be cast at all.
fn first_uncastable(array: &ArrayRef, to: &DataType) -> Option<usize> {
    let lenient = cast_with_options(array, to, &CastOptions::default()).ok()?;
    (0..array.len()).find(|&i| array.is_valid(i) && lenient.is_null(i))
}
