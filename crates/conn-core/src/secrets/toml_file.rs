//! Parsing a TOML secrets file into [`Value`]s that know their file, line and column.

use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::SecretsError;
use super::interpolate::interpolate;
use crate::value::{Env, Kind, Map, Source, Value};

/// Byte offsets of line starts, to turn a span into a line and column.
struct Lines<'a> {
    text: &'a str,
    starts: Vec<usize>,
}

impl<'a> Lines<'a> {
    fn new(text: &'a str) -> Self {
        let starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        Lines { text, starts }
    }

    /// 1-based line and column (in characters) of a byte offset.
    fn locate(&self, offset: usize) -> (u32, u32) {
        let offset = offset.min(self.text.len());
        let line = self.starts.partition_point(|&start| start <= offset).max(1);
        let start = self.starts[line - 1];
        let column = self
            .text
            .get(start..offset)
            .map_or(0, |prefix| prefix.chars().count());
        (to_u32(line), to_u32(column + 1))
    }
}

fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// Parses `text`, read from `path`, expanding `${VAR}` references against `env` when
/// interpolation is on (`Some`).
pub(crate) fn parse(text: &str, path: &Path, env: Option<&Env>) -> Result<Map, SecretsError> {
    let lines = Lines::new(text);
    let path: Arc<Path> = Arc::from(path);
    let document = DeTable::parse(text).map_err(|err| {
        let (line, column) = lines.locate(err.span().map_or(0, |span| span.start));
        SecretsError::Parse {
            path: path.to_path_buf(),
            line,
            column,
            message: err.message().trim().to_owned(),
        }
    })?;
    let converter = Converter {
        lines: &lines,
        path: &path,
        env,
    };
    converter.table(document.get_ref())
}

struct Converter<'a> {
    lines: &'a Lines<'a>,
    path: &'a Arc<Path>,
    env: Option<&'a Env>,
}

impl Converter<'_> {
    fn source(&self, span: Range<usize>) -> Source {
        let (line, column) = self.lines.locate(span.start);
        Source::File {
            path: Arc::clone(self.path),
            line,
            column,
        }
    }

    fn table(&self, table: &DeTable<'_>) -> Result<Map, SecretsError> {
        table
            .iter()
            .map(|(key, value)| Ok((key.get_ref().to_string(), self.value(value)?)))
            .collect()
    }

    fn value(&self, spanned: &Spanned<DeValue<'_>>) -> Result<Value, SecretsError> {
        let source = self.source(spanned.span());
        let kind = match spanned.get_ref() {
            DeValue::String(s) => match self.env {
                Some(env) => interpolate(s, env),
                None => Kind::String(s.to_string()),
            },
            DeValue::Integer(i) => Kind::Integer(self.integer(i.as_str(), i.radix(), &source)?),
            DeValue::Float(f) => Kind::Float(self.float(f.as_str(), &source)?),
            DeValue::Boolean(b) => Kind::Boolean(*b),
            DeValue::Datetime(d) => Kind::Datetime(d.to_string()),
            DeValue::Array(items) => Kind::Array(
                items
                    .iter()
                    .map(|item| self.value(item))
                    .collect::<Result<_, _>>()?,
            ),
            DeValue::Table(table) => Kind::Table(self.table(table)?),
        };
        Ok(Value::new(kind, source))
    }

    fn integer(&self, text: &str, radix: u32, source: &Source) -> Result<i64, SecretsError> {
        let digits: String = text.chars().filter(|c| *c != '_').collect();
        let (negative, digits) = match digits.strip_prefix('-') {
            Some(rest) => (true, rest.to_owned()),
            None => (false, digits.trim_start_matches('+').to_owned()),
        };
        let digits = match radix {
            16 => digits.trim_start_matches("0x"),
            8 => digits.trim_start_matches("0o"),
            2 => digits.trim_start_matches("0b"),
            _ => digits.as_str(),
        };
        let magnitude = i128::from_str_radix(digits, radix).ok();
        magnitude
            .map(|m| if negative { -m } else { m })
            .and_then(|n| i64::try_from(n).ok())
            .ok_or_else(|| self.bad_number("integer does not fit in 64 bits", source))
    }

    fn float(&self, text: &str, source: &Source) -> Result<f64, SecretsError> {
        let cleaned: String = text.chars().filter(|c| *c != '_').collect();
        match cleaned.as_str() {
            "inf" | "+inf" => Ok(f64::INFINITY),
            "-inf" => Ok(f64::NEG_INFINITY),
            "nan" | "+nan" | "-nan" => Ok(f64::NAN),
            other => other
                .parse()
                .map_err(|_| self.bad_number("invalid float", source)),
        }
    }

    fn bad_number(&self, message: &str, source: &Source) -> SecretsError {
        let (line, column) = match source {
            Source::File { line, column, .. } => (*line, *column),
            _ => (0, 0),
        };
        SecretsError::Parse {
            path: self.path.to_path_buf(),
            line,
            column,
            message: message.to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(text: &str) -> Result<Map, SecretsError> {
        parse(text, Path::new("/app/.streamlit/secrets.toml"), None)
    }

    #[test]
    fn values_know_their_line_and_column() {
        let map =
            parse_str("top = 1\n\n[connections.pets_db]\nurl = \"sqlite:///pets.db\"\n").unwrap();
        let url = map["connections"].get_path("pets_db.url").unwrap();
        assert_eq!(url.as_str(), Some("sqlite:///pets.db"));
        assert_eq!(url.source().to_string(), "/app/.streamlit/secrets.toml:4:7");
        assert_eq!(map["top"].as_integer(), Some(1));
    }

    #[test]
    fn numbers_in_every_toml_form() {
        let map =
            parse_str("a = 0xff\nb = -1_000\nc = 0o17\nd = 1e3\ne = -inf\nf = 0b101").unwrap();
        assert_eq!(map["a"].as_integer(), Some(255));
        assert_eq!(map["b"].as_integer(), Some(-1000));
        assert_eq!(map["c"].as_integer(), Some(15));
        assert!(matches!(map["d"].kind(), Kind::Float(f) if *f == 1000.0));
        assert!(matches!(map["e"].kind(), Kind::Float(f) if *f == f64::NEG_INFINITY));
        assert_eq!(map["f"].as_integer(), Some(5));
    }

    #[test]
    fn malformed_toml_gives_file_line_and_column() {
        let err = parse_str("[connections.db]\nurl = \"x\"\nport 5432\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "Error parsing secrets file at /app/.streamlit/secrets.toml: \
             key with no value, expected `=` (at line 3, column 6)"
        );
    }
}
