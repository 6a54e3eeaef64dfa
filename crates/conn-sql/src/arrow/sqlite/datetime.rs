//! SQLite's dates and times to Arrow units.
//!
//! SQLite has no date types: a column declared DATE, TIME or DATETIME holds text (as
//! `date()`, `time()` and `datetime()` write it), or for DATETIME also unix seconds
//! (INTEGER) or a Julian day (REAL). conn accepts exactly what sqlx's chrono decoders
//! accept (conn read SQLite through them before, and its writes produce those forms):
//! the common forms are parsed by hand (a fixed layout, no allocation), anything else
//! by chrono with sqlx's list of formats.
//!
//! Arrow's columns hold microseconds: a text with a finer fraction is an error, never
//! truncated. A Julian day (REAL) is a float whose precision at today's dates is about
//! 40 microseconds, so its sub-microsecond part is noise and is dropped.

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, Offset, TimeZone, Utc};

use crate::arrow::generic::{date_to_days, datetime_to_micros, time_to_micros};

/// The layouts sqlx tries, in its order, after RFC 3339.
const DATETIME_FORMATS: &[&str] = &[
    "%F %T%.f",
    "%F %R",
    "%F %RZ",
    "%F %R%:z",
    "%F %T%.fZ",
    "%F %T%.f%:z",
    "%FT%R",
    "%FT%RZ",
    "%FT%R%:z",
    "%FT%T%.f",
    "%FT%T%.fZ",
    "%FT%T%.f%:z",
];

/// The time layouts sqlx tries, in its order.
const TIME_FORMATS: &[&str] = &["%T.f", "%T%.f", "%R", "%RZ", "%T%.fZ", "%R%:z", "%T%.f%:z"];

/// Days since 1970-01-01 of a `YYYY-MM-DD` text.
pub(crate) fn date_days(text: &str) -> Result<i32, String> {
    let date = match fixed_date(text.as_bytes()) {
        Some(date) => date,
        None => NaiveDate::parse_from_str(text, "%F")
            .map_err(|_| format!("holds the TEXT {text:?}, which is not a date (YYYY-MM-DD)"))?,
    };
    Ok(date_to_days(date))
}

/// Microseconds since midnight of a `HH:MM[:SS[.fff]]` text (an offset is ignored, as
/// sqlx does).
pub(crate) fn time_micros(text: &str) -> Result<i64, String> {
    let time = match fixed_time(text.as_bytes()) {
        Some(time) => time,
        None => TIME_FORMATS
            .iter()
            .find_map(|format| NaiveTime::parse_from_str(text, format).ok())
            .ok_or_else(|| {
                format!("holds the TEXT {text:?}, which is not a time (HH:MM:SS.ffffff)")
            })?,
    };
    whole_micros(time.nanosecond_part(), text)?;
    Ok(time_to_micros(time))
}

/// Microseconds since the epoch of a date and time text; one with an offset is that
/// instant in UTC, one without is taken as written.
pub(crate) fn datetime_text_micros(text: &str) -> Result<i64, String> {
    let datetime = match fixed_datetime(text.as_bytes()) {
        Some(datetime) => datetime,
        None => chrono_datetime(text)
            .ok_or_else(|| {
                format!(
                    "holds the TEXT {text:?}, which is not a date and time \
                     (YYYY-MM-DD HH:MM:SS.ffffff, optionally with an offset)"
                )
            })?
            .naive_utc(),
    };
    whole_micros(datetime.time().nanosecond_part(), text)?;
    Ok(datetime_to_micros(datetime))
}

/// Microseconds since the epoch of unix seconds (an INTEGER in a DATETIME column).
pub(crate) fn datetime_seconds_micros(seconds: i64) -> Result<i64, String> {
    DateTime::from_timestamp(seconds, 0)
        .map(|at| at.timestamp_micros())
        .ok_or_else(|| {
            format!("holds the INTEGER {seconds}, which is out of range for unix seconds")
        })
}

/// Microseconds since the epoch of a Julian day (a REAL in a DATETIME column), at the
/// millisecond SQLite gives for it (`strftime('%f')`): a day as a float is precise to
/// about 40 µs today, so `julianday('2024-01-01 10:00:00')` is 13.6 µs short of ten
/// o'clock and SQLite rounds it to the millisecond (sqlx truncated instead, which also
/// put a time before 1970 up to a second late).
pub(crate) fn datetime_julian_micros(day: f64) -> Result<i64, String> {
    /// 1970-01-01 00:00:00 as milliseconds of the Julian day count.
    const UNIX_EPOCH_JULIAN_MS: i64 = 210_866_760_000_000;
    let out_of_range = || {
        format!(
            "holds the REAL {day}, which is out of range for a Julian day (SQLite's run \
             from 0 to 5373484.5)"
        )
    };
    // SQLite's own range (its datetime() gives NULL outside): checked before the
    // conversion, which saturates.
    if !(0.0..5_373_484.5).contains(&day) {
        return Err(out_of_range());
    }
    let ms = (day * 86_400_000.0 + 0.5).floor();
    #[allow(clippy::cast_possible_truncation)]
    let ms = ms as i64;
    let micros = (ms - UNIX_EPOCH_JULIAN_MS) * 1_000;
    DateTime::from_timestamp_micros(micros)
        .map(|at| at.timestamp_micros())
        .ok_or_else(out_of_range)
}

/// sqlx's text decoding: RFC 3339, then its layouts with and without an offset.
fn chrono_datetime(text: &str) -> Option<DateTime<FixedOffset>> {
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Some(at);
    }
    DATETIME_FORMATS.iter().find_map(|format| {
        DateTime::parse_from_str(text, format).ok().or_else(|| {
            NaiveDateTime::parse_from_str(text, format)
                .ok()
                .map(|naive| Utc.fix().from_utc_datetime(&naive))
        })
    })
}

/// An error for a fraction finer than a microsecond: a digit past the sixth that is
/// not 0 (chrono keeps nine digits and skips the rest, so the text is checked too).
fn whole_micros(nanos: u32, text: &str) -> Result<(), String> {
    let fraction = text.split_once('.').map_or("", |(_, after)| {
        after.trim_start_matches(|c: char| !c.is_ascii_digit())
    });
    let finer = fraction
        .bytes()
        .take_while(u8::is_ascii_digit)
        .skip(6)
        .any(|d| d != b'0');
    if nanos.is_multiple_of(1_000) && !finer {
        Ok(())
    } else {
        Err(format!(
            "holds the TEXT {text:?}, whose fraction of a second is finer than the \
             microseconds an Arrow column holds; cast the column to TEXT in the query"
        ))
    }
}

/// The fraction-of-a-second part of a time, leap seconds aside.
trait NanosecondPart {
    fn nanosecond_part(&self) -> u32;
}

impl NanosecondPart for NaiveTime {
    fn nanosecond_part(&self) -> u32 {
        chrono::Timelike::nanosecond(self) % 1_000_000_000
    }
}

/// `n` ASCII digits as a number.
fn digits(bytes: &[u8]) -> Option<u32> {
    bytes.iter().try_fold(0u32, |n, b| {
        b.is_ascii_digit().then(|| n * 10 + u32::from(b - b'0'))
    })
}

/// `YYYY-MM-DD` exactly.
fn fixed_date(bytes: &[u8]) -> Option<NaiveDate> {
    let [y0, y1, y2, y3, b'-', m0, m1, b'-', d0, d1] = *bytes else {
        return None;
    };
    let year = digits(&[y0, y1, y2, y3])?;
    NaiveDate::from_ymd_opt(
        i32::try_from(year).ok()?,
        digits(&[m0, m1])?,
        digits(&[d0, d1])?,
    )
}

/// `HH:MM:SS` with an optional `.` and 1 to 9 digits; seconds up to 59 (a leap second
/// goes through chrono).
fn fixed_time(bytes: &[u8]) -> Option<NaiveTime> {
    let (clock, fraction) = bytes.split_at_checked(8)?;
    let [h0, h1, b':', m0, m1, b':', s0, s1] = *clock else {
        return None;
    };
    let nanos = match fraction {
        [] => 0,
        [b'.', rest @ ..] if (1..=9).contains(&rest.len()) => {
            digits(rest)? * 10u32.pow(9 - u32::try_from(rest.len()).ok()?)
        }
        _ => return None,
    };
    NaiveTime::from_hms_nano_opt(
        digits(&[h0, h1])?,
        digits(&[m0, m1])?,
        digits(&[s0, s1])?,
        nanos,
    )
}

/// `YYYY-MM-DD HH:MM:SS[.fff]` or with `T`, without an offset.
fn fixed_datetime(bytes: &[u8]) -> Option<NaiveDateTime> {
    let (date, rest) = bytes.split_at_checked(10)?;
    let (separator, time) = rest.split_first()?;
    if !matches!(separator, b' ' | b'T') {
        return None;
    }
    Some(fixed_date(date)?.and_time(fixed_time(time)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What sqlx's decoders (the slow path) give, for comparison with the fast one.
    fn slow_datetime(text: &str) -> Option<i64> {
        chrono_datetime(text).map(|at| datetime_to_micros(at.naive_utc()))
    }

    #[test]
    fn the_fixed_layouts_agree_with_chrono() {
        for text in [
            "2024-01-01 00:00:00",
            "2024-02-29 23:59:59.5",
            "1969-12-31 23:59:59.999999",
            "0001-01-01T00:00:00.000001",
            "9999-12-31 23:59:59.123456000",
            "2024-06-30T12:34:56.1",
        ] {
            assert!(fixed_datetime(text.as_bytes()).is_some(), "{text}");
            assert_eq!(
                datetime_text_micros(text).ok(),
                slow_datetime(text),
                "{text}"
            );
        }
        for text in ["2024-01-01", "1970-01-01", "0000-03-01", "9999-12-31"] {
            let slow = NaiveDate::parse_from_str(text, "%F").map(date_to_days).ok();
            assert_eq!(date_days(text).ok(), slow, "{text}");
        }
        for text in ["00:00:00", "23:59:59.999999", "12:00:00.25"] {
            let slow = NaiveTime::parse_from_str(text, "%T%.f")
                .map(time_to_micros)
                .ok();
            assert_eq!(time_micros(text).ok(), slow, "{text}");
        }
    }

    #[test]
    fn other_layouts_go_through_chrono() {
        // With an offset: that instant in UTC.
        assert_eq!(
            datetime_text_micros("2024-01-01 02:00:00+02:00"),
            datetime_text_micros("2024-01-01 00:00:00")
        );
        assert_eq!(
            datetime_text_micros("2024-01-01T00:00:00Z"),
            datetime_text_micros("2024-01-01 00:00")
        );
        assert_eq!(date_days("2024-1-2"), date_days("2024-01-02"));
        assert_eq!(time_micros("10:30"), Ok(37_800_000_000));
        assert_eq!(time_micros("10:30:00+05:00"), Ok(37_800_000_000));
        assert!(fixed_datetime(b"2024-02-30 00:00:00").is_none());
        assert!(datetime_text_micros("2024-02-30 00:00:00").is_err());
    }

    #[test]
    fn bad_values_and_finer_fractions_are_errors_naming_the_value() {
        assert_eq!(
            datetime_text_micros("soon").unwrap_err(),
            "holds the TEXT \"soon\", which is not a date and time (YYYY-MM-DD \
             HH:MM:SS.ffffff, optionally with an offset)"
        );
        assert_eq!(
            date_days("2024-13-01").unwrap_err(),
            "holds the TEXT \"2024-13-01\", which is not a date (YYYY-MM-DD)"
        );
        assert!(time_micros("25:00:00").unwrap_err().contains("not a time"));
        let finer = datetime_text_micros("2024-01-01 00:00:00.0000001").unwrap_err();
        assert!(finer.contains("finer than the microseconds"), "{finer}");
        assert!(time_micros("00:00:00.1234567").is_err());
        // Past nine digits chrono skips the rest: still an error, never truncated.
        assert!(datetime_text_micros("2024-01-01 00:00:00.1234560009").is_err());
        assert!(time_micros("00:00:00.1234560009").is_err());
        assert_eq!(
            datetime_text_micros("1970-01-01 00:00:00.1234560000"),
            Ok(123_456)
        );
    }

    #[test]
    fn numbers_in_datetime_columns() {
        assert_eq!(datetime_seconds_micros(86_400), Ok(86_400_000_000));
        assert!(
            datetime_seconds_micros(i64::MAX)
                .unwrap_err()
                .contains("out of range")
        );
        assert_eq!(datetime_julian_micros(2_440_588.5), Ok(86_400_000_000));
        // Before 1970: half a second before the epoch, not half a second after.
        let half_before = 2_440_587.5 - 0.5 / 86_400.0;
        assert_eq!(datetime_julian_micros(half_before), Ok(-500_000));
        // As SQLite reads julianday('2024-01-01 10:00:00') back (strftime('%f')).
        assert_eq!(
            datetime_julian_micros(2_460_310.916_666_666_5),
            datetime_text_micros("2024-01-01 10:00:00")
        );
        assert!(datetime_julian_micros(f64::NAN).is_err());
        assert!(datetime_julian_micros(1e300).is_err());
        assert!(
            datetime_julian_micros(-1.0)
                .unwrap_err()
                .contains("0 to 5373484.5")
        );
        assert!(datetime_julian_micros(6e6).is_err());
    }
}
