//! One Arrow value into one value a target column holds, exactly, or a message saying
//! why it cannot be (never a rounded, truncated or NULLed value).
//!
//! The rules, per target:
//! - integers: whole numbers in range (booleans are 0 and 1; floats and decimals only
//!   when they have no fractional part);
//! - floats: integers and decimals only when the float reads back as the same number
//!   (`0.1` is fine, `2^53 + 1` is not); a 64-bit float into a 32-bit column only when
//!   the 32-bit float prints the same; NaN and infinities only where the column has them;
//! - decimals: no digit dropped below the column's scale, no more digits than its
//!   precision;
//! - text: within the column's length, character set and labels;
//! - dates, times, timestamps: within the column's range, at most its fractional second
//!   digits, and microsecond precision at most (no database here keeps nanoseconds).

use arrow::datatypes::TimeUnit;

use super::dec::{Dec, Misfit};
use super::source::Source;
use super::target::{Target, TextRules};

const MICROS_PER_DAY: i64 = 86_400_000_000;
const MILLIS_PER_DAY: i64 = 86_400_000;

/// A value ready for a driver, in the target column's terms.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value<'a> {
    Null,
    Bool(bool),
    Int(i64),
    /// An unsigned integer above `i64::MAX` (MySQL `BIGINT UNSIGNED`).
    UInt(u64),
    F32(f32),
    F64(f64),
    /// At the column's scale (or the value's own for an unconstrained column).
    Decimal(Dec),
    /// The same, for values that fit `i128`: `value × 10^-scale`, `scale` at least 0.
    SmallDecimal {
        value: i128,
        scale: u8,
    },
    Text(&'a str),
    Bytes(&'a [u8]),
    Uuid([u8; 16]),
    /// Days since 1970-01-01.
    Date(i32),
    /// Microseconds since midnight.
    Time(i64),
    /// Microseconds since 1970-01-01 UTC.
    Timestamp(i64),
    Interval {
        months: i32,
        days: i32,
        micros: i64,
    },
}

type Converted<'a> = Result<Value<'a>, String>;

/// Row `row` of `source` as a value of `target`.
pub(crate) fn convert<'a>(source: &'a Source, row: usize, target: &Target) -> Converted<'a> {
    if source.is_null(row) {
        return Ok(Value::Null);
    }
    match target {
        Target::Bool => match source {
            Source::Bool(a) => Ok(Value::Bool(a.value(row))),
            _ => Err(mismatch()),
        },
        Target::Int { min, max } => to_int(source, row, *min, *max),
        Target::Float {
            single,
            nan,
            infinity,
        } => to_float(source, row, *single, *nan, *infinity),
        Target::Decimal { precision, scale } => {
            if let Some(fitted) = small_decimal(source, row, *precision, *scale) {
                return fitted.map_err(|misfit| decimal_misfit(misfit, *precision, *scale));
            }
            let dec = number(source, row)?;
            dec.fit(*precision, *scale)
                .map(Value::Decimal)
                .map_err(|misfit| decimal_misfit(misfit, *precision, *scale))
        }
        Target::Approximate => approximate(source, row),
        Target::Text(rules) => {
            let text = source.text(row).ok_or_else(mismatch)?;
            check_text(text, rules)?;
            Ok(Value::Text(text))
        }
        Target::Json { .. } => {
            let text = source.text(row).ok_or_else(mismatch)?;
            if text.contains('\0') {
                return Err(NUL.into());
            }
            Ok(Value::Text(text))
        }
        Target::Uuid => uuid(source, row),
        Target::Binary { max_len, exact_len } => {
            let bytes = source.bytes(row).ok_or_else(mismatch)?;
            let len = bytes.len() as u64;
            if let Some(exact) = exact_len
                && len != *exact
            {
                return Err(format!(
                    "{len} bytes for a column of exactly {exact} bytes (it would pad them with \
                     zero bytes)"
                ));
            }
            if let Some(max) = max_len
                && len > *max
            {
                return Err(format!("{len} bytes, more than the column's {max}"));
            }
            Ok(Value::Bytes(bytes))
        }
        Target::Date { min, max } => {
            let days = days(source, row)?;
            if days < *min || days > *max {
                return Err("a date outside the column's range".into());
            }
            Ok(Value::Date(days))
        }
        Target::Time { digits } => {
            let Source::Time(a) = source else {
                return Err(mismatch());
            };
            let micros = whole_micros(i128::from(a.value(row)), "a time")?;
            check_digits(micros, *digits)?;
            Ok(Value::Time(micros))
        }
        Target::Timestamp { digits, min, max } => {
            let micros = match source {
                Source::Timestamp(a, unit) => timestamp_micros(a.value(row), *unit)?,
                Source::Date32(_) | Source::Date64(_) => {
                    i64::from(days(source, row)?) * MICROS_PER_DAY
                }
                _ => return Err(mismatch()),
            };
            if micros < *min || micros > *max {
                return Err("a timestamp outside the column's range".into());
            }
            check_digits(micros, *digits)?;
            Ok(Value::Timestamp(micros))
        }
        Target::Interval { digits } => {
            let (months, days, micros) = match source {
                Source::Interval(a) => {
                    let v = a.value(row);
                    let micros = whole_micros(i128::from(v.nanoseconds), "an interval")?;
                    (v.months, v.days, micros)
                }
                Source::Duration(a, unit) => (0, 0, timestamp_micros(a.value(row), *unit)?),
                _ => return Err(mismatch()),
            };
            check_digits(micros, *digits)?;
            Ok(Value::Interval {
                months,
                days,
                micros,
            })
        }
        Target::Array { .. } | Target::Any => Err(mismatch()),
    }
}

/// A source/target pair that `accepts` should have refused.
fn mismatch() -> String {
    "a value of a kind the column cannot hold".into()
}

const NUL: &str = "text with a NUL character (0x00), which PostgreSQL text cannot hold";

fn to_int<'a>(source: &Source, row: usize, min: i128, max: i128) -> Converted<'a> {
    let value: i128 = match source {
        Source::Bool(a) => i128::from(a.value(row)),
        Source::Int(a) => i128::from(a.value(row)),
        Source::UInt(a) => i128::from(a.value(row)),
        Source::F32(_) | Source::F64(_) => {
            let f = float(source, row).ok_or_else(mismatch)?;
            if !f.is_finite() {
                return Err("NaN or an infinity, which an integer column cannot hold".into());
            }
            if f.fract() != 0.0 {
                return Err(
                    "a float with a fractional part, which an integer column cannot \
                            hold"
                        .into(),
                );
            }
            if f.abs() >= 2f64.powi(127) {
                return Err(out_of_range(min, max));
            }
            f as i128
        }
        _ => number(source, row)?
            .to_i128()
            .map_err(|misfit| match misfit {
                Misfit::Fraction => {
                    "a decimal with a fractional part, which an integer column cannot hold".into()
                }
                Misfit::Precision => out_of_range(min, max),
            })?,
    };
    if value < min || value > max {
        return Err(out_of_range(min, max));
    }
    Ok(match i64::try_from(value) {
        Ok(v) => Value::Int(v),
        Err(_) => Value::UInt(u64::try_from(value).map_err(|_| out_of_range(min, max))?),
    })
}

fn out_of_range(min: i128, max: i128) -> String {
    format!("a value out of the column's range ({min} to {max})")
}

/// A float source's value as `f64` (exact for `f32`).
fn float(source: &Source, row: usize) -> Option<f64> {
    match source {
        Source::F32(a) => Some(f64::from(a.value(row))),
        Source::F64(a) => Some(a.value(row)),
        _ => None,
    }
}

fn to_float<'a>(
    source: &Source,
    row: usize,
    single: bool,
    nan: bool,
    infinity: bool,
) -> Converted<'a> {
    let inexact = || {
        format!(
            "a value that a {} float cannot hold exactly",
            if single { "32-bit" } else { "64-bit" }
        )
    };
    let value = match source {
        Source::F32(a) => {
            let v = a.value(row);
            if single {
                Value::F32(v)
            } else {
                Value::F64(f64::from(v))
            }
        }
        Source::F64(a) => {
            let v = a.value(row);
            if !single {
                Value::F64(v)
            } else {
                let narrow = v as f32;
                let same = f64::from(narrow) == v
                    || v.is_nan()
                    || (narrow.is_finite() && format!("{narrow}") == format!("{v}"));
                if !same {
                    return Err(inexact());
                }
                Value::F32(narrow)
            }
        }
        Source::Int(a) => int_to_float(i128::from(a.value(row)), single).ok_or_else(inexact)?,
        Source::UInt(a) => int_to_float(i128::from(a.value(row)), single).ok_or_else(inexact)?,
        _ => {
            let dec = number(source, row)?;
            if single {
                Value::F32(dec.to_f32_exactly().ok_or_else(inexact)?)
            } else {
                Value::F64(dec.to_f64_exactly().ok_or_else(inexact)?)
            }
        }
    };
    let (is_nan, is_infinite) = match value {
        Value::F32(v) => (v.is_nan(), v.is_infinite()),
        Value::F64(v) => (v.is_nan(), v.is_infinite()),
        _ => (false, false),
    };
    if is_nan && !nan {
        return Err("NaN, which the column cannot hold".into());
    }
    if is_infinite && !infinity {
        return Err("an infinity, which the column cannot hold".into());
    }
    Ok(value)
}

/// An integer as a float, when the float is exactly that integer.
fn int_to_float<'a>(value: i128, single: bool) -> Option<Value<'a>> {
    if single {
        let f = value as f32;
        (f.is_finite() && f as i128 == value).then_some(Value::F32(f))
    } else {
        let f = value as f64;
        (f.is_finite() && f as i128 == value).then_some(Value::F64(f))
    }
}

/// A numeric source's value as an exact decimal.
fn number(source: &Source, row: usize) -> Result<Dec, String> {
    match source {
        Source::Int(a) => Ok(Dec::from_unscaled(&a.value(row).to_string(), 0)),
        Source::UInt(a) => Ok(Dec::from_unscaled(&a.value(row).to_string(), 0)),
        Source::F32(a) => Dec::from_f32(a.value(row))
            .ok_or_else(|| "NaN or an infinity, which a decimal column cannot hold".into()),
        Source::F64(a) => Dec::from_f64(a.value(row))
            .ok_or_else(|| "NaN or an infinity, which a decimal column cannot hold".into()),
        Source::Dec128(a, scale) => Ok(Dec::from_unscaled(
            &a.value(row).to_string(),
            i32::from(*scale),
        )),
        Source::Dec256(a, scale) => Ok(Dec::from_unscaled(
            &a.value(row).to_string(),
            i32::from(*scale),
        )),
        _ => Err(mismatch()),
    }
}

/// [`Dec::fit`] in `i128` arithmetic, for integers and Decimal128 values at scales
/// from 0 to 38 (the common case, without allocating); `None` when the value needs the
/// general path.
fn small_decimal<'a>(
    source: &Source,
    row: usize,
    precision: Option<u32>,
    scale: Option<i32>,
) -> Option<Result<Value<'a>, Misfit>> {
    let (value, from) = match source {
        Source::Int(a) => (i128::from(a.value(row)), 0),
        Source::UInt(a) => (i128::from(a.value(row)), 0),
        Source::Dec128(a, s) if *s >= 0 => (a.value(row), i32::from(*s)),
        _ => return None,
    };
    let to = scale.unwrap_or(from);
    if !(0..=38).contains(&to) {
        return None;
    }
    let value = if to >= from {
        value.checked_mul(10i128.checked_pow(u32::try_from(to - from).ok()?)?)?
    } else {
        let divisor = 10i128.checked_pow(u32::try_from(from - to).ok()?)?;
        if value % divisor != 0 {
            return Some(Err(Misfit::Fraction));
        }
        value / divisor
    };
    if let Some(p) = precision
        && p <= 38
        && value.unsigned_abs() >= 10u128.pow(p)
    {
        return Some(Err(Misfit::Precision));
    }
    Some(Ok(Value::SmallDecimal {
        value,
        scale: u8::try_from(to).ok()?,
    }))
}

fn decimal_misfit(misfit: Misfit, precision: Option<u32>, scale: Option<i32>) -> String {
    match misfit {
        Misfit::Fraction if scale.is_some_and(|s| s < 0) => format!(
            "a value with non-zero digits below the column's negative scale ({})",
            scale.unwrap_or(0)
        ),
        Misfit::Fraction => format!(
            "a value with more fractional digits than the column keeps ({})",
            scale.unwrap_or(0)
        ),
        Misfit::Precision => format!(
            "a value with more digits than the column's precision ({})",
            precision.unwrap_or(0)
        ),
    }
}

/// SQLite's NUMERIC affinity: integers as 64-bit integers, anything else as a float
/// that must print back as the same number.
fn approximate<'a>(source: &Source, row: usize) -> Converted<'a> {
    let too_big = "an integer beyond SQLite's 64-bit signed integers";
    match source {
        Source::Bool(a) => Ok(Value::Int(i64::from(a.value(row)))),
        Source::Int(a) => Ok(Value::Int(a.value(row))),
        Source::UInt(a) => i64::try_from(a.value(row))
            .map(Value::Int)
            .map_err(|_| too_big.into()),
        Source::F32(_) | Source::F64(_) => {
            let f = float(source, row).ok_or_else(mismatch)?;
            if f.is_nan() {
                // SQLite stores NaN as NULL.
                return Err("NaN, which SQLite stores as NULL".into());
            }
            Ok(Value::F64(f))
        }
        _ => {
            let dec = number(source, row)?;
            if let Ok(whole) = dec.to_i128() {
                return i64::try_from(whole)
                    .map(Value::Int)
                    .map_err(|_| too_big.into());
            }
            dec.to_f64_exactly().map(Value::F64).ok_or_else(|| {
                "a decimal SQLite cannot store exactly (it keeps about 15 significant digits \
                 of a fraction); write it to a TEXT column as Utf8"
                    .into()
            })
        }
    }
}

fn check_text(text: &str, rules: &TextRules) -> Result<(), String> {
    if rules.no_nul && text.contains('\0') {
        return Err(NUL.into());
    }
    if let Some(max) = rules.max_chars {
        let counted = if rules.blank_padded {
            text.trim_end_matches(' ')
        } else {
            text
        };
        let chars = counted.chars().count() as u64;
        if chars > max {
            return Err(format!(
                "text of {chars} characters, longer than the column's {max}"
            ));
        }
    }
    if let Some(max) = rules.max_bytes {
        let bytes = match rules.charset {
            super::target::Charset::Latin1 | super::target::Charset::Ascii => text.chars().count(),
            _ => text.len(),
        } as u64;
        if bytes > max {
            return Err(format!(
                "text of {bytes} bytes, longer than the column's {max}"
            ));
        }
    }
    if let Some(c) = text.chars().find(|c| !rules.charset.holds(*c)) {
        return Err(format!(
            "a character (U+{:04X}) the column's character set {} cannot store",
            u32::from(c),
            rules.charset.name()
        ));
    }
    if let Some(labels) = &rules.labels
        && !labels.iter().any(|l| l == text)
    {
        return Err("text that is not one of the column's ENUM labels".into());
    }
    Ok(())
}

fn uuid<'a>(source: &Source, row: usize) -> Converted<'a> {
    if let Some(text) = source.text(row) {
        return uuid::Uuid::parse_str(text)
            .map(|u| Value::Uuid(*u.as_bytes()))
            .map_err(|_| "text that is not a UUID".into());
    }
    let bytes = source.bytes(row).ok_or_else(mismatch)?;
    <[u8; 16]>::try_from(bytes)
        .map(Value::Uuid)
        .map_err(|_| format!("{} bytes where a UUID has 16", bytes.len()))
}

/// A date source's value in days since 1970-01-01.
fn days(source: &Source, row: usize) -> Result<i32, String> {
    match source {
        Source::Date32(a) => Ok(a.value(row)),
        Source::Date64(a) => {
            let millis = a.value(row);
            if millis.rem_euclid(MILLIS_PER_DAY) != 0 {
                return Err("a Date64 value that is not a whole day".into());
            }
            i32::try_from(millis.div_euclid(MILLIS_PER_DAY))
                .map_err(|_| "a date outside the column's range".into())
        }
        _ => Err(mismatch()),
    }
}

/// Nanoseconds as whole microseconds; `what` names the value with its article
/// ("an interval").
fn whole_micros(nanos: i128, what: &str) -> Result<i64, String> {
    if nanos.rem_euclid(1000) != 0 {
        return Err(format!(
            "{what} with nanoseconds; the database keeps microseconds (cast the column to \
             microseconds first if dropping them is fine)"
        ));
    }
    i64::try_from(nanos.div_euclid(1000)).map_err(|_| format!("{what} out of range"))
}

/// A timestamp or duration in `unit` as microseconds.
fn timestamp_micros(value: i64, unit: TimeUnit) -> Result<i64, String> {
    let overflow = || "a timestamp outside the column's range".to_owned();
    match unit {
        TimeUnit::Second => value.checked_mul(1_000_000).ok_or_else(overflow),
        TimeUnit::Millisecond => value.checked_mul(1000).ok_or_else(overflow),
        TimeUnit::Microsecond => Ok(value),
        TimeUnit::Nanosecond => whole_micros(i128::from(value), "a timestamp"),
    }
}

/// Refuses fractional seconds beyond `digits` digits.
fn check_digits(micros: i64, digits: u8) -> Result<(), String> {
    if digits >= 6 {
        return Ok(());
    }
    let unit = 10i64.pow(6 - u32::from(digits));
    if micros.rem_euclid(unit) != 0 {
        return Err(format!(
            "a value with more fractional second digits than the column keeps ({digits})"
        ));
    }
    Ok(())
}

/// Whether converting values of this source for this target can fail (anything but a
/// same-kind copy into an unconstrained column): those columns are checked in full
/// before PostgreSQL's COPY starts, so that no error interrupts the stream.
pub(crate) fn can_fail(source: &Source, target: &Target) -> bool {
    match (source, target) {
        (Source::Null, _) | (Source::Bool(_), Target::Bool) => false,
        (Source::Int(_), Target::Int { min, max }) => {
            *min > i128::from(i64::MIN) || *max < i128::from(i64::MAX)
        }
        (
            Source::F64(_),
            Target::Float {
                single,
                nan,
                infinity,
            },
        ) => *single || !*nan || !*infinity,
        (Source::F32(_), Target::Float { nan, infinity, .. }) => !*nan || !*infinity,
        (
            Source::Bin(_) | Source::LargeBin(_) | Source::BinView(_),
            Target::Binary {
                max_len: None,
                exact_len: None,
            },
        ) => false,
        (Source::List { values, .. }, Target::Array { element, .. }) => can_fail(values, element),
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{
        ArrayRef, Decimal128Array, Float64Array, Int64Array, StringArray, Time64NanosecondArray,
        TimestampMicrosecondArray, TimestampNanosecondArray,
    };

    use super::*;

    #[allow(clippy::needless_pass_by_value)]
    fn source(array: ArrayRef) -> Source {
        Source::new(&array).unwrap()
    }

    #[test]
    fn integers() {
        let s = source(Arc::new(Int64Array::from(vec![Some(300), None, Some(-5)])));
        let small = Target::Int {
            min: -128,
            max: 127,
        };
        assert_eq!(
            convert(&s, 0, &small).unwrap_err(),
            "a value out of the column's range (-128 to 127)"
        );
        assert_eq!(convert(&s, 1, &small), Ok(Value::Null));
        assert_eq!(convert(&s, 2, &small), Ok(Value::Int(-5)));
        let f = source(Arc::new(Float64Array::from(vec![2.0, 2.5])));
        assert_eq!(convert(&f, 0, &small), Ok(Value::Int(2)));
        assert!(
            convert(&f, 1, &small)
                .unwrap_err()
                .contains("fractional part")
        );
        let d = source(Arc::new(
            Decimal128Array::from(vec![1200, 1250])
                .with_precision_and_scale(10, 2)
                .unwrap(),
        ));
        assert_eq!(convert(&d, 0, &small), Ok(Value::Int(12)));
        assert!(
            convert(&d, 1, &small)
                .unwrap_err()
                .contains("fractional part")
        );
    }

    #[test]
    fn decimals_are_never_rounded() {
        let d = source(Arc::new(
            Decimal128Array::from(vec![125, -5, 99_999])
                .with_precision_and_scale(10, 2)
                .unwrap(),
        ));
        let column = Target::Decimal {
            precision: Some(4),
            scale: Some(1),
        };
        assert_eq!(
            convert(&d, 0, &column).unwrap_err(),
            "a value with more fractional digits than the column keeps (1)"
        );
        assert!(convert(&d, 1, &column).is_err());
        let wide = Target::Decimal {
            precision: Some(5),
            scale: Some(3),
        };
        assert_eq!(
            convert(&d, 1, &wide),
            Ok(Value::SmallDecimal {
                value: -50,
                scale: 3
            })
        );
        assert_eq!(
            convert(&d, 2, &wide).unwrap_err(),
            "a value with more digits than the column's precision (5)"
        );
        let free = Target::Decimal {
            precision: None,
            scale: None,
        };
        let i = source(Arc::new(Int64Array::from(vec![i64::MAX])));
        assert_eq!(
            convert(&i, 0, &free),
            Ok(Value::SmallDecimal {
                value: i128::from(i64::MAX),
                scale: 0
            })
        );
        // Both paths agree on every outcome.
        let values = [0i128, 1, -1, 125, -125, 99_999, 100_000, 1_000_000_000_000];
        let d = source(Arc::new(
            Decimal128Array::from(values.to_vec())
                .with_precision_and_scale(20, 2)
                .unwrap(),
        ));
        for (precision, scale) in [
            (Some(5), Some(2)),
            (Some(4), Some(1)),
            (Some(10), Some(4)),
            (None, None),
            (Some(3), Some(0)),
        ] {
            for (row, value) in values.iter().enumerate() {
                let slow = Dec::from_unscaled(&value.to_string(), 2).fit(precision, scale);
                let fast = small_decimal(&d, row, precision, scale).unwrap();
                match (slow, fast) {
                    (Ok(slow), Ok(Value::SmallDecimal { value, scale })) => {
                        assert_eq!(
                            slow,
                            Dec::from_unscaled(&value.to_string(), i32::from(scale))
                        );
                    }
                    (Err(a), Err(b)) => assert_eq!(a, b),
                    other => panic!("{value} into {precision:?},{scale:?}: {other:?}"),
                }
            }
        }
    }

    #[test]
    fn floats_must_read_back_the_same() {
        let double = Target::Float {
            single: false,
            nan: false,
            infinity: false,
        };
        let i = source(Arc::new(Int64Array::from(vec![1 << 53, (1 << 53) + 1])));
        assert_eq!(
            convert(&i, 0, &double),
            Ok(Value::F64(9_007_199_254_740_992.0))
        );
        assert!(convert(&i, 1, &double).is_err());
        let single = Target::Float {
            single: true,
            nan: true,
            infinity: true,
        };
        let f = source(Arc::new(Float64Array::from(vec![
            0.1,
            0.123_456_789_012,
            f64::NAN,
        ])));
        assert_eq!(convert(&f, 0, &single), Ok(Value::F32(0.1)));
        assert!(convert(&f, 1, &single).is_err());
        assert!(matches!(convert(&f, 2, &single), Ok(Value::F32(v)) if v.is_nan()));
        assert_eq!(
            convert(&f, 2, &double).unwrap_err(),
            "NaN, which the column cannot hold"
        );
    }

    #[test]
    fn text_rules() {
        let s = source(Arc::new(StringArray::from(vec!["héllo", "a\0b", "ab   "])));
        let short = Target::Text(TextRules {
            max_chars: Some(3),
            ..TextRules::default()
        });
        assert_eq!(
            convert(&s, 0, &short).unwrap_err(),
            "text of 5 characters, longer than the column's 3"
        );
        let pg = Target::Text(TextRules {
            no_nul: true,
            ..TextRules::default()
        });
        assert!(convert(&s, 1, &pg).unwrap_err().contains("0x00"));
        let padded = Target::Text(TextRules {
            max_chars: Some(2),
            blank_padded: true,
            ..TextRules::default()
        });
        assert_eq!(convert(&s, 2, &padded), Ok(Value::Text("ab   ")));
    }

    #[test]
    fn times_keep_microseconds_and_column_digits() {
        let t = source(Arc::new(Time64NanosecondArray::from(vec![
            1_500_000_000,
            1_000_000_001,
        ])));
        assert_eq!(
            convert(&t, 0, &Target::Time { digits: 1 }),
            Ok(Value::Time(1_500_000))
        );
        assert_eq!(
            convert(&t, 0, &Target::Time { digits: 0 }).unwrap_err(),
            "a value with more fractional second digits than the column keeps (0)"
        );
        assert!(
            convert(&t, 1, &Target::Time { digits: 6 })
                .unwrap_err()
                .contains("nanoseconds")
        );
        let ts = source(Arc::new(TimestampNanosecondArray::from(vec![-1_000])));
        let mysql = Target::four_digit_timestamps(6);
        assert_eq!(convert(&ts, 0, &mysql), Ok(Value::Timestamp(-1)));
        // 10000-01-01: a fifth year digit.
        let far = source(Arc::new(TimestampMicrosecondArray::from(vec![
            253_402_300_800_000_000,
            253_402_300_799_999_999,
        ])));
        assert_eq!(
            convert(&far, 0, &mysql).unwrap_err(),
            "a timestamp outside the column's range"
        );
        assert!(convert(&far, 1, &mysql).is_ok());
    }
}
