//! A time limit that fired, saying which one.

use std::fmt;
use std::time::Duration;

use crate::value::Source;

/// Which time limit fired.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Limit {
    /// The limit given to one call in code (`.timeout(...)` on a query or read).
    Call,
    /// A connection setting (`timeout`, `connect_timeout`, `pool_timeout`, ...).
    Setting {
        /// The key.
        key: &'static str,
        /// Where it was set ([`Source::Default`] for the type's default).
        at: Source,
    },
}

impl fmt::Display for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Limit::Call => f.write_str("the limit given to this call with .timeout()"),
            Limit::Setting {
                key,
                at: Source::Default,
            } => write!(f, "the default `{key}`"),
            Limit::Setting { key, at } => write!(f, "`{key}` set at {at}"),
        }
    }
}

/// Work that did not finish within a time limit. The work was dropped, which cancels it
/// on the server where the type can (a statement that had already committed stays
/// committed: a write that timed out may have applied, and drops cached reads).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("connection \"{connection}\": {operation} timed out after {} ({limit})", describe_duration(*after))]
pub struct TimeoutError {
    /// The connection name.
    pub connection: String,
    /// What was being done: "query", "connect", "read", ...
    pub operation: String,
    /// The limit's length.
    pub after: Duration,
    /// Which limit it was.
    pub limit: Limit,
}

/// A duration for messages: `500ms`, `2s`, `1.5s`, `5m`.
pub(crate) fn describe_duration(duration: Duration) -> String {
    let millis = duration.as_millis();
    if millis < 1000 {
        format!("{millis}ms")
    } else if duration.as_secs() >= 120 && duration.as_secs().is_multiple_of(60) {
        format!("{}m", duration.as_secs() / 60)
    } else {
        format!("{}s", duration.as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_for_messages() {
        assert_eq!(describe_duration(Duration::from_millis(250)), "250ms");
        assert_eq!(describe_duration(Duration::from_millis(1500)), "1.5s");
        assert_eq!(describe_duration(Duration::from_secs(10)), "10s");
        assert_eq!(describe_duration(Duration::from_secs(300)), "5m");
    }
}
