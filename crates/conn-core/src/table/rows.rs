//! Typed rows: each row of a [`Table`] deserialized into a `serde` type.
//!
//! A row is a map from column name to cell, so structs match columns by name (and
//! `#[serde(rename)]`, `Option` for nullable columns and `#[serde(default)]` work as
//! usual); a tuple reads the cells in column order. Dates and timestamps are given as
//! ISO 8601 text, which `chrono` and `time` parse; decimals as their exact text.

use std::fmt;

use arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, GenericListArray, OffsetSizeTrait, RecordBatch,
};
use arrow::datatypes::{DataType, Field};
use arrow::util::display::{ArrayFormatter, FormatOptions};
use serde::de::{
    self, DeserializeOwned, DeserializeSeed, IntoDeserializer, MapAccess, SeqAccess, Visitor,
};

use super::Table;
use crate::error::{Error, Result};

pub(super) fn deserialize_rows<T: DeserializeOwned>(table: &Table) -> Result<Vec<T>> {
    let mut rows = Vec::with_capacity(table.num_rows());
    let mut first_row = 0;
    for batch in table.batches() {
        for row in 0..batch.num_rows() {
            let deserializer = RowDeserializer { batch, row };
            let value = T::deserialize(deserializer).map_err(|err| {
                let global = first_row + row;
                match err.column {
                    Some(column) => Error::Data(format!(
                        "row {global}, column \"{column}\": {}",
                        err.message
                    )),
                    None => Error::Data(format!("row {global}: {}", err.message)),
                }
            })?;
            rows.push(value);
        }
        first_row += batch.num_rows();
    }
    Ok(rows)
}

#[derive(Debug)]
struct RowError {
    column: Option<String>,
    message: String,
}

impl fmt::Display for RowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for RowError {}

impl de::Error for RowError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        RowError {
            column: None,
            message: msg.to_string(),
        }
    }
}

#[derive(Clone, Copy)]
struct RowDeserializer<'a> {
    batch: &'a RecordBatch,
    row: usize,
}

impl<'de, 'a> de::Deserializer<'de> for RowDeserializer<'a> {
    type Error = RowError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, RowError> {
        visitor.visit_map(ColumnsMap {
            fields: self
                .batch
                .schema_ref()
                .fields()
                .iter()
                .map(AsRef::as_ref)
                .collect(),
            columns: self.batch.columns(),
            row: self.row,
            index: 0,
        })
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, RowError> {
        let mut seq = RowSeq {
            row: self,
            index: 0,
        };
        let value = visitor.visit_seq(&mut seq)?;
        let columns = self.batch.num_columns();
        if seq.index < columns {
            return Err(de::Error::custom(format!(
                "the row has {columns} columns but the type reads {}",
                seq.index
            )));
        }
        Ok(value)
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, RowError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, RowError> {
        self.deserialize_seq(visitor)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct map struct enum identifier ignored_any
    }
}

struct RowSeq<'a> {
    row: RowDeserializer<'a>,
    index: usize,
}

impl<'de> SeqAccess<'de> for RowSeq<'_> {
    type Error = RowError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, RowError> {
        if self.index >= self.row.batch.num_columns() {
            return Ok(None);
        }
        let index = self.index;
        self.index += 1;
        let schema = self.row.batch.schema_ref();
        seed.deserialize(Cell {
            array: self.row.batch.column(index),
            index: self.row.row,
        })
        .map(Some)
        .map_err(|err| RowError {
            column: Some(schema.field(index).name().clone()),
            message: err.message,
        })
    }
}

/// The stored 64-bit integer of a date64, timestamp, time64 or duration cell: one
/// value read, never the column cast (which would make reading n rows cost n²).
fn raw_i64(array: &ArrayRef, index: usize) -> Option<i64> {
    use arrow::datatypes::{
        Date64Type, DurationMicrosecondType, DurationMillisecondType, DurationNanosecondType,
        DurationSecondType, Time64MicrosecondType, Time64NanosecondType, TimeUnit,
        TimestampMicrosecondType, TimestampMillisecondType, TimestampNanosecondType,
        TimestampSecondType,
    };
    Some(match array.data_type() {
        DataType::Date64 => array.as_primitive::<Date64Type>().value(index),
        DataType::Timestamp(TimeUnit::Second, _) => {
            array.as_primitive::<TimestampSecondType>().value(index)
        }
        DataType::Timestamp(TimeUnit::Millisecond, _) => array
            .as_primitive::<TimestampMillisecondType>()
            .value(index),
        DataType::Timestamp(TimeUnit::Microsecond, _) => array
            .as_primitive::<TimestampMicrosecondType>()
            .value(index),
        DataType::Timestamp(TimeUnit::Nanosecond, _) => {
            array.as_primitive::<TimestampNanosecondType>().value(index)
        }
        DataType::Time64(TimeUnit::Microsecond) => {
            array.as_primitive::<Time64MicrosecondType>().value(index)
        }
        DataType::Time64(TimeUnit::Nanosecond) => {
            array.as_primitive::<Time64NanosecondType>().value(index)
        }
        DataType::Duration(TimeUnit::Second) => {
            array.as_primitive::<DurationSecondType>().value(index)
        }
        DataType::Duration(TimeUnit::Millisecond) => {
            array.as_primitive::<DurationMillisecondType>().value(index)
        }
        DataType::Duration(TimeUnit::Microsecond) => {
            array.as_primitive::<DurationMicrosecondType>().value(index)
        }
        DataType::Duration(TimeUnit::Nanosecond) => {
            array.as_primitive::<DurationNanosecondType>().value(index)
        }
        _ => return None,
    })
}

/// One cell: `array[index]`.
#[derive(Clone, Copy)]
struct Cell<'a> {
    array: &'a ArrayRef,
    index: usize,
}

impl Cell<'_> {
    fn text(&self) -> Result<String, RowError> {
        let options = FormatOptions::default().with_null("null");
        ArrayFormatter::try_new(self.array.as_ref(), &options)
            .map(|f| f.value(self.index).to_string())
            .map_err(|e| de::Error::custom(e.to_string()))
    }

    fn type_error(&self, wanted: &str) -> RowError {
        de::Error::custom(format!(
            "expected {wanted}, found a {} value",
            self.array.data_type()
        ))
    }
}

macro_rules! primitive {
    ($array:expr, $index:expr, $visitor:expr, $($dt:ident => $arrow:ident as $visit:ident($conv:ty)),* $(,)?) => {
        match $array.data_type() {
            $(DataType::$dt => {
                let values = $array.as_primitive::<arrow::datatypes::$arrow>();
                return $visitor.$visit(<$conv>::from(values.value($index)));
            })*
            _ => {}
        }
    };
}

impl<'de> de::Deserializer<'de> for Cell<'_> {
    type Error = RowError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, RowError> {
        let array = self.array;
        let index = self.index;
        if array.is_null(index) {
            return visitor.visit_none();
        }
        primitive!(array, index, visitor,
            Int8 => Int8Type as visit_i64(i64),
            Int16 => Int16Type as visit_i64(i64),
            Int32 => Int32Type as visit_i64(i64),
            Int64 => Int64Type as visit_i64(i64),
            UInt8 => UInt8Type as visit_u64(u64),
            UInt16 => UInt16Type as visit_u64(u64),
            UInt32 => UInt32Type as visit_u64(u64),
            UInt64 => UInt64Type as visit_u64(u64),
            Float32 => Float32Type as visit_f64(f64),
            Float64 => Float64Type as visit_f64(f64),
        );
        match array.data_type() {
            DataType::Boolean => {
                let values: &BooleanArray = array.as_boolean();
                visitor.visit_bool(values.value(index))
            }
            DataType::Utf8 => visitor.visit_str(array.as_string::<i32>().value(index)),
            DataType::LargeUtf8 => visitor.visit_str(array.as_string::<i64>().value(index)),
            DataType::Utf8View => visitor.visit_str(array.as_string_view().value(index)),
            DataType::Binary => visitor.visit_bytes(array.as_binary::<i32>().value(index)),
            DataType::LargeBinary => visitor.visit_bytes(array.as_binary::<i64>().value(index)),
            DataType::BinaryView => visitor.visit_bytes(array.as_binary_view().value(index)),
            DataType::FixedSizeBinary(_) => {
                visitor.visit_bytes(array.as_fixed_size_binary().value(index))
            }
            DataType::List(_) => visit_list(array.as_list::<i32>(), index, visitor),
            DataType::LargeList(_) => visit_list(array.as_list::<i64>(), index, visitor),
            DataType::Struct(fields) => {
                let structs = array.as_struct();
                visitor.visit_map(ColumnsMap {
                    fields: fields.iter().map(AsRef::as_ref).collect(),
                    columns: structs.columns(),
                    row: index,
                    index: 0,
                })
            }
            DataType::Null => visitor.visit_none(),
            _ => visitor.visit_string(self.text()?),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, RowError> {
        if self.array.is_null(self.index) {
            visitor.visit_none()
        } else {
            visitor.visit_some(self)
        }
    }

    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, RowError> {
        match self.array.data_type() {
            DataType::Decimal128(..) | DataType::Decimal256(..)
                if !self.array.is_null(self.index) =>
            {
                let text = self.text()?;
                text.parse::<f64>()
                    .map_err(|_| self.type_error("a number"))
                    .and_then(|f| visitor.visit_f64(f))
            }
            _ => self.deserialize_any(visitor),
        }
    }

    fn deserialize_f32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, RowError> {
        self.deserialize_f64(visitor)
    }

    fn deserialize_i64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, RowError> {
        // Dates and timestamps as their raw integers when an integer is wanted.
        if self.array.is_null(self.index) {
            return self.deserialize_any(visitor);
        }
        match self.array.data_type() {
            DataType::Date32 => visitor.visit_i64(i64::from(
                self.array
                    .as_primitive::<arrow::datatypes::Date32Type>()
                    .value(self.index),
            )),
            DataType::Date64
            | DataType::Timestamp(..)
            | DataType::Time64(_)
            | DataType::Duration(_) => match raw_i64(self.array, self.index) {
                Some(raw) => visitor.visit_i64(raw),
                None => Err(self.type_error("an integer")),
            },
            _ => self.deserialize_any(visitor),
        }
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, RowError> {
        match self.array.data_type() {
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => {
                self.deserialize_any(visitor)
            }
            _ if self.array.is_null(self.index) => visitor.visit_none(),
            _ => visitor.visit_string(self.text()?),
        }
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, RowError> {
        self.deserialize_string(visitor)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, RowError> {
        let text = self.text()?;
        visitor.visit_enum(text.into_deserializer())
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, RowError> {
        visitor.visit_newtype_struct(self)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i128 u8 u16 u32 u64 u128 char bytes byte_buf
        unit unit_struct seq tuple tuple_struct map struct identifier ignored_any
    }
}

fn visit_list<'de, O: OffsetSizeTrait, V: Visitor<'de>>(
    list: &GenericListArray<O>,
    index: usize,
    visitor: V,
) -> Result<V::Value, RowError> {
    let values = list.value(index);
    visitor.visit_seq(ListSeq {
        values: &values,
        index: 0,
    })
}

struct ListSeq<'a> {
    values: &'a ArrayRef,
    index: usize,
}

impl<'de> SeqAccess<'de> for ListSeq<'_> {
    type Error = RowError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, RowError> {
        if self.index >= self.values.len() {
            return Ok(None);
        }
        let cell = Cell {
            array: self.values,
            index: self.index,
        };
        self.index += 1;
        seed.deserialize(cell).map(Some)
    }
}

/// A row of a set of columns (a batch's, or a struct column's) as a map from column
/// name to cell; a cell that does not fit names its column.
struct ColumnsMap<'a> {
    fields: Vec<&'a Field>,
    columns: &'a [ArrayRef],
    row: usize,
    index: usize,
}

impl<'de> MapAccess<'de> for ColumnsMap<'_> {
    type Error = RowError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, RowError> {
        match self.fields.get(self.index) {
            Some(field) => seed
                .deserialize(field.name().as_str().into_deserializer())
                .map(Some),
            None => Ok(None),
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, RowError> {
        let index = self.index;
        self.index += 1;
        let cell = Cell {
            array: &self.columns[index],
            index: self.row,
        };
        seed.deserialize(cell).map_err(|err| RowError {
            column: Some(
                err.column
                    .unwrap_or_else(|| self.fields[index].name().clone()),
            ),
            message: err.message,
        })
    }
}
