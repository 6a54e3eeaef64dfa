//! File formats and compressions, from a name or a path's extension.

use std::fmt;
use std::str::FromStr;

use conn_core::{Error, Result};

/// A file format `read` and `write` understand.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Format {
    /// Comma-separated values (`.csv`; `.tsv` is CSV with a tab delimiter).
    Csv,
    /// Apache Parquet.
    Parquet,
    /// One JSON document per line (`.jsonl`, `.ndjson`).
    Jsonl,
    /// One JSON document (read as a `serde_json::Value`).
    Json,
    /// UTF-8 text (read as a `String`).
    Text,
}

/// Every format name, for messages.
pub(crate) const FORMAT_NAMES: &[&str] = &["csv", "parquet", "jsonl", "json", "text"];

impl Format {
    /// The format's name.
    pub fn name(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Parquet => "parquet",
            Format::Jsonl => "jsonl",
            Format::Json => "json",
            Format::Text => "text",
        }
    }

    /// Whether reads of this format produce a table.
    pub fn is_tabular(self) -> bool {
        matches!(self, Format::Csv | Format::Parquet | Format::Jsonl)
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

fn format_error(given: &str) -> Error {
    let suggestion = conn_core::plugin::did_you_mean(given, FORMAT_NAMES)
        .map(|s| format!(" (did you mean \"{s}\"?)"))
        .unwrap_or_default();
    Error::InvalidArgument(format!(
        "\"{given}\" is not a valid format{suggestion}; use one of {}",
        FORMAT_NAMES.join(", ")
    ))
}

impl FromStr for Format {
    type Err = Error;

    /// Case-insensitive; accepts the usual extensions (`tsv`, `pq`, `ndjson`, `txt`).
    fn from_str(name: &str) -> Result<Format> {
        match name
            .trim()
            .trim_start_matches('.')
            .to_ascii_lowercase()
            .as_str()
        {
            "csv" | "tsv" => Ok(Format::Csv),
            "parquet" | "pq" | "parq" => Ok(Format::Parquet),
            "jsonl" | "ndjson" | "jsonlines" => Ok(Format::Jsonl),
            "json" => Ok(Format::Json),
            "text" | "txt" | "md" | "log" => Ok(Format::Text),
            _ => Err(format_error(name)),
        }
    }
}

/// A whole-file compression.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Compression {
    /// gzip (`.gz`).
    Gzip,
    /// Zstandard (`.zst`).
    Zstd,
    /// bzip2 (`.bz2`).
    Bzip2,
}

impl Compression {
    fn from_extension(extension: &str) -> Option<Compression> {
        match extension {
            "gz" | "gzip" => Some(Compression::Gzip),
            "zst" | "zstd" => Some(Compression::Zstd),
            "bz2" | "bzip2" => Some(Compression::Bzip2),
            _ => None,
        }
    }
}

/// What a path's name says: format, compression, and whether it is a `.tsv`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Inferred {
    pub(crate) format: Format,
    pub(crate) compression: Option<Compression>,
    pub(crate) tab_separated: bool,
}

/// Infers the format from the extension, case-insensitively, looking through a
/// compression suffix: `a.CSV.gz` is gzip-compressed CSV.
pub(crate) fn infer(path: &str) -> Result<Inferred> {
    let file = file_name(path);
    let mut parts: Vec<&str> = file.split('.').skip(1).collect();
    let compression = parts.last().and_then(|e| Compression::from_extension(e));
    if compression.is_some() {
        parts.pop();
    }
    let Some(extension) = parts.last() else {
        return Err(Error::InvalidArgument(format!(
            "cannot tell the format of \"{path}\" from its name; give one of {} with .format(...)",
            FORMAT_NAMES.join(", ")
        )));
    };
    let format = extension.parse::<Format>().map_err(|_| {
        Error::InvalidArgument(format!(
            "cannot tell the format of \"{path}\" from its extension \".{extension}\"; give one \
             of {} with .format(...)",
            FORMAT_NAMES.join(", ")
        ))
    })?;
    Ok(Inferred {
        format,
        compression,
        tab_separated: *extension == "tsv",
    })
}

/// The last segment of a path, lower-cased; for a URL, without its query and
/// fragment (`https://h/x.csv?sig=...` is a `.csv`).
fn file_name(path: &str) -> String {
    let path = if path.contains("://") {
        path.split(['?', '#']).next().unwrap_or(path)
    } else {
        path
    };
    path.rsplit('/').next().unwrap_or(path).to_ascii_lowercase()
}

/// Whether the path's name says tab-separated values (`x.tsv`, `x.TSV.gz`).
pub(crate) fn is_tab_separated(path: &str) -> bool {
    infer(path).is_ok_and(|inferred| inferred.tab_separated)
}

/// The compression a path's last extension names (`.gz`, `.zst`, `.bz2`), if any.
pub(crate) fn compression_of(path: &str) -> Option<Compression> {
    let file = file_name(path);
    file.rsplit('.')
        .next()
        .filter(|_| file.contains('.'))
        .and_then(Compression::from_extension)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extensions_case_and_compression() {
        let i = infer("data/Pets.CSV").unwrap();
        assert_eq!((i.format, i.compression), (Format::Csv, None));
        let i = infer("a.csv.gz").unwrap();
        assert_eq!(
            (i.format, i.compression),
            (Format::Csv, Some(Compression::Gzip))
        );
        let i = infer("s3://b/x.JSONL.zst").unwrap();
        assert_eq!(
            (i.format, i.compression),
            (Format::Jsonl, Some(Compression::Zstd))
        );
        let i = infer("t.tsv.bz2").unwrap();
        assert!(i.tab_separated);
        assert_eq!(infer("notes.txt").unwrap().format, Format::Text);
        assert_eq!(infer("x.parquet").unwrap().format, Format::Parquet);
    }

    #[test]
    fn bad_formats_name_the_valid_ones() {
        assert_eq!(
            infer("sheet.xlsx").unwrap_err().to_string(),
            "cannot tell the format of \"sheet.xlsx\" from its extension \".xlsx\"; give one of \
             csv, parquet, jsonl, json, text with .format(...)"
        );
        assert_eq!(
            "parket".parse::<Format>().unwrap_err().to_string(),
            "\"parket\" is not a valid format (did you mean \"parquet\"?); use one of csv, \
             parquet, jsonl, json, text"
        );
        assert!(infer("README").is_err());
    }
}
