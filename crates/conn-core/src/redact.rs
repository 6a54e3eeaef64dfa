//! Removing secrets from driver messages before they become errors or log lines.
//!
//! Two nets, both always on:
//!
//! 1. every secret the connection's configuration holds (values of secret-looking keys,
//!    passwords inside URLs), as written, percent-encoded, and base64-encoded at any
//!    alignment (so a secret inside a `Basic` header or another base64 blob is caught);
//! 2. the value of every secret-looking `name=value` pair in the text, whatever it is:
//!    URL query parameters (`?sig=...`, `&X-Amz-Signature=...`, `?password=...`, also
//!    percent-encoded) and ODBC-style settings (`Pwd=...;`), so a secret conn was never
//!    told about (a presigned URL in a path) is removed too;
//! 3. every SQL string literal that follows a secret-looking word (`SECRET '...'`,
//!    `PASSWORD '...'`, `KEY_ID '...'`, `IDENTIFIED BY '...'`), since drivers quote the
//!    statement they failed to parse and an `init` statement may carry credentials.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};

use crate::value::{Kind, Map, Value};

/// The characters a URL component encodes: all but letters, digits and `-._~`.
const URL_COMPONENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// What a removed secret is replaced with.
const MASK: &str = "***";

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

/// Parameter names (in `name=value` pairs) whose values are secrets, matched
/// case-insensitively as substrings: `sig`, `X-Amz-Signature`, `access_token`, `Pwd`...
const SECRET_PARAM_PARTS: &[&str] = &[
    "sig",
    "token",
    "key",
    "secret",
    "password",
    "passwd",
    "pwd",
    "credential",
    "auth",
    "code",
];

/// Whether a key name denotes a secret (`password`, `aws_secret_access_key`, `token`, ...).
pub fn is_secret_key(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    SECRET_KEY_PARTS.iter().any(|part| key.contains(part))
}

fn is_secret_param(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    SECRET_PARAM_PARTS.iter().any(|part| name.contains(part))
}

/// Replaces secrets with `***` (see the module docs for what counts as one).
///
/// Built from a connection's configuration. `Debug` shows only how many secrets it
/// holds.
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
        // Percent-encoded as strictly as possible, and as URL components are (the
        // unreserved `-._~` kept), since a URL may have been built either way.
        let strict =
            percent_encoding::utf8_percent_encode(secret, percent_encoding::NON_ALPHANUMERIC)
                .to_string();
        let component = percent_encoding::utf8_percent_encode(secret, URL_COMPONENT).to_string();
        for encoded in [strict, component] {
            if encoded != secret {
                self.secrets.push(encoded);
            }
        }
        self.secrets.extend(base64_forms(secret.as_bytes()));
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
                if let Some((written, decoded)) = url_password(s) {
                    self.push(written);
                    self.push(&decoded);
                    self.push(&decoded.replace(' ', "+"));
                }
                for found in secret_params(s) {
                    self.push(found);
                }
                for found in secret_literals(s) {
                    self.push(found);
                    // The secret itself, as a server or driver echoes it: '' is one quote.
                    if found.contains("''") {
                        self.push(&found.replace("''", "'"));
                    }
                }
            }
            Kind::Integer(i) if secret => self.push(&i.to_string()),
            Kind::Array(items) => items.iter().for_each(|v| self.collect_value(v, secret)),
            Kind::Table(inner) => self.collect(inner, secret),
            _ => {}
        }
    }

    /// `text` with every known secret and every secret-looking parameter value
    /// replaced by `***`.
    pub fn redact(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for secret in &self.secrets {
            if out.contains(secret.as_str()) {
                out = out.replace(secret.as_str(), MASK);
            }
        }
        scrub_params(&out)
    }

    /// Whether `text` holds anything [`redact`](Self::redact) would remove.
    pub fn finds_secret_in(&self, text: &str) -> bool {
        self.redact(text) != text
    }
}

/// The base64 forms of `secret` as it appears inside any base64 text: for each of the
/// three alignments, the characters that depend on the secret's bytes alone, in the
/// standard and the URL-safe alphabet. Too short a secret has no such stable run.
fn base64_forms(secret: &[u8]) -> Vec<String> {
    let mut forms = Vec::new();
    for offset in 0..3usize {
        let mut bytes = vec![0u8; offset];
        bytes.extend_from_slice(secret);
        for engine in [&STANDARD_NO_PAD, &URL_SAFE_NO_PAD] {
            let encoded = engine.encode(&bytes);
            // Characters of the first group mix the padding bytes in (when there are
            // any); the last partial group depends on what follows the secret.
            let skip = if offset == 0 { 0 } else { 4 };
            let whole_groups = bytes.len() / 3 * 4;
            if whole_groups > skip + 3 {
                forms.push(encoded[skip..whole_groups].to_owned());
            }
        }
    }
    forms
}

/// The password of a `scheme://user:password@host` string, as written and
/// percent-decoded.
fn url_password(text: &str) -> Option<(&str, String)> {
    let (_, rest) = text.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    let userinfo = match authority.rsplit_once('@') {
        Some((userinfo, _)) => userinfo,
        // A password holding an unencoded `/`, `?` or `#` (which a URL parser reads as
        // the end of the authority, but a person wrote as part of the password): the
        // userinfo ends at the last `@` before the host's path.
        None => {
            let first_at = rest.find('@')?;
            let host_end = rest[first_at..]
                .find('/')
                .map_or(rest.len(), |i| first_at + i);
            let userinfo = &rest[..rest[..host_end].rfind('@')?];
            let (user, _) = userinfo.split_once(':')?;
            if user.contains(['/', '?', '#']) {
                return None;
            }
            userinfo
        }
    };
    let (_, password) = userinfo.split_once(':')?;
    let decoded = percent_encoding::percent_decode_str(password)
        .decode_utf8_lossy()
        .into_owned();
    Some((password, decoded))
}

/// `text` with the value of every secret-looking `name=value` pair and SQL literal
/// replaced by `***`.
fn scrub_params(text: &str) -> String {
    let mut found: Vec<&str> = secret_params(text);
    found.extend(secret_literals(text));
    if found.is_empty() {
        return text.to_owned();
    }
    found.sort_by_key(|s| std::cmp::Reverse(s.len()));
    let mut out = text.to_owned();
    for value in found {
        out = out.replace(value, MASK);
    }
    out
}

/// The values of the secret-looking `name=value` pairs of `text`: after `?`, `&` or
/// `;` (plain or percent-encoded), whitespace, a quote, `(` or `,`, or at the start, as
/// in URL query strings, ODBC connection strings and libpq's `key=value` strings (a
/// DuckDB `ATTACH 'dbname=app password=...'`).
fn secret_params(text: &str) -> Vec<&str> {
    const EQUALS: &[&str] = &["=", "%3D", "%3d"];
    let mut found = Vec::new();
    let bytes = text.as_bytes();
    let mut start = 0;
    while start < text.len() {
        let rest = &text[start..];
        let name_len = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
            .unwrap_or(rest.len());
        let name = &rest[..name_len];
        let after = &rest[name_len..];
        if !name.is_empty()
            && is_secret_param(name)
            && let Some(eq) = EQUALS.iter().find(|e| after.starts_with(**e))
        {
            let value_start = start + name_len + eq.len();
            let value = &text[value_start..];
            let end = value
                .find(|c: char| {
                    c.is_whitespace() || matches!(c, '&' | ';' | '#' | '"' | '\'' | ')' | '>' | ',')
                })
                .unwrap_or(value.len());
            // A percent-encoded `&` ends the value too.
            let value = value[..end].split("%26").next().unwrap_or_default();
            if !value.is_empty() && value != MASK {
                found.push(value);
            }
        }
        // The next pair starts after a separator.
        let next = (start + 1..text.len()).find(|&i| {
            text.is_char_boundary(i)
                && (matches!(
                    bytes[i - 1],
                    b'?' | b'&' | b';' | b'\'' | b'"' | b'(' | b','
                ) || bytes[i - 1].is_ascii_whitespace()
                    || (i >= 3 && matches!(&text.get(i - 3..i), Some("%3F" | "%3f" | "%26"))))
        });
        match next {
            Some(next) => start = next,
            None => break,
        }
    }
    found
}

/// The contents of the single-quoted SQL literals of `text` that follow a secret-looking
/// word, possibly with `=` or `:` between (`SECRET 'x'`, `password = 'x'`), or follow
/// `IDENTIFIED BY`. A literal cut short by the end of the text counts up to there.
fn secret_literals(text: &str) -> Vec<&str> {
    let mut found = Vec::new();
    let mut rest_start = 0;
    while let Some(open) = text[rest_start..].find('\'').map(|i| rest_start + i) {
        let body_start = open + 1;
        // The literal ends at a quote not doubled ('' is an escaped quote inside).
        let mut end = text.len();
        let mut i = body_start;
        while let Some(q) = text[i..].find('\'').map(|q| i + q) {
            if text[q + 1..].starts_with('\'') {
                i = q + 2;
            } else {
                end = q;
                break;
            }
        }
        let before = literal_prefix(&text[..open]);
        let mut words = before
            .rsplit(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .filter(|w| !w.is_empty());
        let last = words.next().unwrap_or_default();
        let ends_word = before.ends_with(|c: char| c.is_ascii_alphanumeric() || c == '_');
        let secret = ends_word && (is_secret_key(last) || identified_by(last, words));
        let body = &text[body_start..end];
        if secret && !body.is_empty() && body != MASK {
            found.push(body);
        }
        rest_start = (end + 1).min(text.len());
        if end >= text.len() {
            break;
        }
    }
    found
}

/// The text before a literal's opening quote without what may stand between the word
/// that names the literal and the literal: spaces, `=` or `:` (`password = '...'`), an
/// opening parenthesis (`PASSWORD('...')`) and PostgreSQL's escape-string `E` prefix
/// (`PASSWORD E'...'`).
fn literal_prefix(before: &str) -> &str {
    let mut before = before;
    if let Some(rest) = before.strip_suffix(['E', 'e'])
        && !rest.ends_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
    {
        before = rest;
    }
    before
        .trim_end()
        .trim_end_matches(['=', ':', '('])
        .trim_end()
}

/// Whether `last` (and the words before it, nearest first) end in MySQL's
/// `IDENTIFIED BY` or `IDENTIFIED WITH <plugin> BY`.
fn identified_by<'t>(last: &str, mut words: impl Iterator<Item = &'t str>) -> bool {
    if !last.eq_ignore_ascii_case("by") {
        return false;
    }
    match words.next() {
        Some(w) if w.eq_ignore_ascii_case("identified") => true,
        Some(_plugin) => {
            words.next().is_some_and(|w| w.eq_ignore_ascii_case("with"))
                && words
                    .next()
                    .is_some_and(|w| w.eq_ignore_ascii_case("identified"))
        }
        None => false,
    }
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
    fn a_url_password_holding_hash_question_or_slash_is_learnt_whole() {
        for (url, password) in [
            (
                "postgres://app:Hunter#2Leaky@db.example.com/x",
                "Hunter#2Leaky",
            ),
            ("mysql://app:a?b/c@db:3306/x?ssl=true", "a?b/c"),
            ("postgres://app:p#w@x@db/x?note=a@b", "p#w@x"),
        ] {
            let mut map = Map::new();
            map.insert("url".into(), Value::from(url));
            let shown = Redactor::from_map(&map).redact(&format!("failed: {url}"));
            assert!(!shown.contains(password), "{shown}");
            assert!(shown.contains("db"), "the host stays: {shown}");
        }
    }

    #[test]
    fn libpq_key_value_passwords_are_removed() {
        let init =
            "ATTACH 'dbname=app user=ro password=Lib-PQ-Secret9 host=db' AS pg (TYPE postgres)";
        let shown = Redactor::default().redact(init);
        assert!(!shown.contains("Lib-PQ-Secret9"), "{shown}");
        assert!(shown.contains("user=ro"), "{shown}");
        let mut map = Map::new();
        map.insert("init".into(), Value::from(init));
        let shown = Redactor::from_map(&map).redact("auth failed for Lib-PQ-Secret9");
        assert!(!shown.contains("Lib-PQ-Secret9"), "{shown}");
    }

    #[test]
    fn removes_passwords_tokens_and_url_passwords() {
        let mut map = Map::new();
        map.insert("password".into(), Value::from("hunter22"));
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
            .redact("auth failed for hunter22 at db.example.com (p@ss/w0rd, p%40ss%2Fw0rd, k3y)");
        assert_eq!(
            text,
            "auth failed for *** at db.example.com (***, ***, ***)"
        );
    }

    #[test]
    fn secret_query_and_odbc_values_are_removed_even_when_unknown() {
        let redactor = Redactor::default();
        let url = "https://h/x.csv?X-Amz-Signature=abc123&X-Amz-Date=20240101&sig=Zz%2Fq";
        assert_eq!(
            redactor.redact(&format!("GET {url} failed")),
            "GET https://h/x.csv?X-Amz-Signature=***&X-Amz-Date=20240101&sig=*** failed"
        );
        assert_eq!(
            redactor.redact("location x.csv%3Ftoken%3DS3cr3t%26page%3D2 not found"),
            "location x.csv%3Ftoken%3D***%26page%3D2 not found"
        );
        assert_eq!(
            redactor.redact("Driver={PG};Server=h;Uid=ada;Pwd=hunter2;Database=x"),
            "Driver={PG};Server=h;Uid=ada;Pwd=***;Database=x"
        );
        assert_eq!(
            redactor.redact("postgres://h/db?user=ada&password=hunter2"),
            "postgres://h/db?user=ada&password=***"
        );
        assert_eq!(redactor.redact("a=b?page=2"), "a=b?page=2");
    }

    #[test]
    fn sql_literals_after_secret_words_are_removed() {
        let redactor = Redactor::default();
        assert_eq!(
            redactor.redact(
                "near REGION: CREATE SECRET s (TYPE s3, KEY_ID 'AKIA', SECRET 'It''s42' REGION 'eu')"
            ),
            "near REGION: CREATE SECRET s (TYPE s3, KEY_ID '***', SECRET '***' REGION 'eu')"
        );
        assert_eq!(
            redactor.redact("ALTER USER ada IDENTIFIED BY 'hunter2'; SET password = 'x1'"),
            "ALTER USER ada IDENTIFIED BY '***'; SET password = '***'"
        );
        assert_eq!(
            redactor.redact("LINE 1: ... TOKEN 'abc"),
            "LINE 1: ... TOKEN '***"
        );
        assert_eq!(
            redactor.redact("SELECT 'secret' AS name, 'key'"),
            "SELECT 'secret' AS name, 'key'"
        );
    }

    #[test]
    fn base64_forms_are_removed_at_any_alignment() {
        let redactor = Redactor::default().with_secret("correct-horse-battery");
        for prefix in ["", "a", "ab", "ada:"] {
            let header = STANDARD_NO_PAD.encode(format!("{prefix}correct-horse-battery!!"));
            let text = format!("Authorization: Basic {header}");
            let redacted = redactor.redact(&text);
            assert!(redacted.contains(MASK), "{prefix:?}: {redacted}");
            assert!(redacted.len() < text.len(), "{prefix:?}");
        }
    }

    #[test]
    fn config_query_secrets_are_collected() {
        let mut map = Map::new();
        map.insert(
            "root".into(),
            Value::from("https://h/data?sv=2024&sig=S1gN4tur3"),
        );
        let redactor = Redactor::from_map(&map);
        // Known even where it shows without its name.
        assert_eq!(
            redactor.redact("bad signature S1gN4tur3"),
            "bad signature ***"
        );
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
