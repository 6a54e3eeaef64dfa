//! The error type of conn and every connection type.
//!
//! Two levels, as in `object_store`: [`Error`] says which part failed; the secrets and
//! configuration parts carry their own enums with the file, line and key. Driver errors
//! carry an [`ErrorClass`] that decides whether a read is retried. No variant holds a
//! secret: driver messages are redacted before they are stored, and values are
//! described by their type, never printed.

use std::path::PathBuf;

use crate::config::Source;
use crate::secrets::{SecretsError, describe_files};
use crate::suggest::sentence_end;

/// `Result` with conn's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// How a failure should be handled by the retry loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorClass {
    /// The connection is gone (closed socket, terminated backend, pool closed): reset it
    /// and retry on a new one.
    Stale,
    /// Worth another attempt on a fresh connection (timeout, server restarting,
    /// serialization failure).
    Transient,
    /// Retrying cannot help (bad SQL, missing table, constraint violation, bad password).
    Permanent,
}

impl ErrorClass {
    /// Whether the retry loop resets the connection and tries again.
    pub fn is_retryable(self) -> bool {
        matches!(self, ErrorClass::Stale | ErrorClass::Transient)
    }
}

/// Everything that can go wrong in conn.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Reading secrets failed.
    #[error(transparent)]
    Secrets(Box<SecretsError>),

    /// A connection's configuration is missing something or has a wrong value.
    #[error(transparent)]
    Config(Box<ConfigError>),

    /// No registered connection type has this name.
    #[error("{}", describe_unknown_type(requested, registered, suggestion.as_deref(), feature.as_ref()))]
    UnknownType {
        /// The name asked for.
        requested: String,
        /// Every registered name, sorted.
        registered: Vec<String>,
        /// The nearest registered name.
        suggestion: Option<String>,
        /// The first-party crate and `conn` feature that provide this type, when it is
        /// one of ours that is not compiled in.
        feature: Option<FeatureHint>,
    },

    /// Two connection types claim the same name.
    #[error(
        "connection type name \"{name}\" is registered twice, by {first} and by {second}; \
         rename one of them"
    )]
    DuplicateType {
        /// The contested name.
        name: String,
        /// Rust path of the first type.
        first: &'static str,
        /// Rust path of the second type.
        second: &'static str,
    },

    /// `snowpark` was asked for; Streamlit removed it in favor of `snowflake`.
    #[error(
        "The Snowpark connection was removed in favor of the Snowflake connection. Use \
         type = \"snowflake\" for connection \"{name}\" instead."
    )]
    SnowparkRemoved {
        /// The connection that asked for it.
        name: String,
    },

    /// A connection name of the form `env:VAR` names an unset variable.
    #[error("the connection name \"env:{var}\" reads environment variable {var}, which is not set")]
    NameVariableUnset {
        /// The variable.
        var: String,
    },

    /// A typed request found a cached connection of another type (cannot happen through
    /// the public API; kept so a broken registration is an error, not a panic).
    #[error("connection \"{name}\" is a {actual}, not a {expected}")]
    TypeMismatch {
        /// The connection name.
        name: String,
        /// The type asked for.
        expected: &'static str,
        /// The type found.
        actual: &'static str,
    },

    /// An argument given in code is out of range.
    #[error("{0}")]
    InvalidArgument(String),

    /// The connection type does not support this operation.
    #[error("connection type \"{type_name}\" does not support {operation}")]
    Unsupported {
        /// The type.
        type_name: &'static str,
        /// What was asked, in words.
        operation: &'static str,
    },

    /// The database, object store or service reported an error.
    #[error("{context}: {message}")]
    Driver {
        /// Which connection and what it was doing: `sql connection "pets_db", query`.
        context: String,
        /// The driver's message, with every secret of the connection's config removed.
        message: String,
        /// Whether a retry can help.
        class: ErrorClass,
        /// A machine-readable code when the driver has one (a SQLSTATE, an HTTP status).
        code: Option<String>,
    },

    /// Data could not be converted (a column type with no Arrow mapping, a row that does
    /// not fit the requested Rust type, ...).
    #[error("{0}")]
    Data(String),

    /// The connection was closed and cannot be used again.
    #[error("connection \"{name}\" is closed")]
    Closed {
        /// The connection name.
        name: String,
    },

    /// An I/O error outside any driver (reading a local file, for example).
    #[error("{context}: {message}")]
    Io {
        /// What was being done.
        context: String,
        /// The operating system's message.
        message: String,
    },
}

impl From<SecretsError> for Error {
    fn from(err: SecretsError) -> Self {
        Error::Secrets(Box::new(err))
    }
}

impl From<ConfigError> for Error {
    fn from(err: ConfigError) -> Self {
        Error::Config(Box::new(err))
    }
}

impl Error {
    /// How the retry loop treats this error. Only [`Error::Driver`] can be retryable.
    pub fn class(&self) -> ErrorClass {
        match self {
            Error::Driver { class, .. } => *class,
            _ => ErrorClass::Permanent,
        }
    }

    /// A driver error.
    pub fn driver(
        context: impl Into<String>,
        class: ErrorClass,
        message: impl Into<String>,
    ) -> Self {
        Error::Driver {
            context: context.into(),
            message: message.into(),
            class,
            code: None,
        }
    }

    /// The same error with a machine-readable code (SQLSTATE, HTTP status).
    #[must_use]
    pub fn with_code(mut self, new_code: impl Into<String>) -> Self {
        if let Error::Driver { code, .. } = &mut self {
            *code = Some(new_code.into());
        }
        self
    }

    /// The driver's code, if any.
    pub fn code(&self) -> Option<&str> {
        match self {
            Error::Driver { code, .. } => code.as_deref(),
            _ => None,
        }
    }
}

/// Which first-party crate and `conn` feature provide a connection type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeatureHint {
    /// The crate, e.g. `conn-duckdb`.
    pub crate_name: &'static str,
    /// The feature of the `conn` facade, e.g. `duckdb`.
    pub feature: &'static str,
}

fn describe_unknown_type(
    requested: &str,
    registered: &[String],
    suggestion: Option<&str>,
    feature: Option<&FeatureHint>,
) -> String {
    let registered = if registered.is_empty() {
        "none (is the `conn` crate, or the crate that registers the type, linked in?)".to_owned()
    } else {
        registered.join(", ")
    };
    match feature {
        Some(hint) => format!(
            "connection type \"{requested}\" is provided by the {} crate, which is not \
             compiled in: enable the `{}` feature of `conn`. Registered types: {registered}",
            hint.crate_name, hint.feature
        ),
        None => format!(
            "unknown connection type \"{requested}\"{}Registered types: {registered}",
            sentence_end(suggestion)
        ),
    }
}

/// A connection's configuration is incomplete or wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The connection is not defined anywhere and nothing says what type it is.
    #[error("{}", describe_not_configured(self))]
    NotConfigured {
        /// The connection name.
        connection: String,
        /// The environment variable prefix that would define it.
        env_prefix: String,
        /// Secrets locations looked at.
        searched: Vec<PathBuf>,
        /// Secrets locations that were read.
        loaded: Vec<PathBuf>,
        /// A defined connection with a near name.
        suggestion: Option<String>,
        /// A misspelled section holding this connection: `[connection.pets_db]` at ...
        misspelled_section: Option<(String, Source)>,
    },

    /// The connection is configured but says nothing of its type.
    #[error(
        "cannot infer the connection type of \"{connection}\": add type = \"...\" to \
         [connections.{connection}]{at}, set {env_prefix}TYPE, or ask for a type in code. \
         Registered types: {registered}",
        at = section.as_ref().map(|s| format!(" ({s})")).unwrap_or_default(),
        registered = registered.join(", ")
    )]
    NoType {
        /// The connection name.
        connection: String,
        /// Where its section starts, if it has one.
        section: Option<Source>,
        /// The environment variable prefix.
        env_prefix: String,
        /// Every registered type name, sorted.
        registered: Vec<String>,
    },

    /// A required key is missing.
    #[error(
        "connection \"{connection}\" (type {type_name}) needs `{key}`{detail}: set it in \
         [connections.{connection}], as {env_prefix}{env_key}, or as an option in code. {files}",
        env_key = key.to_uppercase().replace('.', "__"),
        files = describe_files(searched, loaded)
    )]
    MissingKey {
        /// The connection name.
        connection: String,
        /// Its type.
        type_name: String,
        /// The missing key.
        key: String,
        /// More about the key (", or `url`", ...), may be empty.
        detail: String,
        /// The environment variable prefix.
        env_prefix: String,
        /// Secrets locations looked at.
        searched: Vec<PathBuf>,
        /// Secrets locations that were read.
        loaded: Vec<PathBuf>,
    },

    /// A value has the wrong type or is out of range.
    #[error("invalid `{key}` for connection \"{connection}\" at {at}: {message}")]
    InvalidValue {
        /// The connection name.
        connection: String,
        /// The dotted key.
        key: String,
        /// Where the value came from.
        at: Source,
        /// What is wrong (never the value itself).
        message: String,
    },

    /// A key the connection type does not know.
    #[error(
        "unknown key `{key}` for connection \"{connection}\" (type {type_name}) at {at}{}Known \
         keys: {}",
        sentence_end(suggestion.as_deref()),
        known.join(", ")
    )]
    UnknownKey {
        /// The connection name.
        connection: String,
        /// Its type.
        type_name: String,
        /// The unknown key (dotted when nested).
        key: String,
        /// Where it was set.
        at: Source,
        /// The nearest known key.
        suggestion: Option<String>,
        /// Every key the type understands.
        known: Vec<String>,
    },
}

fn describe_not_configured(err: &ConfigError) -> String {
    let ConfigError::NotConfigured {
        connection,
        env_prefix,
        searched,
        loaded,
        suggestion,
        misspelled_section,
    } = err
    else {
        return String::new();
    };
    let mut text = format!("connection \"{connection}\" is not configured");
    if let Some((section, source)) = misspelled_section {
        text.push_str(&format!(
            ": found [{section}] at {source}; did you mean [connections.{connection}]? "
        ));
        text.push_str(&describe_files(searched, loaded));
        return text;
    } else if let Some(near) = suggestion {
        text.push_str(&format!(
            ": no [connections.{connection}] section; did you mean \"{near}\"?"
        ));
        text.push(' ');
        text.push_str(&describe_files(searched, loaded));
        return text;
    } else {
        text.push_str(&format!(
            ": add a [connections.{connection}] section with a `type` key, set \
             {env_prefix}TYPE and its other keys as environment variables, or ask for a \
             type in code"
        ));
    }
    text.push_str(". ");
    text.push_str(&describe_files(searched, loaded));
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_type_lists_sorted_names_and_nearest() {
        let err = Error::UnknownType {
            requested: "sqll".into(),
            registered: vec!["duckdb".into(), "files".into(), "sql".into()],
            suggestion: Some("sql".into()),
            feature: None,
        };
        assert_eq!(
            err.to_string(),
            "unknown connection type \"sqll\"; did you mean \"sql\"? Registered types: duckdb, files, sql"
        );
    }

    #[test]
    fn disabled_first_party_type_names_the_feature() {
        let err = Error::UnknownType {
            requested: "duckdb".into(),
            registered: vec!["sql".into()],
            suggestion: None,
            feature: Some(FeatureHint {
                crate_name: "conn-duckdb",
                feature: "duckdb",
            }),
        };
        assert_eq!(
            err.to_string(),
            "connection type \"duckdb\" is provided by the conn-duckdb crate, which is not \
             compiled in: enable the `duckdb` feature of `conn`. Registered types: sql"
        );
    }

    #[test]
    fn only_driver_errors_are_retryable() {
        assert!(
            Error::driver("x", ErrorClass::Stale, "gone")
                .class()
                .is_retryable()
        );
        assert!(
            !Error::driver("x", ErrorClass::Permanent, "bad")
                .class()
                .is_retryable()
        );
        assert!(!Error::InvalidArgument("x".into()).class().is_retryable());
    }
}
