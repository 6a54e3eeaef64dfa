//! Writing a result: an aligned table, CSV, JSON lines, Parquet or Arrow IPC, to
//! standard output or a file.

use std::io::{BufWriter, IsTerminal, Write};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use conn::{DisplayOptions, Table};

use crate::cli::{OutputArgs, OutputFormat};
use crate::error::{CliError, CliResult};

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

/// Writes `table` as `args` ask. Binary formats are refused on a terminal.
pub fn write(table: &Table, args: &OutputArgs) -> CliResult<()> {
    let format = choose(args)?;
    if format == OutputFormat::Jsonl {
        refuse_non_finite_floats(table)?;
    }
    match &args.output {
        Some(path) if !is_regular_or_absent(path) => {
            // A FIFO, a device (/dev/stdout): written to directly.
            let file = std::fs::OpenOptions::new()
                .write(true)
                .open(path)
                .map_err(|e| CliError::failed(format!("cannot open {}: {e}", path.display())))?;
            write_to(BufWriter::new(file), table, format, args.limit)
                .map_err(|e| CliError::failed(format!("writing {}: {e}", path.display())))
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
            write_to(BufWriter::new(file), table, format, args.limit)
                .map_err(|e| CliError::failed(format!("writing {}: {e}", path.display())))?;
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
            match write_to(BufWriter::new(stdout), table, format, args.limit) {
                // The reader went away (`conn query ... | head`): nothing more to do. (The
                // writers turn I/O errors into text, so the pipe reports it itself.)
                Err(_) if broken.load(Ordering::Relaxed) => Ok(()),
                other => other.map_err(|e| CliError::failed(format!("writing the result: {e}"))),
            }
        }
    }
}

/// Whether `path` is a regular file or does not exist yet (what can be replaced by a
/// rename).
fn is_regular_or_absent(path: &Path) -> bool {
    std::fs::metadata(path).map_or(true, |m| m.is_file())
}

/// JSON has no NaN or infinity (arrow-json would write `null`, changing the value
/// silently): refused, naming the column and the row.
fn refuse_non_finite_floats(table: &Table) -> CliResult<()> {
    use conn::arrow::array::{Array, AsArray};
    use conn::arrow::datatypes::{DataType, Float32Type, Float64Type};
    let mut first_row = 0;
    for batch in table.batches() {
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
        first_row += batch.num_rows();
    }
    Ok(())
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
    mut out: W,
    table: &Table,
    format: OutputFormat,
    limit: usize,
) -> Result<(), Failure> {
    match format {
        OutputFormat::Table => {
            let options = DisplayOptions {
                max_rows: limit,
                max_columns: 64,
                max_cell_width: 48,
            };
            writeln!(out, "{}", table.display(options))?;
        }
        OutputFormat::Csv => {
            if table.batches().is_empty() {
                // No batch, so the writer would write no header: write it here.
                writeln!(out, "{}", csv_header(&table.column_names()))?;
            } else {
                let mut writer = arrow_csv::WriterBuilder::new()
                    .with_header(true)
                    .build(&mut out);
                for batch in table.batches() {
                    writer.write(batch)?;
                }
            }
        }
        OutputFormat::Jsonl => {
            // Nulls as `null`, not as missing keys: every line has every column.
            let mut writer = arrow_json::WriterBuilder::new()
                .with_explicit_nulls(true)
                .build::<_, arrow_json::writer::LineDelimited>(&mut out);
            for batch in table.batches() {
                writer.write(batch)?;
            }
            writer.finish()?;
        }
        OutputFormat::Parquet => {
            let mut writer =
                parquet::arrow::ArrowWriter::try_new(&mut out, table.schema().clone(), None)?;
            for batch in table.batches() {
                writer.write(batch)?;
            }
            writer.close()?;
        }
        OutputFormat::Arrow => {
            let mut writer = arrow_ipc::writer::FileWriter::try_new(&mut out, table.schema())?;
            for batch in table.batches() {
                writer.write(batch)?;
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
