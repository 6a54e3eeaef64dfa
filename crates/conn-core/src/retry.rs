//! The retry policy: how many attempts, how far apart.
//!
//! Which errors are retried is decided by their [`ErrorClass`](crate::ErrorClass): only
//! stale connections and transient failures. Streamlit retries every database error,
//! syntax errors included; conn fails those at once.

use std::time::Duration;

use serde::Deserialize;

use crate::config::ConnectionConfig;
use crate::error::{Error, Result};
use crate::ttl::Ttl;

/// How many times to attempt a read, and how long to wait between attempts.
///
/// Set per connection in secrets (`retry = { attempts = 5, wait = "500ms" }`), or in
/// code on the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, at least 1 (1 means no retry). Default 3.
    pub attempts: u32,
    /// Pause between attempts. Default 1 s.
    pub wait: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: 3,
            wait: Duration::from_secs(1),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RetrySection {
    attempts: Option<u32>,
    wait: Option<WaitValue>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum WaitValue {
    Seconds(f64),
    Text(String),
}

impl RetryPolicy {
    /// The key of the retry section in a connection's configuration.
    pub const CONFIG_KEY: &'static str = "retry";

    /// No retries: one attempt.
    pub const NONE: RetryPolicy = RetryPolicy {
        attempts: 1,
        wait: Duration::ZERO,
    };

    /// The policy from a connection's `retry` key, or the default.
    pub fn from_config(config: &ConnectionConfig) -> Result<Self> {
        let Some(section) = config.get_as::<RetrySection>(Self::CONFIG_KEY)? else {
            return Ok(RetryPolicy::default());
        };
        let mut policy = RetryPolicy::default();
        if let Some(attempts) = section.attempts {
            if attempts == 0 {
                return Err(
                    config.invalid_value("retry.attempts", "must be at least 1 (1 means no retry)")
                );
            }
            policy.attempts = attempts;
        }
        if let Some(wait) = section.wait {
            let ttl = match wait {
                WaitValue::Seconds(s) => Ttl::from_secs_f64(s),
                WaitValue::Text(t) => t.parse(),
            };
            policy.wait = match ttl {
                Ok(Ttl::After(d)) => d,
                Ok(Ttl::Forever) | Err(_) => {
                    return Err(config.invalid_value(
                        "retry.wait",
                        "expected seconds or a duration such as \"500ms\"",
                    ));
                }
            };
        }
        Ok(policy)
    }

    /// A policy with `attempts` attempts `wait` apart.
    pub fn new(attempts: u32, wait: Duration) -> Result<Self> {
        if attempts == 0 {
            return Err(Error::InvalidArgument(
                "retry attempts must be at least 1 (1 means no retry)".into(),
            ));
        }
        Ok(RetryPolicy { attempts, wait })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(toml: &str) -> ConnectionConfig {
        ConnectionConfig::from_toml("db", "sql", toml, "/s.toml").unwrap()
    }

    #[test]
    fn reads_attempts_and_wait_from_config() {
        let policy =
            RetryPolicy::from_config(&config("retry = { attempts = 5, wait = \"250ms\" }"))
                .unwrap();
        assert_eq!(
            policy,
            RetryPolicy::new(5, Duration::from_millis(250)).unwrap()
        );
        let policy = RetryPolicy::from_config(&config("retry = { wait = 2 }")).unwrap();
        assert_eq!(policy.wait, Duration::from_secs(2));
        assert_eq!(policy.attempts, 3);
        assert_eq!(
            RetryPolicy::from_config(&config("")).unwrap(),
            RetryPolicy::default()
        );
    }

    #[test]
    fn zero_attempts_is_an_error_naming_the_key_and_line() {
        let err = RetryPolicy::from_config(&config("\nretry = { attempts = 0 }"))
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "invalid `retry.attempts` for connection \"db\" at /s.toml:2:22: must be at \
             least 1 (1 means no retry)"
        );
    }
}
