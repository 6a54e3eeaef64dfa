//! Column builders fed decoded Rust values, for the MySQL and SQLite drivers.

use std::sync::Arc;

use arrow::array::{
    ArrayRef, BinaryBuilder, BooleanBuilder, Date32Builder, Float32Builder, Float64Builder,
    Int8Builder, Int16Builder, Int32Builder, Int64Builder, NullArray, StringBuilder,
    Time64MicrosecondBuilder, TimestampMicrosecondBuilder, UInt8Builder, UInt16Builder,
    UInt32Builder, UInt64Builder,
};
use arrow::datatypes::{DataType, Field, TimeUnit};
use chrono::{NaiveDate, NaiveDateTime, NaiveTime, Timelike};

use super::ColumnDecoder;
use super::decimal::DecimalColumn;

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

    pub(crate) fn append_null(&mut self) {
        match self {
            Builder::Null(n) => *n += 1,
            Builder::Bool(b) => b.append_null(),
            Builder::Int8(b) => b.append_null(),
            Builder::Int16(b) => b.append_null(),
            Builder::Int32(b) => b.append_null(),
            Builder::Int64(b) => b.append_null(),
            Builder::UInt8(b) => b.append_null(),
            Builder::UInt16(b) => b.append_null(),
            Builder::UInt32(b) => b.append_null(),
            Builder::UInt64(b) => b.append_null(),
            Builder::Float32(b) => b.append_null(),
            Builder::Float64(b) => b.append_null(),
            Builder::Decimal(c) => c.push(None),
            Builder::Text(b) | Builder::Json(b) => b.append_null(),
            Builder::Binary(b) => b.append_null(),
            Builder::Date(b) => b.append_null(),
            Builder::Time(b) => b.append_null(),
            Builder::Timestamp(b) | Builder::TimestampUtc(b) => b.append_null(),
            Builder::Dynamic(c) => c.values.push(DynamicValue::Null),
        }
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

    fn finish(&mut self) -> Result<ArrayRef, String> {
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
            Builder::Decimal(c) => c.finish()?,
            Builder::Text(b) | Builder::Json(b) => Arc::new(b.finish()),
            Builder::Binary(b) => Arc::new(b.finish()),
            Builder::Date(b) => Arc::new(b.finish()),
            Builder::Time(b) => Arc::new(b.finish()),
            Builder::Timestamp(b) | Builder::TimestampUtc(b) => Arc::new(b.finish()),
            Builder::Dynamic(c) => c.finish(),
        })
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

/// A column whose type comes from its values (SQLite expressions have no declared
/// type): integers stay integers, integers mixed with reals become floats, anything
/// mixed with text becomes text. The first batch fixes the type for the rest.
#[derive(Debug, Default)]
pub(crate) struct DynamicColumn {
    values: Vec<DynamicValue>,
    settled: Option<Settled>,
    declared: Option<Settled>,
}

impl DynamicColumn {
    /// A column declared `INTEGER`, `REAL`, `TEXT` or `BLOB` (the type an empty or
    /// all-NULL result gets, and the starting point for widening).
    pub(crate) fn declared(affinity: &str) -> Self {
        let declared = match affinity {
            "INTEGER" => Some(Settled::Int),
            "REAL" => Some(Settled::Real),
            "TEXT" => Some(Settled::Text),
            "BLOB" => Some(Settled::Blob),
            _ => None,
        };
        DynamicColumn {
            declared,
            ..DynamicColumn::default()
        }
    }

    pub(crate) fn push(&mut self, value: DynamicValue) {
        self.values.push(value);
    }

    fn settle(&self) -> Settled {
        if let Some(settled) = self.settled {
            return settled;
        }
        let mut settled = self.declared.unwrap_or(Settled::Null);
        for value in &self.values {
            settled = match (settled, value) {
                (s, DynamicValue::Null) => s,
                (Settled::Null | Settled::Int, DynamicValue::Int(_)) => Settled::Int,
                (Settled::Null | Settled::Int | Settled::Real, DynamicValue::Real(_))
                | (Settled::Real, DynamicValue::Int(_)) => Settled::Real,
                (Settled::Null | Settled::Blob, DynamicValue::Blob(_)) => Settled::Blob,
                _ => Settled::Text,
            };
        }
        settled
    }

    fn data_type(&self) -> DataType {
        match self.settle() {
            Settled::Null => DataType::Null,
            Settled::Int => DataType::Int64,
            Settled::Real => DataType::Float64,
            Settled::Text => DataType::Utf8,
            Settled::Blob => DataType::Binary,
        }
    }

    #[allow(clippy::cast_precision_loss)]
    fn finish(&mut self) -> ArrayRef {
        let settled = self.settle();
        self.settled = Some(settled);
        let values = std::mem::take(&mut self.values);
        match settled {
            Settled::Null => Arc::new(NullArray::new(values.len())),
            Settled::Int => {
                let mut b = Int64Builder::with_capacity(values.len());
                for v in values {
                    match v {
                        DynamicValue::Int(i) => b.append_value(i),
                        _ => b.append_null(),
                    }
                }
                Arc::new(b.finish())
            }
            Settled::Real => {
                let mut b = Float64Builder::with_capacity(values.len());
                for v in values {
                    match v {
                        DynamicValue::Int(i) => b.append_value(i as f64),
                        DynamicValue::Real(f) => b.append_value(f),
                        _ => b.append_null(),
                    }
                }
                Arc::new(b.finish())
            }
            Settled::Text => {
                let mut b = StringBuilder::new();
                for v in values {
                    match v {
                        DynamicValue::Null => b.append_null(),
                        DynamicValue::Int(i) => b.append_value(i.to_string()),
                        DynamicValue::Real(f) => b.append_value(f.to_string()),
                        DynamicValue::Text(t) => b.append_value(t),
                        DynamicValue::Blob(bytes) => {
                            b.append_value(String::from_utf8_lossy(&bytes));
                        }
                    }
                }
                Arc::new(b.finish())
            }
            Settled::Blob => {
                let mut b = BinaryBuilder::new();
                for v in values {
                    match v {
                        DynamicValue::Blob(bytes) => b.append_value(bytes),
                        _ => b.append_null(),
                    }
                }
                Arc::new(b.finish())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use arrow::array::Array;

    use super::*;

    #[test]
    fn dynamic_columns_settle_on_the_widest_type() {
        let mut column = DynamicColumn::default();
        column.push(DynamicValue::Int(1));
        column.push(DynamicValue::Null);
        column.push(DynamicValue::Real(2.5));
        let array = column.finish();
        assert_eq!(array.data_type(), &DataType::Float64);
        assert!(array.is_null(1));
        column.push(DynamicValue::Int(3));
        assert_eq!(
            column.finish().data_type(),
            &DataType::Float64,
            "fixed by the first batch"
        );

        let mut mixed = DynamicColumn::default();
        mixed.push(DynamicValue::Int(1));
        mixed.push(DynamicValue::Text("a".into()));
        assert_eq!(mixed.finish().data_type(), &DataType::Utf8);
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
