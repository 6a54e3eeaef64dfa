//! How long a cached connection or result lives.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use crate::error::Error;

/// A time to live: forever (Streamlit's `ttl=None`) or a duration (`ttl=0` turns a cache
/// off).
///
/// Parses from seconds (`"30"`, `"2.5"`) or a duration with a unit (`"500ms"`, `"10s"`,
/// `"5m"`, `"1h"`, `"1d"`), and from `"none"`/`"forever"`. `30`, `30.0` and
/// `Duration::from_secs(30)` are the same ttl, as in Streamlit.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Ttl {
    /// Never expires.
    #[default]
    Forever,
    /// Expires this long after it was stored.
    After(Duration),
}

impl Ttl {
    /// No caching at all (`ttl=0`).
    pub const ZERO: Ttl = Ttl::After(Duration::ZERO);

    /// A ttl in seconds. Negative, infinite or NaN seconds are an error (infinity means
    /// [`Ttl::Forever`]; say so).
    pub fn from_secs_f64(seconds: f64) -> Result<Self, Error> {
        if seconds.is_infinite() && seconds > 0.0 {
            return Ok(Ttl::Forever);
        }
        Duration::try_from_secs_f64(seconds)
            .map(Ttl::After)
            .map_err(|_| {
                Error::InvalidArgument(format!(
                    "invalid ttl: {seconds} seconds; use a finite, non-negative number of \
                     seconds, or no ttl to cache until cleared"
                ))
            })
    }

    /// Whether something stored `age` ago has expired.
    pub fn is_expired(self, age: Duration) -> bool {
        match self {
            Ttl::Forever => false,
            Ttl::After(ttl) => age >= ttl,
        }
    }

    /// Whether this ttl turns caching off.
    pub fn is_zero(self) -> bool {
        self == Ttl::ZERO
    }
}

impl From<Duration> for Ttl {
    fn from(duration: Duration) -> Self {
        Ttl::After(duration)
    }
}

impl From<Option<Duration>> for Ttl {
    fn from(duration: Option<Duration>) -> Self {
        duration.map_or(Ttl::Forever, Ttl::After)
    }
}

impl FromStr for Ttl {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self, Error> {
        let trimmed = text.trim();
        let lowered = trimmed.to_ascii_lowercase();
        if matches!(lowered.as_str(), "none" | "forever" | "inf") {
            return Ok(Ttl::Forever);
        }
        let split = lowered
            .find(|c: char| c.is_ascii_alphabetic())
            .unwrap_or(lowered.len());
        let (number, unit) = lowered.split_at(split);
        let scale = match unit.trim() {
            "" | "s" | "sec" | "secs" | "second" | "seconds" => 1.0,
            "ms" => 0.001,
            "m" | "min" | "mins" | "minute" | "minutes" => 60.0,
            "h" | "hr" | "hour" | "hours" => 3600.0,
            "d" | "day" | "days" => 86400.0,
            _ => f64::NAN,
        };
        match number.trim().parse::<f64>() {
            Ok(n) if !scale.is_nan() => Ttl::from_secs_f64(n * scale),
            _ => Err(Error::InvalidArgument(format!(
                "invalid ttl \"{trimmed}\": use seconds (\"30\") or a number with a unit \
                 (\"500ms\", \"10s\", \"5m\", \"1h\", \"1d\"), or \"none\""
            ))),
        }
    }
}

impl fmt::Debug for Ttl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for Ttl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ttl::Forever => f.write_str("forever"),
            Ttl::After(d) => write!(f, "{}s", d.as_secs_f64()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units_and_plain_seconds() {
        assert_eq!(
            "30".parse::<Ttl>().unwrap(),
            Ttl::After(Duration::from_secs(30))
        );
        assert_eq!(
            " 12.5 ".parse::<Ttl>().unwrap(),
            Ttl::After(Duration::from_millis(12_500))
        );
        assert_eq!(
            "1h".parse::<Ttl>().unwrap(),
            Ttl::After(Duration::from_secs(3600))
        );
        assert_eq!(
            "500ms".parse::<Ttl>().unwrap(),
            Ttl::After(Duration::from_millis(500))
        );
        assert_eq!("none".parse::<Ttl>().unwrap(), Ttl::Forever);
        assert_eq!("0".parse::<Ttl>().unwrap(), Ttl::ZERO);
    }

    #[test]
    fn rejects_negative_and_garbage() {
        let err = "-1".parse::<Ttl>().unwrap_err().to_string();
        assert!(err.starts_with("invalid ttl: -1 seconds"), "{err}");
        let err = "soon".parse::<Ttl>().unwrap_err().to_string();
        assert!(err.starts_with("invalid ttl \"soon\""), "{err}");
    }

    #[test]
    fn expiry() {
        assert!(!Ttl::Forever.is_expired(Duration::from_secs(1 << 40)));
        assert!(Ttl::ZERO.is_expired(Duration::ZERO));
        assert!(!Ttl::After(Duration::from_secs(2)).is_expired(Duration::from_secs(1)));
    }
}
