//! Column types that a later row cannot silently contradict.
//!
//! CSV and JSON lines schemas are inferred from the first `infer_rows` records. Four
//! things can then go wrong without an error: a column with no value in those rows is
//! inferred as `Null`, and arrow-csv turns every later value of it into NULL;
//! arrow-json truncates a later `4.5` in a column inferred as `Int64` to `4`; and
//! arrow-csv's date and timestamp parsers take a later `2024-01-02 10:30:00` in a
//! `Date32` column as its date, and a later `10:00:00.750` in a `Timestamp(Second)`
//! column as `10:00:00`; and a `Float64` column rounds an integer past 2^53. So such
//! columns are decoded as text and settled afterwards: a `Null` column must still be
//! all NULL, an `Int64` column's text must be whole numbers, a date or timestamp
//! column's text must be no finer than its type (by the patterns arrow-csv infers
//! with), a `Float64` column's integers must be exact. When that fails
//! (or the decoder itself fails on a value, as arrow-csv does for `4.5` in an integer
//! column), the caller infers the schema again from every record and decodes once
//! more; a failure then is an error naming the column and the row.
//!
//! arrow-csv also infers a naive `Timestamp` for date-times with a UTC offset
//! (`2024-01-02T10:30:00Z`, `...+02:00`) and converts each such value to UTC, while a
//! value without one is kept as written: a column mixing both would hold instants and
//! wall-clock times side by side. So a column whose values carry offsets becomes
//! `Timestamp(unit, "UTC")` (each value that instant), one whose values carry none stays
//! naive, and a column holding both is an error naming a row of each.

use std::sync::Arc;

use conn_core::arrow::array::timezone::Tz;
use conn_core::arrow::array::{
    Array, ArrayRef, Float64Array, Int64Array, NullArray, RecordBatch, StringArray, new_null_array,
};
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
    /// Inferred `Date32` or `Timestamp` (CSV): decoded as text, which must be no finer
    /// than the type.
    Temporal,
    /// Inferred `Float64`: decoded as text, whose integers must be exact as `f64`
    /// (`9007199254740993` would become `...992`).
    ExactFloats,
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
pub(crate) struct Misfit {
    /// What does not fit, naming the column and the row.
    pub(crate) why: String,
    /// Whether a schema inferred from every record could fit (a value finer or wider
    /// than the sample's type); not when the values contradict each other.
    pub(crate) reinfer: bool,
}

impl Misfit {
    /// A value the sampled type does not hold: inferring from every record may help.
    fn new(why: impl Into<String>) -> Misfit {
        Misfit {
            why: why.into(),
            reinfer: true,
        }
    }

    /// Values no schema holds together.
    fn conflict(why: String) -> Misfit {
        Misfit {
            why,
            reinfer: false,
        }
    }
}

impl Plan {
    /// The plan for a sampled schema; `json` adds the whole-number check of
    /// integer columns (arrow-csv fails on such values by itself), CSV the check of
    /// date and timestamp columns (arrow-json infers none).
    pub(crate) fn new(inferred: Schema, json: bool) -> Plan {
        let checks: Vec<Check> = inferred
            .fields()
            .iter()
            .map(|f| match f.data_type() {
                DataType::Null => Check::StillNull,
                DataType::Int64 if json => Check::WholeNumbers,
                DataType::Date32 | DataType::Timestamp(_, None) if !json => Check::Temporal,
                DataType::Float64 => Check::ExactFloats,
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
        let schema = self.schema(indices)?;
        if !self.has_checks() {
            return Ok((schema, batches));
        }
        let mut row = 0_usize;
        let mut zones = Zones::default();
        let mut settled = Vec::with_capacity(batches.len());
        for batch in batches {
            let rows = batch.num_rows();
            settled.push(self.settle_batch(&schema, &batch, indices, row, &mut zones)?);
            row += rows;
        }
        if let Some(conflict) = zones.conflict() {
            return Err(conflict);
        }
        // Every batch at the type the column's values decided (a batch decoded before
        // the first value with an offset holds only NULLs in that column).
        let schema = zones.apply(&schema);
        let settled = settled
            .into_iter()
            .map(|batch| retype(&batch, &schema))
            .collect::<Result<Vec<_>, _>>()?;
        Ok((schema, settled))
    }

    /// The inferred schema, projected to `indices` when given.
    pub(crate) fn schema(&self, indices: Option<&[usize]>) -> Result<SchemaRef, Misfit> {
        match indices {
            None => Ok(Arc::clone(&self.inferred)),
            Some(indices) => Ok(Arc::new(
                self.inferred
                    .project(indices)
                    .map_err(|e| Misfit::new(e.to_string()))?,
            )),
        }
    }

    /// One decoded batch, whose first row is row `first_row` of the file, in `schema`
    /// (from [`schema`](Self::schema) with the same `indices`), each date-time column
    /// naive or in UTC as `zones` (the decisions of the batches before) says: for a
    /// streamed read, which settles each batch as it is decoded.
    pub(crate) fn settle_batch(
        &self,
        schema: &SchemaRef,
        batch: &RecordBatch,
        indices: Option<&[usize]>,
        first_row: usize,
        zones: &mut Zones,
    ) -> Result<RecordBatch, Misfit> {
        let all: Vec<usize>;
        let indices = match indices {
            Some(indices) => indices,
            None => {
                all = (0..self.checks.len()).collect();
                &all
            }
        };
        let mut columns: Vec<ArrayRef> = Vec::with_capacity(indices.len());
        for (out, &index) in indices.iter().enumerate() {
            let column = batch.column(out);
            let name = self.inferred.field(index).name();
            columns.push(match self.checks[index] {
                Check::AsInferred => Arc::clone(column),
                Check::StillNull => still_null(column, name, first_row)?,
                Check::WholeNumbers => whole_numbers(column, name, first_row)?,
                Check::ExactFloats => exact_floats(column, name, first_row)?,
                Check::Temporal => temporal(
                    column,
                    self.inferred.field(index).data_type(),
                    name,
                    first_row,
                    zones,
                    out,
                )?,
            });
        }
        let fields: Vec<Field> = schema
            .fields()
            .iter()
            .zip(&columns)
            .map(|(field, column)| {
                field
                    .as_ref()
                    .clone()
                    .with_data_type(column.data_type().clone())
            })
            .collect();
        let schema = Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone()));
        RecordBatch::try_new(schema, columns).map_err(|e| Misfit::new(e.to_string()))
    }
}

fn text(column: &ArrayRef) -> Result<&StringArray, Misfit> {
    column
        .as_any()
        .downcast_ref::<StringArray>()
        .ok_or_else(|| Misfit::new("a text column was decoded as another type"))
}

fn still_null(column: &ArrayRef, name: &str, first_row: usize) -> Result<ArrayRef, Misfit> {
    let values = text(column)?;
    if let Some(at) = (0..values.len()).find(|&i| values.is_valid(i)) {
        return Err(Misfit::new(format!(
            "column \"{name}\" had no value in the rows the schema was inferred from, and has \
             one at row {}",
            first_row + at
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
                Misfit::new(format!(
                    "column \"{name}\" was inferred as Int64, but row {} holds {}",
                    first_row + at,
                    describe(text)
                ))
            })?),
        });
    }
    Ok(Arc::new(Int64Array::from(out)))
}

/// A Float64 column decoded as text, parsed, when every integer in it is exact as an
/// `f64` (every integer up to 2^53 is; a longer one may round). Fractions are taken as
/// the nearest `f64`, as any float column does.
fn exact_floats(column: &ArrayRef, name: &str, first_row: usize) -> Result<ArrayRef, Misfit> {
    let values = text(column)?;
    let strict = CastOptions {
        safe: false,
        ..CastOptions::default()
    };
    let parsed = cast_with_options(values, &DataType::Float64, &strict).map_err(|e| {
        // Name the first value that is not a number, as the other checks do.
        let bad = values
            .iter()
            .enumerate()
            .find(|(_, v)| v.is_some_and(|v| v.trim().parse::<f64>().is_err()));
        Misfit::new(match bad {
            Some((at, Some(value))) => format!(
                "column \"{name}\" is Float64, but row {} holds {}",
                first_row + at,
                describe(value)
            ),
            _ => format!("column \"{name}\": {e}"),
        })
    })?;
    let floats = parsed
        .as_any()
        .downcast_ref::<Float64Array>()
        .ok_or_else(|| Misfit::new("a float column was decoded as another type"))?;
    for (at, (value, float)) in values.iter().zip(floats.iter()).enumerate() {
        let (Some(value), Some(float)) = (value, float) else {
            continue;
        };
        let digits = value.strip_prefix(['-', '+']).unwrap_or(value);
        // Integers of up to 15 digits are below 2^53, and exact.
        if digits.len() > 15 && digits.bytes().all(|b| b.is_ascii_digit()) {
            let exact = value.parse::<i128>().is_ok_and(|i| {
                // `as` saturates; an integer past i128 cannot be exact anyway.
                #[allow(clippy::cast_possible_truncation)]
                let back = float as i128;
                back == i
            });
            if !exact {
                return Err(Misfit::new(format!(
                    "column \"{name}\" is Float64, but row {} holds the integer {value}, \
                     which Float64 cannot hold exactly",
                    first_row + at
                )));
            }
        }
    }
    Ok(parsed)
}

/// How fine a date or timestamp text is, by the patterns arrow-csv infers with: 0 a
/// date, 1 to 4 a date-time with whole seconds or up to 3, 6 or 9 fractional digits
/// (anything not a digit may follow the time, such as a zone); `None` for other text.
fn temporal_rank(text: &str) -> Option<u8> {
    let b = text.as_bytes();
    let digits = |range: std::ops::Range<usize>| {
        b.get(range)
            .is_some_and(|d| d.iter().all(u8::is_ascii_digit))
    };
    let date = digits(0..4) && b.get(4) == Some(&b'-') && digits(5..7) && b.get(7) == Some(&b'-');
    if !(date && digits(8..10)) {
        return None;
    }
    if b.len() == 10 {
        return Some(0);
    }
    let time = matches!(b.get(10), Some(b'T' | b' '))
        && digits(11..13)
        && b.get(13) == Some(&b':')
        && digits(14..16)
        && b.get(16) == Some(&b':')
        && digits(17..19);
    if !time {
        return None;
    }
    match b.get(19) {
        None => Some(1),
        Some(b'.') => {
            let fraction = b[20..].iter().take_while(|d| d.is_ascii_digit()).count();
            match fraction {
                1..=3 => Some(2),
                4..=6 => Some(3),
                7..=9 => Some(4),
                _ => None,
            }
        }
        Some(d) if d.is_ascii_digit() => None,
        Some(_) => Some(1),
    }
}

/// The rank of [`temporal_rank`] a column type holds.
fn type_rank(data_type: &DataType) -> u8 {
    match data_type {
        DataType::Timestamp(TimeUnit::Second, _) => 1,
        DataType::Timestamp(TimeUnit::Millisecond, _) => 2,
        DataType::Timestamp(TimeUnit::Microsecond, _) => 3,
        DataType::Timestamp(TimeUnit::Nanosecond, _) => 4,
        _ => 0,
    }
}

/// A date or timestamp column decoded as text, in its inferred type, when every value
/// is no finer than the type (a date may stand in a timestamp column, at midnight;
/// only a date in a date column).
fn temporal(
    column: &ArrayRef,
    data_type: &DataType,
    name: &str,
    first_row: usize,
    zones: &mut Zones,
    position: usize,
) -> Result<ArrayRef, Misfit> {
    let values = text(column)?;
    let holds = type_rank(data_type);
    let is_date = *data_type == DataType::Date32;
    for (at, value) in values.iter().enumerate() {
        let Some(value) = value else { continue };
        let fits = match temporal_rank(value) {
            Some(rank) if is_date => rank == 0,
            Some(rank) => rank <= holds,
            None => false,
        };
        if !fits {
            return Err(Misfit::new(format!(
                "column \"{name}\" was inferred as {data_type}, but row {} holds {}",
                first_row + at,
                describe(value)
            )));
        }
        if is_date {
            continue;
        }
        let Some(this) = Zone::of(value) else {
            return Err(Misfit::new(format!(
                "column \"{name}\" was inferred as {data_type}, but row {} holds {}, whose \
                 text after the time is no UTC offset or time zone",
                first_row + at,
                describe(value)
            )));
        };
        let conflict = match zones.slot(position) {
            slot @ None => {
                *slot = Some((this, first_row + at, value.to_owned()));
                None
            }
            Some((decided, row, example)) if *decided != this => {
                let (with, without) = match this {
                    Zone::Offset => ((first_row + at, value), (*row, example.as_str())),
                    Zone::Naive => ((*row, example.as_str()), (first_row + at, value)),
                };
                Some(format!(
                    "column \"{name}\" holds date-times with and without a UTC offset (row {} \
                     holds {}, row {} holds {}): an instant and a wall-clock time cannot \
                     share a column; give every value an offset, or none",
                    with.0,
                    describe(with.1),
                    without.0,
                    describe(without.1)
                ))
            }
            Some(_) => None,
        };
        if let Some(conflict) = conflict {
            zones.conflict.get_or_insert(conflict);
        }
    }
    let strict = CastOptions {
        safe: false,
        ..CastOptions::default()
    };
    let target = match (data_type, zones.slot(position)) {
        (DataType::Timestamp(unit, None), Some((Zone::Offset, ..))) => {
            DataType::Timestamp(*unit, Some(UTC.into()))
        }
        _ => data_type.clone(),
    };
    cast_with_options(values, &target, &strict)
        .map_err(|e| Misfit::new(format!("column \"{name}\": {e}")))
}

/// The time zone of a column whose date-times carry UTC offsets.
const UTC: &str = "UTC";

/// Whether a date-time text carries a UTC offset (`Z`, `+02:00`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Zone {
    Naive,
    Offset,
}

impl Zone {
    /// The zone of a text [`temporal_rank`] accepted: none after the seconds and their
    /// fraction, or a zone arrow's parser takes (`Z`, an offset `+02:00`, `+0200`,
    /// `+02` with minutes below 60, a name such as `UTC` or `Europe/Paris`, after
    /// optional spaces); `None` for other text after the time.
    fn of(text: &str) -> Option<Zone> {
        let rest = text.get(19..).unwrap_or("");
        let rest = rest
            .strip_prefix('.')
            .map_or(rest, |f| f.trim_start_matches(|c: char| c.is_ascii_digit()));
        if rest.is_empty() {
            return Some(Zone::Naive);
        }
        let zone = rest.trim_start();
        let valid = match zone.as_bytes() {
            b"Z" | b"z" => true,
            [b'+' | b'-', ..] => valid_offset(&zone[1..]),
            _ => zone.parse::<Tz>().is_ok(),
        };
        valid.then_some(Zone::Offset)
    }
}

/// `hh`, `hhmm` or `hh:mm` with hours to 23 and minutes to 59 (arrow would take
/// `+05:99` as six hours and 39 minutes).
fn valid_offset(text: &str) -> bool {
    let digits = |s: &str| s.len() == 2 && s.bytes().all(|b| b.is_ascii_digit());
    let (hours, minutes) = match text.len() {
        2 => (text, "00"),
        4 => text.split_at(2),
        5 if text.as_bytes()[2] == b':' => (&text[..2], &text[3..]),
        _ => return false,
    };
    digits(hours)
        && digits(minutes)
        && hours.parse::<u8>().is_ok_and(|h| h < 24)
        && minutes.parse::<u8>().is_ok_and(|m| m < 60)
}

/// The zone each date-time column's values decided, with the first value that did
/// (for the error when a later one differs), by position in the settled batch; and the
/// first column found holding both kinds.
#[derive(Debug, Default, Clone)]
pub(crate) struct Zones {
    decided: Vec<Option<(Zone, usize, String)>>,
    conflict: Option<String>,
}

impl Zones {
    fn slot(&mut self, column: usize) -> &mut Option<(Zone, usize, String)> {
        if self.decided.len() <= column {
            self.decided.resize(column + 1, None);
        }
        &mut self.decided[column]
    }

    /// The error for a column holding date-times with and without offsets, once one
    /// was seen. It is raised after every batch was checked (a later value may still
    /// call for inferring from every record, which makes such a column text).
    pub(crate) fn conflict(&self) -> Option<Misfit> {
        self.conflict.clone().map(Misfit::conflict)
    }

    /// Whether a naive date-time column of `schema` (a settled batch's) has held only
    /// NULLs so far, so that whether its values carry offsets is not yet known.
    pub(crate) fn undecided(&self, schema: &SchemaRef) -> bool {
        schema.fields().iter().enumerate().any(|(i, field)| {
            matches!(field.data_type(), DataType::Timestamp(_, None))
                && self.decided.get(i).is_none_or(Option::is_none)
        })
    }

    /// `batch` with each column whose values carry offsets in UTC: a column of the
    /// batch holding nothing but NULLs may still be naive when its zone was decided by
    /// a later batch.
    pub(crate) fn retype(&self, batch: &RecordBatch) -> Result<RecordBatch, Misfit> {
        retype(batch, &self.apply(batch.schema_ref()))
    }

    /// `schema` with each column whose values carry offsets in UTC.
    fn apply(&self, schema: &SchemaRef) -> SchemaRef {
        let fields: Vec<Field> = schema
            .fields()
            .iter()
            .enumerate()
            .map(
                |(i, field)| match (field.data_type(), self.decided.get(i)) {
                    (DataType::Timestamp(unit, None), Some(Some((Zone::Offset, ..)))) => field
                        .as_ref()
                        .clone()
                        .with_data_type(DataType::Timestamp(*unit, Some(UTC.into()))),
                    _ => field.as_ref().clone(),
                },
            )
            .collect();
        Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone()))
    }
}

/// `batch` in `schema`, whose types differ from the batch's only where a column of
/// the batch holds nothing but NULLs.
fn retype(batch: &RecordBatch, schema: &SchemaRef) -> Result<RecordBatch, Misfit> {
    if batch.schema_ref() == schema {
        return Ok(batch.clone());
    }
    let columns = batch
        .columns()
        .iter()
        .zip(schema.fields())
        .map(|(column, field)| {
            if column.data_type() == field.data_type() {
                Ok(Arc::clone(column))
            } else if column.null_count() == column.len() {
                Ok(new_null_array(field.data_type(), column.len()))
            } else {
                Err(Misfit::new(format!(
                    "column \"{}\" was settled as {} in one batch and {} in another",
                    field.name(),
                    column.data_type(),
                    field.data_type()
                )))
            }
        })
        .collect::<Result<Vec<_>, _>>()?;
    RecordBatch::try_new(Arc::clone(schema), columns).map_err(|e| Misfit::new(e.to_string()))
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
    fn integers_a_float_column_would_round_are_refused() {
        let inferred = Schema::new(vec![Field::new("f", DataType::Float64, true)]);
        let plan = Plan::new(inferred, false);
        let batch = |f: Vec<Option<&str>>| {
            RecordBatch::try_new(
                Arc::clone(&plan.decode),
                vec![Arc::new(StringArray::from(f)) as ArrayRef],
            )
            .unwrap()
        };
        let (_, ok) = plan
            .settle(
                vec![batch(vec![
                    Some("1.5"),
                    None,
                    Some("9007199254740992"),
                    Some("-1e300"),
                    Some("NaN"),
                ])],
                None,
            )
            .unwrap();
        let f = ok[0]
            .column(0)
            .as_any()
            .downcast_ref::<Float64Array>()
            .unwrap();
        assert_eq!(f.value(2), 9_007_199_254_740_992.0);
        assert!(f.is_null(1));
        assert!(f.value(4).is_nan());
        let err = plan
            .settle(
                vec![
                    batch(vec![Some("1.5")]),
                    batch(vec![Some("9007199254740993")]),
                ],
                None,
            )
            .unwrap_err();
        assert_eq!(
            err.why,
            "column \"f\" is Float64, but row 1 holds the integer 9007199254740993, which \
             Float64 cannot hold exactly"
        );
    }

    #[test]
    fn temporal_ranks_follow_arrow_csv_patterns() {
        assert_eq!(temporal_rank("2024-01-02"), Some(0));
        assert_eq!(temporal_rank("2024-01-02 10:30:00"), Some(1));
        assert_eq!(temporal_rank("2024-01-02T10:30:00Z"), Some(1));
        assert_eq!(temporal_rank("2024-01-02T10:30:00.5+01:00"), Some(2));
        assert_eq!(temporal_rank("2024-01-02 10:30:00.1234"), Some(3));
        assert_eq!(temporal_rank("2024-01-02 10:30:00.123456789"), Some(4));
        assert_eq!(temporal_rank("2024-01-02 10:30:00.1234567891"), None);
        assert_eq!(temporal_rank("2024-1-02"), None);
        assert_eq!(temporal_rank("2024-01-02 10:30"), None);
        assert_eq!(temporal_rank("2024-01-02 10:30:001"), None);
    }

    #[test]
    fn dates_and_timestamps_finer_than_their_type_are_refused() {
        let inferred = Schema::new(vec![
            Field::new("d", DataType::Date32, true),
            Field::new("t", DataType::Timestamp(TimeUnit::Millisecond, None), true),
        ]);
        let plan = Plan::new(inferred, false);
        let batch = |d: Vec<Option<&str>>, t: Vec<Option<&str>>| {
            RecordBatch::try_new(
                Arc::clone(&plan.decode),
                vec![
                    Arc::new(StringArray::from(d)) as ArrayRef,
                    Arc::new(StringArray::from(t)) as ArrayRef,
                ],
            )
            .unwrap()
        };
        let (schema, ok) = plan
            .settle(
                vec![batch(
                    vec![Some("2024-01-02"), None],
                    vec![Some("2024-01-02 10:00:00.250"), Some("2024-01-03")],
                )],
                None,
            )
            .unwrap();
        assert_eq!(schema.field(0).data_type(), &DataType::Date32);
        assert_eq!(ok[0].column(1).data_type(), schema.field(1).data_type());
        let err = plan
            .settle(
                vec![
                    batch(vec![Some("2024-01-02")], vec![None]),
                    batch(vec![Some("2024-01-02 10:30:00")], vec![None]),
                ],
                None,
            )
            .unwrap_err();
        assert_eq!(
            err.why,
            "column \"d\" was inferred as Date32, but row 1 holds a string \"2024-01-02 10:30:00\""
        );
        let err = plan
            .settle(
                vec![batch(vec![None], vec![Some("2024-01-02 10:00:00.2505")])],
                None,
            )
            .unwrap_err();
        assert!(err.why.contains("row 0 holds"), "{}", err.why);
    }

    #[test]
    fn date_times_with_offsets_are_instants_and_never_mixed_with_wall_clock_times() {
        use conn_core::arrow::array::AsArray;
        use conn_core::arrow::datatypes::TimestampSecondType;

        let inferred = Schema::new(vec![Field::new(
            "t",
            DataType::Timestamp(TimeUnit::Second, None),
            true,
        )]);
        let plan = Plan::new(inferred, false);
        let batch = |t: Vec<Option<&str>>| {
            RecordBatch::try_new(
                Arc::clone(&plan.decode),
                vec![Arc::new(StringArray::from(t)) as ArrayRef],
            )
            .unwrap()
        };
        let seconds = |batch: &RecordBatch| -> Vec<Option<i64>> {
            batch
                .column(0)
                .as_primitive::<TimestampSecondType>()
                .iter()
                .collect()
        };
        // Offsets: the column is in UTC, each value that instant; a batch of NULLs
        // before the first value takes the column's type.
        let (schema, zoned) = plan
            .settle(
                vec![
                    batch(vec![None]),
                    batch(vec![Some("1970-01-01T02:00:00+02:00"), None]),
                    batch(vec![Some("1970-01-01 00:00:10Z")]),
                ],
                None,
            )
            .unwrap();
        let utc = DataType::Timestamp(TimeUnit::Second, Some("UTC".into()));
        assert_eq!(schema.field(0).data_type(), &utc);
        assert!(zoned.iter().all(|b| b.schema_ref() == &schema));
        assert_eq!(seconds(&zoned[1]), vec![Some(0), None]);
        assert_eq!(seconds(&zoned[2]), vec![Some(10)]);
        // None: as written, naive.
        let (schema, naive) = plan
            .settle(
                vec![batch(vec![Some("1970-01-01 02:00:00"), Some("1970-01-02")])],
                None,
            )
            .unwrap();
        assert_eq!(
            schema.field(0).data_type(),
            &DataType::Timestamp(TimeUnit::Second, None)
        );
        assert_eq!(seconds(&naive[0]), vec![Some(7_200), Some(86_400)]);
        // Both, in one batch or across batches, streamed or not: an error naming both.
        let mixed = plan
            .settle(
                vec![
                    batch(vec![Some("1970-01-01 02:00:00")]),
                    batch(vec![None, Some("1970-01-01T02:00:00+02:00")]),
                ],
                None,
            )
            .unwrap_err();
        assert_eq!(
            mixed.why,
            "column \"t\" holds date-times with and without a UTC offset (row 2 holds a \
             string \"1970-01-01T02:00:00+02:00\", row 0 holds a string \"1970-01-01 \
             02:00:00\"): an instant and a wall-clock time cannot share a column; give \
             every value an offset, or none"
        );
        let mut zones = Zones::default();
        let schema = plan.schema(None).unwrap();
        plan.settle_batch(
            &schema,
            &batch(vec![Some("1970-01-01T00:00:00")]),
            None,
            0,
            &mut zones,
        )
        .unwrap();
        assert!(zones.conflict().is_none());
        plan.settle_batch(
            &schema,
            &batch(vec![Some("1970-01-01 00:00:01Z")]),
            None,
            1,
            &mut zones,
        )
        .unwrap();
        let err = zones
            .conflict()
            .expect("a streamed batch records the conflict");
        assert!(!err.reinfer, "no schema holds both");
        assert!(
            err.why
                .contains("row 1 holds a string \"1970-01-01 00:00:01Z\", row 0"),
            "{}",
            err.why
        );

        // A later value no date-time column holds asks for inferring from every
        // record (which makes the column text), even after a conflict.
        let later = plan
            .settle(
                vec![
                    batch(vec![Some("1970-01-01 02:00:00")]),
                    batch(vec![Some("1970-01-01T02:00:00Z"), Some("n/a")]),
                ],
                None,
            )
            .unwrap_err();
        assert!(later.reinfer, "{}", later.why);
        // Text after the time that is no offset is such a value too.
        for odd in [
            "1970-01-01 02:00:00 PM",
            "1970-01-01 02:00:00+2",
            "1970-01-01 02:00:00 ",
            "1970-01-01 02:00:00+05:99",
        ] {
            let err = plan.settle(vec![batch(vec![Some(odd)])], None).unwrap_err();
            assert!(
                err.reinfer && err.why.contains("no UTC offset or time zone"),
                "{odd}: {}",
                err.why
            );
        }
        for offset in [
            "1970-01-01 02:00:00+0200",
            "1970-01-01 02:00:00-02",
            "1970-01-01T02:00:00z",
            "1970-01-01 02:00:00 UTC",
            "1970-01-01 02:00:00 +05:45",
            "1970-01-01 02:00:00 Europe/Paris",
        ] {
            let (schema, _) = plan.settle(vec![batch(vec![Some(offset)])], None).unwrap();
            assert_eq!(
                schema.field(0).data_type(),
                &DataType::Timestamp(TimeUnit::Second, Some("UTC".into())),
                "{offset}"
            );
        }
    }

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
            err.why,
            "column \"i\" was inferred as Int64, but row 2 holds the number 4.5"
        );
        let err = plan
            .settle(
                vec![batch(vec![None, Some("x")], vec![None, None])],
                Some(&[0]),
            )
            .unwrap_err();
        assert_eq!(
            err.why,
            "column \"n\" had no value in the rows the schema was inferred from, and has one at \
             row 1"
        );
    }
}
