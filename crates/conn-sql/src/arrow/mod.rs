//! Query results to Arrow, streamed in batches so memory stays near the Arrow size.

pub(crate) mod decimal;
pub(crate) mod generic;
#[cfg(feature = "postgres")]
pub(crate) mod postgres;

use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch, RecordBatchOptions};
use arrow::datatypes::{Field, Schema, SchemaRef};
use conn_core::{Error, Result, Table};

/// A column decoder the batch assembler can drive.
pub(crate) trait ColumnDecoder {
    /// The Arrow field for a column called `name`.
    fn field(&self, name: &str) -> Field;
    /// The values appended since the last call, as an array.
    fn finish(&mut self) -> std::result::Result<ArrayRef, String>;
}

/// Collects decoded rows into record batches of `batch_size` rows.
pub(crate) struct Batches<D> {
    pub(crate) names: Vec<String>,
    pub(crate) decoders: Vec<D>,
    pub(crate) batch_size: usize,
    rows_in_batch: usize,
    schema: Option<SchemaRef>,
    batches: Vec<RecordBatch>,
}

impl<D: ColumnDecoder> Batches<D> {
    pub(crate) fn new(names: Vec<String>, decoders: Vec<D>, batch_size: usize) -> Self {
        Batches {
            names,
            decoders,
            batch_size,
            rows_in_batch: 0,
            schema: None,
            batches: Vec::new(),
        }
    }

    /// Records that one more row was appended to every decoder; flushes a full batch.
    #[inline]
    pub(crate) fn row_done(&mut self) -> Result<()> {
        self.rows_in_batch += 1;
        if self.rows_in_batch >= self.batch_size {
            self.flush()?;
        }
        Ok(())
    }

    /// Appends one row, each column through `append`; a value that does not decode is an
    /// error naming its column.
    pub(crate) fn push_row<R, E: std::fmt::Display>(
        &mut self,
        row: &R,
        append: impl Fn(&mut D, &R, usize) -> std::result::Result<(), E>,
    ) -> Result<()> {
        for (index, decoder) in self.decoders.iter_mut().enumerate() {
            append(decoder, row, index)
                .map_err(|e| Error::Data(format!("column \"{}\": {e}", self.names[index])))?;
        }
        self.row_done()
    }

    fn flush(&mut self) -> Result<()> {
        let mut columns = Vec::with_capacity(self.decoders.len());
        for (decoder, name) in self.decoders.iter_mut().zip(&self.names) {
            columns.push(
                decoder
                    .finish()
                    .map_err(|e| Error::Data(format!("column \"{name}\": {e}")))?,
            );
        }
        // The schema is fixed by the first batch (a decimal's scale may come from it).
        let schema = match &self.schema {
            Some(schema) => Arc::clone(schema),
            None => {
                let fields: Vec<Field> = self
                    .decoders
                    .iter()
                    .zip(&self.names)
                    .zip(&columns)
                    .map(|((decoder, name), column)| {
                        decoder
                            .field(name)
                            .with_data_type(column.data_type().clone())
                    })
                    .collect();
                let schema = Arc::new(Schema::new(fields));
                self.schema = Some(Arc::clone(&schema));
                schema
            }
        };
        let options = RecordBatchOptions::new().with_row_count(Some(self.rows_in_batch));
        let batch = RecordBatch::try_new_with_options(schema, columns, &options)
            .map_err(|e| Error::Data(e.to_string()))?;
        self.batches.push(batch);
        self.rows_in_batch = 0;
        Ok(())
    }

    /// The table of every row appended.
    pub(crate) fn finish(mut self) -> Result<Table> {
        if self.rows_in_batch > 0 || self.schema.is_none() {
            self.flush()?;
        }
        let schema = self
            .schema
            .clone()
            .ok_or_else(|| Error::Data("a result without a schema".into()))?;
        // An empty result still has one (empty) batch from the flush above; drop it.
        self.batches.retain(|b| b.num_rows() > 0);
        Table::new(schema, self.batches)
    }
}
