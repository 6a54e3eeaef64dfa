//! What each written format cannot hold, said by column and row before (or instead
//! of) the encoder's own message: Parquet's missing types, the floats JSON has no
//! number for, and values the CSV and JSON writers cannot format.

use conn_core::arrow::array::{Array, AsArray, RecordBatch};
use conn_core::arrow::datatypes::{DataType, Float16Type, Float32Type, Float64Type, IntervalUnit};
use conn_core::arrow::util::display::{ArrayFormatter, FormatOptions};

/// Why Parquet cannot hold a column of `data_type`, if it cannot (looking into
/// nested types). parquet-rs would fail on these with a message naming no column.
pub(crate) fn parquet_refuses(data_type: &DataType) -> Option<String> {
    match data_type {
        DataType::Interval(IntervalUnit::MonthDayNano) => Some(
            "Parquet has no interval with nanoseconds (cast the column to \
             Interval(DayTime) or Duration first)"
                .to_owned(),
        ),
        DataType::Decimal32(p, s)
        | DataType::Decimal64(p, s)
        | DataType::Decimal128(p, s)
        | DataType::Decimal256(p, s)
            if *s < 0 =>
        {
            Some(format!(
                "Parquet decimals have no negative scale (cast the column to Decimal128({}, 0) \
                 first)",
                i16::from(*p) - i16::from(*s)
            ))
        }
        DataType::List(item)
        | DataType::LargeList(item)
        | DataType::FixedSizeList(item, _)
        | DataType::Map(item, _) => parquet_refuses(item.data_type()),
        DataType::Struct(fields) => fields.iter().find_map(|f| parquet_refuses(f.data_type())),
        DataType::Dictionary(_, values) => parquet_refuses(values),
        _ => None,
    }
}

/// The first row of a float column that JSON has no number for (NaN, ±infinity):
/// arrow-json would write it as `null`, which reads back as NULL.
fn non_finite(column: &dyn Array) -> Option<usize> {
    let finite = |row: usize| match column.data_type() {
        DataType::Float16 => column.as_primitive::<Float16Type>().value(row).is_finite(),
        DataType::Float32 => column.as_primitive::<Float32Type>().value(row).is_finite(),
        DataType::Float64 => column.as_primitive::<Float64Type>().value(row).is_finite(),
        _ => true,
    };
    (0..column.len()).find(|&row| column.is_valid(row) && !finite(row))
}

/// The first value of a batch (whose first row is row `first_row` of the table) that
/// JSON lines cannot hold, as `column "x" (Float64), row 7: ...`.
pub(crate) fn jsonl_refuses(batch: &RecordBatch, first_row: usize) -> Option<String> {
    let schema = batch.schema();
    schema
        .fields()
        .iter()
        .zip(batch.columns())
        .find_map(|(field, column)| {
            let row = non_finite(column.as_ref())?;
            let formatter =
                ArrayFormatter::try_new(column.as_ref(), &FormatOptions::default()).ok()?;
            Some(format!(
                "column \"{}\" ({}), row {}: {}, which JSON has no number for (it would be \
                 written as null); write Parquet, or replace the value first",
                field.name(),
                field.data_type(),
                first_row + row,
                formatter.value(row)
            ))
        })
}

/// The first value of a batch (whose first row is row `first_row` of the table) that
/// cannot be formatted as text: a date or timestamp beyond the years text can show.
/// arrow-csv fails on those with a message naming no column; arrow-json writes the
/// error's text into the file, which is then no longer JSON.
pub(crate) fn unformattable(batch: &RecordBatch, first_row: usize) -> Option<String> {
    let strict = FormatOptions::default().with_display_error(false);
    let schema = batch.schema();
    for (field, column) in schema.fields().iter().zip(batch.columns()) {
        if !field.data_type().is_temporal() {
            continue;
        }
        let Ok(formatter) = ArrayFormatter::try_new(column.as_ref(), &strict) else {
            continue;
        };
        for row in 0..column.len() {
            if column.is_valid(row)
                && let Err(e) = formatter.value(row).try_to_string()
            {
                return Some(format!(
                    "column \"{}\" ({}), row {}: a value that cannot be written as text ({e})",
                    field.name(),
                    field.data_type(),
                    first_row + row
                ));
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use conn_core::arrow::array::{Date32Array, Float64Array};
    use conn_core::arrow::datatypes::{Field, Schema};

    use super::*;

    #[test]
    fn non_finite_floats_and_unformattable_dates_are_named() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("x", DataType::Float64, true),
            Field::new("d", DataType::Date32, true),
        ]));
        let batch = RecordBatch::try_new(
            schema,
            vec![
                Arc::new(Float64Array::from(vec![Some(1.5), None, Some(f64::NAN)])),
                Arc::new(Date32Array::from(vec![Some(0), Some(i32::MAX), None])),
            ],
        )
        .unwrap();
        assert_eq!(
            jsonl_refuses(&batch, 10).unwrap(),
            "column \"x\" (Float64), row 12: NaN, which JSON has no number for (it would be \
             written as null); write Parquet, or replace the value first"
        );
        assert!(
            unformattable(&batch, 10).unwrap().starts_with(
                "column \"d\" (Date32), row 11: a value that cannot be written as text"
            )
        );
    }
}
