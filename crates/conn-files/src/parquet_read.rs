//! Parquet: the footer, then row groups, through range requests that are all pinned
//! to one version of the object; `columns` come back in the order asked.
//!
//! A Parquet read is several requests (the footer, then row groups). Were the object
//! overwritten between them, a footer of one version could be applied to the bytes of
//! another. So every request carries `If-Match` with the ETag (or the version) that
//! the first `HEAD` saw: an overwrite makes the next request fail instead of mixing.
//! The read then starts over once from the new version; a second change is an error.

use std::any::Any;
use std::fmt;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;
use conn_core::arrow::array::{RecordBatch, RecordBatchReader};
use conn_core::plugin::BatchSink;
use conn_core::{Error, Result, Table};
use futures::stream::BoxStream;
use futures::{FutureExt, TryStreamExt};
use object_store::path::Path as ObjectPath;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    ObjectStoreExt, PutMultipartOptions, PutOptions, PutPayload, PutResult,
};
use parquet::arrow::ParquetRecordBatchStreamBuilder;
use parquet::arrow::ProjectionMask;
use parquet::arrow::async_reader::ParquetObjectReader;

use crate::read::{ReadOptions, changed_error, data_error, project_table, projection};
use crate::store::Stores;

/// Reads a Parquet object, pinned to one version (starting over once if it changes
/// mid-read). Returns the metadata of the version read with the table.
pub(crate) async fn read(
    stores: &Stores,
    store: Arc<dyn ObjectStore>,
    location: &ObjectPath,
    options: &ReadOptions,
) -> Result<(Table, ObjectMeta)> {
    let mut attempt = 1;
    loop {
        let meta = store
            .head(location)
            .await
            .map_err(|e| stores.error(&e, "read"))?;
        let pinned = Arc::new(Pinned::new(Arc::clone(&store), &meta));
        let outcome =
            read_version(Arc::clone(&pinned) as Arc<dyn ObjectStore>, &meta, options).await;
        match outcome {
            Ok(table) => return Ok((table, meta)),
            Err(_) if pinned.changed() && attempt == 1 => {
                tracing::debug!(path = %location, "conn.files: object changed mid-read; starting over");
                attempt += 1;
            }
            Err(_) if pinned.changed() => return Err(changed_error(location)),
            Err(err) => return Err(err),
        }
    }
}

async fn read_version(
    store: Arc<dyn ObjectStore>,
    meta: &ObjectMeta,
    options: &ReadOptions,
) -> Result<Table> {
    let path = &meta.location;
    let label = path.as_ref();
    let reader = ParquetObjectReader::new(store, path.clone()).with_file_size(meta.size);
    let mut builder = in_reader_async(label, ParquetRecordBatchStreamBuilder::new(reader))
        .await?
        .map_err(|e| data_error(path, e))?
        .with_batch_size(options.batch_size);
    check_row_counts(builder.metadata(), label)?;
    let file_schema = Arc::clone(builder.schema());
    let indices = projection(&file_schema, options.columns.as_ref(), path)?;
    if let Some(indices) = &indices {
        let mask = ProjectionMask::roots(builder.parquet_schema(), indices.iter().copied());
        builder = builder.with_projection(mask);
    }
    let stream = in_reader(label, || builder.build())?.map_err(|e| data_error(path, e))?;
    let schema = Arc::clone(stream.schema());
    let batches: Vec<RecordBatch> = in_reader_async(label, stream.try_collect::<Vec<_>>())
        .await?
        .map_err(|e| data_error(path, e))?;
    in_order(Table::new(schema, batches)?, options, path)
}

/// Streams a Parquet object into `sink`, batch by batch as its row groups arrive, every
/// request pinned to the version the first `HEAD` saw. A change before the first batch
/// starts the read over once from the new version; after it, the stream ends with an
/// error (it cannot take back what it handed out).
pub(crate) async fn stream(
    stores: &Stores,
    store: Arc<dyn ObjectStore>,
    location: &ObjectPath,
    options: &ReadOptions,
    sink: &BatchSink,
) -> Result<()> {
    let mut attempt = 1;
    loop {
        let meta = store
            .head(location)
            .await
            .map_err(|e| stores.error(&e, "read"))?;
        let pinned = Arc::new(Pinned::new(Arc::clone(&store), &meta));
        let outcome = stream_version(
            Arc::clone(&pinned) as Arc<dyn ObjectStore>,
            &meta,
            options,
            sink,
        )
        .await;
        match outcome {
            Ok(()) => return Ok(()),
            Err(_) if pinned.changed() && attempt == 1 && !sink.started() => {
                tracing::debug!(path = %location, "conn.files: object changed before its first batch; starting over");
                attempt += 1;
            }
            Err(_) if pinned.changed() => return Err(changed_error(location)),
            Err(err) => return Err(err),
        }
    }
}

async fn stream_version(
    store: Arc<dyn ObjectStore>,
    meta: &ObjectMeta,
    options: &ReadOptions,
    sink: &BatchSink,
) -> Result<()> {
    let path = &meta.location;
    let label = path.as_ref();
    let reader = ParquetObjectReader::new(store, path.clone()).with_file_size(meta.size);
    let mut builder = in_reader_async(label, ParquetRecordBatchStreamBuilder::new(reader))
        .await?
        .map_err(|e| data_error(path, e))?
        .with_batch_size(options.batch_size);
    check_row_counts(builder.metadata(), label)?;
    let file_schema = Arc::clone(builder.schema());
    let indices = projection(&file_schema, options.columns.as_ref(), path)?;
    if let Some(indices) = &indices {
        let mask = ProjectionMask::roots(builder.parquet_schema(), indices.iter().copied());
        builder = builder.with_projection(mask);
    }
    let mut stream = in_reader(label, || builder.build())?.map_err(|e| data_error(path, e))?;
    // The reader gives the file's order; `columns` may ask for another.
    let read_schema = Arc::clone(stream.schema());
    let order = projection(&read_schema, options.columns.as_ref(), path)?
        .filter(|order| order.iter().enumerate().any(|(i, at)| i != *at));
    let schema = match &order {
        Some(order) => Arc::new(
            read_schema
                .project(order)
                .map_err(|e| data_error(path, e))?,
        ),
        None => read_schema,
    };
    while let Some(batch) = in_reader_async(label, stream.try_next())
        .await?
        .map_err(|e| data_error(path, e))?
    {
        let batch = match &order {
            Some(order) => batch.project(order).map_err(|e| data_error(path, e))?,
            None => batch,
        };
        sink.send(batch).await?;
    }
    sink.announce(schema).await
}

/// The table's columns in the order `columns` asked for (the reader gives the
/// file's order).
fn in_order(table: Table, options: &ReadOptions, path: &ObjectPath) -> Result<Table> {
    match projection(table.schema(), options.columns.as_ref(), path)? {
        Some(indices) if indices.iter().enumerate().any(|(i, at)| i != *at) => {
            project_table(&table, &indices, path)
        }
        _ => Ok(table),
    }
}

/// Parquet from a local file, with the projection pushed into the reader.
pub(crate) fn read_local(path: &std::path::Path, options: &ReadOptions) -> Result<Table> {
    let file = std::fs::File::open(path).map_err(|e| Error::Io {
        context: format!("reading {}", path.display()),
        message: e.to_string(),
    })?;
    read_chunks(file, &path.display().to_string(), options)
}

/// Parquet from any source of byte ranges (a file, bytes in memory); `label` names it
/// in errors.
pub(crate) fn read_chunks<R: parquet::file::reader::ChunkReader + 'static>(
    source: R,
    label: &str,
    options: &ReadOptions,
) -> Result<Table> {
    decode_chunks(source, label, options)
}

/// Runs a call into the Parquet reader, turning its panic into an error naming the file.
/// Only the reader's own calls run under it: a panic of conn's code stays a panic.
fn in_reader<T>(label: &str, call: impl FnOnce() -> T) -> Result<T> {
    std::panic::catch_unwind(AssertUnwindSafe(call))
        .map_err(|panic| reader_panicked(label, &*panic))
}

/// [`in_reader`] for the reader's futures.
async fn in_reader_async<F: Future>(label: &str, call: F) -> Result<F::Output> {
    AssertUnwindSafe(call)
        .catch_unwind()
        .await
        .map_err(|panic| reader_panicked(label, &*panic))
}

/// Refuses row groups of a negative number of rows, or whose sum overflows: the
/// reader adds them up unchecked (wrapping, or panicking with overflow checks).
fn check_row_counts(
    metadata: &parquet::file::metadata::ParquetMetaData,
    label: &str,
) -> Result<()> {
    let mut total: i64 = 0;
    for (i, group) in metadata.row_groups().iter().enumerate() {
        let rows = group.num_rows();
        total = match total.checked_add(rows) {
            Some(total) if rows >= 0 => total,
            _ => {
                return Err(Error::Data(format!(
                    "{label}: the Parquet file is corrupt (row group {i} has {rows} rows)"
                )));
            }
        };
    }
    Ok(())
}

/// The error for a panic of the Parquet reader: on some corrupt files it asserts
/// instead of returning an error ("column start and length should not be negative").
fn reader_panicked(label: &str, panic: &(dyn Any + Send)) -> Error {
    let why = panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("no message");
    Error::Data(format!(
        "{label}: the Parquet file is corrupt (the Parquet reader failed: {why})"
    ))
}

fn decode_chunks<R: parquet::file::reader::ChunkReader + 'static>(
    source: R,
    label: &str,
    options: &ReadOptions,
) -> Result<Table> {
    let failed = |e: &dyn fmt::Display| Error::Data(format!("{label}: {e}"));
    let object = ObjectPath::from(label);
    let mut builder = in_reader(label, || {
        parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(source)
    })?
    .map_err(|e| failed(&e))?
    .with_batch_size(options.batch_size);
    check_row_counts(builder.metadata(), label)?;
    if let Some(indices) = projection(builder.schema(), options.columns.as_ref(), &object)? {
        let mask = ProjectionMask::roots(builder.parquet_schema(), indices);
        builder = builder.with_projection(mask);
    }
    let reader = in_reader(label, || builder.build())?.map_err(|e| failed(&e))?;
    let schema = RecordBatchReader::schema(&reader);
    let batches: Vec<RecordBatch> =
        in_reader(label, || reader.collect::<std::result::Result<Vec<_>, _>>())?
            .map_err(|e| failed(&e))?;
    in_order(Table::new(schema, batches)?, options, &object)
}

/// A store whose reads all carry `If-Match` (or the version) of one object version,
/// and that remembers whether one was refused because the object changed.
#[derive(Debug)]
struct Pinned {
    inner: Arc<dyn ObjectStore>,
    e_tag: Option<String>,
    version: Option<String>,
    changed: AtomicBool,
}

impl Pinned {
    fn new(inner: Arc<dyn ObjectStore>, meta: &ObjectMeta) -> Self {
        Pinned {
            inner,
            e_tag: meta.e_tag.clone(),
            version: meta.version.clone(),
            changed: AtomicBool::new(false),
        }
    }

    fn changed(&self) -> bool {
        self.changed.load(Ordering::Relaxed)
    }
}

impl fmt::Display for Pinned {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Pinned({})", self.inner)
    }
}

#[async_trait]
impl ObjectStore for Pinned {
    async fn put_opts(
        &self,
        location: &ObjectPath,
        payload: PutPayload,
        opts: PutOptions,
    ) -> object_store::Result<PutResult> {
        self.inner.put_opts(location, payload, opts).await
    }

    async fn put_multipart_opts(
        &self,
        location: &ObjectPath,
        opts: PutMultipartOptions,
    ) -> object_store::Result<Box<dyn MultipartUpload>> {
        self.inner.put_multipart_opts(location, opts).await
    }

    async fn get_opts(
        &self,
        location: &ObjectPath,
        mut options: GetOptions,
    ) -> object_store::Result<GetResult> {
        if options.if_match.is_none() {
            options.if_match.clone_from(&self.e_tag);
        }
        if options.version.is_none() {
            options.version.clone_from(&self.version);
        }
        let result = self.inner.get_opts(location, options).await;
        if let Err(
            object_store::Error::Precondition { .. } | object_store::Error::NotModified { .. },
        ) = &result
        {
            self.changed.store(true, Ordering::Relaxed);
        }
        result
    }

    // `get_ranges` keeps the trait's default, which reads each range through
    // `get_opts` above.

    fn delete_stream(
        &self,
        locations: BoxStream<'static, object_store::Result<ObjectPath>>,
    ) -> BoxStream<'static, object_store::Result<ObjectPath>> {
        self.inner.delete_stream(locations)
    }

    fn list(
        &self,
        prefix: Option<&ObjectPath>,
    ) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        self.inner.list(prefix)
    }

    async fn list_with_delimiter(
        &self,
        prefix: Option<&ObjectPath>,
    ) -> object_store::Result<ListResult> {
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy_opts(
        &self,
        from: &ObjectPath,
        to: &ObjectPath,
        options: CopyOptions,
    ) -> object_store::Result<()> {
        self.inner.copy_opts(from, to, options).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options() -> ReadOptions {
        ReadOptions::parse(
            crate::format::Format::Parquet,
            false,
            &conn_core::Map::new(),
        )
        .unwrap()
    }

    #[test]
    fn a_file_the_parquet_reader_panics_on_is_an_error_naming_it() {
        // Found by fuzzing (fuzz/fuzz_targets/files_parquet.rs): a written file with a
        // few bytes overwritten makes the parquet crate assert ("column start and length
        // should not be negative") instead of returning an error.
        let corrupt = include_bytes!("../tests/data/corrupt-column-offsets.parquet");
        let err = read_chunks(
            bytes::Bytes::from_static(corrupt),
            "data/corrupt.parquet",
            &options(),
        )
        .unwrap_err()
        .to_string();
        assert_eq!(
            err,
            "data/corrupt.parquet: the Parquet file is corrupt (the Parquet reader failed: \
             column start and length should not be negative)"
        );
    }

    #[test]
    fn a_file_whose_row_counts_overflow_is_an_error_naming_it() {
        // Found by fuzzing: row group sizes whose sum overflows `usize` (the parquet
        // crate adds them up unchecked: a panic with overflow checks, a wrapped count
        // without). conn checks them first, in every build.
        let corrupt = include_bytes!("../tests/data/corrupt-row-count.parquet");
        let err = read_chunks(
            bytes::Bytes::from_static(corrupt),
            "data/rows.parquet",
            &options(),
        )
        .unwrap_err()
        .to_string();
        assert_eq!(
            err,
            "data/rows.parquet: the Parquet file is corrupt (row group 5 has -2 rows)"
        );
    }
}
