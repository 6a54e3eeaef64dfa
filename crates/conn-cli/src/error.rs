//! What a command returns when it fails, and the exit code each failure gives.
//!
//! 0: everything worked. 1: a check, query, read or write failed. 2: the configuration
//! (secrets, a key, a type) or the command line is wrong. 130: Ctrl-C.

use std::fmt;
use std::process::ExitCode;

/// A failed command: the message (already free of secrets: the library redacts its
/// errors) and how the process exits.
#[derive(Debug)]
pub struct CliError {
    /// Printed after `error: `.
    pub message: String,
    /// The exit code.
    pub code: Code,
}

/// The exit codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Code {
    /// 0.
    Ok,
    /// 1: a connection, query, read or write failed.
    Failed,
    /// 2: configuration or usage error.
    Config,
    /// 130: interrupted by Ctrl-C (128 + SIGINT, as shells report it).
    Interrupted,
}

impl Code {
    /// The process exit code.
    pub fn exit_code(self) -> ExitCode {
        ExitCode::from(match self {
            Code::Ok => 0,
            Code::Failed => 1,
            Code::Config => 2,
            Code::Interrupted => 130,
        })
    }

    /// The exit code a library error gives: configuration errors 2, others 1.
    pub fn of(err: &conn::Error) -> Code {
        if err.kind() == conn::ErrorKind::Config {
            Code::Config
        } else {
            Code::Failed
        }
    }
}

impl CliError {
    /// A configuration or usage error (exit code 2).
    pub fn config(message: impl Into<String>) -> Self {
        CliError {
            message: message.into(),
            code: Code::Config,
        }
    }

    /// A failure (exit code 1).
    pub fn failed(message: impl Into<String>) -> Self {
        CliError {
            message: message.into(),
            code: Code::Failed,
        }
    }
}

impl CliError {
    /// The error with every secret `redactor` knows removed from its message.
    pub fn redacted(mut self, redactor: &conn_core::plugin::Redactor) -> Self {
        self.message = redactor.redact(&self.message);
        self
    }

    /// Ctrl-C ended the work (exit code 130).
    pub fn interrupted() -> Self {
        CliError {
            message: "interrupted (Ctrl-C); the statement in flight was cancelled".into(),
            code: Code::Interrupted,
        }
    }
}

impl From<conn::Error> for CliError {
    fn from(err: conn::Error) -> Self {
        CliError {
            code: Code::of(&err),
            message: err.to_string(),
        }
    }
}

impl From<std::io::Error> for CliError {
    fn from(err: std::io::Error) -> Self {
        CliError::failed(format!("cannot write the output: {err}"))
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// What a command gives back.
pub type CliResult<T = Code> = Result<T, CliError>;
