//! `FIXED` (NUMBER) columns: raw integers (Int8 to Int64, holding the value times
//! 10^scale) or `Decimal128` into `Int64` or `Decimal128(precision, scale)`, exactly.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, Decimal128Array, Int64Array};
use arrow::buffer::ScalarBuffer;
use arrow::datatypes::{DataType, Decimal128Type};
use conn_core::Result;

use super::decimal;
use super::raw;
use super::target::Target;

/// A raw `FIXED` column as `Int64` (scale 0, at most 18 digits).
pub(crate) fn to_int64(target: &Target, raw: &ArrayRef, first_row: u64) -> Result<ArrayRef> {
    match raw.data_type() {
        DataType::Decimal128(_, raw_scale) => {
            let unscaled = unscaled_values(target, raw, *raw_scale, 0, first_row)?;
            let mut values = Vec::with_capacity(unscaled.len());
            for (i, value) in unscaled.iter().enumerate() {
                let fits = i64::try_from(*value).map_err(|_| {
                    target.value_error(
                        first_row + i as u64,
                        format_args!("{value} does not fit in Int64"),
                    )
                })?;
                values.push(fits);
            }
            Ok(Arc::new(Int64Array::new(
                ScalarBuffer::from(values),
                raw.nulls().cloned(),
            )))
        }
        _ => Ok(Arc::new(raw::ints(target, raw)?)),
    }
}

/// Whether every value of a raw scale-0 `FIXED` column fits in `i64` (raw integers
/// always do; a raw `Decimal128` may hold more).
pub(crate) fn fits_int64(raw: &ArrayRef) -> bool {
    match raw.data_type() {
        DataType::Decimal128(_, raw_scale) => {
            let decimals = raw.as_primitive::<Decimal128Type>();
            decimals.iter().flatten().all(|value| {
                decimal::rescale(value, *raw_scale, 0).is_some_and(|v| i64::try_from(v).is_ok())
            })
        }
        _ => true,
    }
}

/// A raw `FIXED` column as `Decimal128(precision, scale)`; a value with more than
/// `precision` digits fails.
pub(crate) fn to_decimal(
    target: &Target,
    raw: &ArrayRef,
    precision: u8,
    scale: i8,
    first_row: u64,
) -> Result<ArrayRef> {
    let values: Vec<i128> = match raw.data_type() {
        DataType::Decimal128(_, raw_scale) => {
            unscaled_values(target, raw, *raw_scale, scale, first_row)?
        }
        // Snowflake's integers are the value times 10^scale: already unscaled.
        _ => raw::ints(target, raw)?
            .values()
            .iter()
            .map(|v| i128::from(*v))
            .collect(),
    };
    for (i, value) in values.iter().enumerate() {
        if raw.is_valid(i) && !decimal::fits_precision(*value, precision) {
            return Err(target.value_error(
                first_row + i as u64,
                format_args!(
                    "{} does not fit in {precision} digits",
                    decimal::text(*value, scale)
                ),
            ));
        }
    }
    let array = Decimal128Array::new(ScalarBuffer::from(values), raw.nulls().cloned())
        .with_precision_and_scale(precision, scale)
        .map_err(|e| conn_core::Error::Data(format!("column \"{}\": {e}", target.name)))?;
    Ok(Arc::new(array))
}

/// The values of a raw `Decimal128(_, raw_scale)` column unscaled to `scale` digits after
/// the point (NULL slots hold 0); a value that would lose a digit fails.
fn unscaled_values(
    target: &Target,
    raw: &ArrayRef,
    raw_scale: i8,
    scale: i8,
    first_row: u64,
) -> Result<Vec<i128>> {
    let decimals = raw.as_primitive::<Decimal128Type>();
    let mut values = Vec::with_capacity(decimals.len());
    for (i, value) in decimals.values().iter().enumerate() {
        if decimals.is_null(i) {
            values.push(0);
            continue;
        }
        let rescaled = decimal::rescale(*value, raw_scale, scale).ok_or_else(|| {
            let text = decimal::text(*value, raw_scale);
            let why = if raw_scale > scale {
                format!("{text} has more than {scale} digits after the point")
            } else {
                format!("{text} is too large")
            };
            target.value_error(first_row + i as u64, why)
        })?;
        values.push(rescaled);
    }
    Ok(values)
}
