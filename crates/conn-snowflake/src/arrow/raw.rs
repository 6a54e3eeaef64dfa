//! Reading raw columns whose Arrow type varies from batch to batch: integers of any
//! width, and lossless casts.

use arrow::array::{Array, ArrayRef, AsArray, Int64Array};
use arrow::compute::{CastOptions, cast_with_options};
use arrow::datatypes::{DataType, Int64Type};
use conn_core::Result;

use super::target::Target;

/// Whether `data_type` is an integer type whose every value fits an `i64`.
pub(crate) fn is_int(data_type: &DataType) -> bool {
    matches!(
        data_type,
        DataType::Int8
            | DataType::Int16
            | DataType::Int32
            | DataType::Int64
            | DataType::UInt8
            | DataType::UInt16
            | DataType::UInt32
    )
}

/// The integers of `raw` (any signed width, unsigned up to 32 bits) as `Int64`: Snowflake
/// picks the narrowest width per batch, so one column's batches differ.
pub(crate) fn ints(target: &Target, raw: &dyn Array) -> Result<Int64Array> {
    match raw.data_type() {
        DataType::Int64 => Ok(raw.as_primitive::<Int64Type>().clone()),
        other if is_int(other) => Ok(cast_strict(target, raw, &DataType::Int64)?
            .as_primitive::<Int64Type>()
            .clone()),
        other => Err(target.raw_error(other)),
    }
}

/// `raw` cast to `to`, failing (naming the column) rather than turning a value that
/// does not fit into NULL.
pub(crate) fn cast_strict(target: &Target, raw: &dyn Array, to: &DataType) -> Result<ArrayRef> {
    let options = CastOptions {
        safe: false,
        ..CastOptions::default()
    };
    cast_with_options(raw, to, &options).map_err(|e| {
        conn_core::Error::Data(format!(
            "column \"{}\" ({}): its Arrow {} values cannot be read as {to}: {e}",
            target.name,
            target.sql,
            raw.data_type()
        ))
    })
}
