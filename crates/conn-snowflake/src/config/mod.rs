//! A `snowflake` connection's settings, from the same places and in the same order as
//! Streamlit's `SnowflakeConnection` and the Python connector read them:
//!
//! 1. the `[connections.<name>]` secrets section, environment variables and options in
//!    code (what the factory resolved);
//! 2. the `connections.toml` section that `connection_name` names, under them; with
//!    none of those, the section named like the connection (for the name `snowflake`:
//!    the default connection);
//! 3. in Snowpark Container Services (`SNOWFLAKE_ACCOUNT`, `SNOWFLAKE_HOST` and the
//!    token file all present), the container's account, host and OAuth token, lowest.

mod connections_toml;
pub(crate) mod keys;
mod spcs;

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use conn_core::{ConnectionConfig, Error, Kind, Map, Result, Secret, Source, Ttl};

use connections_toml::ConnectionsFile;

/// How long a login may take unless `login_timeout` says otherwise (the Python
/// connector's default is 120 s; conn's connect_timeout applies too).
const DEFAULT_LOGIN_TIMEOUT: Duration = Duration::from_secs(60);
/// How long one HTTP request may take unless `network_timeout` says otherwise. The
/// server holds a query request for at most about 45 s before it answers "still
/// running", so a longer wait means the network or the server is gone.
const DEFAULT_NETWORK_TIMEOUT: Duration = Duration::from_secs(90);
/// Result chunks downloaded at once unless `client_prefetch_threads` says otherwise.
const DEFAULT_CHUNK_CONCURRENCY: usize = 4;
/// Rows in one INSERT of `write_table` unless `write_chunk_rows` says otherwise.
const DEFAULT_WRITE_CHUNK_ROWS: usize = 10_000;
/// How often a keep-alive heartbeat is sent (the Python connector's default: 1 hour).
const DEFAULT_HEARTBEAT: Duration = Duration::from_secs(3600);

/// The resolved settings of one `snowflake` connection. `Debug` shows no secret.
#[derive(Clone)]
pub(crate) struct Settings {
    /// The account as configured (`xy12345.us-east-2.aws`).
    pub account: String,
    /// The account name the login and key-pair tokens carry: upper case, before the
    /// first dot.
    pub account_name: String,
    /// The login name (empty for OAuth without one).
    pub user: String,
    pub auth: Login,
    pub role: Option<String>,
    pub warehouse: Option<String>,
    pub database: Option<String>,
    pub schema: Option<String>,
    /// Session parameters sent at login (`QUERY_TAG`, `TIMEZONE`, ...).
    pub session_parameters: serde_json::Map<String, serde_json::Value>,
    /// `protocol://host:port`, without a trailing slash.
    pub base_url: String,
    pub login_timeout: Duration,
    /// Where `login_timeout` was set, for its timeout error.
    pub login_timeout_at: Source,
    pub network_timeout: Duration,
    /// Statements running longer are aborted on the server; where it was set.
    pub query_timeout: Option<(Duration, Source)>,
    /// Send heartbeats so that the session does not expire while idle.
    pub keep_alive: bool,
    pub heartbeat_every: Duration,
    /// Result chunks downloaded at once.
    pub chunk_concurrency: usize,
    /// At most this many rows go in one INSERT of `write_table` (write_pandas'
    /// `chunk_size`).
    pub write_chunk_rows: usize,
}

/// How the connection logs in.
#[derive(Clone)]
pub(crate) enum Login {
    /// User name and password.
    Password(Secret),
    /// Key pair: an RS256 JWT signed with this PKCS#8 key.
    KeyPair {
        key: KeySource,
        passphrase: Option<Secret>,
    },
    /// An OAuth access token.
    OAuth(TokenSource),
    /// A programmatic access token.
    ProgrammaticAccessToken(TokenSource),
}

/// Where a private key is.
#[derive(Clone)]
pub(crate) enum KeySource {
    /// A PEM file (read at each login).
    File(PathBuf),
    /// PEM text given in the configuration.
    Pem(Secret),
}

/// Where a token is.
#[derive(Clone)]
pub(crate) enum TokenSource {
    /// Given in the configuration.
    Value(Secret),
    /// A file read at each login (container tokens are rotated).
    File(PathBuf),
}

impl Login {
    /// The `AUTHENTICATOR` a login sends (none for passwords).
    pub fn authenticator(&self) -> Option<&'static str> {
        match self {
            Login::Password(_) => None,
            Login::KeyPair { .. } => Some("SNOWFLAKE_JWT"),
            Login::OAuth(_) => Some("OAUTH"),
            Login::ProgrammaticAccessToken(_) => Some("PROGRAMMATIC_ACCESS_TOKEN"),
        }
    }
}

impl fmt::Debug for Login {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Login::Password(_) => "Password(***)",
            Login::KeyPair { .. } => "KeyPair(***)",
            Login::OAuth(_) => "OAuth(***)",
            Login::ProgrammaticAccessToken(_) => "ProgrammaticAccessToken(***)",
        })
    }
}

impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Settings")
            .field("account", &self.account)
            .field("user", &self.user)
            .field("auth", &self.auth)
            .field("role", &self.role)
            .field("warehouse", &self.warehouse)
            .field("database", &self.database)
            .field("schema", &self.schema)
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

/// The configuration with the Snowflake layers merged under it: what every key is
/// read from (errors then name `connections.toml` and its line where a value came
/// from there).
pub(crate) fn merged(config: &ConnectionConfig) -> Result<ConnectionConfig> {
    let env = config.env();
    // Any configuration of its own (secrets, variables, options in code) defines the
    // connection, as in the original; connections.toml comes in through
    // `connection_name`, or when there is nothing else.
    let own = config.values().keys().any(|key| key != "type");
    let file_section = if let Some(wanted) = config.get_as::<String>("connection_name")? {
        let file = ConnectionsFile::load(env)?.ok_or_else(|| {
            config.invalid_value(
                "connection_name",
                format!(
                    "names the connection \"{wanted}\" of connections.toml, but there is no \
                     connections.toml (looked in $SNOWFLAKE_HOME, ~/.snowflake and \
                     $SNOWFLAKE_CONNECTIONS)"
                ),
            )
        })?;
        let section = file.section(&wanted)?.ok_or_else(|| {
            config.invalid_value(
                "connection_name",
                format!(
                    "{} has no connection \"{wanted}\" (it has: {})",
                    file.origin,
                    list(&file.names())
                ),
            )
        })?;
        Some(section)
    } else if own {
        None
    } else {
        match ConnectionsFile::load(env)? {
            Some(file) => {
                let wanted = if config.name() == "snowflake" {
                    file.default_name().to_owned()
                } else {
                    config.name().to_owned()
                };
                file.section(&wanted)?
            }
            None => None,
        }
    };
    let mut upper = file_section.unwrap_or_default();
    conn_core::plugin::merge_over(&mut upper, config.values().clone());
    if upper.contains_key("account") {
        return Ok(config.with_values(upper));
    }
    let mut values = spcs::layer(env, std::path::Path::new(spcs::TOKEN_FILE), &upper);
    conn_core::plugin::merge_over(&mut values, upper);
    Ok(config.with_values(values))
}

impl Settings {
    /// Reads the settings from the merged configuration (see [`merged`]). No I/O
    /// besides the configuration files: key and token files are read at login.
    pub fn from_config(config: &ConnectionConfig) -> Result<Settings> {
        config.check_keys(keys::KNOWN)?;
        for (key, reason) in keys::IGNORED {
            if config.get(key).is_some() {
                config.note_ignored(key, *reason);
            }
        }
        let account: String = config
            .get_as("account")?
            .ok_or_else(|| missing_config(config))?;
        let account = account.trim().to_owned();
        if account.is_empty() {
            return Err(config.invalid_value("account", "must not be empty"));
        }
        let account_name = account
            .split('.')
            .next()
            .unwrap_or_default()
            .to_ascii_uppercase();
        let auth = auth(config)?;
        let user: Option<String> = config.get_as("user")?;
        let user = match (user, &auth) {
            (Some(user), _) => user,
            (None, Login::OAuth(_)) => String::new(),
            (None, _) => return Err(config.missing("user", "")),
        };
        let protocol: String = config
            .get_as("protocol")?
            .unwrap_or_else(|| "https".to_owned());
        let protocol = protocol.to_ascii_lowercase();
        if protocol != "https" && protocol != "http" {
            return Err(config.invalid_value("protocol", "must be \"https\" or \"http\""));
        }
        // The connector's old `region` key: the account's region, when the account does
        // not name one itself.
        let region: Option<String> = config.get_as("region")?;
        let account_host = match region.as_deref().map(str::trim) {
            // As the Python connector builds the host: us-west-2 is the default region
            // and adds nothing (the account stays whole); another region replaces one
            // in `account`.
            Some("us-west-2") => account.clone(),
            Some(region) if !region.is_empty() => {
                format!("{}.{region}", account.split('.').next().unwrap_or_default())
            }
            _ => account.clone(),
        };
        let host: String = config.get_as("host")?.unwrap_or_else(|| {
            format!(
                "{}.snowflakecomputing.com",
                account_host.to_ascii_lowercase()
            )
        });
        let port: u16 = match config.get_as::<u16>("port")? {
            Some(port) => port,
            None if protocol == "http" => 80,
            None => 443,
        };
        let base_url = format!("{protocol}://{host}:{port}");
        url::Url::parse(&base_url)
            .map_err(|e| config.invalid_value("host", format!("does not make a URL: {e}")))?;

        let mut session_parameters = match config.get("session_parameters") {
            None => serde_json::Map::new(),
            Some(value) => match (value.kind(), conn_core::plugin::map_to_json(&single(value))) {
                (Kind::Table(_), serde_json::Value::Object(mut outer)) => match outer.remove("v") {
                    Some(serde_json::Value::Object(inner)) => inner,
                    _ => serde_json::Map::new(),
                },
                _ => {
                    return Err(config.invalid_value(
                        "session_parameters",
                        "expected a table such as { QUERY_TAG = \"app\" }",
                    ));
                }
            },
        };
        if let Some(zone) = config.get_as::<String>("timezone")? {
            session_parameters.insert("TIMEZONE".into(), serde_json::Value::String(zone));
        }

        let keep_alive = config
            .get_as::<bool>("client_session_keep_alive")?
            .unwrap_or(false);
        let heartbeat_every = seconds(config, "client_session_keep_alive_heartbeat_frequency")?
            .unwrap_or(DEFAULT_HEARTBEAT)
            .clamp(Duration::from_secs(1), DEFAULT_HEARTBEAT);
        let chunk_concurrency = match config.get_as::<usize>("client_prefetch_threads")? {
            Some(0) => {
                return Err(config.invalid_value("client_prefetch_threads", "must be at least 1"));
            }
            Some(n) => n.min(32),
            None => DEFAULT_CHUNK_CONCURRENCY,
        };
        let write_chunk_rows = match config.get_as::<usize>("write_chunk_rows")? {
            Some(0) => return Err(config.invalid_value("write_chunk_rows", "must be at least 1")),
            Some(n) => n,
            None => DEFAULT_WRITE_CHUNK_ROWS,
        };
        Ok(Settings {
            account,
            account_name,
            user,
            auth,
            role: config.get_as("role")?,
            warehouse: config.get_as("warehouse")?,
            database: config.get_as("database")?,
            schema: config.get_as("schema")?,
            session_parameters,
            base_url,
            login_timeout: seconds(config, "login_timeout")?.unwrap_or(DEFAULT_LOGIN_TIMEOUT),
            login_timeout_at: config
                .get("login_timeout")
                .map_or(Source::Default, |v| v.source().clone()),
            network_timeout: seconds(config, "network_timeout")?.unwrap_or(DEFAULT_NETWORK_TIMEOUT),
            query_timeout: seconds(config, "query_timeout")?.map(|after| {
                let at = config.get("query_timeout").map(|v| v.source().clone());
                (after, at.unwrap_or(Source::Default))
            }),
            keep_alive,
            heartbeat_every,
            chunk_concurrency,
            write_chunk_rows,
        })
    }
}

/// The original's message when nothing configures the connection.
fn missing_config(config: &ConnectionConfig) -> Error {
    if config.values().keys().all(|key| key == "type") {
        Error::InvalidArgument(format!(
            "Missing Snowflake connection configuration for connection \"{}\". Did you forget \
             to set this in `secrets.toml` ([connections.{}]), a Snowflake configuration file \
             (~/.snowflake/connections.toml), or as options in code?",
            config.name(),
            config.name()
        ))
    } else {
        config.missing("account", "")
    }
}

/// The authentication the keys ask for.
fn auth(config: &ConnectionConfig) -> Result<Login> {
    let authenticator: Option<String> = config.get_as("authenticator")?;
    let kind = authenticator
        .as_deref()
        .map(|a| a.trim().to_ascii_lowercase())
        .unwrap_or_default();
    let key_pair = || -> Result<Login> {
        let key = match (
            config.get_as::<PathBuf>("private_key_file")?,
            config.get_as::<String>("private_key")?,
        ) {
            (Some(path), _) => KeySource::File(path),
            (None, Some(pem)) => KeySource::Pem(pem.into()),
            (None, None) => {
                return Err(config.missing("private_key_file", ", or `private_key`"));
            }
        };
        Ok(Login::KeyPair {
            key,
            passphrase: config
                .get_as::<String>("private_key_file_pwd")?
                .map(Secret::from),
        })
    };
    let token = |what: &str| -> Result<TokenSource> {
        match (
            config.get_as::<String>("token")?,
            config.get_as::<PathBuf>("token_file_path")?,
        ) {
            (Some(token), _) => Ok(TokenSource::Value(token.into())),
            (None, Some(path)) => Ok(TokenSource::File(path)),
            (None, None) => {
                Err(config.missing("token", &format!(", or `token_file_path` ({what})")))
            }
        }
    };
    match kind.as_str() {
        "" | "snowflake" => {
            if config.get("private_key_file").is_some() || config.get("private_key").is_some() {
                return key_pair();
            }
            match config.get_as::<String>("password")? {
                Some(password) => Ok(Login::Password(password.into())),
                None => Err(config.missing(
                    "password",
                    ", or `private_key_file` (key pair), or an `authenticator`",
                )),
            }
        }
        "snowflake_jwt" => key_pair(),
        "oauth" => Ok(Login::OAuth(token("OAuth")?)),
        "programmatic_access_token" => Ok(Login::ProgrammaticAccessToken(token(
            "programmatic access token",
        )?)),
        other if keys::INTERACTIVE.contains(&other) || other.contains("okta") => Err(config
            .invalid_value(
                "authenticator",
                format!(
                    "\"{other}\" needs a person at a browser or a phone, which conn cannot \
                     be; use one of: {}",
                    keys::SUPPORTED_AUTH
                ),
            )),
        other => Err(config.invalid_value(
            "authenticator",
            format!(
                "\"{other}\" is not known; use one of: {}",
                keys::SUPPORTED_AUTH
            ),
        )),
    }
}

/// A duration key: seconds (`30`, `2.5`) or text with a unit (`"500ms"`, `"2m"`).
fn seconds(config: &ConnectionConfig, key: &str) -> Result<Option<Duration>> {
    let Some(value) = config.get(key) else {
        return Ok(None);
    };
    let parsed = match value.kind() {
        Kind::Integer(i) => u64::try_from(*i).ok().map(Duration::from_secs),
        Kind::Float(f) if f.is_finite() && *f >= 0.0 => Some(Duration::from_secs_f64(*f)),
        Kind::String(text) => match text.trim().parse::<f64>() {
            Ok(f) if f.is_finite() && f >= 0.0 => Some(Duration::from_secs_f64(f)),
            _ => match text.parse::<Ttl>() {
                Ok(Ttl::After(d)) => Some(d),
                _ => None,
            },
        },
        _ => None,
    };
    match parsed {
        Some(d) if !d.is_zero() => Ok(Some(d)),
        Some(_) => Ok(None),
        None => Err(config.invalid_value(
            key,
            "expected seconds (`30`, `2.5`) or a duration such as \"500ms\" or \"2m\"",
        )),
    }
}

/// `value` as the only entry (`v`) of a map, to convert it with `map_to_json`.
fn single(value: &conn_core::Value) -> Map {
    Map::from([("v".to_owned(), value.clone())])
}

fn list(names: &[&str]) -> String {
    if names.is_empty() {
        "none".to_owned()
    } else {
        names.join(", ")
    }
}

#[cfg(test)]
mod tests;
