//! Init statements: which run once per database, which on every pooled connection.
//!
//! A pooled connection is a clone of the first onto the same DuckDB database
//! instance. Statements that change the database (`ATTACH`, `CREATE SECRET`,
//! `INSTALL`, `CREATE TABLE`, `SET GLOBAL`, ...) are seen by every clone and fail or
//! duplicate work when re-run (`ATTACH` twice is "database already attached"), so
//! they run once, on the first connection. Statements that change only the
//! connection (`SET`, `RESET`, `PRAGMA`, `USE`, `CREATE TEMP ...`) run on every new
//! connection, so each one sees them.

/// Where an init statement takes effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scope {
    /// The database instance: run once, on the first connection.
    Database,
    /// One connection: run on every new pooled connection.
    Connection,
}

/// One init statement and where it takes effect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct InitStatement {
    pub(crate) sql: String,
    pub(crate) scope: Scope,
}

/// The statements of the `init_once`, `init` and `init_each` lists, in that order;
/// `init` entries are split into statements and classified by [`scope_of`].
pub(crate) fn plan(once: &[String], classified: &[String], each: &[String]) -> Vec<InitStatement> {
    let fixed = |list: &[String], scope| {
        list.iter()
            .map(move |sql| InitStatement {
                sql: sql.clone(),
                scope,
            })
            .collect::<Vec<_>>()
    };
    let mut plan = fixed(once, Scope::Database);
    for entry in classified {
        for sql in split_statements(entry) {
            plan.push(InitStatement {
                scope: scope_of(&sql),
                sql,
            });
        }
    }
    plan.extend(fixed(each, Scope::Connection));
    plan
}

/// The scope of one statement, from its first keywords: `SET` / `SET SESSION` /
/// `SET LOCAL`, `RESET` (not `GLOBAL`), `PRAGMA`, `USE` and `CREATE [OR REPLACE]
/// TEMP|TEMPORARY ...` are per connection; everything else (`ATTACH`, `DETACH`,
/// `INSTALL`, `LOAD`, `CREATE [PERSISTENT] SECRET`, `CREATE TABLE`, `SET GLOBAL`,
/// `INSERT`, ...) is database-wide and runs once: re-running it on every connection
/// would fail or change data again.
pub(crate) fn scope_of(statement: &str) -> Scope {
    let words: Vec<String> = keywords(statement, 4);
    let word = |i: usize| words.get(i).map_or("", String::as_str);
    match word(0) {
        "SET" | "RESET" if word(1) == "GLOBAL" => Scope::Database,
        "SET" | "RESET" | "PRAGMA" | "USE" => Scope::Connection,
        "CREATE" => {
            let next = if word(1) == "OR" && word(2) == "REPLACE" {
                word(3)
            } else {
                word(1)
            };
            if matches!(next, "TEMP" | "TEMPORARY") {
                Scope::Connection
            } else {
                Scope::Database
            }
        }
        _ => Scope::Database,
    }
}

/// The first `count` words of a statement, upper-cased, after leading comments.
fn keywords(statement: &str, count: usize) -> Vec<String> {
    let mut rest = statement;
    loop {
        rest = rest.trim_start_matches(|c: char| c.is_whitespace() || c == '(');
        if let Some(after) = rest.strip_prefix("--") {
            rest = after.split_once('\n').map_or("", |(_, tail)| tail);
        } else if let Some(after) = rest.strip_prefix("/*") {
            rest = after.split_once("*/").map_or("", |(_, tail)| tail);
        } else {
            break;
        }
    }
    rest.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| !w.is_empty())
        .take(count)
        .map(str::to_ascii_uppercase)
        .collect()
}

/// Splits `sql` at the semicolons outside quotes and comments; empty statements are
/// dropped.
pub(crate) fn split_statements(sql: &str) -> Vec<String> {
    let mut statements = Vec::new();
    let mut current = String::new();
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' | '"' => {
                current.push(c);
                for inner in chars.by_ref() {
                    current.push(inner);
                    // A doubled quote closes and reopens: same result.
                    if inner == c {
                        break;
                    }
                }
            }
            '-' if chars.peek() == Some(&'-') => {
                current.push(c);
                for inner in chars.by_ref() {
                    current.push(inner);
                    if inner == '\n' {
                        break;
                    }
                }
            }
            '/' if chars.peek() == Some(&'*') => {
                current.push(c);
                let mut previous = ' ';
                for inner in chars.by_ref() {
                    current.push(inner);
                    if previous == '*' && inner == '/' {
                        break;
                    }
                    previous = inner;
                }
            }
            ';' => statements.push(std::mem::take(&mut current)),
            _ => current.push(c),
        }
    }
    statements.push(current);
    statements
        .into_iter()
        .map(|s| s.trim().to_owned())
        .filter(|s| !keywords(s, 1).is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_wide_and_per_connection_statements() {
        for sql in [
            "ATTACH 'other.duckdb' AS other (READ_ONLY)",
            "attach ':memory:' as m",
            "DETACH other",
            "INSTALL httpfs",
            "LOAD json",
            "CREATE SECRET s (TYPE s3, KEY_ID 'x')",
            "CREATE PERSISTENT SECRET s (TYPE s3)",
            "CREATE OR REPLACE MACRO twice(x) AS x * 2",
            "CREATE VIEW v AS SELECT 1",
            "CREATE TABLE IF NOT EXISTS t (x INT)",
            "SET GLOBAL threads = 2",
            "RESET GLOBAL threads",
            "INSERT INTO t VALUES (1)",
            "SELECT 1",
        ] {
            assert_eq!(scope_of(sql), Scope::Database, "{sql}");
        }
        for sql in [
            "SET search_path = 'other'",
            "  set session TimeZone = 'UTC'",
            "SET LOCAL x = 1",
            "RESET search_path",
            "PRAGMA enable_progress_bar",
            "USE other",
            "-- a comment\nSET threads = 1",
            "/* c */ CREATE TEMP TABLE seen AS SELECT 7 AS x",
            "CREATE OR REPLACE TEMPORARY VIEW v AS SELECT 1",
            "create temp macro m() as 1",
        ] {
            assert_eq!(scope_of(sql), Scope::Connection, "{sql}");
        }
    }

    #[test]
    fn entries_are_split_outside_quotes_and_comments() {
        assert_eq!(
            split_statements("ATTACH 'a;b.duckdb' AS x; SET y = 'p;q' -- c;d\n; ;"),
            vec!["ATTACH 'a;b.duckdb' AS x", "SET y = 'p;q' -- c;d"]
        );
        let plan = plan(
            &["ATTACH 'x.duckdb' AS x".into()],
            &["USE x; CREATE TABLE t (i INT)".into()],
            &["CREATE TABLE per_connection_on_purpose (i INT)".into()],
        );
        let scopes: Vec<Scope> = plan.iter().map(|s| s.scope).collect();
        assert_eq!(
            scopes,
            vec![
                Scope::Database,
                Scope::Connection,
                Scope::Database,
                Scope::Connection
            ]
        );
        assert_eq!(plan[2].sql, "CREATE TABLE t (i INT)");
    }
}
