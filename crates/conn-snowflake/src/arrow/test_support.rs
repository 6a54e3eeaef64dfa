//! Builders of rowtypes and raw batches for the conversion tests.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, Int32Array, Int64Array, RecordBatch, StructArray};
use arrow::buffer::NullBuffer;
use arrow::datatypes::{DataType, Field, Fields};

use super::Column;

/// A rowtype entry of type `kind` with optional precision and scale.
pub(crate) fn column(name: &str, kind: &str, precision: Option<i64>, scale: Option<i64>) -> Column {
    Column {
        name: name.to_owned(),
        kind: kind.to_owned(),
        precision,
        scale,
        ..Column::default()
    }
}

/// A raw batch of `columns` (names as given; Snowflake's raw names do not matter).
pub(crate) fn batch(columns: Vec<(&str, ArrayRef)>) -> RecordBatch {
    RecordBatch::try_from_iter(columns).unwrap()
}

/// A raw batch of one column called `C`.
pub(crate) fn one(column: ArrayRef) -> RecordBatch {
    batch(vec![("C", column)])
}

/// A raw timestamp struct `{epoch: Int64, fraction: Int32[, timezone: Int32]}`;
/// `valid` is the struct's own validity (all valid when `None`).
pub(crate) fn parts(
    epoch: Vec<Option<i64>>,
    fraction: Vec<Option<i32>>,
    timezone: Option<Vec<Option<i32>>>,
    valid: Option<Vec<bool>>,
) -> ArrayRef {
    let mut fields = vec![
        Field::new("epoch", DataType::Int64, true),
        Field::new("fraction", DataType::Int32, true),
    ];
    let mut arrays: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from(epoch)),
        Arc::new(Int32Array::from(fraction)),
    ];
    if let Some(timezone) = timezone {
        fields.push(Field::new("timezone", DataType::Int32, true));
        arrays.push(Arc::new(Int32Array::from(timezone)));
    }
    Arc::new(
        StructArray::try_new(Fields::from(fields), arrays, valid.map(NullBuffer::from)).unwrap(),
    )
}

/// A raw TIMESTAMP_TZ struct of the "byteLength 8" form: `{epoch: 10^-scale seconds,
/// timezone}`.
pub(crate) fn scaled_tz(epoch: Vec<Option<i64>>, timezone: Vec<Option<i32>>) -> ArrayRef {
    let fields = vec![
        Field::new("epoch", DataType::Int64, true),
        Field::new("timezone", DataType::Int32, true),
    ];
    Arc::new(
        StructArray::try_new(
            Fields::from(fields),
            vec![
                Arc::new(Int64Array::from(epoch)),
                Arc::new(Int32Array::from(timezone)),
            ],
            None,
        )
        .unwrap(),
    )
}

/// A JSON rowset from rows of optional string slices.
pub(crate) fn rows(rows: &[&[Option<&str>]]) -> Vec<Vec<Option<String>>> {
    rows.iter()
        .map(|row| row.iter().map(|v| v.map(str::to_owned)).collect())
        .collect()
}

/// A JSON rowset of one column.
pub(crate) fn single(values: &[Option<&str>]) -> Vec<Vec<Option<String>>> {
    values.iter().map(|v| vec![v.map(str::to_owned)]).collect()
}

/// The text of the error `result` holds.
pub(crate) fn error<T: std::fmt::Debug>(result: conn_core::Result<T>) -> String {
    result.unwrap_err().to_string()
}

/// Column 0 of `batch` as `i64` values (`None` for NULL), for any Arrow type whose native
/// values are `i64` (Int64, timestamps, Time64).
pub(crate) fn i64s(batch: &RecordBatch) -> Vec<Option<i64>> {
    let column = batch.column(0);
    let data = column.to_data();
    let values = data.buffers()[0].typed_data::<i64>();
    (0..column.len())
        .map(|i| column.is_valid(i).then(|| values[data.offset() + i]))
        .collect()
}

/// Column 0 of `batch`, a `Decimal128`, as unscaled values.
pub(crate) fn i128s(batch: &RecordBatch) -> Vec<Option<i128>> {
    batch
        .column(0)
        .as_primitive::<arrow::datatypes::Decimal128Type>()
        .iter()
        .collect()
}
