//! The error type of conn and every connection type.
//!
//! Two levels, as in `object_store`: [`Error`] says which part failed; the secrets,
//! configuration and driver parts carry their own types with the file, line, key or
//! server code. Every error can be matched by [`ErrorKind`] (not found, authentication,
//! timeout, cancelled, stale, ...) and keeps the driver's own error reachable through
//! [`std::error::Error::source`] when that error's text holds no secret.
//!
//! No variant holds a secret: driver messages are redacted before they are stored, and
//! configuration values are described by their type, never printed.

mod config;
mod driver;
mod timeout;

use std::path::PathBuf;

pub use config::ConfigError;
pub use driver::DriverError;
pub use timeout::{Limit, TimeoutError};

use crate::redact::Redactor;
use crate::secrets::SecretsError;
use crate::suggest::sentence_end;
use crate::value::Source;

/// `Result` with conn's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// How a failure should be handled by the retry loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorClass {
    /// The connection is gone (closed socket, terminated backend, pool closed): reset it
    /// and retry on a new one.
    Stale,
    /// Worth another attempt, without a reset (server busy, deadlock, serialization
    /// failure, a refused connect while the server restarts).
    Transient,
    /// Retrying cannot help (bad SQL, missing table, constraint violation, bad password).
    Permanent,
}

impl ErrorClass {
    /// Whether the retry loop tries again.
    pub fn is_retryable(self) -> bool {
        matches!(self, ErrorClass::Stale | ErrorClass::Transient)
    }
}

/// What kind of failure an error is, for programs that branch on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// Secrets, configuration or an argument given in code is wrong or missing.
    Config,
    /// The table, object, file or database does not exist.
    NotFound,
    /// The data source refused the credentials or the permission.
    Authentication,
    /// A time limit fired (see [`TimeoutError`] for which one).
    Timeout,
    /// The work was cancelled (by the server, an administrator, or conn shutting down).
    Cancelled,
    /// The connection was lost; a retry on a new one may work.
    Stale,
    /// A passing failure (busy server, deadlock); a retry may work.
    Transient,
    /// A value could not be converted without changing it.
    Data,
    /// The connection type cannot do this.
    Unsupported,
    /// Any other failure that retrying cannot fix (bad SQL, constraint violation, ...).
    Permanent,
}

/// Everything that can go wrong in conn.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Reading secrets failed.
    #[error(transparent)]
    Secrets(Box<SecretsError>),

    /// A connection's configuration is missing something or has a wrong value.
    #[error(transparent)]
    Config(Box<ConfigError>),

    /// No registered connection type has this name.
    #[error(transparent)]
    UnknownType(Box<UnknownTypeError>),

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
    #[error(transparent)]
    Driver(Box<DriverError>),

    /// A time limit fired before the work was done; the work was stopped.
    #[error(transparent)]
    Timeout(Box<TimeoutError>),

    /// The work was cancelled before it finished (conn's runtime shutting down, for
    /// example). A query the server cancelled is a [`Error::Driver`] of kind
    /// [`ErrorKind::Cancelled`].
    #[error("{context}: cancelled")]
    Cancelled {
        /// What was being done.
        context: String,
    },

    /// Data could not be converted (a column type with no Arrow mapping, a value that
    /// does not fit its column, a row that does not fit the requested Rust type, ...).
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

impl From<DriverError> for Error {
    fn from(err: DriverError) -> Self {
        Error::Driver(Box::new(err))
    }
}

impl From<TimeoutError> for Error {
    fn from(err: TimeoutError) -> Self {
        Error::Timeout(Box::new(err))
    }
}

impl Error {
    /// How the retry loop treats this error. Only driver errors can be retryable.
    pub fn class(&self) -> ErrorClass {
        match self {
            Error::Driver(driver) => driver.class(),
            _ => ErrorClass::Permanent,
        }
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Secrets(_)
            | Error::Config(_)
            | Error::UnknownType(_)
            | Error::DuplicateType { .. }
            | Error::SnowparkRemoved { .. }
            | Error::NameVariableUnset { .. }
            | Error::TypeMismatch { .. }
            | Error::InvalidArgument(_) => ErrorKind::Config,
            Error::Unsupported { .. } => ErrorKind::Unsupported,
            Error::Driver(driver) => driver.kind(),
            Error::Timeout(_) => ErrorKind::Timeout,
            Error::Cancelled { .. } => ErrorKind::Cancelled,
            Error::Data(_) => ErrorKind::Data,
            Error::Closed { .. } | Error::Io { .. } => ErrorKind::Permanent,
        }
    }

    /// A driver error (see [`DriverError::new`] for the builder methods that add a
    /// code, a kind or the underlying error).
    pub fn driver(
        context: impl Into<String>,
        class: ErrorClass,
        message: impl Into<String>,
    ) -> Self {
        DriverError::new(context, class, message).into()
    }

    /// The same error with a machine-readable code (SQLSTATE, HTTP status), when it is
    /// a driver error.
    #[must_use]
    pub fn with_code(mut self, code: impl Into<String>) -> Self {
        if let Error::Driver(driver) = &mut self {
            driver.set_code(code.into());
        }
        self
    }

    /// The same error marked as one after which nothing was applied (see
    /// [`DriverError::not_applied`]), when it is a driver error.
    #[must_use]
    pub fn not_applied(self) -> Self {
        match self {
            Error::Driver(driver) => Error::Driver(Box::new(driver.not_applied())),
            other => other,
        }
    }

    /// The driver's code, if any.
    pub fn code(&self) -> Option<&str> {
        match self {
            Error::Driver(driver) => driver.code(),
            _ => None,
        }
    }

    /// The driver error inside, if this is one.
    pub fn as_driver(&self) -> Option<&DriverError> {
        match self {
            Error::Driver(driver) => Some(driver),
            _ => None,
        }
    }

    /// Whether the request may have reached the data source before it failed. Retrying
    /// a write is only safe when it did not. Only driver errors can say it did not.
    pub fn may_have_reached_server(&self) -> bool {
        match self {
            Error::Driver(driver) => driver.may_have_reached_server(),
            Error::Timeout(_) => true,
            _ => false,
        }
    }

    /// The same error marked as one after which the request may have reached the
    /// server (see [`DriverError::after_send`]); other errors are unchanged.
    #[must_use]
    pub fn after_send(self) -> Self {
        match self {
            Error::Driver(driver) => Error::Driver(Box::new((*driver).after_send())),
            other => other,
        }
    }

    /// The same error marked as raised before the request was sent (while connecting),
    /// so that even a write may be retried after it.
    #[must_use]
    pub fn before_send(self) -> Self {
        match self {
            Error::Driver(driver) => Error::Driver(Box::new((*driver).before_send())),
            other => other,
        }
    }

    /// The same error with every secret `redactor` knows (and every secret-looking
    /// parameter value) removed from its text: for errors built from input that may
    /// hold one (a path with `?sig=...`, a driver message).
    #[must_use]
    pub fn redacted(self, redactor: &Redactor) -> Self {
        let clean = |text: String| redactor.redact(&text);
        match self {
            Error::Driver(driver) => Error::Driver(Box::new((*driver).redacted(redactor))),
            Error::Io { context, message } => Error::Io {
                context: clean(context),
                message: clean(message),
            },
            Error::Data(message) => Error::Data(clean(message)),
            Error::InvalidArgument(message) => Error::InvalidArgument(clean(message)),
            Error::Cancelled { context } => Error::Cancelled {
                context: clean(context),
            },
            other => other,
        }
    }

    /// The same error, saying where its connection was configured (for driver errors
    /// that do not say yet).
    #[must_use]
    pub fn configured_at(mut self, origin: &str) -> Self {
        if let Error::Driver(driver) = &mut self {
            driver.set_origin_if_unset(origin);
        }
        self
    }

    /// The same error, naming the connection it happened on: a driver error gets where
    /// the connection was configured, a data error the connection's name.
    #[must_use]
    pub fn on_connection(self, name: &str, origin: Option<&str>) -> Self {
        match self {
            Error::Data(message) if !message.starts_with("connection \"") => {
                Error::Data(format!("connection \"{name}\": {message}"))
            }
            other => match origin {
                Some(origin) => other.configured_at(origin),
                None => other,
            },
        }
    }
}

/// No registered connection type has the name asked for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", describe_unknown_type(requested, registered, suggestion.as_deref(), feature.as_ref(), at.as_ref()))]
pub struct UnknownTypeError {
    /// The name asked for.
    pub requested: String,
    /// Every registered name, sorted.
    pub registered: Vec<String>,
    /// The nearest registered name.
    pub suggestion: Option<String>,
    /// The first-party crate and `conn` feature that provide this type, when it is one
    /// of ours that is not compiled in.
    pub feature: Option<FeatureHint>,
    /// Where the type name was given (the `type` key's file and line, an environment
    /// variable, code), when known.
    pub at: Option<Source>,
}

impl From<UnknownTypeError> for Error {
    fn from(err: UnknownTypeError) -> Self {
        Error::UnknownType(Box::new(err))
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
    at: Option<&Source>,
) -> String {
    let registered = if registered.is_empty() {
        "none (is the `conn` crate, or the crate that registers the type, linked in?)".to_owned()
    } else {
        registered.join(", ")
    };
    let at = at.map(|at| format!(" (given at {at})")).unwrap_or_default();
    match feature {
        Some(hint) => format!(
            "connection type \"{requested}\"{at} is provided by the {} crate, which is not \
             compiled in: enable the `{}` feature of `conn`. Registered types: {registered}",
            hint.crate_name, hint.feature
        ),
        None => format!(
            "unknown connection type \"{requested}\"{at}{}Registered types: {registered}",
            sentence_end(suggestion)
        ),
    }
}

/// "Read A, B." or "No secrets found. Valid paths ... are: A, B" (Streamlit's text).
pub(crate) fn describe_files(searched: &[PathBuf], loaded: &[PathBuf]) -> String {
    crate::secrets::describe_files(searched, loaded)
}

#[cfg(test)]
mod tests;
