//! Timestamps: every raw form, NULLs, dates before 1970, and widening to microseconds.

use std::sync::Arc;

use arrow::array::{ArrayRef, Int32Array, Int64Array, StringArray};
use arrow::datatypes::{DataType, TimeUnit};
use chrono::NaiveDate;

use super::Converter;
use super::test_support::{column, error, i64s, one, parts, scaled_tz};

/// Microseconds since the epoch of a UTC date and time.
fn micros(ymd: (i32, u32, u32), hms: (u32, u32, u32), micro: u32) -> i64 {
    NaiveDate::from_ymd_opt(ymd.0, ymd.1, ymd.2)
        .unwrap()
        .and_hms_micro_opt(hms.0, hms.1, hms.2, micro)
        .unwrap()
        .and_utc()
        .timestamp_micros()
}

/// `{epoch, fraction}` of a time given in microseconds plus extra nanoseconds.
fn split(micros: i64, extra_nanos: i32) -> (i64, i32) {
    let epoch = micros.div_euclid(1_000_000);
    let fraction = i32::try_from(micros.rem_euclid(1_000_000) * 1000).unwrap() + extra_nanos;
    (epoch, fraction)
}

fn converter(kind: &str, scale: i64, zone: Option<&str>) -> Converter {
    Converter::new(&[column("TS", kind, Some(0), Some(scale))], zone).unwrap()
}

#[test]
fn scaled_integers_at_every_scale() {
    let cases: Vec<(i64, ArrayRef, Vec<Option<i64>>)> = vec![
        (
            0,
            Arc::new(Int64Array::from(vec![Some(-86_400), None, Some(0)])),
            vec![Some(-86_400_000_000_000), None, Some(0)],
        ),
        (
            3,
            Arc::new(Int64Array::from(vec![
                None,
                Some(-1500),
                Some(1_700_000_000_123),
            ])),
            vec![None, Some(-1_500_000_000), Some(1_700_000_000_123_000_000)],
        ),
        (
            6,
            Arc::new(Int32Array::from(vec![Some(-1), Some(7), None])),
            vec![Some(-1000), Some(7000), None],
        ),
        (
            9,
            Arc::new(Int64Array::from(vec![Some(i64::MIN), None, Some(i64::MAX)])),
            vec![Some(i64::MIN), None, Some(i64::MAX)],
        ),
    ];
    for (scale, raw, expected) in cases {
        let converter = converter("timestamp_ntz", scale, None);
        let batch = converter.arrow(&one(raw), 0).unwrap();
        assert_eq!(
            batch.schema().field(0).data_type(),
            &DataType::Timestamp(TimeUnit::Nanosecond, None)
        );
        assert_eq!(i64s(&batch), expected, "scale {scale}");
    }
}

#[test]
fn epoch_and_fraction_before_1970_add_up() {
    // 1969-12-31 23:59:59.5 is epoch -1 plus 0.5 s, as both drivers add the two.
    let before = micros((1969, 12, 31), (23, 59, 59), 500_000);
    let (epoch, fraction) = split(micros((1900, 6, 15), (1, 2, 3), 456_789), 123);
    let raw = parts(
        vec![Some(-1), Some(epoch), None, Some(0)],
        vec![Some(500_000_000), Some(fraction), None, Some(1)],
        None,
        None,
    );
    let batch = converter("timestamp_ntz", 9, None)
        .arrow(&one(raw), 0)
        .unwrap();
    assert_eq!(
        i64s(&batch),
        vec![
            Some(before * 1000),
            Some(micros((1900, 6, 15), (1, 2, 3), 456_789) * 1000 + 123),
            None,
            Some(1)
        ]
    );
}

#[test]
fn a_null_struct_or_a_null_epoch_is_null() {
    // fakesnow sends NULL as a valid struct with NULL children; Snowflake as a NULL struct.
    let raw = parts(
        vec![None, Some(1), Some(99), None],
        vec![None, Some(5), Some(0), None],
        None,
        Some(vec![true, true, false, false]),
    );
    let batch = converter("timestamp_ntz", 9, None)
        .arrow(&one(raw), 0)
        .unwrap();
    assert_eq!(i64s(&batch), vec![None, Some(1_000_000_005), None, None]);
}

#[test]
fn ltz_in_the_tz_form_as_fakesnow_sends_it() {
    let raw = parts(
        vec![Some(1_700_000_000), None, Some(-2)],
        vec![Some(1), None, Some(999_999_999)],
        Some(vec![Some(1440), None, Some(1440)]),
        None,
    );
    let converter = converter("timestamp_ltz", 9, Some("Etc/UTC"));
    let batch = converter.arrow(&one(raw), 0).unwrap();
    assert_eq!(
        batch.schema().field(0).data_type(),
        &DataType::Timestamp(TimeUnit::Nanosecond, Some(Arc::from("Etc/UTC")))
    );
    assert_eq!(
        i64s(&batch),
        vec![Some(1_700_000_000_000_000_001), None, Some(-1_000_000_001)]
    );
}

#[test]
fn ltz_without_a_session_zone_is_utc_and_a_zone_arrow_does_not_know_fails() {
    let converter = converter("timestamp_ltz", 9, None);
    assert_eq!(
        converter.schema().field(0).data_type(),
        &DataType::Timestamp(TimeUnit::Nanosecond, Some(Arc::from("UTC")))
    );
    let err = error(Converter::new(
        &[column("TS", "timestamp_ltz", None, Some(9))],
        Some("Mars/Olympus"),
    ));
    assert!(
        err.starts_with(
            "column \"TS\" (TIMESTAMP_LTZ(9)): the session's TIMEZONE is not a time zone Arrow knows"
        ),
        "{err}"
    );
    // The zone only matters to LTZ columns.
    Converter::new(
        &[column("TS", "timestamp_ntz", None, Some(9))],
        Some("Mars/Olympus"),
    )
    .unwrap();
}

#[test]
fn tz_in_both_forms_is_the_instant_in_utc() {
    // byteLength 8: epoch in 10^-scale seconds and the offset (minutes + 1440).
    let eight = scaled_tz(
        vec![Some(1_700_000_000_123), None, Some(-1)],
        vec![Some(1440 + 60), None, Some(1440 - 300)],
    );
    let converter3 = converter("timestamp_tz", 3, None);
    let batch = converter3.arrow(&one(eight), 0).unwrap();
    assert_eq!(
        batch.schema().field(0).data_type(),
        &DataType::Timestamp(TimeUnit::Nanosecond, Some(Arc::from("UTC")))
    );
    assert_eq!(
        i64s(&batch),
        vec![Some(1_700_000_000_123_000_000), None, Some(-1_000_000)]
    );
    // byteLength 16: seconds, nanoseconds and the offset; the offset does not move it.
    let sixteen = parts(
        vec![None, Some(1_700_000_000), Some(1_700_000_000)],
        vec![None, Some(123_456_789), Some(123_456_789)],
        Some(vec![None, Some(1440 + 330), Some(1440 - 720)]),
        None,
    );
    let batch = converter("timestamp_tz", 9, None)
        .arrow(&one(sixteen), 0)
        .unwrap();
    assert_eq!(
        i64s(&batch),
        vec![
            None,
            Some(1_700_000_000_123_456_789),
            Some(1_700_000_000_123_456_789)
        ]
    );
}

#[test]
fn years_1_and_9999_widen_to_microseconds() {
    let first = micros((1, 1, 1), (0, 0, 0), 1);
    let last = micros((9999, 12, 31), (23, 59, 59), 999_999);
    let ordinary = micros((2024, 2, 29), (12, 0, 0), 250_000);
    let (e1, f1) = split(first, 0);
    let (e2, f2) = split(last, 0);
    let (e3, f3) = split(ordinary, 0);
    let raw = one(parts(
        vec![None, Some(e1), Some(e2)],
        vec![None, Some(f1), Some(f2)],
        None,
        None,
    ));
    // A later batch of the same result, within nanoseconds' years.
    let later = one(parts(vec![Some(e3)], vec![Some(f3)], None, None));
    let mut converter = converter("timestamp_ntz", 9, None);
    converter.widen_for(&raw).unwrap();
    converter.widen_for(&later).unwrap();
    assert_eq!(
        converter.schema().field(0).data_type(),
        &DataType::Timestamp(TimeUnit::Microsecond, None)
    );
    assert_eq!(
        i64s(&converter.arrow(&raw, 0).unwrap()),
        vec![None, Some(first), Some(last)]
    );
    let batch = converter.arrow(&later, 3).unwrap();
    assert_eq!(batch.schema(), converter.schema());
    assert_eq!(i64s(&batch), vec![Some(ordinary)]);
}

#[test]
fn scaled_microseconds_beyond_nanoseconds_widen() {
    let last = micros((9999, 12, 31), (23, 59, 59), 999_999);
    let raw = one(Arc::new(Int64Array::from(vec![Some(last), None, Some(-5)])));
    let mut converter = converter("timestamp_ltz", 6, Some("Europe/Paris"));
    converter.widen_for(&raw).unwrap();
    let batch = converter.arrow(&raw, 0).unwrap();
    assert_eq!(
        batch.schema().field(0).data_type(),
        &DataType::Timestamp(TimeUnit::Microsecond, Some(Arc::from("Europe/Paris")))
    );
    assert_eq!(i64s(&batch), vec![Some(last), None, Some(-5)]);
}

#[test]
fn nanosecond_digits_beyond_nanoseconds_years_fail() {
    let (epoch, fraction) = split(micros((9999, 12, 31), (23, 59, 59), 123_456), 789);
    let raw = one(parts(
        vec![Some(0), Some(epoch)],
        vec![Some(0), Some(fraction)],
        None,
        None,
    ));
    let mut converter = converter("timestamp_ntz", 9, None);
    converter.widen_for(&raw).unwrap();
    assert_eq!(
        error(converter.arrow(&raw, 1040)),
        "column \"TS\" (TIMESTAMP_NTZ(9)), row 1041: 9999-12-31 23:59:59.123456789 does not \
         fit in nanoseconds or microseconds"
    );
}

#[test]
fn a_widened_column_refuses_nanosecond_digits_in_other_rows() {
    let (e1, f1) = split(micros((9999, 1, 1), (0, 0, 0), 0), 0);
    let (e2, f2) = split(micros((2020, 1, 1), (0, 0, 0), 0), 7);
    let far = one(parts(vec![Some(e1)], vec![Some(f1)], None, None));
    let near = one(parts(vec![Some(e2)], vec![Some(f2)], None, None));
    let mut converter = converter("timestamp_ntz", 9, None);
    converter.widen_for(&far).unwrap();
    converter.widen_for(&near).unwrap();
    assert_eq!(
        error(converter.arrow(&near, 1)),
        "column \"TS\" (TIMESTAMP_NTZ(9)), row 1: 2020-01-01 00:00:00.000000007 has digits \
         below the microsecond, but other values of the column lie outside \
         1677-09-21..2262-04-11, so it is widened to microseconds"
    );
}

#[test]
fn a_column_not_widened_refuses_values_beyond_nanoseconds() {
    let (epoch, fraction) = split(micros((1600, 1, 1), (0, 0, 0), 0), 0);
    let raw = one(parts(vec![Some(epoch)], vec![Some(fraction)], None, None));
    assert_eq!(
        error(converter("timestamp_ntz", 9, None).arrow(&raw, 0)),
        "column \"TS\" (TIMESTAMP_NTZ(9)), row 0: 1600-01-01 00:00:00.000000000 does not fit \
         in nanoseconds (the column was not widened to microseconds)"
    );
}

#[test]
fn a_fraction_without_its_epoch_or_a_raw_form_snowflake_never_sends_fails() {
    let raw = one(parts(
        vec![Some(1), Some(2)],
        vec![Some(0), None],
        None,
        None,
    ));
    assert_eq!(
        error(converter("timestamp_ntz", 9, None).arrow(&raw, 10)),
        "column \"TS\" (TIMESTAMP_NTZ(9)), row 11: its fraction is NULL but its epoch is not"
    );
    let text = one(Arc::new(StringArray::from(vec!["2020-01-01"])));
    assert_eq!(
        error(converter("timestamp_tz", 9, None).arrow(&text, 0)),
        "column \"TS\" (TIMESTAMP_TZ(9)): the result holds it as Arrow Utf8, which is not a \
         form Snowflake sends TIMESTAMP_TZ(9) in"
    );
    let mut widening = converter("timestamp_tz", 9, None);
    assert!(widening.widen_for(&text).is_err());
}
