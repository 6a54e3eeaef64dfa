//! Table and column names for `write_table`: how a name given as a string becomes
//! quoted SQL, and the length limits each database puts on identifiers.
//!
//! A column name is always one identifier, quoted whole: dots, quotes, spaces and any
//! character are part of the name. A table name is one identifier, or two separated by
//! a dot (`schema.table`; a MySQL database counts as the schema). Either part may be
//! wrapped in double quotes or backticks (the wrapping character doubled inside stands
//! for itself), which is how a table whose name contains a dot is named:
//! `"my.table"`, `analytics."my.table"`. Parts are taken literally, never case-folded.

use std::sync::atomic::{AtomicU64, Ordering};

use conn_core::{Error, Result};

use crate::config::Backend;

/// PostgreSQL keeps the first 63 bytes of an identifier (NAMEDATALEN - 1) and drops the
/// rest, so two long names can collide; longer names are refused instead.
pub(crate) const POSTGRES_MAX_BYTES: usize = 63;
/// MySQL and MariaDB refuse identifiers over 64 characters.
pub(crate) const MYSQL_MAX_CHARS: usize = 64;

/// A table name, optionally schema-qualified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TableName {
    pub(crate) schema: Option<String>,
    pub(crate) table: String,
}

impl TableName {
    /// Parses a table name as described in the module documentation.
    pub(crate) fn parse(name: &str) -> Result<TableName> {
        let invalid = |why: &str| {
            Error::InvalidArgument(format!(
                "table name {name:?}: {why} (a table name is `table` or `schema.table`; wrap a \
                 part in double quotes or backticks when it contains a dot: \"my.table\")"
            ))
        };
        let mut parts = Vec::new();
        let mut chars = name.chars().peekable();
        loop {
            let mut part = String::new();
            match chars.peek().copied() {
                Some(quote @ ('"' | '`')) => {
                    chars.next();
                    let mut closed = false;
                    while let Some(c) = chars.next() {
                        if c == quote {
                            if chars.peek() == Some(&quote) {
                                chars.next();
                                part.push(quote);
                            } else {
                                closed = true;
                                break;
                            }
                        } else {
                            part.push(c);
                        }
                    }
                    if !closed {
                        return Err(invalid("a quoted part is not closed"));
                    }
                    match chars.peek() {
                        None | Some('.') => {}
                        Some(_) => {
                            return Err(invalid("text follows a closing quote"));
                        }
                    }
                }
                _ => {
                    while let Some(&c) = chars.peek() {
                        if c == '.' {
                            break;
                        }
                        part.push(c);
                        chars.next();
                    }
                }
            }
            if part.is_empty() {
                return Err(invalid("a part is empty"));
            }
            parts.push(part);
            match chars.next() {
                None => break,
                Some(_dot) => {}
            }
        }
        match <[String; 2]>::try_from(parts) {
            Ok([schema, table]) => Ok(TableName {
                schema: Some(schema),
                table,
            }),
            Err(parts) if parts.len() == 1 => Ok(TableName {
                schema: None,
                table: parts.into_iter().next().unwrap_or_default(),
            }),
            Err(_) => Err(invalid("it has more than two parts")),
        }
    }

    /// The name as SQL: each part quoted whole.
    pub(crate) fn quoted(&self, backend: Backend) -> String {
        match &self.schema {
            Some(schema) => format!(
                "{}.{}",
                quote_ident(schema, backend),
                quote_ident(&self.table, backend)
            ),
            None => quote_ident(&self.table, backend),
        }
    }

    /// Another table in the same schema.
    pub(crate) fn sibling(&self, table: String) -> TableName {
        TableName {
            schema: self.schema.clone(),
            table,
        }
    }

    /// Checks both parts against the database's identifier limit.
    pub(crate) fn check_length(&self, backend: Backend) -> Result<()> {
        if let Some(schema) = &self.schema {
            check_identifier(schema, "schema name", backend)?;
        }
        check_identifier(&self.table, "table name", backend)
    }
}

impl std::fmt::Display for TableName {
    /// The name in PostgreSQL's quoting, for messages.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.quoted(Backend::Postgres))
    }
}

/// One identifier, quoted whole for `backend`.
pub(crate) fn quote_ident(ident: &str, backend: Backend) -> String {
    match backend {
        Backend::MySql => format!("`{}`", ident.replace('`', "``")),
        Backend::Postgres | Backend::Sqlite => format!("\"{}\"", ident.replace('"', "\"\"")),
    }
}

/// Refuses an identifier the database would truncate or reject for its length.
pub(crate) fn check_identifier(ident: &str, what: &str, backend: Backend) -> Result<()> {
    match backend {
        Backend::Postgres if ident.len() > POSTGRES_MAX_BYTES => {
            Err(Error::InvalidArgument(format!(
                "{what} {ident:?} is {} bytes; PostgreSQL keeps only the first \
                 {POSTGRES_MAX_BYTES} bytes of an identifier (two long names could collide), \
                 so conn-sql refuses it: use a shorter name",
                ident.len()
            )))
        }
        Backend::MySql if ident.chars().count() > MYSQL_MAX_CHARS => {
            Err(Error::InvalidArgument(format!(
                "{what} {ident:?} is {} characters; MySQL allows at most {MYSQL_MAX_CHARS}",
                ident.chars().count()
            )))
        }
        _ => Ok(()),
    }
}

/// A table name for a temporary table next to `table` (MySQL's replace): a prefix of
/// `table` (shortened so the whole stays within MySQL's 64 characters), the role
/// (`new` or `old`) and a suffix unique to this process and moment.
pub(crate) fn temporary_name(table: &str, role: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let mixed = (u64::from(nanos) << 20)
        ^ (u64::from(std::process::id()) << 4)
        ^ COUNTER.fetch_add(1, Ordering::Relaxed);
    let suffix = format!("__conn_{role}_{:012x}", mixed & 0xffff_ffff_ffff);
    let keep = MYSQL_MAX_CHARS.saturating_sub(suffix.chars().count());
    let prefix: String = table.chars().take(keep).collect();
    format!("{prefix}{suffix}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(name: &str) -> (Option<String>, String) {
        let t = TableName::parse(name).unwrap();
        (t.schema, t.table)
    }

    #[test]
    fn table_names_are_one_or_two_parts_and_quotes_protect_dots() {
        assert_eq!(parse("pets"), (None, "pets".into()));
        assert_eq!(parse("Pets"), (None, "Pets".into()));
        assert_eq!(parse("my pets"), (None, "my pets".into()));
        assert_eq!(
            parse("analytics.pets"),
            (Some("analytics".into()), "pets".into())
        );
        assert_eq!(parse("\"my.table\""), (None, "my.table".into()));
        assert_eq!(parse("`my.table`"), (None, "my.table".into()));
        assert_eq!(
            parse("analytics.\"my.\"\"odd\"\" table\""),
            (Some("analytics".into()), "my.\"odd\" table".into())
        );
        assert_eq!(parse("`a``b`.c"), (Some("a`b".into()), "c".into()));
        assert_eq!(parse("tä.blé"), (Some("tä".into()), "blé".into()));
        for bad in ["a.b.c", "", ".t", "t.", "\"open", "\"a\"b", "a..b", "\"\""] {
            let err = TableName::parse(bad).unwrap_err().to_string();
            assert!(err.starts_with(&format!("table name {bad:?}: ")), "{err}");
        }
        assert_eq!(
            TableName::parse("a.b.c").unwrap_err().to_string(),
            "table name \"a.b.c\": it has more than two parts (a table name is `table` or \
             `schema.table`; wrap a part in double quotes or backticks when it contains a dot: \
             \"my.table\")"
        );
    }

    #[test]
    fn identifiers_are_quoted_whole_per_backend() {
        assert_eq!(quote_ident("a.b", Backend::Postgres), "\"a.b\"");
        assert_eq!(
            quote_ident("say \"hi\"", Backend::Sqlite),
            "\"say \"\"hi\"\"\""
        );
        assert_eq!(quote_ident("t`x.y", Backend::MySql), "`t``x.y`");
        let name = TableName::parse("s.\"t.u\"").unwrap();
        assert_eq!(name.quoted(Backend::Postgres), "\"s\".\"t.u\"");
        assert_eq!(name.quoted(Backend::MySql), "`s`.`t.u`");
    }

    #[test]
    fn long_identifiers_are_refused_not_truncated() {
        let long = "x".repeat(64);
        let err = check_identifier(&long, "column name", Backend::Postgres)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("is 64 bytes; PostgreSQL keeps only the first 63 bytes"),
            "{err}"
        );
        // 63 bytes of multi-byte characters: 21 three-byte characters.
        check_identifier(&"€".repeat(21), "column name", Backend::Postgres).unwrap();
        assert!(check_identifier(&"€".repeat(22), "column name", Backend::Postgres).is_err());
        check_identifier(&long, "table name", Backend::MySql).unwrap();
        check_identifier(&"é".repeat(64), "table name", Backend::MySql).unwrap();
        let err = check_identifier(&"x".repeat(65), "table name", Backend::MySql)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("is 65 characters; MySQL allows at most 64"),
            "{err}"
        );
        check_identifier(&"x".repeat(500), "table name", Backend::Sqlite).unwrap();
    }

    #[test]
    fn temporary_names_fit_and_differ() {
        let long = "é".repeat(64);
        let a = temporary_name(&long, "new");
        let b = temporary_name(&long, "new");
        assert_eq!(a.chars().count(), 64);
        assert_ne!(a, b);
        assert!(a.contains("__conn_new_"));
        let short = temporary_name("src", "old");
        assert!(short.starts_with("src__conn_old_"), "{short}");
    }
}
