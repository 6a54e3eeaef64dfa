//! Writing a [`Table`] as CSV, Parquet or JSON lines (CSV and JSON lines optionally
//! gzip, zstd or bzip2 compressed), streamed to the store in parts.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use async_compression::tokio::write::{BzEncoder, GzipEncoder, ZstdEncoder};
use conn_core::arrow::array::RecordBatch;
use conn_core::{Error, Result, Table};
use object_store::ObjectStore;
use object_store::buffered::BufWriter;
use object_store::path::Path as ObjectPath;
use parquet::arrow::AsyncArrowWriter;
use tokio::io::{AsyncWrite, AsyncWriteExt};

use crate::checks;
use crate::format::{Compression, Format};

fn data_error(path: &ObjectPath, err: impl std::fmt::Display) -> Error {
    Error::Data(format!("writing {path}: {err}"))
}

fn io_error(path: &ObjectPath, err: &std::io::Error) -> Error {
    Error::Io {
        context: format!("writing {path}"),
        message: err.to_string(),
    }
}

/// Writes `table` to `path` in `format`, compressed when the path ends in `.gz`,
/// `.zst` or `.bz2`. The object appears whole or not at all: a multipart upload that
/// fails is aborted.
pub(crate) async fn write(
    store: Arc<dyn ObjectStore>,
    path: &ObjectPath,
    table: &Table,
    format: Format,
    compression: Option<Compression>,
    delimiter: u8,
) -> Result<u64> {
    if !format.is_tabular() {
        return Err(Error::InvalidArgument(format!(
            "write takes a table as csv, parquet or jsonl, not {format}"
        )));
    }
    if format == Format::Parquet && compression.is_some() {
        return Err(Error::InvalidArgument(format!(
            "{path}: Parquet compresses inside the file; write it without a .gz, .zst or .bz2 \
             suffix"
        )));
    }
    let mut writer = BufWriter::new(store, path.clone());
    let encoded = {
        let mut out = Unfinished(&mut writer);
        match (format, compression) {
            (Format::Parquet, _) => write_parquet(&mut out, path, table).await,
            (_, None) => write_text(&mut out, path, table, format, delimiter).await,
            (_, Some(Compression::Gzip)) => {
                write_text(
                    &mut GzipEncoder::new(&mut out),
                    path,
                    table,
                    format,
                    delimiter,
                )
                .await
            }
            (_, Some(Compression::Zstd)) => {
                write_text(
                    &mut ZstdEncoder::new(&mut out),
                    path,
                    table,
                    format,
                    delimiter,
                )
                .await
            }
            (_, Some(Compression::Bzip2)) => {
                write_text(
                    &mut BzEncoder::new(&mut out),
                    path,
                    table,
                    format,
                    delimiter,
                )
                .await
            }
        }
    };
    if let Err(err) = encoded {
        // Nothing is visible yet; drop any uploaded parts.
        let _ = writer.abort().await;
        return Err(err);
    }
    // Completing the upload makes the object appear, whole. If that fails the object
    // does not appear (object_store's writer cannot be aborted after this point).
    writer.shutdown().await.map_err(|e| io_error(path, &e))?;
    Ok(u64::try_from(table.num_rows()).unwrap_or(u64::MAX))
}

/// The upload, with "shut down" meaning "flush": encoders and the Parquet writer end
/// their streams through it, and [`write`] completes the upload itself, knowing
/// whether it got that far (a `BufWriter` may be aborted only before).
struct Unfinished<'a>(&'a mut BufWriter);

impl AsyncWrite for Unfinished<'_> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut *self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut *self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut *self.0).poll_flush(cx)
    }
}

/// Writes CSV (with `delimiter`) or JSON lines through `out` (the upload, or an
/// encoder in front of it) and shuts it down, which ends the compressed stream.
async fn write_text<W: AsyncWrite + Unpin>(
    out: &mut W,
    path: &ObjectPath,
    table: &Table,
    format: Format,
    delimiter: u8,
) -> Result<()> {
    match format {
        Format::Csv => {
            let encode = |batch: &RecordBatch, first: bool| csv_bytes(batch, first, delimiter);
            write_text_batches(out, path, table, encode, false).await?;
        }
        _ => write_text_batches(out, path, table, jsonl_bytes, true).await?,
    }
    out.shutdown().await.map_err(|e| io_error(path, &e))
}

async fn write_parquet<W: AsyncWrite + Unpin + Send>(
    writer: &mut W,
    path: &ObjectPath,
    table: &Table,
) -> Result<()> {
    for field in table.schema().fields() {
        if let Some(why) = checks::parquet_refuses(field.data_type()) {
            return Err(data_error(
                path,
                format!("column \"{}\" ({}): {why}", field.name(), field.data_type()),
            ));
        }
    }
    let mut parquet = AsyncArrowWriter::try_new(writer, Arc::clone(table.schema()), None)
        .map_err(|e| data_error(path, e))?;
    for batch in table.batches() {
        parquet
            .write(batch)
            .await
            .map_err(|e| data_error(path, e))?;
    }
    parquet.finish().await.map_err(|e| data_error(path, e))?;
    Ok(())
}

/// One batch as CSV, with the header line when it is the first.
fn csv_bytes(
    batch: &RecordBatch,
    first: bool,
    delimiter: u8,
) -> std::result::Result<Vec<u8>, String> {
    let mut out = Vec::new();
    {
        let mut writer = arrow_csv::WriterBuilder::new()
            .with_header(first)
            .with_delimiter(delimiter)
            .build(&mut out);
        writer.write(batch).map_err(|e| e.to_string())?;
    }
    Ok(out)
}

/// One batch as JSON lines.
fn jsonl_bytes(batch: &RecordBatch, _first: bool) -> std::result::Result<Vec<u8>, String> {
    let mut out = Vec::new();
    {
        // Explicit nulls: every line names every column, so a column whose first
        // values (or all values) are NULL keeps its place and is not dropped.
        let mut writer = arrow_json::WriterBuilder::new()
            .with_explicit_nulls(true)
            .build::<_, arrow_json::writer::LineDelimited>(&mut out);
        writer.write(batch).map_err(|e| e.to_string())?;
        writer.finish().map_err(|e| e.to_string())?;
    }
    Ok(out)
}

/// Checks and encodes one batch at a time and writes it, so only one batch's text is in
/// memory; `json` adds the checks of what JSON cannot hold.
async fn write_text_batches<W: AsyncWrite + Unpin>(
    writer: &mut W,
    path: &ObjectPath,
    table: &Table,
    encode: impl Fn(&RecordBatch, bool) -> std::result::Result<Vec<u8>, String>,
    json: bool,
) -> Result<()> {
    let empty;
    let batches = if table.batches().is_empty() && !json {
        // An empty CSV still has its header line, quoted and delimited like any other.
        empty = [RecordBatch::new_empty(Arc::clone(table.schema()))];
        &empty[..]
    } else {
        table.batches()
    };
    let mut first_row = 0;
    for (index, batch) in batches.iter().enumerate() {
        // Checked before encoding: arrow-json would write these as `null` or as
        // invalid JSON, arrow-csv fails on them naming no column.
        if let Some(why) = checks::unformattable(batch, first_row).or_else(|| {
            json.then(|| checks::jsonl_refuses(batch, first_row))
                .flatten()
        }) {
            return Err(data_error(path, why));
        }
        let bytes = encode(batch, index == 0).map_err(|e| data_error(path, e))?;
        writer
            .write_all(&bytes)
            .await
            .map_err(|e| io_error(path, &e))?;
        first_row += batch.num_rows();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use conn_core::arrow::datatypes::{DataType, Field, Schema};

    use super::*;

    #[test]
    fn an_empty_csv_header_is_quoted_and_delimited() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("a,b", DataType::Int32, true),
            Field::new("say \"hi\"", DataType::Int32, true),
        ]));
        let empty = RecordBatch::new_empty(schema);
        let text = |delimiter| String::from_utf8(csv_bytes(&empty, true, delimiter).unwrap());
        assert_eq!(text(b',').unwrap(), "\"a,b\",\"say \"\"hi\"\"\"\n");
        assert_eq!(text(b'\t').unwrap(), "a,b\t\"say \"\"hi\"\"\"\n");
    }
}
