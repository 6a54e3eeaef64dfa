//! SQLite values to Arrow columns.
//!
//! A column declared BOOLEAN, DATE, TIME or DATETIME (or TIMESTAMP) becomes that Arrow
//! type; any other column takes its type from its values ([`dynamic`]), since SQLite's
//! columns are dynamically typed. The declared type is read as sqlx reads it (conn read
//! SQLite through sqlx's row API before reading the statement directly), so the types
//! of a result did not change with the reader.

pub(crate) mod datetime;
pub(crate) mod dynamic;

use arrow::array::{
    ArrayRef, BooleanBuilder, Date32Builder, Time64MicrosecondBuilder, TimestampMicrosecondBuilder,
};
use arrow::datatypes::{DataType, Field, TimeUnit};
use std::sync::Arc;

use super::ColumnDecoder;
use dynamic::{DynamicColumn, Settled};

/// One value as SQLite stores it, borrowed from the statement.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum SqliteValue<'a> {
    Null,
    Integer(i64),
    Real(f64),
    /// Text, checked to be UTF-8.
    Text(&'a str),
    Blob(&'a [u8]),
}

impl<'a> SqliteValue<'a> {
    /// A text value from its bytes: an error (what the value holds) when they are not
    /// UTF-8, which no Arrow text can hold unchanged.
    pub(crate) fn text(bytes: &'a [u8]) -> Result<Self, String> {
        std::str::from_utf8(bytes)
            .map(SqliteValue::Text)
            .map_err(|_| {
                "holds TEXT that is not valid UTF-8; cast the column to BLOB in the query"
                    .to_owned()
            })
    }

    /// The storage class, for messages.
    fn class(&self) -> &'static str {
        match self {
            SqliteValue::Null => "NULL",
            SqliteValue::Integer(_) => "an INTEGER",
            SqliteValue::Real(_) => "a REAL",
            SqliteValue::Text(_) => "TEXT",
            SqliteValue::Blob(_) => "a BLOB",
        }
    }
}

/// The Arrow column of one result column, by its declared type.
#[derive(Debug)]
pub(crate) enum SqliteColumn {
    Bool(BooleanBuilder),
    Date(Date32Builder),
    Time(Time64MicrosecondBuilder),
    Timestamp(TimestampMicrosecondBuilder),
    Dynamic(DynamicColumn),
}

impl SqliteColumn {
    /// The column for a declared type (`None` for an expression), read as sqlx reads
    /// it: `BOOLEAN`/`BOOL`, `DATE`, `TIME`, `DATETIME`/`TIMESTAMP` are typed; a name
    /// containing `INT` declares integers, `CHAR`/`CLOB`/`TEXT` text, `BLOB` blobs,
    /// `REAL`/`FLOA`/`DOUB` reals (the type an all-NULL result gets); anything else
    /// (`NUMERIC`, `DECIMAL(12, 2)`) takes its type from the values only.
    pub(crate) fn declared(declared: Option<&str>) -> Self {
        let lower = declared.map(str::to_ascii_lowercase).unwrap_or_default();
        let dynamic = |settled| SqliteColumn::Dynamic(DynamicColumn::declared(settled));
        match lower.as_str() {
            "boolean" | "bool" => SqliteColumn::Bool(BooleanBuilder::new()),
            "date" => SqliteColumn::Date(Date32Builder::new()),
            "time" => SqliteColumn::Time(Time64MicrosecondBuilder::new()),
            "datetime" | "timestamp" => SqliteColumn::Timestamp(TimestampMicrosecondBuilder::new()),
            "int4" | "int8" => dynamic(Settled::Int),
            s if s.contains("int") => dynamic(Settled::Int),
            s if s.contains("char") || s.contains("clob") || s.contains("text") => {
                dynamic(Settled::Text)
            }
            s if s.contains("blob") => dynamic(Settled::Blob),
            s if s.contains("real") || s.contains("floa") || s.contains("doub") => {
                dynamic(Settled::Real)
            }
            _ => dynamic(Settled::Null),
        }
    }

    /// Appends one value; the error says what the value holds.
    #[inline]
    pub(crate) fn append(&mut self, value: SqliteValue<'_>) -> Result<(), String> {
        match (self, value) {
            (SqliteColumn::Dynamic(c), value) => c.push(value),
            (SqliteColumn::Bool(b), SqliteValue::Null) => b.append_null(),
            (SqliteColumn::Date(b), SqliteValue::Null) => b.append_null(),
            (SqliteColumn::Time(b), SqliteValue::Null) => b.append_null(),
            (SqliteColumn::Timestamp(b), SqliteValue::Null) => b.append_null(),
            // SQLite has no booleans: a BOOLEAN column holds 0 and 1; anything else is
            // not a boolean (never read as `true`).
            (SqliteColumn::Bool(b), SqliteValue::Integer(0)) => b.append_value(false),
            (SqliteColumn::Bool(b), SqliteValue::Integer(1)) => b.append_value(true),
            (SqliteColumn::Bool(_), SqliteValue::Integer(other)) => {
                return Err(format!(
                    "holds the INTEGER {other} in a BOOLEAN column, which holds 0 or 1; cast \
                     the column in the query"
                ));
            }
            (SqliteColumn::Date(b), SqliteValue::Text(text)) => {
                b.append_value(datetime::date_days(text)?);
            }
            (SqliteColumn::Time(b), SqliteValue::Text(text)) => {
                b.append_value(datetime::time_micros(text)?);
            }
            (SqliteColumn::Timestamp(b), SqliteValue::Text(text)) => {
                b.append_value(datetime::datetime_text_micros(text)?);
            }
            (SqliteColumn::Timestamp(b), SqliteValue::Integer(seconds)) => {
                b.append_value(datetime::datetime_seconds_micros(seconds)?);
            }
            (SqliteColumn::Timestamp(b), SqliteValue::Real(day)) => {
                b.append_value(datetime::datetime_julian_micros(day)?);
            }
            (column, value) => {
                return Err(format!(
                    "holds {} in a {} column; cast the column in the query",
                    value.class(),
                    column.declared_name()
                ));
            }
        }
        Ok(())
    }

    fn declared_name(&self) -> &'static str {
        match self {
            SqliteColumn::Bool(_) => "BOOLEAN",
            SqliteColumn::Date(_) => "DATE",
            SqliteColumn::Time(_) => "TIME",
            SqliteColumn::Timestamp(_) => "DATETIME",
            SqliteColumn::Dynamic(_) => "dynamically typed",
        }
    }

    fn data_type(&self) -> DataType {
        match self {
            SqliteColumn::Bool(_) => DataType::Boolean,
            SqliteColumn::Date(_) => DataType::Date32,
            SqliteColumn::Time(_) => DataType::Time64(TimeUnit::Microsecond),
            SqliteColumn::Timestamp(_) => DataType::Timestamp(TimeUnit::Microsecond, None),
            SqliteColumn::Dynamic(c) => c.data_type(),
        }
    }
}

impl ColumnDecoder for SqliteColumn {
    fn field(&self, name: &str) -> Field {
        Field::new(name, self.data_type(), true)
    }

    fn finish(&mut self, first_row: usize) -> Result<ArrayRef, String> {
        Ok(match self {
            SqliteColumn::Bool(b) => Arc::new(b.finish()),
            SqliteColumn::Date(b) => Arc::new(b.finish()),
            SqliteColumn::Time(b) => Arc::new(b.finish()),
            SqliteColumn::Timestamp(b) => Arc::new(b.finish()),
            SqliteColumn::Dynamic(c) => c.finish(first_row)?,
        })
    }

    fn settled_type(&self) -> Option<DataType> {
        match self {
            SqliteColumn::Dynamic(c) => Some(c.data_type()),
            _ => None,
        }
    }
}
