//! Statement parameters as Snowflake `bindings`: positional only (`?` or `:1` in the
//! text), each a `{type, value}` with the value as text, the way the drivers send them.

use std::fmt::Write as _;

use conn_core::{Error, Param, Params, Result};
use serde_json::{Map, Value, json};

/// The `bindings` of a query request (`None` without parameters).
///
/// Named parameters are refused: Snowflake reads `:name` as a path into a VARIANT
/// (`payload:name`), so conn cannot tell a parameter from a path; write `?` or `:1`
/// and bind in order.
pub(crate) fn bindings(params: &Params) -> Result<Option<Value>> {
    if let Some((name, _)) = params.named().first() {
        return Err(Error::InvalidArgument(format!(
            "snowflake statements take positional parameters only (`?` or `:1` in the text, \
             set in order with .bind(...)); the named parameter \"{name}\" cannot be told apart \
             from Snowflake's `column:path` syntax"
        )));
    }
    if params.positional().is_empty() {
        return Ok(None);
    }
    let mut out = Map::new();
    for (index, param) in params.positional().iter().enumerate() {
        let (kind, value) = one(param).ok_or_else(|| {
            Error::InvalidArgument(format!(
                "parameter {} is a {}, which conn cannot send to Snowflake",
                index + 1,
                param.type_name()
            ))
        })?;
        out.insert(
            (index + 1).to_string(),
            json!({ "type": kind, "value": value }),
        );
    }
    Ok(Some(Value::Object(out)))
}

/// One value's Snowflake bind type and text (`None` for a kind of value a later
/// conn-core adds, which must fail rather than become NULL).
pub(crate) fn one(param: &Param) -> Option<(&'static str, Value)> {
    Some(match param {
        Param::Bool(b) => ("BOOLEAN", Value::String(b.to_string())),
        Param::Int(i) => ("FIXED", Value::String(i.to_string())),
        Param::Float(f) => ("REAL", Value::String(float_text(*f))),
        Param::Text(s) => ("TEXT", Value::String(s.clone())),
        Param::Bytes(b) => ("BINARY", Value::String(hex(b))),
        // Typed by the server from its use.
        Param::Null => ("TEXT", Value::Null),
        _ => return None,
    })
}

/// A float as Snowflake reads it: the shortest text that reads back the same, and
/// `NaN`, `inf`, `-inf`.
pub(crate) fn float_text(f: f64) -> String {
    if f.is_nan() {
        "NaN".into()
    } else if f.is_infinite() {
        if f > 0.0 { "inf".into() } else { "-inf".into() }
    } else {
        format!("{f:?}")
    }
}

/// Bytes as upper-case hex, Snowflake's BINARY text format.
pub(crate) fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        let _ = write!(out, "{byte:02X}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positional_values_become_typed_text() {
        let mut params = Params::new();
        params.push(42_i64);
        params.push(-0.1_f64);
        params.push("it's");
        params.push(true);
        params.push(vec![0_u8, 171, 255]);
        params.push(Option::<i64>::None);
        params.push(f64::NAN);
        params.push(i64::MIN);
        let bound = bindings(&params).unwrap().unwrap();
        assert_eq!(bound["1"], json!({"type": "FIXED", "value": "42"}));
        assert_eq!(bound["2"], json!({"type": "REAL", "value": "-0.1"}));
        assert_eq!(bound["3"], json!({"type": "TEXT", "value": "it's"}));
        assert_eq!(bound["4"], json!({"type": "BOOLEAN", "value": "true"}));
        assert_eq!(bound["5"], json!({"type": "BINARY", "value": "00ABFF"}));
        assert_eq!(bound["6"], json!({"type": "TEXT", "value": null}));
        assert_eq!(bound["7"], json!({"type": "REAL", "value": "NaN"}));
        assert_eq!(
            bound["8"],
            json!({"type": "FIXED", "value": "-9223372036854775808"})
        );
    }

    #[test]
    fn floats_keep_every_digit() {
        for f in [0.1, 1e-300, 1.7976931348623157e308, 5e-324, -2.5] {
            assert_eq!(float_text(f).parse::<f64>().unwrap(), f);
        }
        assert_eq!(float_text(f64::INFINITY), "inf");
        assert_eq!(float_text(f64::NEG_INFINITY), "-inf");
    }

    #[test]
    fn named_parameters_are_refused_with_the_reason() {
        let mut params = Params::new();
        params.set("owner", "Ada");
        let err = bindings(&params).unwrap_err().to_string();
        assert!(err.contains("named parameter \"owner\""), "{err}");
        assert!(err.contains("`?` or `:1`"), "{err}");
    }

    #[test]
    fn no_parameters_no_bindings() {
        assert!(bindings(&Params::new()).unwrap().is_none());
    }
}
