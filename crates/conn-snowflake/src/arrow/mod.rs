//! Snowflake's raw results (Arrow IPC or JSON rowsets, described by `rowtype`) into
//! proper Arrow types.
//!
//! Snowflake's Arrow is its storage format, not the values' types: a NUMBER(10,2) is an
//! integer of any width holding the value times 100, a timestamp a struct of seconds and
//! nanoseconds, a TIME an integer of 10^-scale seconds. [`Converter`] turns each column
//! into the Arrow type the rowtype means:
//!
//! | Snowflake                         | Arrow                                        |
//! |-----------------------------------|----------------------------------------------|
//! | FIXED, scale 0                    | `Int64`; `Decimal128(precision, 0)` when a   |
//! |                                   | value of the result is beyond `i64`          |
//! | FIXED, scale > 0                  | `Decimal128(precision, scale)`               |
//! | REAL                              | `Float64`                                    |
//! | TEXT                              | `Utf8`                                       |
//! | BOOLEAN                           | `Boolean`                                    |
//! | DATE                              | `Date32`                                     |
//! | BINARY                            | `Binary`                                     |
//! | TIME                              | `Time64(Nanosecond)`                         |
//! | TIMESTAMP_NTZ                     | `Timestamp(Nanosecond, None)`                |
//! | TIMESTAMP_LTZ                     | `Timestamp(Nanosecond, session TIMEZONE)`    |
//! | TIMESTAMP_TZ                      | `Timestamp(Nanosecond, "UTC")` (see below)   |
//! | VARIANT, OBJECT, ARRAY            | `Utf8`, extension `arrow.json`               |
//! | anything else (GEOGRAPHY, VECTOR) | the raw Arrow as it comes (JSON: `Utf8`)     |
//!
//! A TIMESTAMP_TZ value becomes its instant; its own UTC offset is not kept (Arrow keeps
//! one zone per column). A timestamp column with values beyond 1677-09-21..2262-04-11 is
//! `Microsecond` instead. Every field carries its Snowflake type in the metadata key
//! [`target::SNOWFLAKE_TYPE_KEY`]; JSON columns carry the extension name
//! [`target::JSON_EXTENSION`]. No value changes on the way: one that does not fit its
//! Arrow type fails with an error naming the column, the row and the value.
//!
//! [`read_ipc`] reads the Arrow IPC stream of `rowsetBase64` or of a result chunk.
// Until the client uses it (unused_imports: the re-exports below).

mod converter;
mod decimal;
mod fixed;
mod ipc;
mod json_rowset;
mod kind;
mod plain;
mod raw;
mod rowtype;
pub(crate) mod target;
mod time;
mod timestamp;

#[cfg(test)]
mod converter_tests;
#[cfg(test)]
mod json_tests;
#[cfg(test)]
mod test_support;
#[cfg(test)]
mod timestamp_tests;

pub(crate) use converter::Converter;
pub(crate) use ipc::read_ipc;
pub(crate) use rowtype::Column;
