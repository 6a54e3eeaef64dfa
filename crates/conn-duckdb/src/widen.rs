//! Decimal columns whose values exceed their declared precision.
//!
//! DuckDB exports `HUGEINT` (128-bit integers, up to 39 digits) as `Decimal128(38, 0)`,
//! a type that cannot show the 39-digit values the column may hold: Arrow's formatting
//! drops a digit and anything that checks precision refuses them. A result whose
//! `Decimal128(38, s)` column holds such a value has that column widened to
//! `Decimal256(39, s)` in every batch, so the type settles over the whole result and
//! every value is shown exactly.

use std::sync::Arc;

use conn_core::arrow::array::{Array, ArrayRef, AsArray, RecordBatch};
use conn_core::arrow::compute::{CastOptions, cast_with_options};
use conn_core::arrow::datatypes::{DataType, Decimal128Type, Field, Schema, SchemaRef};
use conn_core::{Error, Result};

/// The widest precision `Decimal128` declares; DuckDB's HUGEINT values reach 39 digits.
const DECIMAL128_PRECISION: u8 = 38;

/// `schema` and `batches` with every `Decimal128(38, s)` column that holds a value of
/// more than 38 digits widened to `Decimal256(39, s)`.
pub(crate) fn settle_decimals(
    schema: SchemaRef,
    batches: Vec<RecordBatch>,
) -> Result<(SchemaRef, Vec<RecordBatch>)> {
    let overflowing: Vec<usize> = schema
        .fields()
        .iter()
        .enumerate()
        .filter(|(_, f)| matches!(f.data_type(), DataType::Decimal128(DECIMAL128_PRECISION, _)))
        .map(|(i, _)| i)
        .filter(|&i| batches.iter().any(|b| exceeds_precision(b.column(i))))
        .collect();
    if overflowing.is_empty() {
        return Ok((schema, batches));
    }
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .enumerate()
        .map(|(i, f)| match f.data_type() {
            DataType::Decimal128(_, scale) if overflowing.contains(&i) => f
                .as_ref()
                .clone()
                .with_data_type(DataType::Decimal256(DECIMAL128_PRECISION + 1, *scale)),
            _ => f.as_ref().clone(),
        })
        .collect();
    let widened = Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone()));
    let strict = CastOptions {
        safe: false,
        ..CastOptions::default()
    };
    let batches = batches
        .into_iter()
        .map(|batch| {
            let columns = batch
                .columns()
                .iter()
                .zip(widened.fields())
                .map(|(column, field)| -> Result<ArrayRef> {
                    if column.data_type() == field.data_type() {
                        return Ok(Arc::clone(column));
                    }
                    cast_with_options(column, field.data_type(), &strict)
                        .map_err(|e| Error::Data(format!("column \"{}\": {e}", field.name())))
                })
                .collect::<Result<Vec<_>>>()?;
            RecordBatch::try_new(Arc::clone(&widened), columns)
                .map_err(|e| Error::Data(e.to_string()))
        })
        .collect::<Result<Vec<_>>>()?;
    Ok((widened, batches))
}

/// One batch of a streamed result, whose first row is row `first_row` of the result,
/// in the types `announced` by the stream's first batch (`None`: this is the first).
///
/// The first batch is settled alone (a 39-digit value widens its column, as
/// [`settle_decimals`] does for a whole result). A later batch cannot widen a column
/// the reader already has: a 39-digit value in a column announced as
/// `Decimal128(38, s)` is an error naming the column, the row and both types.
pub(crate) fn settle_batch(
    announced: Option<&SchemaRef>,
    batch: RecordBatch,
    first_row: usize,
) -> Result<RecordBatch> {
    if let Some(announced) = announced {
        for (index, field) in announced.fields().iter().enumerate() {
            let DataType::Decimal128(DECIMAL128_PRECISION, scale) = field.data_type() else {
                continue;
            };
            if let Some(row) = first_exceeding(batch.column(index)) {
                return Err(Error::Data(format!(
                    "column \"{}\", row {}: a value of {} digits, more than the {} the \
                     stream's first batch announced for the column; read it with query() \
                     (which widens the column to {}) or cast it to VARCHAR in the statement",
                    field.name(),
                    first_row + row,
                    DECIMAL128_PRECISION + 1,
                    field.data_type(),
                    DataType::Decimal256(DECIMAL128_PRECISION + 1, *scale),
                )));
            }
        }
    }
    let (schema, mut batches) = settle_decimals(batch.schema(), vec![batch])?;
    batches
        .pop()
        .ok_or_else(|| Error::Data(format!("settling a batch of {schema} returned none")))
}

/// Whether a `Decimal128(38, _)` column holds a value of more than 38 digits.
fn exceeds_precision(column: &ArrayRef) -> bool {
    first_exceeding(column).is_some()
}

/// The first row of a `Decimal128(38, _)` column whose value has more than 38 digits.
fn first_exceeding(column: &ArrayRef) -> Option<usize> {
    const LIMIT: i128 = 10_i128.pow(DECIMAL128_PRECISION as u32);
    let values = column.as_primitive_opt::<Decimal128Type>()?;
    values
        .iter()
        .position(|v| v.is_some_and(|v| v >= LIMIT || v <= -LIMIT))
}

#[cfg(test)]
mod tests {
    use conn_core::arrow::array::Decimal128Array;

    use super::*;

    #[test]
    fn a_39_digit_value_widens_its_column_in_every_batch() {
        let big = 123_456_789_012_345_678_901_234_567_890_123_456_789_i128;
        let schema = Arc::new(Schema::new(vec![Field::new(
            "h",
            DataType::Decimal128(38, 0),
            true,
        )]));
        let batch = |values: Vec<Option<i128>>| {
            let array = Decimal128Array::from(values)
                .with_precision_and_scale(38, 0)
                .unwrap();
            RecordBatch::try_new(Arc::clone(&schema), vec![Arc::new(array)]).unwrap()
        };
        let (widened, batches) = settle_decimals(
            Arc::clone(&schema),
            vec![batch(vec![Some(1), None]), batch(vec![Some(-big)])],
        )
        .unwrap();
        assert_eq!(widened.field(0).data_type(), &DataType::Decimal256(39, 0));
        let shown: Vec<String> = batches
            .iter()
            .map(|b| arrow::util::display::array_value_to_string(b.column(0), 0).unwrap())
            .collect();
        assert_eq!(shown, ["1", &format!("-{big}")]);

        let (kept, _) =
            settle_decimals(Arc::clone(&schema), vec![batch(vec![Some(big / 10)])]).unwrap();
        assert_eq!(kept.field(0).data_type(), &DataType::Decimal128(38, 0));
    }
}
