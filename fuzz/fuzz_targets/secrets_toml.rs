//! A secrets file: TOML text, read as taken (Streamlit's way) and with `${VAR}`
//! interpolation.
//!
//! Asserts: parsing never panics; a malformed file's error names the file, line and
//! column; interpolation never fails a load and changes nothing but strings (same
//! keys, same types, same sources); a string without `$` is unchanged; each string is
//! what `interpolate` gives for its raw text; `$${` escapes (escaping every `${` of a
//! text and interpolating gives the text back); `Debug` and `Display` show no value.
#![no_main]

use conn_core::fuzzing::interpolate;
use conn_core::{Env, Kind, Map, Secrets, Source, Value};
use libfuzzer_sys::fuzz_target;

const PATH: &str = "/app/.streamlit/secrets.toml";
/// A marker that only a value holds (see the `Debug` check).
const SENTINEL: &str = "Zx9Q";

fn env() -> Env {
    Env::from_pairs([
        ("USER", "ada"),
        ("EMPTY", ""),
        ("HOST", "db.example.com"),
        ("PASSWORD", "pw-Zx9Q"),
        ("DOLLAR", "${USER}"),
    ])
}

/// Every `${` written as the escape `$${`.
fn escape(text: &str) -> String {
    text.replace("${", "$${")
}

/// The interpolation properties that hold for any text.
fn check_interpolation(raw: &str, env: &Env) {
    let expanded = interpolate(raw, env);
    if !raw.contains('$') {
        assert!(
            expanded == Kind::String(raw.to_owned()),
            "text without $ changed: {raw:?}"
        );
    }
    // Escaping every reference and expanding gives the text back.
    let escaped = escape(raw);
    assert!(
        interpolate(&escaped, env) == Kind::String(raw.to_owned()),
        "escaped text {escaped:?} did not expand to {raw:?}"
    );
    // An unresolved reference names a variable that is unset or empty, without a default.
    if let Kind::Unresolved { var } = &expanded {
        assert!(env.get(var).is_none_or(|v| v.is_empty()), "{var} is set");
        assert!(
            raw.contains(&format!("${{{var}}}")),
            "{var} is not referenced in {raw:?}"
        );
    }
}

fn same_shape(raw: &Value, expanded: &Value, env: &Env, keys: &mut Vec<String>) {
    assert!(
        raw.source() == expanded.source(),
        "interpolation moved a value"
    );
    match (raw.kind(), expanded.kind()) {
        (Kind::String(text), other) => {
            check_interpolation(text, env);
            assert!(
                *other == interpolate(text, env),
                "{text:?} expanded differently"
            );
        }
        (Kind::Array(a), Kind::Array(b)) => {
            assert_eq!(a.len(), b.len());
            for (x, y) in a.iter().zip(b) {
                same_shape(x, y, env, keys);
            }
        }
        (Kind::Table(a), Kind::Table(b)) => same_maps(a, b, env, keys),
        (a, b) => assert!(
            a == b || (is_nan(a) && is_nan(b)),
            "a non-string value changed"
        ),
    }
}

fn is_nan(kind: &Kind) -> bool {
    matches!(kind, Kind::Float(f) if f.is_nan())
}

fn same_maps(a: &Map, b: &Map, env: &Env, keys: &mut Vec<String>) {
    assert!(a.keys().eq(b.keys()), "interpolation changed the keys");
    for (key, value) in a {
        keys.push(key.clone());
        same_shape(value, &b[key], env, keys);
    }
}

/// Every value has a position inside the text.
fn check_sources(map: &Map, lines: usize, strings: &mut Vec<String>) {
    for value in map.values() {
        check_value(value, lines, strings);
    }
}

fn check_value(value: &Value, lines: usize, strings: &mut Vec<String>) {
    match value.source() {
        Source::File { path, line, column } => {
            assert_eq!(path.to_str(), Some(PATH));
            assert!(
                *line >= 1 && (*line as usize) <= lines,
                "line {line} of {lines}"
            );
            assert!(*column >= 1);
        }
        other => panic!("a value from a file has source {other:?}"),
    }
    match value.kind() {
        Kind::String(s) => strings.push(s.clone()),
        Kind::Array(items) => items.iter().for_each(|v| check_value(v, lines, strings)),
        Kind::Table(map) => check_sources(map, lines, strings),
        _ => {}
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let env = env();
    check_interpolation(text, &env);
    let raw = Secrets::from_toml_str(text, PATH, None);
    let expanded = Secrets::from_toml_str(text, PATH, Some(&env));
    match (raw, expanded) {
        (Ok(raw), Ok(expanded)) => {
            let mut keys = Vec::new();
            same_maps(raw.root(), expanded.root(), &env, &mut keys);
            let mut strings = Vec::new();
            check_sources(raw.root(), text.lines().count().max(1), &mut strings);
            // Debug and Display name keys and places, never values.
            if !keys.iter().any(|k| k.contains(SENTINEL)) {
                for shown in [format!("{raw:?}"), raw.to_string(), format!("{expanded:?}")] {
                    assert!(!shown.contains(SENTINEL), "a value is shown: {shown}");
                }
            }
        }
        (Err(a), Err(b)) => {
            let message = a.to_string();
            assert_eq!(
                message,
                b.to_string(),
                "interpolation changed the parse error"
            );
            assert!(
                message.contains(PATH),
                "the error does not name the file: {message}"
            );
            assert!(
                message.contains("(at line ") && message.contains(", column "),
                "the error has no line and column: {message}"
            );
        }
        (a, b) => panic!(
            "interpolation changed whether the file loads: {:?} / {:?}",
            a.err().map(|e| e.to_string()),
            b.err().map(|e| e.to_string())
        ),
    }
});
