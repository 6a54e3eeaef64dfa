//! Secrets: the `secrets.toml` files and secret directories that Streamlit reads, read
//! the same way.
//!
//! Locations, first to last (a later file replaces an earlier one's top-level keys, as in
//! Streamlit): `~/.streamlit/secrets.toml`, then `./.streamlit/secrets.toml`. The list
//! can be replaced in code ([`SecretsLocations::paths`]), by the `CONN_SECRETS_FILES`
//! variable (paths separated like `PATH`), or by `[secrets] files = [...]` in
//! `.streamlit/config.toml`. Each entry is a `.toml` file (skipped when missing) or a
//! Kubernetes-style secrets directory. String values may use `${VAR}` and
//! `${VAR:-default}`.

mod directory;
mod interpolate;
mod toml_file;

#[cfg(feature = "fuzzing")]
pub(crate) use interpolate::interpolate;

use std::fmt;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;

use crate::suggest;
use crate::value::{Env, Kind, Map, Source, Value, deserialize_value};

/// The environment variable that replaces the list of secrets locations.
pub const SECRETS_FILES_VAR: &str = "CONN_SECRETS_FILES";

/// What went wrong while reading secrets. Texts follow Streamlit's where it has one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SecretsError {
    /// A TOML file does not parse.
    #[error(
        "Error parsing secrets file at {}: {message} (at line {line}, column {column})",
        path.display()
    )]
    Parse {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: u32,
        /// 1-based column.
        column: u32,
        /// The parser's message.
        message: String,
    },
    /// A configured location is neither a `.toml` file nor a directory.
    #[error(
        "Invalid secrets path: {}: path is not a .toml file or a directory",
        path.display()
    )]
    InvalidPath {
        /// The location.
        path: PathBuf,
    },
    /// A secrets directory holds something other than folders.
    #[error(
        "{} is not a folder. To use directory based secrets, mount every secret in a \
         subfolder under the secret directory",
        path.display()
    )]
    NotAFolder {
        /// The offending entry.
        path: PathBuf,
    },
    /// A file could not be read.
    #[error("cannot read secrets at {}: {message}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The operating system's message.
        message: String,
    },
    /// A key was asked for that no secrets file defines.
    #[error(
        "secrets have no key \"{key}\"{suggestion}{where_}",
        suggestion = suggest::sentence_end(suggestion.as_deref()),
        where_ = describe_files(searched, loaded)
    )]
    MissingKey {
        /// The dotted key.
        key: String,
        /// A near name that does exist.
        suggestion: Option<String>,
        /// Every location that was looked at.
        searched: Vec<PathBuf>,
        /// The locations that existed and were read.
        loaded: Vec<PathBuf>,
    },
    /// A value exists but does not have the type asked for.
    #[error("secrets key \"{key}\" at {at}: {message}")]
    InvalidValue {
        /// The dotted key.
        key: String,
        /// Where the value is defined.
        at: Source,
        /// What is wrong, without the value.
        message: String,
    },
}

/// "Read A, B." or "No secrets found. Valid paths ... are: A, B" (Streamlit's text).
pub(crate) fn describe_files(searched: &[PathBuf], loaded: &[PathBuf]) -> String {
    let join = |paths: &[PathBuf]| {
        paths
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    if loaded.is_empty() {
        format!(
            "No secrets found. Valid paths for a secrets.toml file or secret directories are: {}",
            join(searched)
        )
    } else {
        format!("Secrets were read from: {}", join(loaded))
    }
}

/// Where secrets are read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretsLocations {
    paths: Vec<PathBuf>,
}

impl SecretsLocations {
    /// An explicit list, read first to last.
    pub fn paths<P: Into<PathBuf>>(paths: impl IntoIterator<Item = P>) -> Self {
        SecretsLocations {
            paths: paths.into_iter().map(Into::into).collect(),
        }
    }

    /// The locations Streamlit would use, honoring `CONN_SECRETS_FILES` and
    /// `[secrets] files` in `.streamlit/config.toml`, relative to `cwd`.
    pub fn discover(env: &Env, cwd: &Path) -> Self {
        if let Some(list) = env.get(SECRETS_FILES_VAR).filter(|l| !l.trim().is_empty()) {
            return Self::paths(std::env::split_paths(&list).map(|p| cwd.join(p)));
        }
        let home = env.home_dir();
        let config_files = home
            .iter()
            .map(|h| h.join(".streamlit/config.toml"))
            .chain([cwd.join(".streamlit/config.toml")]);
        let mut configured = None;
        for config in config_files {
            if let Some(files) = secrets_files_from_config(&config, env) {
                configured = Some(files.into_iter().map(|p| cwd.join(p)).collect());
            }
        }
        let paths = configured.unwrap_or_else(|| {
            home.iter()
                .map(|h| h.join(".streamlit/secrets.toml"))
                .chain([cwd.join(".streamlit/secrets.toml")])
                .collect()
        });
        SecretsLocations { paths }
    }

    /// The locations, in reading order.
    pub fn as_slice(&self) -> &[PathBuf] {
        &self.paths
    }
}

/// `[secrets] files = [...]` from a Streamlit `config.toml`, with `env:VAR` entries
/// replaced by the variable's value. A missing or unparsable file gives `None`: the
/// config file is Streamlit's, and Streamlit reports its errors.
fn secrets_files_from_config(path: &Path, env: &Env) -> Option<Vec<PathBuf>> {
    let text = std::fs::read_to_string(path).ok()?;
    let table: toml::Table = text.parse().ok()?;
    let files = table.get("secrets")?.get("files")?.as_array()?;
    Some(
        files
            .iter()
            .filter_map(|f| f.as_str())
            .filter_map(|f| match f.strip_prefix("env:") {
                Some(var) => env.get(var),
                None => Some(f.to_owned()),
            })
            .map(PathBuf::from)
            .collect(),
    )
}

/// Loaded secrets: every location's top-level keys, later locations winning.
///
/// `Debug` and `Display` show keys and where they come from, never values.
#[derive(Clone, Default)]
pub struct Secrets {
    root: Map,
    searched: Vec<PathBuf>,
    loaded: Vec<PathBuf>,
}

impl Secrets {
    /// Reads the default locations (see the module docs) for the process environment
    /// and current directory, as Streamlit does: values are taken as written.
    pub fn load() -> Result<Self, SecretsError> {
        let env = Env::process();
        let cwd = std::env::current_dir().unwrap_or_default();
        Self::load_from(&SecretsLocations::discover(&env, &cwd), None)
    }

    /// Reads the given locations, first to last. With `interpolate` set, string values
    /// expand `${VAR}` and `${VAR:-default}` against that environment (`$${` writes a
    /// literal `${`); without, every value is taken as written, as Streamlit does, so a
    /// password holding `${` keeps its meaning.
    pub fn load_from(
        locations: &SecretsLocations,
        interpolate: Option<&Env>,
    ) -> Result<Self, SecretsError> {
        let env = interpolate;
        let mut secrets = Secrets {
            searched: locations.paths.clone(),
            ..Secrets::default()
        };
        for path in &locations.paths {
            let (file_secrets, found) = read_location(path, env)?;
            if found {
                secrets.loaded.push(path.clone());
            }
            // Streamlit's merge is shallow: a later file's top-level key replaces the
            // earlier one whole, tables included.
            secrets.root.extend(file_secrets);
        }
        Ok(secrets)
    }

    /// Secrets parsed from TOML text, as if read from `path` (see
    /// [`load_from`](Self::load_from) for `interpolate`).
    pub fn from_toml_str(
        text: &str,
        path: impl AsRef<Path>,
        interpolate: Option<&Env>,
    ) -> Result<Self, SecretsError> {
        let env = interpolate;
        let path = path.as_ref();
        Ok(Secrets {
            root: toml_file::parse(text, path, env)?,
            searched: vec![path.to_path_buf()],
            loaded: vec![path.to_path_buf()],
        })
    }

    /// The value at a dotted key (`"connections.pets_db.url"`).
    pub fn value(&self, dotted: &str) -> Option<&Value> {
        let (first, rest) = match dotted.split_once('.') {
            Some((first, rest)) => (first, Some(rest)),
            None => (dotted, None),
        };
        let top = self.root.get(first)?;
        match rest {
            Some(rest) => top.get_path(rest),
            None => Some(top),
        }
    }

    /// The value at a dotted key, deserialized. A missing key names the files read and
    /// the nearest existing key; a wrong type names the file and line.
    pub fn get<T: DeserializeOwned>(&self, dotted: &str) -> Result<T, SecretsError> {
        let value = self.value(dotted).ok_or_else(|| self.missing_key(dotted))?;
        deserialize_value(value).map_err(|err| SecretsError::InvalidValue {
            key: join_key(dotted, &err.path),
            at: err.source.unwrap_or_else(|| value.source().clone()),
            message: err.message,
        })
    }

    /// Whether the dotted key exists.
    pub fn contains(&self, dotted: &str) -> bool {
        self.value(dotted).is_some()
    }

    /// The top-level table.
    pub fn root(&self) -> &Map {
        &self.root
    }

    /// The `[connections.<name>]` section, if present.
    pub fn connection_section(&self, name: &str) -> Option<&Value> {
        self.root.get("connections")?.as_table()?.get(name)
    }

    /// Names of the connections defined in `[connections.*]`, sorted.
    pub fn connection_names(&self) -> Vec<&str> {
        self.root
            .get("connections")
            .and_then(Value::as_table)
            .map(|m| m.keys().map(String::as_str).collect())
            .unwrap_or_default()
    }

    /// Every location that was looked at, in order.
    pub fn searched(&self) -> &[PathBuf] {
        &self.searched
    }

    /// The locations that existed and were read.
    pub fn loaded(&self) -> &[PathBuf] {
        &self.loaded
    }

    /// Whether no secrets are defined at all.
    pub fn is_empty(&self) -> bool {
        self.root.is_empty()
    }

    fn missing_key(&self, dotted: &str) -> SecretsError {
        let (parent, last) = match dotted.rsplit_once('.') {
            Some((parent, last)) => (self.value(parent).and_then(Value::as_table), last),
            None => (Some(&self.root), dotted),
        };
        let suggestion = parent.and_then(|map| suggest::nearest(last, map.keys()));
        let suggestion = suggestion.map(|s| match dotted.rsplit_once('.') {
            Some((parent, _)) => format!("{parent}.{s}"),
            None => s.to_owned(),
        });
        SecretsError::MissingKey {
            key: dotted.to_owned(),
            suggestion,
            searched: self.searched.clone(),
            loaded: self.loaded.clone(),
        }
    }
}

fn join_key(base: &str, path: &str) -> String {
    if path.is_empty() || path == "." {
        base.to_owned()
    } else {
        format!("{base}.{path}")
    }
}

fn read_location(path: &Path, env: Option<&Env>) -> Result<(Map, bool), SecretsError> {
    if path.extension().is_some_and(|e| e == "toml") {
        match std::fs::read_to_string(path) {
            Ok(text) => Ok((toml_file::parse(&text, path, env)?, true)),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok((Map::new(), false)),
            Err(err) => Err(SecretsError::Io {
                path: path.to_path_buf(),
                message: err.to_string(),
            }),
        }
    } else if path.is_dir() {
        directory::read(path)
    } else {
        Err(SecretsError::InvalidPath {
            path: path.to_path_buf(),
        })
    }
}

/// Writes the key tree with sources, no values.
fn write_tree(f: &mut fmt::Formatter<'_>, map: &Map, indent: usize) -> fmt::Result {
    for (key, value) in map {
        match value.kind() {
            Kind::Table(inner) => {
                writeln!(f, "{:indent$}{key}:", "")?;
                write_tree(f, inner, indent + 2)?;
            }
            _ => writeln!(
                f,
                "{:indent$}{key} = <{} redacted> ({})",
                "",
                value.type_name(),
                value.source()
            )?,
        }
    }
    Ok(())
}

impl fmt::Debug for Secrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Secrets")
            .field("keys", &self.root)
            .field("loaded", &self.loaded)
            .finish()
    }
}

impl fmt::Display for Secrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_tree(f, &self.root, 0)
    }
}

#[cfg(test)]
mod tests;
