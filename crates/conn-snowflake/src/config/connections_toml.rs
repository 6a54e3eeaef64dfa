//! The Snowflake tools' own configuration: `connections.toml` (in `$SNOWFLAKE_HOME`, by
//! default `~/.snowflake`), or the whole file's text in `SNOWFLAKE_CONNECTIONS`, and
//! the default connection's name (`SNOWFLAKE_DEFAULT_CONNECTION_NAME`, else
//! `default_connection_name` in `config.toml`, else `default`), read the way the
//! Python connector reads them. Values keep their file and line for error messages.

use std::path::{Path, PathBuf};

use conn_core::{Env, Error, Kind, Map, Result, Secrets};

/// The variable holding the whole `connections.toml` text.
const CONNECTIONS_VAR: &str = "SNOWFLAKE_CONNECTIONS";
/// The variable naming the folder of `connections.toml` and `config.toml`.
const HOME_VAR: &str = "SNOWFLAKE_HOME";
/// The variable naming the default connection.
const DEFAULT_NAME_VAR: &str = "SNOWFLAKE_DEFAULT_CONNECTION_NAME";

/// The parsed `connections.toml` (or `SNOWFLAKE_CONNECTIONS`).
#[derive(Debug)]
pub(crate) struct ConnectionsFile {
    /// Where it came from, for messages.
    pub origin: String,
    sections: Map,
    default_name: String,
}

impl ConnectionsFile {
    /// Reads the file the environment points to; `None` when there is none.
    ///
    /// A file that others than its owner may write is refused, as the Python connector
    /// refuses it: anyone who can change it can point the connection elsewhere.
    pub fn load(env: &Env) -> Result<Option<ConnectionsFile>> {
        let home = snowflake_home(env);
        let default_name = default_connection_name(env, home.as_deref())?;
        if let Some(text) = env.get(CONNECTIONS_VAR).filter(|t| !t.trim().is_empty()) {
            let origin = format!("${CONNECTIONS_VAR}");
            return parse(&text, Path::new(&origin), default_name).map(Some);
        }
        let Some(home) = home else { return Ok(None) };
        let path = home.join("connections.toml");
        let Some(text) = read_private(&path)? else {
            return Ok(None);
        };
        parse(&text, &path, default_name).map(Some)
    }

    /// The name of the default connection.
    pub fn default_name(&self) -> &str {
        &self.default_name
    }

    /// The section `name`, if the file has it.
    pub fn section(&self, name: &str) -> Result<Option<Map>> {
        match self.sections.get(name).map(|v| (v.kind(), v.source())) {
            None => Ok(None),
            Some((Kind::Table(map), _)) => Ok(Some(map.clone())),
            Some((_, at)) => Err(Error::InvalidArgument(format!(
                "[{name}] in {} ({at}) must be a table of connection settings",
                self.origin
            ))),
        }
    }

    /// The sections' names, sorted, for "no such connection" messages.
    pub fn names(&self) -> Vec<&str> {
        self.sections
            .iter()
            .filter(|(_, v)| v.as_table().is_some())
            .map(|(k, _)| k.as_str())
            .collect()
    }
}

fn parse(text: &str, path: &Path, default_name: String) -> Result<ConnectionsFile> {
    let secrets = Secrets::from_toml_str(text, path, None)?;
    Ok(ConnectionsFile {
        origin: path.display().to_string(),
        sections: secrets.root().clone(),
        default_name,
    })
}

/// `$SNOWFLAKE_HOME`, else `~/.snowflake`.
fn snowflake_home(env: &Env) -> Option<PathBuf> {
    if let Some(home) = env.get(HOME_VAR).filter(|h| !h.is_empty()) {
        return Some(expand_home(&home, env));
    }
    env.get("HOME")
        .filter(|h| !h.is_empty())
        .map(|h| Path::new(&h).join(".snowflake"))
}

fn expand_home(path: &str, env: &Env) -> PathBuf {
    match (path.strip_prefix("~/"), env.get("HOME")) {
        (Some(rest), Some(home)) => Path::new(&home).join(rest),
        _ => PathBuf::from(path),
    }
}

/// `SNOWFLAKE_DEFAULT_CONNECTION_NAME`, else `default_connection_name` in
/// `config.toml`, else `default`.
fn default_connection_name(env: &Env, home: Option<&Path>) -> Result<String> {
    if let Some(name) = env.get(DEFAULT_NAME_VAR).filter(|n| !n.trim().is_empty()) {
        return Ok(name.trim().to_owned());
    }
    if let Some(home) = home {
        let path = home.join("config.toml");
        if let Some(text) = read_private(&path)? {
            let secrets = Secrets::from_toml_str(&text, &path, None)?;
            if let Some(value) = secrets.root().get("default_connection_name") {
                return value.as_str().map(str::to_owned).ok_or_else(|| {
                    Error::InvalidArgument(format!(
                        "default_connection_name in {} ({}) must be text",
                        path.display(),
                        value.source()
                    ))
                });
            }
        }
    }
    Ok("default".to_owned())
}

/// The text of `path`, or `None` if it does not exist; an error if it cannot be read or
/// if its group or others may write it.
fn read_private(path: &Path) -> Result<Option<String>> {
    let metadata = match std::fs::metadata(path) {
        Ok(metadata) => metadata,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(Error::InvalidArgument(format!(
                "cannot read {}: {e}",
                path.display()
            )));
        }
    };
    refuse_shared_writes(path, &metadata)?;
    std::fs::read_to_string(path)
        .map(Some)
        .map_err(|e| Error::InvalidArgument(format!("cannot read {}: {e}", path.display())))
}

#[cfg(unix)]
fn refuse_shared_writes(path: &Path, metadata: &std::fs::Metadata) -> Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    let mode = metadata.permissions().mode() & 0o777;
    if mode & 0o022 != 0 {
        return Err(Error::InvalidArgument(format!(
            "{} may be changed by other users (mode {mode:03o}), so its Snowflake settings \
             cannot be trusted; make it private with `chmod 600 {}`",
            path.display(),
            path.display()
        )));
    }
    Ok(())
}

#[cfg(not(unix))]
fn refuse_shared_writes(_path: &Path, _metadata: &std::fs::Metadata) -> Result<()> {
    Ok(())
}
