//! SQLite's dynamically typed columns: the Arrow type comes from the values.
//!
//! Integers stay integers, integers mixed with reals become floats when every integer
//! is exact, numbers mixed with text become text, blobs mixed with text become text when
//! every blob is UTF-8; anything else is an error naming both rows. The type is settled
//! over every value of the result: a batch is built with the type settled so far, and
//! earlier batches are widened at the end (see [`crate::arrow::unify`]).
//!
//! A batch whose values are all of one storage class (the common case: a column of a
//! table) is appended straight to the Arrow builder of that class; only a batch that
//! mixes classes keeps its values one by one until it is built.

use std::fmt::Write;
use std::sync::Arc;

use arrow::array::{
    ArrayBuilder, ArrayRef, BinaryBuilder, Float64Builder, Int64Builder, NullArray, StringBuilder,
    new_null_array,
};
use arrow::datatypes::DataType;

use super::SqliteValue;
use crate::arrow::unify::{cast_to, exact_float};

/// One SQLite value, owned, for a batch that mixes storage classes.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum DynamicValue {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
}

impl From<SqliteValue<'_>> for DynamicValue {
    fn from(value: SqliteValue<'_>) -> Self {
        match value {
            SqliteValue::Null => DynamicValue::Null,
            SqliteValue::Integer(i) => DynamicValue::Int(i),
            SqliteValue::Real(f) => DynamicValue::Real(f),
            SqliteValue::Text(t) => DynamicValue::Text(t.to_owned()),
            SqliteValue::Blob(b) => DynamicValue::Blob(b.to_vec()),
        }
    }
}

/// The Arrow type a dynamic column settles on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Settled {
    Null,
    Int,
    Real,
    Text,
    Blob,
}

impl Settled {
    pub(crate) fn data_type(self) -> DataType {
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
    /// Notes one value of `row`.
    #[inline]
    fn record(&mut self, row: usize, value: &SqliteValue<'_>) {
        match *value {
            SqliteValue::Null => {}
            SqliteValue::Integer(i) => {
                self.int.get_or_insert(row);
                if self.inexact_int.is_none() && exact_float(i).is_none() {
                    self.inexact_int = Some((row, i));
                }
            }
            SqliteValue::Real(f) => {
                self.real.get_or_insert((row, f));
            }
            SqliteValue::Text(_) => {
                self.text.get_or_insert(row);
            }
            SqliteValue::Blob(bytes) => {
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

/// The values of the batch being built.
#[derive(Debug)]
enum Pending {
    /// Only NULLs so far.
    Nulls(usize),
    Ints(Int64Builder),
    Reals(Float64Builder),
    Texts(StringBuilder),
    Blobs(BinaryBuilder),
    /// More than one storage class: kept one by one.
    Mixed(Vec<DynamicValue>),
}

impl Pending {
    fn len(&self) -> usize {
        match self {
            Pending::Nulls(n) => *n,
            Pending::Ints(b) => b.len(),
            Pending::Reals(b) => b.len(),
            Pending::Texts(b) => b.len(),
            Pending::Blobs(b) => b.len(),
            Pending::Mixed(values) => values.len(),
        }
    }

    /// A builder for `value`'s class holding `nulls` NULLs first.
    fn typed_for(value: &SqliteValue<'_>, nulls: usize) -> Pending {
        let mut pending = match value {
            SqliteValue::Null => return Pending::Nulls(nulls + 1),
            SqliteValue::Integer(_) => Pending::Ints(Int64Builder::new()),
            SqliteValue::Real(_) => Pending::Reals(Float64Builder::new()),
            SqliteValue::Text(_) => Pending::Texts(StringBuilder::new()),
            SqliteValue::Blob(_) => Pending::Blobs(BinaryBuilder::new()),
        };
        for _ in 0..nulls {
            pending.append_null();
        }
        pending
    }

    fn append_null(&mut self) {
        match self {
            Pending::Nulls(n) => *n += 1,
            Pending::Ints(b) => b.append_null(),
            Pending::Reals(b) => b.append_null(),
            Pending::Texts(b) => b.append_null(),
            Pending::Blobs(b) => b.append_null(),
            Pending::Mixed(values) => values.push(DynamicValue::Null),
        }
    }

    /// Appends `value` when it is of the batch's class (or NULL); gives it back when not.
    #[inline]
    fn append_same<'v>(&mut self, value: SqliteValue<'v>) -> Option<SqliteValue<'v>> {
        match (self, value) {
            (pending, SqliteValue::Null) => pending.append_null(),
            (Pending::Ints(b), SqliteValue::Integer(i)) => b.append_value(i),
            (Pending::Reals(b), SqliteValue::Real(f)) => b.append_value(f),
            (Pending::Texts(b), SqliteValue::Text(t)) => b.append_value(t),
            (Pending::Blobs(b), SqliteValue::Blob(bytes)) => b.append_value(bytes),
            (Pending::Mixed(values), value) => values.push(value.into()),
            (_, value) => return Some(value),
        }
        None
    }

    /// The values so far, one by one (when a second class shows up).
    fn into_values(self) -> Vec<DynamicValue> {
        fn collect<T>(
            array: impl Iterator<Item = Option<T>>,
            to: fn(T) -> DynamicValue,
        ) -> Vec<DynamicValue> {
            array.map(|v| v.map_or(DynamicValue::Null, to)).collect()
        }
        match self {
            Pending::Nulls(n) => vec![DynamicValue::Null; n],
            Pending::Ints(mut b) => collect(b.finish().iter(), DynamicValue::Int),
            Pending::Reals(mut b) => collect(b.finish().iter(), DynamicValue::Real),
            Pending::Texts(mut b) => collect(b.finish().iter(), |t: &str| {
                DynamicValue::Text(t.to_owned())
            }),
            Pending::Blobs(mut b) => {
                collect(b.finish().iter(), |t: &[u8]| DynamicValue::Blob(t.to_vec()))
            }
            Pending::Mixed(values) => values,
        }
    }
}

/// A column whose type comes from its values (see the module docs).
#[derive(Debug)]
pub(crate) struct DynamicColumn {
    pending: Pending,
    declared: Settled,
    seen: Seen,
    settled: Settled,
    /// Rows in the batches already built (the result row of the next value is this
    /// plus the pending values).
    rows_before: usize,
}

impl DynamicColumn {
    /// A column declared `INTEGER`, `REAL`, `TEXT` or `BLOB` (the type an all-NULL
    /// result gets); `Null` until values come for anything else.
    pub(crate) fn declared(declared: Settled) -> Self {
        DynamicColumn {
            pending: Pending::Nulls(0),
            declared,
            seen: Seen::default(),
            settled: declared,
            rows_before: 0,
        }
    }

    /// Appends one value.
    #[inline]
    pub(crate) fn push(&mut self, value: SqliteValue<'_>) {
        self.seen
            .record(self.rows_before + self.pending.len(), &value);
        let Some(value) = self.pending.append_same(value) else {
            return;
        };
        let pending = std::mem::replace(&mut self.pending, Pending::Nulls(0));
        self.pending = match pending {
            Pending::Nulls(n) => {
                let mut typed = Pending::typed_for(&value, n);
                // Of the builder's own class: appended.
                let _ = typed.append_same(value);
                typed
            }
            typed => {
                let mut values = typed.into_values();
                values.push(value.into());
                Pending::Mixed(values)
            }
        };
    }

    /// The type settled over every value so far.
    pub(crate) fn data_type(&self) -> DataType {
        self.settled.data_type()
    }

    /// The batch, at the type settled over every value so far (an error when no type
    /// holds them all unchanged). `first_row` is the result row of its first value.
    pub(crate) fn finish(&mut self, first_row: usize) -> Result<ArrayRef, String> {
        let pending = std::mem::replace(&mut self.pending, Pending::Nulls(0));
        self.rows_before += pending.len();
        self.settled = self.seen.settle(self.declared)?;
        let target = self.settled.data_type();
        let row = move |index: usize| first_row + index;
        let typed: ArrayRef = match pending {
            Pending::Nulls(n) if self.settled == Settled::Null => Arc::new(NullArray::new(n)),
            Pending::Nulls(n) => new_null_array(&target, n),
            Pending::Ints(mut b) => Arc::new(b.finish()),
            Pending::Reals(mut b) => Arc::new(b.finish()),
            Pending::Texts(mut b) => Arc::new(b.finish()),
            Pending::Blobs(mut b) => Arc::new(b.finish()),
            Pending::Mixed(values) => return build_mixed(values, self.settled, first_row),
        };
        cast_to(typed, &target, &row)
    }
}

/// A batch of mixed storage classes at the settled type.
fn build_mixed(
    values: Vec<DynamicValue>,
    settled: Settled,
    first_row: usize,
) -> Result<ArrayRef, String> {
    let unexpected = |index: usize| {
        format!(
            "row {} holds a value that does not fit the column's settled type",
            first_row + index
        )
    };
    Ok(match settled {
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
                    // Integers as written; reals in Rust's shortest round-trip form
                    // (as `cast_to` writes them for a batch of one class).
                    DynamicValue::Int(i) => {
                        write!(b, "{i}").map_err(|_| unexpected(index))?;
                        b.append_value("");
                    }
                    DynamicValue::Real(f) => {
                        write!(b, "{f}").map_err(|_| unexpected(index))?;
                        b.append_value("");
                    }
                    DynamicValue::Text(t) => b.append_value(t),
                    DynamicValue::Blob(bytes) => {
                        b.append_value(std::str::from_utf8(&bytes).map_err(|_| unexpected(index))?);
                    }
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

#[cfg(test)]
mod tests {
    use arrow::array::{Array, AsArray};
    use arrow::datatypes::Float64Type;

    use super::*;

    impl DynamicColumn {
        fn settled_type_for_tests(&self) -> DataType {
            self.data_type()
        }
    }

    fn column(values: Vec<SqliteValue<'_>>) -> DynamicColumn {
        let mut column = DynamicColumn::declared(Settled::Null);
        for v in values {
            column.push(v);
        }
        column
    }

    #[test]
    fn dynamic_columns_settle_on_the_widest_type() {
        let mut c = column(vec![
            SqliteValue::Integer(1),
            SqliteValue::Null,
            SqliteValue::Real(2.5),
        ]);
        let array = c.finish(0).unwrap();
        assert_eq!(array.data_type(), &DataType::Float64);
        assert!(array.is_null(1));
        c.push(SqliteValue::Text("a"));
        assert_eq!(c.finish(3).unwrap().data_type(), &DataType::Utf8);
        assert_eq!(
            c.settled_type_for_tests(),
            DataType::Utf8,
            "settled over every batch"
        );

        let mut mixed = column(vec![SqliteValue::Real(0.1), SqliteValue::Integer(-7)]);
        mixed.push(SqliteValue::Text("a"));
        mixed.push(SqliteValue::Real(1e21));
        let array = mixed.finish(0).unwrap();
        let texts: Vec<_> = array.as_string::<i32>().iter().flatten().collect();
        assert_eq!(texts, vec!["0.1", "-7", "a", "1000000000000000000000"]);
        let mut blobs = column(vec![SqliteValue::Blob("é".as_bytes())]);
        assert_eq!(blobs.finish(0).unwrap().data_type(), &DataType::Binary);
        blobs.push(SqliteValue::Text("t"));
        let texts = blobs.finish(1).unwrap();
        assert_eq!(texts.as_string::<i32>().value(0), "t");
        assert_eq!(blobs.settled_type_for_tests(), DataType::Utf8);
    }

    #[test]
    fn all_null_columns_take_the_declared_type() {
        let mut declared = DynamicColumn::declared(Settled::Int);
        declared.push(SqliteValue::Null);
        assert_eq!(declared.finish(0).unwrap().data_type(), &DataType::Int64);
        let mut undeclared = column(vec![SqliteValue::Null]);
        assert_eq!(undeclared.finish(0).unwrap().data_type(), &DataType::Null);
        undeclared.push(SqliteValue::Blob(&[0xff]));
        assert_eq!(undeclared.finish(1).unwrap().data_type(), &DataType::Binary);
    }

    #[test]
    fn conflicts_name_both_rows_and_kinds() {
        let mut big = column(vec![SqliteValue::Integer((1 << 53) + 1)]);
        assert_eq!(big.finish(0).unwrap().data_type(), &DataType::Int64);
        big.push(SqliteValue::Null);
        big.push(SqliteValue::Real(4.5));
        assert_eq!(
            big.finish(1).unwrap_err(),
            "row 2 holds the REAL 4.5 but row 0 holds the INTEGER 9007199254740993: a \
             REAL (Float64) column cannot hold that integer exactly (only up to 2^53); cast \
             the column in the query, to TEXT for example"
        );
        let mut blob = column(vec![SqliteValue::Real(1.5), SqliteValue::Blob(&[1])]);
        let err = blob.finish(0).unwrap_err();
        assert!(
            err.starts_with("row 1 holds a BLOB but row 0 holds a REAL: no Arrow type"),
            "{err}"
        );
        let mut bytes = column(vec![SqliteValue::Blob(&[0xff]), SqliteValue::Text("t")]);
        let err = bytes.finish(0).unwrap_err();
        assert!(
            err.starts_with("row 1 holds TEXT but row 0 holds a BLOB that is not valid UTF-8"),
            "{err}"
        );
    }

    #[test]
    fn a_batch_of_one_class_is_built_directly_and_a_second_class_keeps_every_value() {
        let mut c = column(vec![
            SqliteValue::Null,
            SqliteValue::Text("a"),
            SqliteValue::Null,
            SqliteValue::Text("b"),
        ]);
        assert!(matches!(c.pending, Pending::Texts(_)));
        let array = c.finish(0).unwrap();
        assert_eq!(array.data_type(), &DataType::Utf8);
        assert_eq!(array.null_count(), 2);
        assert_eq!(array.as_string::<i32>().value(3), "b");
        // A later batch of integers is written as text (the column settled on text).
        c.push(SqliteValue::Integer(-12));
        c.push(SqliteValue::Null);
        assert!(matches!(c.pending, Pending::Ints(_)));
        let array = c.finish(4).unwrap();
        assert_eq!(array.as_string::<i32>().value(0), "-12");
        assert!(array.is_null(1));

        let mut mixed = column(vec![SqliteValue::Integer(1), SqliteValue::Null]);
        mixed.push(SqliteValue::Real(0.5));
        assert!(
            matches!(mixed.pending, Pending::Mixed(_)),
            "{:?}",
            mixed.pending
        );
        let array = mixed.finish(0).unwrap();
        let floats = array.as_primitive::<Float64Type>();
        assert_eq!(floats.value(0), 1.0);
        assert!(floats.is_null(1));
        assert_eq!(floats.value(2), 0.5);

        // Only NULLs: the settled type so far, here that of the earlier batch.
        mixed.push(SqliteValue::Null);
        let nulls = mixed.finish(3).unwrap();
        assert_eq!(nulls.data_type(), &DataType::Float64);
        assert_eq!(nulls.null_count(), 1);
    }

    #[test]
    fn rows_are_numbered_across_batches() {
        let mut c = column(vec![SqliteValue::Integer(1), SqliteValue::Integer(2)]);
        c.finish(0).unwrap();
        c.push(SqliteValue::Blob(&[0xff]));
        let err = c.finish(2).unwrap_err();
        assert!(
            err.starts_with("row 2 holds a BLOB but row 0 holds an INTEGER"),
            "{err}"
        );
    }
}
