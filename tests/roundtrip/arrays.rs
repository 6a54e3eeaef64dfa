//! Generated columns to Arrow and back: [`Cell`]s into the Arrow array of their type,
//! and any array a backend reads back into [`Cell`]s.

use std::collections::HashMap;
use std::sync::Arc;

use conn::Table;
use conn::arrow::array::{
    Array, ArrayRef, AsArray, BinaryBuilder, BooleanArray, Date32Array, Decimal128Array,
    FixedSizeBinaryBuilder, Float32Array, Float64Array, Int8Array, Int16Array, Int32Array,
    Int32Builder, Int64Array, IntervalMonthDayNanoArray, ListBuilder, RecordBatch, StringArray,
    StringBuilder, Time64MicrosecondArray, Time64NanosecondArray, TimestampMicrosecondArray,
    TimestampNanosecondArray, UInt8Array, UInt16Array, UInt32Array, UInt64Array,
};
use conn::arrow::datatypes::{
    DataType, Date32Type, Date64Type, Decimal128Type, Decimal256Type, Field, Float16Type,
    Float32Type, Float64Type, Int8Type, Int16Type, Int32Type, Int64Type, IntervalMonthDayNano,
    IntervalMonthDayNanoType, IntervalUnit, Schema, Time32MillisecondType, Time32SecondType,
    Time64MicrosecondType, Time64NanosecondType, TimeUnit, TimestampMicrosecondType,
    TimestampMillisecondType, TimestampNanosecondType, TimestampSecondType, UInt8Type, UInt16Type,
    UInt32Type, UInt64Type,
};
use conn::arrow::util::display::{ArrayFormatter, FormatOptions};

use crate::tables::{Case, Cell, Column, Ty};

/// The name of the row id column added to every table.
pub const ROW_ID: &str = "rid";

/// The Arrow type of a generated type.
pub fn data_type(ty: Ty) -> DataType {
    let list = |item: DataType| DataType::List(Arc::new(Field::new_list_field(item, true)));
    match ty {
        Ty::Bool => DataType::Boolean,
        Ty::I8 => DataType::Int8,
        Ty::I16 => DataType::Int16,
        Ty::I32 => DataType::Int32,
        Ty::I64 => DataType::Int64,
        Ty::U8 => DataType::UInt8,
        Ty::U16 => DataType::UInt16,
        Ty::U32 => DataType::UInt32,
        Ty::U64 => DataType::UInt64,
        Ty::F32 => DataType::Float32,
        Ty::F64 => DataType::Float64,
        Ty::Dec(p, s) => DataType::Decimal128(p, s),
        Ty::Utf8 => DataType::Utf8,
        Ty::Binary => DataType::Binary,
        Ty::Uuid => DataType::FixedSizeBinary(16),
        Ty::Date32 => DataType::Date32,
        Ty::Time64 => DataType::Time64(TimeUnit::Microsecond),
        Ty::Ts => DataType::Timestamp(TimeUnit::Microsecond, None),
        Ty::TsUtc => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
        Ty::TsNs => DataType::Timestamp(TimeUnit::Nanosecond, None),
        Ty::TsNsUtc => DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into())),
        Ty::Time64Ns => DataType::Time64(TimeUnit::Nanosecond),
        Ty::Interval => DataType::Interval(IntervalUnit::MonthDayNano),
        Ty::ListI32 => list(DataType::Int32),
        Ty::ListUtf8 => list(DataType::Utf8),
    }
}

/// The field of a generated column (UUIDs marked `arrow.uuid`).
pub fn field(column: &Column) -> Field {
    let field = Field::new(&column.name, data_type(column.ty), true);
    if column.ty == Ty::Uuid {
        field.with_metadata(HashMap::from([(
            "ARROW:extension:name".to_owned(),
            "arrow.uuid".to_owned(),
        )]))
    } else {
        field
    }
}

fn int<T: TryFrom<i128>>(cell: &Option<Cell>) -> Option<T> {
    match cell {
        Some(Cell::Int(i)) => T::try_from(*i).ok(),
        _ => None,
    }
}

fn float(cell: &Option<Cell>) -> Option<f64> {
    match cell {
        Some(Cell::Float(f)) => Some(*f),
        _ => None,
    }
}

fn text(cell: &Option<Cell>) -> Option<&str> {
    match cell {
        Some(Cell::Text(t)) => Some(t),
        _ => None,
    }
}

fn bytes(cell: &Option<Cell>) -> Option<&[u8]> {
    match cell {
        Some(Cell::Bytes(b)) => Some(b),
        _ => None,
    }
}

/// The Arrow array of a generated column.
pub fn array(ty: Ty, cells: &[Option<Cell>]) -> ArrayRef {
    match ty {
        Ty::Bool => Arc::new(
            cells
                .iter()
                .map(|c| match c {
                    Some(Cell::Bool(b)) => Some(*b),
                    _ => None,
                })
                .collect::<BooleanArray>(),
        ),
        Ty::I8 => Arc::new(cells.iter().map(int::<i8>).collect::<Int8Array>()),
        Ty::I16 => Arc::new(cells.iter().map(int::<i16>).collect::<Int16Array>()),
        Ty::I32 => Arc::new(cells.iter().map(int::<i32>).collect::<Int32Array>()),
        Ty::I64 => Arc::new(cells.iter().map(int::<i64>).collect::<Int64Array>()),
        Ty::U8 => Arc::new(cells.iter().map(int::<u8>).collect::<UInt8Array>()),
        Ty::U16 => Arc::new(cells.iter().map(int::<u16>).collect::<UInt16Array>()),
        Ty::U32 => Arc::new(cells.iter().map(int::<u32>).collect::<UInt32Array>()),
        Ty::U64 => Arc::new(cells.iter().map(int::<u64>).collect::<UInt64Array>()),
        Ty::F32 => Arc::new(
            cells
                .iter()
                .map(|c| float(c).map(|f| f as f32))
                .collect::<Float32Array>(),
        ),
        Ty::F64 => Arc::new(cells.iter().map(float).collect::<Float64Array>()),
        Ty::Dec(p, s) => Arc::new(
            cells
                .iter()
                .map(int::<i128>)
                .collect::<Decimal128Array>()
                .with_precision_and_scale(p, s)
                .unwrap(),
        ),
        Ty::Utf8 => Arc::new(cells.iter().map(text).collect::<StringArray>()),
        Ty::Binary => {
            let mut b = BinaryBuilder::new();
            for c in cells {
                b.append_option(bytes(c));
            }
            Arc::new(b.finish())
        }
        Ty::Uuid => {
            let mut b = FixedSizeBinaryBuilder::new(16);
            for c in cells {
                match bytes(c) {
                    Some(v) => b.append_value(v).unwrap(),
                    None => b.append_null(),
                }
            }
            Arc::new(b.finish())
        }
        Ty::Date32 => Arc::new(cells.iter().map(int::<i32>).collect::<Date32Array>()),
        Ty::Time64 => Arc::new(
            cells
                .iter()
                .map(int::<i64>)
                .collect::<Time64MicrosecondArray>(),
        ),
        Ty::Ts => Arc::new(
            cells
                .iter()
                .map(int::<i64>)
                .collect::<TimestampMicrosecondArray>(),
        ),
        Ty::TsUtc => Arc::new(
            cells
                .iter()
                .map(int::<i64>)
                .collect::<TimestampMicrosecondArray>()
                .with_timezone("UTC"),
        ),
        Ty::TsNs => Arc::new(
            cells
                .iter()
                .map(int::<i64>)
                .collect::<TimestampNanosecondArray>(),
        ),
        Ty::TsNsUtc => Arc::new(
            cells
                .iter()
                .map(int::<i64>)
                .collect::<TimestampNanosecondArray>()
                .with_timezone("UTC"),
        ),
        Ty::Time64Ns => Arc::new(
            cells
                .iter()
                .map(int::<i64>)
                .collect::<Time64NanosecondArray>(),
        ),
        Ty::Interval => Arc::new(
            cells
                .iter()
                .map(|c| match c {
                    Some(Cell::Interval {
                        months,
                        days,
                        nanos,
                    }) => Some(IntervalMonthDayNano::new(*months, *days, *nanos)),
                    _ => None,
                })
                .collect::<IntervalMonthDayNanoArray>(),
        ),
        Ty::ListI32 => {
            let mut b = ListBuilder::new(Int32Builder::new());
            for c in cells {
                match c {
                    Some(Cell::List(items)) => {
                        for item in items {
                            b.values().append_option(int::<i32>(item));
                        }
                        b.append(true);
                    }
                    _ => b.append(false),
                }
            }
            Arc::new(b.finish())
        }
        Ty::ListUtf8 => {
            let mut b = ListBuilder::new(StringBuilder::new());
            for c in cells {
                match c {
                    Some(Cell::List(items)) => {
                        for item in items {
                            b.values().append_option(text(item));
                        }
                        b.append(true);
                    }
                    _ => b.append(false),
                }
            }
            Arc::new(b.finish())
        }
    }
}

/// The table written for a case: the row id first, then the generated columns, cut
/// into batches of the case's batch size.
pub fn table(case: &Case) -> Table {
    let mut fields = vec![Field::new(ROW_ID, DataType::Int32, false)];
    let rows = i32::try_from(case.rows).unwrap();
    let mut arrays: Vec<ArrayRef> = vec![Arc::new(Int32Array::from_iter_values(0..rows))];
    for column in &case.columns {
        fields.push(field(column));
        arrays.push(array(column.ty, &column.cells));
    }
    let schema = Arc::new(Schema::new(fields));
    let whole = RecordBatch::try_new(Arc::clone(&schema), arrays).unwrap();
    let mut batches = Vec::new();
    let mut offset = 0;
    while offset < case.rows {
        let len = case.batch_size.min(case.rows - offset);
        batches.push(whole.slice(offset, len));
        offset += len;
    }
    Table::new(schema, batches).unwrap()
}

macro_rules! ints {
    ($array:expr, $($t:ty),*) => {
        $(if let Some(a) = $array.as_primitive_opt::<$t>() {
            return Ok(a.iter().map(|v| v.map(|v| Cell::Int(i128::from(v)))).collect());
        })*
    };
}

/// The cells of any array a backend reads back.
pub fn cells(array: &dyn Array) -> Result<Vec<Option<Cell>>, String> {
    let valid = |i: usize| array.is_valid(i);
    match array.data_type() {
        DataType::Null => return Ok(vec![None; array.len()]),
        DataType::Boolean => {
            return Ok(array
                .as_boolean()
                .iter()
                .map(|v| v.map(Cell::Bool))
                .collect());
        }
        DataType::Float16 => {
            return Ok(array
                .as_primitive::<Float16Type>()
                .iter()
                .map(|v| v.map(|f| Cell::Float(f64::from(f))))
                .collect());
        }
        DataType::Float32 => {
            return Ok(array
                .as_primitive::<Float32Type>()
                .iter()
                .map(|v| v.map(|f| Cell::Float(f64::from(f))))
                .collect());
        }
        DataType::Float64 => {
            return Ok(array
                .as_primitive::<Float64Type>()
                .iter()
                .map(|v| v.map(Cell::Float))
                .collect());
        }
        DataType::Decimal128(..) => {
            return Ok(array
                .as_primitive::<Decimal128Type>()
                .iter()
                .map(|v| v.map(Cell::Int))
                .collect());
        }
        DataType::Decimal256(..) => {
            return array
                .as_primitive::<Decimal256Type>()
                .iter()
                .map(|v| {
                    v.map(|v| {
                        v.to_i128()
                            .map(Cell::Int)
                            .ok_or_else(|| format!("a Decimal256 beyond i128: {v}"))
                    })
                    .transpose()
                })
                .collect();
        }
        DataType::Utf8 => {
            return Ok(array
                .as_string::<i32>()
                .iter()
                .map(|v| v.map(|s| Cell::Text(s.to_owned())))
                .collect());
        }
        DataType::LargeUtf8 => {
            return Ok(array
                .as_string::<i64>()
                .iter()
                .map(|v| v.map(|s| Cell::Text(s.to_owned())))
                .collect());
        }
        DataType::Utf8View => {
            return Ok(array
                .as_string_view()
                .iter()
                .map(|v| v.map(|s| Cell::Text(s.to_owned())))
                .collect());
        }
        DataType::Binary => {
            return Ok(array
                .as_binary::<i32>()
                .iter()
                .map(|v| v.map(|b| Cell::Bytes(b.to_vec())))
                .collect());
        }
        DataType::LargeBinary => {
            return Ok(array
                .as_binary::<i64>()
                .iter()
                .map(|v| v.map(|b| Cell::Bytes(b.to_vec())))
                .collect());
        }
        DataType::FixedSizeBinary(_) => {
            let a = array.as_fixed_size_binary();
            return Ok((0..a.len())
                .map(|i| valid(i).then(|| Cell::Bytes(a.value(i).to_vec())))
                .collect());
        }
        DataType::Interval(IntervalUnit::MonthDayNano) => {
            return Ok(array
                .as_primitive::<IntervalMonthDayNanoType>()
                .iter()
                .map(|v| {
                    v.map(|v| Cell::Interval {
                        months: v.months,
                        days: v.days,
                        nanos: v.nanoseconds,
                    })
                })
                .collect());
        }
        DataType::List(_) => {
            let list = array.as_list::<i32>();
            return (0..list.len())
                .map(|i| {
                    if list.is_valid(i) {
                        Ok(Some(Cell::List(cells(list.value(i).as_ref())?)))
                    } else {
                        Ok(None)
                    }
                })
                .collect();
        }
        DataType::LargeList(_) => {
            let list = array.as_list::<i64>();
            return (0..list.len())
                .map(|i| {
                    if list.is_valid(i) {
                        Ok(Some(Cell::List(cells(list.value(i).as_ref())?)))
                    } else {
                        Ok(None)
                    }
                })
                .collect();
        }
        _ => {}
    }
    ints!(
        array,
        Int8Type,
        Int16Type,
        Int32Type,
        Int64Type,
        UInt8Type,
        UInt16Type,
        UInt32Type,
        UInt64Type,
        Date32Type,
        Date64Type,
        Time32SecondType,
        Time32MillisecondType,
        Time64MicrosecondType,
        Time64NanosecondType,
        TimestampSecondType,
        TimestampMillisecondType,
        TimestampMicrosecondType,
        TimestampNanosecondType
    );
    Err(format!("the suite cannot compare {}", array.data_type()))
}

/// A data type as compared: list item names and nullability left out.
pub fn type_key(data_type: &DataType) -> String {
    match data_type {
        DataType::List(item) => format!("List({})", type_key(item.data_type())),
        DataType::LargeList(item) => format!("LargeList({})", type_key(item.data_type())),
        other => other.to_string(),
    }
}

/// Whether two values are the same: floats bit for bit (every NaN alike).
pub fn same(a: &Option<Cell>, b: &Option<Cell>) -> bool {
    match (a, b) {
        (Some(Cell::Float(x)), Some(Cell::Float(y))) => {
            (x.is_nan() && y.is_nan()) || x.to_bits() == y.to_bits()
        }
        (Some(Cell::List(x)), Some(Cell::List(y))) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same(p, q))
        }
        (a, b) => a == b,
    }
}

/// Row `row` of `array` as Arrow prints it.
pub fn shown(array: &dyn Array, row: usize) -> String {
    let options = FormatOptions::default().with_null("NULL");
    match ArrayFormatter::try_new(array, &options) {
        Ok(f) => format!("{}", f.value(row)),
        Err(e) => format!("<{e}>"),
    }
}
