//! Columns whose raw Arrow is already (nearly) the target: REAL, TEXT, BOOLEAN, DATE,
//! BINARY, the JSON types, and types conn does not know.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, Date32Array};
use arrow::buffer::ScalarBuffer;
use arrow::datatypes::DataType;
use conn_core::Result;

use super::raw;
use super::target::Target;

/// `raw` as the target's type when it arrives in one of `accepted` types (cast
/// losslessly), else the error naming the raw form.
pub(crate) fn same_or_cast(
    target: &Target,
    raw: &ArrayRef,
    accepted: &[DataType],
) -> Result<ArrayRef> {
    let from = raw.data_type();
    if *from == target.data_type {
        Ok(Arc::clone(raw))
    } else if accepted.contains(from) {
        raw::cast_strict(target, raw, &target.data_type)
    } else {
        Err(target.raw_error(from))
    }
}

/// REAL: `Float64` (a narrower float widens exactly).
pub(crate) fn real(target: &Target, raw: &ArrayRef) -> Result<ArrayRef> {
    same_or_cast(target, raw, &[DataType::Float32, DataType::Float16])
}

/// TEXT and the JSON types (VARIANT, OBJECT, ARRAY): `Utf8`.
pub(crate) fn text(target: &Target, raw: &ArrayRef) -> Result<ArrayRef> {
    same_or_cast(target, raw, &[DataType::LargeUtf8, DataType::Utf8View])
}

/// BOOLEAN.
pub(crate) fn boolean(target: &Target, raw: &ArrayRef) -> Result<ArrayRef> {
    same_or_cast(target, raw, &[])
}

/// BINARY: `Binary`.
pub(crate) fn binary(target: &Target, raw: &ArrayRef) -> Result<ArrayRef> {
    let from = raw.data_type();
    if matches!(
        from,
        DataType::LargeBinary | DataType::BinaryView | DataType::FixedSizeBinary(_)
    ) {
        raw::cast_strict(target, raw, &DataType::Binary)
    } else {
        same_or_cast(target, raw, &[])
    }
}

/// DATE: `Date32`, or integers counting days since 1970-01-01.
pub(crate) fn date(target: &Target, raw: &ArrayRef, first_row: u64) -> Result<ArrayRef> {
    if *raw.data_type() == DataType::Date32 {
        return Ok(Arc::clone(raw));
    }
    let days = raw::ints(target, raw)?;
    let mut values = Vec::with_capacity(days.len());
    for (i, day) in days.values().iter().enumerate() {
        if days.is_null(i) {
            values.push(0);
            continue;
        }
        let day = i32::try_from(*day).map_err(|_| {
            target.value_error(
                first_row + i as u64,
                format_args!("{day} days after 1970-01-01 is beyond Date32"),
            )
        })?;
        values.push(day);
    }
    Ok(Arc::new(Date32Array::new(
        ScalarBuffer::from(values),
        days.nulls().cloned(),
    )))
}

/// A type conn does not know: as it comes, or cast (strictly) to the type an earlier
/// batch settled. A column no batch settled takes only text: anything else would be
/// turned into text the schema promised without a batch having shown it.
pub(crate) fn other(target: &Target, raw: &ArrayRef) -> Result<ArrayRef> {
    if *raw.data_type() == target.data_type {
        Ok(Arc::clone(raw))
    } else if target.settled {
        raw::cast_strict(target, raw, &target.data_type)
    } else {
        Err(conn_core::Error::Data(format!(
            "column \"{}\" ({}): its raw Arrow {} was not seen by Converter::widen_for \
             before conversion, so the schema does not have it",
            target.name,
            target.sql,
            raw.data_type()
        )))
    }
}
