//! Column builders fed decoded Rust values, for the MySQL driver, and the date and time
//! conversions every driver shares.

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
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
