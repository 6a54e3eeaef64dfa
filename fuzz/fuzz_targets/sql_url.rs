//! A `sql` connection's configuration: a SQLAlchemy URL, or its parts, translated to
//! the URL sqlx connects with.
//!
//! Input: the TOML of a `[connections.<name>]` section. Asserts: never a panic; an
//! error names a configuration key; a password never appears in an error or in the
//! resolved configuration's `Debug` (unless it appears there as well when the password
//! is another text: a key name, a word of conn's message); a URL keeps everything after `scheme://` as
//! written; a URL built from parts, as sqlx reads it back, has the given user name,
//! host, port and database, unchanged.
#![no_main]

use std::str::FromStr;

use conn_core::{ConnectionConfig, Kind, Value};
use conn_sql::Backend;
use conn_sql::fuzzing::resolve_url;
use libfuzzer_sys::fuzz_target;

/// The keys a `sql` connection takes, and the nested keys its errors name.
const KEYS: &[&str] = &[
    "url",
    "dialect",
    "driver",
    "username",
    "password",
    "host",
    "port",
    "database",
    "query",
    "create_engine_kwargs",
    "autocommit",
    "batch_size",
    "retry",
];

/// Every string and key of a value, to tell whether a password's text occurs elsewhere.
fn texts(value: &Value, out: &mut Vec<String>) {
    match value.kind() {
        Kind::String(s) | Kind::Datetime(s) => out.push(s.clone()),
        Kind::Array(items) => items.iter().for_each(|v| texts(v, out)),
        Kind::Table(map) => {
            for (k, v) in map {
                out.push(k.clone());
                texts(v, out);
            }
        }
        Kind::Integer(i) => out.push(i.to_string()),
        Kind::Float(f) => out.push(f.to_string()),
        _ => {}
    }
}

/// The password of a URL's user information, if it has one.
fn url_password(url: &str) -> Option<(String, String)> {
    let (scheme, rest) = url.split_once("://")?;
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    let at = authority.rfind('@')?;
    let (user, password) = authority[..at].split_once(':')?;
    let without = format!(
        "{scheme}://{user}@{}{}",
        &authority[at + 1..],
        &rest[authority_end..]
    );
    Some((password.to_owned(), without))
}

/// The same configuration with every password replaced by another text: what conn
/// shows for it anyway (a key name, a word of a message) is not the password's leak.
fn with_other_password(config: &ConnectionConfig) -> ConnectionConfig {
    const OTHER: &str = "Qw3-another-pw";
    let mut values = config.values().clone();
    if let Some(value) = values.get_mut("password")
        && value.as_str().is_some()
    {
        *value = Value::new(Kind::String(OTHER.into()), value.source().clone());
    }
    if let Some(value) = values.get_mut("url")
        && let Some(url) = value.as_str()
        && let Some((scheme, rest)) = url.split_once("://")
    {
        let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let authority = &rest[..authority_end];
        if let Some(at) = authority.rfind('@')
            && let Some((user, _)) = authority[..at].split_once(':')
        {
            let replaced = format!("{scheme}://{user}:{OTHER}{}", &rest[at..]);
            *value = Value::new(Kind::String(replaced), value.source().clone());
        }
    }
    ConnectionConfig::new(config.name(), config.type_name(), values)
}

fn string(config: &ConnectionConfig, key: &str) -> Option<String> {
    config.get(key).and_then(|v| v.as_str().map(str::to_owned))
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(config) = ConnectionConfig::from_toml("db", "sql", text, "/app/secrets.toml") else {
        return;
    };
    let result = resolve_url(&config);

    // The passwords given, and every other text of the configuration.
    let mut passwords = Vec::new();
    let mut others = vec![
        "db".to_owned(),
        "sql".to_owned(),
        "/app/secrets.toml".to_owned(),
    ];
    for (key, value) in config.values() {
        others.push(key.clone());
        match (key.as_str(), value.kind()) {
            ("password", Kind::String(p)) => passwords.push(p.clone()),
            ("url", Kind::String(url)) => match url_password(url) {
                Some((password, without)) => {
                    passwords.push(password);
                    others.push(without);
                }
                None => others.push(url.clone()),
            },
            _ => texts(value, &mut others),
        }
    }
    // A password short enough or common enough to occur in other text is not checked.
    let secret: Vec<&String> = passwords
        .iter()
        .filter(|p| p.len() >= 6 && !others.iter().any(|o| o.contains(p.as_str())))
        .collect();

    let resolved = match result {
        Err(err) => {
            let message = err.to_string();
            // A configuration with no key at all has Streamlit's message, which names
            // the places looked at instead.
            let unconfigured =
                config.is_empty() && message.starts_with("Missing SQL DB connection configuration");
            assert!(
                unconfigured || KEYS.iter().any(|k| message.contains(k)),
                "the error names no key: {message}"
            );
            let other = match resolve_url(&with_other_password(&config)) {
                Err(err) => err.to_string(),
                Ok(resolved) => resolved.debug,
            };
            for p in &secret {
                assert!(
                    !message.contains(p.as_str()) || other.contains(p.as_str()),
                    "the error shows the password: {message}"
                );
            }
            return;
        }
        Ok(resolved) => resolved,
    };
    let other = match resolve_url(&with_other_password(&config)) {
        Err(err) => err.to_string(),
        Ok(resolved) => resolved.debug,
    };
    for p in &secret {
        assert!(
            !resolved.debug.contains(p.as_str()) || other.contains(p.as_str()),
            "Debug shows the password: {}",
            resolved.debug
        );
    }

    if let Some(url) = string(&config, "url") {
        // Only the scheme is rewritten.
        if let Some((_, rest)) = url.split_once("://")
            && resolved.backend != Backend::Sqlite
        {
            assert!(
                resolved.url.ends_with(rest),
                "{url} became {}",
                resolved.url
            );
            assert!(resolved.url.len() - rest.len() <= "postgres://".len());
        }
        return;
    }
    if resolved.backend == Backend::Sqlite {
        let database = string(&config, "database").filter(|d| !d.is_empty() && d != ":memory:");
        assert_eq!(
            resolved
                .sqlite_file
                .as_ref()
                .map(|p| p.to_string_lossy().into_owned()),
            database,
            "the SQLite file changed"
        );
        return;
    }
    // From parts: what sqlx reads back is what was given.
    let username = string(&config, "username").unwrap_or_default();
    let host = string(&config, "host").unwrap_or_default();
    let database = string(&config, "database");
    let port = config.get("port").and_then(Value::as_integer);
    let query_overrides = config
        .get("query")
        .and_then(Value::as_table)
        .is_some_and(|q| {
            q.keys().any(|k| {
                [
                    "host", "hostaddr", "port", "dbname", "user", "password", "socket",
                ]
                .contains(&k.as_str())
            })
        });
    if query_overrides {
        return;
    }
    let read_back = match resolved.backend {
        Backend::Postgres => sqlx::postgres::PgConnectOptions::from_str(&resolved.url).map(|o| {
            (
                o.get_username().to_owned(),
                o.get_host().to_owned(),
                o.get_port(),
                o.get_database().map(str::to_owned),
                o.get_socket().is_some(),
            )
        }),
        _ => sqlx::mysql::MySqlConnectOptions::from_str(&resolved.url).map(|o| {
            (
                o.get_username().to_owned(),
                o.get_host().to_owned(),
                o.get_port(),
                o.get_database().map(str::to_owned),
                o.get_socket().is_some(),
            )
        }),
    };
    let Ok((got_user, got_host, got_port, got_database, socket)) = read_back else {
        // sqlx refusing the URL is an error at connect time, not a changed value.
        return;
    };
    if !username.is_empty() {
        assert_eq!(
            got_user, username,
            "the user name changed ({})",
            resolved.url
        );
    }
    if !host.is_empty() && !socket {
        let expected = if host.contains(':') && !host.starts_with('[') {
            format!("[{host}]")
        } else {
            host.clone()
        };
        // An IPv6 address may come back in its canonical form (`::0` as `::`).
        let v6 = |h: &str| {
            h.trim_start_matches('[')
                .trim_end_matches(']')
                .parse::<std::net::Ipv6Addr>()
                .ok()
        };
        if v6(&got_host).is_none() || v6(&got_host) != v6(&expected) {
            assert_eq!(got_host, expected, "the host changed ({})", resolved.url);
        }
    }
    if let Some(port) = port {
        assert_eq!(i64::from(got_port), port, "the port changed");
    }
    if let Some(database) = database.filter(|d| !d.is_empty()) {
        assert_eq!(
            got_database.as_deref(),
            Some(database.as_str()),
            "the database changed"
        );
    }
});
