//! Writing a result: an aligned table, CSV, JSON lines, Parquet or Arrow IPC, to
//! standard output or a file, batch by batch as a streamed result arrives (the aligned
//! table needs every row first).

use std::io::{BufWriter, IsTerminal, Write};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use conn::arrow::array::RecordBatch;
use conn::arrow::datatypes::SchemaRef;
use conn::{BatchStream, DisplayOptions, Table};
use conn_core::plugin::Redactor;
use futures::StreamExt;

use crate::cli::{OutputArgs, OutputFormat};
use crate::error::{CliError, CliResult};
use crate::interrupt;
use crate::progress::Progress;

/// The batches of a result, as they come: a table read whole, or a stream.
#[derive(Debug)]
pub enum Batches {
    /// A result read whole; `next` is the index of the next batch.
    Table {
        /// The result.
        table: Table,
        /// The next batch to hand out.
        next: usize,
    },
    /// A streamed result; its errors are redacted with `redactor`.
    Stream {
        /// The schema of every batch.
        schema: SchemaRef,
        /// The stream (taken out while a batch is awaited; gone at the end).
        stream: Option<BatchStream>,
        /// Secret parameter values a driver might echo in an error.
        redactor: Redactor,
    },
}

impl Batches {
    /// A result read whole.
    pub fn table(table: Table) -> Self {
        Batches::Table { table, next: 0 }
    }

    /// The schema of every batch.
    pub fn schema(&self) -> SchemaRef {
        match self {
            Batches::Table { table, .. } => table.schema().clone(),
            Batches::Stream { schema, .. } => schema.clone(),
        }
    }

    /// The next batch, or `None` at the end. Ctrl-C stops the wait (and the query).
    pub fn next_batch(&mut self) -> CliResult<Option<RecordBatch>> {
        if interrupt::requested() {
            return Err(interrupt::stop_after_interrupt());
        }
        match self {
            Batches::Table { table, next } => {
                let batch = table.batches().get(*next).cloned();
                *next += 1;
                Ok(batch)
            }
            Batches::Stream {
                stream, redactor, ..
            } => {
                let Some(mut taken) = stream.take() else {
                    return Ok(None);
                };
                // On Ctrl-C the future, and the stream in it, is dropped: the query
                // is cancelled on the server.
                let (taken, next) = interrupt::interruptible(async move {
                    let next = taken.next().await;
                    Ok((taken, next))
                })?;
                match next {
                    Some(Ok(batch)) => {
                        *stream = Some(taken);
                        Ok(Some(batch))
                    }
                    Some(Err(err)) => Err(with_whole_hint(CliError::from(err).redacted(redactor))),
                    None => Ok(None),
                }
            }
        }
    }
}

/// A streamed column's later value that does not fit its first batch's type: the
/// error says how to read the result anyway.
pub fn with_whole_hint(mut err: CliError) -> CliError {
    if err
        .message
        .contains("announced by the stream's first batch")
        || err.message.contains("read the file with read()")
    {
        err.message.push_str(" (conn: run again with --whole)");
    }
    err
}

/// Why writing a result stopped: its source failed, or the output did.
enum Stop {
    Source(CliError),
    Output(Failure),
}

impl<E: Into<Failure>> From<E> for Stop {
    fn from(err: E) -> Self {
        Stop::Output(err.into())
    }
}

/// The format `args` ask for: `--format`, else the extension of `--output` (an
/// extension that names no format is an error, not CSV under another name), else a
/// table on a terminal and CSV elsewhere.
pub fn choose(args: &OutputArgs) -> CliResult<OutputFormat> {
    if let Some(format) = args.format {
        return Ok(format);
    }
    if let Some(path) = &args.output {
        return from_extension(path).ok_or_else(|| {
            CliError::config(format!(
                "cannot tell the format of {} from its extension (csv, jsonl, parquet,                  arrow, txt): give --format",
                path.display()
            ))
        });
    }
    Ok(if std::io::stdout().is_terminal() {
        OutputFormat::Table
    } else {
        OutputFormat::Csv
    })
}

/// The format a file name's extension names, if any.
pub fn from_extension(path: &Path) -> Option<OutputFormat> {
    let extension = path.extension()?.to_str()?.to_ascii_lowercase();
    match extension.as_str() {
        "csv" => Some(OutputFormat::Csv),
        "jsonl" | "ndjson" => Some(OutputFormat::Jsonl),
        "parquet" | "pq" => Some(OutputFormat::Parquet),
        "arrow" | "ipc" | "feather" => Some(OutputFormat::Arrow),
        "txt" => Some(OutputFormat::Table),
        _ => None,
    }
}

/// Writes `batches` as `args` ask, each batch as it arrives, counting rows and bytes
/// on `progress`. Binary formats are refused on a terminal. Into a file, a failure
/// (of the source or the output) leaves the file as it was.
pub fn write(batches: Batches, args: &OutputArgs, progress: &Progress) -> CliResult<()> {
    let format = choose(args)?;
    match &args.output {
        Some(path) if !is_regular_or_absent(path) => {
            // A FIFO, a device (/dev/stdout): written to directly.
            let file = std::fs::OpenOptions::new()
                .write(true)
                .open(path)
                .map_err(|e| CliError::failed(format!("cannot open {}: {e}", path.display())))?;
            write_to(BufWriter::new(file), batches, format, args.limit, progress)
                .map_err(|stop| stopped(stop, &path.display().to_string()))
        }
        Some(path) => {
            // Written beside the file and moved over it when whole: a failure leaves
            // the file as it was, and a reader never sees half a result.
            let folder = match path.parent() {
                Some(parent) if !parent.as_os_str().is_empty() => parent,
                _ => Path::new("."),
            };
            let temporary = tempfile::NamedTempFile::new_in(folder)
                .map_err(|e| CliError::failed(format!("cannot create {}: {e}", path.display())))?;
            let file = temporary
                .reopen()
                .map_err(|e| CliError::failed(format!("cannot create {}: {e}", path.display())))?;
            write_to(BufWriter::new(file), batches, format, args.limit, progress)
                .map_err(|stop| stopped(stop, &path.display().to_string()))?;
            temporary
                .persist(path)
                .map(drop)
                .map_err(|e| CliError::failed(format!("writing {}: {e}", path.display())))
        }
        None => {
            if matches!(format, OutputFormat::Parquet | OutputFormat::Arrow)
                && std::io::stdout().is_terminal()
            {
                return Err(CliError::config(format!(
                    "not writing binary {} to a terminal; use --output FILE or redirect \
                     standard output",
                    name(format)
                )));
            }
            let broken = Arc::new(AtomicBool::new(false));
            let stdout = PipeWatch {
                inner: std::io::stdout(),
                broken: Arc::clone(&broken),
            };
            match write_to(
                BufWriter::new(stdout),
                batches,
                format,
                args.limit,
                progress,
            ) {
                // The reader went away (`conn query ... | head`): nothing more to do (the
                // stream, dropped, cancels the query). The writers turn I/O errors into
                // text, so the pipe reports it itself.
                Err(Stop::Output(_)) if broken.load(Ordering::Relaxed) => Ok(()),
                other => other.map_err(|stop| stopped(stop, "the result")),
            }
        }
    }
}

/// The error of a write that stopped: the source's own, or the output's naming `what`.
fn stopped(stop: Stop, what: &str) -> CliError {
    match stop {
        Stop::Source(err) => err,
        Stop::Output(err) => CliError::failed(format!("writing {what}: {err}")),
    }
}

/// Whether `path` is a regular file or does not exist yet (what can be replaced by a
/// rename).
fn is_regular_or_absent(path: &Path) -> bool {
    std::fs::metadata(path).map_or(true, |m| m.is_file())
}

/// JSON has no NaN or infinity (arrow-json would write `null`, changing the value
/// silently): refused, naming the column and the row (`first_row` is the result's row
/// before `batch`).
fn refuse_non_finite_floats(batch: &RecordBatch, first_row: usize) -> CliResult<()> {
    use conn::arrow::array::{Array, AsArray};
    use conn::arrow::datatypes::{DataType, Float32Type, Float64Type};
    for (field, column) in batch.schema().fields().iter().zip(batch.columns()) {
        let bad = match field.data_type() {
            DataType::Float64 => {
                let values = column.as_primitive::<Float64Type>();
                (0..values.len()).find(|&i| values.is_valid(i) && !values.value(i).is_finite())
            }
            DataType::Float32 => {
                let values = column.as_primitive::<Float32Type>();
                (0..values.len()).find(|&i| values.is_valid(i) && !values.value(i).is_finite())
            }
            _ => None,
        };
        if let Some(row) = bad {
            return Err(CliError::failed(format!(
                "column \"{}\", row {}: NaN and infinities have no JSON form; use \
                 --format csv, parquet or arrow",
                field.name(),
                first_row + row
            )));
        }
    }
    Ok(())
}

/// Counts the bytes written on the progress line.
struct Counting<'a, W> {
    inner: W,
    progress: &'a Progress,
}

impl<W: Write> Write for Counting<'_, W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let written = self.inner.write(buf)?;
        self.progress.advance(0, written as u64);
        Ok(written)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Standard output, remembering whether the reader closed the pipe.
struct PipeWatch<W> {
    inner: W,
    broken: Arc<AtomicBool>,
}

impl<W: Write> PipeWatch<W> {
    fn watch<T>(&self, outcome: std::io::Result<T>) -> std::io::Result<T> {
        if let Err(err) = &outcome
            && err.kind() == std::io::ErrorKind::BrokenPipe
        {
            self.broken.store(true, Ordering::Relaxed);
        }
        outcome
    }
}

impl<W: Write> Write for PipeWatch<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let outcome = self.inner.write(buf);
        self.watch(outcome)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        let outcome = self.inner.flush();
        self.watch(outcome)
    }
}

/// The format's name, as `--format` spells it.
pub fn name(format: OutputFormat) -> &'static str {
    match format {
        OutputFormat::Table => "table",
        OutputFormat::Csv => "csv",
        OutputFormat::Jsonl => "jsonl",
        OutputFormat::Parquet => "parquet",
        OutputFormat::Arrow => "arrow",
    }
}

type Failure = Box<dyn std::error::Error>;

fn write_to<W: Write + Send>(
    out: W,
    mut batches: Batches,
    format: OutputFormat,
    limit: usize,
    progress: &Progress,
) -> Result<(), Stop> {
    let mut out = Counting {
        inner: out,
        progress,
    };
    let schema = batches.schema();
    let mut next = || -> Result<Option<RecordBatch>, Stop> {
        let batch = batches.next_batch().map_err(Stop::Source)?;
        if let Some(batch) = &batch {
            progress.advance(batch.num_rows() as u64, 0);
        }
        Ok(batch)
    };
    match format {
        OutputFormat::Table => {
            // Aligned columns need every row: the rest of the result, whole.
            let mut all = Vec::new();
            while let Some(batch) = next()? {
                all.push(batch);
            }
            let table = Table::new(schema, all).map_err(|e| Stop::Source(e.into()))?;
            let options = DisplayOptions {
                max_rows: limit,
                max_columns: 64,
                max_cell_width: 48,
            };
            writeln!(out, "{}", table.display(options))?;
        }
        OutputFormat::Csv => {
            let mut writer = arrow_csv::WriterBuilder::new()
                .with_header(true)
                .build(&mut out);
            let mut any = false;
            while let Some(batch) = next()? {
                writer.write(&batch)?;
                any = true;
            }
            drop(writer);
            if !any {
                // No batch, so the writer wrote no header: write it here.
                let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
                writeln!(out, "{}", csv_header(&names))?;
            }
        }
        OutputFormat::Jsonl => {
            // Nulls as `null`, not as missing keys: every line has every column.
            let mut writer = arrow_json::WriterBuilder::new()
                .with_explicit_nulls(true)
                .build::<_, arrow_json::writer::LineDelimited>(&mut out);
            let mut first_row = 0;
            while let Some(batch) = next()? {
                refuse_non_finite_floats(&batch, first_row).map_err(Stop::Source)?;
                first_row += batch.num_rows();
                writer.write(&batch)?;
            }
            writer.finish()?;
        }
        OutputFormat::Parquet => {
            let mut writer = parquet::arrow::ArrowWriter::try_new(&mut out, schema, None)?;
            while let Some(batch) = next()? {
                writer.write(&batch)?;
            }
            writer.close()?;
        }
        OutputFormat::Arrow => {
            let mut writer = arrow_ipc::writer::FileWriter::try_new(&mut out, &schema)?;
            while let Some(batch) = next()? {
                writer.write(&batch)?;
            }
            writer.finish()?;
        }
    }
    out.flush()?;
    Ok(())
}

/// A CSV header line, names quoted when they need it.
fn csv_header(names: &[&str]) -> String {
    names
        .iter()
        .map(|name| {
            if name.contains([',', '"', '\n', '\r']) {
                format!("\"{}\"", name.replace('"', "\"\""))
            } else {
                (*name).to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extensions_name_formats() {
        assert_eq!(
            from_extension(Path::new("a.PARQUET")),
            Some(OutputFormat::Parquet)
        );
        assert_eq!(
            from_extension(Path::new("a.ndjson")),
            Some(OutputFormat::Jsonl)
        );
        assert_eq!(
            from_extension(Path::new("a.feather")),
            Some(OutputFormat::Arrow)
        );
        assert_eq!(from_extension(Path::new("a.xlsx")), None);
    }

    #[test]
    fn csv_headers_quote_what_needs_it() {
        assert_eq!(csv_header(&["a", "b,c", "d\"e"]), "a,\"b,c\",\"d\"\"e\"");
    }
}
