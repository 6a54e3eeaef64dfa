//! Configuration values that remember where they came from: the leaf layer every
//! other module builds on (it depends on nothing else in the crate).
//!
//! [`Value`] and [`Kind`] hold a value and its [`Source`]; [`Env`] is the environment
//! they are resolved against; the `Deserializer` in `de` turns them into typed settings
//! with errors that never echo a value.

mod de;
mod env;
mod path;
mod source;

use std::collections::BTreeMap;
use std::fmt::{self, Write as _};

pub use de::DeError;
pub use env::Env;
pub(crate) use path::{PathError, deserialize_value};
pub use source::Source;

/// A table of configuration values, sorted by key.
pub type Map = BTreeMap<String, Value>;

/// One configuration value (a TOML value, an environment variable, an option given in
/// code) together with its [`Source`].
///
/// `Debug` never prints the content of a value, only its type and source: any value may
/// be a password, and `Debug` output ends up in logs.
#[derive(Clone, PartialEq)]
pub struct Value {
    kind: Kind,
    source: Source,
}

/// The content of a [`Value`].
#[derive(Clone, PartialEq)]
#[non_exhaustive]
pub enum Kind {
    /// A string.
    String(String),
    /// A 64-bit signed integer.
    Integer(i64),
    /// A 64-bit float.
    Float(f64),
    /// A boolean.
    Boolean(bool),
    /// A TOML date, time or date-time, kept in its RFC 3339 text form.
    Datetime(String),
    /// An array.
    Array(Vec<Value>),
    /// A table.
    Table(Map),
    /// A string whose `${VAR}` reference could not be resolved when the secrets were
    /// loaded. Reading it is an error that names the variable; leaving it unread is fine,
    /// so one unset variable does not break unrelated connections.
    Unresolved {
        /// The environment variable that was not set.
        var: String,
    },
}

impl Value {
    /// A value with an explicit source.
    pub fn new(kind: Kind, source: Source) -> Self {
        Value { kind, source }
    }

    /// What the value holds.
    pub fn kind(&self) -> &Kind {
        &self.kind
    }

    /// The content, for building tables in place.
    pub(crate) fn kind_mut(&mut self) -> &mut Kind {
        &mut self.kind
    }

    /// Where the value came from.
    pub fn source(&self) -> &Source {
        &self.source
    }

    /// The same value with another source, applied to every nested value too.
    pub fn with_source(mut self, source: &Source) -> Self {
        self.set_source(source);
        self
    }

    fn set_source(&mut self, source: &Source) {
        self.source = source.clone();
        match &mut self.kind {
            Kind::Array(items) => items.iter_mut().for_each(|v| v.set_source(source)),
            Kind::Table(map) => map.values_mut().for_each(|v| v.set_source(source)),
            _ => {}
        }
    }

    /// The name of the value's type, for messages: "string", "integer", "table", ...
    pub fn type_name(&self) -> &'static str {
        match self.kind {
            Kind::String(_) | Kind::Unresolved { .. } => "string",
            Kind::Integer(_) => "integer",
            Kind::Float(_) => "float",
            Kind::Boolean(_) => "boolean",
            Kind::Datetime(_) => "datetime",
            Kind::Array(_) => "array",
            Kind::Table(_) => "table",
        }
    }

    /// The string, if this is a string.
    pub fn as_str(&self) -> Option<&str> {
        match &self.kind {
            Kind::String(s) => Some(s),
            _ => None,
        }
    }

    /// The integer, if this is an integer.
    pub fn as_integer(&self) -> Option<i64> {
        match self.kind {
            Kind::Integer(i) => Some(i),
            _ => None,
        }
    }

    /// The boolean, if this is a boolean.
    pub fn as_bool(&self) -> Option<bool> {
        match self.kind {
            Kind::Boolean(b) => Some(b),
            _ => None,
        }
    }

    /// The table, if this is a table.
    pub fn as_table(&self) -> Option<&Map> {
        match &self.kind {
            Kind::Table(map) => Some(map),
            _ => None,
        }
    }

    /// The nested value at a dotted path (`"connections.pets_db.url"`).
    pub fn get_path(&self, dotted: &str) -> Option<&Value> {
        dotted
            .split('.')
            .try_fold(self, |value, key| value.as_table()?.get(key))
    }

    /// A stable text form used as a cache key: keys sorted, types tagged, so that
    /// `{p = 1, q = 2}` and `{q = 2, p = 1}` give the same key and `1` and `"1"` do not.
    pub fn canonical_key(&self) -> String {
        let mut out = String::new();
        self.write_canonical(&mut out);
        out
    }

    pub(crate) fn write_canonical(&self, out: &mut String) {
        match &self.kind {
            Kind::String(s) => {
                out.push('s');
                out.push_str(&serde_json::Value::from(s.as_str()).to_string());
            }
            Kind::Integer(i) => {
                let _ = write!(out, "i{i}");
            }
            Kind::Float(f) => {
                let _ = write!(out, "f{:x}", f.to_bits());
            }
            Kind::Boolean(b) => out.push_str(if *b { "T" } else { "F" }),
            Kind::Datetime(d) => {
                let _ = write!(out, "d{d:?}");
            }
            Kind::Unresolved { var } => {
                let _ = write!(out, "u{var:?}");
            }
            Kind::Array(items) => {
                out.push('[');
                for item in items {
                    item.write_canonical(out);
                    out.push(',');
                }
                out.push(']');
            }
            Kind::Table(map) => write_canonical_map(map, out),
        }
    }

    /// Converts to a plain JSON value (datetimes become strings, unresolved references
    /// become `null`). This exposes every secret in the value: use it to hand a section
    /// to a driver, never to print.
    pub fn to_json(&self) -> serde_json::Value {
        match &self.kind {
            Kind::String(s) | Kind::Datetime(s) => serde_json::Value::String(s.clone()),
            Kind::Integer(i) => (*i).into(),
            Kind::Float(f) => serde_json::Number::from_f64(*f)
                .map_or(serde_json::Value::Null, serde_json::Value::Number),
            Kind::Boolean(b) => (*b).into(),
            Kind::Unresolved { .. } => serde_json::Value::Null,
            Kind::Array(items) => items.iter().map(Value::to_json).collect(),
            Kind::Table(map) => map_to_json(map),
        }
    }
}

/// Writes a map's canonical cache-key form (see [`Value::canonical_key`]).
pub(crate) fn write_canonical_map(map: &Map, out: &mut String) {
    out.push('{');
    for (key, value) in map {
        out.push_str(&serde_json::Value::from(key.as_str()).to_string());
        out.push(':');
        value.write_canonical(out);
        out.push(',');
    }
    out.push('}');
}

/// A map as plain JSON. See [`Value::to_json`]: this exposes secrets.
pub fn map_to_json(map: &Map) -> serde_json::Value {
    serde_json::Value::Object(map.iter().map(|(k, v)| (k.clone(), v.to_json())).collect())
}

/// Deep-merges `higher` over `lower`: tables merge key by key, anything else in `higher`
/// replaces what `lower` had.
pub fn merge_over(lower: &mut Map, higher: Map) {
    for (key, value) in higher {
        match (lower.get_mut(&key), value) {
            (
                Some(Value {
                    kind: Kind::Table(below),
                    ..
                }),
                Value {
                    kind: Kind::Table(above),
                    ..
                },
            ) => merge_over(below, above),
            (_, value) => {
                lower.insert(key, value);
            }
        }
    }
}

impl fmt::Debug for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Kind::Table(map) => f.debug_map().entries(map.iter()).finish(),
            Kind::Array(items) => f.debug_list().entries(items.iter()).finish(),
            Kind::Unresolved { var } => write!(f, "Unresolved(${{{var}}})"),
            _ => f.write_str("<redacted>"),
        }
    }
}

impl fmt::Debug for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Kind::Table(map) => f.debug_map().entries(map.iter()).finish(),
            Kind::Array(items) => f.debug_list().entries(items.iter()).finish(),
            _ => write!(f, "<{} redacted, from {}>", self.type_name(), self.source),
        }
    }
}

macro_rules! value_from {
    ($($ty:ty => |$v:ident| $kind:expr),* $(,)?) => {
        $(impl From<$ty> for Value {
            fn from($v: $ty) -> Self {
                Value::new($kind, Source::Code)
            }
        })*
    };
}

value_from! {
    &str => |v| Kind::String(v.to_owned()),
    String => |v| Kind::String(v),
    &String => |v| Kind::String(v.clone()),
    bool => |v| Kind::Boolean(v),
    i32 => |v| Kind::Integer(i64::from(v)),
    i64 => |v| Kind::Integer(v),
    u16 => |v| Kind::Integer(i64::from(v)),
    u32 => |v| Kind::Integer(i64::from(v)),
    f64 => |v| Kind::Float(v),
    Map => |v| Kind::Table(v),
}

impl From<usize> for Value {
    fn from(v: usize) -> Self {
        match i64::try_from(v) {
            Ok(i) => Value::new(Kind::Integer(i), Source::Code),
            // Only reachable above i64::MAX; keep the exact digits rather than wrap.
            Err(_) => Value::new(Kind::String(v.to_string()), Source::Code),
        }
    }
}

impl<T: Into<Value>> From<Vec<T>> for Value {
    fn from(items: Vec<T>) -> Self {
        Value::new(
            Kind::Array(items.into_iter().map(Into::into).collect()),
            Source::Code,
        )
    }
}

impl<K: Into<String>, V: Into<Value>, const N: usize> From<[(K, V); N]> for Value {
    fn from(pairs: [(K, V); N]) -> Self {
        Value::new(
            Kind::Table(
                pairs
                    .into_iter()
                    .map(|(k, v)| (k.into(), v.into()))
                    .collect(),
            ),
            Source::Code,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_content() {
        let value = Value::from([("password", "hunter2"), ("user", "AzureDiamond")]);
        let text = format!("{value:?}");
        assert!(!text.contains("hunter2"), "{text}");
        assert!(!text.contains("AzureDiamond"), "{text}");
        assert!(text.contains("password"), "{text}");
    }

    #[test]
    fn canonical_key_is_order_independent_and_typed() {
        let a = Value::from([("p", 1), ("q", 2)]);
        let b = Value::from([("q", 2), ("p", 1)]);
        assert_eq!(a.canonical_key(), b.canonical_key());
        assert_ne!(
            Value::from(1).canonical_key(),
            Value::from("1").canonical_key()
        );
    }

    #[test]
    fn merge_is_deep_for_tables() {
        let mut lower = Map::new();
        lower.insert("a".into(), Value::from([("x", 1), ("y", 2)]));
        lower.insert("b".into(), Value::from("keep"));
        let mut higher = Map::new();
        higher.insert("a".into(), Value::from([("y", 3)]));
        merge_over(&mut lower, higher);
        let a = lower["a"].as_table().unwrap();
        assert_eq!(a["x"].as_integer(), Some(1));
        assert_eq!(a["y"].as_integer(), Some(3));
        assert_eq!(lower["b"].as_str(), Some("keep"));
    }
}
