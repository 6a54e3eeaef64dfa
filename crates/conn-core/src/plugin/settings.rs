//! The keys every connection type understands, read by the core so that no type parses
//! them itself: `retry`, `timeout` and `connect_timeout`.

use std::time::Duration;

use super::handle::ConnectTimeout;
pub use crate::config::COMMON_KEYS;
use crate::config::ConnectionConfig;
use crate::error::{Limit, Result};
use crate::retry::RetryPolicy;
use crate::ttl::Ttl;
use crate::value::{Kind, Source};

/// How long a connect may take unless `connect_timeout` says otherwise.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The `connect_timeout` of a connection and where it was set (for drivers that open
/// connections of their own, such as a pool growing).
pub fn connect_timeout(config: &ConnectionConfig) -> Result<(Duration, Source)> {
    let settings = CommonSettings::from_config(config)?;
    Ok((settings.connect_timeout.after, settings.connect_timeout.at))
}

/// The common settings of one connection.
#[derive(Clone, Debug)]
pub(crate) struct CommonSettings {
    pub(crate) retry: RetryPolicy,
    /// The limit on each read and write, and where it was set.
    pub(crate) timeout: Option<(Duration, Limit)>,
    pub(crate) connect_timeout: ConnectTimeout,
}

impl Default for CommonSettings {
    fn default() -> Self {
        CommonSettings {
            retry: RetryPolicy::default(),
            timeout: None,
            connect_timeout: ConnectTimeout {
                after: DEFAULT_CONNECT_TIMEOUT,
                at: Source::Default,
            },
        }
    }
}

impl CommonSettings {
    pub(crate) fn from_config(config: &ConnectionConfig) -> Result<Self> {
        let defaults = CommonSettings::default();
        let timeout = duration(config, "timeout")?
            .map(|(after, at)| (after, Limit::Setting { key: "timeout", at }));
        let connect_timeout = match duration(config, "connect_timeout")? {
            Some((after, at)) => ConnectTimeout { after, at },
            None => defaults.connect_timeout,
        };
        Ok(CommonSettings {
            retry: RetryPolicy::from_config(config)?,
            timeout,
            connect_timeout,
        })
    }
}

/// A duration key: seconds (`30`, `2.5`) or text with a unit (`"500ms"`, `"10s"`).
/// `0` and `"none"` mean no limit.
fn duration(config: &ConnectionConfig, key: &str) -> Result<Option<(Duration, Source)>> {
    let Some(value) = config.get(key) else {
        return Ok(None);
    };
    let parsed = match value.kind() {
        Kind::Integer(i) => u32::try_from(*i)
            .ok()
            .map(|s| Ttl::After(Duration::from_secs(u64::from(s)))),
        #[allow(clippy::cast_precision_loss)]
        Kind::Float(f) => Ttl::from_secs_f64(*f).ok(),
        Kind::String(text) => text.parse::<Ttl>().ok(),
        _ => None,
    };
    match parsed {
        Some(Ttl::After(d)) if !d.is_zero() => Ok(Some((d, value.source().clone()))),
        Some(_) => Ok(None),
        None => Err(config.invalid_value(
            key,
            "expected seconds or a duration such as \"500ms\" or \"30s\" (0 for no limit)",
        )),
    }
}
