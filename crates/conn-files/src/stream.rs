//! Streamed reads (`read(path).stream()`): record batches handed to the reader as the
//! object's bytes arrive, never the whole object or table in memory.
//!
//! CSV and JSON lines (compressed or not) come through one streaming `GET`, decoded
//! batch by batch; Parquet through the async reader, row group by row group, every
//! request pinned to one version of the object (see `parquet_read.rs`). Each batch goes
//! to the [`BatchSink`], which waits while the reader is the prefetch depth behind:
//! the download waits with it. Dropping the stream aborts the producer, which drops
//! the download.
//!
//! Types: a CSV or JSON lines schema comes from the first `infer_rows` records, as
//! for `read()`; but a stream cannot take back batches it handed out, so a later
//! record that does not fit them ends the stream with an error naming the column and
//! the row (where `read()` would read the object again and infer from every record).

use std::io::Cursor;
use std::sync::Arc;

use conn_core::arrow::array::RecordBatch;
use conn_core::arrow::datatypes::SchemaRef;
use conn_core::arrow::error::ArrowError;
use conn_core::plugin::BatchSink;
use conn_core::{Error, Result};
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt};
use tokio::io::{AsyncBufReadExt, AsyncReadExt};

use crate::format::{Compression, Format};
use crate::parquet_read;
use crate::read::{
    PushDecoder, ReadOptions, Reader, byte_reader, csv_builder, csv_format, io_error, json_builder,
    name_columns, projection, sample,
};
use crate::store::Stores;
use crate::typing::{Plan, Zones};

/// Streams the object at `path` (CSV, JSON lines or Parquet) into `sink`.
pub(crate) async fn object(
    stores: Arc<Stores>,
    path: &str,
    format: Format,
    compression: Option<Compression>,
    options: &ReadOptions,
    sink: &BatchSink,
) -> Result<()> {
    let (store, location) = stores.resolve(path)?;
    // Errors name a local file by its path, as read() does.
    let label = match stores.local_path(path)? {
        Some(local) => local.display().to_string(),
        None => location.to_string(),
    };
    match format {
        Format::Parquet if compression.is_some() => Err(Error::InvalidArgument(format!(
            "{location}: Parquet compresses inside the file; a compressed .parquet file cannot \
             be read"
        ))),
        Format::Parquet => parquet_read::stream(&stores, store, &location, options, sink).await,
        Format::Csv | Format::Jsonl => {
            let source = Source {
                location: &location,
                label: &label,
            };
            text(&stores, store, source, format, compression, options, sink).await
        }
        Format::Json | Format::Text => Err(Error::InvalidArgument(format!(
            "{location} is {format}, which is not a table: use read_json or read_text"
        ))),
    }
}

/// Where the bytes come from: the object, and how errors name it.
#[derive(Clone, Copy)]
struct Source<'a> {
    location: &'a ObjectPath,
    label: &'a str,
}

impl Source<'_> {
    /// A data error naming the file.
    fn error(self, err: impl std::fmt::Display) -> Error {
        Error::Data(format!("{}: {err}", self.label))
    }
}

/// CSV or JSON lines: one `GET`, its body decompressed and decoded as it arrives.
async fn text(
    stores: &Stores,
    store: Arc<dyn ObjectStore>,
    source: Source<'_>,
    format: Format,
    compression: Option<Compression>,
    options: &ReadOptions,
    sink: &BatchSink,
) -> Result<()> {
    let location = source.location;
    let result = store
        .get(location)
        .await
        .map_err(|e| stores.error(&e, "read"))?;
    let mut reader = byte_reader(result, compression, stores.redactor());
    if format == Format::Csv {
        let quote = options.quote.unwrap_or(b'"');
        let head = sample(&mut reader, options.infer_rows + 1, Some(quote), location).await?;
        let csv = csv_format(options);
        let (schema, _) = csv
            .infer_schema(Cursor::new(&head), Some(options.infer_rows))
            .map_err(|e| source.error(e))?;
        let plan = Plan::new(schema, false);
        let (builder, indices) = csv_builder(&plan, csv, options, location)?;
        let mut out = Emitter::new(plan, indices, None, options, source, sink)?;
        drive(head, reader, builder.build_decoder(), &mut out).await
    } else {
        let head = sample(&mut reader, options.infer_rows, None, location).await?;
        let (schema, _) =
            arrow_json::reader::infer_json_schema(Cursor::new(&head), Some(options.infer_rows))
                .map_err(|e| source.error(e))?;
        let plan = Plan::new(schema, true);
        let decoder = json_builder(&plan, options)
            .build_decoder()
            .map_err(|e| source.error(e))?;
        // JSON lines decodes every column; `columns` picks them from each batch.
        let picked = projection(&plan.inferred, options.columns.as_ref(), location)?;
        let mut out = Emitter::new(plan, None, picked, options, source, sink)?;
        drive(head, reader, decoder, &mut out).await
    }
}

/// Feeds `head` and then the rest of `reader` through `decoder`, handing each batch
/// to `out` as soon as the decoder completes it.
async fn drive<D: PushDecoder>(
    head: Vec<u8>,
    reader: Reader,
    mut decoder: D,
    out: &mut Emitter<'_>,
) -> Result<()> {
    let mut input = AsyncReadExt::chain(Cursor::new(head), reader);
    loop {
        let buffer = input
            .fill_buf()
            .await
            .map_err(|e| io_error(out.source.location, &e))?;
        let available = buffer.len();
        let decoded = decoder.decode(buffer).map_err(|e| out.refused(&e))?;
        input.consume(decoded);
        let at_end = available == 0;
        if (at_end || decoded < available)
            && let Some(batch) = decoder.flush().map_err(|e| out.refused(&e))?
        {
            out.emit(&batch).await?;
        }
        if at_end {
            return out.finish().await;
        }
    }
}

/// Settles decoded batches into the inferred schema and sends them.
struct Emitter<'a> {
    plan: Plan,
    /// The decoder's projection (CSV), as indices into the inferred schema.
    decoded: Option<Vec<usize>>,
    /// The columns picked from each settled batch (JSON lines).
    picked: Option<Vec<usize>>,
    /// The schema of settled batches (before `picked`).
    settled: SchemaRef,
    /// The schema the reader gets.
    schema: SchemaRef,
    infer_rows: usize,
    rows: usize,
    /// Whether each date-time column's values carry UTC offsets, as decided so far.
    zones: Zones,
    /// Settled batches held back while a date-time column holds only NULLs so far:
    /// whether its values carry offsets (and so its type) is decided by its first
    /// value, which lies within the sample its type was inferred from (a column
    /// without a value there is inferred `Null`, never a date-time). So the reader
    /// gets such a column in UTC from its first batch, and at most the sample's
    /// records (and one batch) wait here.
    held: Vec<RecordBatch>,
    source: Source<'a>,
    sink: &'a BatchSink,
}

impl<'a> Emitter<'a> {
    fn new(
        plan: Plan,
        decoded: Option<Vec<usize>>,
        picked: Option<Vec<usize>>,
        options: &ReadOptions,
        source: Source<'a>,
        sink: &'a BatchSink,
    ) -> Result<Self> {
        let settled = plan
            .schema(decoded.as_deref())
            .map_err(|misfit| source.error(misfit.why))?;
        let schema = match &picked {
            Some(indices) => Arc::new(settled.project(indices).map_err(|e| source.error(e))?),
            None => Arc::clone(&settled),
        };
        Ok(Emitter {
            plan,
            decoded,
            picked,
            settled,
            schema,
            infer_rows: options.infer_rows,
            rows: 0,
            zones: Zones::default(),
            held: Vec::new(),
            source,
            sink,
        })
    }

    /// Settles one decoded batch and hands it to the reader (waiting while it is
    /// behind), or holds it back while a date-time column's zone is undecided.
    async fn emit(&mut self, batch: &RecordBatch) -> Result<()> {
        let settled = self
            .plan
            .settle_batch(
                &self.settled,
                batch,
                self.decoded.as_deref(),
                self.rows,
                &mut self.zones,
            )
            .map_err(|misfit| self.misfit(&misfit.why))?;
        if let Some(conflict) = self.zones.conflict() {
            return Err(self.source.error(conflict.why));
        }
        self.rows += settled.num_rows();
        let undecided = self.zones.undecided(settled.schema_ref()) && self.rows < self.infer_rows;
        self.held.push(settled);
        if undecided {
            return Ok(());
        }
        self.send_held().await
    }

    /// Sends the batches held back, each in the zones decided so far.
    async fn send_held(&mut self) -> Result<()> {
        for settled in std::mem::take(&mut self.held) {
            // Held batches differ from the decided types only in columns of NULLs.
            let settled = self
                .zones
                .retype(&settled)
                .map_err(|misfit| self.source.error(misfit.why))?;
            let settled = match &self.picked {
                Some(indices) => settled.project(indices).map_err(|e| self.source.error(e))?,
                None => settled,
            };
            self.sink.send(settled).await?;
        }
        Ok(())
    }

    /// The end of the object: the batches still held back; a file without records
    /// still has its columns.
    async fn finish(&mut self) -> Result<()> {
        self.send_held().await?;
        self.sink.announce(Arc::clone(&self.schema)).await
    }

    /// A record the decoder refused: the error names the column; a value that does not
    /// parse as the inferred type says what `read()` would have done.
    fn refused(&self, err: &ArrowError) -> Error {
        let message = name_columns(&err.to_string(), &self.plan);
        if message.contains("while parsing value") {
            self.misfit(&message)
        } else {
            self.source.error(message)
        }
    }

    /// A later record that does not fit the types of the first `infer_rows`.
    fn misfit(&self, why: &str) -> Error {
        self.source.error(format!(
            "{why}; a stream's column types come from the first {} records (raise \
                 `infer_rows`, or read the file with read(), which infers them from every \
                 record)",
            self.infer_rows
        ))
    }
}
