//! Errors the database, object store or service reported.

use std::fmt;
use std::sync::Arc;

use super::{ErrorClass, ErrorKind};
use crate::redact::Redactor;

/// The underlying error a [`DriverError`] keeps for [`source`](std::error::Error::source).
type Source = Arc<dyn std::error::Error + Send + Sync + 'static>;

/// A failure the data source or its driver reported.
///
/// Its message has every secret of the connection removed. It carries a class for the
/// retry loop, a kind for programs, the server's code (SQLSTATE, HTTP status) when there
/// is one, whether the request may have reached the server (a write that may have is
/// never retried), where the connection was configured, and the driver's own error as
/// [`source`](std::error::Error::source) when that error's text holds no secret.
#[derive(Clone)]
pub struct DriverError {
    context: String,
    message: String,
    class: ErrorClass,
    kind: Option<ErrorKind>,
    code: Option<String>,
    before_send: bool,
    origin: Option<String>,
    source: Option<Source>,
}

impl DriverError {
    /// A driver error: `context` says which connection and what it was doing (`sql
    /// connection "pets_db", query`), `message` is the driver's text, already free of
    /// secrets.
    pub fn new(context: impl Into<String>, class: ErrorClass, message: impl Into<String>) -> Self {
        DriverError {
            context: context.into(),
            message: message.into(),
            class,
            kind: None,
            code: None,
            before_send: false,
            origin: None,
            source: None,
        }
    }

    /// A driver error from the driver's own error: its text, redacted, becomes the
    /// message, and the error itself stays reachable through `source()` unless
    /// redaction had to change its text (then it would leak through `source()`).
    pub fn from_source<E>(
        context: impl Into<String>,
        class: ErrorClass,
        source: E,
        redactor: &Redactor,
    ) -> Self
    where
        E: std::error::Error + Send + Sync + 'static,
    {
        let text = source.to_string();
        let message = redactor.redact(&text);
        let keep = message == text && chain_is_clean(&source, redactor);
        let mut error = DriverError::new(context, class, message);
        if keep {
            error.source = Some(Arc::new(source));
        }
        error
    }

    /// The same error with a kind (not found, authentication, ...); without one the
    /// kind follows the class.
    #[must_use]
    pub fn with_kind(mut self, kind: ErrorKind) -> Self {
        self.kind = Some(kind);
        self
    }

    /// The same error with the server's code.
    #[must_use]
    pub fn with_code(mut self, code: impl Into<String>) -> Self {
        self.code = Some(code.into());
        self
    }

    /// Marks the error as raised before the request was sent (while connecting or
    /// waiting for a pooled connection), so that even a write may be retried.
    #[must_use]
    pub fn before_send(mut self) -> Self {
        self.before_send = true;
        self
    }

    /// Marks the error as one after which the request may have reached the server:
    /// for a failure that comes after an earlier part of the same work was sent (a
    /// poll of a running statement, the second statement of a write), whatever the
    /// failure itself looks like.
    #[must_use]
    pub fn after_send(mut self) -> Self {
        self.before_send = false;
        self
    }

    /// Marks the error as one after which the server applied nothing (it refused or
    /// rolled back the whole request: a lock it could not take, a deadlock victim), so
    /// that even a write may be retried, as if it had never been sent.
    #[must_use]
    pub fn not_applied(self) -> Self {
        self.before_send()
    }

    /// The same error with another class.
    #[must_use]
    pub fn with_class(mut self, class: ErrorClass) -> Self {
        self.class = class;
        self
    }

    /// The same error with its texts passed through `redactor`; the source is dropped
    /// if its text would need redacting.
    #[must_use]
    pub fn redacted(mut self, redactor: &Redactor) -> Self {
        self.context = redactor.redact(&self.context);
        self.message = redactor.redact(&self.message);
        if self.source.as_ref().is_some_and(|s| {
            redactor.finds_secret_in(&s.to_string()) || !chain_is_clean(&**s, redactor)
        }) {
            self.source = None;
        }
        self
    }

    pub(super) fn set_code(&mut self, code: String) {
        self.code = Some(code);
    }

    pub(super) fn set_origin_if_unset(&mut self, origin: &str) {
        if self.origin.is_none() {
            self.origin = Some(origin.to_owned());
        }
    }

    /// Which connection and what it was doing.
    pub fn context(&self) -> &str {
        &self.context
    }

    /// The driver's message, redacted.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// How the retry loop treats it.
    pub fn class(&self) -> ErrorClass {
        self.class
    }

    /// What kind of failure it is.
    pub fn kind(&self) -> ErrorKind {
        self.kind.unwrap_or(match self.class {
            ErrorClass::Stale => ErrorKind::Stale,
            ErrorClass::Transient => ErrorKind::Transient,
            ErrorClass::Permanent => ErrorKind::Permanent,
        })
    }

    /// The server's code (SQLSTATE, HTTP status), if any.
    pub fn code(&self) -> Option<&str> {
        self.code.as_deref()
    }

    /// Whether the request may have reached the server.
    pub fn may_have_reached_server(&self) -> bool {
        !self.before_send
    }

    /// Where the connection's configuration came from, when known.
    pub fn origin(&self) -> Option<&str> {
        self.origin.as_deref()
    }
}

/// Whether no error in `source`'s chain prints a secret.
fn chain_is_clean(source: &(dyn std::error::Error + 'static), redactor: &Redactor) -> bool {
    let mut next = source.source();
    while let Some(err) = next {
        let text = err.to_string();
        if redactor.redact(&text) != text {
            return false;
        }
        next = err.source();
    }
    true
}

impl fmt::Display for DriverError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.context, self.message)?;
        if let Some(origin) = &self.origin {
            write!(f, " (connection configured at {origin})")?;
        }
        Ok(())
    }
}

impl fmt::Debug for DriverError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The source is shown by its (checked) text, never by its Debug form, which may
        // hold more than its message.
        f.debug_struct("DriverError")
            .field("context", &self.context)
            .field("message", &self.message)
            .field("class", &self.class)
            .field("kind", &self.kind())
            .field("code", &self.code)
            .field("may_have_reached_server", &!self.before_send)
            .field("origin", &self.origin)
            .field("source", &self.source.as_ref().map(ToString::to_string))
            .finish()
    }
}

impl std::error::Error for DriverError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|source| source as &(dyn std::error::Error + 'static))
    }
}
