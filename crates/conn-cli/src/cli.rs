//! The command line's shape: clap types only, no behaviour.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Test, inspect and query the connections of a Streamlit-style project, resolved
/// exactly as the app resolves them (secrets files, `CONN_<NAME>__<KEY>` variables,
/// `.streamlit/config.toml`, the data source's own configuration).
#[derive(Debug, Parser)]
#[command(name = "conn", version, about, long_about = None)]
pub struct Cli {
    /// Where and what to read.
    #[command(flatten)]
    pub project: ProjectArgs,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The options every command shares: which project and which secrets.
#[derive(Debug, Args)]
pub struct ProjectArgs {
    /// Run as if started in DIR: `.streamlit/` is looked for there, and relative
    /// paths in secrets (`sqlite:///pets.db`) resolve against it.
    #[arg(long, global = true, value_name = "DIR")]
    pub project: Option<PathBuf>,
    /// Read secrets from exactly this file or secrets directory (repeatable; later
    /// files win), instead of `~/.streamlit/secrets.toml` and
    /// `.streamlit/secrets.toml`.
    #[arg(long = "secrets", global = true, value_name = "FILE")]
    pub secrets: Vec<PathBuf>,
    /// The connection type, as the app gives it in code (`connection::<SqlConnection>`,
    /// Streamlit's `type=`): for sections without a `type` key, such as Streamlit's
    /// `[connections.pets_db]` with only a `url`. Like a type in code, it wins over the
    /// `type` key.
    #[arg(long = "type", global = true, value_name = "TYPE")]
    pub type_name: Option<String>,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// The connections defined in secrets and the environment, with their type and
    /// where they are defined; `--types` lists the connection types instead.
    List(ListArgs),
    /// Connect to each connection (all when none is named) and run its health check.
    /// Exit code 0 when all pass, 1 when any fails, 2 on a configuration error.
    Check(CheckArgs),
    /// Every resolved key of a connection, its value (secrets as ***) and where it
    /// came from; the type and why it was chosen; configuration errors.
    Explain(ExplainArgs),
    /// Run a query on a `sql` or `duckdb` connection and print or save the result.
    Query(QueryArgs),
    /// Read a file (CSV, Parquet, JSON lines) through a `files` connection.
    Read(ReadArgs),
    /// Copy a query result or a file from one connection into a table or file of
    /// another, and report the rows and the time taken.
    Copy(CopyArgs),
    /// Print a shell completion script (`conn completions bash > /etc/bash_completion.d/conn`).
    Completions(CompletionsArgs),
}

/// `conn list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// List the registered connection types (name, aliases, crate, description,
    /// example TOML) instead of the connections.
    #[arg(long)]
    pub types: bool,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// `conn check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The connections to check (default: every connection defined).
    pub names: Vec<String>,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
    /// Give up on a connection after this long (`10s`, `500ms`, `2m`, or seconds).
    #[arg(long, value_parser = parse_duration, default_value = "30s")]
    pub timeout: Duration,
}

/// `conn explain`.
#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// The connection.
    pub name: String,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// `conn query`.
#[derive(Debug, Args)]
pub struct QueryArgs {
    /// The connection (type `sql` or `duckdb`).
    pub name: String,
    /// The statement. Named parameters are written as the database does: `:name` for
    /// `sql` connections, `$name` for DuckDB.
    pub sql: String,
    /// A named parameter `NAME=VALUE` (repeatable). VALUE is an integer, a float,
    /// `true`/`false`, or else text (`007` and `1e3` stay text).
    #[arg(long = "param", short = 'p', value_name = "NAME=VALUE")]
    pub params: Vec<String>,
    /// Where and how to write the result.
    #[command(flatten)]
    pub output: OutputArgs,
    /// Give up after this long (`10s`, `500ms`, `2m`, or seconds); when streaming, the
    /// limit is on the wait for the first rows.
    #[arg(long, value_parser = parse_duration)]
    pub timeout: Option<Duration>,
    /// Read the whole result before writing it, instead of streaming it batch by batch.
    /// A streamed column keeps the type of its first batch, and a later value that
    /// would not fit it unchanged stops the query with an error; read whole, the column
    /// is widened to hold every value (SQLite's mixed INTEGER and REAL, say).
    #[arg(long)]
    pub whole: bool,
}

/// `conn read`.
#[derive(Debug, Args)]
pub struct ReadArgs {
    /// The connection (type `files`).
    pub name: String,
    /// The path, relative to the connection's root (`data/pets.csv`,
    /// `bucket/pets.parquet`).
    pub path: String,
    /// Where and how to write the result.
    #[command(flatten)]
    pub output: OutputArgs,
    /// Give up after this long (`10s`, `500ms`, `2m`, or seconds); when streaming, the
    /// limit is on the wait for the first rows.
    #[arg(long, value_parser = parse_duration)]
    pub timeout: Option<Duration>,
    /// Read the whole file before writing it, instead of streaming it batch by batch:
    /// the column types then come from every record, not from the first `infer_rows`.
    #[arg(long)]
    pub whole: bool,
}

/// The output options of `query` and `read`.
#[derive(Debug, Args)]
pub struct OutputArgs {
    /// Output format (default: `table` on a terminal, else inferred from `--output`'s
    /// extension, else `csv`).
    #[arg(long, short = 'f', value_enum)]
    pub format: Option<OutputFormat>,
    /// Write to FILE instead of standard output.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Rows shown by `--format table` (first and last halves around `…`).
    #[arg(long, default_value_t = 50)]
    pub limit: usize,
}

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// An aligned text table, `--limit` rows.
    Table,
    /// CSV with a header line.
    Csv,
    /// One JSON object per line.
    Jsonl,
    /// Apache Parquet.
    Parquet,
    /// Arrow IPC file format (`.arrow`, Feather v2).
    Arrow,
}

/// `conn copy`.
#[derive(Debug, Args)]
pub struct CopyArgs {
    /// The source connection.
    pub source: String,
    /// A query (for `sql` and `duckdb` sources) or a path (for `files` sources).
    pub query_or_path: String,
    /// The destination connection (`sql`, `duckdb` or `files`).
    pub dest: String,
    /// The table (for `sql` and `duckdb` destinations) or the path, its format from
    /// its extension (for `files` destinations).
    pub table_or_path: String,
    /// Create the target (fails if it exists), append to it, or replace it.
    #[arg(long, value_enum, default_value = "create")]
    pub mode: CopyMode,
    /// A named parameter of the source query, `NAME=VALUE` (repeatable; typed as for
    /// `conn query`).
    #[arg(long = "param", short = 'p', value_name = "NAME=VALUE")]
    pub params: Vec<String>,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
    /// Give up on each of the read and the write after this long.
    #[arg(long, value_parser = parse_duration)]
    pub timeout: Option<Duration>,
}

/// How `copy` treats an existing target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CopyMode {
    /// Fail when the target exists.
    Create,
    /// Add rows to an existing table.
    Append,
    /// Replace the target whole.
    Replace,
}

/// `conn completions`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell.
    pub shell: Shell,
}

/// Shells with completions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Shell {
    /// bash
    Bash,
    /// zsh
    Zsh,
    /// fish
    Fish,
}

/// `10s`, `500ms`, `2m`, `1h` or plain seconds (`2.5`).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("\"{text}\" is not a duration; write 10s, 500ms, 2m or 1h"))?;
    let seconds = match unit.trim() {
        "" | "s" => value,
        "ms" => value / 1000.0,
        "m" | "min" => value * 60.0,
        "h" => value * 3600.0,
        other => {
            return Err(format!(
                "unknown unit \"{other}\" in \"{text}\"; use ms, s, m or h"
            ));
        }
    };
    Duration::try_from_secs_f64(seconds).map_err(|e| format!("\"{text}\": {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_with_units() {
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("2.5"), Ok(Duration::from_millis(2500)));
        assert_eq!(
            parse_duration("3d"),
            Err("unknown unit \"d\" in \"3d\"; use ms, s, m or h".to_owned())
        );
        assert_eq!(
            parse_duration("soon"),
            Err("\"soon\" is not a duration; write 10s, 500ms, 2m or 1h".to_owned())
        );
    }

    #[test]
    fn the_command_line_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
