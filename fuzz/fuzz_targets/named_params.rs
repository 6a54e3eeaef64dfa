//! `:name` parameters rewritten for each dialect (`$n` for PostgreSQL, `?` for MySQL
//! and SQLite).
//!
//! First byte even: a statement built from tokens whose rewriting is known (text,
//! parameters, string literals, quoted identifiers, comments, casts, `\:`, dollar
//! quotes and E-strings on PostgreSQL, backticks and `#` comments on MySQL). Asserts the
//! output is exactly the expected one: text outside parameters identical, each
//! PostgreSQL parameter numbered in order of first use and bound once, each `?` bound
//! in order of use; a name given but not used, or used but not given, is an error
//! naming it.
//!
//! First byte odd: the rest is any statement, its names bound as they are found.
//! Asserts: never a panic; outside parameters nothing changes (every character's
//! count moves only by the placeholders, the names and the `\` of `\:`); PostgreSQL
//! binds each name once.
#![no_main]

use conn_core::{Param, Params};
use conn_sql::Backend;
use conn_sql::fuzzing::prepare;
use libfuzzer_sys::fuzz_target;

const BACKENDS: [Backend; 3] = [Backend::Postgres, Backend::MySql, Backend::Sqlite];
const NAMES: [&str; 6] = ["a", "b", "id", "user_name", "x1", "_p"];

struct Bytes<'a>(&'a [u8]);

impl Bytes<'_> {
    fn byte(&mut self) -> Option<u8> {
        let (first, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(*first)
    }
    /// Up to 12 characters from `alphabet`.
    fn text(&mut self, alphabet: &[u8]) -> String {
        let len = self.byte().map_or(0, |b| b % 12);
        (0..len)
            .filter_map(|_| self.byte())
            .map(|b| alphabet[b as usize % alphabet.len()] as char)
            .collect()
    }
}

/// The statement, its expected rewriting, and the names used in order.
#[derive(Default)]
struct Built {
    sql: String,
    expected: String,
    uses: Vec<&'static str>,
}

impl Built {
    fn both(&mut self, text: &str) {
        self.sql.push_str(text);
        self.expected.push_str(text);
    }
}

const TEXT: &[u8] = b"abcdfghijklmnopqrstuvwxyz0123456789 ,()=<>*+.;\n\t";
/// Inside quotes and comments: anything that could look like a parameter.
const INSIDE: &[u8] = b"ab :x_1?$#-\"`\n";

fn build(mut bytes: Bytes<'_>, backend: Backend) -> Built {
    let mut built = Built::default();
    let mut after_param = false;
    while let Some(kind) = bytes.byte() {
        match kind % 12 {
            0 | 1 => {
                let text = bytes.text(TEXT);
                if text.is_empty() {
                    // Nothing written: a parameter before it is still last.
                    continue;
                }
                if after_param && text.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
                {
                    built.both(" ");
                }
                built.both(&text);
            }
            2 | 3 => {
                let name = NAMES[bytes.byte().unwrap_or(0) as usize % NAMES.len()];
                built.sql.push(':');
                built.sql.push_str(name);
                let placeholder = match backend {
                    Backend::Postgres => {
                        let mut first_use: Vec<&str> = Vec::new();
                        for u in built.uses.iter().chain([&name]) {
                            if !first_use.contains(u) {
                                first_use.push(u);
                            }
                        }
                        let n = first_use.iter().position(|u| *u == name).unwrap() + 1;
                        format!("${n}")
                    }
                    _ => "?".to_owned(),
                };
                built.expected.push_str(&placeholder);
                built.uses.push(name);
                after_param = true;
                continue;
            }
            4 => {
                // A string literal, with doubled quotes.
                let inner = bytes.text(INSIDE).replace('\'', "''");
                built.both(&format!("'{inner}'"));
            }
            5 => {
                let inner = bytes.text(INSIDE).replace('"', "\"\"");
                built.both(&format!("\"{inner}\""));
            }
            6 => {
                let inner = bytes.text(INSIDE).replace('\n', " ");
                built.both(&format!("-- {inner}\n"));
            }
            7 => {
                let inner = bytes.text(INSIDE).replace("*/", "* /").replace("/*", "/ *");
                let nested = if bytes.byte().is_some_and(|b| b % 2 == 0) {
                    format!("/* {inner} /* :a */ */")
                } else {
                    format!("/*{inner}*/")
                };
                built.both(&nested);
            }
            8 => {
                built.both("::int");
            }
            9 => {
                built.sql.push_str("\\:");
                built.expected.push(':');
            }
            _ => match backend {
                Backend::Postgres if kind % 2 == 0 => {
                    let tag = ["", "x", "q1"][bytes.byte().unwrap_or(0) as usize % 3];
                    let inner = bytes.text(INSIDE).replace('$', "");
                    built.both(&format!("${tag}${inner}${tag}$"));
                }
                Backend::Postgres => {
                    let inner = bytes.text(b"ab :x\\'\"");
                    // A backslash escapes the next character, a quote included.
                    let inner = if inner.ends_with('\\') {
                        format!("{inner}\\")
                    } else {
                        inner
                    };
                    let mut escaped = String::new();
                    let mut chars = inner.chars();
                    while let Some(c) = chars.next() {
                        match c {
                            '\\' => {
                                escaped.push('\\');
                                escaped.push(chars.next().unwrap_or('\\'));
                            }
                            '\'' => escaped.push_str("''"),
                            c => escaped.push(c),
                        }
                    }
                    built.both(&format!(" E'{escaped}'"));
                }
                Backend::MySql if kind % 2 == 0 => {
                    let inner = bytes.text(INSIDE).replace('`', "``");
                    built.both(&format!("`{inner}`"));
                }
                Backend::MySql => {
                    let inner = bytes.text(INSIDE).replace('\n', " ");
                    built.both(&format!("# {inner}\n"));
                }
                _ => {
                    built.both(" ");
                }
            },
        }
        after_param = false;
    }
    built
}

fn named(names: &[&str]) -> Params {
    let mut params = Params::new();
    for name in names {
        params.set(name, value_of(name));
    }
    params
}

fn value_of(name: &str) -> Param {
    Param::Text(format!("value of {name}"))
}

fn check_built(data: &[u8]) {
    for backend in BACKENDS {
        let built = build(Bytes(data), backend);
        let mut distinct: Vec<&str> = Vec::new();
        for u in &built.uses {
            if !distinct.contains(u) {
                distinct.push(u);
            }
        }
        let (sql, values) = prepare(&built.sql, &named(&distinct), backend)
            .unwrap_or_else(|e| panic!("{backend:?}: {:?} failed: {e}", built.sql));
        assert_eq!(sql, built.expected, "{backend:?}: {:?}", built.sql);
        let expected: Vec<Param> = match backend {
            Backend::Postgres => distinct.iter().map(|n| value_of(n)).collect(),
            _ => built.uses.iter().map(|n| value_of(n)).collect(),
        };
        assert!(
            values == expected,
            "{backend:?}: {:?} bound {values:?}",
            built.sql
        );
        // A name given and not used is an error naming it.
        let unused = "not_used";
        let mut more = distinct.clone();
        more.push(unused);
        let err = prepare(&built.sql, &named(&more), backend)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(&format!("parameter :{unused} was given")),
            "{err}"
        );
        // A name used and not given is an error naming it.
        if let Some((missing, rest)) = distinct.split_last() {
            let err = prepare(&built.sql, &named(rest), backend)
                .unwrap_err()
                .to_string();
            assert!(err.contains(&format!(":{missing} but no value")), "{err}");
        }
    }
}

/// The name in "the statement uses :name but no value was given for it".
fn missing_name(message: &str) -> Option<String> {
    let rest = message.split_once("uses :")?.1;
    Some(rest.split(' ').next()?.to_owned())
}

fn count(text: &str, c: char) -> i64 {
    text.chars().filter(|x| *x == c).count() as i64
}

fn check_any(sql: &str) {
    for backend in BACKENDS {
        // Bind names as the statement turns out to use them.
        let mut names: Vec<String> = Vec::new();
        let outcome = loop {
            let mut params = Params::new();
            for (k, name) in names.iter().enumerate() {
                params.set(name, Param::Int(k as i64));
            }
            match prepare(sql, &params, backend) {
                Err(err) => {
                    let message = err.to_string();
                    match missing_name(&message) {
                        Some(name) if names.len() < 32 && !names.contains(&name) => {
                            names.push(name)
                        }
                        _ => break Err(message),
                    }
                }
                Ok(done) => break Ok(done),
            }
        };
        let Ok((out, values)) = outcome else { continue };
        let index = |v: &Param| match v {
            Param::Int(k) => *k as usize,
            other => panic!("bound {other:?}"),
        };
        match backend {
            Backend::Postgres => {
                // Each name bound once, in order of first use.
                let order: Vec<usize> = values.iter().map(index).collect();
                assert!(
                    order.iter().enumerate().all(|(i, k)| i == *k),
                    "{sql:?}: {order:?}"
                );
                assert_eq!(values.len(), names.len());
                let uses = count(sql, ':') - count(&out, ':');
                assert!(uses >= values.len() as i64, "{sql:?} -> {out:?}");
                assert_eq!(
                    count(&out, '$') - count(sql, '$'),
                    uses,
                    "{sql:?} -> {out:?}"
                );
            }
            _ => {
                // Every character of the statement is kept, but `:name` becomes `?`
                // and `\:` loses its backslash.
                let used: Vec<&str> = values.iter().map(|v| names[index(v)].as_str()).collect();
                let escapes = count(sql, '\\') - count(&out, '\\');
                assert!(escapes >= 0 && escapes <= sql.matches("\\:").count() as i64);
                let mut chars: Vec<char> = sql.chars().chain(out.chars()).collect();
                chars.sort_unstable();
                chars.dedup();
                for c in chars {
                    let in_names: i64 = used.iter().map(|n| count(n, c)).sum();
                    let p = used.len() as i64;
                    let expected = count(sql, c) + if c == '?' { p } else { 0 }
                        - if c == ':' { p } else { 0 }
                        - in_names
                        - if c == '\\' { escapes } else { 0 };
                    assert_eq!(
                        count(&out, c),
                        expected,
                        "{backend:?} {c:?}: {sql:?} -> {out:?}"
                    );
                }
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((mode, rest)) = data.split_first() else {
        return;
    };
    if mode % 2 == 0 {
        if rest.len() <= 256 {
            check_built(rest);
        }
    } else if let Ok(sql) = std::str::from_utf8(rest) {
        check_any(sql);
    }
});
