//! A conservative look at a SQL statement's words: does it only read?
//!
//! Used to decide whether a statement whose attempt failed after reaching the server
//! may run again. A false "write" only costs a retry; a false "read" could apply a write
//! twice, so anything in doubt is a write: every statement but `SELECT`, `WITH`,
//! `VALUES`, `TABLE`, `SHOW`, `DESCRIBE` and `EXPLAIN` (without `ANALYZE`), and those
//! too when a word that writes appears anywhere outside quotes and comments
//! (`INSERT ... RETURNING` in a `WITH`, `SELECT ... INTO`, `FOR UPDATE`, `nextval`,
//! ...), or a second statement follows. A `SELECT` that calls a function that writes cannot be told apart: run writes
//! with `execute`, which is never retried after reaching the server.

/// First words of statements that only read.
const READ_STARTS: &[&str] = &[
    "select", "with", "values", "table", "show", "describe", "desc", "explain",
];

/// Words that make any statement a write (or a lock, or a sequence step).
const WRITE_WORDS: &[&str] = &[
    "insert",
    "update",
    "delete",
    "merge",
    "upsert",
    "create",
    "drop",
    "alter",
    "truncate",
    "grant",
    "revoke",
    "copy",
    "call",
    "do",
    "lock",
    "into",
    "for",
    "nextval",
    "setval",
    "lastval",
    "analyze",
    "vacuum",
    "refresh",
    "notify",
    "set",
    "load",
    "install",
    "attach",
    "detach",
    "export",
    "import",
    "pg_advisory_lock",
    "pg_advisory_xact_lock",
    "get_lock",
    "release_lock",
];

/// Whether `sql` only reads (see the module docs for the rule).
pub fn is_read_only(sql: &str) -> bool {
    let words = words(sql);
    let Some(first) = words.first() else {
        return false;
    };
    // A second statement (`SELECT 1; PRAGMA ...`) may do anything.
    let statements = words
        .split(|w| w == ";")
        .filter(|statement| !statement.is_empty())
        .count();
    READ_STARTS.contains(&first.as_str())
        && statements == 1
        && !words.iter().any(|w| WRITE_WORDS.contains(&w.as_str()))
}

/// The lower-cased words of `sql` outside string literals, quoted identifiers and
/// comments. An unterminated quote or comment swallows the rest. Text that could hide
/// where a literal ends (a backslash escape, a PostgreSQL dollar-quoted body) makes the
/// statement a write, by adding the word `do`.
fn words(sql: &str) -> Vec<String> {
    let chars: Vec<char> = sql.chars().collect();
    let mut words = Vec::new();
    let mut current = String::new();
    let mut i = 0;
    let flush = |current: &mut String, words: &mut Vec<String>| {
        if !current.is_empty() {
            words.push(std::mem::take(current).to_ascii_lowercase());
        }
    };
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        match c {
            '\'' | '"' | '`' => {
                flush(&mut current, &mut words);
                i += 1;
                while i < chars.len() && chars[i] != c {
                    if chars[i] == '\\' {
                        // An escape may hide where the literal ends (`E'\''`).
                        words.push("do".into());
                        return words;
                    }
                    i += 1;
                }
            }
            // MySQL reads `--` without a space after it as two minus signs.
            '-' if next == Some('-') && chars.get(i + 2).is_some_and(|c| !c.is_whitespace()) => {
                words.push("do".into());
                return words;
            }
            '-' if next == Some('-') => {
                flush(&mut current, &mut words);
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
            }
            // MySQL runs what its `/*! ... */` (MariaDB: `/*M! ... */`) comments hold.
            '/' if next == Some('*')
                && (chars.get(i + 2) == Some(&'!')
                    || (chars.get(i + 2) == Some(&'M') && chars.get(i + 3) == Some(&'!'))) =>
            {
                words.push("do".into());
                return words;
            }
            '/' if next == Some('*') => {
                flush(&mut current, &mut words);
                i += 2;
                while i + 1 < chars.len() && !(chars[i] == '*' && chars[i + 1] == '/') {
                    i += 1;
                }
                i += 1;
            }
            '\\' => {
                words.push("do".into());
                return words;
            }
            '$' if dollar_quote_at(&chars, i) => {
                words.push("do".into());
                return words;
            }
            c if c.is_alphanumeric() || c == '_' => current.push(c),
            ';' => {
                flush(&mut current, &mut words);
                words.push(";".into());
            }
            _ => flush(&mut current, &mut words),
        }
        i += 1;
    }
    flush(&mut current, &mut words);
    words
}

/// Whether a PostgreSQL dollar quote (`$$` or `$tag$`) starts at `i` (not a parameter
/// such as `$1` or DuckDB's `$name`).
fn dollar_quote_at(chars: &[char], i: usize) -> bool {
    let mut j = i + 1;
    if chars.get(j).is_some_and(|c| c.is_ascii_digit()) {
        return false;
    }
    while chars
        .get(j)
        .is_some_and(|c| c.is_alphanumeric() || *c == '_')
    {
        j += 1;
    }
    chars.get(j) == Some(&'$')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_reads_are_reads() {
        for sql in [
            "select * from pet",
            "  -- hi\n SELECT 1",
            "/* x */ with t as (select 1) select * from t",
            "VALUES (1), (2)",
            "table pet",
            "show tables",
            "explain select 1",
            "select 'insert into x' as text",
            "select \"update\" from t",
            "select * from t where a = $1 and b = $region",
            "select 1;",
            "select 1; -- done",
            "select ';' as semicolon",
        ] {
            assert!(is_read_only(sql), "{sql}");
        }
    }

    #[test]
    fn anything_that_writes_is_a_write() {
        for sql in [
            "insert into t values (1)",
            "INSERT INTO t VALUES (1) RETURNING id",
            "with x as (insert into t values (1) returning id) select * from x",
            "select nextval('s')",
            "select * into new_table from t",
            "select * from t for update",
            "explain analyze select 1",
            "update t set x = 1",
            "create table t (x int)",
            "call proc()",
            "pragma user_version = 3",
            "select $$ anything $$",
            "select $q$it's$q$, nextval('s')",
            "with a as (select E'\\''), b as (insert into t values (1) returning 1) select * from b",
            "",
            "-- only a comment",
            "select 1; pragma foreign_keys = off",
            "select 1 /*! into outfile '/tmp/x' */",
            "select 1 /*M! into outfile '/tmp/x' */",
            "select a--b from t for update",
            "select 1; begin",
            "select 1; select 2",
        ] {
            assert!(!is_read_only(sql), "{sql}");
        }
    }
}
