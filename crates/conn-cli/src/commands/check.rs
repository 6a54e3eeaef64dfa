//! `conn check`: resolve, connect and run each connection's health check.

use std::io::Write;
use std::time::{Duration, Instant};

use serde_json::json;

use super::millis;
use crate::cli::CheckArgs;
use crate::error::{CliError, CliResult, Code};
use crate::project::Project;

/// What one check found.
#[derive(Debug)]
enum Outcome {
    Ok,
    /// The type has no health check the command line can run.
    Skipped(String),
    Failed {
        code: Code,
        kind: String,
        message: String,
    },
}

#[derive(Debug)]
struct Checked {
    name: String,
    type_name: Option<String>,
    outcome: Outcome,
    elapsed: Duration,
}

/// Runs `conn check`.
pub fn run(project: &Project, args: &CheckArgs) -> CliResult {
    let names: Vec<String> = if args.names.is_empty() {
        project.defined()?.into_iter().map(|d| d.name).collect()
    } else {
        args.names.clone()
    };
    if names.is_empty() {
        return Err(CliError::config(format!(
            "no connections to check: none defined ({}; no CONN_<NAME>__<KEY> variables set)",
            project.searched()
        )));
    }
    let results: Vec<Checked> = names
        .iter()
        .map(|name| check_one(project, name, args.timeout))
        .collect();
    let code = results
        .iter()
        .map(|r| match &r.outcome {
            Outcome::Failed { code, .. } => *code,
            _ => Code::Ok,
        })
        .max()
        .unwrap_or(Code::Ok);
    let mut out = std::io::stdout().lock();
    if args.json {
        let list: Vec<_> = results
            .iter()
            .map(|r| {
                let (status, error, kind) = match &r.outcome {
                    Outcome::Ok => ("ok", None, None),
                    Outcome::Skipped(why) => ("skipped", Some(why.as_str()), None),
                    Outcome::Failed { kind, message, .. } => {
                        ("failed", Some(message.as_str()), Some(kind.as_str()))
                    }
                };
                json!({
                    "name": r.name,
                    "type": r.type_name,
                    "status": status,
                    "ms": millis(r.elapsed),
                    "error": error,
                    "error_kind": kind,
                })
            })
            .collect();
        let document = json!({ "ok": code == Code::Ok, "connections": list });
        writeln!(out, "{document:#}")?;
        return Ok(code);
    }
    let name_width = results.iter().map(|r| r.name.len()).max().unwrap_or(0);
    let type_width = results
        .iter()
        .map(|r| r.type_name.as_deref().map_or(1, str::len))
        .max()
        .unwrap_or(0);
    for r in &results {
        let status = match r.outcome {
            Outcome::Ok => "ok",
            Outcome::Skipped(_) => "skipped",
            Outcome::Failed { .. } => "FAILED",
        };
        let ms = format!("{} ms", millis(r.elapsed));
        write!(
            out,
            "{status:<7} {:name_width$}  {:type_width$}  {ms:>8}",
            r.name,
            r.type_name.as_deref().unwrap_or("?"),
        )?;
        match &r.outcome {
            Outcome::Ok => writeln!(out)?,
            Outcome::Skipped(why) => writeln!(out, "  {why}")?,
            Outcome::Failed { message, .. } => writeln!(out, "  {message}")?,
        }
    }
    Ok(code)
}

fn check_one(project: &Project, name: &str, timeout: Duration) -> Checked {
    let start = Instant::now();
    let failed = |err: &conn::Error| Outcome::Failed {
        code: Code::of(err),
        kind: format!("{:?}", err.kind()).to_lowercase(),
        message: err.to_string(),
    };
    let any = match project.request(name).get_dyn() {
        Ok(any) => any,
        Err(err) => {
            // The type, when the configuration names one, for the report.
            let type_name = project
                .request(name)
                .config()
                .ok()
                .map(|config| config.type_name().to_owned());
            return Checked {
                name: name.to_owned(),
                type_name,
                outcome: failed(&err),
                elapsed: start.elapsed(),
            };
        }
    };
    // Every type's own check, third parties' included (`ConnectionType::health_check`).
    let outcome = match any.health_check() {
        Some(call) => match call.timeout(timeout).blocking() {
            Ok(()) => Outcome::Ok,
            Err(err) => failed(&err),
        },
        None => Outcome::Skipped(format!(
            "type {} has no health check (ConnectionType::health_check)",
            any.type_name()
        )),
    };
    Checked {
        name: name.to_owned(),
        type_name: Some(any.type_name().to_owned()),
        outcome,
        elapsed: start.elapsed(),
    }
}
