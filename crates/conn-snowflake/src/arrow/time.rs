//! TIME columns: raw integers (Int32 or Int64) counting 10^-scale seconds since
//! midnight (gosnowflake's `arrowTimeToValue`, the Python connector's `TimeConverter`)
//! into `Time64(Nanosecond)`.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, Time64NanosecondArray};
use arrow::buffer::ScalarBuffer;
use conn_core::Result;

use super::raw;
use super::target::Target;

/// Nanoseconds in a day: a time of day is below it.
pub(crate) const NANOS_PER_DAY: i64 = 86_400 * 1_000_000_000;

/// A raw TIME column with `scale` fractional digits as `Time64(Nanosecond)`.
pub(crate) fn convert(
    target: &Target,
    raw: &ArrayRef,
    scale: u8,
    first_row: u64,
) -> Result<ArrayRef> {
    let ints = raw::ints(target, raw)?;
    let factor = 10i128.pow(9 - u32::from(scale.min(9)));
    let mut values = Vec::with_capacity(ints.len());
    for (i, value) in ints.values().iter().enumerate() {
        if ints.is_null(i) {
            values.push(0);
            continue;
        }
        let nanos = i128::from(*value) * factor;
        values.push(of_day(target, nanos, first_row + i as u64)?);
    }
    Ok(Arc::new(Time64NanosecondArray::new(
        ScalarBuffer::from(values),
        ints.nulls().cloned(),
    )))
}

/// `nanos` since midnight, or the error for result row `row` when it is not a time of day.
pub(crate) fn of_day(target: &Target, nanos: i128, row: u64) -> Result<i64> {
    match i64::try_from(nanos) {
        Ok(n) if (0..NANOS_PER_DAY).contains(&n) => Ok(n),
        _ => Err(target.value_error(
            row,
            format_args!(
                "{} seconds after midnight is not a time of day",
                super::decimal::text(nanos, 9)
            ),
        )),
    }
}
