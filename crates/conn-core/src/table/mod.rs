//! [`Table`]: the result of every tabular read, Arrow record batches with their schema.

mod display;
mod rows;

use std::fmt;
use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch};
use arrow::datatypes::SchemaRef;
use serde::de::DeserializeOwned;

use crate::error::{Error, Result};

pub use display::DisplayOptions;

/// A query or file read result: Arrow record batches sharing one schema.
///
/// Cloning is cheap: the batches are shared, never copied, which is how a result cache
/// hit returns in constant time whatever the size. `Display` prints an aligned table,
/// truncated in the middle when long or wide; [`rows`](Self::rows) turns rows into any
/// `serde` type.
#[derive(Clone)]
pub struct Table {
    schema: SchemaRef,
    batches: Arc<[RecordBatch]>,
    num_rows: usize,
}

impl Table {
    /// A table from batches that all have `schema`.
    pub fn new(schema: SchemaRef, batches: Vec<RecordBatch>) -> Result<Self> {
        if let Some(bad) = batches.iter().position(|b| b.schema() != schema) {
            return Err(Error::Data(format!(
                "record batch {bad} has a schema that differs from the table's"
            )));
        }
        let num_rows = batches.iter().map(RecordBatch::num_rows).sum();
        Ok(Table {
            schema,
            batches: batches.into(),
            num_rows,
        })
    }

    /// A table with no rows.
    pub fn empty(schema: SchemaRef) -> Self {
        Table {
            schema,
            batches: Arc::from(Vec::new()),
            num_rows: 0,
        }
    }

    /// A table of one batch.
    pub fn from_batch(batch: RecordBatch) -> Self {
        let num_rows = batch.num_rows();
        Table {
            schema: batch.schema(),
            batches: Arc::from(vec![batch]),
            num_rows,
        }
    }

    /// The schema.
    pub fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    /// The record batches.
    pub fn batches(&self) -> &[RecordBatch] {
        &self.batches
    }

    /// Rows in all batches.
    pub fn num_rows(&self) -> usize {
        self.num_rows
    }

    /// Number of columns.
    pub fn num_columns(&self) -> usize {
        self.schema.fields().len()
    }

    /// Whether the table has no rows.
    pub fn is_empty(&self) -> bool {
        self.num_rows == 0
    }

    /// Column names, in order.
    pub fn column_names(&self) -> Vec<&str> {
        self.schema
            .fields()
            .iter()
            .map(|f| f.name().as_str())
            .collect()
    }

    fn column_index(&self, name: &str) -> Result<usize> {
        self.schema.index_of(name).map_err(|_| {
            let names = self.column_names();
            Error::Data(format!(
                "no column \"{name}\"{}; columns: {}",
                crate::suggest::nearest(name, &names)
                    .map(|s| format!(" (did you mean \"{s}\"?)"))
                    .unwrap_or_default(),
                names.join(", ")
            ))
        })
    }

    /// One column as its per-batch chunks (no copy).
    pub fn column_chunks(&self, name: &str) -> Result<Vec<ArrayRef>> {
        let index = self.column_index(name)?;
        Ok(self
            .batches
            .iter()
            .map(|b| Arc::clone(b.column(index)))
            .collect())
    }

    /// One column as a single array: no copy when the table has one batch, one
    /// concatenation otherwise.
    pub fn column(&self, name: &str) -> Result<ArrayRef> {
        let index = self.column_index(name)?;
        match &*self.batches {
            [] => Ok(arrow::array::new_empty_array(
                self.schema.field(index).data_type(),
            )),
            [one] => Ok(Arc::clone(one.column(index))),
            many => {
                let chunks: Vec<&dyn arrow::array::Array> =
                    many.iter().map(|b| b.column(index).as_ref()).collect();
                arrow::compute::concat(&chunks).map_err(|e| Error::Data(e.to_string()))
            }
        }
    }

    /// All rows as one record batch (a copy when there are several batches).
    pub fn to_record_batch(&self) -> Result<RecordBatch> {
        match &*self.batches {
            [one] => Ok(one.clone()),
            batches => arrow::compute::concat_batches(&self.schema, batches)
                .map_err(|e| Error::Data(e.to_string())),
        }
    }

    /// Every row as a `T` (a struct with one field per column, a tuple, a map...).
    /// A value that does not fit is an error naming its column and row.
    pub fn rows<T: DeserializeOwned>(&self) -> Result<Vec<T>> {
        rows::deserialize_rows(self)
    }

    /// Arrow memory held by the table's buffers, in bytes (what the result cache
    /// counts against its bound).
    pub fn memory_size(&self) -> usize {
        self.batches
            .iter()
            .map(RecordBatch::get_array_memory_size)
            .sum()
    }

    /// Displays with custom limits.
    pub fn display(&self, options: DisplayOptions) -> impl fmt::Display + '_ {
        display::TableDisplay {
            table: self,
            options,
        }
    }

    /// Whether two tables share the same batches (a cache hit returns such a clone).
    pub fn shares_data_with(&self, other: &Table) -> bool {
        Arc::ptr_eq(&self.batches, &other.batches)
    }
}

impl<'a> IntoIterator for &'a Table {
    type Item = &'a RecordBatch;
    type IntoIter = std::slice::Iter<'a, RecordBatch>;

    fn into_iter(self) -> Self::IntoIter {
        self.batches.iter()
    }
}

impl fmt::Display for Table {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        display::TableDisplay {
            table: self,
            options: DisplayOptions::default(),
        }
        .fmt(f)
    }
}

impl fmt::Debug for Table {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Table")
            .field("num_rows", &self.num_rows)
            .field("batches", &self.batches.len())
            .field("schema", &self.schema)
            .finish()
    }
}

impl From<RecordBatch> for Table {
    fn from(batch: RecordBatch) -> Self {
        Table::from_batch(batch)
    }
}

#[cfg(test)]
mod tests;
