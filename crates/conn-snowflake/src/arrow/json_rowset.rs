//! JSON rowsets (`queryResultFormat: "json"`, which Snowflake sends for DML and SHOW):
//! rows of optional strings, read per column into the same Arrow the Arrow path gives.
//!
//! The text forms (the Python connector's `converter.py`, gosnowflake's `stringToValue`):
//! FIXED as decimal text; REAL as float text (`inf`, `-inf`, `NaN` included); BOOLEAN as
//! `1`/`0` or `true`/`false`; DATE as days since 1970-01-01; TIME as seconds since
//! midnight with a fraction; TIMESTAMP_NTZ/LTZ as signed seconds since the epoch with a
//! fraction (`-0.000000009` is 9 ns before it, as the Python connector reads it);
//! TIMESTAMP_TZ as those seconds, a space and the offset in minutes plus 1440; BINARY as
//! hex; VARIANT, OBJECT, ARRAY and unknown types as their text.

use std::sync::Arc;

use arrow::array::{
    ArrayRef, BinaryArray, BooleanArray, Date32Array, Decimal128Array, Float64Array, Int64Array,
    StringArray, Time64NanosecondArray,
};
use arrow::datatypes::DataType;
use conn_core::{Error, Result};

use super::decimal::{self, ParseError};
use super::kind::{Kind, Zone};
use super::target::Target;
use super::{raw, time, timestamp};

/// Column `index` of `rows` (result rows from `first_row` on) as the target's Arrow type.
pub(crate) fn column(
    target: &Target,
    rows: &[Vec<Option<String>>],
    index: usize,
    first_row: u64,
) -> Result<ArrayRef> {
    let texts = rows
        .iter()
        .map(|row| row.get(index).and_then(Option::as_deref));
    let array: ArrayRef = match (&target.kind, &target.data_type) {
        (Kind::Fixed { .. }, DataType::Int64) => {
            let values = parse_each(target, texts, first_row, |t| {
                let value = decimal::parse(t, 0).map_err(|e| number_error(t, e, 0))?;
                i64::try_from(value).map_err(|_| format!("{t} does not fit in Int64"))
            })?;
            Arc::new(Int64Array::from(values))
        }
        (Kind::Fixed { precision, scale }, _) => {
            let (precision, scale) = (*precision, *scale);
            let digits = scale.unsigned_abs();
            let values = parse_each(target, texts, first_row, |t| {
                let value = decimal::parse(t, digits).map_err(|e| number_error(t, e, digits))?;
                if decimal::fits_precision(value, precision) {
                    Ok(value)
                } else {
                    Err(format!("{t} does not fit in {precision} digits"))
                }
            })?;
            let array = Decimal128Array::from(values)
                .with_precision_and_scale(precision, scale)
                .map_err(|e| Error::Data(format!("column \"{}\": {e}", target.name)))?;
            Arc::new(array)
        }
        (Kind::Real, _) => Arc::new(Float64Array::from(parse_each(
            target,
            texts,
            first_row,
            |t| {
                t.parse::<f64>()
                    .map_err(|_| format!("{t:?} is not a number"))
            },
        )?)),
        (Kind::Boolean, _) => Arc::new(BooleanArray::from(parse_each(
            target, texts, first_row, boolean,
        )?)),
        (Kind::Date, _) => Arc::new(Date32Array::from(parse_each(
            target,
            texts,
            first_row,
            |t| {
                let days = decimal::parse(t, 0).map_err(|e| number_error(t, e, 0))?;
                i32::try_from(days)
                    .map_err(|_| format!("{t} days after 1970-01-01 is beyond Date32"))
            },
        )?)),
        (Kind::Binary { .. }, _) => {
            let values = parse_each(target, texts, first_row, hex)?;
            Arc::new(BinaryArray::from_iter(values))
        }
        (Kind::Time { .. }, _) => {
            let mut values = Vec::with_capacity(rows.len());
            for (i, text) in texts.enumerate() {
                let row = first_row + i as u64;
                values.push(match text {
                    None => None,
                    Some(t) => {
                        let nanos = seconds(t).map_err(|why| target.value_error(row, why))?;
                        Some(time::of_day(target, nanos, row)?)
                    }
                });
            }
            Arc::new(Time64NanosecondArray::from(values))
        }
        (Kind::Timestamp { zone, .. }, _) => {
            let mut values = Vec::with_capacity(rows.len());
            for (i, text) in texts.enumerate() {
                let row = first_row + i as u64;
                values.push(match text {
                    None => None,
                    Some(t) => {
                        let nanos = timestamp_nanos(t, *zone)
                            .map_err(|why| target.value_error(row, why))?;
                        Some(timestamp::in_unit(target, nanos, row)?)
                    }
                });
            }
            timestamp::build(target, values)
        }
        (Kind::Text { .. } | Kind::Json(_) | Kind::Other(_), _) => {
            let strings: ArrayRef = Arc::new(texts.collect::<StringArray>());
            if target.data_type == DataType::Utf8 {
                strings
            } else {
                // An unknown type an Arrow batch of the same result settled otherwise.
                raw::cast_strict(target, &strings, &target.data_type)?
            }
        }
    };
    Ok(array)
}

/// Each text of `texts` (NULL stays NULL) read by `parse`; the first that fails gives the
/// error, naming its row.
fn parse_each<'a, T>(
    target: &Target,
    texts: impl Iterator<Item = Option<&'a str>>,
    first_row: u64,
    parse: impl Fn(&str) -> std::result::Result<T, String>,
) -> Result<Vec<Option<T>>> {
    texts
        .enumerate()
        .map(|(i, text)| {
            text.map(|t| parse(t).map_err(|why| target.value_error(first_row + i as u64, why)))
                .transpose()
        })
        .collect()
}

/// Why the decimal text `text` cannot be read with `scale` digits after the point.
fn number_error(text: &str, error: ParseError, scale: u8) -> String {
    match error {
        ParseError::NotANumber => format!("{text:?} is not a number"),
        ParseError::TooManyFractionDigits => {
            format!("{text} has more than {scale} digits after the point")
        }
        ParseError::TooLarge => format!("{text} is too large"),
    }
}

/// BOOLEAN text: `1`/`0`, `true`/`false` (any case).
fn boolean(text: &str) -> std::result::Result<bool, String> {
    if text == "1" || text.eq_ignore_ascii_case("true") {
        Ok(true)
    } else if text == "0" || text.eq_ignore_ascii_case("false") {
        Ok(false)
    } else {
        Err(format!("{text:?} is not a BOOLEAN (1, 0, true or false)"))
    }
}

/// BINARY text: hex digits, two per byte.
fn hex(text: &str) -> std::result::Result<Vec<u8>, String> {
    let digit = |b: u8| char::from(b).to_digit(16);
    let bytes = text.as_bytes();
    if !bytes.len().is_multiple_of(2) {
        return Err(format!("{text:?} is not hex (an odd number of digits)"));
    }
    bytes
        .chunks_exact(2)
        .map(|pair| match (digit(pair[0]), digit(pair[1])) {
            (Some(high), Some(low)) => Ok((high * 16 + low) as u8),
            _ => Err(format!("{text:?} is not hex")),
        })
        .collect()
}

/// Seconds with a fraction of at most nine digits, as nanoseconds.
fn seconds(text: &str) -> std::result::Result<i128, String> {
    decimal::parse(text, 9).map_err(|e| match e {
        ParseError::TooManyFractionDigits => format!("{text} has digits below the nanosecond"),
        other => number_error(text, other, 9),
    })
}

/// A timestamp's text as nanoseconds since the epoch. A TIMESTAMP_TZ also carries its
/// offset (minutes plus 1440), which must be an integer but is not kept: the value is
/// the instant.
pub(crate) fn timestamp_nanos(text: &str, zone: Zone) -> std::result::Result<i128, String> {
    match (zone, text.split_once(' ')) {
        (Zone::Tz, Some((instant, offset))) => {
            offset.trim().parse::<i32>().map_err(|_| {
                format!("{text:?} is not a TIMESTAMP_TZ (its offset {offset:?} is not an integer)")
            })?;
            seconds(instant)
        }
        (Zone::Tz, None) => Err(format!(
            "{text:?} is not a TIMESTAMP_TZ (seconds, a space and an offset)"
        )),
        _ => seconds(text),
    }
}
