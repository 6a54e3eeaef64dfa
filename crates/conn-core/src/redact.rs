//! Removing secrets from driver messages before they become errors or log lines.

use std::fmt;

use crate::value::{Kind, Map, Value};

/// Key names whose values are secrets, matched case-insensitively as substrings.
const SECRET_KEY_PARTS: &[&str] = &[
    "password",
    "passwd",
    "pwd",
    "secret",
    "token",
    "key",
    "credential",
    "passphrase",
    "sas",
    "signature",
];

/// Whether a key name denotes a secret (`password`, `aws_secret_access_key`, `token`, ...).
pub fn is_secret_key(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    SECRET_KEY_PARTS.iter().any(|part| key.contains(part))
}

/// Replaces known secret strings with `***`.
///
/// Built from a connection's configuration: the values of secret-looking keys, and
/// the password part of every URL-looking value, each also in its percent-encoded
/// form (the way it appears inside a URL). `Debug` shows only how many secrets it holds.
#[derive(Clone, Default)]
pub struct Redactor {
    secrets: Vec<String>,
}

impl Redactor {
    /// Collects the secrets of a configuration table.
    pub fn from_map(map: &Map) -> Self {
        let mut redactor = Redactor::default();
        redactor.collect(map, false);
        redactor.finish()
    }

    /// Adds one secret string.
    #[must_use]
    pub fn with_secret(mut self, secret: &str) -> Self {
        self.push(secret);
        self.finish()
    }

    fn finish(mut self) -> Self {
        // Longest first, so that a secret containing another is replaced whole.
        self.secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        self.secrets.dedup();
        self
    }

    fn push(&mut self, secret: &str) {
        if secret.is_empty() {
            return;
        }
        self.secrets.push(secret.to_owned());
        let encoded =
            percent_encoding::utf8_percent_encode(secret, percent_encoding::NON_ALPHANUMERIC)
                .to_string();
        if encoded != secret {
            self.secrets.push(encoded);
        }
    }

    fn collect(&mut self, map: &Map, inside_secret: bool) {
        for (key, value) in map {
            self.collect_value(value, inside_secret || is_secret_key(key));
        }
    }

    fn collect_value(&mut self, value: &Value, secret: bool) {
        match value.kind() {
            Kind::String(s) => {
                if secret {
                    self.push(s);
                }
                if let Some(password) = url_password(s) {
                    self.push(&password);
                }
            }
            Kind::Integer(i) if secret => self.push(&i.to_string()),
            Kind::Array(items) => items.iter().for_each(|v| self.collect_value(v, secret)),
            Kind::Table(inner) => self.collect(inner, secret),
            _ => {}
        }
    }

    /// `text` with every known secret replaced by `***`.
    pub fn redact(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for secret in &self.secrets {
            if out.contains(secret.as_str()) {
                out = out.replace(secret.as_str(), "***");
            }
        }
        out
    }
}

/// The password of a `scheme://user:password@host` string, percent-decoded.
fn url_password(text: &str) -> Option<String> {
    let (_, rest) = text.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    let (userinfo, _) = authority.rsplit_once('@')?;
    let (_, password) = userinfo.split_once(':')?;
    let decoded = percent_encoding::percent_decode_str(password)
        .decode_utf8_lossy()
        .into_owned();
    Some(decoded)
}

impl fmt::Debug for Redactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Redactor({} secrets)", self.secrets.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removes_passwords_tokens_and_url_passwords() {
        let mut map = Map::new();
        map.insert("password".into(), Value::from("hunter2"));
        map.insert("host".into(), Value::from("db.example.com"));
        map.insert(
            "url".into(),
            Value::from("postgres://ada:p%40ss%2Fw0rd@db/x"),
        );
        map.insert(
            "connect_args".into(),
            Value::from([("sslkey_password", "k3y")]),
        );
        let redactor = Redactor::from_map(&map);
        let text = redactor
            .redact("auth failed for hunter2 at db.example.com (p@ss/w0rd, p%40ss%2Fw0rd, k3y)");
        assert_eq!(
            text,
            "auth failed for *** at db.example.com (***, ***, ***)"
        );
        assert_eq!(format!("{redactor:?}"), "Redactor(4 secrets)");
    }

    #[test]
    fn secret_key_names() {
        for key in [
            "password",
            "aws_secret_access_key",
            "token",
            "private_key",
            "PWD",
        ] {
            assert!(is_secret_key(key), "{key}");
        }
        for key in ["host", "port", "database", "username", "url"] {
            assert!(!is_secret_key(key), "{key}");
        }
    }
}
