//! Column builders fed decoded Rust values, for the MySQL and SQLite drivers.

// Shared by the MySQL and SQLite decoders (and the date helpers by PostgreSQL's
// parameters): a build with only some drivers leaves the others' parts unused.
#![cfg_attr(
    not(all(feature = "postgres", feature = "mysql", feature = "sqlite")),
    allow(dead_code)
)]

use std::sync::Arc;

use arrow::array::{
    ArrayRef, BinaryBuilder, BooleanBuilder, Date32Builder, Float32Builder, Float64Builder,
    Int8Builder, Int16Builder, Int32Builder, Int64Builder, NullArray, StringBuilder,
    Time64MicrosecondBuilder, TimestampMicrosecondBuilder, UInt8Builder, UInt16Builder,
    UInt32Builder, UInt64Builder,
};
use arrow::datatypes::{DataType, Field, TimeUnit};
use chrono::{NaiveDate, NaiveDateTime, NaiveTime, Timelike};

use std::fmt::Write;

use super::ColumnDecoder;
use super::decimal::DecimalColumn;
use super::unify::exact_float;

/// Days from 0001-01-01 (CE day 1) to 1970-01-01.
const UNIX_EPOCH_DAYS_FROM_CE: i32 = 719_163;

pub(crate) fn date_to_days(date: NaiveDate) -> i32 {
    chrono::Datelike::num_days_from_ce(&date) - UNIX_EPOCH_DAYS_FROM_CE
}

pub(crate) fn time_to_micros(time: NaiveTime) -> i64 {
    i64::from(time.num_seconds_from_midnight()) * 1_000_000 + i64::from(time.nanosecond() / 1000)
}

pub(crate) fn datetime_to_micros(datetime: NaiveDateTime) -> i64 {
    datetime.and_utc().timestamp_micros()
}

/// A column of decoded values.
#[derive(Debug)]
pub(crate) enum Builder {
    Null(usize),
    Bool(BooleanBuilder),
    Int8(Int8Builder),
    Int16(Int16Builder),
    Int32(Int32Builder),
    Int64(Int64Builder),
    UInt8(UInt8Builder),
    UInt16(UInt16Builder),
    UInt32(UInt32Builder),
    UInt64(UInt64Builder),
    Float32(Float32Builder),
    Float64(Float64Builder),
    Decimal(DecimalColumn),
    Text(StringBuilder),
    Json(StringBuilder),
    Binary(BinaryBuilder),
    Date(Date32Builder),
    Time(Time64MicrosecondBuilder),
    Timestamp(TimestampMicrosecondBuilder),
    TimestampUtc(TimestampMicrosecondBuilder),
    Dynamic(DynamicColumn),
}

impl Builder {
    pub(crate) fn timestamp_utc() -> Builder {
        Builder::TimestampUtc(TimestampMicrosecondBuilder::new().with_timezone("UTC"))
    }

    fn data_type(&self) -> DataType {
        match self {
            Builder::Null(_) => DataType::Null,
            Builder::Bool(_) => DataType::Boolean,
            Builder::Int8(_) => DataType::Int8,
            Builder::Int16(_) => DataType::Int16,
            Builder::Int32(_) => DataType::Int32,
            Builder::Int64(_) => DataType::Int64,
            Builder::UInt8(_) => DataType::UInt8,
            Builder::UInt16(_) => DataType::UInt16,
            Builder::UInt32(_) => DataType::UInt32,
            Builder::UInt64(_) => DataType::UInt64,
            Builder::Float32(_) => DataType::Float32,
            Builder::Float64(_) => DataType::Float64,
            Builder::Decimal(c) => c.data_type(),
            Builder::Text(_) | Builder::Json(_) => DataType::Utf8,
            Builder::Binary(_) => DataType::Binary,
            Builder::Date(_) => DataType::Date32,
            Builder::Time(_) => DataType::Time64(TimeUnit::Microsecond),
            Builder::Timestamp(_) => DataType::Timestamp(TimeUnit::Microsecond, None),
            Builder::TimestampUtc(_) => {
                DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
            }
            Builder::Dynamic(c) => c.data_type(),
        }
    }
}

impl ColumnDecoder for Builder {
    fn field(&self, name: &str) -> Field {
        let field = Field::new(name, self.data_type(), true);
        match self {
            Builder::Json(_) => field.with_metadata(
                [("ARROW:extension:name".to_owned(), "arrow.json".to_owned())]
                    .into_iter()
                    .collect(),
            ),
            _ => field,
        }
    }

    fn finish(&mut self, first_row: usize) -> Result<ArrayRef, String> {
        let row = |i: usize| first_row + i;
        Ok(match self {
            Builder::Null(n) => Arc::new(NullArray::new(std::mem::take(n))),
            Builder::Bool(b) => Arc::new(b.finish()),
            Builder::Int8(b) => Arc::new(b.finish()),
            Builder::Int16(b) => Arc::new(b.finish()),
            Builder::Int32(b) => Arc::new(b.finish()),
            Builder::Int64(b) => Arc::new(b.finish()),
            Builder::UInt8(b) => Arc::new(b.finish()),
            Builder::UInt16(b) => Arc::new(b.finish()),
            Builder::UInt32(b) => Arc::new(b.finish()),
            Builder::UInt64(b) => Arc::new(b.finish()),
            Builder::Float32(b) => Arc::new(b.finish()),
            Builder::Float64(b) => Arc::new(b.finish()),
            Builder::Decimal(c) => c.finish(&row)?,
            Builder::Text(b) | Builder::Json(b) => Arc::new(b.finish()),
            Builder::Binary(b) => Arc::new(b.finish()),
            Builder::Date(b) => Arc::new(b.finish()),
            Builder::Time(b) => Arc::new(b.finish()),
            Builder::Timestamp(b) | Builder::TimestampUtc(b) => Arc::new(b.finish()),
            Builder::Dynamic(c) => c.finish(first_row)?,
        })
    }

    fn settled_type(&self) -> Option<DataType> {
        match self {
            Builder::Dynamic(c) => Some(c.data_type()),
            _ => None,
        }
    }
}

/// One SQLite value, whatever its storage class.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum DynamicValue {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
}

/// The Arrow type a dynamic column settles on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Settled {
    Null,
    Int,
    Real,
    Text,
    Blob,
}

impl Settled {
    fn data_type(self) -> DataType {
        match self {
            Settled::Null => DataType::Null,
            Settled::Int => DataType::Int64,
            Settled::Real => DataType::Float64,
            Settled::Text => DataType::Utf8,
            Settled::Blob => DataType::Binary,
        }
    }
}

/// The first row holding each storage class (and each troublesome value) over the
/// whole result so far: the column's type follows from it.
#[derive(Debug, Default, Clone)]
struct Seen {
    int: Option<usize>,
    real: Option<(usize, f64)>,
    text: Option<usize>,
    blob: Option<usize>,
    /// An integer a `Float64` cannot hold exactly (beyond 2^53).
    inexact_int: Option<(usize, i64)>,
    /// A blob that is not valid UTF-8.
    binary_blob: Option<usize>,
}

impl Seen {
    #[inline]
    fn record(&mut self, row: usize, value: &DynamicValue) {
        match value {
            DynamicValue::Null => {}
            DynamicValue::Int(i) => {
                self.int.get_or_insert(row);
                if self.inexact_int.is_none() && exact_float(*i).is_none() {
                    self.inexact_int = Some((row, *i));
                }
            }
            DynamicValue::Real(f) => {
                self.real.get_or_insert((row, *f));
            }
            DynamicValue::Text(_) => {
                self.text.get_or_insert(row);
            }
            DynamicValue::Blob(bytes) => {
                self.blob.get_or_insert(row);
                if self.binary_blob.is_none() && std::str::from_utf8(bytes).is_err() {
                    self.binary_blob = Some(row);
                }
            }
        }
    }

    /// The type every value seen fits without change, or why there is none.
    fn settle(&self, declared: Settled) -> Result<Settled, String> {
        // The number seen first, to name in a conflict with blobs.
        let number = match (self.int, self.real) {
            (Some(i), Some((r, _))) if r < i => Some((r, "a REAL")),
            (Some(i), _) => Some((i, "an INTEGER")),
            (None, Some((r, _))) => Some((r, "a REAL")),
            (None, None) => None,
        };
        if let (Some(blob), Some((number, kind))) = (self.blob, number) {
            return Err(conflict(
                (blob, "a BLOB"),
                (number, kind),
                "no Arrow type holds both unchanged; convert the column in the query, for \
                 example with hex() or CAST(... AS TEXT)",
            ));
        }
        if let (Some(blob), Some(text)) = (self.binary_blob, self.text) {
            return Err(conflict(
                (blob, "a BLOB that is not valid UTF-8"),
                (text, "TEXT"),
                "a text column cannot hold those bytes unchanged; convert the column in the \
                 query, for example with hex()",
            ));
        }
        if self.text.is_some() {
            return Ok(Settled::Text);
        }
        if self.blob.is_some() {
            return Ok(Settled::Blob);
        }
        match (self.int, self.real, self.inexact_int) {
            (Some(_), Some((real, value)), Some((int, i))) => Err(conflict(
                (int, &format!("the INTEGER {i}")),
                (real, &format!("the REAL {value}")),
                "a REAL (Float64) column cannot hold that integer exactly (only up to \
                 2^53); cast the column in the query, to TEXT for example",
            )),
            (_, Some(_), _) => Ok(Settled::Real),
            (Some(_), None, _) => Ok(Settled::Int),
            (None, None, _) => Ok(declared),
        }
    }
}

/// The message for two rows whose values no one type holds, the later row first.
fn conflict(a: (usize, &str), b: (usize, &str), advice: &str) -> String {
    let (later, earlier) = if a.0 >= b.0 { (a, b) } else { (b, a) };
    format!(
        "row {} holds {} but row {} holds {}: {advice}",
        later.0, later.1, earlier.0, earlier.1
    )
}

/// A column whose type comes from its values (SQLite's columns are dynamically typed):
/// integers stay integers, integers mixed with reals become floats when every integer
/// is exact, numbers mixed with text become text, blobs mixed with text become text when
/// every blob is UTF-8. The type is settled over every value of the result: a batch is
/// built with the type settled so far, and earlier batches are widened at the end.
#[derive(Debug)]
pub(crate) struct DynamicColumn {
    values: Vec<DynamicValue>,
    declared: Settled,
    seen: Seen,
    settled: Settled,
}

impl DynamicColumn {
    /// A column declared `INTEGER`, `REAL`, `TEXT` or `BLOB` (the type an all-NULL
    /// result gets); anything else is `Null` until values come.
    pub(crate) fn declared(affinity: &str) -> Self {
        let declared = match affinity {
            "INTEGER" => Settled::Int,
            "REAL" => Settled::Real,
            "TEXT" => Settled::Text,
            "BLOB" => Settled::Blob,
            _ => Settled::Null,
        };
        DynamicColumn {
            values: Vec::new(),
            declared,
            seen: Seen::default(),
            settled: declared,
        }
    }

    pub(crate) fn push(&mut self, value: DynamicValue) {
        self.values.push(value);
    }

    /// The type settled over every value so far.
    fn data_type(&self) -> DataType {
        self.settled.data_type()
    }

    /// The batch, at the type settled over every value so far (an error when no type
    /// holds them all unchanged).
    fn finish(&mut self, first_row: usize) -> Result<ArrayRef, String> {
        let values = std::mem::take(&mut self.values);
        for (index, value) in values.iter().enumerate() {
            self.seen.record(first_row + index, value);
        }
        self.settled = self.seen.settle(self.declared)?;
        let unexpected = |index: usize| {
            format!(
                "row {} holds a value that does not fit the column's settled type",
                first_row + index
            )
        };
        Ok(match self.settled {
            Settled::Null => Arc::new(NullArray::new(values.len())),
            Settled::Int => {
                let mut b = Int64Builder::with_capacity(values.len());
                for (index, v) in values.into_iter().enumerate() {
                    match v {
                        DynamicValue::Int(i) => b.append_value(i),
                        DynamicValue::Null => b.append_null(),
                        _ => return Err(unexpected(index)),
                    }
                }
                Arc::new(b.finish())
            }
            Settled::Real => {
                let mut b = Float64Builder::with_capacity(values.len());
                for (index, v) in values.into_iter().enumerate() {
                    match v {
                        DynamicValue::Int(i) => {
                            b.append_value(exact_float(i).ok_or_else(|| unexpected(index))?);
                        }
                        DynamicValue::Real(f) => b.append_value(f),
                        DynamicValue::Null => b.append_null(),
                        _ => return Err(unexpected(index)),
                    }
                }
                Arc::new(b.finish())
            }
            Settled::Text => {
                let mut b = StringBuilder::with_capacity(values.len(), values.len() * 8);
                for (index, v) in values.into_iter().enumerate() {
                    match v {
                        DynamicValue::Null => b.append_null(),
                        // Integers as written; reals in Rust's shortest round-trip form.
                        DynamicValue::Int(i) => {
                            write!(b, "{i}").map_err(|_| unexpected(index))?;
                            b.append_value("");
                        }
                        DynamicValue::Real(f) => {
                            write!(b, "{f}").map_err(|_| unexpected(index))?;
                            b.append_value("");
                        }
                        DynamicValue::Text(t) => b.append_value(t),
                        DynamicValue::Blob(bytes) => b.append_value(
                            std::str::from_utf8(&bytes).map_err(|_| unexpected(index))?,
                        ),
                    }
                }
                Arc::new(b.finish())
            }
            Settled::Blob => {
                let mut b = BinaryBuilder::new();
                for (index, v) in values.into_iter().enumerate() {
                    match v {
                        DynamicValue::Blob(bytes) => b.append_value(bytes),
                        DynamicValue::Null => b.append_null(),
                        _ => return Err(unexpected(index)),
                    }
                }
                Arc::new(b.finish())
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use arrow::array::{Array, AsArray};

    use super::*;

    impl DynamicColumn {
        fn settled_type_for_tests(&self) -> DataType {
            self.data_type()
        }
    }

    fn column(values: Vec<DynamicValue>) -> DynamicColumn {
        let mut column = DynamicColumn::declared("");
        for v in values {
            column.push(v);
        }
        column
    }

    #[test]
    fn dynamic_columns_settle_on_the_widest_type() {
        let mut c = column(vec![
            DynamicValue::Int(1),
            DynamicValue::Null,
            DynamicValue::Real(2.5),
        ]);
        let array = c.finish(0).unwrap();
        assert_eq!(array.data_type(), &DataType::Float64);
        assert!(array.is_null(1));
        c.push(DynamicValue::Text("a".into()));
        assert_eq!(c.finish(3).unwrap().data_type(), &DataType::Utf8);
        assert_eq!(
            c.settled_type_for_tests(),
            DataType::Utf8,
            "settled over every batch"
        );

        let mut mixed = column(vec![DynamicValue::Real(0.1), DynamicValue::Int(-7)]);
        mixed.push(DynamicValue::Text("a".into()));
        mixed.push(DynamicValue::Real(1e21));
        let array = mixed.finish(0).unwrap();
        let texts: Vec<_> = array.as_string::<i32>().iter().flatten().collect();
        assert_eq!(texts, vec!["0.1", "-7", "a", "1000000000000000000000"]);
        let mut blobs = column(vec![DynamicValue::Blob("é".as_bytes().to_vec())]);
        assert_eq!(blobs.finish(0).unwrap().data_type(), &DataType::Binary);
        blobs.push(DynamicValue::Text("t".into()));
        let texts = blobs.finish(1).unwrap();
        assert_eq!(texts.as_string::<i32>().value(0), "t");
        assert_eq!(blobs.settled_type_for_tests(), DataType::Utf8);
    }

    #[test]
    fn all_null_columns_take_the_declared_type() {
        let mut declared = DynamicColumn::declared("INTEGER");
        declared.push(DynamicValue::Null);
        assert_eq!(declared.finish(0).unwrap().data_type(), &DataType::Int64);
        let mut undeclared = column(vec![DynamicValue::Null]);
        assert_eq!(undeclared.finish(0).unwrap().data_type(), &DataType::Null);
        undeclared.push(DynamicValue::Blob(vec![0xff]));
        assert_eq!(undeclared.finish(1).unwrap().data_type(), &DataType::Binary);
    }

    #[test]
    fn conflicts_name_both_rows_and_kinds() {
        let mut big = column(vec![DynamicValue::Int((1 << 53) + 1)]);
        assert_eq!(big.finish(0).unwrap().data_type(), &DataType::Int64);
        big.push(DynamicValue::Null);
        big.push(DynamicValue::Real(4.5));
        assert_eq!(
            big.finish(70_000).unwrap_err(),
            "row 70001 holds the REAL 4.5 but row 0 holds the INTEGER 9007199254740993: a \
             REAL (Float64) column cannot hold that integer exactly (only up to 2^53); cast \
             the column in the query, to TEXT for example"
        );
        let mut blob = column(vec![DynamicValue::Real(1.5), DynamicValue::Blob(vec![1])]);
        let err = blob.finish(10).unwrap_err();
        assert!(
            err.starts_with("row 11 holds a BLOB but row 10 holds a REAL: no Arrow type"),
            "{err}"
        );
        let mut bytes = column(vec![
            DynamicValue::Blob(vec![0xff]),
            DynamicValue::Text("t".into()),
        ]);
        let err = bytes.finish(0).unwrap_err();
        assert!(
            err.starts_with("row 1 holds TEXT but row 0 holds a BLOB that is not valid UTF-8"),
            "{err}"
        );
    }

    #[test]
    fn dates_and_times_to_arrow_units() {
        let date = NaiveDate::from_ymd_opt(1970, 1, 2).unwrap();
        assert_eq!(date_to_days(date), 1);
        let time = NaiveTime::from_hms_micro_opt(1, 0, 0, 5).unwrap();
        assert_eq!(time_to_micros(time), 3_600_000_005);
        let dt = date.and_time(time);
        assert_eq!(datetime_to_micros(dt), 86_400_000_000 + 3_600_000_005);
    }
}
