//! `conn list`: the connections defined, or (`--types`) the registered types.

use std::io::Write;

use serde_json::json;

use crate::cli::ListArgs;
use crate::error::{CliResult, Code};
use crate::project::Project;

/// One row of the listing.
struct Row {
    name: String,
    type_name: Option<String>,
    at: String,
    error: Option<String>,
    /// The configuration is broken (not merely without a type, which the app may give
    /// in code, as Streamlit's secrets do).
    broken: bool,
}

/// Runs `conn list`.
pub fn run(project: &Project, args: &ListArgs) -> CliResult {
    if args.types {
        return types(args.json);
    }
    let rows: Vec<Row> = project
        .defined()?
        .into_iter()
        .map(|defined| {
            let (type_name, error, broken) = match project.request(&defined.name).config() {
                Ok(config) => (Some(config.type_name().to_owned()), None, false),
                Err(err) => {
                    let untyped = matches!(&err, conn::Error::Config(config)
                        if matches!(**config, conn::ConfigError::NoType { .. }));
                    (None, Some(err.to_string()), !untyped)
                }
            };
            Row {
                at: project.source(&defined.at),
                name: defined.name,
                type_name,
                error,
                broken,
            }
        })
        .collect();
    let mut out = std::io::stdout().lock();
    if args.json {
        let secrets = project.factory.secrets()?;
        let paths = |paths: &[std::path::PathBuf]| -> Vec<String> {
            paths.iter().map(|p| p.display().to_string()).collect()
        };
        let connections: Vec<_> = rows
            .iter()
            .map(|row| {
                json!({
                    "name": row.name,
                    "type": row.type_name,
                    "defined_at": row.at,
                    "error": row.error,
                })
            })
            .collect();
        let document = json!({
            "connections": connections,
            "secrets": {
                "searched": paths(secrets.searched()),
                "loaded": paths(secrets.loaded()),
            },
        });
        writeln!(out, "{document:#}")?;
        return Ok(code_of(&rows));
    }
    if rows.is_empty() {
        writeln!(
            out,
            "no connections defined ({}; no CONN_<NAME>__<KEY> variables set)",
            project.searched()
        )?;
        return Ok(Code::Ok);
    }
    let name_width = rows.iter().map(|r| r.name.len()).max().unwrap_or(0).max(4);
    let type_width = rows
        .iter()
        .map(|r| r.type_name.as_deref().map_or(1, str::len))
        .max()
        .unwrap_or(0)
        .max(4);
    writeln!(
        out,
        "{:name_width$}  {:type_width$}  DEFINED AT",
        "NAME", "TYPE"
    )?;
    for row in &rows {
        writeln!(
            out,
            "{:name_width$}  {:type_width$}  {}",
            row.name,
            row.type_name.as_deref().unwrap_or("?"),
            row.at
        )?;
    }
    for row in &rows {
        if let Some(error) = &row.error {
            writeln!(out, "\n{}: {error}", row.name)?;
        }
    }
    writeln!(out, "\n{}", project.searched())?;
    Ok(code_of(&rows))
}

/// 2 when a connection's configuration is broken (an unknown type, say); else 0.
fn code_of(rows: &[Row]) -> Code {
    if rows.iter().any(|row| row.broken) {
        Code::Config
    } else {
        Code::Ok
    }
}

/// The crate a registered type comes from, from its Rust path (`conn_sql::SqlConnection`
/// gives `conn-sql`).
fn crate_of(type_path: &str) -> String {
    type_path
        .split("::")
        .next()
        .unwrap_or(type_path)
        .replace('_', "-")
}

fn types(as_json: bool) -> CliResult {
    let types = conn::Registry::global().types();
    let mut out = std::io::stdout().lock();
    if as_json {
        let list: Vec<_> = types
            .iter()
            .map(|info| {
                json!({
                    "name": info.name,
                    "aliases": info.aliases,
                    "crate": crate_of(info.type_path),
                    "type_path": info.type_path,
                    "description": info.description,
                    "example_toml": info.example_toml,
                })
            })
            .collect();
        writeln!(out, "{:#}", json!({ "types": list }))?;
        return Ok(Code::Ok);
    }
    for (index, info) in types.iter().enumerate() {
        if index > 0 {
            writeln!(out)?;
        }
        writeln!(
            out,
            "{}  ({}): {}",
            info.name,
            crate_of(info.type_path),
            info.description
        )?;
        if !info.aliases.is_empty() {
            writeln!(out, "  aliases: {}", info.aliases.join(", "))?;
        }
        writeln!(out, "  example:")?;
        for line in info.example_toml.lines() {
            writeln!(out, "    {line}")?;
        }
    }
    Ok(Code::Ok)
}

#[cfg(test)]
mod tests {
    #[test]
    fn crates_come_from_type_paths() {
        assert_eq!(super::crate_of("conn_sql::SqlConnection"), "conn-sql");
        assert_eq!(super::crate_of("Plain"), "Plain");
    }
}
