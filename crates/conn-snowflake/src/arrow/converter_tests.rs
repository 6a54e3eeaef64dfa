//! The converter on raw Arrow: the schema from the rowtype, every non-timestamp type in
//! its raw forms, NULLs, edge values, and the errors.

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, BinaryArray, BooleanArray, Date32Array, Decimal128Array,
    FixedSizeListArray, Float32Array, Float64Array, Int8Array, Int16Array, Int32Array, Int64Array,
    LargeStringArray, RecordBatch, StringArray,
};
use arrow::datatypes::{DataType, Date32Type, Field, Float64Type, Schema, TimeUnit};

use super::target::{
    EXTENSION_METADATA_KEY, EXTENSION_NAME_KEY, JSON_EXTENSION, SNOWFLAKE_TYPE_KEY,
};
use super::test_support::{batch, column, error, i64s, i128s, one, rows, single};
use super::{Column, Converter};

fn decimal(values: Vec<Option<i128>>, precision: u8, scale: i8) -> ArrayRef {
    Arc::new(
        Decimal128Array::from(values)
            .with_precision_and_scale(precision, scale)
            .unwrap(),
    )
}

fn fixed(precision: Option<i64>, scale: i64) -> Converter {
    Converter::new(&[column("N", "fixed", precision, Some(scale))], None).unwrap()
}

#[test]
fn the_schema_comes_from_the_rowtype() {
    let mut not_null = column("ID", "fixed", Some(18), Some(0));
    not_null.nullable = Some(false);
    let columns = vec![
        not_null,
        column("BIG", "fixed", Some(19), Some(0)),
        column("AMOUNT", "fixed", Some(38), Some(2)),
        column("NO_PRECISION", "fixed", None, Some(0)),
        column("R", "real", None, None),
        Column {
            length: Some(16_777_216),
            ..column("S", "text", None, None)
        },
        column("B", "boolean", None, None),
        column("D", "date", None, None),
        Column {
            byte_length: Some(8_388_608),
            ..column("BIN", "binary", None, None)
        },
        column("T", "time", None, Some(3)),
        column("NTZ", "timestamp_ntz", None, Some(9)),
        column("LTZ", "TIMESTAMP_LTZ", None, Some(6)),
        column("TZ", "timestamp_tz", None, None),
        column("V", "variant", None, None),
        column("O", "object", None, None),
        column("A", "array", None, None),
        column("G", "geography", None, None),
    ];
    let converter = Converter::new(&columns, Some("America/New_York")).unwrap();
    let schema = converter.schema();
    let expected = [
        ("ID", DataType::Int64, "NUMBER(18,0)"),
        ("BIG", DataType::Int64, "NUMBER(19,0)"),
        ("AMOUNT", DataType::Decimal128(38, 2), "NUMBER(38,2)"),
        ("NO_PRECISION", DataType::Int64, "NUMBER(38,0)"),
        ("R", DataType::Float64, "FLOAT"),
        ("S", DataType::Utf8, "VARCHAR(16777216)"),
        ("B", DataType::Boolean, "BOOLEAN"),
        ("D", DataType::Date32, "DATE"),
        ("BIN", DataType::Binary, "BINARY(8388608)"),
        ("T", DataType::Time64(TimeUnit::Nanosecond), "TIME(3)"),
        (
            "NTZ",
            DataType::Timestamp(TimeUnit::Nanosecond, None),
            "TIMESTAMP_NTZ(9)",
        ),
        (
            "LTZ",
            DataType::Timestamp(TimeUnit::Nanosecond, Some(Arc::from("America/New_York"))),
            "TIMESTAMP_LTZ(6)",
        ),
        (
            "TZ",
            DataType::Timestamp(TimeUnit::Nanosecond, Some(Arc::from("UTC"))),
            "TIMESTAMP_TZ(9)",
        ),
        ("V", DataType::Utf8, "VARIANT"),
        ("O", DataType::Utf8, "OBJECT"),
        ("A", DataType::Utf8, "ARRAY"),
        ("G", DataType::Utf8, "GEOGRAPHY"),
    ];
    assert_eq!(schema.fields().len(), expected.len());
    for (field, (name, data_type, sql)) in schema.fields().iter().zip(expected) {
        assert_eq!(field.name(), name);
        assert_eq!(field.data_type(), &data_type, "{name}");
        assert_eq!(field.is_nullable(), name != "ID", "{name}");
        assert_eq!(
            field.metadata().get(SNOWFLAKE_TYPE_KEY).map(String::as_str),
            Some(sql)
        );
        let json = ["V", "O", "A"].contains(&name);
        assert_eq!(
            field.metadata().get(EXTENSION_NAME_KEY).map(String::as_str),
            json.then_some(JSON_EXTENSION),
            "{name}"
        );
        assert_eq!(
            field
                .metadata()
                .get(EXTENSION_METADATA_KEY)
                .map(String::as_str),
            json.then_some(""),
            "{name}"
        );
    }
}

#[test]
fn a_result_without_rows_keeps_its_columns() {
    let converter = Converter::new(
        &[
            column("N", "fixed", Some(38), Some(2)),
            column("TS", "timestamp_tz", None, Some(9)),
        ],
        None,
    )
    .unwrap();
    let raw = batch(vec![
        (
            "N",
            Arc::new(Int32Array::from(Vec::<i32>::new())) as ArrayRef,
        ),
        ("TS", Arc::new(Int64Array::from(Vec::<i64>::new()))),
    ]);
    let converted = converter.arrow(&raw, 0).unwrap();
    assert_eq!(converted.num_rows(), 0);
    assert_eq!(converted.schema(), converter.schema());
    let from_json = converter.json(&[], 0).unwrap();
    assert_eq!(from_json.num_rows(), 0);
    assert_eq!(from_json.schema(), converter.schema());
}

#[test]
fn integers_of_every_width_with_nulls_anywhere() {
    let converter = fixed(Some(10), 0);
    let raws: Vec<ArrayRef> = vec![
        Arc::new(Int8Array::from(vec![None, Some(-128), Some(127)])),
        Arc::new(Int16Array::from(vec![Some(-32768), None, Some(1)])),
        Arc::new(Int32Array::from(vec![Some(i32::MIN), Some(0), None])),
        Arc::new(Int64Array::from(vec![None, Some(9_999_999_999), None])),
    ];
    let mut all = Vec::new();
    for (i, raw) in raws.into_iter().enumerate() {
        let converted = converter.arrow(&one(raw), i as u64 * 3).unwrap();
        assert_eq!(converted.schema(), converter.schema());
        all.extend(i64s(&converted));
    }
    assert_eq!(
        all,
        vec![
            None,
            Some(-128),
            Some(127),
            Some(-32768),
            None,
            Some(1),
            Some(i64::from(i32::MIN)),
            Some(0),
            None,
            None,
            Some(9_999_999_999),
            None
        ]
    );
}

#[test]
fn scaled_integers_become_decimals_exactly() {
    let converter = fixed(Some(10), 2);
    let converted = converter
        .arrow(
            &one(Arc::new(Int16Array::from(vec![Some(-1234), None, Some(5)]))),
            0,
        )
        .unwrap();
    assert_eq!(
        converted.column(0).data_type(),
        &DataType::Decimal128(10, 2)
    );
    let decimals = converted
        .column(0)
        .as_primitive::<arrow::datatypes::Decimal128Type>();
    assert_eq!(decimals.value_as_string(0), "-12.34");
    assert!(decimals.is_null(1));
    assert_eq!(decimals.value_as_string(2), "0.05");
}

#[test]
fn i64_extremes_scaled() {
    let raw = one(Arc::new(Int64Array::from(vec![
        Some(i64::MIN),
        None,
        Some(i64::MAX),
    ])));
    let converted = fixed(Some(38), 2).arrow(&raw, 0).unwrap();
    assert_eq!(
        i128s(&converted),
        vec![Some(i128::from(i64::MIN)), None, Some(i128::from(i64::MAX))]
    );
    let decimals = converted
        .column(0)
        .as_primitive::<arrow::datatypes::Decimal128Type>();
    assert_eq!(decimals.value_as_string(2), "92233720368547758.07");
    // 19 digits do not fit a NUMBER(18,2).
    assert_eq!(
        error(fixed(Some(18), 2).arrow(&raw, 5)),
        "column \"N\" (NUMBER(18,2)), row 5: -92233720368547758.08 does not fit in 18 digits"
    );
    // Scale 0: Int64 keeps them as they are.
    assert_eq!(
        i64s(&fixed(Some(18), 0).arrow(&raw, 0).unwrap()),
        vec![Some(i64::MIN), None, Some(i64::MAX)]
    );
}

#[test]
fn decimal_38_37_and_38_0_at_their_limits() {
    let max = 10i128.pow(38) - 1;
    let raw = one(decimal(vec![Some(-max), None, Some(max), Some(1)], 38, 37));
    let converted = fixed(Some(38), 37).arrow(&raw, 0).unwrap();
    assert_eq!(
        i128s(&converted),
        vec![Some(-max), None, Some(max), Some(1)]
    );
    let decimals = converted
        .column(0)
        .as_primitive::<arrow::datatypes::Decimal128Type>();
    assert_eq!(
        decimals.value_as_string(2),
        "9.9999999999999999999999999999999999999"
    );
    // Whole numbers beyond i64 widen the column to Decimal128(38, 0) over the result.
    let raw = one(decimal(vec![None, Some(max), Some(-max)], 38, 0));
    let mut converter = fixed(Some(38), 0);
    assert_eq!(converter.schema().field(0).data_type(), &DataType::Int64);
    let err = converter.arrow(&raw, 5).unwrap_err().to_string();
    assert!(
        err.contains("row 6") && err.contains("does not fit in Int64"),
        "{err}"
    );
    converter.widen_for(&raw).unwrap();
    assert_eq!(
        converter.schema().field(0).data_type(),
        &DataType::Decimal128(38, 0)
    );
    assert_eq!(
        i128s(&converter.arrow(&raw, 0).unwrap()),
        vec![None, Some(max), Some(-max)]
    );
    // Values that fit keep it Int64.
    let mut converter = fixed(Some(38), 0);
    converter
        .widen_for(&one(decimal(
            vec![Some(i128::from(i64::MAX)), Some(i128::from(i64::MIN))],
            38,
            0,
        )))
        .unwrap();
    assert_eq!(converter.schema().field(0).data_type(), &DataType::Int64);
}

#[test]
fn decimal128_into_int64_as_fakesnow_sends_it() {
    let raw = one(decimal(vec![Some(42), None, Some(-7)], 10, 0));
    assert_eq!(
        i64s(&fixed(Some(10), 0).arrow(&raw, 0).unwrap()),
        vec![Some(42), None, Some(-7)]
    );
    // A raw scale above the column's: exact when the extra digits are zero.
    let raw = one(decimal(vec![Some(4200), Some(-700)], 10, 2));
    assert_eq!(
        i64s(&fixed(Some(10), 0).arrow(&raw, 0).unwrap()),
        vec![Some(42), Some(-7)]
    );
}

#[test]
fn a_value_beyond_its_declared_precision_fails() {
    let raw = one(decimal(vec![Some(1), Some(1_234_567)], 38, 2));
    assert_eq!(
        error(fixed(Some(5), 2).arrow(&raw, 99)),
        "column \"N\" (NUMBER(5,2)), row 100: 12345.67 does not fit in 5 digits"
    );
    // Digits after the point that the column's scale cannot hold fail too.
    let raw = one(decimal(vec![Some(12_345)], 10, 3));
    assert_eq!(
        error(fixed(Some(10), 2).arrow(&raw, 0)),
        "column \"N\" (NUMBER(10,2)), row 0: 12.345 has more than 2 digits after the point"
    );
}

#[test]
fn batches_of_one_result_in_mixed_integer_widths_share_the_schema() {
    let mut converter = fixed(Some(38), 0);
    let raws = [
        one(Arc::new(Int8Array::from(vec![Some(1), None]))),
        one(Arc::new(Int32Array::from(vec![Some(100_000)]))),
        one(Arc::new(Int64Array::from(vec![None, Some(i64::MAX)]))),
        one(decimal(vec![Some(10i128.pow(37))], 38, 0)),
    ];
    for raw in &raws {
        converter.widen_for(raw).unwrap();
    }
    let mut values = Vec::new();
    let mut row = 0;
    for raw in &raws {
        let converted = converter.arrow(raw, row).unwrap();
        assert_eq!(converted.schema(), converter.schema());
        row += raw.num_rows() as u64;
        values.extend(i128s(&converted));
    }
    assert_eq!(
        values,
        vec![
            Some(1),
            None,
            Some(100_000),
            None,
            Some(i128::from(i64::MAX)),
            Some(10i128.pow(37))
        ]
    );
}

#[test]
fn real_text_boolean_date_binary() {
    let converter = Converter::new(
        &[
            column("R", "real", None, None),
            column("S", "text", None, None),
            column("B", "boolean", None, None),
            column("D", "date", None, None),
            column("BIN", "binary", None, None),
            column("V", "variant", None, None),
        ],
        None,
    )
    .unwrap();
    let raw = batch(vec![
        (
            "R",
            Arc::new(Float64Array::from(vec![
                None,
                Some(f64::INFINITY),
                Some(-0.5),
            ])) as ArrayRef,
        ),
        (
            "S",
            Arc::new(StringArray::from(vec![Some("é"), None, Some("")])),
        ),
        (
            "B",
            Arc::new(BooleanArray::from(vec![Some(true), Some(false), None])),
        ),
        (
            "D",
            Arc::new(Date32Array::from(vec![
                None,
                Some(-719_162),
                Some(2_932_896),
            ])),
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
            "V",
            Arc::new(StringArray::from(vec![
                Some("{\"a\": 1}"),
                Some("[1,2]"),
                None,
            ])),
        ),
    ]);
    let converted = converter.arrow(&raw, 0).unwrap();
    assert_eq!(converted.schema(), converter.schema());
    // Already the target types: the columns pass through unchanged.
    for i in 0..raw.num_columns() {
        assert_eq!(converted.column(i), raw.column(i), "column {i}");
    }
}

#[test]
fn narrower_and_wider_raw_forms() {
    let converter = Converter::new(
        &[
            column("R", "real", None, None),
            column("S", "text", None, None),
            column("D", "date", None, None),
        ],
        None,
    )
    .unwrap();
    let raw = batch(vec![
        (
            "R",
            Arc::new(Float32Array::from(vec![Some(1.5), None])) as ArrayRef,
        ),
        ("S", Arc::new(LargeStringArray::from(vec![None, Some("x")]))),
        ("D", Arc::new(Int32Array::from(vec![Some(-1), None]))),
    ]);
    let converted = converter.arrow(&raw, 0).unwrap();
    assert_eq!(
        converted
            .column(0)
            .as_primitive::<Float64Type>()
            .iter()
            .collect::<Vec<_>>(),
        vec![Some(1.5), None]
    );
    assert_eq!(
        converted
            .column(1)
            .as_string::<i32>()
            .iter()
            .collect::<Vec<_>>(),
        vec![None, Some("x")]
    );
    assert_eq!(
        converted
            .column(2)
            .as_primitive::<Date32Type>()
            .iter()
            .collect::<Vec<_>>(),
        vec![Some(-1), None]
    );
}

#[test]
fn time_at_scales_9_3_and_0() {
    let last_9 = 86_399_999_999_999i64;
    let cases: Vec<(i64, ArrayRef, Vec<Option<i64>>)> = vec![
        (
            9,
            Arc::new(Int64Array::from(vec![None, Some(0), Some(last_9)])),
            vec![None, Some(0), Some(last_9)],
        ),
        (
            3,
            Arc::new(Int32Array::from(vec![Some(86_399_999), None, Some(1)])),
            vec![Some(86_399_999_000_000), None, Some(1_000_000)],
        ),
        (
            0,
            Arc::new(Int32Array::from(vec![Some(86_399), Some(3723), None])),
            vec![Some(86_399_000_000_000), Some(3_723_000_000_000), None],
        ),
    ];
    for (scale, raw, expected) in cases {
        let converter = Converter::new(&[column("T", "time", None, Some(scale))], None).unwrap();
        let converted = converter.arrow(&one(raw), 0).unwrap();
        assert_eq!(
            converted.column(0).data_type(),
            &DataType::Time64(TimeUnit::Nanosecond)
        );
        assert_eq!(i64s(&converted), expected, "scale {scale}");
    }
    let converter = Converter::new(&[column("T", "time", None, Some(0))], None).unwrap();
    assert_eq!(
        error(converter.arrow(&one(Arc::new(Int32Array::from(vec![86_400]))), 3)),
        "column \"T\" (TIME(0)), row 3: 86400.000000000 seconds after midnight is not a time of day"
    );
}

#[test]
fn unknown_types_are_kept_as_they_come() {
    let vector = Arc::new(FixedSizeListArray::from_iter_primitive::<
        arrow::datatypes::Int32Type,
        _,
        _,
    >(vec![Some(vec![Some(1), Some(2)]), None], 2)) as ArrayRef;
    let mut converter = Converter::new(
        &[
            column("G", "geography", None, None),
            column("VEC", "vector", None, None),
        ],
        None,
    )
    .unwrap();
    let raw = batch(vec![
        (
            "G",
            Arc::new(StringArray::from(vec![Some("{\"type\":\"Point\"}"), None])) as ArrayRef,
        ),
        ("VEC", Arc::clone(&vector)),
    ]);
    // Before any batch, an unknown type is the text a JSON rowset gives.
    assert_eq!(converter.schema().field(1).data_type(), &DataType::Utf8);
    converter.widen_for(&raw).unwrap();
    let schema = converter.schema();
    assert_eq!(schema.field(1).data_type(), vector.data_type());
    assert_eq!(
        schema
            .field(1)
            .metadata()
            .get(SNOWFLAKE_TYPE_KEY)
            .map(String::as_str),
        Some("VECTOR")
    );
    let converted = converter.arrow(&raw, 0).unwrap();
    assert_eq!(converted.column(0), raw.column(0));
    assert_eq!(converted.column(1), &vector);
    // The JSON form of an unknown type is its text.
    let from_json = converter.json(&rows(&[&[Some("POINT(1 2)"), None]]), 0);
    assert_eq!(
        error(from_json),
        "column \"VEC\" (VECTOR): its Arrow Utf8 values cannot be read as \
         FixedSizeList(2 x Int32): Cast error: Casting from Utf8 to FixedSizeList(2 x Int32) \
         not supported"
    );
    let unsettled = Converter::new(&[column("VEC", "vector", None, None)], None).unwrap();
    assert_eq!(
        error(unsettled.arrow(&one(Arc::clone(&vector)), 0)),
        "column \"VEC\" (VECTOR): its raw Arrow FixedSizeList(2 x Int32) was not seen by \
         Converter::widen_for before conversion, so the schema does not have it"
    );
    let text = Converter::new(&[column("G", "geography", None, None)], None).unwrap();
    let batch = text.json(&single(&[Some("POINT(1 2)"), None]), 0).unwrap();
    assert_eq!(batch.schema(), text.schema());
    assert_eq!(
        batch
            .column(0)
            .as_string::<i32>()
            .iter()
            .collect::<Vec<_>>(),
        vec![Some("POINT(1 2)"), None]
    );
}

#[test]
fn nullability_from_the_rowtype() {
    let mut id = column("ID", "fixed", Some(10), Some(0));
    id.nullable = Some(false);
    let converter = Converter::new(&[id], None).unwrap();
    assert!(!converter.schema().field(0).is_nullable());
    let raw = one(Arc::new(Int64Array::from(vec![Some(1), Some(2), None])));
    assert_eq!(
        error(converter.arrow(&raw, 10)),
        "column \"ID\" (NUMBER(10,0)), row 12: NULL in a column the rowtype declares NOT NULL"
    );
}

#[test]
fn raw_batches_that_do_not_match_the_rowtype_fail() {
    let mut converter = Converter::new(
        &[
            column("S", "text", None, None),
            column("N", "fixed", Some(5), Some(0)),
        ],
        None,
    )
    .unwrap();
    let narrow = one(Arc::new(StringArray::from(vec!["a"])));
    let expected = "the result's Arrow batch has 1 columns but its rowtype describes 2";
    assert_eq!(error(converter.arrow(&narrow, 0)), expected);
    assert_eq!(error(converter.widen_for(&narrow)), expected);
    let wrong = batch(vec![
        ("S", Arc::new(Int32Array::from(vec![1])) as ArrayRef),
        ("N", Arc::new(Int32Array::from(vec![1]))),
    ]);
    assert_eq!(
        error(converter.arrow(&wrong, 0)),
        "column \"S\" (VARCHAR): the result holds it as Arrow Int32, which is not a form \
         Snowflake sends VARCHAR in"
    );
}

#[test]
fn rowtypes_no_snowflake_type_has_fail() {
    let err = error(Converter::new(
        &[column("N", "fixed", Some(40), Some(0))],
        None,
    ));
    assert_eq!(
        err,
        "column \"N\": the rowtype declares NUMBER(40,0), which no Snowflake NUMBER is (at most \
         38 digits, scale 0 to precision)"
    );
    let err = error(Converter::new(&[column("T", "time", None, Some(12))], None));
    assert_eq!(
        err,
        "column \"T\": the rowtype declares TIME(12); Snowflake keeps 0 to 9 fractional-second digits"
    );
}

#[test]
fn batches_carry_the_schema_with_its_metadata() {
    let converter = Converter::new(&[column("V", "object", None, None)], None).unwrap();
    let converted = converter
        .arrow(&one(Arc::new(StringArray::from(vec!["{}"]))), 0)
        .unwrap();
    let expected: RecordBatch = RecordBatch::try_new(
        Arc::new(Schema::new(vec![
            Field::new("V", DataType::Utf8, true).with_metadata(
                [
                    (SNOWFLAKE_TYPE_KEY.to_owned(), "OBJECT".to_owned()),
                    (EXTENSION_NAME_KEY.to_owned(), JSON_EXTENSION.to_owned()),
                    (EXTENSION_METADATA_KEY.to_owned(), String::new()),
                ]
                .into(),
            ),
        ])),
        vec![Arc::new(StringArray::from(vec!["{}"]))],
    )
    .unwrap();
    assert_eq!(converted, expected);
}
