//! Thin wrappers over internal parsers, for the fuzz targets in `fuzz/` only.
//!
//! Compiled with the `fuzzing` feature; hidden from the docs and not a public API:
//! nothing outside the fuzz targets may depend on it.

use std::io::Cursor;

use conn_core::{Map, Result, Table};

use crate::format::Format;
use crate::read::{Decoded, ReadOptions, csv_seekable, jsonl_seekable};

/// Reads CSV (`json_lines` false) or JSON lines bytes into a table as a local file is
/// read: the schema from the first `infer_rows` records, then from every record when
/// a later one does not fit. `options` are the read options a query takes
/// (`delimiter`, `header`, ...); `label` names the source in errors.
pub fn read_text(bytes: &[u8], json_lines: bool, options: &Map, label: &str) -> Result<Table> {
    let format = if json_lines {
        Format::Jsonl
    } else {
        Format::Csv
    };
    let options = ReadOptions::parse(format, false, options)?;
    let read = |infer: Option<usize>| match format {
        Format::Csv => csv_seekable(Cursor::new(bytes), &options, infer, label),
        _ => jsonl_seekable(Cursor::new(bytes), &options, infer, label),
    };
    match read(Some(options.infer_rows))? {
        Decoded::Table(table) => Ok(table),
        Decoded::Reinfer(_) => read(None)?.finally(&object_store::path::Path::from(label)),
    }
}

/// Reads Parquet bytes into a table as a local file is read; `options` are the read
/// options a query takes (`columns`, `batch_size`); `label` names the source in errors.
pub fn read_parquet(bytes: Vec<u8>, options: &Map, label: &str) -> Result<Table> {
    let options = ReadOptions::parse(Format::Parquet, false, options)?;
    crate::parquet_read::read_chunks(bytes::Bytes::from(bytes), label, &options)
}
