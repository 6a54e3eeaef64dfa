//! A serde `Deserializer` over [`Value`], lenient the way configuration should be.
//!
//! Environment variables are always strings, and Streamlit users write `port = "5432"`,
//! so a string is accepted wherever a number or a boolean is expected, and a number or a
//! boolean wherever a string is expected. The error type carries no value content,
//! only what was expected and the type that was found, so no secret can reach it.

use std::fmt;

use serde::de::{self, DeserializeSeed, IntoDeserializer, MapAccess, SeqAccess, Visitor};

use super::{Kind, Value};

/// An error from deserializing a [`Value`]. Its message never contains the value itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeError(pub(crate) String);

impl fmt::Display for DeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for DeError {}

impl de::Error for DeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        DeError(msg.to_string())
    }

    // serde's default texts quote the offending value (`invalid value: string "hunter2"`);
    // these replace the value by its type.
    fn invalid_type(unexp: de::Unexpected<'_>, exp: &dyn de::Expected) -> Self {
        DeError(format!("expected {exp}, found {}", unexpected_kind(&unexp)))
    }

    fn invalid_value(unexp: de::Unexpected<'_>, exp: &dyn de::Expected) -> Self {
        DeError(format!(
            "invalid {}: expected {exp}",
            unexpected_kind(&unexp)
        ))
    }

    // serde's default text quotes the value (`unknown variant `hunter2``), and a
    // misplaced secret may be it.
    fn unknown_variant(_variant: &str, expected: &'static [&'static str]) -> Self {
        DeError(if expected.is_empty() {
            "a value that is not allowed here".to_owned()
        } else {
            format!("a value that is not one of: {}", expected.join(", "))
        })
    }

    fn invalid_length(len: usize, exp: &dyn de::Expected) -> Self {
        DeError(format!("{len} items, expected {exp}"))
    }
}

fn unexpected_kind(unexp: &de::Unexpected<'_>) -> &'static str {
    use de::Unexpected as U;
    match unexp {
        U::Bool(_) => "boolean",
        U::Unsigned(_) | U::Signed(_) => "integer",
        U::Float(_) => "float",
        U::Char(_) | U::Str(_) => "string",
        U::Bytes(_) => "bytes",
        U::Unit => "nothing",
        U::Option => "optional value",
        U::NewtypeStruct | U::NewtypeVariant => "newtype",
        U::Seq => "array",
        U::Map => "table",
        U::Enum | U::UnitVariant | U::TupleVariant | U::StructVariant => "enum",
        U::Other(_) => "value",
    }
}

fn unresolved(var: &str) -> DeError {
    DeError(format!(
        "environment variable {var} is not set (the value refers to it as ${{{var}}}); \
         set it, or give a default with ${{{var}:-default}}"
    ))
}

fn parse_bool(text: &str) -> Option<bool> {
    match text.trim().to_ascii_lowercase().as_str() {
        "true" | "yes" | "on" | "1" => Some(true),
        "false" | "no" | "off" | "0" => Some(false),
        _ => None,
    }
}

macro_rules! deserialize_number {
    ($($method:ident => $visit:ident : $ty:ty, $what:literal),* $(,)?) => {
        $(fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
            match &self.kind() {
                Kind::String(s) => match s.trim().parse::<$ty>() {
                    Ok(n) => visitor.$visit(n),
                    Err(_) => Err(DeError(concat!(
                        "expected ", $what, ", found a string that is not one"
                    ).into())),
                },
                _ => self.deserialize_any(visitor),
            }
        })*
    };
}

impl<'de> de::Deserializer<'de> for &'de Value {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.kind() {
            Kind::String(s) => visitor.visit_borrowed_str(s),
            Kind::Datetime(s) => visitor.visit_borrowed_str(s),
            Kind::Integer(i) => visitor.visit_i64(*i),
            Kind::Float(f) => visitor.visit_f64(*f),
            Kind::Boolean(b) => visitor.visit_bool(*b),
            Kind::Array(items) => visitor.visit_seq(Seq {
                items: items.iter(),
            }),
            Kind::Table(map) => visitor.visit_map(Table {
                entries: map.iter(),
                pending: None,
            }),
            Kind::Unresolved { var } => Err(unresolved(var)),
        }
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.kind() {
            Kind::String(s) => match parse_bool(s) {
                Some(b) => visitor.visit_bool(b),
                None => Err(DeError(
                    "expected a boolean (true or false), found a string that is not one".into(),
                )),
            },
            Kind::Integer(0) => visitor.visit_bool(false),
            Kind::Integer(1) => visitor.visit_bool(true),
            _ => self.deserialize_any(visitor),
        }
    }

    deserialize_number! {
        deserialize_i8 => visit_i64: i64, "an integer",
        deserialize_i16 => visit_i64: i64, "an integer",
        deserialize_i32 => visit_i64: i64, "an integer",
        deserialize_i64 => visit_i64: i64, "an integer",
        deserialize_u8 => visit_u64: u64, "a non-negative integer",
        deserialize_u16 => visit_u64: u64, "a non-negative integer",
        deserialize_u32 => visit_u64: u64, "a non-negative integer",
        deserialize_u64 => visit_u64: u64, "a non-negative integer",
    }

    fn deserialize_f32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_f64(visitor)
    }

    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.kind() {
            Kind::String(s) => match s.trim().parse::<f64>() {
                Ok(f) => visitor.visit_f64(f),
                Err(_) => Err(DeError(
                    "expected a number, found a string that is not one".into(),
                )),
            },
            #[allow(clippy::cast_precision_loss)]
            Kind::Integer(i) => visitor.visit_f64(*i as f64),
            _ => self.deserialize_any(visitor),
        }
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.kind() {
            Kind::Integer(i) => visitor.visit_string(i.to_string()),
            Kind::Float(f) => visitor.visit_string(f.to_string()),
            Kind::Boolean(b) => visitor.visit_string(b.to_string()),
            _ => self.deserialize_any(visitor),
        }
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_char<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        // TOML has no null: a present key is always `Some`.
        visitor.visit_some(self)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        match self.kind() {
            Kind::String(s) => visitor.visit_enum(s.as_str().into_deserializer()),
            Kind::Table(map) if map.len() == 1 => {
                let (variant, value) = map.iter().next().ok_or_else(|| {
                    DeError("expected a table with exactly one key naming the variant".into())
                })?;
                visitor.visit_enum(EnumTable { variant, value })
            }
            _ => Err(DeError(format!(
                "expected a string naming a variant, found {}",
                self.type_name()
            ))),
        }
    }

    serde::forward_to_deserialize_any! {
        bytes byte_buf unit unit_struct seq tuple tuple_struct map struct identifier ignored_any
        i128 u128
    }
}

struct Seq<'de> {
    items: std::slice::Iter<'de, Value>,
}

impl<'de> SeqAccess<'de> for Seq<'de> {
    type Error = DeError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, DeError> {
        self.items
            .next()
            .map(|item| seed.deserialize(item))
            .transpose()
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.items.len())
    }
}

struct Table<'de> {
    entries: std::collections::btree_map::Iter<'de, String, Value>,
    pending: Option<&'de Value>,
}

impl<'de> MapAccess<'de> for Table<'de> {
    type Error = DeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DeError> {
        match self.entries.next() {
            Some((key, value)) => {
                self.pending = Some(value);
                seed.deserialize(key.as_str().into_deserializer()).map(Some)
            }
            None => Ok(None),
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, DeError> {
        match self.pending.take() {
            Some(value) => seed.deserialize(value),
            None => Err(DeError("a table value was read before its key".into())),
        }
    }
}

struct EnumTable<'de> {
    variant: &'de str,
    value: &'de Value,
}

impl<'de> de::EnumAccess<'de> for EnumTable<'de> {
    type Error = DeError;
    type Variant = &'de Value;

    fn variant_seed<V: DeserializeSeed<'de>>(
        self,
        seed: V,
    ) -> Result<(V::Value, Self::Variant), DeError> {
        let variant = seed.deserialize(self.variant.into_deserializer())?;
        Ok((variant, self.value))
    }
}

impl<'de> de::VariantAccess<'de> for &'de Value {
    type Error = DeError;

    fn unit_variant(self) -> Result<(), DeError> {
        Ok(())
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, DeError> {
        seed.deserialize(self)
    }

    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, visitor: V) -> Result<V::Value, DeError> {
        de::Deserializer::deserialize_seq(self, visitor)
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        de::Deserializer::deserialize_map(self, visitor)
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;
    use crate::value::Source;

    #[derive(Debug, Deserialize, PartialEq)]
    struct Sample {
        port: u16,
        ssl: bool,
        name: String,
        ratio: f64,
        tags: Option<Vec<String>>,
    }

    fn string(s: &str) -> Value {
        Value::new(Kind::String(s.into()), Source::env("X"))
    }

    #[test]
    fn strings_coerce_to_numbers_and_booleans() {
        let mut map = crate::Map::new();
        map.insert("port".into(), string("5432"));
        map.insert("ssl".into(), string("true"));
        map.insert("name".into(), Value::from(42));
        map.insert("ratio".into(), Value::from(2));
        let value = Value::from(map);
        let sample = Sample::deserialize(&value).unwrap();
        assert_eq!(
            sample,
            Sample {
                port: 5432,
                ssl: true,
                name: "42".into(),
                ratio: 2.0,
                tags: None
            }
        );
    }

    #[test]
    fn an_unknown_variant_is_not_echoed() {
        #[derive(Debug, Deserialize)]
        #[serde(rename_all = "lowercase")]
        #[allow(dead_code)]
        enum Mode {
            Require,
            Disable,
        }
        #[derive(Debug, Deserialize)]
        #[allow(dead_code)]
        struct Ssl {
            mode: Mode,
        }
        let value = Value::from([("mode", "hunter2")]);
        let err = Ssl::deserialize(&value).unwrap_err().to_string();
        assert_eq!(err, "a value that is not one of: require, disable");
    }

    #[test]
    fn errors_name_the_type_not_the_value() {
        let value = Value::from([("port", "hunter2")]);
        #[derive(Debug, Deserialize)]
        #[allow(dead_code)]
        struct Port {
            port: u16,
        }
        let err = Port::deserialize(&value).unwrap_err().to_string();
        assert!(!err.contains("hunter2"), "{err}");
        assert_eq!(
            err,
            "expected a non-negative integer, found a string that is not one"
        );

        let value = Value::from([("port", true)]);
        let err = Port::deserialize(&value).unwrap_err().to_string();
        assert_eq!(err, "expected u16, found boolean");
    }
}
