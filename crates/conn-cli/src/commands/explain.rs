//! `conn explain NAME`: every resolved key, its value with secrets masked, and where it
//! came from; the type and why; what the type makes of the configuration.

use std::io::Write;

use conn::{ConnectionConfig, Kind, Value};
use conn_core::KeyFindingKind;
use conn_core::plugin::{Redactor, is_secret_key};
use serde_json::json;

use crate::cli::ExplainArgs;
use crate::error::{CliResult, Code};
use crate::project::Project;

/// What a masked secret is shown as.
const MASK: &str = "***";

/// One resolved leaf key.
struct Entry {
    key: String,
    /// The value's JSON form, secrets masked.
    value: serde_json::Value,
    source: String,
    secret: bool,
}

/// Runs `conn explain`.
pub fn run(project: &Project, args: &ExplainArgs) -> CliResult {
    let config = project.request(&args.name).config()?;
    let redactor = config.redactor();
    let mut entries = Vec::new();
    flatten(project, &redactor, config.values(), "", false, &mut entries);
    let reason = type_reason(project, &config);
    let defined_at = config.origin().map(|o| project.source(o));
    // Building the connection reads every key as the type does (no I/O): unknown keys
    // with the nearest known one, missing and invalid values, each with its source.
    let problem = conn::Registry::global()
        .lookup(config.type_name())
        .and_then(|info| info.build(config.clone()))
        .err();
    // Every key the type did not use, not only the first unknown one.
    let findings = config.findings();
    let unknown: Vec<_> = findings
        .iter()
        .filter_map(|f| match &f.kind {
            KeyFindingKind::Unknown { suggestion } => {
                Some((f.key.clone(), project.source(&f.at), suggestion.clone()))
            }
            _ => None,
        })
        .collect();
    let ignored: Vec<_> = findings
        .iter()
        .filter_map(|f| match &f.kind {
            KeyFindingKind::Ignored { reason } => {
                Some((f.key.clone(), project.source(&f.at), reason.clone()))
            }
            _ => None,
        })
        .collect();
    let code = problem.as_ref().map_or(Code::Ok, Code::of);
    let mut out = std::io::stdout().lock();
    if args.json {
        let keys: Vec<_> = entries
            .iter()
            .map(
                |e| json!({"key": e.key, "value": e.value, "source": e.source, "secret": e.secret}),
            )
            .collect();
        let document = json!({
            "name": config.name(),
            "type": config.type_name(),
            "type_reason": reason,
            "defined_at": defined_at,
            "keys": keys,
            "unknown_keys": unknown
                .iter()
                .map(|(key, source, suggestion)| {
                    json!({"key": key, "source": source, "did_you_mean": suggestion})
                })
                .collect::<Vec<_>>(),
            "ignored_keys": ignored
                .iter()
                .map(|(key, source, reason)| json!({"key": key, "source": source, "reason": reason}))
                .collect::<Vec<_>>(),
            "ok": problem.is_none(),
            "error": problem.as_ref().map(ToString::to_string),
        });
        writeln!(out, "{document:#}")?;
        return Ok(code);
    }
    writeln!(
        out,
        "connection {}: type {} ({reason})",
        config.name(),
        config.type_name()
    )?;
    match &defined_at {
        Some(at) => writeln!(out, "defined at {at}")?,
        None => writeln!(out, "not defined in secrets or the environment")?,
    }
    if !entries.is_empty() {
        let rendered: Vec<String> = entries.iter().map(|e| render(&e.value)).collect();
        let key_width = entries
            .iter()
            .map(|e| e.key.len())
            .max()
            .unwrap_or(0)
            .max(3);
        let value_width = rendered
            .iter()
            .map(|v| v.chars().count())
            .max()
            .unwrap_or(0)
            .max(5);
        writeln!(out)?;
        writeln!(
            out,
            "{:key_width$}  {:value_width$}  SOURCE",
            "KEY", "VALUE"
        )?;
        for (entry, value) in entries.iter().zip(&rendered) {
            let pad = value_width.saturating_sub(value.chars().count());
            writeln!(
                out,
                "{:key_width$}  {value}{:pad$}  {}",
                entry.key, "", entry.source
            )?;
        }
    }
    if !unknown.is_empty() {
        writeln!(out)?;
        writeln!(
            out,
            "unknown keys (type {} does not read them):",
            config.type_name()
        )?;
        for (key, source, suggestion) in &unknown {
            match suggestion {
                Some(near) => writeln!(out, "  {key} ({source}): did you mean `{near}`?")?,
                None => writeln!(out, "  {key} ({source})")?,
            }
        }
    }
    if !ignored.is_empty() {
        writeln!(out)?;
        writeln!(
            out,
            "ignored keys (accepted as Streamlit accepts them, no effect):"
        )?;
        for (key, source, reason) in &ignored {
            writeln!(out, "  {key} ({source}): {reason}")?;
        }
    }
    writeln!(out)?;
    match &problem {
        None => writeln!(
            out,
            "ok: type {} accepts this configuration",
            config.type_name()
        )?,
        Some(err) => writeln!(out, "error: {err}")?,
    }
    Ok(code)
}

/// Why the connection has its type: the `type` key and where it was set, or the name.
fn type_reason(project: &Project, config: &ConnectionConfig) -> String {
    if let Some(given) = &project.type_name {
        return format!("--type {given}, as the app gives it in code");
    }
    match config.get("type") {
        Some(value) => format!("the `type` key at {}", project.source(value.source())),
        None => format!("its name \"{}\" is a connection type's name", config.name()),
    }
}

/// Collects every leaf of `map` with dotted keys. A value is secret when any part of
/// its key is a secret key name (conn-core's list); other values still pass through
/// the connection's redactor, which removes passwords inside URLs and secret query
/// parameters.
fn flatten(
    project: &Project,
    redactor: &Redactor,
    map: &conn::Map,
    prefix: &str,
    inside_secret: bool,
    entries: &mut Vec<Entry>,
) {
    for (key, value) in map {
        let dotted = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        let secret = inside_secret || is_secret_key(key);
        if let Kind::Table(inner) = value.kind() {
            flatten(project, redactor, inner, &dotted, secret, entries);
            continue;
        }
        entries.push(Entry {
            key: dotted,
            value: shown(redactor, value, secret),
            source: project.source(value.source()),
            secret,
        });
    }
}

/// A value as it may be shown: secrets masked, everything else redacted.
fn shown(redactor: &Redactor, value: &Value, secret: bool) -> serde_json::Value {
    if secret {
        return MASK.into();
    }
    match value.kind() {
        Kind::String(s) | Kind::Datetime(s) => redactor.redact(s).into(),
        Kind::Integer(i) => (*i).into(),
        Kind::Float(f) => serde_json::Number::from_f64(*f)
            .map_or_else(|| f.to_string().into(), serde_json::Value::Number),
        Kind::Boolean(b) => (*b).into(),
        Kind::Array(items) => items
            .iter()
            .map(|item| shown(redactor, item, false))
            .collect(),
        Kind::Table(map) => map
            .iter()
            .map(|(k, v)| (k.clone(), shown(redactor, v, is_secret_key(k))))
            .collect::<serde_json::Map<_, _>>()
            .into(),
        Kind::Unresolved { var } => format!("${{{var}}} (unset)").into(),
        _ => "?".into(),
    }
}

/// A shown value as text: strings quoted, the mask bare.
fn render(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(s) if s == MASK => MASK.to_owned(),
        other => other.to_string(),
    }
}
