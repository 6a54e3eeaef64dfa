//! Streaming readers: an object's bytes to Arrow batches (CSV, JSON lines) or to one
//! value (JSON, text), without holding the file and its table at once. (Parquet is
//! in `parquet.rs`.)
//!
//! CSV and JSON lines schemas come from the first `infer_rows` records; when a later
//! record does not fit them (see `typing.rs`), the object is read once more, the same
//! version of it, and the schema inferred from every record.

use std::io::Cursor;
use std::pin::Pin;
use std::sync::Arc;

use std::io::{BufRead, Read, Seek};

use arrow_csv::reader::Format as CsvFormat;
use conn_core::arrow::array::RecordBatch;
use conn_core::arrow::datatypes::SchemaRef;
use conn_core::arrow::error::ArrowError;
use conn_core::plugin::Redactor;
use conn_core::{Error, Kind, Map, Result, Table, Value};
use futures::TryStreamExt;
use object_store::path::Path as ObjectPath;
use object_store::{GetOptions, GetResult, ObjectMeta, ObjectStore, ObjectStoreExt};
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncReadExt, BufReader};

use crate::format::{Compression, Format};
use crate::store::Stores;
use crate::typing::Plan;

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
                let hint = conn_core::plugin::did_you_mean(key, valid)
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

pub(crate) type Reader = Pin<Box<dyn AsyncBufRead + Send>>;

/// The object's bytes, decompressed, as a buffered async reader; stream errors have
/// the connection's secrets removed.
pub(crate) fn byte_reader(
    result: GetResult,
    compression: Option<Compression>,
    redactor: &Redactor,
) -> Reader {
    let redactor = redactor.clone();
    let stream = result
        .into_stream()
        .map_err(move |e| std::io::Error::other(redactor.redact(&e.to_string())));
    let raw = BufReader::with_capacity(1 << 16, tokio_util::io::StreamReader::new(stream));
    // Every member: `cat a.gz b.gz`, bgzip, pbzip2 and concatenated zstd frames are one
    // file, and a decoder left at its default stops after the first member without a
    // word, cutting the table short.
    match compression {
        None => Box::pin(raw),
        Some(Compression::Gzip) => {
            let mut decoder = async_compression::tokio::bufread::GzipDecoder::new(raw);
            decoder.multiple_members(true);
            Box::pin(BufReader::new(decoder))
        }
        Some(Compression::Zstd) => {
            let mut decoder = async_compression::tokio::bufread::ZstdDecoder::new(raw);
            decoder.multiple_members(true);
            Box::pin(BufReader::new(decoder))
        }
        Some(Compression::Bzip2) => {
            let mut decoder = async_compression::tokio::bufread::BzDecoder::new(raw);
            decoder.multiple_members(true);
            Box::pin(BufReader::new(decoder))
        }
    }
}

pub(crate) fn io_error(path: &ObjectPath, err: &std::io::Error) -> Error {
    Error::Io {
        context: format!("reading {path}"),
        message: err.to_string(),
    }
}

pub(crate) fn data_error(path: &ObjectPath, err: impl std::fmt::Display) -> Error {
    Error::Data(format!("{path}: {err}"))
}

/// What decoding with a schema inferred from the first records gave.
pub(crate) enum Decoded {
    /// The table.
    Table(Table),
    /// A later record does not fit the schema (why): infer it from every record.
    Reinfer(String),
}

impl Decoded {
    /// The table of a decode whose schema came from every record: a misfit now is an
    /// error.
    pub(crate) fn finally(self, path: &ObjectPath) -> Result<Table> {
        match self {
            Decoded::Table(table) => Ok(table),
            Decoded::Reinfer(why) => Err(data_error(path, why)),
        }
    }
}

/// A CSV or JSON lines object as a table: streamed with a schema from its first
/// records; if a later record does not fit, read again (pinned to the same ETag, so
/// a changed object is an error, not a mix) and decoded with a schema inferred from
/// every record. Returns the object's metadata with the table.
pub(crate) async fn text_table(
    stores: &Stores,
    store: Arc<dyn ObjectStore>,
    location: &ObjectPath,
    format: Format,
    compression: Option<Compression>,
    options: &ReadOptions,
) -> Result<(Table, ObjectMeta)> {
    let result = store
        .get(location)
        .await
        .map_err(|e| stores.error(&e, "read"))?;
    let meta = result.meta.clone();
    let reader = byte_reader(result, compression, stores.redactor());
    let decoded = match format {
        Format::Csv => csv(reader, options, location).await?,
        _ => jsonl(reader, options, location).await?,
    };
    let why = match decoded {
        Decoded::Table(table) => return Ok((table, meta)),
        Decoded::Reinfer(why) => why,
    };
    tracing::debug!(
        path = %location,
        reason = %why,
        "conn.files: a record does not fit the inferred schema; inferring from every record"
    );
    let pinned = GetOptions {
        if_match: meta.e_tag.clone(),
        version: meta.version.clone(),
        ..GetOptions::default()
    };
    let again = store
        .get_opts(location, pinned)
        .await
        .map_err(|e| match e {
            object_store::Error::Precondition { .. } | object_store::Error::NotModified { .. } => {
                changed_error(location)
            }
            other => stores.error(&other, "read"),
        })?;
    let bytes = all_bytes(byte_reader(again, compression, stores.redactor()), location).await?;
    let label = location.to_string();
    let table = match format {
        Format::Csv => csv_seekable(Cursor::new(bytes), options, None, &label)?,
        _ => jsonl_seekable(Cursor::new(bytes), options, None, &label)?,
    }
    .finally(location)?;
    Ok((table, meta))
}

/// The error for an object overwritten while it was being read.
pub(crate) fn changed_error(location: &ObjectPath) -> Error {
    Error::Data(format!(
        "{location} changed while it was being read (its ETag no longer matches); nothing of \
         the two versions was mixed: read it again"
    ))
}

/// Reads from `reader` until `records` records (or end of input, or a size cap) are
/// buffered; returns them. A record ends at a newline outside quotes (`quote`, for
/// CSV: a quoted field may hold newlines; a doubled quote inside one toggles twice).
pub(crate) async fn sample(
    reader: &mut Reader,
    records: usize,
    quote: Option<u8>,
    path: &ObjectPath,
) -> Result<Vec<u8>> {
    let mut head = Vec::new();
    let mut lines = 0;
    let mut quoted = false;
    loop {
        let start = head.len();
        let read = reader
            .read_until(b'\n', &mut head)
            .await
            .map_err(|e| io_error(path, &e))?;
        if read == 0 {
            break;
        }
        if let Some(quote) = quote {
            let quotes = head[start..].iter().filter(|&&b| b == quote).count();
            quoted ^= quotes % 2 == 1;
        }
        if !quoted {
            lines += 1;
        }
        if lines > records || head.len() > SAMPLE_BYTES * 64 {
            break;
        }
    }
    Ok(head)
}

/// What the CSV and JSON decoders of arrow have in common.
pub(crate) trait PushDecoder {
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

/// Feeds `head` and then the rest of `reader` through `decoder`. The outer error is
/// a failed download; the inner one a record the decoder refused.
async fn drive<D: PushDecoder>(
    head: Vec<u8>,
    reader: Reader,
    mut decoder: D,
    path: &ObjectPath,
) -> Result<std::result::Result<Vec<RecordBatch>, ArrowError>> {
    let mut input = AsyncReadExt::chain(Cursor::new(head), reader);
    let mut batches = Vec::new();
    loop {
        let buffer = input.fill_buf().await.map_err(|e| io_error(path, &e))?;
        let available = buffer.len();
        let decoded = match decoder.decode(buffer) {
            Ok(decoded) => decoded,
            Err(err) => return Ok(Err(err)),
        };
        input.consume(decoded);
        let at_end = available == 0;
        if at_end || decoded < available {
            match decoder.flush() {
                Ok(Some(batch)) => batches.push(batch),
                Ok(None) => {}
                Err(err) => return Ok(Err(err)),
            }
        }
        if at_end {
            break;
        }
    }
    Ok(Ok(batches))
}

/// The positions of `columns` in `schema`, in the order asked; an unknown or repeated
/// name is an error naming the columns there are.
pub(crate) fn projection(
    schema: &SchemaRef,
    columns: Option<&Vec<String>>,
    path: &ObjectPath,
) -> Result<Option<Vec<usize>>> {
    let Some(names) = columns else {
        return Ok(None);
    };
    let all: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    let mut indices = Vec::with_capacity(names.len());
    for (i, name) in names.iter().enumerate() {
        if names[..i].contains(name) {
            return Err(Error::InvalidArgument(format!(
                "read option `columns` names \"{name}\" twice"
            )));
        }
        let index = schema.index_of(name).map_err(|_| {
            Error::Data(format!(
                "{path} has no column \"{name}\"{}; columns: {}",
                conn_core::plugin::did_you_mean(name, &all)
                    .map(|s| format!(" (did you mean \"{s}\"?)"))
                    .unwrap_or_default(),
                all.join(", ")
            ))
        })?;
        indices.push(index);
    }
    Ok(Some(indices))
}

/// The CSV dialect the options describe.
pub(crate) fn csv_format(options: &ReadOptions) -> CsvFormat {
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

/// A CSV reader builder for a plan, with the options' projection (columns come out
/// in the order asked); also the projection.
pub(crate) fn csv_builder(
    plan: &Plan,
    format: CsvFormat,
    options: &ReadOptions,
    path: &ObjectPath,
) -> Result<(arrow_csv::ReaderBuilder, Option<Vec<usize>>)> {
    let mut builder = arrow_csv::ReaderBuilder::new(Arc::clone(&plan.decode))
        .with_format(format)
        .with_batch_size(options.batch_size);
    let projected = projection(&plan.inferred, options.columns.as_ref(), path)?;
    if let Some(indices) = &projected {
        builder = builder.with_projection(indices.clone());
    }
    Ok((builder, projected))
}

/// Settles decoded batches into the inferred schema, or says why they do not fit (an
/// error at once when no schema could: values that contradict each other).
fn settle(
    plan: &Plan,
    batches: std::result::Result<Vec<RecordBatch>, ArrowError>,
    indices: Option<&[usize]>,
    path: &ObjectPath,
) -> Result<Decoded> {
    let batches = match batches {
        Ok(batches) => batches,
        Err(err) => return Ok(Decoded::Reinfer(name_columns(&err.to_string(), plan))),
    };
    match plan.settle(batches, indices) {
        Ok((schema, batches)) => Ok(Decoded::Table(Table::new(schema, batches)?)),
        Err(misfit) if misfit.reinfer => Ok(Decoded::Reinfer(misfit.why)),
        Err(misfit) => Err(data_error(path, misfit.why)),
    }
}

/// An arrow-csv message's `for column 3` with the column's name added.
pub(crate) fn name_columns(message: &str, plan: &Plan) -> String {
    let Some(at) = message.find("for column ") else {
        return message.to_owned();
    };
    let digits_at = at + "for column ".len();
    let digits: String = message[digits_at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    match digits
        .parse::<usize>()
        .ok()
        .and_then(|i| plan.inferred.fields().get(i))
    {
        Some(field) => format!(
            "{} (\"{}\"){}",
            &message[..digits_at + digits.len()],
            field.name(),
            &message[digits_at + digits.len()..]
        ),
        None => message.to_owned(),
    }
}

/// CSV, streamed: the schema from a sample, then the whole stream decoded.
pub(crate) async fn csv(
    mut reader: Reader,
    options: &ReadOptions,
    path: &ObjectPath,
) -> Result<Decoded> {
    let quote = options.quote.unwrap_or(b'"');
    let head = sample(&mut reader, options.infer_rows + 1, Some(quote), path).await?;
    let format = csv_format(options);
    let schema = match format.infer_schema(Cursor::new(&head), Some(options.infer_rows)) {
        Ok((schema, _)) => schema,
        // The sample may end inside a record (the size cap, an escape character the
        // quote count cannot see): infer from every record instead.
        Err(err) => return Ok(Decoded::Reinfer(err.to_string())),
    };
    let plan = Plan::new(schema, false);
    let (builder, indices) = csv_builder(&plan, format, options, path)?;
    let batches = drive(head, reader, builder.build_decoder(), path).await?;
    settle(&plan, batches, indices.as_deref(), path)
}

/// CSV from a seekable source: the schema from the first `infer` records (every
/// record when `None`), then the whole source decoded.
pub(crate) fn csv_seekable<R: Read + Seek>(
    mut source: R,
    options: &ReadOptions,
    infer: Option<usize>,
    label: &str,
) -> Result<Decoded> {
    let path = ObjectPath::from(label);
    let format = csv_format(options);
    let (schema, _) = format
        .infer_schema(std::io::BufReader::new(&mut source), infer)
        .map_err(|e| data_error(&path, e))?;
    source.rewind().map_err(|e| io_error(&path, &e))?;
    let plan = Plan::new(schema, false);
    let (builder, indices) = csv_builder(&plan, format, options, &path)?;
    let batches = builder
        .build(source)
        .and_then(|reader| reader.collect::<std::result::Result<Vec<_>, _>>());
    settle(&plan, batches, indices.as_deref(), &path)
}

/// A JSON lines decoder for a plan: integer columns come as text (see `typing.rs`),
/// a number or boolean in a text column is kept as its text (the widening inference
/// chose), and a field missing from the schema is an error rather than dropped.
pub(crate) fn json_builder(plan: &Plan, options: &ReadOptions) -> arrow_json::ReaderBuilder {
    arrow_json::ReaderBuilder::new(Arc::clone(&plan.decode))
        .with_batch_size(options.batch_size)
        .with_coerce_primitive(true)
        .with_strict_mode(true)
}

/// JSON lines, streamed: the schema from a sample, then the whole stream decoded.
pub(crate) async fn jsonl(
    mut reader: Reader,
    options: &ReadOptions,
    path: &ObjectPath,
) -> Result<Decoded> {
    let head = sample(&mut reader, options.infer_rows, None, path).await?;
    let (schema, _) =
        arrow_json::reader::infer_json_schema(Cursor::new(&head), Some(options.infer_rows))
            .map_err(|e| data_error(path, e))?;
    let plan = Plan::new(schema, true);
    let decoder = json_builder(&plan, options)
        .build_decoder()
        .map_err(|e| data_error(path, e))?;
    let batches = drive(head, reader, decoder, path).await?;
    project(settle(&plan, batches, None, path)?, options, path)
}

/// JSON lines from a seekable source: the schema from the first `infer` records
/// (every record when `None`), then the whole source decoded.
pub(crate) fn jsonl_seekable<R: BufRead + Seek>(
    mut source: R,
    options: &ReadOptions,
    infer: Option<usize>,
    label: &str,
) -> Result<Decoded> {
    let path = ObjectPath::from(label);
    let (schema, _) = arrow_json::reader::infer_json_schema(&mut source, infer)
        .map_err(|e| data_error(&path, e))?;
    source.rewind().map_err(|e| io_error(&path, &e))?;
    let plan = Plan::new(schema, true);
    let batches = json_builder(&plan, options)
        .build(source)
        .and_then(|reader| reader.collect::<std::result::Result<Vec<_>, _>>());
    project(settle(&plan, batches, None, &path)?, options, &path)
}

/// The table with only `columns`, in that order (no copy: batches share their arrays).
fn project(decoded: Decoded, options: &ReadOptions, path: &ObjectPath) -> Result<Decoded> {
    let Decoded::Table(table) = decoded else {
        return Ok(decoded);
    };
    let Some(indices) = projection(table.schema(), options.columns.as_ref(), path)? else {
        return Ok(Decoded::Table(table));
    };
    Ok(Decoded::Table(project_table(&table, &indices, path)?))
}

/// `table`'s columns at `indices`, in that order.
pub(crate) fn project_table(table: &Table, indices: &[usize], path: &ObjectPath) -> Result<Table> {
    let schema = Arc::new(
        table
            .schema()
            .project(indices)
            .map_err(|e| data_error(path, e))?,
    );
    let batches = table
        .batches()
        .iter()
        .map(|b| b.project(indices).map_err(|e| data_error(path, e)))
        .collect::<Result<Vec<_>>>()?;
    Table::new(schema, batches)
}

/// Readers over a local file: the same decoding, with plain file I/O.
pub(crate) mod local {
    use std::fs::File;
    use std::path::Path;

    use super::*;

    fn open(path: &Path) -> Result<File> {
        File::open(path).map_err(|e| Error::Io {
            context: format!("reading {}", path.display()),
            message: e.to_string(),
        })
    }

    /// CSV or JSON lines from a local file: the schema from the first records, or
    /// from every record when a later one does not fit.
    pub(crate) fn text_table(path: &Path, format: Format, options: &ReadOptions) -> Result<Table> {
        let label = path.display().to_string();
        let read = |infer: Option<usize>| match format {
            Format::Csv => csv_seekable(open(path)?, options, infer, &label),
            _ => jsonl_seekable(std::io::BufReader::new(open(path)?), options, infer, &label),
        };
        match read(Some(options.infer_rows))? {
            Decoded::Table(table) => Ok(table),
            Decoded::Reinfer(why) => {
                tracing::debug!(
                    path = %label,
                    reason = %why,
                    "conn.files: a record does not fit the inferred schema; inferring from every record"
                );
                read(None)?.finally(&ObjectPath::from(label.as_str()))
            }
        }
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
