//! Query results to Arrow, streamed in batches so memory stays near the Arrow size.
//!
//! Each batch is built from its own values; the column types of the table are settled
//! over the whole result at its end (see [`unify`]), never by the first batch. A
//! streamed read instead hands out each batch as it is built (see
//! [`Batches::handing_out`]): the stream fixes the types by its first batch.

pub(crate) mod decimal;
pub(crate) mod generic;
#[cfg(feature = "postgres")]
pub(crate) mod postgres;
#[cfg(feature = "sqlite")]
pub(crate) mod sqlite;
pub(crate) mod unify;

use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch, RecordBatchOptions};
use arrow::datatypes::{DataType, Field, Schema};
use conn_core::{Error, Result, Table};

/// A column decoder the batch assembler can drive.
pub(crate) trait ColumnDecoder {
    /// The Arrow field for a column called `name` (its type is replaced by the settled
    /// one).
    fn field(&self, name: &str) -> Field;
    /// The values appended since the last call, as an array; `first_row` is the result
    /// row of the first of them, for messages.
    fn finish(&mut self, first_row: usize) -> std::result::Result<ArrayRef, String>;
    /// The type every batch of the column must take, when the decoder settles it
    /// itself (SQLite's dynamic columns); `None` lets the arrays decide.
    fn settled_type(&self) -> Option<DataType> {
        None
    }
}

/// Collects decoded rows into record batches of `batch_size` rows.
pub(crate) struct Batches<D> {
    pub(crate) names: Vec<String>,
    pub(crate) decoders: Vec<D>,
    pub(crate) batch_size: usize,
    rows_in_batch: usize,
    /// Rows in the batches already built.
    rows_before: usize,
    /// Each column's arrays, one per batch built.
    columns: Vec<Vec<ArrayRef>>,
    /// Each built batch's row count and first row.
    batches: Vec<(usize, usize)>,
    /// Whether built batches are handed out (a streamed read) instead of kept.
    hand_out: bool,
    /// Built batches not yet taken, when handing out.
    ready: Vec<RecordBatch>,
}

impl<D: ColumnDecoder> Batches<D> {
    pub(crate) fn new(names: Vec<String>, decoders: Vec<D>, batch_size: usize) -> Self {
        Batches {
            columns: vec![Vec::new(); decoders.len()],
            names,
            decoders,
            batch_size,
            rows_in_batch: 0,
            rows_before: 0,
            batches: Vec::new(),
            hand_out: false,
            ready: Vec::new(),
        }
    }

    /// Hands out each batch as it is built ([`take_ready`](Self::take_ready),
    /// [`finish_handing_out`](Self::finish_handing_out)) instead of keeping them all
    /// for [`finish`](Self::finish): a streamed read, whose memory is one batch.
    pub(crate) fn handing_out(mut self) -> Self {
        self.hand_out = true;
        self
    }

    /// Whether a built batch waits to be taken.
    #[inline]
    pub(crate) fn has_ready(&self) -> bool {
        !self.ready.is_empty()
    }

    /// The batches built since the last call, in order (only when handing out).
    pub(crate) fn take_ready(&mut self) -> Vec<RecordBatch> {
        std::mem::take(&mut self.ready)
    }

    /// The error for a value of column `index` in the row being appended: `problem`
    /// says what the value holds ("holds NaN, which ...").
    pub(crate) fn value_error(&self, index: usize, problem: &str) -> Error {
        let row = self.rows_before + self.rows_in_batch;
        let name = self.names.get(index).map_or("?", String::as_str);
        Error::Data(format!("column \"{name}\": row {row} {problem}"))
    }

    /// Records that one more row was appended to every decoder; builds a full batch.
    #[inline]
    pub(crate) fn row_done(&mut self) -> Result<()> {
        self.rows_in_batch += 1;
        if self.rows_in_batch >= self.batch_size {
            self.flush()?;
        }
        Ok(())
    }

    /// Appends one row, each column through `append`, whose error says what the value
    /// holds; it becomes an error naming the column and the row.
    pub(crate) fn push_row<R>(
        &mut self,
        row: &R,
        append: impl Fn(&mut D, &R, usize) -> std::result::Result<(), String>,
    ) -> Result<()> {
        for index in 0..self.decoders.len() {
            if let Err(problem) = append(&mut self.decoders[index], row, index) {
                return Err(self.value_error(index, &problem));
            }
        }
        self.row_done()
    }

    fn flush(&mut self) -> Result<()> {
        let first_row = self.rows_before;
        for ((decoder, name), arrays) in self
            .decoders
            .iter_mut()
            .zip(&self.names)
            .zip(&mut self.columns)
        {
            let array = decoder
                .finish(first_row)
                .map_err(|e| Error::Data(format!("column \"{name}\": {e}")))?;
            arrays.push(array);
        }
        if self.hand_out {
            let batch = self.build_handed_out()?;
            self.ready.push(batch);
        } else {
            self.batches.push((self.rows_in_batch, first_row));
        }
        self.rows_before += self.rows_in_batch;
        self.rows_in_batch = 0;
        Ok(())
    }

    /// The batch just flushed, each column at the type of its own array (the stream's
    /// sink fits later batches to the first one's types).
    fn build_handed_out(&mut self) -> Result<RecordBatch> {
        let mut fields = Vec::with_capacity(self.decoders.len());
        let mut arrays = Vec::with_capacity(self.decoders.len());
        for ((decoder, name), column) in
            self.decoders.iter().zip(&self.names).zip(&mut self.columns)
        {
            let Some(array) = column.pop() else {
                return Err(Error::Data(format!(
                    "column \"{name}\": no array was built for the batch"
                )));
            };
            fields.push(
                decoder
                    .field(name)
                    .with_data_type(array.data_type().clone()),
            );
            arrays.push(array);
        }
        let options = RecordBatchOptions::new().with_row_count(Some(self.rows_in_batch));
        RecordBatch::try_new_with_options(Arc::new(Schema::new(fields)), arrays, &options)
            .map_err(|e| Error::Data(e.to_string()))
    }

    /// The batches not yet taken, the last (partial) one built: when nothing was handed
    /// out, one batch without rows, whose schema a result without rows announces.
    pub(crate) fn finish_handing_out(mut self) -> Result<Vec<RecordBatch>> {
        if self.rows_in_batch > 0 || self.rows_before == 0 {
            self.flush()?;
        }
        Ok(self.ready)
    }

    /// The table of every row appended, each column of one type settled over all of
    /// them: earlier batches are widened to it.
    pub(crate) fn finish(mut self) -> Result<Table> {
        if self.rows_in_batch > 0 || self.batches.is_empty() {
            self.flush()?;
        }
        let first_rows: Vec<usize> = self.batches.iter().map(|(_, first)| *first).collect();
        let mut fields = Vec::with_capacity(self.decoders.len());
        let mut columns = Vec::with_capacity(self.decoders.len());
        for ((decoder, name), arrays) in self
            .decoders
            .iter()
            .zip(&self.names)
            .zip(std::mem::take(&mut self.columns))
        {
            let target = decoder.settled_type();
            let arrays = unify::unify(arrays, &first_rows, target.as_ref())
                .map_err(|e| Error::Data(format!("column \"{name}\": {e}")))?;
            let data_type = arrays
                .last()
                .map_or(DataType::Null, |a| a.data_type().clone());
            fields.push(decoder.field(name).with_data_type(data_type));
            columns.push(arrays.into_iter());
        }
        let schema = Arc::new(Schema::new(fields));
        let mut batches = Vec::with_capacity(self.batches.len());
        for (rows, _) in &self.batches {
            let arrays: Vec<ArrayRef> = columns.iter_mut().filter_map(Iterator::next).collect();
            // An empty result keeps one (empty) batch from the flush above; drop it.
            if *rows == 0 {
                continue;
            }
            let options = RecordBatchOptions::new().with_row_count(Some(*rows));
            let batch = RecordBatch::try_new_with_options(Arc::clone(&schema), arrays, &options)
                .map_err(|e| Error::Data(e.to_string()))?;
            batches.push(batch);
        }
        Table::new(schema, batches)
    }
}

#[cfg(test)]
#[cfg(feature = "sqlite")]
mod tests {
    use arrow::array::AsArray;
    use arrow::datatypes::Int64Type;

    use super::sqlite::{SqliteColumn, SqliteValue};
    use super::*;

    fn dynamic(batch_size: usize) -> Batches<SqliteColumn> {
        let decoder = SqliteColumn::declared(Some("INTEGER"));
        Batches::new(vec!["v".to_owned()], vec![decoder], batch_size).handing_out()
    }

    fn push(batches: &mut Batches<SqliteColumn>, value: &SqliteValue<'_>) {
        batches
            .push_row(value, |decoder, value, _| decoder.append(*value))
            .unwrap();
    }

    #[test]
    fn handed_out_batches_come_as_built_each_at_its_own_type() {
        let mut batches = dynamic(2);
        push(&mut batches, &SqliteValue::Integer(1));
        assert!(!batches.has_ready(), "a batch is handed out when full");
        push(&mut batches, &SqliteValue::Integer(2));
        let first = batches.take_ready();
        assert_eq!(first.len(), 1);
        assert_eq!(first[0].schema().field(0).data_type(), &DataType::Int64);
        assert_eq!(
            first[0].column(0).as_primitive::<Int64Type>().values(),
            &[1, 2]
        );
        assert!(batches.take_ready().is_empty(), "taken once");
        push(&mut batches, &SqliteValue::Real(2.5));
        // Not widened back: the earlier batch is gone, the sink fits this one.
        let rest = batches.finish_handing_out().unwrap();
        assert_eq!(rest.len(), 1);
        assert_eq!(rest[0].num_rows(), 1);
        assert_eq!(rest[0].schema().field(0).data_type(), &DataType::Float64);
    }

    #[test]
    fn a_result_without_rows_hands_out_one_empty_batch_with_its_schema() {
        let rest = dynamic(7).finish_handing_out().unwrap();
        assert_eq!(rest.len(), 1);
        assert_eq!(rest[0].num_rows(), 0);
        assert_eq!(rest[0].schema().field(0).name(), "v");
        assert_eq!(rest[0].schema().field(0).data_type(), &DataType::Int64);
    }

    #[test]
    fn a_result_of_whole_batches_ends_without_an_empty_one() {
        let mut batches = dynamic(1);
        push(&mut batches, &SqliteValue::Integer(7));
        assert_eq!(batches.take_ready().len(), 1);
        assert!(batches.finish_handing_out().unwrap().is_empty());
    }
}
