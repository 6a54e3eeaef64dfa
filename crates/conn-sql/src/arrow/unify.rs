//! One type per column over the whole result.
//!
//! Each batch is built as its values come, so batches of one column can differ: a
//! decimal batch has the largest scale of its own values, a SQLite batch the storage
//! classes it saw, an all-NULL batch no type at all. At the end of the result every
//! column is brought to one type, widening the earlier batches losslessly (decimals are
//! rescaled exactly, integers become floats only when exact, numbers become text); a
//! value no lossless type holds is an error naming its row.

use std::fmt::Write;
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, Float64Builder, ListArray, StringBuilder, new_null_array,
};
use arrow::datatypes::{DataType, Field, Float64Type, Int64Type};

use super::decimal;

/// The largest magnitude up to which every integer is exactly a `Float64` (2^53).
pub(crate) const MAX_EXACT_FLOAT_INT: i64 = 1 << 53;

/// `value` as a `Float64`, if exactly representable (|value| <= 2^53).
#[inline]
#[allow(clippy::cast_precision_loss)]
pub(crate) fn exact_float(value: i64) -> Option<f64> {
    (value.unsigned_abs() <= MAX_EXACT_FLOAT_INT.unsigned_abs()).then_some(value as f64)
}

/// Maps an index into one batch's array to a row of the result.
pub(crate) type RowOf<'a> = &'a dyn Fn(usize) -> usize;

/// Brings the arrays of one column (one per batch, the batch starting at result row
/// `first_rows[i]`) to one type: `target` when the column's decoder knows it (SQLite's
/// dynamic columns settle over every value they saw), otherwise the common type of the
/// arrays (decimals at the largest scale, lists by their items, all-NULL batches take
/// the type of the others).
pub(crate) fn unify(
    arrays: Vec<ArrayRef>,
    first_rows: &[usize],
    target: Option<&DataType>,
) -> Result<Vec<ArrayRef>, String> {
    let offsets: Vec<Box<dyn Fn(usize) -> usize>> = first_rows
        .iter()
        .map(|&first| Box::new(move |i| first + i) as Box<dyn Fn(usize) -> usize>)
        .collect();
    let rows: Vec<RowOf<'_>> = offsets.iter().map(|f| f.as_ref()).collect();
    unify_mapped(arrays, &rows, target)
}

fn all_null(array: &ArrayRef) -> bool {
    array.data_type() == &DataType::Null || array.null_count() == array.len()
}

fn unify_mapped(
    arrays: Vec<ArrayRef>,
    rows: &[RowOf<'_>],
    target: Option<&DataType>,
) -> Result<Vec<ArrayRef>, String> {
    if let Some(target) = target {
        return arrays
            .into_iter()
            .zip(rows)
            .map(|(array, row)| cast_to(array, target, *row))
            .collect();
    }
    let Some(first) = arrays.first() else {
        return Ok(arrays);
    };
    if arrays.iter().all(|a| a.data_type() == first.data_type()) {
        return Ok(arrays);
    }
    let typed: Vec<&DataType> = arrays
        .iter()
        .filter(|a| a.data_type() != &DataType::Null)
        .map(|a| a.data_type())
        .collect();
    let decimal = |t: &&DataType| matches!(t, DataType::Decimal128(..) | DataType::Decimal256(..));
    if !typed.is_empty() && typed.iter().all(decimal) {
        return with_nulls_aside(arrays, rows, |typed, rows| decimal::unify(typed, rows));
    }
    if !typed.is_empty() && typed.iter().all(|t| matches!(t, DataType::List(_))) {
        return with_nulls_aside(arrays, rows, unify_lists);
    }
    // Otherwise only all-NULL batches may differ: they take the type of the others.
    let mut kinds = arrays
        .iter()
        .filter(|a| !all_null(a))
        .map(|a| a.data_type());
    let target = kinds.next().unwrap_or(first.data_type()).clone();
    if let Some(other) = kinds.find(|t| *t != &target) {
        return Err(format!(
            "has batches of types {target} and {other}, which conn cannot unify"
        ));
    }
    arrays
        .into_iter()
        .zip(rows)
        .map(|(array, row)| cast_to(array, &target, *row))
        .collect()
}

/// Unifies the typed arrays with `unify_typed`, then gives the `Null`-typed ones the
/// resulting type.
fn with_nulls_aside(
    arrays: Vec<ArrayRef>,
    rows: &[RowOf<'_>],
    unify_typed: impl Fn(&[ArrayRef], &[RowOf<'_>]) -> Result<Vec<ArrayRef>, String>,
) -> Result<Vec<ArrayRef>, String> {
    let (typed, typed_rows): (Vec<ArrayRef>, Vec<RowOf<'_>>) = arrays
        .iter()
        .zip(rows)
        .filter(|(a, _)| a.data_type() != &DataType::Null)
        .map(|(a, r)| (Arc::clone(a), *r))
        .unzip();
    let mut unified = unify_typed(&typed, &typed_rows)?.into_iter();
    let target = unified
        .as_slice()
        .first()
        .map(|a| a.data_type().clone())
        .unwrap_or(DataType::Null);
    Ok(arrays
        .into_iter()
        .map(|a| {
            if a.data_type() == &DataType::Null {
                new_null_array(&target, a.len())
            } else {
                unified.next().unwrap_or(a)
            }
        })
        .collect())
}

/// Lists whose items differ by batch (`numeric[]` at different scales): the items are
/// unified, each item's row being the row of the list holding it.
fn unify_lists(arrays: &[ArrayRef], rows: &[RowOf<'_>]) -> Result<Vec<ArrayRef>, String> {
    let lists: Vec<&ListArray> = arrays.iter().map(|a| a.as_list::<i32>()).collect();
    let items: Vec<ArrayRef> = lists.iter().map(|l| Arc::clone(l.values())).collect();
    let item_rows: Vec<Box<dyn Fn(usize) -> usize + '_>> = lists
        .iter()
        .zip(rows)
        .map(|(list, row)| {
            let offsets = list.value_offsets();
            Box::new(move |item: usize| {
                let holding = offsets
                    .partition_point(|&o| usize::try_from(o).unwrap_or(0) <= item)
                    .saturating_sub(1);
                row(holding)
            }) as Box<dyn Fn(usize) -> usize + '_>
        })
        .collect();
    let item_rows: Vec<RowOf<'_>> = item_rows.iter().map(|f| f.as_ref()).collect();
    let items = unify_mapped(items, &item_rows, None)?;
    lists
        .iter()
        .zip(items)
        .map(|(list, items)| {
            let DataType::List(field) = list.data_type() else {
                return Err("holds a list of no known item type".to_owned());
            };
            let field = Arc::new(
                Field::new(field.name(), items.data_type().clone(), field.is_nullable())
                    .with_metadata(field.metadata().clone()),
            );
            ListArray::try_new(field, list.offsets().clone(), items, list.nulls().cloned())
                .map(|l| Arc::new(l) as ArrayRef)
                .map_err(|e| e.to_string())
        })
        .collect()
}

/// One batch's array as `target`: the widenings a SQLite column may need (integers to
/// floats, numbers or UTF-8 blobs to text) and all-NULL arrays to any type. A value the
/// target cannot hold exactly is an error naming its row.
pub(crate) fn cast_to(
    array: ArrayRef,
    target: &DataType,
    row: RowOf<'_>,
) -> Result<ArrayRef, String> {
    if array.data_type() == target {
        return Ok(array);
    }
    if all_null(&array) {
        return Ok(new_null_array(target, array.len()));
    }
    match (array.data_type(), target) {
        (DataType::Int64, DataType::Float64) => {
            let ints = array.as_primitive::<Int64Type>();
            let mut out = Float64Builder::with_capacity(ints.len());
            for (index, value) in ints.iter().enumerate() {
                match value.map(|i| (i, exact_float(i))) {
                    None => out.append_null(),
                    Some((_, Some(f))) => out.append_value(f),
                    Some((i, None)) => {
                        return Err(format!(
                            "row {} holds the INTEGER {i}, which a REAL (Float64) column \
                             cannot hold exactly",
                            row(index)
                        ));
                    }
                }
            }
            Ok(Arc::new(out.finish()))
        }
        (DataType::Int64, DataType::Utf8) => {
            let ints = array.as_primitive::<Int64Type>();
            Ok(to_text(ints.len(), |index, out| {
                match ints.is_valid(index) {
                    true => write!(out, "{}", ints.value(index)).map(|()| true),
                    false => Ok(false),
                }
            }))
        }
        (DataType::Float64, DataType::Utf8) => {
            let floats = array.as_primitive::<Float64Type>();
            Ok(to_text(floats.len(), |index, out| {
                match floats.is_valid(index) {
                    true => write!(out, "{}", floats.value(index)).map(|()| true),
                    false => Ok(false),
                }
            }))
        }
        (DataType::Binary, DataType::Utf8) => {
            let blobs = array.as_binary::<i32>();
            let mut out = StringBuilder::with_capacity(blobs.len(), blobs.values().len());
            for (index, value) in blobs.iter().enumerate() {
                match value.map(std::str::from_utf8) {
                    None => out.append_null(),
                    Some(Ok(text)) => out.append_value(text),
                    Some(Err(_)) => {
                        return Err(format!(
                            "row {} holds a BLOB that is not valid UTF-8, which a TEXT \
                             column cannot hold unchanged",
                            row(index)
                        ));
                    }
                }
            }
            Ok(Arc::new(out.finish()))
        }
        (from, to) => Err(format!(
            "has batches of types {from} and {to}, which conn cannot unify"
        )),
    }
}

/// A text array of `len` values, each written by `write` (which says whether the value
/// is non-NULL).
fn to_text(
    len: usize,
    write: impl Fn(usize, &mut StringBuilder) -> Result<bool, std::fmt::Error>,
) -> ArrayRef {
    let mut out = StringBuilder::with_capacity(len, len * 8);
    for index in 0..len {
        match write(index, &mut out) {
            Ok(true) => out.append_value(""),
            _ => out.append_null(),
        }
    }
    Arc::new(out.finish())
}

#[cfg(test)]
mod tests {
    use arrow::array::{
        BinaryArray, Decimal128Array, Float64Array, Int32Array, Int64Array, NullArray, StringArray,
    };
    use arrow::buffer::OffsetBuffer;
    use arrow::datatypes::Decimal128Type;

    use super::*;

    fn strings(array: &ArrayRef) -> Vec<Option<String>> {
        array
            .as_string::<i32>()
            .iter()
            .map(|s| s.map(str::to_owned))
            .collect()
    }

    #[test]
    fn equal_types_are_left_alone() {
        let a: ArrayRef = Arc::new(Int32Array::from(vec![1, 2]));
        let b: ArrayRef = Arc::new(Int32Array::from(vec![3]));
        let out = unify(vec![Arc::clone(&a), b], &[0, 2], None).unwrap();
        assert!(Arc::ptr_eq(&out[0], &a));
    }

    #[test]
    fn null_batches_take_the_later_type() {
        let nulls: ArrayRef = Arc::new(NullArray::new(3));
        let ints: ArrayRef = Arc::new(Int64Array::from(vec![Some(1), None]));
        let out = unify(vec![nulls, ints], &[0, 3], None).unwrap();
        assert_eq!(out[0].data_type(), &DataType::Int64);
        assert_eq!(out[0].null_count(), 3);
        let decimals: ArrayRef = Arc::new(
            Decimal128Array::from(vec![Some(15)])
                .with_precision_and_scale(38, 1)
                .unwrap(),
        );
        let out = unify(vec![Arc::new(NullArray::new(2)), decimals], &[0, 2], None).unwrap();
        assert_eq!(out[0].data_type(), &DataType::Decimal128(38, 1));
    }

    #[test]
    fn integers_widen_to_floats_only_when_exact() {
        let ints: ArrayRef = Arc::new(Int64Array::from(vec![Some(1 << 53), None, Some(-3)]));
        let out = unify(
            vec![ints, Arc::new(Float64Array::from(vec![4.5]))],
            &[0, 3],
            Some(&DataType::Float64),
        )
        .unwrap();
        let floats: Vec<_> = out[0].as_primitive::<Float64Type>().iter().collect();
        assert_eq!(
            floats,
            vec![Some(9_007_199_254_740_992.0), None, Some(-3.0)]
        );
        let big: ArrayRef = Arc::new(Int64Array::from(vec![Some(1), Some((1 << 53) + 1)]));
        let err = unify(vec![big], &[10], Some(&DataType::Float64)).unwrap_err();
        assert_eq!(
            err,
            "row 11 holds the INTEGER 9007199254740993, which a REAL (Float64) column cannot \
             hold exactly"
        );
    }

    #[test]
    fn numbers_and_utf8_blobs_widen_to_text() {
        let ints: ArrayRef = Arc::new(Int64Array::from(vec![Some(i64::MIN), None]));
        let floats: ArrayRef = Arc::new(Float64Array::from(vec![0.1, 1e21, f64::INFINITY]));
        let blobs: ArrayRef = Arc::new(BinaryArray::from(vec![Some("é".as_bytes()), None]));
        let out = unify(vec![ints, floats, blobs], &[0, 2, 5], Some(&DataType::Utf8)).unwrap();
        assert_eq!(
            strings(&out[0]),
            vec![Some("-9223372036854775808".into()), None]
        );
        assert_eq!(
            strings(&out[1]),
            vec![
                Some("0.1".into()),
                Some("1000000000000000000000".into()),
                Some("inf".into())
            ]
        );
        assert_eq!(strings(&out[2]), vec![Some("é".into()), None]);
        let bad: ArrayRef = Arc::new(BinaryArray::from(vec![b"ok".as_ref(), b"\xff"]));
        let err = unify(vec![bad], &[4], Some(&DataType::Utf8)).unwrap_err();
        assert!(
            err.starts_with("row 5 holds a BLOB that is not valid UTF-8"),
            "{err}"
        );
        let text: ArrayRef = Arc::new(StringArray::from(vec!["a"]));
        let err = unify(vec![text], &[0], Some(&DataType::Int64)).unwrap_err();
        assert!(err.contains("cannot unify"), "{err}");
    }

    #[test]
    fn list_items_unify_and_name_the_row_of_their_list() {
        let decimals = |values: Vec<Option<i128>>, scale: i8| -> ArrayRef {
            Arc::new(
                Decimal128Array::from(values)
                    .with_precision_and_scale(38, scale)
                    .unwrap(),
            )
        };
        let field = |t: DataType| Arc::new(Field::new_list_field(t, true));
        let list = |items: ArrayRef, offsets: Vec<i32>| -> ArrayRef {
            Arc::new(
                ListArray::try_new(
                    field(items.data_type().clone()),
                    OffsetBuffer::new(offsets.into()),
                    items,
                    None,
                )
                .unwrap(),
            )
        };
        let first = list(decimals(vec![Some(1), Some(2), None], 0), vec![0, 2, 2, 3]);
        let second = list(decimals(vec![Some(15)], 1), vec![0, 1]);
        let out = unify(vec![first, second], &[0, 3], None).unwrap();
        let DataType::List(item) = out[0].data_type() else {
            panic!("a list")
        };
        assert_eq!(item.data_type(), &DataType::Decimal128(38, 1));
        let items = out[0].as_list::<i32>().values().clone();
        assert_eq!(
            items
                .as_primitive::<Decimal128Type>()
                .iter()
                .collect::<Vec<_>>(),
            vec![Some(10), Some(20), None]
        );
        // The third item (index 2) belongs to row 2 (row 1 is an empty list).
        let wide = list(
            decimals(vec![Some(0), Some(0), Some(10i128.pow(37))], 0),
            vec![0, 2, 2, 3],
        );
        let far: ArrayRef = {
            let items: ArrayRef = Arc::new(
                arrow::array::Decimal256Array::from(vec![Some(arrow::datatypes::i256::from_i128(
                    1,
                ))])
                .with_precision_and_scale(76, 60)
                .unwrap(),
            );
            list(items, vec![0, 1])
        };
        let err = unify(vec![wide, far], &[100, 103], None).unwrap_err();
        assert!(
            err.starts_with("row 102 holds 10000000000000000000000000000000000000"),
            "{err}"
        );
    }
}
