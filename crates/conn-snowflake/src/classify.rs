//! Snowflake's failures as conn errors: a class for the retry loop, a kind for
//! programs, the code, the SQLSTATE and the query id in the message, every secret of
//! the connection removed.

use std::sync::Arc;

use conn_core::plugin::Redactor;
use conn_core::{DriverError, Error, ErrorClass, ErrorKind};

/// Which connection, for error contexts.
#[derive(Clone, Debug)]
pub(crate) struct Ctx {
    /// The connection's name.
    pub name: Arc<str>,
    /// Removes the connection's secrets from server and driver texts.
    pub redactor: Redactor,
}

impl Ctx {
    /// `snowflake connection "name", <doing>`.
    pub fn context(&self, doing: &str) -> String {
        format!("snowflake connection \"{}\", {doing}", self.name)
    }

    /// An error the server answered with (`success: false`).
    pub fn server_error(
        &self,
        doing: &str,
        code: Option<&str>,
        message: Option<&str>,
        sql_state: Option<&str>,
        query_id: Option<&str>,
    ) -> Error {
        let (class, kind) = classify(code, sql_state);
        let mut text = message
            .unwrap_or("the server reported a failure")
            .to_owned();
        let mut details = Vec::new();
        if let Some(code) = code {
            details.push(format!("code {code}"));
        }
        if let Some(state) = sql_state {
            details.push(format!("SQLSTATE {state}"));
        }
        if let Some(id) = query_id {
            details.push(format!("query id {id}"));
        }
        if !details.is_empty() {
            text = format!("{text} ({})", details.join(", "));
        }
        let mut error = DriverError::new(self.context(doing), class, self.redactor.redact(&text));
        if let Some(kind) = kind {
            error = error.with_kind(kind);
        }
        if let Some(code) = sql_state.or(code) {
            error = error.with_code(code);
        }
        if class == ErrorClass::Permanent {
            // The server refused the statement (or undid it: Snowflake rolls back a
            // failed statement), so nothing of it applied.
            error = error.not_applied();
        }
        Error::Driver(Box::new(error))
    }

    /// A transport failure (connect, send, receive), never showing a URL (chunk URLs
    /// carry signatures).
    pub fn transport_error(&self, doing: &str, err: reqwest::Error, before_send: bool) -> Error {
        let class = ErrorClass::Transient;
        let kind = if err.is_timeout() {
            ErrorKind::Timeout
        } else {
            ErrorKind::Transient
        };
        let err = err.without_url();
        // reqwest's own text is "error sending request"; the cause is in its sources
        // (a refused connect, a DNS failure, a reset): say all of it.
        let mut text = err.to_string();
        let mut source = std::error::Error::source(&err);
        while let Some(cause) = source {
            let cause_text = cause.to_string();
            if !text.contains(&cause_text) {
                text = format!("{text}: {cause_text}");
            }
            source = cause.source();
        }
        let mut error = DriverError::new(self.context(doing), class, self.redactor.redact(&text))
            .with_kind(kind);
        if before_send {
            error = error.before_send();
        }
        Error::Driver(Box::new(error))
    }

    /// An HTTP status the server answered instead of a protocol answer.
    pub fn status_error(&self, doing: &str, status: reqwest::StatusCode, body: &str) -> Error {
        let retryable =
            status.is_server_error() || status.as_u16() == 429 || status.as_u16() == 408;
        let (class, kind) = if retryable {
            (ErrorClass::Transient, ErrorKind::Transient)
        } else if status.as_u16() == 401 || status.as_u16() == 403 {
            (ErrorClass::Permanent, ErrorKind::Authentication)
        } else {
            (ErrorClass::Permanent, ErrorKind::Permanent)
        };
        let snippet: String = body.chars().take(200).collect();
        let text = format!("HTTP {status}: {}", snippet.trim());
        let error = DriverError::new(self.context(doing), class, self.redactor.redact(&text))
            .with_kind(kind)
            .with_code(status.as_str().to_owned());
        Error::Driver(Box::new(error))
    }

    /// An answer conn cannot read (not JSON, missing what it must have).
    pub fn protocol_error(&self, doing: &str, what: impl Into<String>) -> Error {
        let error = DriverError::new(
            self.context(doing),
            ErrorClass::Permanent,
            self.redactor.redact(&what.into()),
        );
        Error::Driver(Box::new(error))
    }
}

/// Whether nothing of the request that failed with `err` applied: the server refused
/// it, or it was never sent (what is not a server's refusal may have run).
pub(crate) fn nothing_applied(err: &Error) -> bool {
    match err {
        Error::Driver(driver) => !driver.may_have_reached_server(),
        Error::InvalidArgument(_) | Error::Closed { .. } | Error::Config(_) => true,
        _ => false,
    }
}

/// The class and kind of a Snowflake code and SQLSTATE.
fn classify(code: Option<&str>, sql_state: Option<&str>) -> (ErrorClass, Option<ErrorKind>) {
    let code = code.unwrap_or_default();
    match (code, sql_state.unwrap_or_default()) {
        // Connection not established (the one retry the original makes).
        (_, "08001") => (ErrorClass::Stale, Some(ErrorKind::Stale)),
        // Session or token expired or gone, after renewal failed.
        ("390111" | "390112" | "390114" | "390104" | "390113" | "390115", _) => {
            (ErrorClass::Stale, Some(ErrorKind::Stale))
        }
        // Login refused: wrong password, bad JWT or token, locked or disabled user.
        (code, _)
            if code.starts_with("3901") || code.starts_with("3903") || code.starts_with("3904") =>
        {
            (ErrorClass::Permanent, Some(ErrorKind::Authentication))
        }
        // Object does not exist or not authorized.
        ("002003" | "002043", _) | (_, "42S02") => {
            (ErrorClass::Permanent, Some(ErrorKind::NotFound))
        }
        // Statement canceled or reached its timeout.
        ("000604" | "000630", _) | (_, "57014") => {
            (ErrorClass::Permanent, Some(ErrorKind::Cancelled))
        }
        // Service unavailable, overloaded.
        ("390700" | "000625", _) => (ErrorClass::Transient, Some(ErrorKind::Transient)),
        _ => (ErrorClass::Permanent, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_map_to_classes() {
        assert_eq!(classify(Some("390112"), None).0, ErrorClass::Stale);
        assert_eq!(classify(Some("000000"), Some("08001")).0, ErrorClass::Stale);
        assert_eq!(
            classify(Some("390100"), None),
            (ErrorClass::Permanent, Some(ErrorKind::Authentication))
        );
        assert_eq!(
            classify(Some("002003"), Some("42S02")),
            (ErrorClass::Permanent, Some(ErrorKind::NotFound))
        );
        assert_eq!(
            classify(Some("001003"), Some("42000")),
            (ErrorClass::Permanent, None)
        );
    }

    #[test]
    fn server_errors_name_code_state_and_query_and_hide_secrets() {
        let ctx = Ctx {
            name: Arc::from("wh"),
            redactor: Redactor::default().with_secret("hunter2"),
        };
        let err = ctx
            .server_error(
                "query",
                Some("002003"),
                Some("Object 'HUNTER2' does not exist or not authorized: hunter2"),
                Some("42S02"),
                Some("01b-qid"),
            )
            .to_string();
        assert!(err.contains("snowflake connection \"wh\", query"), "{err}");
        assert!(
            err.contains("code 002003, SQLSTATE 42S02, query id 01b-qid"),
            "{err}"
        );
        assert!(!err.contains("hunter2"), "{err}");
    }
}
