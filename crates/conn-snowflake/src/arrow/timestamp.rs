//! TIMESTAMP_NTZ, TIMESTAMP_LTZ and TIMESTAMP_TZ columns into Arrow timestamps.
//!
//! Snowflake sends a timestamp in one of these raw forms (confirmed in gosnowflake's
//! `arrowSnowflakeTimestampToTime` and the Python connector's `TimeStampConverter.cpp`
//! and `CArrowTableIterator.cpp`):
//!
//! - an integer: the time since the epoch in units of 10^-scale seconds (NTZ, LTZ);
//! - a struct `{epoch: seconds, fraction: nanoseconds}` (NTZ, LTZ; the test peer
//!   fakesnow also sends LTZ as the TZ form below);
//! - a struct `{epoch: 10^-scale seconds, timezone}` (TZ, "byteLength 8");
//! - a struct `{epoch: seconds, fraction: nanoseconds, timezone}` (TZ, "byteLength 16").
//!
//! Every form is the instant `epoch * 10^9 + fraction` nanoseconds, negative epochs
//! included (both drivers add the two: Go's `time.Unix(epoch, fraction)`, Python's
//! `Decimal(epoch).scaleb(9) + fraction`). `timezone` is the value's offset in minutes
//! plus 1440: TIMESTAMP_TZ becomes the instant in UTC and its offset is not kept.
//! A value is NULL when the struct is NULL or its epoch is (fakesnow sends NULL as a
//! valid struct with NULL children).
//!
//! Values are nanoseconds; a column holding values outside 1677-09-21..2262-04-11, which
//! nanoseconds cannot count, is widened to microseconds, and a value that needs both
//! (beyond those years with digits below the microsecond) fails.

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, Int64Array, StructArray, TimestampMicrosecondArray,
    TimestampNanosecondArray,
};
use arrow::buffer::NullBuffer;
use arrow::datatypes::{DataType, TimeUnit};
use chrono::DateTime;
use conn_core::Result;

use super::kind::Zone;
use super::raw;
use super::target::Target;

/// Nanoseconds in a second.
const NANOS_PER_SECOND: i128 = 1_000_000_000;

/// A raw timestamp column, read as nanoseconds since the epoch.
pub(crate) struct Reader {
    /// Validity of the whole value (the struct's, or the integer column's).
    nulls: Option<NullBuffer>,
    /// Seconds, or 10^-scale seconds when there is no fraction.
    epoch: Int64Array,
    /// Nanoseconds in one epoch unit.
    epoch_nanos: i128,
    /// Nanoseconds added to the epoch, when sent apart.
    fraction: Option<Int64Array>,
}

impl Reader {
    /// A reader of `raw`, a column of `target` (a timestamp of `zone` with `scale`
    /// fractional digits).
    pub(crate) fn new(target: &Target, raw: &ArrayRef, zone: Zone, scale: u8) -> Result<Reader> {
        let scaled_nanos = 10i128.pow(9 - u32::from(scale.min(9)));
        if raw::is_int(raw.data_type()) {
            return Ok(Reader {
                nulls: raw.nulls().cloned(),
                epoch: raw::ints(target, raw)?,
                epoch_nanos: scaled_nanos,
                fraction: None,
            });
        }
        let DataType::Struct(fields) = raw.data_type() else {
            return Err(target.raw_error(raw.data_type()));
        };
        let parts: &StructArray = raw.as_struct();
        let named = |name: &str| {
            fields
                .iter()
                .position(|f| f.name().eq_ignore_ascii_case(name))
        };
        let (epoch, fraction) = match named("epoch") {
            Some(epoch) => (Some(epoch), named("fraction")),
            // Without names, by position as gosnowflake reads them.
            None => match (fields.len(), zone) {
                (2, Zone::Tz) => (Some(0), None),
                (2 | 3, _) => (Some(0), Some(1)),
                _ => (None, None),
            },
        };
        let epoch = epoch.ok_or_else(|| target.raw_error(raw.data_type()))?;
        Ok(Reader {
            nulls: parts.nulls().cloned(),
            epoch: raw::ints(target, parts.column(epoch))?,
            epoch_nanos: if fraction.is_some() {
                NANOS_PER_SECOND
            } else {
                scaled_nanos
            },
            fraction: fraction
                .map(|f| raw::ints(target, parts.column(f)))
                .transpose()?,
        })
    }

    /// How many values the column holds.
    pub(crate) fn len(&self) -> usize {
        self.epoch.len()
    }

    /// Value `i` in nanoseconds since the epoch (`None` for NULL); `Err` holds why the
    /// raw value is not a timestamp.
    pub(crate) fn nanos(&self, i: usize) -> std::result::Result<Option<i128>, &'static str> {
        if self.nulls.as_ref().is_some_and(|n| n.is_null(i)) || self.epoch.is_null(i) {
            return Ok(None);
        }
        let fraction = match &self.fraction {
            Some(f) if f.is_null(i) => return Err("its fraction is NULL but its epoch is not"),
            Some(f) => i128::from(f.value(i)),
            None => 0,
        };
        Ok(Some(
            i128::from(self.epoch.value(i)) * self.epoch_nanos + fraction,
        ))
    }

    /// Whether a value lies outside what `i64` nanoseconds count.
    pub(crate) fn beyond_nanoseconds(&self) -> bool {
        (0..self.len()).any(|i| matches!(self.nanos(i), Ok(Some(n)) if i64::try_from(n).is_err()))
    }
}

/// `raw`, a timestamp column of `target`, in the target's unit and zone.
pub(crate) fn convert(
    target: &Target,
    raw: &ArrayRef,
    zone: Zone,
    scale: u8,
    first_row: u64,
) -> Result<ArrayRef> {
    let reader = Reader::new(target, raw, zone, scale)?;
    let mut values = Vec::with_capacity(reader.len());
    for i in 0..reader.len() {
        let row = first_row + i as u64;
        let nanos = reader
            .nanos(i)
            .map_err(|why| target.value_error(row, why))?;
        values.push(nanos.map(|n| in_unit(target, n, row)).transpose()?);
    }
    Ok(build(target, values))
}

/// A timestamp array of the target's unit and zone holding `values`.
pub(crate) fn build(target: &Target, values: Vec<Option<i64>>) -> ArrayRef {
    let zone = match &target.data_type {
        DataType::Timestamp(_, zone) => zone.clone(),
        _ => None,
    };
    match target.unit() {
        TimeUnit::Microsecond => {
            Arc::new(TimestampMicrosecondArray::from(values).with_timezone_opt(zone))
        }
        _ => Arc::new(TimestampNanosecondArray::from(values).with_timezone_opt(zone)),
    }
}

/// `nanos` in the target's unit, or the error for result row `row` when it does not fit.
pub(crate) fn in_unit(target: &Target, nanos: i128, row: u64) -> Result<i64> {
    let in_nanos = i64::try_from(nanos).ok();
    match target.unit() {
        TimeUnit::Microsecond => {
            if nanos % 1000 == 0
                && let Ok(micros) = i64::try_from(nanos / 1000)
            {
                return Ok(micros);
            }
            let why = if in_nanos.is_some() {
                "has digits below the microsecond, but other values of the column lie \
                 outside 1677-09-21..2262-04-11, so it is widened to microseconds"
            } else {
                "does not fit in nanoseconds or microseconds"
            };
            Err(target.value_error(row, format_args!("{} {why}", when(nanos))))
        }
        _ => in_nanos.ok_or_else(|| {
            target.value_error(
                row,
                format_args!(
                    "{} does not fit in nanoseconds (the column was not widened to microseconds)",
                    when(nanos)
                ),
            )
        }),
    }
}

/// `nanos` since the epoch as a UTC date and time with nine fractional digits.
pub(crate) fn when(nanos: i128) -> String {
    let seconds = i64::try_from(nanos.div_euclid(NANOS_PER_SECOND));
    let fraction = nanos.rem_euclid(NANOS_PER_SECOND) as u32;
    match seconds
        .ok()
        .and_then(|s| DateTime::from_timestamp(s, fraction))
    {
        Some(t) => t.format("%Y-%m-%d %H:%M:%S%.9f").to_string(),
        None => format!("{nanos} nanoseconds after 1970-01-01"),
    }
}
