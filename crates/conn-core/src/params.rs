//! Statement parameters: positional (`?`, `$1`) and named (`:name`).

use std::fmt::{self, Write as _};

/// One parameter value. `Debug` shows its type, never its value (a parameter may be a
/// password).
#[derive(Clone, PartialEq)]
#[non_exhaustive]
pub enum Param {
    /// SQL `NULL`.
    Null,
    /// A boolean.
    Bool(bool),
    /// A 64-bit signed integer.
    Int(i64),
    /// A 64-bit float.
    Float(f64),
    /// Text.
    Text(String),
    /// Bytes.
    Bytes(Vec<u8>),
}

macro_rules! param_from {
    ($($ty:ty => |$v:ident| $param:expr),* $(,)?) => {
        $(impl From<$ty> for Param {
            fn from($v: $ty) -> Self {
                $param
            }
        })*
    };
}

param_from! {
    bool => |v| Param::Bool(v),
    i8 => |v| Param::Int(i64::from(v)),
    i16 => |v| Param::Int(i64::from(v)),
    i32 => |v| Param::Int(i64::from(v)),
    i64 => |v| Param::Int(v),
    u8 => |v| Param::Int(i64::from(v)),
    u16 => |v| Param::Int(i64::from(v)),
    u32 => |v| Param::Int(i64::from(v)),
    f32 => |v| Param::Float(f64::from(v)),
    f64 => |v| Param::Float(v),
    &str => |v| Param::Text(v.to_owned()),
    String => |v| Param::Text(v),
    &String => |v| Param::Text(v.clone()),
    Vec<u8> => |v| Param::Bytes(v),
    &[u8] => |v| Param::Bytes(v.to_vec()),
}

impl<T: Into<Param>> From<Option<T>> for Param {
    fn from(value: Option<T>) -> Self {
        value.map_or(Param::Null, Into::into)
    }
}

impl Param {
    /// The value's type, for messages: `"null"`, `"bool"`, `"int"`, `"float"`, `"text"`,
    /// `"bytes"`.
    pub fn type_name(&self) -> &'static str {
        match self {
            Param::Null => "null",
            Param::Bool(_) => "bool",
            Param::Int(_) => "int",
            Param::Float(_) => "float",
            Param::Text(_) => "text",
            Param::Bytes(_) => "bytes",
        }
    }

    fn write_canonical(&self, out: &mut String) {
        let _ = match self {
            Param::Null => write!(out, "N"),
            Param::Bool(b) => write!(out, "b{b}"),
            Param::Int(i) => write!(out, "i{i}"),
            Param::Float(f) => write!(out, "f{:x}", f.to_bits()),
            Param::Text(s) => write!(out, "s{}:{s}", s.len()),
            Param::Bytes(b) => {
                let _ = write!(out, "x{}:", b.len());
                b.iter().try_for_each(|byte| write!(out, "{byte:02x}"))
            }
        };
    }
}

impl fmt::Debug for Param {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<{}>", self.type_name())
    }
}

/// The parameters of one statement: positional values, named values, or both. `Debug`
/// shows names and types, never values.
#[derive(Clone, Default, PartialEq)]
pub struct Params {
    positional: Vec<Param>,
    named: Vec<(String, Param)>,
}

impl Params {
    /// No parameters.
    pub fn new() -> Self {
        Params::default()
    }

    /// Appends a positional value.
    pub fn push(&mut self, value: impl Into<Param>) {
        self.positional.push(value.into());
    }

    /// Sets a named value (`:name` in the statement), replacing an earlier one.
    pub fn set(&mut self, name: &str, value: impl Into<Param>) {
        let name = name.trim_start_matches([':', '$', '@']).to_owned();
        let value = value.into();
        match self.named.iter_mut().find(|(n, _)| *n == name) {
            Some(slot) => slot.1 = value,
            None => self.named.push((name, value)),
        }
    }

    /// Positional values, in order.
    pub fn positional(&self) -> &[Param] {
        &self.positional
    }

    /// Named values, in the order they were first set.
    pub fn named(&self) -> &[(String, Param)] {
        &self.named
    }

    /// The named value for `name`.
    pub fn get(&self, name: &str) -> Option<&Param> {
        self.named.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }

    /// Whether there are no parameters.
    pub fn is_empty(&self) -> bool {
        self.positional.is_empty() && self.named.is_empty()
    }

    /// Appends a cache-key form: named values sorted by name, so their order does not
    /// matter; positional values in order, because it does.
    pub fn write_canonical(&self, out: &mut String) {
        for value in &self.positional {
            value.write_canonical(out);
            out.push(',');
        }
        let mut named: Vec<&(String, Param)> = self.named.iter().collect();
        named.sort_by(|a, b| a.0.cmp(&b.0));
        for (name, value) in named {
            let _ = write!(out, ":{}:{name}=", name.len());
            value.write_canonical(out);
            out.push(',');
        }
    }
}

impl fmt::Debug for Params {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut list = f.debug_list();
        list.entries(&self.positional);
        for (name, value) in &self.named {
            list.entry(&format_args!(":{name} {value:?}"));
        }
        list.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(params: &Params) -> String {
        let mut out = String::new();
        params.write_canonical(&mut out);
        out
    }

    #[test]
    fn named_order_does_not_matter_positional_order_does() {
        let mut a = Params::new();
        a.set("x", 1);
        a.set(":y", "two");
        let mut b = Params::new();
        b.set("y", "two");
        b.set("x", 1);
        assert_eq!(key(&a), key(&b));

        let mut p = Params::new();
        p.push(1);
        p.push(2);
        let mut q = Params::new();
        q.push(2);
        q.push(1);
        assert_ne!(key(&p), key(&q));
    }

    #[test]
    fn debug_shows_types_not_values() {
        let mut params = Params::new();
        params.push("hunter2");
        params.push(7);
        params.set("token", "s3cr3t");
        let text = format!("{params:?}");
        assert_eq!(text, "[<text>, <int>, :token <text>]");
    }

    #[test]
    fn types_are_distinguished() {
        let mut a = Params::new();
        a.push(1);
        let mut b = Params::new();
        b.push("1");
        let mut c = Params::new();
        c.push(Option::<i32>::None);
        assert_ne!(key(&a), key(&b));
        assert_eq!(c.positional()[0], Param::Null);
    }
}
