//! `conn query NAME SQL` and `conn read NAME PATH`: a result, written as asked.

use std::time::Duration;

use conn::{Param, Params, Table};
use conn_core::plugin::{Redactor, is_secret_key, runtime};

use super::{Opened, interruptible};
use crate::cli::{OutputFormat, QueryArgs, ReadArgs};
use crate::error::{CliError, CliResult, Code};
use crate::output::{self, Batches, with_whole_hint};
use crate::progress::Progress;
use crate::project::Project;

/// Runs `conn query`: the result streamed from the server to the output, batch by
/// batch (`--timeout` covers the wait for the first batch), or read whole first with
/// `--whole`.
pub fn run(project: &Project, args: &QueryArgs) -> CliResult {
    let params = parse_params(&args.params)?;
    let opened = Opened::open(project, &args.name)?;
    let progress = Progress::start(format!("querying {}", args.name));
    // The aligned table needs every row anyway: read it whole, with the widening.
    let whole = args.whole || output::choose(&args.output)? == OutputFormat::Table;
    let batches = if whole {
        let table = run_query(&opened, &args.name, &args.sql, params, args.timeout)?;
        Batches::table(table)
    } else {
        stream_query(&opened, &args.name, &args.sql, params, args.timeout)?
    };
    let written = output::write(batches, &args.output, &progress);
    // A stream dropped early (a closed pipe, a failed write) cancels its query: let
    // that request go out before the process exits.
    runtime::settle_detached(Duration::from_secs(5));
    written?;
    Ok(Code::Ok)
}

/// Runs `conn read`: the file streamed to the output batch by batch, or read whole
/// first with `--whole` (and for the table format).
pub fn read(project: &Project, args: &ReadArgs) -> CliResult {
    let opened = Opened::open(project, &args.name)?;
    let progress = Progress::start(format!("reading {} from {}", args.path, args.name));
    let whole = args.whole || output::choose(&args.output)? == OutputFormat::Table;
    let batches = if whole {
        Batches::table(read_file(&opened, &args.name, &args.path, args.timeout)?)
    } else {
        stream_file(&opened, &args.name, &args.path, args.timeout)?
    };
    let written = output::write(batches, &args.output, &progress);
    runtime::settle_detached(Duration::from_secs(5));
    written?;
    Ok(Code::Ok)
}

/// A streamed file read through a `files` connection.
fn stream_file(
    opened: &Opened,
    name: &str,
    path: &str,
    timeout: Option<Duration>,
) -> CliResult<Batches> {
    let Opened::Files(c) = opened else {
        return Err(CliError::config(format!(
            "connection \"{name}\" is of type {}, not files: use `conn query {name} SQL`",
            opened.type_name()
        )));
    };
    let call = c.read(path).stream();
    let call = match timeout {
        Some(limit) => call.timeout(limit),
        None => call,
    };
    let stream = interruptible(call).map_err(with_whole_hint)?;
    Ok(Batches::Stream {
        schema: stream.schema(),
        stream: Some(stream),
        redactor: Redactor::default(),
    })
}

/// A streamed query on a `sql`, `duckdb` or `snowflake` connection.
fn stream_query(
    opened: &Opened,
    name: &str,
    sql: &str,
    params: Params,
    timeout: Option<Duration>,
) -> CliResult<Batches> {
    let redactor = secret_values(&params);
    let call = match opened {
        Opened::Sql(c) => c.query(sql).params(params).stream(),
        Opened::Duck(c) => c.query(sql).params(params).stream(),
        Opened::Snowflake(c) => c.query(sql).params(params).stream(),
        other => return Err(not_queryable(other, name)),
    };
    let call = match timeout {
        Some(limit) => call.timeout(limit),
        None => call,
    };
    let stream = interruptible(call).map_err(|err| with_whole_hint(err.redacted(&redactor)))?;
    Ok(Batches::Stream {
        schema: stream.schema(),
        stream: Some(stream),
        redactor,
    })
}

/// The redactor of the values of secret-named parameters: a driver may echo a
/// parameter's value ("could not convert string '...'").
fn secret_values(params: &Params) -> Redactor {
    params
        .named()
        .iter()
        .filter(|(name, _)| is_secret_key(name))
        .filter_map(|(_, value)| match value {
            Param::Text(text) => Some(text.clone()),
            Param::Int(i) => Some(i.to_string()),
            Param::Float(f) => Some(f.to_string()),
            _ => None,
        })
        .fold(Redactor::default(), |r, value| r.with_secret(&value))
}

/// The error for a query on a connection that does not run queries.
fn not_queryable(opened: &Opened, name: &str) -> CliError {
    match opened {
        Opened::Files(_) => CliError::config(format!(
            "connection \"{name}\" is of type files, which reads files rather than \
             running queries: use `conn read {name} PATH`"
        )),
        other => CliError::config(format!(
            "connection \"{name}\" is of type {}; the conn command runs queries on sql, \
             duckdb and snowflake connections only",
            other.type_name()
        )),
    }
}

/// A query on a `sql`, `duckdb` or `snowflake` connection.
pub fn run_query(
    opened: &Opened,
    name: &str,
    sql: &str,
    params: Params,
    timeout: Option<Duration>,
) -> CliResult<Table> {
    let redactor = secret_values(&params);
    run_query_unredacted(opened, name, sql, params, timeout).map_err(|err| err.redacted(&redactor))
}

fn run_query_unredacted(
    opened: &Opened,
    name: &str,
    sql: &str,
    params: Params,
    timeout: Option<Duration>,
) -> CliResult<Table> {
    match opened {
        Opened::Sql(c) => {
            let query = c.query(sql).params(params);
            match timeout {
                Some(limit) => interruptible(query.timeout(limit)),
                None => interruptible(query),
            }
        }
        Opened::Duck(c) => {
            let query = c.query(sql).params(params);
            match timeout {
                Some(limit) => interruptible(query.timeout(limit)),
                None => interruptible(query),
            }
        }
        Opened::Snowflake(c) => {
            let query = c.query(sql).params(params);
            match timeout {
                Some(limit) => interruptible(query.timeout(limit)),
                None => interruptible(query),
            }
        }
        other => Err(not_queryable(other, name)),
    }
}

/// A file read through a `files` connection.
pub fn read_file(
    opened: &Opened,
    name: &str,
    path: &str,
    timeout: Option<Duration>,
) -> CliResult<Table> {
    match opened {
        Opened::Files(c) => {
            let read = c.read(path);
            let read = match timeout {
                Some(limit) => read.timeout(limit),
                None => read,
            };
            interruptible(read)
        }
        other => Err(CliError::config(format!(
            "connection \"{name}\" is of type {}, not files: use `conn query {name} SQL`",
            other.type_name()
        ))),
    }
}

/// `NAME=VALUE` pairs as named parameters (see [`typed`]).
pub fn parse_params(pairs: &[String]) -> CliResult<Params> {
    let mut params = Params::new();
    for pair in pairs {
        let Some((name, value)) = pair.split_once('=') else {
            return Err(CliError::config(format!(
                "--param {pair}: write NAME=VALUE (the name without its colon)"
            )));
        };
        let name = name.trim().trim_start_matches(':');
        if name.is_empty() {
            return Err(CliError::config(format!(
                "--param {pair}: the parameter has no name"
            )));
        }
        params.set(name, typed(value));
    }
    Ok(params)
}

/// A parameter value from its text, typed as the library types Rust values: an
/// integer (`42`, `-7`), a float (`2.5`, `-0.25`), a boolean (`true`, `false`), else
/// text. Only texts that read back exactly are numbers: `007`, `+1`, `1e3`, `1.` and
/// `NaN` stay text, so no value changes on the way.
pub fn typed(text: &str) -> Param {
    match text {
        "true" => return Param::Bool(true),
        "false" => return Param::Bool(false),
        _ => {}
    }
    if let Ok(int) = text.parse::<i64>()
        && int.to_string() == text
    {
        return Param::Int(int);
    }
    if is_decimal(text)
        && let Ok(float) = text.parse::<f64>()
        && float.is_finite()
    {
        return Param::Float(float);
    }
    Param::Text(text.to_owned())
}

/// `-?D+.D+` with no superfluous leading zero (`0.5` yes, `00.5` no).
fn is_decimal(text: &str) -> bool {
    let digits = text.strip_prefix('-').unwrap_or(text);
    let Some((whole, fraction)) = digits.split_once('.') else {
        return false;
    };
    let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    all_digits(whole) && all_digits(fraction) && (whole == "0" || !whole.starts_with('0'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_are_typed_only_when_nothing_changes() {
        assert_eq!(typed("42"), Param::Int(42));
        assert_eq!(typed("-7"), Param::Int(-7));
        assert_eq!(typed("2.5"), Param::Float(2.5));
        assert_eq!(typed("0.25"), Param::Float(0.25));
        assert_eq!(typed("true"), Param::Bool(true));
        assert_eq!(typed("false"), Param::Bool(false));
        for text in [
            "007",
            "+1",
            "1e3",
            "1.",
            ".5",
            "NaN",
            "True",
            "",
            "rex",
            "99999999999999999999",
        ] {
            assert_eq!(typed(text), Param::Text(text.to_owned()), "{text}");
        }
    }

    #[test]
    fn malformed_parameters_are_refused_with_their_text() {
        let err = parse_params(&["owner".to_owned()]).unwrap_err();
        assert_eq!(
            err.message,
            "--param owner: write NAME=VALUE (the name without its colon)"
        );
        assert_eq!(err.code, Code::Config);
        let params = parse_params(&[":owner=barbara".to_owned(), "n=1=2".to_owned()]).unwrap();
        assert_eq!(
            params.get("owner"),
            Some(&Param::Text("barbara".to_owned()))
        );
        assert_eq!(params.get("n"), Some(&Param::Text("1=2".to_owned())));
    }
}
