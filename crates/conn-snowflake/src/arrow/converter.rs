//! [`Converter`]: the raw results of one query (Arrow batches or JSON rowsets) in the
//! Arrow schema its rowtype describes.

use std::str::FromStr;
use std::sync::Arc;

use arrow::array::timezone::Tz;
use arrow::array::{Array, ArrayRef, RecordBatch, RecordBatchOptions};
use arrow::datatypes::{DataType, Schema, SchemaRef, TimeUnit};
use conn_core::{Error, Result};

use super::kind::{Kind, Zone};
use super::target::Target;
use super::{Column, fixed, json_rowset, plain, time, timestamp};

/// Converts the raw Snowflake results of one query into proper Arrow.
///
/// The schema comes from the rowtype alone, so it is known before any row (a result
/// without rows keeps its columns) and every batch takes it whatever integer widths
/// Snowflake chose for that batch. Two things settle over the raw batches, which
/// [`Converter::widen_for`] must see before any is converted: a timestamp column whose
/// values nanoseconds cannot count becomes microseconds, and a column of a type conn
/// does not know takes the Arrow type its raw values come in.
#[derive(Debug, Clone)]
pub(crate) struct Converter {
    targets: Vec<Target>,
    schema: SchemaRef,
}

impl Converter {
    /// The converter of a result described by `columns` (its rowtype);
    /// `session_timezone` is the session's TIMEZONE parameter, the zone TIMESTAMP_LTZ
    /// values are shown in (UTC when not given).
    pub(crate) fn new(columns: &[Column], session_timezone: Option<&str>) -> Result<Self> {
        let ltz_zone: Arc<str> = Arc::from(session_timezone.unwrap_or("UTC"));
        let targets = columns
            .iter()
            .map(|column| Target::new(column, &ltz_zone))
            .collect::<Result<Vec<_>>>()?;
        if let Some(ltz) = targets.iter().find(|t| {
            matches!(
                t.kind,
                Kind::Timestamp {
                    zone: Zone::Ltz,
                    ..
                }
            )
        }) && let Err(e) = Tz::from_str(&ltz_zone)
        {
            return Err(Error::Data(format!(
                "column \"{}\" ({}): the session's TIMEZONE is not a time zone Arrow knows: {e}",
                ltz.name, ltz.sql
            )));
        }
        let schema = schema_of(&targets);
        Ok(Converter { targets, schema })
    }

    /// The schema every converted batch has.
    pub(crate) fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    /// Settles the schema over one raw batch: a timestamp column holding a value outside
    /// 1677-09-21..2262-04-11 (beyond `i64` nanoseconds) widens to microseconds, and a
    /// column of an unknown type not yet settled takes this batch's raw type. Call it on
    /// every raw batch of the result before converting any.
    pub(crate) fn widen_for(&mut self, raw: &RecordBatch) -> Result<()> {
        self.check_width(raw.num_columns())?;
        let mut changed = false;
        for (target, column) in self.targets.iter_mut().zip(raw.columns()) {
            let beyond = match target.kind {
                Kind::Timestamp { zone, scale } if target.unit() == TimeUnit::Nanosecond => {
                    timestamp::Reader::new(target, column, zone, scale)?.beyond_nanoseconds()
                }
                _ => false,
            };
            if beyond {
                widen_to_micros(target);
                changed = true;
            }
            if target.data_type == DataType::Int64
                && !target.kind.is_int64()
                && !fixed::fits_int64(column)
            {
                widen_to_decimal(target);
                changed = true;
            }
            if matches!(target.kind, Kind::Other(_)) && !target.settled {
                target.data_type = column.data_type().clone();
                target.settled = true;
                changed = true;
            }
        }
        if changed {
            self.schema = schema_of(&self.targets);
        }
        Ok(())
    }

    /// Settles timestamp columns over one JSON rowset, as [`Converter::widen_for`] does
    /// over a raw batch. Values that cannot be read are left for
    /// [`Converter::json`] to report.
    pub(crate) fn widen_for_json(&mut self, rows: &[Vec<Option<String>>]) {
        let mut changed = false;
        for (index, target) in self.targets.iter_mut().enumerate() {
            if target.data_type == DataType::Int64 && !target.kind.is_int64() {
                let beyond = rows.iter().any(|row| {
                    row.get(index)
                        .and_then(Option::as_deref)
                        .is_some_and(|text| text.trim().parse::<i64>().is_err())
                });
                if beyond {
                    widen_to_decimal(target);
                    changed = true;
                }
                continue;
            }
            let Kind::Timestamp { zone, .. } = target.kind else {
                continue;
            };
            let beyond = rows.iter().any(|row| {
                let nanos = row
                    .get(index)
                    .and_then(Option::as_deref)
                    .and_then(|text| json_rowset::timestamp_nanos(text, zone).ok());
                nanos.is_some_and(|n| i64::try_from(n).is_err())
            });
            if beyond && target.unit() == TimeUnit::Nanosecond {
                widen_to_micros(target);
                changed = true;
            }
        }
        if changed {
            self.schema = schema_of(&self.targets);
        }
    }

    /// One raw Arrow batch (from `rowsetBase64` or a chunk) in the target schema;
    /// `first_row` is the result row of its first row, for messages.
    pub(crate) fn arrow(&self, raw: &RecordBatch, first_row: u64) -> Result<RecordBatch> {
        self.check_width(raw.num_columns())?;
        let columns = self
            .targets
            .iter()
            .zip(raw.columns())
            .map(|(target, column)| {
                let converted = convert_column(target, column, first_row)?;
                check_nulls(target, converted.as_ref(), first_row)?;
                Ok(converted)
            })
            .collect::<Result<Vec<_>>>()?;
        self.batch(columns, raw.num_rows())
    }

    /// One JSON rowset (rows of optional strings) in the target schema; `first_row` is
    /// the result row of its first row, for messages.
    pub(crate) fn json(&self, rows: &[Vec<Option<String>>], first_row: u64) -> Result<RecordBatch> {
        if let Some((i, row)) = rows
            .iter()
            .enumerate()
            .find(|(_, row)| row.len() != self.targets.len())
        {
            return Err(Error::Data(format!(
                "row {}: the result's JSON rowset has {} values in it but its rowtype describes \
                 {} columns",
                first_row + i as u64,
                row.len(),
                self.targets.len()
            )));
        }
        let columns = self
            .targets
            .iter()
            .enumerate()
            .map(|(index, target)| {
                let converted = json_rowset::column(target, rows, index, first_row)?;
                check_nulls(target, converted.as_ref(), first_row)?;
                Ok(converted)
            })
            .collect::<Result<Vec<_>>>()?;
        self.batch(columns, rows.len())
    }

    /// The error when a raw batch has not one column per rowtype entry.
    fn check_width(&self, columns: usize) -> Result<()> {
        if columns == self.targets.len() {
            Ok(())
        } else {
            Err(Error::Data(format!(
                "the result's Arrow batch has {columns} columns but its rowtype describes {}",
                self.targets.len()
            )))
        }
    }

    fn batch(&self, columns: Vec<ArrayRef>, rows: usize) -> Result<RecordBatch> {
        let options = RecordBatchOptions::new().with_row_count(Some(rows));
        RecordBatch::try_new_with_options(self.schema(), columns, &options).map_err(|e| {
            Error::Data(format!(
                "the converted Snowflake result is inconsistent: {e}"
            ))
        })
    }
}

/// One raw column of `target` in its Arrow type.
fn convert_column(target: &Target, raw: &ArrayRef, first_row: u64) -> Result<ArrayRef> {
    match &target.kind {
        Kind::Fixed { .. } if target.data_type == DataType::Int64 => {
            fixed::to_int64(target, raw, first_row)
        }
        Kind::Fixed { precision, scale } => {
            fixed::to_decimal(target, raw, *precision, *scale, first_row)
        }
        Kind::Real => plain::real(target, raw),
        Kind::Text { .. } | Kind::Json(_) => plain::text(target, raw),
        Kind::Boolean => plain::boolean(target, raw),
        Kind::Date => plain::date(target, raw, first_row),
        Kind::Binary { .. } => plain::binary(target, raw),
        Kind::Time { scale } => time::convert(target, raw, *scale, first_row),
        Kind::Timestamp { zone, scale } => {
            timestamp::convert(target, raw, *zone, *scale, first_row)
        }
        Kind::Other(_) => plain::other(target, raw),
    }
}

/// The error when a column the rowtype declares NOT NULL holds a NULL.
fn check_nulls(target: &Target, array: &dyn Array, first_row: u64) -> Result<()> {
    if target.nullable || array.null_count() == 0 {
        return Ok(());
    }
    let row = (0..array.len()).find(|&i| array.is_null(i)).unwrap_or(0);
    Err(target.value_error(
        first_row + row as u64,
        "NULL in a column the rowtype declares NOT NULL",
    ))
}

/// A whole-number column with a value beyond `i64`: `Decimal128(precision, 0)`.
fn widen_to_decimal(target: &mut Target) {
    if let Kind::Fixed { precision, .. } = target.kind {
        target.data_type = DataType::Decimal128(precision, 0);
    }
}

fn widen_to_micros(target: &mut Target) {
    if let DataType::Timestamp(_, zone) = &target.data_type {
        target.data_type = DataType::Timestamp(TimeUnit::Microsecond, zone.clone());
    }
}

fn schema_of(targets: &[Target]) -> SchemaRef {
    Arc::new(Schema::new(
        targets.iter().map(Target::field).collect::<Vec<_>>(),
    ))
}
