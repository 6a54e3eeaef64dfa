//! The `sql` connection's configuration: Streamlit's keys, SQLAlchemy's URL forms and
//! `create_engine_kwargs`, translated to sqlx.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::{LazyLock, Mutex};
use std::time::Duration;

use conn_core::{ConnectionConfig, Error, Kind, Result, RetryPolicy, Secret, Value};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// Every top-level key the `sql` type reads.
pub(crate) const KEYS: &[&str] = &[
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
    RetryPolicy::CONFIG_KEY,
];

/// The database behind a `sql` connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Backend {
    /// PostgreSQL.
    Postgres,
    /// MySQL or MariaDB.
    MySql,
    /// SQLite.
    Sqlite,
}

impl Backend {
    /// Name for messages.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Postgres => "postgresql",
            Backend::MySql => "mysql",
            Backend::Sqlite => "sqlite",
        }
    }

    /// The backend of a SQLAlchemy dialect name (`postgresql`, `mysql`, `mariadb`, ...).
    fn from_dialect(dialect: &str) -> Option<Backend> {
        match dialect.to_ascii_lowercase().as_str() {
            "postgresql" | "postgres" | "psql" | "pgsql" | "redshift+psycopg2" => {
                Some(Backend::Postgres)
            }
            "mysql" | "mariadb" => Some(Backend::MySql),
            "sqlite" | "sqlite3" => Some(Backend::Sqlite),
            _ => None,
        }
    }
}

/// Where a SQLite database lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SqliteTarget {
    /// A file (relative paths are relative to the working directory, as in SQLAlchemy).
    File(PathBuf),
    /// A private in-memory database.
    Memory,
}

/// Pool settings, from `create_engine_kwargs`.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct PoolSettings {
    pub(crate) max_connections: Option<u32>,
    pub(crate) acquire_timeout: Option<Duration>,
    pub(crate) max_lifetime: Option<Duration>,
    pub(crate) test_before_acquire: Option<bool>,
    pub(crate) log_statements: bool,
    /// `connect_args`, kept as driver options.
    pub(crate) connect_args: BTreeMap<String, String>,
}

impl PoolSettings {
    /// Applies the pool settings to a sqlx pool builder.
    pub(crate) fn apply<DB: sqlx::Database>(
        &self,
        mut pool: sqlx::pool::PoolOptions<DB>,
    ) -> sqlx::pool::PoolOptions<DB> {
        if let Some(n) = self.max_connections {
            pool = pool.max_connections(n);
        }
        if let Some(t) = self.acquire_timeout {
            pool = pool.acquire_timeout(t);
        }
        if let Some(t) = self.max_lifetime {
            pool = pool.max_lifetime(t);
        }
        if let Some(b) = self.test_before_acquire {
            pool = pool.test_before_acquire(b);
        }
        pool
    }
}

/// The resolved configuration of one `sql` connection.
/// `Debug` shows no value of `connect_args` (one may be a key's passphrase).
#[derive(Clone)]
pub(crate) struct SqlConfig {
    pub(crate) backend: Backend,
    /// The connection URL in sqlx form. Holds the password: never print it.
    pub(crate) url: Secret,
    pub(crate) sqlite: Option<SqliteTarget>,
    pub(crate) pool: PoolSettings,
    pub(crate) autocommit: bool,
    pub(crate) batch_size: usize,
}

impl std::fmt::Debug for SqlConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqlConfig")
            .field("backend", &self.backend)
            .field("url", &self.url)
            .field("batch_size", &self.batch_size)
            .field(
                "connect_args",
                &self.pool.connect_args.keys().collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

/// Characters escaped in URL user names, passwords and database names: everything but
/// unreserved characters, so `@ / # ? : %` in a password work.
const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

fn encode(text: &str) -> String {
    utf8_percent_encode(text, COMPONENT).to_string()
}

impl SqlConfig {
    pub(crate) fn from_config(config: &ConnectionConfig) -> Result<Self> {
        // The engine options are read even when a top-level key is unknown, so that
        // every unknown and ignored key is recorded (`conn explain` lists them all).
        let unknown = config.check_keys(KEYS);
        let engine_options = pool_settings(config);
        unknown?;
        let pool = engine_options?;
        if config.is_empty() {
            return Err(missing_configuration(config));
        }
        let (backend, url, sqlite) = match config.get_as::<String>("url")? {
            Some(url) => translate_url(config, &url)?,
            None => url_from_parts(config)?,
        };
        let batch_size = config.get_as::<usize>("batch_size")?.unwrap_or(65_536);
        if batch_size == 0 {
            return Err(config.invalid_value("batch_size", "must be at least 1"));
        }
        Ok(SqlConfig {
            backend,
            url: Secret::new(url),
            sqlite,
            pool,
            autocommit: config.get_as::<bool>("autocommit")?.unwrap_or(false),
            batch_size,
        })
    }
}

/// Streamlit's message for a connection with no configuration, plus where we looked.
fn missing_configuration(config: &ConnectionConfig) -> Error {
    let not_configured = config.not_configured().to_string();
    Error::InvalidArgument(format!(
        "Missing SQL DB connection configuration. Did you forget to set this in \
         `secrets.toml` or as kwargs to `st.connection`? ({not_configured})"
    ))
}

/// Splits `dialect+driver://rest` into its backend and `rest`.
fn split_scheme<'u>(config: &ConnectionConfig, url: &'u str) -> Result<(Backend, &'u str)> {
    let Some((scheme, rest)) = url.split_once("://") else {
        if url.starts_with("sqlite:") {
            return Ok((Backend::Sqlite, url.trim_start_matches("sqlite:")));
        }
        return Err(config.invalid_value(
            "url",
            "expected a URL such as postgresql://user:password@host/db or sqlite:///file.db",
        ));
    };
    let dialect = scheme.split('+').next().unwrap_or(scheme);
    Backend::from_dialect(dialect)
        .map(|backend| (backend, rest))
        .ok_or_else(|| unsupported_dialect(config, "url", dialect))
}

fn unsupported_dialect(config: &ConnectionConfig, key: &str, dialect: &str) -> Error {
    let known = ["postgresql", "mysql", "mariadb", "sqlite"];
    let hint = conn_core::plugin::did_you_mean(dialect, &known)
        .map(|s| format!("; did you mean \"{s}\"?"))
        .unwrap_or_default();
    config.invalid_value(
        key,
        format!(
            "dialect \"{dialect}\" is not supported by conn-sql{hint} Supported: postgresql, \
             mysql, mariadb, sqlite"
        ),
    )
}

/// A SQLAlchemy URL in sqlx form. `sqlite:///rel.db`, `sqlite:////abs.db`, `sqlite://`
/// (memory); `postgresql+psycopg2://...` and `mysql+pymysql://...` lose the driver.
fn translate_url(
    config: &ConnectionConfig,
    url: &str,
) -> Result<(Backend, String, Option<SqliteTarget>)> {
    let (backend, rest) = split_scheme(config, url)?;
    match backend {
        Backend::Sqlite => {
            // SQLAlchemy: sqlite:///relative, sqlite:////absolute, sqlite:// = memory.
            let (path, _query) = rest.split_once('?').unwrap_or((rest, ""));
            let path = path.strip_prefix('/').unwrap_or(path);
            let target = if path.is_empty() || path == ":memory:" {
                SqliteTarget::Memory
            } else {
                SqliteTarget::File(PathBuf::from(
                    percent_encoding::percent_decode_str(path)
                        .decode_utf8_lossy()
                        .into_owned(),
                ))
            };
            Ok((backend, String::new(), Some(target)))
        }
        Backend::Postgres => Ok((backend, format!("postgres://{rest}"), None)),
        Backend::MySql => Ok((backend, format!("mysql://{rest}"), None)),
    }
}

/// Builds the URL from `dialect`, `username`, `password`, `host`, `port`, `database`
/// and `query`, percent-encoding every part.
fn url_from_parts(config: &ConnectionConfig) -> Result<(Backend, String, Option<SqliteTarget>)> {
    // Streamlit checks these three (in set order); we check them in a fixed order.
    for required in ["dialect", "username", "host"] {
        let is_sqlite = config
            .get_as::<String>("dialect")?
            .is_some_and(|d| Backend::from_dialect(&d) == Some(Backend::Sqlite));
        if is_sqlite && required != "dialect" {
            continue;
        }
        if config.get(required).is_none() {
            return Err(Error::InvalidArgument(format!(
                "The `{required}` parameter is required. Set this SQL DB connection parameter \
                 in `secrets.toml` or pass it as a kwarg to `st.connection`. ({})",
                config.missing(required, ", or `url`")
            )));
        }
    }
    let dialect: String = config.require("dialect")?;
    let backend = Backend::from_dialect(&dialect)
        .ok_or_else(|| unsupported_dialect(config, "dialect", &dialect))?;
    if backend == Backend::Sqlite {
        let target = match config.get_as::<String>("database")? {
            None => SqliteTarget::Memory,
            Some(db) if db.is_empty() || db == ":memory:" => SqliteTarget::Memory,
            Some(db) => SqliteTarget::File(PathBuf::from(db)),
        };
        return Ok((backend, String::new(), Some(target)));
    }
    let username: String = config.require("username")?;
    let host: String = config.require("host")?;
    // The host goes into the URL as written (a host name or an IP address is never
    // percent-encoded): a character that ends the host part would silently move the
    // rest of the host into the path, the query or the fragment.
    // Characters a URL host refuses or rewrites (`<`, a non-ASCII letter, which would be
    // percent-encoded rather than turned into its IDNA form) are refused too.
    if let Some(c) = host.chars().find(|c| {
        matches!(c, '/' | '?' | '#' | '@' | '\\' | '<' | '>' | '^' | '|')
            || c.is_whitespace()
            || c.is_control()
            || !c.is_ascii()
    }) {
        return Err(config.invalid_value(
            "host",
            format!(
                "a host name cannot hold {c:?} (write an international name in its ASCII \
                 form, xn--...); for a Unix socket folder, set `query = {{ host = \"/path\" }}` \
                 (PostgreSQL) or `query = {{ socket = \"/path/mysqld.sock\" }}` (MySQL)"
            ),
        ));
    }
    let password: Option<String> = config.get_as("password")?;
    let port: Option<u16> = config.get_as("port")?;
    let database: Option<String> = config.get_as("database")?;
    let query: BTreeMap<String, String> = config.get_as("query")?.unwrap_or_default();

    let scheme = match backend {
        Backend::Postgres => "postgres",
        Backend::MySql => "mysql",
        Backend::Sqlite => "sqlite",
    };
    let mut url = format!("{scheme}://{}", encode(&username));
    if let Some(password) = password {
        url.push(':');
        url.push_str(&encode(&password));
    }
    url.push('@');
    if host.contains(':') && !host.starts_with('[') {
        url.push_str(&format!("[{host}]"));
    } else {
        url.push_str(&host);
    }
    if let Some(port) = port {
        url.push_str(&format!(":{port}"));
    }
    if let Some(database) = database {
        url.push('/');
        url.push_str(&encode(&database));
    }
    if !query.is_empty() {
        let pairs: Vec<String> = query
            .iter()
            .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
            .collect();
        url.push('?');
        url.push_str(&pairs.join("&"));
    }
    Ok((backend, url, None))
}

/// `create_engine_kwargs` keys that map to a sqlx pool setting.
const ENGINE_KEYS: &[&str] = &[
    "pool_size",
    "max_overflow",
    "pool_timeout",
    "pool_recycle",
    "pool_pre_ping",
    "connect_args",
    "echo",
];

/// SQLAlchemy `create_engine` keys with no sqlx equivalent: accepted, reported once,
/// ignored.
const ENGINE_KEYS_WITHOUT_EQUIVALENT: &[&str] = &[
    "poolclass",
    "pool_use_lifo",
    "pool_reset_on_return",
    "pool_logging_name",
    "logging_name",
    "echo_pool",
    "execution_options",
    "isolation_level",
    "future",
    "hide_parameters",
    "json_serializer",
    "json_deserializer",
    "max_identifier_length",
    "paramstyle",
    "query_cache_size",
    "insertmanyvalues_page_size",
    "use_insertmanyvalues",
    "label_length",
    "implicit_returning",
    "module",
    "plugins",
    "enable_from_linting",
    "creator",
    "strategy",
];

static REPORTED: LazyLock<Mutex<BTreeSet<String>>> = LazyLock::new(Default::default);

/// Logs once per process that `key` has no equivalent and is ignored.
fn report_ignored(key: &str) {
    let mut reported = REPORTED
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if reported.insert(key.to_owned()) {
        tracing::warn!(
            setting = key,
            "create_engine_kwargs.{key} has no equivalent in sqlx's pool and is ignored"
        );
    }
}

fn seconds(config: &ConnectionConfig, key: &str) -> Result<Option<Duration>> {
    match config.get_as::<f64>(key)? {
        None => Ok(None),
        Some(s) if s < 0.0 => Ok(None), // SQLAlchemy: pool_recycle = -1 means never
        Some(s) => Duration::try_from_secs_f64(s)
            .map(Some)
            .map_err(|_| config.invalid_value(key, "expected a number of seconds")),
    }
}

fn pool_settings(config: &ConnectionConfig) -> Result<PoolSettings> {
    let Some(kwargs) = config.get("create_engine_kwargs") else {
        return Ok(PoolSettings::default());
    };
    let Some(table) = kwargs.as_table() else {
        return Err(config.invalid_value(
            "create_engine_kwargs",
            format!("expected a table, found {}", kwargs.type_name()),
        ));
    };
    let mut first_unknown = None;
    for (key, value) in table {
        if ENGINE_KEYS.contains(&key.as_str()) {
            continue;
        }
        let dotted = format!("create_engine_kwargs.{key}");
        if ENGINE_KEYS_WITHOUT_EQUIVALENT.contains(&key.as_str()) {
            report_ignored(key);
            config.note_ignored(
                &dotted,
                "SQLAlchemy's create_engine option has no equivalent in sqlx's pool",
            );
            continue;
        }
        let all: Vec<&str> = ENGINE_KEYS
            .iter()
            .chain(ENGINE_KEYS_WITHOUT_EQUIVALENT)
            .copied()
            .collect();
        let suggestion = conn_core::plugin::did_you_mean(key, &all).map(str::to_owned);
        config.note_unknown(&dotted, suggestion.clone());
        first_unknown.get_or_insert((dotted, value.source().clone(), suggestion));
    }
    if let Some((key, at, suggestion)) = first_unknown {
        let mut known: Vec<String> = ENGINE_KEYS.iter().map(|k| (*k).to_owned()).collect();
        known.sort();
        return Err(conn_core::ConfigError::UnknownKey {
            connection: config.name().to_owned(),
            type_name: "sql".into(),
            key,
            at,
            suggestion,
            known,
        }
        .into());
    }
    let pool_size: Option<u32> = config.get_as("create_engine_kwargs.pool_size")?;
    let max_overflow: Option<i64> = config.get_as("create_engine_kwargs.max_overflow")?;
    let max_connections = match (pool_size, max_overflow) {
        (None, None) => None,
        // SQLAlchemy: at most pool_size + max_overflow connections (defaults 5 and 10;
        // a negative overflow means no limit, which sqlx cannot express: keep its own).
        (size, overflow) => {
            let size = size.unwrap_or(5);
            match overflow {
                Some(o) if o < 0 => None,
                Some(o) => Some(size.saturating_add(u32::try_from(o).unwrap_or(u32::MAX))),
                None => Some(size.saturating_add(10)),
            }
        }
    };
    if max_connections == Some(0) {
        return Err(config.invalid_value(
            "create_engine_kwargs.pool_size",
            "pool_size + max_overflow must be at least 1",
        ));
    }
    let connect_args = match config.get("create_engine_kwargs.connect_args") {
        None => BTreeMap::new(),
        Some(args) => scalar_strings(config, args)?,
    };
    Ok(PoolSettings {
        max_connections,
        acquire_timeout: seconds(config, "create_engine_kwargs.pool_timeout")?,
        max_lifetime: seconds(config, "create_engine_kwargs.pool_recycle")?,
        test_before_acquire: config.get_as("create_engine_kwargs.pool_pre_ping")?,
        log_statements: config
            .get_as::<bool>("create_engine_kwargs.echo")?
            .unwrap_or(false),
        connect_args,
    })
}

fn scalar_strings(config: &ConnectionConfig, args: &Value) -> Result<BTreeMap<String, String>> {
    let Some(table) = args.as_table() else {
        return Err(config.invalid_value(
            "create_engine_kwargs.connect_args",
            format!("expected a table, found {}", args.type_name()),
        ));
    };
    table
        .iter()
        .map(|(k, v)| {
            let text = match v.kind() {
                Kind::String(s) => s.clone(),
                Kind::Integer(i) => i.to_string(),
                Kind::Float(f) => f.to_string(),
                Kind::Boolean(b) => b.to_string(),
                _ => {
                    return Err(config.invalid_value(
                        &format!("create_engine_kwargs.connect_args.{k}"),
                        "expected a string, number or boolean",
                    ));
                }
            };
            Ok((k.clone(), text))
        })
        .collect()
}

/// The configuration values that are the same whatever their order, for tests.
#[cfg(test)]
pub(crate) fn parse(toml: &str) -> Result<SqlConfig> {
    let config = ConnectionConfig::from_toml("db", "sql", toml, "/app/.streamlit/secrets.toml")?;
    SqlConfig::from_config(&config)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_in_sqlalchemy_forms() {
        let c = parse("url = \"postgresql+psycopg2://u:p@h:5432/db\"").unwrap();
        assert_eq!(
            (c.backend, c.url.expose()),
            (Backend::Postgres, "postgres://u:p@h:5432/db")
        );
        let c = parse("url = \"postgres://u@h/db\"").unwrap();
        assert_eq!(c.url.expose(), "postgres://u@h/db");
        let c = parse("url = \"mysql+pymysql://u:p@h/db?charset=utf8mb4\"").unwrap();
        assert_eq!(
            (c.backend, c.url.expose()),
            (Backend::MySql, "mysql://u:p@h/db?charset=utf8mb4")
        );
        let c = parse("url = \"mariadb://u@h/db\"").unwrap();
        assert_eq!(c.backend, Backend::MySql);
        let c = parse("url = \"sqlite:///pets.db\"").unwrap();
        assert_eq!(c.sqlite, Some(SqliteTarget::File("pets.db".into())));
        let c = parse("url = \"sqlite:////var/data/pets.db\"").unwrap();
        assert_eq!(
            c.sqlite,
            Some(SqliteTarget::File("/var/data/pets.db".into()))
        );
        let c = parse("url = \"sqlite://\"").unwrap();
        assert_eq!(c.sqlite, Some(SqliteTarget::Memory));
    }

    #[test]
    fn parts_are_percent_encoded() {
        let c = parse(
            "dialect = \"postgresql\"\nusername = \"ada lovelace\"\npassword = \"p@ss/w#rd?:%\"\n\
             host = \"localhost\"\nport = \"5432\"\ndatabase = \"my db\"\nquery = { sslmode = \"disable\" }",
        )
        .unwrap();
        assert_eq!(
            c.url.expose(),
            "postgres://ada%20lovelace:p%40ss%2Fw%23rd%3F%3A%25@localhost:5432/my%20db?sslmode=disable"
        );
        assert_eq!(format!("{:?}", c.url), "Secret(***)");
    }

    #[test]
    fn a_host_with_a_character_that_ends_the_host_part_is_an_error() {
        // Found by fuzzing (fuzz/fuzz_targets/sql_url.rs): host = "t#analytic" made the
        // URL postgres://...@t#analytic:5432/db, whose host sqlx reads as "t" (the rest
        // of the host, the port and the database became a fragment).
        for host in [
            "t#analytic",
            "/var/run/postgresql",
            "db?x",
            "a@b",
            "db host",
            "h\\x",
            "b\u{fc}cher.example",
            "a|b",
        ] {
            let err = parse(&format!(
                "dialect = \"postgresql\"\nusername = \"ada\"\nhost = {host:?}\nport = 5432\n\
                 database = \"analytics\""
            ))
            .unwrap_err()
            .to_string();
            let c = host
                .chars()
                .find(|c| !c.is_ascii_alphanumeric() && *c != '.')
                .unwrap();
            assert_eq!(
                err,
                format!(
                    "invalid `host` for connection \"db\" at /app/.streamlit/secrets.toml:3:8: \
                     a host name cannot hold {c:?} (write an international name in its \
                     ASCII form, xn--...); for a Unix socket folder, set \
                     `query = {{ host = \"/path\" }}` (PostgreSQL) or \
                     `query = {{ socket = \"/path/mysqld.sock\" }}` (MySQL)"
                ),
                "{host}"
            );
        }
        // An IPv6 address keeps working.
        let c = parse("dialect = \"mysql\"\nusername = \"root\"\nhost = \"::1\"").unwrap();
        assert_eq!(c.url.expose(), "mysql://root@[::1]");
    }

    #[test]
    fn missing_parts_use_streamlits_message() {
        let err = parse("type = \"sql\"\ndialect = \"postgresql\"\nhost = \"h\"").unwrap_err();
        assert!(
            err.to_string().starts_with(
                "The `username` parameter is required. Set this SQL DB connection parameter in \
                 `secrets.toml` or pass it as a kwarg to `st.connection`. (connection \"db\" \
                 (type sql) needs `username`, or `url`"
            ),
            "{err}"
        );
        let err = parse("").unwrap_err().to_string();
        assert!(
            err.starts_with("Missing SQL DB connection configuration. Did you forget to set this in `secrets.toml` or as kwargs to `st.connection`?"),
            "{err}"
        );
    }

    #[test]
    fn unknown_dialect_and_keys_get_suggestions() {
        let err = parse("url = \"postgresq://h/db\"").unwrap_err().to_string();
        assert_eq!(
            err,
            "invalid `url` for connection \"db\" at /app/.streamlit/secrets.toml:1:7: dialect \
             \"postgresq\" is not supported by conn-sql; did you mean \"postgresql\"? Supported: \
             postgresql, mysql, mariadb, sqlite"
        );
        let err = parse("url = \"sqlite://\"\nhots = \"x\"")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("unknown key `hots`"), "{err}");
        assert!(err.contains("did you mean \"host\"?"), "{err}");
    }

    #[test]
    fn engine_kwargs_map_to_pool_settings() {
        let c = parse(
            "url = \"sqlite://\"\n[create_engine_kwargs]\npool_size = 3\nmax_overflow = 2\n\
             pool_timeout = 7\npool_recycle = 1800\npool_pre_ping = true\nisolation_level = \"X\"\n\
             connect_args = { timeout = 5 }",
        )
        .unwrap();
        assert_eq!(c.pool.max_connections, Some(5));
        assert_eq!(c.pool.acquire_timeout, Some(Duration::from_secs(7)));
        assert_eq!(c.pool.max_lifetime, Some(Duration::from_secs(1800)));
        assert_eq!(c.pool.test_before_acquire, Some(true));
        assert_eq!(
            c.pool.connect_args.get("timeout").map(String::as_str),
            Some("5")
        );
    }

    #[test]
    fn misspelled_engine_kwarg_is_an_error_with_a_suggestion() {
        let err = parse("url = \"sqlite://\"\ncreate_engine_kwargs = { pool_sise = 3 }")
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "unknown key `create_engine_kwargs.pool_sise` for connection \"db\" (type sql) at \
             /app/.streamlit/secrets.toml:2:38; did you mean \"pool_size\"? Known keys: \
             connect_args, echo, max_overflow, pool_pre_ping, pool_recycle, pool_size, pool_timeout"
        );
    }
}
