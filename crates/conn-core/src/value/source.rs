//! Provenance: where a configuration value came from.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Where a configuration value came from, so that an error can point at it.
///
/// Every [`Value`](crate::Value) carries one. The `Display` form is meant for error
/// messages: `/app/.streamlit/secrets.toml:4:7`, `environment variable CONN_PETS_DB__URL`,
/// `code`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Source {
    /// Passed in code, as an option on the connection builder (Streamlit's `**kwargs`).
    Code,
    /// An environment variable.
    Env {
        /// The variable's name.
        var: Arc<str>,
    },
    /// A TOML file, at a 1-based line and column.
    File {
        /// The file.
        path: Arc<Path>,
        /// 1-based line of the value.
        line: u32,
        /// 1-based column of the value.
        column: u32,
    },
    /// A file inside a Kubernetes-style secrets directory.
    SecretDir {
        /// The file holding the value.
        path: Arc<Path>,
    },
    /// The data source's own configuration (`AWS_*` variables, `~/.snowflake/connections.toml`, ...).
    Native {
        /// What it was, in words: "AWS_REGION", "~/.aws/config".
        origin: Arc<str>,
    },
    /// A default chosen by the connection type.
    Default,
}

impl Source {
    /// A file location.
    pub fn file(path: impl Into<PathBuf>, line: u32, column: u32) -> Self {
        Source::File {
            path: Arc::from(path.into()),
            line,
            column,
        }
    }

    /// An environment variable.
    pub fn env(var: &str) -> Self {
        Source::Env {
            var: Arc::from(var),
        }
    }

    /// The data source's own configuration.
    pub fn native(origin: &str) -> Self {
        Source::Native {
            origin: Arc::from(origin),
        }
    }

    /// The file this value was read from, if any.
    pub fn path(&self) -> Option<&Path> {
        match self {
            Source::File { path, .. } | Source::SecretDir { path } => Some(path),
            _ => None,
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Code => f.write_str("options given in code"),
            Source::Env { var } => write!(f, "environment variable {var}"),
            Source::File { path, line, column } => {
                write!(f, "{}:{line}:{column}", path.display())
            }
            Source::SecretDir { path } => write!(f, "secrets directory file {}", path.display()),
            Source::Native { origin } => write!(f, "{origin}"),
            Source::Default => f.write_str("the connection type's default"),
        }
    }
}
