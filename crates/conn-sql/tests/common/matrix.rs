//! Table-driven write tests: Arrow columns appended to pre-created columns of every
//! type (and created from scratch), read back with conn's own queries.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::sync::Arc;

use conn_core::arrow::array::{Array, ArrayRef, Int32Array, RecordBatch};
use conn_core::arrow::datatypes::{DataType, Field, Schema};
use conn_core::arrow::util::display::{ArrayFormatter, FormatOptions};
use conn_core::{Table, Ttl, arrow};
use conn_sql::{SqlConnection, WriteMode};

/// What writing a case must do.
#[derive(Debug, Clone)]
pub enum Expect {
    /// The write succeeds; the values read back, formatted (`NULL` for nulls).
    Reads(Vec<String>),
    /// The write fails with an error containing this text, and writes nothing.
    Fails(String),
}

/// One Arrow column written to one column type.
#[derive(Debug, Clone)]
pub struct Case {
    /// The SQL type of the target column.
    pub column: String,
    pub values: ArrayRef,
    /// An extension type name for the field (`arrow.json`, `arrow.uuid`).
    pub extension: Option<&'static str>,
    pub expect: Expect,
}

/// A case that writes and reads back `reads`.
pub fn ok(column: &str, values: ArrayRef, reads: &[&str]) -> Case {
    Case {
        column: column.into(),
        values,
        extension: None,
        expect: Expect::Reads(reads.iter().map(|s| (*s).to_owned()).collect()),
    }
}

/// A case whose write fails with `error` in the message.
pub fn fails(column: &str, values: ArrayRef, error: &str) -> Case {
    Case {
        column: column.into(),
        values,
        extension: None,
        expect: Expect::Fails(error.into()),
    }
}

impl Case {
    /// The same case with the field marked as an extension type.
    pub fn marked(mut self, extension: &'static str) -> Case {
        self.extension = Some(extension);
        self
    }
}

pub fn field(name: &str, data_type: DataType, extension: Option<&str>) -> Field {
    let field = Field::new(name, data_type, true);
    match extension {
        Some(ext) => field.with_metadata(HashMap::from([(
            "ARROW:extension:name".to_owned(),
            ext.to_owned(),
        )])),
        None => field,
    }
}

/// Every value of a column, formatted as Arrow prints it (`NULL` for nulls).
pub fn formatted(array: &dyn Array) -> Vec<String> {
    let options = FormatOptions::default().with_null("NULL");
    let formatter = ArrayFormatter::try_new(array, &options).unwrap();
    (0..array.len())
        .map(|i| formatter.value(i).to_string())
        .collect()
}

/// A table of `case_no`, `seq` and `v`, in two batches (row 0, then the rest), so that
/// row numbers in errors count across batches.
pub fn case_table(case_no: i32, values: &ArrayRef, extension: Option<&str>) -> Table {
    let schema = Arc::new(Schema::new(vec![
        Field::new("case_no", DataType::Int32, false),
        Field::new("seq", DataType::Int32, false),
        field("v", values.data_type().clone(), extension),
    ]));
    let n = values.len();
    let batch = |offset: usize, len: usize| {
        RecordBatch::try_new(
            Arc::clone(&schema),
            vec![
                Arc::new(Int32Array::from(vec![case_no; len])),
                Arc::new(Int32Array::from_iter_values(
                    (offset..offset + len).map(|i| i32::try_from(i).unwrap()),
                )),
                values.slice(offset, len),
            ],
        )
        .unwrap()
    };
    let batches = if n > 1 {
        vec![batch(0, 1), batch(1, n - 1)]
    } else {
        vec![batch(0, n)]
    };
    Table::new(schema, batches).unwrap()
}

fn count(conn: &SqlConnection, sql: &str) -> i64 {
    let table = conn.query(sql).ttl(Ttl::ZERO).blocking().unwrap();
    let column = table.column("n").unwrap();
    let column = arrow::compute::cast(&column, &DataType::Int64).unwrap();
    column
        .as_any()
        .downcast_ref::<arrow::array::Int64Array>()
        .unwrap()
        .value(0)
}

/// Appends every case to a table with a column of its type (one table per type, made
/// with `create_table(name, column_type)`), checks the outcome, and returns a line per
/// case that did not go as expected.
pub fn run_append(
    conn: &SqlConnection,
    cases: &[Case],
    create_table: impl Fn(&str, &str) -> String,
) -> Vec<String> {
    let mut tables: Vec<(String, String)> = Vec::new();
    let mut problems = Vec::new();
    for (index, case) in cases.iter().enumerate() {
        let case_no = i32::try_from(index).unwrap();
        let table = match tables.iter().find(|(column, _)| *column == case.column) {
            Some((_, table)) => table.clone(),
            None => {
                let table = format!("m{}", tables.len());
                conn.execute(create_table(&table, &case.column))
                    .blocking()
                    .unwrap_or_else(|e| panic!("creating a {} column: {e}", case.column));
                tables.push((case.column.clone(), table.clone()));
                table
            }
        };
        let what = format!(
            "case {case_no}: {} {:?} into {}",
            case.values.data_type(),
            case.extension,
            case.column
        );
        let data = case_table(case_no, &case.values, case.extension);
        let before = count(conn, &format!("SELECT count(*) AS n FROM {table}"));
        let written = conn
            .write_table(&table, &data, WriteMode::Append)
            .blocking();
        match (&case.expect, written) {
            (Expect::Reads(expected), Ok(n)) => {
                if n != case.values.len() as u64 {
                    problems.push(format!("{what}: wrote {n} rows"));
                }
                let back = conn
                    .query(format!(
                        "SELECT v FROM {table} WHERE case_no = {case_no} ORDER BY seq"
                    ))
                    .ttl(Ttl::ZERO)
                    .blocking();
                match back {
                    Ok(back) => {
                        let got = formatted(back.column("v").unwrap().as_ref());
                        if &got != expected {
                            problems
                                .push(format!("{what}: read back {got:?}, expected {expected:?}"));
                        }
                    }
                    Err(e) => problems.push(format!("{what}: reading back failed: {e}")),
                }
            }
            (Expect::Reads(_), Err(e)) => problems.push(format!("{what}: failed: {e}")),
            (Expect::Fails(text), Ok(_)) => {
                problems.push(format!(
                    "{what}: succeeded, expected an error with {text:?}"
                ));
            }
            (Expect::Fails(text), Err(e)) => {
                let message = e.to_string();
                if !message.contains(text.as_str()) {
                    problems.push(format!("{what}: error {message:?} lacks {text:?}"));
                }
                let after = count(conn, &format!("SELECT count(*) AS n FROM {table}"));
                if after != before {
                    problems.push(format!(
                        "{what}: the failed write changed the row count {before} -> {after}"
                    ));
                }
            }
        }
    }
    problems
}

/// One column of a `Create` check: the Arrow column, the SQL type the database shows
/// for the created column, the Arrow type conn reads back, and the values it reads.
#[derive(Debug, Clone)]
pub struct Created {
    pub name: &'static str,
    pub values: ArrayRef,
    pub extension: Option<&'static str>,
    pub sql_type: &'static str,
    pub reads_as: String,
    pub reads: Vec<String>,
}

pub fn created(
    name: &'static str,
    values: ArrayRef,
    sql_type: &'static str,
    reads_as: &str,
    reads: &[&str],
) -> Created {
    Created {
        name,
        values,
        extension: None,
        sql_type,
        reads_as: reads_as.into(),
        reads: reads.iter().map(|s| (*s).to_owned()).collect(),
    }
}

impl Created {
    pub fn marked(mut self, extension: &'static str) -> Created {
        self.extension = Some(extension);
        self
    }
}

/// Creates table `name` from every column at once (plus `seq`), then compares the
/// column types the catalog shows (`column_types` returns (name, type) pairs), the
/// Arrow types and the values read back. Returns a line per difference.
pub fn run_create(
    conn: &SqlConnection,
    name: &str,
    columns: &[Created],
    column_types: impl Fn(&SqlConnection, &str) -> Vec<(String, String)>,
) -> Vec<String> {
    let rows = columns[0].values.len();
    let mut fields = vec![Field::new("seq", DataType::Int32, false)];
    let mut arrays: Vec<ArrayRef> = vec![Arc::new(Int32Array::from_iter_values(
        0..i32::try_from(rows).unwrap(),
    ))];
    for c in columns {
        assert_eq!(c.values.len(), rows, "{}", c.name);
        fields.push(field(c.name, c.values.data_type().clone(), c.extension));
        arrays.push(Arc::clone(&c.values));
    }
    let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays).unwrap();
    let written = conn
        .write_table(name, &Table::from_batch(batch), WriteMode::Create)
        .blocking()
        .unwrap();
    assert_eq!(written, rows as u64);
    let mut problems = Vec::new();
    let types = column_types(conn, name);
    for c in columns {
        match types.iter().find(|(n, _)| n == c.name) {
            Some((_, t)) if t == c.sql_type => {}
            other => problems.push(format!(
                "{}: created as {other:?}, expected {}",
                c.name, c.sql_type
            )),
        }
    }
    let back = conn
        .query(format!("SELECT * FROM {name} ORDER BY seq"))
        .ttl(Ttl::ZERO)
        .blocking()
        .unwrap();
    for c in columns {
        let column = back.column(c.name).unwrap();
        let got_type = column.data_type().to_string();
        if got_type != c.reads_as {
            problems.push(format!(
                "{}: reads as {got_type}, expected {}",
                c.name, c.reads_as
            ));
        }
        let got = formatted(column.as_ref());
        if got != c.reads {
            problems.push(format!(
                "{}: read back {got:?}, expected {:?}",
                c.name, c.reads
            ));
        }
    }
    problems
}

/// Days from 1970-01-01 to a date.
pub fn days(y: i32, m: u32, d: u32) -> i32 {
    let date = chrono::NaiveDate::from_ymd_opt(y, m, d).unwrap();
    i32::try_from(
        date.signed_duration_since(chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap())
            .num_days(),
    )
    .unwrap()
}

/// Microseconds from 1970-01-01 00:00 to a date and time.
pub fn micros(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32, us: u32) -> i64 {
    chrono::NaiveDate::from_ymd_opt(y, mo, d)
        .unwrap()
        .and_hms_micro_opt(h, mi, s, us)
        .unwrap()
        .and_utc()
        .timestamp_micros()
}

/// Arrow columns used across the matrices, each with a NULL last.
pub mod src {
    use std::sync::Arc;

    use conn_core::arrow;
    use conn_core::arrow::array::*;
    use conn_core::arrow::datatypes::{DataType, Field, i256};

    use super::{days, micros};

    pub fn a(array: impl Array + 'static) -> ArrayRef {
        Arc::new(array)
    }

    pub fn bools() -> ArrayRef {
        a(BooleanArray::from(vec![Some(true), Some(false), None]))
    }
    pub fn i8s() -> ArrayRef {
        a(Int8Array::from(vec![Some(-128), Some(127), None]))
    }
    pub fn i16s() -> ArrayRef {
        a(Int16Array::from(vec![Some(i16::MIN), Some(i16::MAX), None]))
    }
    pub fn i32s() -> ArrayRef {
        a(Int32Array::from(vec![Some(i32::MIN), Some(i32::MAX), None]))
    }
    pub fn i64s() -> ArrayRef {
        a(Int64Array::from(vec![Some(i64::MIN), Some(i64::MAX), None]))
    }
    pub fn small(values: &[i64]) -> ArrayRef {
        let mut v: Vec<Option<i64>> = values.iter().copied().map(Some).collect();
        v.push(None);
        a(Int64Array::from(v))
    }
    pub fn u8s() -> ArrayRef {
        a(UInt8Array::from(vec![Some(0), Some(u8::MAX), None]))
    }
    pub fn u16s() -> ArrayRef {
        a(UInt16Array::from(vec![Some(0), Some(u16::MAX), None]))
    }
    pub fn u32s() -> ArrayRef {
        a(UInt32Array::from(vec![Some(0), Some(u32::MAX), None]))
    }
    pub fn u64s() -> ArrayRef {
        a(UInt64Array::from(vec![Some(0), Some(u64::MAX), None]))
    }
    pub fn f16s() -> ArrayRef {
        let singles = Float32Array::from(vec![Some(1.5), Some(-0.25), None]);
        arrow::compute::cast(&singles, &DataType::Float16).unwrap()
    }
    pub fn f32s(values: &[f32]) -> ArrayRef {
        let mut v: Vec<Option<f32>> = values.iter().copied().map(Some).collect();
        v.push(None);
        a(Float32Array::from(v))
    }
    pub fn f64s(values: &[f64]) -> ArrayRef {
        let mut v: Vec<Option<f64>> = values.iter().copied().map(Some).collect();
        v.push(None);
        a(Float64Array::from(v))
    }
    /// Decimal128 from unscaled values.
    pub fn dec(precision: u8, scale: i8, unscaled: &[i128]) -> ArrayRef {
        let mut v: Vec<Option<i128>> = unscaled.iter().copied().map(Some).collect();
        v.push(None);
        a(Decimal128Array::from(v)
            .with_precision_and_scale(precision, scale)
            .unwrap())
    }
    /// Decimal256 from unscaled values written in decimal.
    pub fn dec256(precision: u8, scale: i8, unscaled: &[&str]) -> ArrayRef {
        let mut v: Vec<Option<i256>> = unscaled
            .iter()
            .map(|s| Some(i256::from_string(s).unwrap()))
            .collect();
        v.push(None);
        a(Decimal256Array::from(v)
            .with_precision_and_scale(precision, scale)
            .unwrap())
    }
    pub fn strs(values: &[&str]) -> ArrayRef {
        let mut v: Vec<Option<&str>> = values.iter().copied().map(Some).collect();
        v.push(None);
        a(StringArray::from(v))
    }
    pub fn large_strs(values: &[&str]) -> ArrayRef {
        let mut v: Vec<Option<&str>> = values.iter().copied().map(Some).collect();
        v.push(None);
        a(LargeStringArray::from(v))
    }
    pub fn view_strs(values: &[&str]) -> ArrayRef {
        let mut v: Vec<Option<&str>> = values.iter().copied().map(Some).collect();
        v.push(None);
        a(StringViewArray::from(v))
    }
    pub fn dictionary(values: &[&str]) -> ArrayRef {
        let mut v: Vec<Option<&str>> = values.iter().copied().map(Some).collect();
        v.push(None);
        let dict: DictionaryArray<arrow::datatypes::Int8Type> = v.into_iter().collect();
        a(dict)
    }
    pub fn bins(values: &[&[u8]]) -> ArrayRef {
        let mut v: Vec<Option<&[u8]>> = values.iter().copied().map(Some).collect();
        v.push(None);
        a(BinaryArray::from(v))
    }
    pub fn large_bins(values: &[&[u8]]) -> ArrayRef {
        let mut v: Vec<Option<&[u8]>> = values.iter().copied().map(Some).collect();
        v.push(None);
        a(LargeBinaryArray::from(v))
    }
    pub fn view_bins(values: &[&[u8]]) -> ArrayRef {
        let mut v: Vec<Option<&[u8]>> = values.iter().copied().map(Some).collect();
        v.push(None);
        a(BinaryViewArray::from(v))
    }
    pub fn fixed(size: i32, values: &[&[u8]]) -> ArrayRef {
        let mut v: Vec<Option<&[u8]>> = values.iter().copied().map(Some).collect();
        v.push(None);
        a(FixedSizeBinaryArray::try_from_sparse_iter_with_size(v.into_iter(), size).unwrap())
    }
    pub const UUID: [u8; 16] = [
        0xa0, 0xee, 0xbc, 0x99, 0x9c, 0x0b, 0x4e, 0xf8, 0xbb, 0x6d, 0x6b, 0xb9, 0xbd, 0x38, 0x0a,
        0x11,
    ];
    pub fn uuids() -> ArrayRef {
        fixed(16, &[&UUID])
    }
    pub fn dates32() -> ArrayRef {
        a(Date32Array::from(vec![
            Some(days(2024, 2, 29)),
            Some(-1),
            None,
        ]))
    }
    pub fn dates64() -> ArrayRef {
        a(Date64Array::from(vec![
            Some(i64::from(days(2024, 2, 29)) * 86_400_000),
            Some(-86_400_000),
            None,
        ]))
    }
    /// 13:14:15 plus `micros` microseconds.
    fn time_us(micros: i64) -> i64 {
        (13 * 3600 + 14 * 60 + 15) * 1_000_000 + micros
    }
    pub fn times32_s() -> ArrayRef {
        a(Time32SecondArray::from(vec![
            Some(13 * 3600 + 14 * 60 + 15),
            None,
        ]))
    }
    pub fn times32_ms() -> ArrayRef {
        a(Time32MillisecondArray::from(vec![
            Some((13 * 3600 + 14 * 60 + 15) * 1000 + 123),
            None,
        ]))
    }
    pub fn times64_us() -> ArrayRef {
        a(Time64MicrosecondArray::from(vec![
            Some(time_us(123_456)),
            None,
        ]))
    }
    pub fn times64_ns(extra_nanos: i64) -> ArrayRef {
        a(Time64NanosecondArray::from(vec![
            Some(time_us(123_456) * 1000 + extra_nanos),
            None,
        ]))
    }
    /// 2024-02-29 13:14:15.5 as `unit`, with an optional zone.
    pub fn stamps(unit: &str, zone: Option<&str>) -> ArrayRef {
        let us = micros(2024, 2, 29, 13, 14, 15, 500_000);
        let array: ArrayRef =
            match unit {
                "s" => a(TimestampSecondArray::from(vec![Some(us / 1_000_000), None])
                    .with_timezone_opt(zone)),
                "ms" => a(TimestampMillisecondArray::from(vec![Some(us / 1000), None])
                    .with_timezone_opt(zone)),
                "us" => a(
                    TimestampMicrosecondArray::from(vec![Some(us), None]).with_timezone_opt(zone)
                ),
                _ => a(TimestampNanosecondArray::from(vec![Some(us * 1000), None])
                    .with_timezone_opt(zone)),
            };
        array
    }
    pub fn stamps_ns_with_nanos() -> ArrayRef {
        let us = micros(2024, 2, 29, 13, 14, 15, 500_000);
        a(TimestampNanosecondArray::from(vec![
            Some(us * 1000 + 7),
            None,
        ]))
    }
    pub fn stamps_us(values: &[i64], zone: Option<&str>) -> ArrayRef {
        let mut v: Vec<Option<i64>> = values.iter().copied().map(Some).collect();
        v.push(None);
        a(TimestampMicrosecondArray::from(v).with_timezone_opt(zone))
    }
    /// 1 year 2 months 3 days 04:05:06 (and `extra_nanos`).
    pub fn intervals(extra_nanos: i64) -> ArrayRef {
        a(IntervalMonthDayNanoArray::from(vec![
            Some(arrow::datatypes::IntervalMonthDayNano::new(
                14,
                3,
                14_706_000_000_000 + extra_nanos,
            )),
            None,
        ]))
    }
    pub fn intervals_year_month() -> ArrayRef {
        a(IntervalYearMonthArray::from(vec![Some(14), None]))
    }
    pub fn intervals_day_time() -> ArrayRef {
        a(IntervalDayTimeArray::from(vec![
            Some(arrow::datatypes::IntervalDayTime::new(3, 1500)),
            None,
        ]))
    }
    pub fn durations() -> ArrayRef {
        a(DurationMicrosecondArray::from(vec![
            Some(90_061_000_001),
            None,
        ]))
    }
    pub fn int_lists() -> ArrayRef {
        a(ListArray::from_iter_primitive::<
            arrow::datatypes::Int32Type,
            _,
            _,
        >(vec![
            Some(vec![Some(1), None, Some(3)]),
            Some(vec![]),
            None,
        ]))
    }
    pub fn big_int_lists() -> ArrayRef {
        a(ListArray::from_iter_primitive::<
            arrow::datatypes::Int64Type,
            _,
            _,
        >(vec![Some(vec![Some(1), Some(1 << 40)]), None]))
    }
    pub fn text_lists() -> ArrayRef {
        let values = StringArray::from(vec![Some("a"), None, Some("b c")]);
        let offsets = arrow::buffer::OffsetBuffer::new(vec![0, 3, 3].into());
        a(ListArray::new(
            Arc::new(Field::new_list_field(DataType::Utf8, true)),
            offsets,
            Arc::new(values),
            Some(vec![true, false].into()),
        ))
    }
    pub fn decimal_lists() -> ArrayRef {
        let values = Decimal128Array::from(vec![Some(12345), Some(-5)])
            .with_precision_and_scale(10, 2)
            .unwrap();
        let offsets = arrow::buffer::OffsetBuffer::new(vec![0, 2, 2].into());
        a(ListArray::new(
            Arc::new(Field::new_list_field(DataType::Decimal128(10, 2), true)),
            offsets,
            Arc::new(values),
            Some(vec![true, false].into()),
        ))
    }
    pub fn nulls(n: usize) -> ArrayRef {
        a(NullArray::new(n))
    }
}
