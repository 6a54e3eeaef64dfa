//! Column types that a later row cannot silently contradict.
//!
//! CSV and JSON lines schemas are inferred from the first `infer_rows` records. Two
//! things can then go wrong without an error: a column with no value in those rows is
//! inferred as `Null`, and arrow-csv turns every later value of it into NULL; and
//! arrow-json truncates a later `4.5` in a column inferred as `Int64` to `4`. So
//! such columns are decoded as text and settled afterwards: a `Null` column must
//! still be all NULL, an `Int64` column's text must be whole numbers. When that fails
//! (or the decoder itself fails on a value, as arrow-csv does for `4.5` in an integer
//! column), the caller infers the schema again from every record and decodes once
//! more; a failure then is an error naming the column and the row.

use std::sync::Arc;

use conn_core::arrow::array::{Array, ArrayRef, Int64Array, NullArray, RecordBatch, StringArray};
use conn_core::arrow::compute::{CastOptions, cast_with_options};
use conn_core::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};

/// How one column is decoded and then settled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Check {
    /// Decoded as inferred.
    AsInferred,
    /// Inferred `Null`: decoded as text, which must all be NULL.
    StillNull,
    /// Inferred `Int64` (JSON lines): decoded as text, which must be whole numbers.
    WholeNumbers,
    /// Inferred a timestamp coarser than nanoseconds (CSV): decoded as text, which
    /// must have no more fractional second digits than the unit keeps (arrow-csv would
    /// cut `.123456789` to `.123456` in a microsecond column).
    Timestamp,
}

/// The schema to decode with, and how to get from it to the inferred one.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    /// The inferred schema: what the table has.
    pub(crate) inferred: SchemaRef,
    /// The schema handed to the decoder.
    pub(crate) decode: SchemaRef,
    checks: Vec<Check>,
}

/// Why a decoded table does not fit its sampled schema.
#[derive(Debug, Clone)]
pub(crate) struct Misfit(pub(crate) String);

impl Plan {
    /// The plan for a sampled schema; `json` adds the whole-number check of
    /// integer columns (arrow-csv fails on such values by itself).
    pub(crate) fn new(inferred: Schema, json: bool) -> Plan {
        let checks: Vec<Check> = inferred
            .fields()
            .iter()
            .map(|f| match f.data_type() {
                DataType::Null => Check::StillNull,
                DataType::Int64 if json => Check::WholeNumbers,
                DataType::Timestamp(unit, _) if !json && *unit != TimeUnit::Nanosecond => {
                    Check::Timestamp
                }
                _ => Check::AsInferred,
            })
            .collect();
        let decode_fields: Vec<Field> = inferred
            .fields()
            .iter()
            .zip(&checks)
            .map(|(f, check)| match check {
                Check::AsInferred => f.as_ref().clone(),
                _ => f.as_ref().clone().with_data_type(DataType::Utf8),
            })
            .collect();
        Plan {
            decode: Arc::new(Schema::new_with_metadata(
                decode_fields,
                inferred.metadata().clone(),
            )),
            inferred: Arc::new(inferred),
            checks,
        }
    }

    /// Whether some column is decoded as text and settled afterwards.
    fn has_checks(&self) -> bool {
        self.checks.iter().any(|c| *c != Check::AsInferred)
    }

    /// Turns batches decoded with [`decode`](Self::decode) (projected to `indices`
    /// of it, when given) into batches of the inferred schema (projected alike).
    pub(crate) fn settle(
        &self,
        batches: Vec<RecordBatch>,
        indices: Option<&[usize]>,
    ) -> Result<(SchemaRef, Vec<RecordBatch>), Misfit> {
        let all: Vec<usize> = (0..self.checks.len()).collect();
        let indices = indices.unwrap_or(&all);
        let schema = Arc::new(
            self.inferred
                .project(indices)
                .map_err(|e| Misfit(e.to_string()))?,
        );
        if !self.has_checks() {
            return Ok((schema, batches));
        }
        let mut row = 0_usize;
        let mut settled = Vec::with_capacity(batches.len());
        for batch in batches {
            let mut columns: Vec<ArrayRef> = Vec::with_capacity(indices.len());
            for (out, &index) in indices.iter().enumerate() {
                let column = batch.column(out);
                let name = self.inferred.field(index).name();
                columns.push(match self.checks[index] {
                    Check::AsInferred => Arc::clone(column),
                    Check::StillNull => still_null(column, name, row)?,
                    Check::WholeNumbers => whole_numbers(column, name, row)?,
                    Check::Timestamp => {
                        timestamps(column, self.inferred.field(index).data_type(), name, row)?
                    }
                });
            }
            row += batch.num_rows();
            settled.push(
                RecordBatch::try_new(Arc::clone(&schema), columns)
                    .map_err(|e| Misfit(e.to_string()))?,
            );
        }
        Ok((schema, settled))
    }
}

fn text(column: &ArrayRef) -> Result<&StringArray, Misfit> {
    column
        .as_any()
        .downcast_ref::<StringArray>()
        .ok_or_else(|| Misfit("a text column was decoded as another type".into()))
}

fn still_null(column: &ArrayRef, name: &str, first_row: usize) -> Result<ArrayRef, Misfit> {
    let values = text(column)?;
    if let Some(at) = (0..values.len()).find(|&i| values.is_valid(i)) {
        return Err(Misfit(format!(
            "column \"{name}\" had no value in the rows the schema was inferred from, and has \
             one at row {}",
            first_row + at + 1
        )));
    }
    Ok(Arc::new(NullArray::new(values.len())))
}

fn whole_numbers(column: &ArrayRef, name: &str, first_row: usize) -> Result<ArrayRef, Misfit> {
    let values = text(column)?;
    let mut out = Vec::with_capacity(values.len());
    for (at, value) in values.iter().enumerate() {
        out.push(match value {
            None => None,
            Some(text) => Some(text.parse::<i64>().map_err(|_| {
                Misfit(format!(
                    "column \"{name}\" was inferred as Int64, but row {} holds {}",
                    first_row + at + 1,
                    describe(text)
                ))
            })?),
        });
    }
    Ok(Arc::new(Int64Array::from(out)))
}

/// The fractional second digits of a timestamp's text (`2024-01-01T10:00:00.123Z`
/// has `123`), as arrow-csv's inference patterns write them.
fn fraction(text: &str) -> &str {
    let Some(rest) = text.get(19..).and_then(|r| r.strip_prefix('.')) else {
        return "";
    };
    let end = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    &rest[..end]
}

fn timestamps(
    column: &ArrayRef,
    data_type: &DataType,
    name: &str,
    first_row: usize,
) -> Result<ArrayRef, Misfit> {
    let values = text(column)?;
    let kept = match data_type {
        DataType::Timestamp(TimeUnit::Second, _) => 0,
        DataType::Timestamp(TimeUnit::Millisecond, _) => 3,
        _ => 6,
    };
    for (at, value) in values.iter().enumerate() {
        if let Some(text) = value
            && fraction(text)
                .get(kept..)
                .is_some_and(|cut| cut.bytes().any(|d| d != b'0'))
        {
            return Err(Misfit(format!(
                "column \"{name}\" was inferred as {data_type}, but row {} holds {}, which has \
                 more fractional second digits",
                first_row + at + 1,
                describe(text)
            )));
        }
    }
    // The same parser arrow-csv uses for the column; not `safe`, so that a value it
    // cannot read is an error (and the file is read again), never a NULL.
    let options = CastOptions {
        safe: false,
        ..CastOptions::default()
    };
    cast_with_options(values, data_type, &options).map_err(|e| {
        Misfit(format!(
            "column \"{name}\" was inferred as {data_type}, but a later value does not fit: {e}"
        ))
    })
}

/// A value's kind, and the value when short: `the number 4.5`, `a string "abc"`.
fn describe(text: &str) -> String {
    let shown: String = text.chars().take(40).collect();
    let more = if shown.len() < text.len() { "..." } else { "" };
    if text.parse::<f64>().is_ok() {
        format!("the number {shown}{more}")
    } else if matches!(text, "true" | "false") {
        format!("the boolean {text}")
    } else {
        format!("a string \"{shown}{more}\"")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn null_and_integer_columns_are_settled_or_refused() {
        let inferred = Schema::new(vec![
            Field::new("n", DataType::Null, true),
            Field::new("i", DataType::Int64, true),
        ]);
        let plan = Plan::new(inferred, true);
        assert_eq!(plan.decode.field(1).data_type(), &DataType::Utf8);
        let batch = |n: Vec<Option<&str>>, i: Vec<Option<&str>>| {
            RecordBatch::try_new(
                Arc::clone(&plan.decode),
                vec![
                    Arc::new(StringArray::from(n)) as ArrayRef,
                    Arc::new(StringArray::from(i)) as ArrayRef,
                ],
            )
            .unwrap()
        };
        let (schema, ok) = plan
            .settle(
                vec![
                    batch(vec![None, None], vec![Some("1"), None]),
                    batch(vec![None], vec![Some("-3")]),
                ],
                None,
            )
            .unwrap();
        assert_eq!(schema.field(1).data_type(), &DataType::Int64);
        assert_eq!(ok[1].column(1).len(), 1);
        let err = plan
            .settle(
                vec![
                    batch(vec![None, None], vec![Some("1"), None]),
                    batch(vec![None], vec![Some("4.5")]),
                ],
                None,
            )
            .unwrap_err();
        assert_eq!(
            err.0,
            "column \"i\" was inferred as Int64, but row 3 holds the number 4.5"
        );
        let err = plan
            .settle(
                vec![batch(vec![None, Some("x")], vec![None, None])],
                Some(&[0]),
            )
            .unwrap_err();
        assert_eq!(
            err.0,
            "column \"n\" had no value in the rows the schema was inferred from, and has one at \
             row 2"
        );
    }
}
