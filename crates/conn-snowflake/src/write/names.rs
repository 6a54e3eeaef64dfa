//! Table and column names as Snowflake SQL (see the parent module for the rules).

use conn_core::{Error, Result};

/// A table name of one to three parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TableName {
    parts: Vec<Part>,
}

/// One part of a name: unquoted (the server upper-cases it) or quoted (literal).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Plain(String),
    Quoted(String),
}

impl TableName {
    /// Parses `table`, `schema.table` or `database.schema.table`; a part in double
    /// quotes may hold any character (`""` for a quote).
    pub fn parse(name: &str) -> Result<TableName> {
        let invalid = |why: &str| {
            Error::InvalidArgument(format!(
                "table name {name:?}: {why} (a table name is `table`, `schema.table` or \
                 `database.schema.table`; quote a part with double quotes to keep its case \
                 or use other characters: \"My Table\")"
            ))
        };
        let mut parts = Vec::new();
        let mut chars = name.trim().chars().peekable();
        loop {
            let part = if chars.peek() == Some(&'"') {
                chars.next();
                let mut text = String::new();
                let mut closed = false;
                while let Some(c) = chars.next() {
                    if c == '"' {
                        if chars.peek() == Some(&'"') {
                            chars.next();
                            text.push('"');
                        } else {
                            closed = true;
                            break;
                        }
                    } else {
                        text.push(c);
                    }
                }
                if !closed {
                    return Err(invalid("a quote is not closed"));
                }
                if text.is_empty() {
                    return Err(invalid("a quoted part is empty"));
                }
                Part::Quoted(text)
            } else {
                let mut text = String::new();
                while let Some(&c) = chars.peek() {
                    if c == '.' {
                        break;
                    }
                    text.push(c);
                    chars.next();
                }
                if !is_plain(&text) {
                    return Err(invalid(&format!(
                        "{text:?} is not a plain identifier (letters, digits, _ and $, not \
                         starting with a digit)"
                    )));
                }
                Part::Plain(text)
            };
            parts.push(part);
            match chars.next() {
                None => break,
                Some('.') => continue,
                Some(_) => {
                    return Err(invalid(
                        "a quoted part must be followed by a dot or the end",
                    ));
                }
            }
        }
        if parts.len() > 3 {
            return Err(invalid("it has more than three parts"));
        }
        Ok(TableName { parts })
    }

    /// The name as SQL.
    pub fn sql(&self) -> String {
        self.parts
            .iter()
            .map(Part::sql)
            .collect::<Vec<_>>()
            .join(".")
    }

    /// A new table next to this one (same database and schema), for a replace.
    pub fn staging(&self) -> TableName {
        let suffix = format!("_CONN_STAGE_{}", uuid::Uuid::new_v4().simple());
        let mut parts = self.parts.clone();
        if let Some(last) = parts.last_mut() {
            *last = match last {
                Part::Plain(text) => Part::Plain(format!("{text}{}", suffix.to_ascii_uppercase())),
                Part::Quoted(text) => Part::Quoted(format!("{text}{suffix}")),
            };
        }
        TableName { parts }
    }
}

impl Part {
    fn sql(&self) -> String {
        match self {
            Part::Plain(text) => text.clone(),
            Part::Quoted(text) => quote(text),
        }
    }
}

/// A column name as SQL: plain identifiers unquoted, anything else quoted literally.
pub(crate) fn column(name: &str) -> String {
    if is_plain(name) && !is_reserved(name) {
        name.to_owned()
    } else {
        quote(name)
    }
}

fn quote(text: &str) -> String {
    format!("\"{}\"", text.replace('"', "\"\""))
}

/// Letters, digits, `_` and `$`, not starting with a digit or `$`.
fn is_plain(text: &str) -> bool {
    let mut chars = text.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$')
}

/// Words Snowflake reserves, which an unquoted column name cannot be.
fn is_reserved(name: &str) -> bool {
    const RESERVED: &[&str] = &[
        "ACCOUNT",
        "ALL",
        "ALTER",
        "AND",
        "ANY",
        "AS",
        "BETWEEN",
        "BY",
        "CASE",
        "CAST",
        "CHECK",
        "COLUMN",
        "CONNECT",
        "CONNECTION",
        "CONSTRAINT",
        "CREATE",
        "CROSS",
        "CURRENT",
        "CURRENT_DATE",
        "CURRENT_TIME",
        "CURRENT_TIMESTAMP",
        "CURRENT_USER",
        "DATABASE",
        "DELETE",
        "DISTINCT",
        "DROP",
        "ELSE",
        "EXISTS",
        "FALSE",
        "FOLLOWING",
        "FOR",
        "FROM",
        "FULL",
        "GRANT",
        "GROUP",
        "GSCLUSTER",
        "HAVING",
        "ILIKE",
        "IN",
        "INCREMENT",
        "INNER",
        "INSERT",
        "INTERSECT",
        "INTO",
        "IS",
        "ISSUE",
        "JOIN",
        "LATERAL",
        "LEFT",
        "LIKE",
        "LOCALTIME",
        "LOCALTIMESTAMP",
        "MINUS",
        "NATURAL",
        "NOT",
        "NULL",
        "OF",
        "ON",
        "OR",
        "ORDER",
        "ORGANIZATION",
        "QUALIFY",
        "REGEXP",
        "REVOKE",
        "RIGHT",
        "RLIKE",
        "ROW",
        "ROWS",
        "SAMPLE",
        "SCHEMA",
        "SELECT",
        "SET",
        "SOME",
        "START",
        "TABLE",
        "TABLESAMPLE",
        "THEN",
        "TO",
        "TRIGGER",
        "TRUE",
        "TRY_CAST",
        "UNION",
        "UNIQUE",
        "UPDATE",
        "USING",
        "VALUES",
        "VIEW",
        "WHEN",
        "WHENEVER",
        "WHERE",
        "WITH",
    ];
    RESERVED.contains(&name.to_ascii_uppercase().as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_and_print() {
        assert_eq!(TableName::parse("pets").unwrap().sql(), "pets");
        assert_eq!(
            TableName::parse("db.sch.pets").unwrap().sql(),
            "db.sch.pets"
        );
        assert_eq!(
            TableName::parse("sch.\"My \"\"Pets\"\"\"").unwrap().sql(),
            "sch.\"My \"\"Pets\"\"\""
        );
        assert_eq!(TableName::parse("\"a.b\"").unwrap().sql(), "\"a.b\"");
    }

    #[test]
    fn bad_names_say_why() {
        for (name, why) in [
            ("my table", "not a plain identifier"),
            ("\"open", "not closed"),
            ("a.b.c.d", "more than three parts"),
            ("pets; drop table x", "not a plain identifier"),
            ("1abc", "not a plain identifier"),
        ] {
            let err = TableName::parse(name).unwrap_err().to_string();
            assert!(err.contains(why), "{name}: {err}");
        }
    }

    #[test]
    fn staging_sits_next_to_the_target() {
        let staging = TableName::parse("db.sch.pets").unwrap().staging().sql();
        assert!(staging.starts_with("db.sch.pets_CONN_STAGE_"), "{staging}");
        let quoted = TableName::parse("\"Pets\"").unwrap().staging().sql();
        assert!(
            quoted.starts_with("\"Pets_CONN_STAGE_") && quoted.ends_with('"'),
            "{quoted}"
        );
    }

    #[test]
    fn columns_quote_what_is_not_plain() {
        assert_eq!(column("name"), "name");
        assert_eq!(column("Unit Price"), "\"Unit Price\"");
        assert_eq!(column("select"), "\"select\"");
        assert_eq!(column("a\"b"), "\"a\"\"b\"");
    }
}
