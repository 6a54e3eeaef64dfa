//! Arrow arrays in the few shapes the writers read: every integer as `i64` or `u64`,
//! every time as nanoseconds, timestamps and durations as raw `i64` with their unit,
//! dictionaries by their values. Only lossless Arrow casts are used.

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, BinaryArray, BinaryViewArray, BooleanArray, Date32Array, Date64Array,
    Decimal128Array, Decimal256Array, FixedSizeBinaryArray, Float32Array, Float64Array, Int64Array,
    IntervalMonthDayNanoArray, LargeBinaryArray, LargeStringArray, StringArray, StringViewArray,
    Time64NanosecondArray, UInt64Array,
};
use arrow::compute::cast;
use arrow::datatypes::{
    DataType, DurationMicrosecondType, DurationMillisecondType, DurationNanosecondType,
    DurationSecondType, IntervalUnit, TimeUnit, TimestampMicrosecondType, TimestampMillisecondType,
    TimestampNanosecondType, TimestampSecondType,
};

/// One column of one batch, ready to be read value by value.
#[derive(Debug)]
pub(crate) enum Source {
    Null,
    Bool(BooleanArray),
    Int(Int64Array),
    UInt(UInt64Array),
    F32(Float32Array),
    F64(Float64Array),
    Dec128(Decimal128Array, i8),
    Dec256(Decimal256Array, i8),
    Str(StringArray),
    LargeStr(LargeStringArray),
    StrView(StringViewArray),
    Bin(BinaryArray),
    LargeBin(LargeBinaryArray),
    BinView(BinaryViewArray),
    Fixed(FixedSizeBinaryArray),
    Date32(Date32Array),
    /// Milliseconds since 1970-01-01 (whole days, unless the data is malformed).
    Date64(Date64Array),
    /// Nanoseconds since midnight.
    Time(Time64NanosecondArray),
    Timestamp(Int64Array, TimeUnit),
    Interval(IntervalMonthDayNanoArray),
    Duration(Int64Array, TimeUnit),
    /// A list column: each row's element range in `values`.
    List {
        list: ArrayRef,
        ranges: Vec<(usize, usize)>,
        values: Box<Source>,
    },
}

/// Reads the raw `i64` values of a timestamp or duration array, whatever its unit.
fn raw_i64(array: &ArrayRef) -> Option<Int64Array> {
    macro_rules! reinterpret {
        ($($t:ty),*) => {
            $(if let Some(a) = array.as_primitive_opt::<$t>() {
                return Some(Int64Array::new(a.values().clone(), a.nulls().cloned()));
            })*
        };
    }
    reinterpret!(
        TimestampSecondType,
        TimestampMillisecondType,
        TimestampMicrosecondType,
        TimestampNanosecondType,
        DurationSecondType,
        DurationMillisecondType,
        DurationMicrosecondType,
        DurationNanosecondType
    );
    None
}

fn lossless(array: &ArrayRef, to: &DataType) -> Result<ArrayRef, String> {
    cast(array, to).map_err(|e| format!("cannot read {} values: {e}", array.data_type()))
}

impl Source {
    /// Reads `array` into its writing shape.
    pub(crate) fn new(array: &ArrayRef) -> Result<Source, String> {
        let unsupported = || format!("conn-sql cannot write Arrow type {}", array.data_type());
        Ok(match array.data_type() {
            DataType::Null => Source::Null,
            DataType::Dictionary(_, values) => {
                return Source::new(&lossless(array, values)?);
            }
            DataType::Boolean => Source::Bool(array.as_boolean().clone()),
            DataType::Int8 | DataType::Int16 | DataType::Int32 => {
                Source::new(&lossless(array, &DataType::Int64)?)?
            }
            DataType::Int64 => Source::Int(array.as_primitive().clone()),
            DataType::UInt8 | DataType::UInt16 | DataType::UInt32 => {
                Source::new(&lossless(array, &DataType::UInt64)?)?
            }
            DataType::UInt64 => Source::UInt(array.as_primitive().clone()),
            DataType::Float16 => Source::new(&lossless(array, &DataType::Float32)?)?,
            DataType::Float32 => Source::F32(array.as_primitive().clone()),
            DataType::Float64 => Source::F64(array.as_primitive().clone()),
            DataType::Decimal32(p, s) | DataType::Decimal64(p, s) => {
                Source::new(&lossless(array, &DataType::Decimal128(*p, *s))?)?
            }
            DataType::Decimal128(_, s) => Source::Dec128(array.as_primitive().clone(), *s),
            DataType::Decimal256(_, s) => Source::Dec256(array.as_primitive().clone(), *s),
            DataType::Utf8 => Source::Str(array.as_string().clone()),
            DataType::LargeUtf8 => Source::LargeStr(array.as_string().clone()),
            DataType::Utf8View => Source::StrView(array.as_string_view().clone()),
            DataType::Binary => Source::Bin(array.as_binary().clone()),
            DataType::LargeBinary => Source::LargeBin(array.as_binary().clone()),
            DataType::BinaryView => Source::BinView(array.as_binary_view().clone()),
            DataType::FixedSizeBinary(_) => Source::Fixed(array.as_fixed_size_binary().clone()),
            DataType::Date32 => Source::Date32(array.as_primitive().clone()),
            DataType::Date64 => Source::Date64(array.as_primitive().clone()),
            DataType::Time32(_) | DataType::Time64(TimeUnit::Microsecond) => {
                Source::new(&lossless(array, &DataType::Time64(TimeUnit::Nanosecond))?)?
            }
            DataType::Time64(_) => Source::Time(array.as_primitive().clone()),
            DataType::Timestamp(unit, _) => {
                Source::Timestamp(raw_i64(array).ok_or_else(unsupported)?, *unit)
            }
            DataType::Duration(unit) => {
                Source::Duration(raw_i64(array).ok_or_else(unsupported)?, *unit)
            }
            DataType::Interval(IntervalUnit::MonthDayNano) => {
                Source::Interval(array.as_primitive().clone())
            }
            DataType::Interval(_) => Source::new(&lossless(
                array,
                &DataType::Interval(IntervalUnit::MonthDayNano),
            )?)?,
            DataType::List(_) => {
                let list = array.as_list::<i32>();
                let ranges = list
                    .offsets()
                    .windows(2)
                    .map(|w| (w[0] as usize, w[1] as usize))
                    .collect();
                Source::List {
                    list: Arc::clone(array),
                    ranges,
                    values: Box::new(Source::new(list.values())?),
                }
            }
            DataType::LargeList(_) => {
                let list = array.as_list::<i64>();
                let ranges = list
                    .offsets()
                    .windows(2)
                    .map(|w| {
                        (
                            usize::try_from(w[0]).unwrap_or(0),
                            usize::try_from(w[1]).unwrap_or(0),
                        )
                    })
                    .collect();
                Source::List {
                    list: Arc::clone(array),
                    ranges,
                    values: Box::new(Source::new(list.values())?),
                }
            }
            DataType::FixedSizeList(_, size) => {
                let list = array.as_fixed_size_list();
                let size = usize::try_from(*size).unwrap_or(0);
                let start = list.offset() * size;
                let ranges = (0..list.len())
                    .map(|i| (start + i * size, start + (i + 1) * size))
                    .collect();
                Source::List {
                    list: Arc::clone(array),
                    ranges,
                    values: Box::new(Source::new(list.values())?),
                }
            }
            _ => return Err(unsupported()),
        })
    }

    /// Whether row `row` is NULL.
    pub(crate) fn is_null(&self, row: usize) -> bool {
        match self {
            Source::Null => true,
            Source::Bool(a) => a.is_null(row),
            Source::Int(a) | Source::Timestamp(a, _) | Source::Duration(a, _) => a.is_null(row),
            Source::UInt(a) => a.is_null(row),
            Source::F32(a) => a.is_null(row),
            Source::F64(a) => a.is_null(row),
            Source::Dec128(a, _) => a.is_null(row),
            Source::Dec256(a, _) => a.is_null(row),
            Source::Str(a) => a.is_null(row),
            Source::LargeStr(a) => a.is_null(row),
            Source::StrView(a) => a.is_null(row),
            Source::Bin(a) => a.is_null(row),
            Source::LargeBin(a) => a.is_null(row),
            Source::BinView(a) => a.is_null(row),
            Source::Fixed(a) => a.is_null(row),
            Source::Date32(a) => a.is_null(row),
            Source::Date64(a) => a.is_null(row),
            Source::Time(a) => a.is_null(row),
            Source::Interval(a) => a.is_null(row),
            Source::List { list, .. } => list.is_null(row),
        }
    }

    /// The text of row `row` of a string column.
    pub(crate) fn text(&self, row: usize) -> Option<&str> {
        match self {
            Source::Str(a) => Some(a.value(row)),
            Source::LargeStr(a) => Some(a.value(row)),
            Source::StrView(a) => Some(a.value(row)),
            _ => None,
        }
    }

    /// The bytes of row `row` of a binary column.
    pub(crate) fn bytes(&self, row: usize) -> Option<&[u8]> {
        match self {
            Source::Bin(a) => Some(a.value(row)),
            Source::LargeBin(a) => Some(a.value(row)),
            Source::BinView(a) => Some(a.value(row)),
            Source::Fixed(a) => Some(a.value(row)),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use arrow::array::{DictionaryArray, Int8Array, Int32Array, Time32SecondArray};
    use arrow::datatypes::Int8Type;

    use super::*;

    #[test]
    fn shapes() {
        let ints: ArrayRef = Arc::new(Int32Array::from(vec![Some(1), None]));
        let Source::Int(a) = Source::new(&ints).unwrap() else {
            panic!("i64")
        };
        assert_eq!(a.value(0), 1);
        assert!(a.is_null(1));
        let times: ArrayRef = Arc::new(Time32SecondArray::from(vec![3600]));
        let Source::Time(t) = Source::new(&times).unwrap() else {
            panic!("ns")
        };
        assert_eq!(t.value(0), 3_600_000_000_000);
        let dictionary: DictionaryArray<Int8Type> = vec!["a", "b", "a"].into_iter().collect();
        let dictionary: ArrayRef = Arc::new(dictionary);
        let source = Source::new(&dictionary).unwrap();
        assert_eq!(source.text(2), Some("a"));
        let small: ArrayRef = Arc::new(Int8Array::from(vec![-1]));
        assert!(matches!(Source::new(&small).unwrap(), Source::Int(_)));
    }
}
