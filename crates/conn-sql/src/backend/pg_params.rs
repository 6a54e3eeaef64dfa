//! Parameters for PostgreSQL, encoded as the type the server inferred for each
//! placeholder.
//!
//! sqlx sends every parameter in binary, typed by its Rust type, so binding an `i64`
//! where the server expects an `integer` fails ("incorrect binary data format"). SQLAlchemy
//! with psycopg2 sends literals, which the server converts for you. To keep that
//! convenience, conn prepares the statement, reads the parameter types the server
//! inferred, and encodes each value as that type: `41` for an `integer` is sent as an
//! int4, `"2024-02-29"` for a `date` as a date, and a value that does not fit is an error
//! naming the parameter.

use std::str::FromStr;

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime};
use conn_core::{Error, Param, Result};
use sqlx::Postgres;
use sqlx::postgres::types::Oid;
use sqlx::postgres::{PgArgumentBuffer, PgTypeInfo};

use crate::arrow::generic::{date_to_days, datetime_to_micros, time_to_micros};
use crate::arrow::postgres::{PG_EPOCH_DAYS, PG_EPOCH_MICROS, PgKind, encode_numeric};

/// One parameter in PostgreSQL's binary format, typed by OID.
pub(crate) struct PgRaw {
    oid: u32,
    bytes: Option<Vec<u8>>,
}

impl sqlx::Type<Postgres> for PgRaw {
    fn type_info() -> PgTypeInfo {
        PgTypeInfo::with_oid(Oid(0))
    }
}

impl sqlx::Encode<'_, Postgres> for PgRaw {
    fn encode_by_ref(
        &self,
        buf: &mut PgArgumentBuffer,
    ) -> std::result::Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
        match &self.bytes {
            Some(bytes) => {
                buf.extend_from_slice(bytes);
                Ok(sqlx::encode::IsNull::No)
            }
            None => Ok(sqlx::encode::IsNull::Yes),
        }
    }

    fn produces(&self) -> Option<PgTypeInfo> {
        Some(PgTypeInfo::with_oid(Oid(self.oid)))
    }
}

fn mismatch(index: usize, value: &Param, target: &str) -> Error {
    let given = match value {
        Param::Bool(_) => "a boolean",
        Param::Int(_) => "an integer",
        Param::Float(_) => "a float",
        Param::Text(_) => "text",
        Param::Bytes(_) => "bytes",
        _ => "a value",
    };
    Error::InvalidArgument(format!(
        "parameter {} is {given} that does not convert to the {target} the statement expects \
         there; cast the placeholder in the query (for example $1::text) or pass another type",
        index + 1
    ))
}

fn text_of(value: &Param) -> Option<String> {
    match value {
        Param::Text(s) => Some(s.clone()),
        Param::Int(i) => Some(i.to_string()),
        Param::Float(f) => Some(f.to_string()),
        Param::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn int_of(value: &Param) -> Option<i64> {
    match value {
        Param::Int(i) => Some(*i),
        Param::Bool(b) => Some(i64::from(*b)),
        Param::Text(s) => s.trim().parse().ok(),
        _ => None,
    }
}

#[allow(clippy::cast_precision_loss)]
fn float_of(value: &Param) -> Option<f64> {
    match value {
        Param::Float(f) => Some(*f),
        Param::Int(i) => Some(*i as f64),
        Param::Text(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn parse_timestamp(text: &str) -> Option<NaiveDateTime> {
    let text = text.trim();
    [
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%d",
    ]
    .iter()
    .find_map(|format| {
        NaiveDateTime::parse_from_str(text, format)
            .ok()
            .or_else(|| {
                NaiveDate::parse_from_str(text, format)
                    .ok()
                    .and_then(|d| d.and_hms_opt(0, 0, 0))
            })
    })
}

fn parse_timestamptz(text: &str) -> Option<i64> {
    DateTime::parse_from_rfc3339(text.trim())
        .ok()
        .map(|d| d.timestamp_micros())
        .or_else(|| {
            DateTime::parse_from_str(text.trim(), "%Y-%m-%d %H:%M:%S%.f%#z")
                .ok()
                .map(|d| d.timestamp_micros())
        })
        .or_else(|| parse_timestamp(text).map(datetime_to_micros))
}

/// Encodes `value` (parameter `index`) as the PostgreSQL type `target`.
pub(crate) fn encode(value: &Param, target: &PgTypeInfo, index: usize) -> Result<PgRaw> {
    let oid = target.oid().map_or(0, |o| o.0);
    if matches!(value, Param::Null) {
        return Ok(PgRaw { oid, bytes: None });
    }
    let kind = PgKind::from_oid(oid);
    let name = kind.as_ref().map_or_else(
        || sqlx::TypeInfo::name(target).to_owned(),
        |k| k.sql_name().to_owned(),
    );
    let fail = || mismatch(index, value, &name);
    let bytes: Vec<u8> = match kind {
        Some(PgKind::Bool) => {
            let b = match value {
                Param::Bool(b) => *b,
                Param::Int(i) => *i != 0,
                Param::Text(s) => match s.trim().to_ascii_lowercase().as_str() {
                    "true" | "t" | "yes" | "y" | "on" | "1" => true,
                    "false" | "f" | "no" | "n" | "off" | "0" => false,
                    _ => return Err(fail()),
                },
                _ => return Err(fail()),
            };
            vec![u8::from(b)]
        }
        Some(PgKind::Int2) => i16::try_from(int_of(value).ok_or_else(fail)?)
            .map_err(|_| fail())?
            .to_be_bytes()
            .to_vec(),
        Some(PgKind::Int4) => i32::try_from(int_of(value).ok_or_else(fail)?)
            .map_err(|_| fail())?
            .to_be_bytes()
            .to_vec(),
        Some(PgKind::Int8) => int_of(value).ok_or_else(fail)?.to_be_bytes().to_vec(),
        Some(PgKind::Oid) => u32::try_from(int_of(value).ok_or_else(fail)?)
            .map_err(|_| fail())?
            .to_be_bytes()
            .to_vec(),
        #[allow(clippy::cast_possible_truncation)]
        Some(PgKind::Float4) => (float_of(value).ok_or_else(fail)? as f32)
            .to_be_bytes()
            .to_vec(),
        Some(PgKind::Float8) => float_of(value).ok_or_else(fail)?.to_be_bytes().to_vec(),
        Some(PgKind::Numeric(_)) => {
            let decimal = match value {
                Param::Int(i) => rust_decimal::Decimal::from(*i),
                Param::Float(f) => rust_decimal::Decimal::try_from(*f).map_err(|_| fail())?,
                Param::Text(s) => rust_decimal::Decimal::from_str(s.trim())
                    .or_else(|_| rust_decimal::Decimal::from_scientific(s.trim()))
                    .map_err(|_| fail())?,
                _ => return Err(fail()),
            };
            let mut out = Vec::new();
            let scale = i8::try_from(decimal.scale()).map_err(|_| fail())?;
            encode_numeric(&mut out, decimal.mantissa(), scale);
            out
        }
        Some(PgKind::Text | PgKind::Json) => text_of(value).ok_or_else(fail)?.into_bytes(),
        Some(PgKind::Jsonb) => {
            let mut out = vec![1];
            out.extend_from_slice(text_of(value).ok_or_else(fail)?.as_bytes());
            out
        }
        Some(PgKind::Bytea) => match value {
            Param::Bytes(b) => b.clone(),
            Param::Text(s) => s.clone().into_bytes(),
            _ => return Err(fail()),
        },
        Some(PgKind::Uuid) => match value {
            Param::Text(s) => uuid::Uuid::parse_str(s.trim())
                .map_err(|_| fail())?
                .as_bytes()
                .to_vec(),
            Param::Bytes(b) if b.len() == 16 => b.clone(),
            _ => return Err(fail()),
        },
        Some(PgKind::Date) => {
            let Param::Text(s) = value else {
                return Err(fail());
            };
            let date = NaiveDate::from_str(s.trim()).map_err(|_| fail())?;
            (date_to_days(date) - PG_EPOCH_DAYS).to_be_bytes().to_vec()
        }
        Some(PgKind::Time) => {
            let Param::Text(s) = value else {
                return Err(fail());
            };
            let time = NaiveTime::from_str(s.trim()).map_err(|_| fail())?;
            time_to_micros(time).to_be_bytes().to_vec()
        }
        Some(PgKind::Timestamp) => {
            let Param::Text(s) = value else {
                return Err(fail());
            };
            let at = parse_timestamp(s).ok_or_else(fail)?;
            (datetime_to_micros(at) - PG_EPOCH_MICROS)
                .to_be_bytes()
                .to_vec()
        }
        Some(PgKind::TimestampTz) => {
            let Param::Text(s) = value else {
                return Err(fail());
            };
            (parse_timestamptz(s).ok_or_else(fail)? - PG_EPOCH_MICROS)
                .to_be_bytes()
                .to_vec()
        }
        // Enums and other text-like custom types take their text form in binary too;
        // a placeholder whose type the server left open (`unknown`) takes text.
        None | Some(PgKind::Interval | PgKind::Array(_)) => match value {
            Param::Text(s) if kind.is_none() => s.clone().into_bytes(),
            _ => return Err(fail()),
        },
    };
    Ok(PgRaw {
        oid,
        bytes: Some(bytes),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(value: &Param, oid: u32) -> Result<Option<Vec<u8>>> {
        encode(value, &PgTypeInfo::with_oid(Oid(oid)), 0).map(|raw| raw.bytes)
    }

    #[test]
    fn integers_fit_the_placeholder() {
        assert_eq!(
            bytes(&Param::Int(41), 23).unwrap(),
            Some(41i32.to_be_bytes().to_vec())
        );
        assert_eq!(
            bytes(&Param::Text("7".into()), 21).unwrap(),
            Some(7i16.to_be_bytes().to_vec())
        );
        let err = bytes(&Param::Int(1 << 40), 23).unwrap_err().to_string();
        assert_eq!(
            err,
            "parameter 1 is an integer that does not convert to the integer the statement expects \
             there; cast the placeholder in the query (for example $1::text) or pass another type"
        );
    }

    #[test]
    fn text_converts_to_dates_and_timestamps() {
        assert_eq!(
            bytes(&Param::Text("2000-01-02".into()), 1082).unwrap(),
            Some(1i32.to_be_bytes().to_vec())
        );
        assert_eq!(
            bytes(&Param::Text("2000-01-01 00:00:01".into()), 1114).unwrap(),
            Some(1_000_000i64.to_be_bytes().to_vec())
        );
        assert_eq!(
            bytes(&Param::Text("2000-01-01T01:00:00+01:00".into()), 1184).unwrap(),
            Some(0i64.to_be_bytes().to_vec())
        );
        assert_eq!(bytes(&Param::Null, 1082).unwrap(), None);
    }
}
