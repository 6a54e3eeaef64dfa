//! What a `rowtype` entry means: the Snowflake type of a column, with the digits that
//! matter for its conversion, and the SQL name users know it by.

use conn_core::{Error, Result};

use super::Column;

/// The widest precision Snowflake's NUMBER (and Arrow's `Decimal128`) declares.
pub(crate) const MAX_PRECISION: u8 = 38;

/// The widest `FIXED` precision whose values all fit an `Int64`.
const INT64_PRECISION: u8 = 18;

/// The fractional-second digits of TIME and TIMESTAMP columns whose rowtype gives none
/// (the drivers' default).
const DEFAULT_TIME_SCALE: u8 = 9;

/// A column's Snowflake type, as far as its conversion needs to know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `FIXED` (NUMBER, INT, DECIMAL...): `precision` total digits, `scale` after the point.
    Fixed {
        /// Total digits (38 when the rowtype gives none).
        precision: u8,
        /// Digits after the point.
        scale: i8,
    },
    /// `REAL` (FLOAT, DOUBLE).
    Real,
    /// `TEXT` (VARCHAR, STRING, CHAR); `length` in characters when known.
    Text {
        /// Declared length in characters.
        length: Option<i64>,
    },
    /// `BOOLEAN`.
    Boolean,
    /// `DATE`.
    Date,
    /// `BINARY`; `length` in bytes when known.
    Binary {
        /// Declared length in bytes.
        length: Option<i64>,
    },
    /// `TIME(scale)`.
    Time {
        /// Fractional-second digits.
        scale: u8,
    },
    /// `TIMESTAMP_NTZ`, `TIMESTAMP_LTZ` or `TIMESTAMP_TZ` with `scale` fractional digits.
    Timestamp {
        /// Which of the three.
        zone: Zone,
        /// Fractional-second digits.
        scale: u8,
    },
    /// `VARIANT`, `OBJECT` or `ARRAY`: JSON text. Holds the upper-case type name.
    Json(&'static str),
    /// A type conn has no conversion for (GEOGRAPHY, GEOMETRY, VECTOR, MAP, DECFLOAT,
    /// FILE, ...): its values are kept as they come. Holds the upper-case type name.
    Other(String),
}

/// How a Snowflake timestamp relates to time zones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Zone {
    /// `TIMESTAMP_NTZ`: wall-clock time, no zone.
    Ntz,
    /// `TIMESTAMP_LTZ`: an instant, shown in the session's zone.
    Ltz,
    /// `TIMESTAMP_TZ`: an instant with its own offset.
    Tz,
}

impl Zone {
    /// The Snowflake type name.
    fn name(self) -> &'static str {
        match self {
            Zone::Ntz => "TIMESTAMP_NTZ",
            Zone::Ltz => "TIMESTAMP_LTZ",
            Zone::Tz => "TIMESTAMP_TZ",
        }
    }
}

impl Kind {
    /// The kind `column` describes. Fails only on digits no Snowflake type declares
    /// (a NUMBER wider than 38 digits, a TIME with more than 9 fractional digits).
    pub(crate) fn of(column: &Column) -> Result<Kind> {
        let kind = match column.kind.to_ascii_lowercase().as_str() {
            "fixed" => {
                let precision = column.precision.unwrap_or(i64::from(MAX_PRECISION));
                let scale = column.scale.unwrap_or(0);
                match (u8::try_from(precision), i8::try_from(scale)) {
                    (Ok(p @ 1..=MAX_PRECISION), Ok(s)) if s >= 0 && i64::from(s) <= precision => {
                        Kind::Fixed {
                            precision: p,
                            scale: s,
                        }
                    }
                    _ => {
                        return Err(Error::Data(format!(
                            "column \"{}\": the rowtype declares NUMBER({precision},{scale}), \
                             which no Snowflake NUMBER is (at most 38 digits, scale 0 to precision)",
                            column.name
                        )));
                    }
                }
            }
            "real" => Kind::Real,
            "text" | "char" => Kind::Text {
                length: column.length,
            },
            "boolean" => Kind::Boolean,
            "date" => Kind::Date,
            "binary" => Kind::Binary {
                length: column.byte_length.or(column.length),
            },
            "time" => Kind::Time {
                scale: time_scale(column, "TIME")?,
            },
            "timestamp_ntz" => Kind::timestamp(column, Zone::Ntz)?,
            // The Python connector reads a bare `timestamp` as TIMESTAMP_LTZ.
            "timestamp_ltz" | "timestamp" => Kind::timestamp(column, Zone::Ltz)?,
            "timestamp_tz" => Kind::timestamp(column, Zone::Tz)?,
            "variant" => Kind::Json("VARIANT"),
            "object" => Kind::Json("OBJECT"),
            "array" => Kind::Json("ARRAY"),
            other => Kind::Other(other.to_ascii_uppercase()),
        };
        Ok(kind)
    }

    fn timestamp(column: &Column, zone: Zone) -> Result<Kind> {
        Ok(Kind::Timestamp {
            zone,
            scale: time_scale(column, zone.name())?,
        })
    }

    /// The SQL name of the type, as `DESCRIBE` shows it: `NUMBER(38,2)`,
    /// `TIMESTAMP_TZ(9)`, `VARCHAR(16777216)`...
    pub(crate) fn sql_name(&self) -> String {
        match self {
            Kind::Fixed { precision, scale } => format!("NUMBER({precision},{scale})"),
            Kind::Real => "FLOAT".to_owned(),
            Kind::Text { length: Some(n) } => format!("VARCHAR({n})"),
            Kind::Text { length: None } => "VARCHAR".to_owned(),
            Kind::Boolean => "BOOLEAN".to_owned(),
            Kind::Date => "DATE".to_owned(),
            Kind::Binary { length: Some(n) } => format!("BINARY({n})"),
            Kind::Binary { length: None } => "BINARY".to_owned(),
            Kind::Time { scale } => format!("TIME({scale})"),
            Kind::Timestamp { zone, scale } => format!("{}({scale})", zone.name()),
            Kind::Json(name) => (*name).to_owned(),
            Kind::Other(name) => name.clone(),
        }
    }

    /// Whether values of this kind fit an `Int64` (`FIXED` with scale 0 and at most 18
    /// digits).
    pub(crate) fn is_int64(&self) -> bool {
        matches!(self, Kind::Fixed { precision, scale: 0 } if *precision <= INT64_PRECISION)
    }
}

/// The fractional-second digits of a TIME or TIMESTAMP column (9 when not given).
fn time_scale(column: &Column, type_name: &str) -> Result<u8> {
    match column.scale {
        None => Ok(DEFAULT_TIME_SCALE),
        Some(s @ 0..=9) => Ok(s as u8),
        Some(s) => Err(Error::Data(format!(
            "column \"{}\": the rowtype declares {type_name}({s}); Snowflake keeps 0 to 9 \
             fractional-second digits",
            column.name
        ))),
    }
}
