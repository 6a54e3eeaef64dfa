//! Named parameters (`:name`, as in SQLAlchemy's `text()`), rewritten to each driver's
//! placeholders: `$1` for PostgreSQL, `?` for MySQL and SQLite.
//!
//! The scanner leaves alone everything that is not a parameter: string literals
//! (`'...'`, PostgreSQL `E'...'` and `$tag$...$tag$`), quoted identifiers (`"..."`,
//! MySQL backticks), comments (`--`, `#` in MySQL, nested `/* */`), PostgreSQL `::`
//! casts, and `\:` (an escaped colon, as in SQLAlchemy).

use conn_core::{Error, Param, Params, Result};

use crate::config::Backend;

/// A statement ready for the driver: its text and its values in placeholder order.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Prepared {
    pub(crate) sql: String,
    pub(crate) values: Vec<Param>,
}

impl Prepared {
    /// How many statements the text holds, by `;` outside string literals, quoted
    /// identifiers and comments (a run of only whitespace and comments is none).
    #[cfg_attr(not(feature = "sqlite"), allow(dead_code))] // SQLite's checks use it
    pub(crate) fn statement_count(&self, backend: Backend) -> usize {
        let sql = self.sql.as_str();
        let bytes = sql.as_bytes();
        let (mut count, mut content, mut i) = (0, false, 0);
        while i < bytes.len() {
            let skip = skip_non_parameter(sql, i, backend);
            if skip > i {
                let comment = bytes[i..].starts_with(b"--")
                    || bytes[i..].starts_with(b"/*")
                    || (backend == Backend::MySql && bytes[i] == b'#');
                content |= !comment;
                i = skip;
                continue;
            }
            match bytes[i] {
                b';' => {
                    count += usize::from(content);
                    content = false;
                }
                b if !b.is_ascii_whitespace() => content = true,
                _ => {}
            }
            i += 1;
        }
        count + usize::from(content)
    }

    /// SQLite's parameters in the text, read from the text itself (no statement
    /// prepared: a script's later statements may use tables its earlier ones create):
    /// how many plain `?` it holds, and the first parameter of another form (`?NNN`,
    /// `$NNN`, `:x`, `@x`, `$x`), whose value number sqlx derives from the slots SQLite
    /// gives each statement rather than from the text.
    #[cfg_attr(not(feature = "sqlite"), allow(dead_code))] // SQLite's checks use it
    pub(crate) fn sqlite_parameters(&self) -> (usize, Option<String>) {
        let sql = self.sql.as_str();
        let bytes = sql.as_bytes();
        // SQLite's identifier characters include every byte of a non-ASCII character.
        let identifier = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b'$' || b >= 0x80;
        let (mut plain, mut other, mut i) = (0, None, 0);
        while i < bytes.len() {
            let skip = skip_non_parameter(sql, i, Backend::Sqlite);
            if skip > i {
                i = skip;
                continue;
            }
            let follows_identifier = i > 0 && identifier(bytes[i - 1]);
            let named = |at: usize| bytes.get(at).is_some_and(|&b| identifier(b));
            match bytes[i] {
                b'?' if !named(i + 1) => plain += 1,
                b'?' | b':' | b'@' | b'$' | b'#' if !follows_identifier && named(i + 1) => {
                    let end = (i + 1..bytes.len())
                        .find(|&k| !identifier(bytes[k]))
                        .unwrap_or(bytes.len());
                    other.get_or_insert_with(|| sql[i..end].to_owned());
                    i = end;
                    continue;
                }
                _ => {}
            }
            i += 1;
        }
        (plain, other)
    }

    /// Whether this is certainly one statement that the database runs as a whole: text
    /// with no `;` before its end (a `;` inside a string literal counts as a separator:
    /// "not certain" is the safe answer; parameters prove nothing, as SQLite runs every
    /// statement of a text and binds parameters across them), whose first keyword is a
    /// plain query or DML (`SELECT`, `INSERT`, `UPDATE`, `DELETE`, `MERGE`, `REPLACE`,
    /// `VALUES`, `WITH`, `TABLE`). Not `CALL`, `DO` or `EXECUTE`: a procedure may commit
    /// part of its work (PostgreSQL 11+ procedures, MySQL in autocommit) before it fails.
    pub(crate) fn is_atomic_statement(&self) -> bool {
        !self.sql.trim_end().trim_end_matches(';').contains(';')
            && matches!(
                first_keyword(&self.sql).as_str(),
                "select"
                    | "insert"
                    | "update"
                    | "delete"
                    | "merge"
                    | "replace"
                    | "values"
                    | "with"
                    | "table"
            )
    }
}

/// The first keyword of a statement, lower-cased, after whitespace and comments.
pub(crate) fn first_keyword(sql: &str) -> String {
    let mut rest = sql.trim_start();
    loop {
        if let Some(after) = rest.strip_prefix("--") {
            rest = after.split_once('\n').map_or("", |(_, r)| r).trim_start();
        } else if let Some(after) = rest.strip_prefix("/*") {
            rest = after.split_once("*/").map_or("", |(_, r)| r).trim_start();
        } else {
            break;
        }
    }
    rest.trim_start_matches('(')
        .chars()
        .take_while(char::is_ascii_alphabetic)
        .collect::<String>()
        .to_ascii_lowercase()
}

/// Rewrites named parameters, or passes positional ones through.
///
/// A `:name` in the statement without a value is an error even when no named values
/// were given at all: SQLite would bind NULL for it, silently.
pub(crate) fn prepare(sql: &str, params: &Params, backend: Backend) -> Result<Prepared> {
    if params.named().is_empty() && !sql.contains(':') {
        return Ok(Prepared {
            sql: sql.to_owned(),
            values: params.positional().to_vec(),
        });
    }
    if !params.positional().is_empty() && !params.named().is_empty() {
        return Err(Error::InvalidArgument(
            "a statement takes named parameters or positional ones, not both".into(),
        ));
    }
    let mut out = String::with_capacity(sql.len() + 8);
    let mut values = Vec::new();
    // PostgreSQL numbers each distinct name once; `?` drivers bind every use.
    let mut numbered: Vec<&str> = Vec::new();
    let mut used: Vec<String> = Vec::new();
    let bytes = sql.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let skip = skip_non_parameter(sql, i, backend);
        if skip > i {
            out.push_str(&sql[i..skip]);
            i = skip;
            continue;
        }
        let c = bytes[i];
        if c == b'\\' && bytes.get(i + 1) == Some(&b':') {
            out.push(':');
            i += 2;
            continue;
        }
        if c == b':' && bytes.get(i + 1) == Some(&b':') {
            out.push_str("::");
            i += 2;
            continue;
        }
        if c == b':'
            && bytes
                .get(i + 1)
                .is_some_and(|b| b.is_ascii_alphabetic() || *b == b'_')
        {
            let start = i + 1;
            let end = start
                + sql[start..]
                    .bytes()
                    .take_while(|b| b.is_ascii_alphanumeric() || *b == b'_')
                    .count();
            let name = &sql[start..end];
            let value = params.get(name).ok_or_else(|| missing(name, params))?;
            if !used.iter().any(|u| u == name) {
                used.push(name.to_owned());
            }
            match backend {
                Backend::Postgres => {
                    let number = match numbered.iter().position(|n| *n == name) {
                        Some(p) => p + 1,
                        None => {
                            numbered.push(name);
                            values.push(value.clone());
                            numbered.len()
                        }
                    };
                    out.push('$');
                    out.push_str(&number.to_string());
                }
                Backend::MySql | Backend::Sqlite => {
                    values.push(value.clone());
                    out.push('?');
                }
            }
            i = end;
            continue;
        }
        let ch = sql[i..].chars().next().unwrap_or(' ');
        out.push(ch);
        i += ch.len_utf8();
    }
    if let Some((unused, _)) = params.named().iter().find(|(n, _)| !used.contains(n)) {
        let uses = if used.is_empty() {
            "no named parameters".to_owned()
        } else {
            used.iter()
                .map(|u| format!(":{u}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        return Err(Error::InvalidArgument(format!(
            "parameter :{unused} was given but the statement does not use it (it uses {uses})"
        )));
    }
    if params.named().is_empty() {
        // No `:name` in the statement (a missing one failed above): positional values.
        return Ok(Prepared {
            sql: out,
            values: params.positional().to_vec(),
        });
    }
    Ok(Prepared { sql: out, values })
}

fn missing(name: &str, params: &Params) -> Error {
    let given: Vec<&str> = params.named().iter().map(|(n, _)| n.as_str()).collect();
    let hint = conn_core::plugin::did_you_mean(name, &given)
        .map(|s| format!("; did you mean :{s}?"))
        .unwrap_or_default();
    Error::InvalidArgument(format!(
        "the statement uses :{name} but no value was given for it{hint}"
    ))
}

/// If a literal, quoted identifier or comment starts at `i`, the index just past it;
/// otherwise `i`.
pub(crate) fn skip_non_parameter(sql: &str, i: usize, backend: Backend) -> usize {
    let mysql = backend == Backend::MySql;
    skip_non_parameter_escaping(
        sql,
        i,
        backend,
        Backslashes {
            single: mysql,
            double: mysql,
        },
    )
}

/// Whether MySQL's quoted runs take backslash escapes: by default both `'...'` and
/// `"..."` do; `NO_BACKSLASH_ESCAPES` turns them off; under `ANSI_QUOTES` a
/// double-quoted run is an identifier, which takes none.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Backslashes {
    /// In `'...'`.
    pub(crate) single: bool,
    /// In `"..."`.
    pub(crate) double: bool,
}

/// [`skip_non_parameter`], with backslash escapes in quoted runs as `backslashes` says.
pub(crate) fn skip_non_parameter_escaping(
    sql: &str,
    i: usize,
    backend: Backend,
    backslashes: Backslashes,
) -> usize {
    let bytes = sql.as_bytes();
    let rest = &bytes[i..];
    let find_from = |from: usize, needle: &str| {
        sql[from..]
            .find(needle)
            .map_or(sql.len(), |p| from + p + needle.len())
    };
    match rest {
        // MySQL's `--` starts a comment only before whitespace or a control character
        // (`a--1` is a minus a negative one).
        [b'-', b'-', next, ..]
            if backend == Backend::MySql
                && !(next.is_ascii_whitespace() || next.is_ascii_control()) =>
        {
            i
        }
        [b'-', b'-', ..] => sql[i..].find('\n').map_or(sql.len(), |p| i + p + 1),
        [b'#', ..] if backend == Backend::MySql => {
            sql[i..].find('\n').map_or(sql.len(), |p| i + p + 1)
        }
        // MySQL runs what its executable comments (`/*!40000 ... */`, MariaDB's
        // `/*M!100000 ... */`) hold: only the opener is skipped, the body is code (its
        // closing `*/` reads as two operator characters).
        [b'/', b'*', b'!', ..] if backend == Backend::MySql => skip_digits(bytes, i + 3),
        [b'/', b'*', b'M', b'!', ..] if backend == Backend::MySql => skip_digits(bytes, i + 4),
        [b'/', b'*', ..] if backend == Backend::Postgres => skip_block_comment(bytes, i),
        // MySQL and SQLite end a block comment at the first `*/` (no nesting).
        [b'/', b'*', ..] => find_from(i + 2, "*/"),
        [b'E' | b'e', b'\'', ..] if backend == Backend::Postgres => {
            skip_quoted(bytes, i + 1, b'\'', true)
        }
        [b'\'', ..] => skip_quoted(bytes, i, b'\'', backslashes.single),
        // MySQL's double-quoted strings take backslash escapes as its single-quoted do.
        [b'"', ..] => skip_quoted(bytes, i, b'"', backslashes.double),
        [b'`', ..] if backend != Backend::Postgres => skip_quoted(bytes, i, b'`', false),
        // SQLite's `[identifier]` (no escapes inside).
        [b'[', ..] if backend == Backend::Sqlite => find_from(i + 1, "]"),
        [b'$', ..] if backend == Backend::Postgres => match dollar_tag(&sql[i..]) {
            Some(tag) => find_from(i + tag.len(), tag),
            None => i,
        },
        _ => i,
    }
}

/// Past the digits starting at `start`.
fn skip_digits(bytes: &[u8], start: usize) -> usize {
    start
        + bytes[start.min(bytes.len())..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count()
}

/// Past a quoted run starting at `start` (the opening quote). A doubled quote is an
/// escaped quote; with `backslash`, so is `\` + any character.
fn skip_quoted(bytes: &[u8], start: usize, quote: u8, backslash: bool) -> usize {
    let mut j = start + 1;
    while j < bytes.len() {
        match bytes[j] {
            b'\\' if backslash => j += 2,
            b if b == quote => {
                if bytes.get(j + 1) == Some(&quote) {
                    j += 2;
                } else {
                    return j + 1;
                }
            }
            _ => j += 1,
        }
    }
    bytes.len()
}

/// Past a (nestable, as in PostgreSQL) block comment starting at `start`.
fn skip_block_comment(bytes: &[u8], start: usize) -> usize {
    let mut depth = 0;
    let mut j = start;
    while j + 1 < bytes.len() {
        match (bytes[j], bytes[j + 1]) {
            (b'/', b'*') => {
                depth += 1;
                j += 2;
            }
            (b'*', b'/') => {
                depth -= 1;
                j += 2;
                if depth == 0 {
                    return j;
                }
            }
            _ => j += 1,
        }
    }
    bytes.len()
}

/// The `$tag$` opening a dollar-quoted string, if `text` starts with one (`$1` is a
/// placeholder, not a tag).
fn dollar_tag(text: &str) -> Option<&str> {
    let body = &text[1..];
    let end = body.find('$')?;
    let tag = &body[..end];
    let valid = tag
        .chars()
        .enumerate()
        .all(|(k, c)| c == '_' || c.is_alphabetic() || (k > 0 && c.is_ascii_digit()));
    valid.then(|| &text[..end + 2])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn named(pairs: &[(&str, Param)]) -> Params {
        let mut params = Params::new();
        for (name, value) in pairs {
            params.set(name, value.clone());
        }
        params
    }

    #[test]
    fn an_atomic_statement_is_told_from_a_script_or_a_procedure() {
        let text = |sql: &str| Prepared {
            sql: sql.into(),
            values: Vec::new(),
        };
        assert!(text("UPDATE t SET v = 1").is_atomic_statement());
        assert!(text("UPDATE t SET v = 1;  \n").is_atomic_statement());
        assert!(text("-- note\n(SELECT 1)").is_atomic_statement());
        assert!(!text("UPDATE t SET v = 1; DELETE FROM t").is_atomic_statement());
        assert!(
            !text("UPDATE t SET s = 'a;b'").is_atomic_statement(),
            "unsure is a script"
        );
        for (sql, count) in [
            ("UPDATE t SET s = 'a;b' WHERE id = ?", 1),
            ("INSERT INTO t VALUES (?, ?); -- add", 1),
            ("SELECT 1; /* ; */ ;", 1),
            ("-- only ; a comment", 0),
            ("", 0),
            ("SELECT \"a;b\" FROM t; SELECT 2", 2),
            ("CREATE TABLE x (a); INSERT INTO x VALUES (1);", 2),
            // SQLite's [identifiers] and `identifiers`, and block comments that do not
            // nest, as SQLite splits them.
            ("SELECT 1 AS [a'b]; SELECT 2 AS a; --'", 2),
            ("SELECT 1 AS `a;b`", 1),
            ("SELECT 1 AS a; /* /* */ SELECT 2 AS a", 2),
        ] {
            assert_eq!(text(sql).statement_count(Backend::Sqlite), count, "{sql}");
        }
        let parameters = |sql: &str| text(sql).sqlite_parameters();
        assert_eq!(
            parameters("INSERT INTO t VALUES (?, '?'); SELECT ? /* ? */ -- ?"),
            (2, None)
        );
        assert_eq!(parameters("SELECT 1; SELECT ?2, ?"), (1, Some("?2".into())));
        assert_eq!(
            parameters("SELECT a$1, [?], `?`, \"?\" FROM t$2"),
            (0, None)
        );
        assert_eq!(parameters("SELECT :x, ?"), (1, Some(":x".into())));
        assert_eq!(parameters("SELECT #a"), (0, Some("#a".into())));
        assert_eq!(parameters("SELECT :é"), (0, Some(":é".into())));
        assert_eq!(parameters("CREATE TABLE café$x (a)"), (0, None));
        // PostgreSQL nests block comments; MySQL does not.
        let nested = text("SELECT 1 AS a; /* /* */ SELECT 2 AS a");
        assert_eq!(nested.statement_count(Backend::Postgres), 1);
        assert_eq!(nested.statement_count(Backend::MySql), 2);
        let bound = Prepared {
            sql: "INSERT INTO t VALUES (?); INSERT INTO t VALUES (?)".into(),
            values: vec![Param::from(1_i64), Param::from(2_i64)],
        };
        assert!(
            !bound.is_atomic_statement(),
            "SQLite runs every statement of a text, parameters or not"
        );
        for procedure in ["CALL p()", "call p(1)", "DO $$ BEGIN END $$", "EXECUTE s"] {
            assert!(!text(procedure).is_atomic_statement(), "{procedure}");
        }
    }

    #[test]
    fn a_named_placeholder_without_any_value_is_an_error() {
        for backend in [Backend::Sqlite, Backend::Postgres, Backend::MySql] {
            let err = prepare("SELECT * FROM t WHERE x = :x", &Params::new(), backend)
                .unwrap_err()
                .to_string();
            assert_eq!(err, "the statement uses :x but no value was given for it");
        }
        let mut positional = Params::new();
        positional.push(1);
        let prepared = prepare("SELECT ?::int, 'a:b'", &positional, Backend::Sqlite).unwrap();
        assert_eq!(prepared.sql, "SELECT ?::int, 'a:b'");
        assert_eq!(prepared.values.len(), 1);
    }

    #[test]
    fn postgres_numbers_each_name_once() {
        let p = prepare(
            "select * from pet where owner = :owner and (age > :age or name = :owner)",
            &named(&[("owner", "Ada".into()), ("age", 3.into())]),
            Backend::Postgres,
        )
        .unwrap();
        assert_eq!(
            p.sql,
            "select * from pet where owner = $1 and (age > $2 or name = $1)"
        );
        assert_eq!(p.values, vec![Param::from("Ada"), Param::from(3)]);
    }

    #[test]
    fn question_marks_bind_every_use() {
        let p = prepare(
            "select :a, :b, :a",
            &named(&[("a", 1.into()), ("b", 2.into())]),
            Backend::MySql,
        )
        .unwrap();
        assert_eq!(p.sql, "select ?, ?, ?");
        assert_eq!(
            p.values,
            vec![Param::from(1), Param::from(2), Param::from(1)]
        );
    }

    #[test]
    fn literals_comments_identifiers_and_casts_are_left_alone() {
        let sql = "select ':no', \":nope\", x::text, $q$ :never $q$, E'it\\'s :x', -- :c\n\
                   /* :d /* :nested */ */ \\:literal, :yes";
        let p = prepare(sql, &named(&[("yes", true.into())]), Backend::Postgres).unwrap();
        assert_eq!(
            p.sql,
            "select ':no', \":nope\", x::text, $q$ :never $q$, E'it\\'s :x', -- :c\n\
             /* :d /* :nested */ */ :literal, $1"
        );
        let p = prepare(
            "select `:col`, 'it''s :x', :v # :comment\n",
            &named(&[("v", 1.into())]),
            Backend::MySql,
        )
        .unwrap();
        assert_eq!(p.sql, "select `:col`, 'it''s :x', ? # :comment\n");
    }

    #[test]
    fn missing_and_unused_parameters_are_errors() {
        let err = prepare(
            "select :owner",
            &named(&[("ownr", 1.into())]),
            Backend::Sqlite,
        )
        .unwrap_err()
        .to_string();
        assert_eq!(
            err,
            "the statement uses :owner but no value was given for it; did you mean :ownr?"
        );
        let err = prepare(
            "select :a",
            &named(&[("a", 1.into()), ("b", 2.into())]),
            Backend::Sqlite,
        )
        .unwrap_err()
        .to_string();
        assert_eq!(
            err,
            "parameter :b was given but the statement does not use it (it uses :a)"
        );
    }

    #[test]
    fn positional_parameters_pass_through() {
        let mut params = Params::new();
        params.push(1);
        let p = prepare("select $1", &params, Backend::Postgres).unwrap();
        assert_eq!(p.sql, "select $1");
        assert_eq!(p.values.len(), 1);
    }
}
