//! Streaming readers: an object's bytes to Arrow batches (CSV, JSON lines, Parquet) or
//! to one value (JSON, text), without holding the file and its table at once.

use std::io::Cursor;
use std::pin::Pin;
use std::sync::Arc;

use arrow_csv::reader::Format as CsvFormat;
use conn_core::arrow::array::{RecordBatch, RecordBatchReader};
use conn_core::arrow::datatypes::{Schema, SchemaRef};
use conn_core::arrow::error::ArrowError;
use conn_core::{Error, Kind, Map, Result, Table, Value};
use futures::TryStreamExt;
use object_store::path::Path as ObjectPath;
use object_store::{GetResult, ObjectMeta, ObjectStore};
use parquet::arrow::ParquetRecordBatchStreamBuilder;
use parquet::arrow::ProjectionMask;
use parquet::arrow::async_reader::ParquetObjectReader;
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncReadExt, BufReader};

use crate::format::{Compression, Format};

/// Bytes read before a CSV or JSON lines schema is inferred (at least
/// `infer_rows` records, at most this many bytes beyond them).
const SAMPLE_BYTES: usize = 1 << 20;

/// Read options, checked against the format.
#[derive(Debug, Clone)]
pub(crate) struct ReadOptions {
    pub(crate) delimiter: u8,
    pub(crate) header: bool,
    pub(crate) quote: Option<u8>,
    pub(crate) escape: Option<u8>,
    pub(crate) comment: Option<u8>,
    pub(crate) infer_rows: usize,
    pub(crate) batch_size: usize,
    pub(crate) columns: Option<Vec<String>>,
    pub(crate) encoding: Option<String>,
}

const CSV_OPTIONS: &[&str] = &[
    "delimiter",
    "sep",
    "header",
    "quote",
    "escape",
    "comment",
    "infer_rows",
    "batch_size",
    "columns",
];
const PARQUET_OPTIONS: &[&str] = &["columns", "batch_size"];
const JSONL_OPTIONS: &[&str] = &["infer_rows", "batch_size", "columns"];
const TEXT_OPTIONS: &[&str] = &["encoding"];

fn byte_option(key: &str, value: &Value) -> Result<u8> {
    let text = value.as_str().ok_or_else(|| {
        Error::InvalidArgument(format!("read option `{key}` must be one character"))
    })?;
    let text = if text == "\\t" { "\t" } else { text };
    match text.as_bytes() {
        [byte] => Ok(*byte),
        _ => Err(Error::InvalidArgument(format!(
            "read option `{key}` must be one ASCII character"
        ))),
    }
}

impl ReadOptions {
    /// Options for `format` from what the caller gave; an option the format does not
    /// take is an error with the nearest valid one.
    pub(crate) fn parse(format: Format, tab_separated: bool, given: &Map) -> Result<ReadOptions> {
        let valid = match format {
            Format::Csv => CSV_OPTIONS,
            Format::Parquet => PARQUET_OPTIONS,
            Format::Jsonl => JSONL_OPTIONS,
            Format::Json => &[],
            Format::Text => TEXT_OPTIONS,
        };
        let mut options = ReadOptions {
            delimiter: if tab_separated { b'\t' } else { b',' },
            header: true,
            quote: None,
            escape: None,
            comment: None,
            infer_rows: 1000,
            batch_size: 65_536,
            columns: None,
            encoding: None,
        };
        for (key, value) in given {
            if !valid.contains(&key.as_str()) {
                let hint = conn_core::did_you_mean(key, valid)
                    .map(|s| format!(" (did you mean `{s}`?)"))
                    .unwrap_or_default();
                let list = if valid.is_empty() {
                    "none".to_owned()
                } else {
                    valid.join(", ")
                };
                return Err(Error::InvalidArgument(format!(
                    "read option `{key}` does not apply to {format}{hint}; {format} takes: {list}"
                )));
            }
            let number = |v: &Value| {
                v.as_integer()
                    .and_then(|i| usize::try_from(i).ok())
                    .filter(|n| *n > 0)
                    .ok_or_else(|| {
                        Error::InvalidArgument(format!(
                            "read option `{key}` must be a positive integer"
                        ))
                    })
            };
            match key.as_str() {
                "delimiter" | "sep" => options.delimiter = byte_option(key, value)?,
                "quote" => options.quote = Some(byte_option(key, value)?),
                "escape" => options.escape = Some(byte_option(key, value)?),
                "comment" => options.comment = Some(byte_option(key, value)?),
                "header" => {
                    options.header = match value.kind() {
                        Kind::Boolean(b) => *b,
                        Kind::Integer(0) => true,
                        _ => {
                            return Err(Error::InvalidArgument(
                                "read option `header` must be true or false".into(),
                            ));
                        }
                    }
                }
                "infer_rows" => options.infer_rows = number(value)?,
                "batch_size" => options.batch_size = number(value)?,
                "columns" => {
                    let columns: Option<Vec<String>> = match value.kind() {
                        Kind::Array(items) => items
                            .iter()
                            .map(|v| v.as_str().map(str::to_owned))
                            .collect(),
                        _ => None,
                    };
                    options.columns = Some(columns.ok_or_else(|| {
                        Error::InvalidArgument(
                            "read option `columns` must be a list of names".into(),
                        )
                    })?);
                }
                "encoding" => {
                    let encoding = value.as_str().unwrap_or_default().to_ascii_lowercase();
                    if !matches!(encoding.as_str(), "utf-8" | "utf8") {
                        return Err(Error::InvalidArgument(format!(
                            "read option `encoding` must be utf-8 (got \"{encoding}\")"
                        )));
                    }
                    options.encoding = Some(encoding);
                }
                _ => {}
            }
        }
        Ok(options)
    }
}

type Reader = Pin<Box<dyn AsyncBufRead + Send>>;

/// The object's bytes, decompressed, as a buffered async reader.
pub(crate) fn byte_reader(result: GetResult, compression: Option<Compression>) -> Reader {
    let stream = result.into_stream().map_err(std::io::Error::other);
    let raw = BufReader::with_capacity(1 << 16, tokio_util::io::StreamReader::new(stream));
    match compression {
        None => Box::pin(raw),
        Some(Compression::Gzip) => Box::pin(BufReader::new(
            async_compression::tokio::bufread::GzipDecoder::new(raw),
        )),
        Some(Compression::Zstd) => Box::pin(BufReader::new(
            async_compression::tokio::bufread::ZstdDecoder::new(raw),
        )),
        Some(Compression::Bzip2) => Box::pin(BufReader::new(
            async_compression::tokio::bufread::BzDecoder::new(raw),
        )),
    }
}

fn io_error(path: &ObjectPath, err: &std::io::Error) -> Error {
    Error::Io {
        context: format!("reading {path}"),
        message: err.to_string(),
    }
}

fn data_error(path: &ObjectPath, err: impl std::fmt::Display) -> Error {
    Error::Data(format!("{path}: {err}"))
}

/// Reads from `reader` until `records` lines (or end of input, or a size cap) are
/// buffered; returns them.
async fn sample(reader: &mut Reader, records: usize, path: &ObjectPath) -> Result<Vec<u8>> {
    let mut head = Vec::new();
    let mut lines = 0;
    loop {
        let read = reader
            .read_until(b'\n', &mut head)
            .await
            .map_err(|e| io_error(path, &e))?;
        if read == 0 {
            break;
        }
        lines += 1;
        if lines > records || head.len() > SAMPLE_BYTES * 64 {
            break;
        }
    }
    Ok(head)
}

/// What the CSV and JSON decoders of arrow have in common.
trait PushDecoder {
    fn decode(&mut self, bytes: &[u8]) -> std::result::Result<usize, ArrowError>;
    fn flush(&mut self) -> std::result::Result<Option<RecordBatch>, ArrowError>;
}

impl PushDecoder for arrow_csv::reader::Decoder {
    fn decode(&mut self, bytes: &[u8]) -> std::result::Result<usize, ArrowError> {
        arrow_csv::reader::Decoder::decode(self, bytes)
    }

    fn flush(&mut self) -> std::result::Result<Option<RecordBatch>, ArrowError> {
        arrow_csv::reader::Decoder::flush(self)
    }
}

impl PushDecoder for arrow_json::reader::Decoder {
    fn decode(&mut self, bytes: &[u8]) -> std::result::Result<usize, ArrowError> {
        arrow_json::reader::Decoder::decode(self, bytes)
    }

    fn flush(&mut self) -> std::result::Result<Option<RecordBatch>, ArrowError> {
        arrow_json::reader::Decoder::flush(self)
    }
}

/// Feeds `head` and then the rest of `reader` through `decoder`.
async fn drive<D: PushDecoder>(
    head: Vec<u8>,
    reader: Reader,
    mut decoder: D,
    path: &ObjectPath,
) -> Result<Vec<RecordBatch>> {
    let mut input = Cursor::new(head).chain(reader);
    let mut batches = Vec::new();
    loop {
        let buffer = input.fill_buf().await.map_err(|e| io_error(path, &e))?;
        let available = buffer.len();
        let decoded = decoder.decode(buffer).map_err(|e| data_error(path, e))?;
        input.consume(decoded);
        let at_end = available == 0;
        if (at_end || decoded < available)
            && let Some(batch) = decoder.flush().map_err(|e| data_error(path, e))?
        {
            batches.push(batch);
        }
        if at_end {
            break;
        }
    }
    Ok(batches)
}

fn projection(
    schema: &SchemaRef,
    columns: Option<&Vec<String>>,
    path: &ObjectPath,
) -> Result<Option<Vec<usize>>> {
    columns
        .map(|names| {
            names
                .iter()
                .map(|name| {
                    schema.index_of(name).map_err(|_| {
                        let all: Vec<&str> =
                            schema.fields().iter().map(|f| f.name().as_str()).collect();
                        Error::Data(format!(
                            "{path} has no column \"{name}\"{}; columns: {}",
                            conn_core::did_you_mean(name, &all)
                                .map(|s| format!(" (did you mean \"{s}\"?)"))
                                .unwrap_or_default(),
                            all.join(", ")
                        ))
                    })
                })
                .collect()
        })
        .transpose()
}

/// The CSV dialect the options describe.
fn csv_format(options: &ReadOptions) -> CsvFormat {
    let mut format = CsvFormat::default()
        .with_header(options.header)
        .with_delimiter(options.delimiter);
    if let Some(quote) = options.quote {
        format = format.with_quote(quote);
    }
    if let Some(escape) = options.escape {
        format = format.with_escape(escape);
    }
    if let Some(comment) = options.comment {
        format = format.with_comment(comment);
    }
    format
}

/// A CSV reader builder for an inferred schema, with the options' projection; also
/// the schema of what it reads.
fn csv_builder(
    schema: Schema,
    format: CsvFormat,
    options: &ReadOptions,
    path: &ObjectPath,
) -> Result<(arrow_csv::ReaderBuilder, SchemaRef)> {
    let schema = Arc::new(schema);
    let mut builder = arrow_csv::ReaderBuilder::new(Arc::clone(&schema))
        .with_format(format)
        .with_batch_size(options.batch_size);
    let projected = projection(&schema, options.columns.as_ref(), path)?;
    let out_schema = match &projected {
        Some(indices) => Arc::new(schema.project(indices).map_err(|e| data_error(path, e))?),
        None => schema,
    };
    if let Some(indices) = projected {
        builder = builder.with_projection(indices);
    }
    Ok((builder, out_schema))
}

/// CSV: infers the schema from a sample, then decodes the whole stream.
pub(crate) async fn csv(
    mut reader: Reader,
    options: &ReadOptions,
    path: &ObjectPath,
) -> Result<Table> {
    let head = sample(&mut reader, options.infer_rows + 1, path).await?;
    let format = csv_format(options);
    let (schema, _) = format
        .infer_schema(Cursor::new(&head), Some(options.infer_rows))
        .map_err(|e| data_error(path, e))?;
    let (builder, out_schema) = csv_builder(schema, format, options, path)?;
    let batches = drive(head, reader, builder.build_decoder(), path).await?;
    Table::new(out_schema, batches)
}

/// JSON lines: infers the schema from a sample, then decodes the whole stream.
pub(crate) async fn jsonl(
    mut reader: Reader,
    options: &ReadOptions,
    path: &ObjectPath,
) -> Result<Table> {
    let head = sample(&mut reader, options.infer_rows, path).await?;
    let (schema, _) =
        arrow_json::reader::infer_json_schema(Cursor::new(&head), Some(options.infer_rows))
            .map_err(|e| data_error(path, e))?;
    let schema = Arc::new(schema);
    let decoder = arrow_json::ReaderBuilder::new(Arc::clone(&schema))
        .with_batch_size(options.batch_size)
        .build_decoder()
        .map_err(|e| data_error(path, e))?;
    let batches = drive(head, reader, decoder, path).await?;
    project(Table::new(schema, batches)?, options.columns.as_ref(), path)
}

/// The table with only `columns`, in that order (no copy: batches share their arrays).
fn project(table: Table, columns: Option<&Vec<String>>, path: &ObjectPath) -> Result<Table> {
    let Some(indices) = projection(table.schema(), columns, path)? else {
        return Ok(table);
    };
    let schema = Arc::new(
        table
            .schema()
            .project(&indices)
            .map_err(|e| data_error(path, e))?,
    );
    let batches = table
        .batches()
        .iter()
        .map(|b| b.project(&indices).map_err(|e| data_error(path, e)))
        .collect::<Result<Vec<_>>>()?;
    Table::new(schema, batches)
}
/// Parquet: row groups streamed through the object store's range reads, with column
/// projection pushed into the reader.
pub(crate) async fn parquet(
    store: Arc<dyn ObjectStore>,
    meta: &ObjectMeta,
    options: &ReadOptions,
) -> Result<Table> {
    let path = &meta.location;
    let reader = ParquetObjectReader::new(store, path.clone()).with_file_size(meta.size);
    let mut builder = ParquetRecordBatchStreamBuilder::new(reader)
        .await
        .map_err(|e| data_error(path, e))?
        .with_batch_size(options.batch_size);
    if let Some(names) = &options.columns {
        let arrow_schema = Arc::clone(builder.schema());
        let indices = projection(&arrow_schema, Some(names), path)?.unwrap_or_default();
        let roots: Vec<usize> = indices;
        let mask = ProjectionMask::roots(builder.parquet_schema(), roots);
        builder = builder.with_projection(mask);
    }
    let stream = builder.build().map_err(|e| data_error(path, e))?;
    let schema = Arc::clone(stream.schema());
    let batches: Vec<RecordBatch> = stream
        .try_collect()
        .await
        .map_err(|e| data_error(path, e))?;
    Table::new(schema, batches)
}

/// Readers over a local file: the same decoding, with plain file I/O.
pub(crate) mod local {
    use std::fs::File;
    use std::io::{BufReader, Seek};
    use std::path::Path;

    use super::*;

    fn open(path: &Path) -> Result<File> {
        File::open(path).map_err(|e| Error::Io {
            context: format!("reading {}", path.display()),
            message: e.to_string(),
        })
    }

    fn failed(path: &Path, err: impl std::fmt::Display) -> Error {
        Error::Data(format!("{}: {err}", path.display()))
    }

    fn rewind(file: &mut File, path: &Path) -> Result<()> {
        file.rewind().map_err(|e| failed(path, e))
    }

    /// CSV from a local file.
    pub(crate) fn csv(path: &Path, options: &ReadOptions) -> Result<Table> {
        let mut file = open(path)?;
        let format = csv_format(options);
        let (schema, _) = format
            .infer_schema(BufReader::new(&mut file), Some(options.infer_rows))
            .map_err(|e| failed(path, e))?;
        rewind(&mut file, path)?;
        let object = ObjectPath::from(path.display().to_string().as_str());
        let (builder, out_schema) = csv_builder(schema, format, options, &object)?;
        let batches: Vec<RecordBatch> = builder
            .build(file)
            .map_err(|e| failed(path, e))?
            .collect::<std::result::Result<_, _>>()
            .map_err(|e| failed(path, e))?;
        Table::new(out_schema, batches)
    }

    /// JSON lines from a local file.
    pub(crate) fn jsonl(path: &Path, options: &ReadOptions) -> Result<Table> {
        let mut file = open(path)?;
        let (schema, _) = arrow_json::reader::infer_json_schema(
            BufReader::new(&mut file),
            Some(options.infer_rows),
        )
        .map_err(|e| failed(path, e))?;
        rewind(&mut file, path)?;
        let schema = Arc::new(schema);
        let batches: Vec<RecordBatch> = arrow_json::ReaderBuilder::new(Arc::clone(&schema))
            .with_batch_size(options.batch_size)
            .build(BufReader::new(file))
            .map_err(|e| failed(path, e))?
            .collect::<std::result::Result<_, _>>()
            .map_err(|e| failed(path, e))?;
        let object = ObjectPath::from(path.display().to_string().as_str());
        project(
            Table::new(schema, batches)?,
            options.columns.as_ref(),
            &object,
        )
    }

    /// Parquet from a local file, with the projection pushed into the reader.
    pub(crate) fn parquet(path: &Path, options: &ReadOptions) -> Result<Table> {
        let mut builder =
            parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(open(path)?)
                .map_err(|e| failed(path, e))?
                .with_batch_size(options.batch_size);
        if let Some(names) = &options.columns {
            let object = ObjectPath::from(path.display().to_string().as_str());
            let indices = projection(builder.schema(), Some(names), &object)?.unwrap_or_default();
            let mask = ProjectionMask::roots(builder.parquet_schema(), indices);
            builder = builder.with_projection(mask);
        }
        let reader = builder.build().map_err(|e| failed(path, e))?;
        let schema = RecordBatchReader::schema(&reader);
        let batches: Vec<RecordBatch> = reader
            .collect::<std::result::Result<_, _>>()
            .map_err(|e| failed(path, e))?;
        Table::new(schema, batches)
    }
}

/// The whole object, decompressed.
pub(crate) async fn all_bytes(mut reader: Reader, path: &ObjectPath) -> Result<Vec<u8>> {
    let mut bytes = Vec::new();
    reader
        .read_to_end(&mut bytes)
        .await
        .map_err(|e| io_error(path, &e))?;
    Ok(bytes)
}

/// A JSON document.
pub(crate) async fn json(reader: Reader, path: &ObjectPath) -> Result<serde_json::Value> {
    let bytes = all_bytes(reader, path).await?;
    serde_json::from_slice(&bytes).map_err(|e| data_error(path, e))
}

/// UTF-8 text.
pub(crate) async fn text(reader: Reader, path: &ObjectPath) -> Result<String> {
    let bytes = all_bytes(reader, path).await?;
    String::from_utf8(bytes).map_err(|_| Error::Data(format!("{path} is not valid UTF-8 text")))
}
