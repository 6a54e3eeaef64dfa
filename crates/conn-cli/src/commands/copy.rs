//! `conn copy SRC QUERY_OR_PATH DEST TABLE_OR_PATH`: a result from one connection into
//! a table or file of another, written in one transaction (tables) or one upload
//! (files).

use std::io::Write;
use std::time::Instant;

use conn::WriteMode;
use conn::files::Format;
use serde_json::json;

use super::query::{parse_params, read_file, run_query};
use super::{Opened, interruptible, millis};
use crate::cli::{CopyArgs, CopyMode};
use crate::error::{CliError, CliResult, Code};
use crate::progress::Progress;
use crate::project::Project;

/// Runs `conn copy`.
pub fn run(project: &Project, args: &CopyArgs) -> CliResult {
    let params = parse_params(&args.params)?;
    let source = Opened::open(project, &args.source)?;
    let dest = Opened::open(project, &args.dest)?;
    // Refuse what cannot work before reading anything.
    let file_format = match &dest {
        Opened::Files(_) => Some(file_format(&args.table_or_path, args.mode)?),
        Opened::Sql(_) | Opened::Duck(_) | Opened::Snowflake(_) => None,
        Opened::Other(type_name) => {
            return Err(CliError::config(format!(
                "connection \"{}\" is of type {type_name}; conn copy writes to sql, duckdb, \
                 snowflake and files connections",
                args.dest
            )));
        }
    };
    let start = Instant::now();
    let progress = Progress::start(format!("reading from {}", args.source));
    let table = match &source {
        Opened::Files(_) if !args.params.is_empty() => {
            return Err(CliError::config(format!(
                "--param: connection \"{}\" reads a file, which takes no parameters",
                args.source
            )));
        }
        Opened::Files(_) => read_file(&source, &args.source, &args.query_or_path, args.timeout)?,
        _ => run_query(
            &source,
            &args.source,
            &args.query_or_path,
            params,
            args.timeout,
        )?,
    };
    let read_time = start.elapsed();
    drop(progress);
    let progress = Progress::start(format!(
        "writing {} rows to {} {}",
        table.num_rows(),
        args.dest,
        args.table_or_path
    ));
    let mode = match args.mode {
        CopyMode::Create => WriteMode::Create,
        CopyMode::Append => WriteMode::Append,
        CopyMode::Replace => WriteMode::Replace,
    };
    let target = &args.table_or_path;
    let written = match &dest {
        Opened::Sql(c) => with_timeout(c.write_table(target, &table, mode), args.timeout)?,
        Opened::Duck(c) => with_timeout(c.write_table(target, &table, mode), args.timeout)?,
        Opened::Snowflake(c) => with_timeout(c.write_table(target, &table, mode), args.timeout)?,
        Opened::Files(c) => {
            if args.mode == CopyMode::Create && with_timeout(c.exists(target), args.timeout)? {
                return Err(CliError::failed(format!(
                    "{target} already exists on connection \"{}\" (--mode create); use \
                     --mode replace to overwrite it",
                    args.dest
                )));
            }
            let format = file_format.unwrap_or(Format::Csv);
            with_timeout(c.write(target, &table, format), args.timeout)?
        }
        Opened::Other(_) => 0,
    };
    let elapsed = start.elapsed();
    drop(progress);
    let rate = if elapsed.as_secs_f64() > 0.0 {
        written as f64 / elapsed.as_secs_f64()
    } else {
        0.0
    };
    let mut out = std::io::stdout().lock();
    if args.json {
        let document = json!({
            "source": args.source,
            "dest": args.dest,
            "target": target,
            "rows": written,
            "read_ms": millis(read_time),
            "total_ms": millis(elapsed),
        });
        writeln!(out, "{document:#}")?;
    } else {
        writeln!(
            out,
            "copied {written} rows from {} to {} {target} in {} ms (read {} ms, {:.0} rows/s)",
            args.source,
            args.dest,
            millis(elapsed),
            millis(read_time),
            rate
        )?;
    }
    Ok(Code::Ok)
}

fn with_timeout<T: Send + 'static>(
    call: conn::Call<T>,
    timeout: Option<std::time::Duration>,
) -> CliResult<T> {
    match timeout {
        Some(limit) => interruptible(call.timeout(limit)),
        None => interruptible(call),
    }
}

/// The format a destination path's extension names (through `.gz`, `.zst`, `.bz2`).
fn file_format(path: &str, mode: CopyMode) -> CliResult<Format> {
    if mode == CopyMode::Append {
        return Err(CliError::config(
            "--mode append is not possible for files connections (a file is written whole); \
             use --mode create or --mode replace",
        ));
    }
    let name = path.rsplit('/').next().unwrap_or(path).to_ascii_lowercase();
    let mut parts: Vec<&str> = name.split('.').skip(1).collect();
    if matches!(parts.last(), Some(&("gz" | "zst" | "bz2"))) {
        parts.pop();
    }
    let Some(extension) = parts.last() else {
        return Err(CliError::config(format!(
            "{path}: no extension to choose the format by; end the path in .csv, .parquet \
             or .jsonl"
        )));
    };
    let format: Format = extension
        .parse()
        .map_err(|e: conn::Error| CliError::config(format!("{path}: {e}")))?;
    if !format.is_tabular() {
        return Err(CliError::config(format!(
            "{path}: a table is written as csv, parquet or jsonl, not {format}"
        )));
    }
    Ok(format)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destination_formats_come_from_extensions() {
        assert_eq!(
            file_format("out/pets.parquet", CopyMode::Create).unwrap(),
            Format::Parquet
        );
        assert_eq!(
            file_format("pets.CSV.gz", CopyMode::Replace).unwrap(),
            Format::Csv
        );
        assert_eq!(
            file_format("pets", CopyMode::Create).unwrap_err().message,
            "pets: no extension to choose the format by; end the path in .csv, .parquet or .jsonl"
        );
        assert_eq!(
            file_format("pets.json", CopyMode::Create)
                .unwrap_err()
                .message,
            "pets.json: a table is written as csv, parquet or jsonl, not json"
        );
        assert!(
            file_format("pets.csv", CopyMode::Append)
                .unwrap_err()
                .message
                .starts_with("--mode append is not possible for files connections")
        );
    }
}
