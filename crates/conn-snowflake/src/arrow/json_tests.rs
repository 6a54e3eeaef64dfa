//! JSON rowsets: the same Arrow as the Arrow path for the same values, and the errors.

use std::sync::Arc;

use arrow::array::{
    ArrayRef, AsArray, BinaryArray, BooleanArray, Date32Array, Decimal128Array, Float64Array,
    Int32Array, Int64Array, StringArray,
};
use arrow::datatypes::{DataType, Float64Type, TimeUnit};

use super::Converter;
use super::test_support::{batch, column, error, i64s, i128s, parts, rows, scaled_tz, single};

/// Every type, in its raw Arrow form and as JSON text, with NULLs first, in the middle
/// and last.
#[test]
fn json_and_arrow_give_the_same_batches() {
    let columns = vec![
        column("N_INT", "fixed", Some(10), Some(0)),
        column("N_DEC", "fixed", Some(12), Some(3)),
        column("N_BIG", "fixed", Some(38), Some(0)),
        column("R", "real", None, None),
        column("S", "text", None, None),
        column("B", "boolean", None, None),
        column("D", "date", None, None),
        column("BIN", "binary", None, None),
        column("T9", "time", None, Some(9)),
        column("T0", "time", None, Some(0)),
        column("NTZ", "timestamp_ntz", None, Some(9)),
        column("NTZ3", "timestamp_ntz", None, Some(3)),
        column("LTZ", "timestamp_ltz", None, Some(9)),
        column("TZ", "timestamp_tz", None, Some(9)),
        column("TZ3", "timestamp_tz", None, Some(3)),
        column("V", "variant", None, None),
        column("G", "geography", None, None),
    ];
    let max38 = 10i128.pow(38) - 1;
    let raw = batch(vec![
        (
            "N_INT",
            Arc::new(Int32Array::from(vec![None, Some(-5), Some(123)])) as ArrayRef,
        ),
        (
            "N_DEC",
            Arc::new(Int64Array::from(vec![Some(-12_340), None, Some(5)])),
        ),
        (
            "N_BIG",
            Arc::new(
                Decimal128Array::from(vec![Some(max38), Some(-1), None])
                    .with_precision_and_scale(38, 0)
                    .unwrap(),
            ),
        ),
        (
            "R",
            Arc::new(Float64Array::from(vec![
                None,
                Some(1.5),
                Some(f64::NEG_INFINITY),
            ])),
        ),
        (
            "S",
            Arc::new(StringArray::from(vec![Some("a"), None, Some("")])),
        ),
        (
            "B",
            Arc::new(BooleanArray::from(vec![Some(true), Some(false), None])),
        ),
        (
            "D",
            Arc::new(Date32Array::from(vec![None, Some(-1), Some(19_000)])),
        ),
        (
            "BIN",
            Arc::new(BinaryArray::from(vec![
                Some(&b"\x00\xff"[..]),
                None,
                Some(&b""[..]),
            ])),
        ),
        (
            "T9",
            Arc::new(Int64Array::from(vec![
                Some(86_399_999_999_999),
                None,
                Some(0),
            ])),
        ),
        (
            "T0",
            Arc::new(Int32Array::from(vec![None, Some(3723), Some(86_399)])),
        ),
        (
            "NTZ",
            parts(
                vec![Some(-1), Some(1_700_000_000), None],
                vec![Some(500_000_000), Some(123_456_789), None],
                None,
                None,
            ),
        ),
        (
            "NTZ3",
            Arc::new(Int64Array::from(vec![None, Some(-1500), Some(1)])),
        ),
        (
            "LTZ",
            parts(
                vec![Some(1_700_000_000), None, Some(-86_400)],
                vec![Some(1), None, Some(0)],
                Some(vec![Some(1440), None, Some(1440)]),
                None,
            ),
        ),
        (
            "TZ",
            parts(
                vec![None, Some(1_700_000_000), Some(-2)],
                vec![None, Some(123_456_789), Some(999_999_999)],
                Some(vec![None, Some(1500), Some(1380)]),
                None,
            ),
        ),
        (
            "TZ3",
            scaled_tz(
                vec![Some(1_700_000_000_123), None, Some(-1)],
                vec![Some(1380), None, Some(1440)],
            ),
        ),
        (
            "V",
            Arc::new(StringArray::from(vec![Some("{\"a\":1}"), None, Some("[]")])),
        ),
        (
            "G",
            Arc::new(StringArray::from(vec![None, Some("POINT(1 2)"), None])),
        ),
    ]);
    let json = rows(&[
        &[
            None,
            Some("-12.34"),
            Some("99999999999999999999999999999999999999"),
            None,
            Some("a"),
            Some("1"),
            None,
            Some("00FF"),
            Some("86399.999999999"),
            None,
            Some("-0.500000000"),
            None,
            Some("1700000000.000000001"),
            None,
            Some("1700000000.123 1380"),
            Some("{\"a\":1}"),
            None,
        ],
        &[
            Some("-5"),
            None,
            Some("-1"),
            Some("1.5"),
            None,
            Some("false"),
            Some("-1"),
            None,
            None,
            Some("3723"),
            Some("1700000000.123456789"),
            Some("-1.500"),
            None,
            Some("1700000000.123456789 1500"),
            None,
            None,
            Some("POINT(1 2)"),
        ],
        &[
            Some("123"),
            Some("0.005"),
            None,
            Some("-inf"),
            Some(""),
            None,
            Some("19000"),
            Some(""),
            Some("0"),
            Some("86399"),
            None,
            Some("0.001"),
            Some("-86400.000000000"),
            Some("-1.000000001 1380"),
            Some("-0.001 1440"),
            Some("[]"),
            None,
        ],
    ]);
    let mut converter = Converter::new(&columns, Some("Europe/Paris")).unwrap();
    converter.widen_for(&raw).unwrap();
    converter.widen_for_json(&json);
    let from_arrow = converter.arrow(&raw, 0).unwrap();
    let from_json = converter.json(&json, 0).unwrap();
    assert_eq!(from_json.schema(), converter.schema());
    for (i, field) in converter.schema().fields().iter().enumerate() {
        assert_eq!(
            from_json.column(i),
            from_arrow.column(i),
            "column {}",
            field.name()
        );
    }
    assert_eq!(from_json, from_arrow);
}

#[test]
fn fakesnow_dml_counts() {
    let converter = Converter::new(
        &[column(
            "number of rows inserted",
            "fixed",
            Some(38),
            Some(0),
        )],
        None,
    )
    .unwrap();
    let batch = converter.json(&single(&[Some("3")]), 0).unwrap();
    assert_eq!(batch.column(0).data_type(), &DataType::Int64);
    assert_eq!(i64s(&batch), vec![Some(3)]);
}

#[test]
fn real_text_forms() {
    let converter = Converter::new(&[column("R", "real", None, None)], None).unwrap();
    let batch = converter
        .json(
            &single(&[
                Some("inf"),
                Some("-inf"),
                Some("NaN"),
                Some("1e308"),
                Some("-0"),
                None,
            ]),
            0,
        )
        .unwrap();
    let values: Vec<Option<f64>> = batch
        .column(0)
        .as_primitive::<Float64Type>()
        .iter()
        .collect();
    assert_eq!(values[0], Some(f64::INFINITY));
    assert_eq!(values[1], Some(f64::NEG_INFINITY));
    assert!(values[2].is_some_and(f64::is_nan));
    assert_eq!(values[3], Some(1e308));
    assert!(values[4].is_some_and(|v| v == 0.0 && v.is_sign_negative()));
    assert_eq!(values[5], None);
    assert_eq!(
        error(converter.json(&single(&[Some("1,5")]), 2)),
        "column \"R\" (FLOAT), row 2: \"1,5\" is not a number"
    );
}

#[test]
fn fixed_text_is_exact_and_refuses_to_round() {
    let int = Converter::new(&[column("N", "fixed", Some(18), Some(0))], None).unwrap();
    assert_eq!(
        i64s(
            &int.json(&single(&[Some("1.5e3"), Some("-0"), Some("+7")]), 0)
                .unwrap()
        ),
        vec![Some(1500), Some(0), Some(7)]
    );
    assert_eq!(
        error(int.json(&single(&[Some("99999999999999999999")]), 0)),
        "column \"N\" (NUMBER(18,0)), row 0: 99999999999999999999 does not fit in Int64"
    );
    assert_eq!(
        error(int.json(&single(&[Some("1.5")]), 4)),
        "column \"N\" (NUMBER(18,0)), row 4: 1.5 has more than 0 digits after the point"
    );
    let dec = Converter::new(&[column("N", "fixed", Some(20), Some(2))], None).unwrap();
    assert_eq!(
        i128s(
            &dec.json(&single(&[Some("1.2345e2"), Some("-0.1")]), 0)
                .unwrap()
        ),
        vec![Some(12_345), Some(-10)]
    );
    assert_eq!(
        error(dec.json(&single(&[Some("1"), Some("1.234")]), 6)),
        "column \"N\" (NUMBER(20,2)), row 7: 1.234 has more than 2 digits after the point"
    );
    assert_eq!(
        error(dec.json(&single(&[Some("1234567890123456789.01")]), 0)),
        "column \"N\" (NUMBER(20,2)), row 0: 1234567890123456789.01 does not fit in 20 digits"
    );
    assert_eq!(
        error(dec.json(&single(&[Some("abc")]), 0)),
        "column \"N\" (NUMBER(20,2)), row 0: \"abc\" is not a number"
    );
}

#[test]
fn boolean_binary_and_date_text() {
    let converter = Converter::new(
        &[
            column("B", "boolean", None, None),
            column("BIN", "binary", None, None),
            column("D", "date", None, None),
        ],
        None,
    )
    .unwrap();
    let batch = converter
        .json(
            &rows(&[
                &[Some("TRUE"), Some("0aFf"), Some("-719162")],
                &[Some("False"), None, Some("2932896")],
            ]),
            0,
        )
        .unwrap();
    assert_eq!(
        batch.column(0).as_boolean().iter().collect::<Vec<_>>(),
        vec![Some(true), Some(false)]
    );
    assert_eq!(
        batch
            .column(1)
            .as_binary::<i32>()
            .iter()
            .collect::<Vec<_>>(),
        vec![Some(&b"\x0a\xff"[..]), None]
    );
    assert_eq!(
        batch
            .column(2)
            .as_primitive::<arrow::datatypes::Date32Type>()
            .values()
            .to_vec(),
        vec![-719_162, 2_932_896]
    );
    let bad = |row: &[Option<&str>]| error(converter.json(&rows(&[row]), 0));
    assert_eq!(
        bad(&[Some("yes"), None, None]),
        "column \"B\" (BOOLEAN), row 0: \"yes\" is not a BOOLEAN (1, 0, true or false)"
    );
    assert_eq!(
        bad(&[None, Some("abc"), None]),
        "column \"BIN\" (BINARY), row 0: \"abc\" is not hex (an odd number of digits)"
    );
    assert_eq!(
        bad(&[None, Some("zz"), None]),
        "column \"BIN\" (BINARY), row 0: \"zz\" is not hex"
    );
    assert_eq!(
        bad(&[None, None, Some("3000000000")]),
        "column \"D\" (DATE), row 0: 3000000000 days after 1970-01-01 is beyond Date32"
    );
}

#[test]
fn time_and_timestamp_text() {
    let converter = Converter::new(
        &[
            column("T", "time", None, Some(9)),
            column("TS", "timestamp_ntz", None, Some(9)),
            column("TZ", "timestamp_tz", None, Some(9)),
        ],
        None,
    )
    .unwrap();
    let batch = converter
        .json(
            &rows(&[&[Some("0.000000001"), Some("-0.000000009"), Some("-1.5 1440")]]),
            0,
        )
        .unwrap();
    let values: Vec<i64> = (0..3)
        .map(|i| i64s(&batch.project(&[i]).unwrap())[0].unwrap())
        .collect();
    assert_eq!(values, vec![1, -9, -1_500_000_000]);
    let bad = |row: &[Option<&str>]| error(converter.json(&rows(&[row]), 0));
    assert_eq!(
        bad(&[Some("86400"), None, None]),
        "column \"T\" (TIME(9)), row 0: 86400.000000000 seconds after midnight is not a time of day"
    );
    assert_eq!(
        bad(&[Some("1.0000000001"), None, None]),
        "column \"T\" (TIME(9)), row 0: 1.0000000001 has digits below the nanosecond"
    );
    assert_eq!(
        bad(&[None, Some("12:00"), None]),
        "column \"TS\" (TIMESTAMP_NTZ(9)), row 0: \"12:00\" is not a number"
    );
    assert_eq!(
        bad(&[None, None, Some("1.5")]),
        "column \"TZ\" (TIMESTAMP_TZ(9)), row 0: \"1.5\" is not a TIMESTAMP_TZ (seconds, a \
         space and an offset)"
    );
    assert_eq!(
        bad(&[None, None, Some("1.5 UTC")]),
        "column \"TZ\" (TIMESTAMP_TZ(9)), row 0: \"1.5 UTC\" is not a TIMESTAMP_TZ (its offset \
         \"UTC\" is not an integer)"
    );
}

#[test]
fn json_timestamps_beyond_nanoseconds_widen() {
    let text = [Some("253402300799.999999"), None, Some("-62135596800")];
    let mut converter =
        Converter::new(&[column("TS", "timestamp_ntz", None, Some(6))], None).unwrap();
    assert_eq!(
        error(converter.json(&single(&text), 0)),
        "column \"TS\" (TIMESTAMP_NTZ(6)), row 0: 9999-12-31 23:59:59.999999000 does not fit in \
         nanoseconds (the column was not widened to microseconds)"
    );
    converter.widen_for_json(&single(&text));
    let batch = converter.json(&single(&text), 0).unwrap();
    assert_eq!(
        batch.column(0).data_type(),
        &DataType::Timestamp(TimeUnit::Microsecond, None)
    );
    assert_eq!(
        i64s(&batch),
        vec![
            Some(253_402_300_799_999_999),
            None,
            Some(-62_135_596_800_000_000)
        ]
    );
}

#[test]
fn rows_must_have_one_value_per_column() {
    let converter = Converter::new(
        &[
            column("A", "text", None, None),
            column("B", "text", None, None),
        ],
        None,
    )
    .unwrap();
    assert_eq!(
        error(converter.json(&rows(&[&[Some("a"), None], &[Some("b")]]), 10)),
        "row 11: the result's JSON rowset has 1 values in it but its rowtype describes 2 columns"
    );
}
