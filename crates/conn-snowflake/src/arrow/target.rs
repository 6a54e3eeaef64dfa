//! The target of one column: its Arrow field (type, nullability, metadata) and the
//! errors that name it.

use std::collections::HashMap;
use std::fmt::Display;
use std::sync::Arc;

use arrow::datatypes::{DataType, Field, TimeUnit};
use conn_core::{Error, Result};

use super::Column;
use super::kind::{Kind, Zone};

/// Field metadata key holding the column's Snowflake type (`NUMBER(38,2)`,
/// `TIMESTAMP_TZ(9)`...), so users can see what the Arrow type came from.
pub(crate) const SNOWFLAKE_TYPE_KEY: &str = "snowflake:type";
/// Arrow's field metadata key naming an extension type.
pub(crate) const EXTENSION_NAME_KEY: &str = "ARROW:extension:name";
/// Arrow's field metadata key holding an extension type's parameters.
pub(crate) const EXTENSION_METADATA_KEY: &str = "ARROW:extension:metadata";
/// The canonical extension type of JSON text in a string column.
pub(crate) const JSON_EXTENSION: &str = "arrow.json";

/// One result column: what Snowflake says it is and the Arrow type it becomes.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    /// The column's name, from the rowtype.
    pub(crate) name: String,
    /// Its Snowflake type.
    pub(crate) kind: Kind,
    /// Its SQL type name, for metadata and messages.
    pub(crate) sql: String,
    /// Whether it may hold NULL (rowtype `nullable`, true when not given).
    pub(crate) nullable: bool,
    /// The Arrow type its values take (a timestamp may widen to microseconds; a column
    /// of an unknown type takes the type of its first raw batch).
    pub(crate) data_type: DataType,
    /// For a column of an unknown type: whether a raw batch settled its type (until
    /// then it is `Utf8`, the type a JSON rowset gives it).
    pub(crate) settled: bool,
}

impl Target {
    /// The target of `column`; `ltz_zone` is the zone TIMESTAMP_LTZ values are shown in.
    pub(crate) fn new(column: &Column, ltz_zone: &Arc<str>) -> Result<Target> {
        let kind = Kind::of(column)?;
        let data_type = match &kind {
            // Whole numbers are Int64 until a value needs more (see Converter::widen_for):
            // Snowflake's INTEGER is NUMBER(38,0), and its values nearly always fit.
            Kind::Fixed { scale: 0, .. } => DataType::Int64,
            Kind::Fixed { precision, scale } => DataType::Decimal128(*precision, *scale),
            Kind::Real => DataType::Float64,
            Kind::Text { .. } | Kind::Json(_) | Kind::Other(_) => DataType::Utf8,
            Kind::Boolean => DataType::Boolean,
            Kind::Date => DataType::Date32,
            Kind::Binary { .. } => DataType::Binary,
            Kind::Time { .. } => DataType::Time64(TimeUnit::Nanosecond),
            Kind::Timestamp { zone, .. } => DataType::Timestamp(
                TimeUnit::Nanosecond,
                match zone {
                    Zone::Ntz => None,
                    Zone::Ltz => Some(Arc::clone(ltz_zone)),
                    Zone::Tz => Some(Arc::from("UTC")),
                },
            ),
        };
        Ok(Target {
            name: column.name.clone(),
            sql: kind.sql_name(),
            kind,
            nullable: column.nullable.unwrap_or(true),
            data_type,
            settled: false,
        })
    }

    /// The Arrow field: the column's name, type and nullability, with its Snowflake
    /// type in `snowflake:type` and JSON columns marked as the `arrow.json` extension.
    pub(crate) fn field(&self) -> Field {
        let mut metadata = HashMap::from([(SNOWFLAKE_TYPE_KEY.to_owned(), self.sql.clone())]);
        if matches!(self.kind, Kind::Json(_)) {
            metadata.insert(EXTENSION_NAME_KEY.to_owned(), JSON_EXTENSION.to_owned());
            // arrow-rs reads the extension only with its (empty) metadata present.
            metadata.insert(EXTENSION_METADATA_KEY.to_owned(), String::new());
        }
        Field::new(&self.name, self.data_type.clone(), self.nullable).with_metadata(metadata)
    }

    /// The timestamp unit, for a timestamp column.
    pub(crate) fn unit(&self) -> TimeUnit {
        match &self.data_type {
            DataType::Timestamp(unit, _) => *unit,
            _ => TimeUnit::Nanosecond,
        }
    }

    /// The error for the value of result row `row` that cannot be converted: `what` says
    /// which value and why.
    pub(crate) fn value_error(&self, row: u64, what: impl Display) -> Error {
        Error::Data(format!(
            "column \"{}\" ({}), row {row}: {what}",
            self.name, self.sql
        ))
    }

    /// The error for a raw column whose Arrow type is no form Snowflake sends this type in.
    pub(crate) fn raw_error(&self, raw: &DataType) -> Error {
        Error::Data(format!(
            "column \"{}\" ({}): the result holds it as Arrow {raw}, which is not a form \
             Snowflake sends {} in",
            self.name, self.sql, self.sql
        ))
    }
}
