//! PostgreSQL's binary wire format to Arrow arrays.
//!
//! One decoder per column, fed the raw binary value of each row. The same decoders read
//! rows from sqlx (which asks for binary results) and the tuples of a binary
//! `COPY ... TO STDOUT`, so both paths give identical tables.

use std::sync::Arc;

use arrow::array::{
    ArrayRef, BinaryBuilder, BooleanBuilder, Date32Builder, FixedSizeBinaryBuilder, Float32Builder,
    Float64Builder, Int16Builder, Int32Builder, Int64Builder, IntervalMonthDayNanoBuilder,
    ListArray, StringBuilder, Time64MicrosecondBuilder, TimestampMicrosecondBuilder, UInt32Builder,
};
use arrow::buffer::{NullBuffer, OffsetBuffer};
use arrow::datatypes::{DataType, Field, FieldRef, IntervalMonthDayNano, TimeUnit};

use arrow::datatypes::i256;

use super::decimal::{self, DecimalColumn, DecimalValue};
use super::unify::RowOf;

/// Days from 1970-01-01 (Arrow's epoch) to 2000-01-01 (PostgreSQL's).
pub(crate) const PG_EPOCH_DAYS: i32 = 10_957;
/// Microseconds from 1970-01-01 to 2000-01-01.
pub(crate) const PG_EPOCH_MICROS: i64 = 946_684_800_000_000;

/// The PostgreSQL types conn maps, by OID.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum PgKind {
    Bool,
    Int2,
    Int4,
    Int8,
    Oid,
    Float4,
    Float8,
    /// With precision and scale when the type modifier gives them.
    Numeric(Option<(u8, i8)>),
    Text,
    Json,
    Jsonb,
    Bytea,
    Uuid,
    Date,
    Time,
    Timestamp,
    TimestampTz,
    Interval,
    Array(Box<PgKind>),
}

impl PgKind {
    /// The kind of a built-in type OID; `None` for types conn does not map.
    pub(crate) fn from_oid(oid: u32) -> Option<PgKind> {
        Some(match oid {
            16 => PgKind::Bool,
            20 => PgKind::Int8,
            21 => PgKind::Int2,
            23 => PgKind::Int4,
            26 => PgKind::Oid,
            700 => PgKind::Float4,
            701 => PgKind::Float8,
            1700 => PgKind::Numeric(None),
            // text, "char", name, bpchar, varchar, xml
            25 | 18 | 19 | 1042 | 1043 | 142 => PgKind::Text,
            114 => PgKind::Json,
            3802 => PgKind::Jsonb,
            17 => PgKind::Bytea,
            2950 => PgKind::Uuid,
            1082 => PgKind::Date,
            1083 => PgKind::Time,
            1114 => PgKind::Timestamp,
            1184 => PgKind::TimestampTz,
            1186 => PgKind::Interval,
            1000 => PgKind::Array(Box::new(PgKind::Bool)),
            1001 => PgKind::Array(Box::new(PgKind::Bytea)),
            1005 => PgKind::Array(Box::new(PgKind::Int2)),
            1007 => PgKind::Array(Box::new(PgKind::Int4)),
            1016 => PgKind::Array(Box::new(PgKind::Int8)),
            1021 => PgKind::Array(Box::new(PgKind::Float4)),
            1022 => PgKind::Array(Box::new(PgKind::Float8)),
            1231 => PgKind::Array(Box::new(PgKind::Numeric(None))),
            1009 | 1002 | 1003 | 1014 | 1015 | 143 => PgKind::Array(Box::new(PgKind::Text)),
            199 => PgKind::Array(Box::new(PgKind::Json)),
            3807 => PgKind::Array(Box::new(PgKind::Jsonb)),
            2951 => PgKind::Array(Box::new(PgKind::Uuid)),
            1182 => PgKind::Array(Box::new(PgKind::Date)),
            1183 => PgKind::Array(Box::new(PgKind::Time)),
            1115 => PgKind::Array(Box::new(PgKind::Timestamp)),
            1185 => PgKind::Array(Box::new(PgKind::TimestampTz)),
            1187 => PgKind::Array(Box::new(PgKind::Interval)),
            _ => return None,
        })
    }

    /// The type's SQL name, for messages.
    pub(crate) fn sql_name(&self) -> &'static str {
        match self {
            PgKind::Bool => "boolean",
            PgKind::Int2 => "smallint",
            PgKind::Int4 => "integer",
            PgKind::Int8 => "bigint",
            PgKind::Oid => "oid",
            PgKind::Float4 => "real",
            PgKind::Float8 => "double precision",
            PgKind::Numeric(_) => "numeric",
            PgKind::Text => "text",
            PgKind::Json => "json",
            PgKind::Jsonb => "jsonb",
            PgKind::Bytea => "bytea",
            PgKind::Uuid => "uuid",
            PgKind::Date => "date",
            PgKind::Time => "time",
            PgKind::Timestamp => "timestamp",
            PgKind::TimestampTz => "timestamptz",
            PgKind::Interval => "interval",
            PgKind::Array(_) => "array",
        }
    }

    /// Applies a `numeric(p, s)` type modifier (`-1` is none). The scale is an 11-bit
    /// signed field (PostgreSQL 15 allows negative scales); a precision or scale beyond
    /// what Arrow holds leaves the type unconstrained, so the values decide.
    pub(crate) fn with_typmod(self, typmod: i32) -> PgKind {
        match self {
            PgKind::Numeric(_) if typmod >= 4 => {
                let packed = typmod - 4;
                let precision = u8::try_from((packed >> 16) & 0xffff).ok();
                let scale = i8::try_from(((packed & 0x7ff) ^ 1024) - 1024).ok();
                PgKind::Numeric(precision.zip(scale))
            }
            PgKind::Array(inner) => PgKind::Array(Box::new(inner.with_typmod(typmod))),
            other => other,
        }
    }
}

/// Arrow field metadata marking canonical extension types.
fn extension(field: Field, name: &str) -> Field {
    field.with_metadata(
        [("ARROW:extension:name".to_owned(), name.to_owned())]
            .into_iter()
            .collect(),
    )
}

/// Decodes one column.
#[derive(Debug)]
pub(crate) enum Decoder {
    Bool(BooleanBuilder),
    Int2(Int16Builder),
    Int4(Int32Builder),
    Int8(Int64Builder),
    Oid(UInt32Builder),
    Float4(Float32Builder),
    Float8(Float64Builder),
    Numeric(DecimalColumn),
    Text(StringBuilder),
    Json(StringBuilder),
    Jsonb(StringBuilder),
    Bytea(BinaryBuilder),
    Uuid(FixedSizeBinaryBuilder),
    Date(Date32Builder),
    Time(Time64MicrosecondBuilder),
    Timestamp(TimestampMicrosecondBuilder),
    TimestampTz(TimestampMicrosecondBuilder),
    Interval(IntervalMonthDayNanoBuilder),
    Array(Box<ArrayDecoder>),
}

#[derive(Debug)]
pub(crate) struct ArrayDecoder {
    item: FieldRef,
    values: Decoder,
    offsets: Vec<i32>,
    validity: Vec<bool>,
}

type DecodeResult = Result<(), String>;

fn fixed<const N: usize>(bytes: &[u8], what: &str) -> Result<[u8; N], String> {
    bytes.try_into().map_err(|_| {
        format!(
            "holds a value of {} bytes where a {what} has {N} (did the column's type \
             change?)",
            bytes.len()
        )
    })
}

fn utf8(bytes: &[u8]) -> Result<&str, String> {
    std::str::from_utf8(bytes).map_err(|_| "holds text that is not valid UTF-8".to_owned())
}

/// A date, time or interval Arrow's type cannot hold.
fn out_of_range(what: &str) -> String {
    format!("holds {what}, which Arrow's type for it cannot hold; cast it to text in the query")
}

/// PostgreSQL's binary numeric: digit count, weight, sign, display scale, then base-10000
/// digits. Returns the unscaled value at the display scale, in an `i128` when it fits.
#[inline]
fn numeric(bytes: &[u8]) -> Result<DecimalValue, String> {
    let header: [u8; 8] = bytes
        .get(..8)
        .and_then(|h| h.try_into().ok())
        .ok_or("holds a numeric value shorter than its header")?;
    let ndigits = usize::from(u16::from_be_bytes([header[0], header[1]]));
    let weight = i32::from(i16::from_be_bytes([header[2], header[3]]));
    let sign = u16::from_be_bytes([header[4], header[5]]);
    let dscale = u16::from_be_bytes([header[6], header[7]]);
    match sign {
        0x0000 | 0x4000 => {}
        0xC000 => {
            return Err(
                "holds NaN, which no Arrow decimal can hold; cast the column to \
                        double precision or text in the query"
                    .into(),
            );
        }
        0xD000 => return Err(infinite_numeric("Infinity")),
        0xF000 => return Err(infinite_numeric("-Infinity")),
        _ => return Err("holds a numeric value with an unknown sign".into()),
    }
    if bytes.len() != 8 + 2 * ndigits {
        return Err("holds a numeric value of the wrong length".into());
    }
    let scale = decimal::checked_scale(usize::from(dscale), "a numeric")?;
    let negative = sign == 0x4000;
    // `value` counts units of 10000^(weight - ndigits + 1); bring it to 10^-dscale.
    let ndigits = i32::try_from(ndigits).map_err(|_| "holds a numeric of too many digits")?;
    let exponent = 4 * (weight - ndigits + 1) + i32::from(dscale);
    let mut value: i128 = 0;
    let mut overflow = false;
    for chunk in bytes[8..].chunks_exact(2) {
        let digit = i128::from(u16::from_be_bytes([chunk[0], chunk[1]]));
        match value.checked_mul(10_000).and_then(|v| v.checked_add(digit)) {
            Some(v) => value = v,
            None => {
                overflow = true;
                break;
            }
        }
    }
    if !overflow {
        let factor = 10i128.checked_pow(exponent.unsigned_abs());
        let scaled = match factor {
            Some(p) if exponent >= 0 => value.checked_mul(p),
            // Digits past the display scale are zeros; anything else is malformed.
            Some(p) if value % p == 0 => Some(value / p),
            Some(_) => return Err("holds a numeric with digits past its scale".into()),
            None => None,
        };
        if let Some(scaled) = scaled {
            return Ok(DecimalValue::Narrow(
                if negative { -scaled } else { scaled },
                scale,
            ));
        }
    }
    numeric_wide(&bytes[8..], exponent, negative, scale)
}

fn infinite_numeric(which: &str) -> String {
    format!(
        "holds {which}, which no Arrow decimal can hold; cast the column to double precision \
         or text in the query"
    )
}

/// [`numeric`] for a value beyond an `i128` (up to 76 digits).
#[cold]
fn numeric_wide(
    digits: &[u8],
    exponent: i32,
    negative: bool,
    scale: i8,
) -> Result<DecimalValue, String> {
    let too_long = || {
        format!(
            "holds a numeric with more than {} digits, more than Arrow's widest decimal \
             holds; round or cast it in the query",
            decimal::MAX_WIDE_PRECISION
        )
    };
    let base = i256::from_i128(10_000);
    let mut value = i256::ZERO;
    for chunk in digits.chunks_exact(2) {
        let digit = i256::from_i128(i128::from(u16::from_be_bytes([chunk[0], chunk[1]])));
        value = value
            .checked_mul(base)
            .and_then(|v| v.checked_add(digit))
            .ok_or_else(too_long)?;
    }
    let factor = i256::from_i128(10)
        .checked_pow(exponent.unsigned_abs())
        .ok_or_else(too_long)?;
    let scaled = if exponent >= 0 {
        value.checked_mul(factor).ok_or_else(too_long)?
    } else {
        let (quotient, remainder) = (
            value.checked_div(factor).unwrap_or(i256::ZERO),
            value.checked_rem(factor).unwrap_or(i256::ZERO),
        );
        if remainder != i256::ZERO {
            return Err("holds a numeric with digits past its scale".into());
        }
        quotient
    };
    let value = if negative {
        scaled.wrapping_neg()
    } else {
        scaled
    };
    // The base-10000 digits can overflow an i128 on their way to a value that fits one
    // (the trailing zeros of the last group): such a value is narrow, so that a
    // `numeric(38, s)` column stays Decimal128.
    Ok(match value.to_i128() {
        Some(narrow) => DecimalValue::Narrow(narrow, scale),
        None => DecimalValue::Wide(value, scale),
    })
}

/// PostgreSQL's binary numeric from an unscaled value and its scale (a negative scale
/// counts trailing zeros: 5 at scale -2 is 500).
pub(crate) fn encode_numeric(out: &mut Vec<u8>, value: i128, scale: i8) {
    let digits = value.unsigned_abs().to_string();
    // Decimal digits and a scale within i8 always fit the format.
    let _ = encode_numeric_digits(out, value < 0, &digits, i32::from(scale));
}

/// PostgreSQL's binary numeric of `value × 10^-scale`, in integer arithmetic (the same
/// bytes as [`encode_numeric_digits`], without building strings).
pub(crate) fn encode_numeric_i128(out: &mut Vec<u8>, value: i128, scale: u8) -> Result<(), String> {
    let scale16 = u16::from(scale);
    // Align the decimal point on a base-10000 digit boundary.
    let pad = (4 - u32::from(scale) % 4) % 4;
    let Some(mut magnitude) = value.unsigned_abs().checked_mul(10u128.pow(pad)) else {
        let digits = value.unsigned_abs().to_string();
        return encode_numeric_digits(out, value < 0, &digits, i32::from(scale));
    };
    let fractional = i16::from(scale.div_ceil(4));
    // Least significant first; u128 holds at most 39 decimal digits: 10 groups.
    let mut groups = [0u16; 10];
    let mut count = 0;
    while magnitude > 0 {
        groups[count] = (magnitude % 10_000) as u16;
        magnitude /= 10_000;
        count += 1;
    }
    let low = groups[..count].iter().take_while(|g| **g == 0).count();
    if low == count {
        for part in [0u16, 0, 0, scale16] {
            out.extend_from_slice(&part.to_be_bytes());
        }
        return Ok(());
    }
    let weight = i16::try_from(count).unwrap_or(0) - 1 - fractional;
    let ndigits = u16::try_from(count - low).unwrap_or(0);
    out.extend_from_slice(&ndigits.to_be_bytes());
    out.extend_from_slice(&weight.to_be_bytes());
    out.extend_from_slice(&(if value < 0 { 0x4000u16 } else { 0 }).to_be_bytes());
    out.extend_from_slice(&scale16.to_be_bytes());
    for g in groups[low..count].iter().rev() {
        out.extend_from_slice(&g.to_be_bytes());
    }
    Ok(())
}

/// PostgreSQL's binary numeric of `±digits × 10^-scale`, `digits` being the unscaled
/// magnitude in decimal. The display scale is `scale` (0 when negative): the value is
/// sent exactly, and a column's own scale then only pads it.
pub(crate) fn encode_numeric_digits(
    out: &mut Vec<u8>,
    negative: bool,
    digits: &str,
    scale: i32,
) -> Result<(), String> {
    /// The largest display scale the format holds.
    const MAX_DSCALE: usize = 0x3FFF;
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err("a numeric value that is not a decimal number".into());
    }
    let widened;
    let (digits, scale) = if scale < 0 {
        widened = format!("{digits}{}", "0".repeat(scale.unsigned_abs() as usize));
        (widened.as_str(), 0)
    } else {
        (
            digits,
            usize::try_from(scale).map_err(|_| "a numeric scale out of range")?,
        )
    };
    if scale > MAX_DSCALE {
        return Err(format!(
            "a numeric value with more than {MAX_DSCALE} fractional digits"
        ));
    }
    let (int_part, frac_part) = if digits.len() > scale {
        digits.split_at(digits.len() - scale)
    } else {
        ("", digits)
    };
    let frac = format!("{frac_part:0>scale$}");
    // Group into base-10000 digits aligned on the decimal point.
    let int_pad = (4 - int_part.len() % 4) % 4;
    let int_digits = format!("{}{int_part}", "0".repeat(int_pad));
    let frac_pad = (4 - frac.len() % 4) % 4;
    let frac_digits = format!("{frac}{}", "0".repeat(frac_pad));
    let group = |s: &str| -> Vec<u16> {
        s.as_bytes()
            .chunks(4)
            .map(|c| c.iter().fold(0u16, |acc, d| acc * 10 + u16::from(d - b'0')))
            .collect()
    };
    let int_groups = group(&int_digits);
    let mut groups: Vec<u16> = int_groups
        .iter()
        .copied()
        .chain(group(&frac_digits))
        .collect();
    let too_big = || "a numeric value with too many digits for PostgreSQL".to_owned();
    let mut weight = i16::try_from(int_groups.len()).map_err(|_| too_big())? - 1;
    let leading = groups.iter().take_while(|g| **g == 0).count();
    groups.drain(..leading);
    weight = weight
        .checked_sub(i16::try_from(leading).map_err(|_| too_big())?)
        .ok_or_else(too_big)?;
    while groups.last() == Some(&0) {
        groups.pop();
    }
    let negative = negative && !groups.is_empty();
    if groups.is_empty() {
        weight = 0;
    }
    let ndigits = u16::try_from(groups.len()).map_err(|_| too_big())?;
    out.extend_from_slice(&ndigits.to_be_bytes());
    out.extend_from_slice(&weight.to_be_bytes());
    out.extend_from_slice(&(if negative { 0x4000u16 } else { 0 }).to_be_bytes());
    out.extend_from_slice(&u16::try_from(scale).map_err(|_| too_big())?.to_be_bytes());
    for g in groups {
        out.extend_from_slice(&g.to_be_bytes());
    }
    Ok(())
}

impl Decoder {
    pub(crate) fn new(kind: &PgKind) -> Decoder {
        match kind {
            PgKind::Bool => Decoder::Bool(BooleanBuilder::new()),
            PgKind::Int2 => Decoder::Int2(Int16Builder::new()),
            PgKind::Int4 => Decoder::Int4(Int32Builder::new()),
            PgKind::Int8 => Decoder::Int8(Int64Builder::new()),
            PgKind::Oid => Decoder::Oid(UInt32Builder::new()),
            PgKind::Float4 => Decoder::Float4(Float32Builder::new()),
            PgKind::Float8 => Decoder::Float8(Float64Builder::new()),
            PgKind::Numeric(ps) => Decoder::Numeric(DecimalColumn::new(*ps)),
            PgKind::Text => Decoder::Text(StringBuilder::new()),
            PgKind::Json => Decoder::Json(StringBuilder::new()),
            PgKind::Jsonb => Decoder::Jsonb(StringBuilder::new()),
            PgKind::Bytea => Decoder::Bytea(BinaryBuilder::new()),
            PgKind::Uuid => Decoder::Uuid(FixedSizeBinaryBuilder::new(16)),
            PgKind::Date => Decoder::Date(Date32Builder::new()),
            PgKind::Time => Decoder::Time(Time64MicrosecondBuilder::new()),
            PgKind::Timestamp => Decoder::Timestamp(TimestampMicrosecondBuilder::new()),
            PgKind::TimestampTz => {
                Decoder::TimestampTz(TimestampMicrosecondBuilder::new().with_timezone("UTC"))
            }
            PgKind::Interval => Decoder::Interval(IntervalMonthDayNanoBuilder::new()),
            PgKind::Array(inner) => {
                let values = Decoder::new(inner);
                let item = Arc::new(values.field(Field::LIST_FIELD_DEFAULT_NAME));
                Decoder::Array(Box::new(ArrayDecoder {
                    item,
                    values,
                    offsets: vec![0],
                    validity: Vec::new(),
                }))
            }
        }
    }

    /// The Arrow field for this column (with extension metadata for uuid and json).
    pub(crate) fn field(&self, name: &str) -> Field {
        let field = Field::new(name, self.data_type(), true);
        match self {
            Decoder::Uuid(_) => extension(field, "arrow.uuid"),
            Decoder::Json(_) | Decoder::Jsonb(_) => extension(field, "arrow.json"),
            _ => field,
        }
    }

    pub(crate) fn data_type(&self) -> DataType {
        match self {
            Decoder::Bool(_) => DataType::Boolean,
            Decoder::Int2(_) => DataType::Int16,
            Decoder::Int4(_) => DataType::Int32,
            Decoder::Int8(_) => DataType::Int64,
            Decoder::Oid(_) => DataType::UInt32,
            Decoder::Float4(_) => DataType::Float32,
            Decoder::Float8(_) => DataType::Float64,
            Decoder::Numeric(column) => column.data_type(),
            Decoder::Text(_) | Decoder::Json(_) | Decoder::Jsonb(_) => DataType::Utf8,
            Decoder::Bytea(_) => DataType::Binary,
            Decoder::Uuid(_) => DataType::FixedSizeBinary(16),
            Decoder::Date(_) => DataType::Date32,
            Decoder::Time(_) => DataType::Time64(TimeUnit::Microsecond),
            Decoder::Timestamp(_) => DataType::Timestamp(TimeUnit::Microsecond, None),
            Decoder::TimestampTz(_) => {
                DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
            }
            Decoder::Interval(_) => {
                DataType::Interval(arrow::datatypes::IntervalUnit::MonthDayNano)
            }
            Decoder::Array(array) => DataType::List(Arc::clone(&array.item)),
        }
    }

    /// Appends one value in PostgreSQL's binary format (`None` is NULL).
    #[inline]
    pub(crate) fn append(&mut self, value: Option<&[u8]>) -> DecodeResult {
        let Some(bytes) = value else {
            self.append_null();
            return Ok(());
        };
        match self {
            Decoder::Bool(b) => b.append_value(fixed::<1>(bytes, "bool")?[0] != 0),
            Decoder::Int2(b) => b.append_value(i16::from_be_bytes(fixed(bytes, "int2")?)),
            Decoder::Int4(b) => b.append_value(i32::from_be_bytes(fixed(bytes, "int4")?)),
            Decoder::Int8(b) => b.append_value(i64::from_be_bytes(fixed(bytes, "int8")?)),
            Decoder::Oid(b) => b.append_value(u32::from_be_bytes(fixed(bytes, "oid")?)),
            Decoder::Float4(b) => b.append_value(f32::from_be_bytes(fixed(bytes, "float4")?)),
            Decoder::Float8(b) => b.append_value(f64::from_be_bytes(fixed(bytes, "float8")?)),
            Decoder::Numeric(column) => column.push(Some(numeric(bytes)?)),
            Decoder::Text(b) | Decoder::Json(b) => b.append_value(utf8(bytes)?),
            Decoder::Jsonb(b) => match bytes.split_first() {
                Some((1, json)) => b.append_value(utf8(json)?),
                _ => return Err("holds a jsonb value of an unknown version".into()),
            },
            Decoder::Bytea(b) => b.append_value(bytes),
            Decoder::Uuid(b) => b
                .append_value(bytes)
                .map_err(|_| format!("holds a {}-byte uuid", bytes.len()))?,
            Decoder::Date(b) => {
                // PostgreSQL's infinities are the extreme values.
                let days = match i32::from_be_bytes(fixed(bytes, "date")?) {
                    i32::MAX => return Err(out_of_range("the date infinity")),
                    i32::MIN => return Err(out_of_range("the date -infinity")),
                    days => days.checked_add(PG_EPOCH_DAYS),
                };
                b.append_value(days.ok_or_else(|| out_of_range("a date this far out"))?);
            }
            Decoder::Time(b) => b.append_value(i64::from_be_bytes(fixed(bytes, "time")?)),
            Decoder::Timestamp(b) | Decoder::TimestampTz(b) => {
                let micros = match i64::from_be_bytes(fixed(bytes, "timestamp")?) {
                    i64::MAX => return Err(out_of_range("the timestamp infinity")),
                    i64::MIN => return Err(out_of_range("the timestamp -infinity")),
                    micros => micros.checked_add(PG_EPOCH_MICROS),
                };
                b.append_value(micros.ok_or_else(|| out_of_range("a timestamp this far out"))?);
            }
            Decoder::Interval(b) => {
                let raw: [u8; 16] = fixed(bytes, "interval")?;
                let [
                    m0,
                    m1,
                    m2,
                    m3,
                    m4,
                    m5,
                    m6,
                    m7,
                    d0,
                    d1,
                    d2,
                    d3,
                    n0,
                    n1,
                    n2,
                    n3,
                ] = raw;
                let micros = i64::from_be_bytes([m0, m1, m2, m3, m4, m5, m6, m7]);
                let days = i32::from_be_bytes([d0, d1, d2, d3]);
                let months = i32::from_be_bytes([n0, n1, n2, n3]);
                let nanos = micros.checked_mul(1000).ok_or_else(|| {
                    out_of_range("an interval whose time part is beyond 292 years")
                })?;
                b.append_value(IntervalMonthDayNano::new(months, days, nanos));
            }
            Decoder::Array(array) => array.append(bytes)?,
        }
        Ok(())
    }

    fn append_null(&mut self) {
        match self {
            Decoder::Bool(b) => b.append_null(),
            Decoder::Int2(b) => b.append_null(),
            Decoder::Int4(b) => b.append_null(),
            Decoder::Int8(b) => b.append_null(),
            Decoder::Oid(b) => b.append_null(),
            Decoder::Float4(b) => b.append_null(),
            Decoder::Float8(b) => b.append_null(),
            Decoder::Numeric(column) => column.push(None),
            Decoder::Text(b) | Decoder::Json(b) | Decoder::Jsonb(b) => b.append_null(),
            Decoder::Bytea(b) => b.append_null(),
            Decoder::Uuid(b) => b.append_null(),
            Decoder::Date(b) => b.append_null(),
            Decoder::Time(b) => b.append_null(),
            Decoder::Timestamp(b) | Decoder::TimestampTz(b) => b.append_null(),
            Decoder::Interval(b) => b.append_null(),
            Decoder::Array(array) => {
                array.offsets.push(*array.offsets.last().unwrap_or(&0));
                array.validity.push(false);
            }
        }
    }

    /// The values appended since the last call, as an array; `row` gives the result row
    /// of each value's index, for messages.
    pub(crate) fn finish(&mut self, row: RowOf<'_>) -> Result<ArrayRef, String> {
        Ok(match self {
            Decoder::Bool(b) => Arc::new(b.finish()),
            Decoder::Int2(b) => Arc::new(b.finish()),
            Decoder::Int4(b) => Arc::new(b.finish()),
            Decoder::Int8(b) => Arc::new(b.finish()),
            Decoder::Oid(b) => Arc::new(b.finish()),
            Decoder::Float4(b) => Arc::new(b.finish()),
            Decoder::Float8(b) => Arc::new(b.finish()),
            Decoder::Numeric(column) => column.finish(row)?,
            Decoder::Text(b) | Decoder::Json(b) | Decoder::Jsonb(b) => Arc::new(b.finish()),
            Decoder::Bytea(b) => Arc::new(b.finish()),
            Decoder::Uuid(b) => Arc::new(b.finish()),
            Decoder::Date(b) => Arc::new(b.finish()),
            Decoder::Time(b) => Arc::new(b.finish()),
            Decoder::Timestamp(b) => Arc::new(b.finish()),
            Decoder::TimestampTz(b) => Arc::new(b.finish()),
            Decoder::Interval(b) => Arc::new(b.finish()),
            Decoder::Array(array) => array.finish(row)?,
        })
    }
}

impl super::ColumnDecoder for Decoder {
    fn field(&self, name: &str) -> Field {
        Decoder::field(self, name)
    }

    fn finish(&mut self, first_row: usize) -> Result<ArrayRef, String> {
        Decoder::finish(self, &|i| first_row + i)
    }
}

impl ArrayDecoder {
    /// One-dimensional arrays: ndim, has-null flag, element OID, then per dimension its
    /// length and lower bound, then each element as length + bytes.
    fn append(&mut self, bytes: &[u8]) -> DecodeResult {
        let int = |at: usize| -> Result<i32, String> {
            bytes
                .get(at..at + 4)
                .and_then(|b| b.try_into().ok())
                .map(i32::from_be_bytes)
                .ok_or_else(|| "holds a truncated array value".to_owned())
        };
        let ndim = int(0)?;
        let mut count = 0;
        let mut at = 12;
        match ndim {
            0 => {}
            1 => {
                count = int(12)?;
                if count < 0 {
                    return Err(format!("holds an array of {count} elements"));
                }
                at = 20;
            }
            _ => {
                return Err(format!(
                    "holds a {ndim}-dimensional array; conn maps one-dimensional arrays only \
                     (unnest or flatten it in the query)"
                ));
            }
        }
        for _ in 0..count {
            let len = int(at)?;
            at += 4;
            if len == -1 {
                self.values.append(None)?;
            } else if len < 0 {
                return Err(format!("holds an array element of length {len}"));
            } else {
                let len = usize::try_from(len).map_err(|_| "holds a bad array element length")?;
                let element = bytes
                    .get(at..at + len)
                    .ok_or("holds a truncated array element")?;
                self.values.append(Some(element))?;
                at += len;
            }
        }
        let last = *self.offsets.last().unwrap_or(&0);
        let end = last
            .checked_add(count)
            .ok_or("holds more array elements than one batch takes (2^31)")?;
        self.offsets.push(end);
        self.validity.push(true);
        Ok(())
    }

    fn finish(&mut self, row: RowOf<'_>) -> Result<ArrayRef, String> {
        let offsets = std::mem::replace(&mut self.offsets, vec![0]);
        // An item's row is the row of the list holding it.
        let item_row = |item: usize| {
            let holding = offsets
                .partition_point(|&o| usize::try_from(o).unwrap_or(0) <= item)
                .saturating_sub(1);
            row(holding)
        };
        let values = self.values.finish(&item_row)?;
        // The element type may only now be known (an unconstrained numeric's scale).
        self.item = Arc::new(
            Field::new(
                Field::LIST_FIELD_DEFAULT_NAME,
                values.data_type().clone(),
                true,
            )
            .with_metadata(self.item.metadata().clone()),
        );
        let offsets = OffsetBuffer::new(offsets.into());
        let nulls = NullBuffer::from(std::mem::take(&mut self.validity));
        let list = ListArray::try_new(Arc::clone(&self.item), offsets, values, Some(nulls))
            .map_err(|e| e.to_string())?;
        Ok(Arc::new(list))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Array, AsArray};

    fn numeric_bytes(ndigits: u16, weight: i16, sign: u16, dscale: u16, digits: &[u16]) -> Vec<u8> {
        let mut out = Vec::new();
        for part in [ndigits, weight as u16, sign, dscale] {
            out.extend_from_slice(&part.to_be_bytes());
        }
        for d in digits {
            out.extend_from_slice(&d.to_be_bytes());
        }
        out
    }

    #[test]
    fn numerics_decode_exactly() {
        // 12345.67 = digits [1, 2345, 6700], weight 1, dscale 2
        let bytes = numeric_bytes(3, 1, 0, 2, &[1, 2345, 6700]);
        assert_eq!(numeric(&bytes).unwrap(), DecimalValue::Narrow(1_234_567, 2));
        // -0.005 = digits [50], weight -1, dscale 3
        let bytes = numeric_bytes(1, -1, 0x4000, 3, &[50]);
        assert_eq!(numeric(&bytes).unwrap(), DecimalValue::Narrow(-5, 3));
        // 1000000 = digits [100], weight 1, dscale 0
        let bytes = numeric_bytes(1, 1, 0, 0, &[100]);
        assert_eq!(numeric(&bytes).unwrap(), DecimalValue::Narrow(1_000_000, 0));
        // 1.5 with trailing zeros in its last group.
        let bytes = numeric_bytes(2, 0, 0, 1, &[1, 5000]);
        assert_eq!(numeric(&bytes).unwrap(), DecimalValue::Narrow(15, 1));
        let nan = numeric_bytes(0, 0, 0xC000, 0, &[]);
        assert!(numeric(&nan).unwrap_err().starts_with("holds NaN"));
        let inf = numeric_bytes(0, 0, 0xD000, 0, &[]);
        assert!(numeric(&inf).unwrap_err().starts_with("holds Infinity"));
        let ninf = numeric_bytes(0, 0, 0xF000, 0, &[]);
        assert!(numeric(&ninf).unwrap_err().starts_with("holds -Infinity"));
        let tiny = numeric_bytes(1, -20, 0, 80, &[1]);
        assert!(numeric(&tiny).unwrap_err().contains("80 decimal places"));
    }

    #[test]
    fn numerics_beyond_i128_decode_wide() {
        // 10^40 = digits [1], weight 10.
        let bytes = numeric_bytes(1, 10, 0x4000, 2, &[1]);
        let DecimalValue::Wide(value, 2) = numeric(&bytes).unwrap() else {
            panic!("wide")
        };
        assert_eq!(
            decimal::decimal_text(value, 2),
            format!("-1{}.00", "0".repeat(40))
        );
        // 17014118346046923173168730376109424.01 fits an i128 at scale 2, but its
        // last group (0100) overflows one on the way.
        let bytes = numeric_bytes(
            10,
            8,
            0,
            2,
            &[170, 1411, 8346, 469, 2317, 3168, 7303, 7610, 9424, 100],
        );
        assert_eq!(
            numeric(&bytes).unwrap(),
            DecimalValue::Narrow(1_701_411_834_604_692_317_316_873_037_610_942_401, 2)
        );
        let huge = numeric_bytes(1, 30, 0, 0, &[1]);
        assert!(numeric(&huge).unwrap_err().contains("more than 76 digits"));
    }

    #[test]
    fn timestamps_and_dates_shift_to_the_unix_epoch() {
        let mut ts = Decoder::new(&PgKind::TimestampTz);
        ts.append(Some(&0i64.to_be_bytes())).unwrap();
        let array = ts.finish(&|i| i).unwrap();
        let array = array.as_primitive::<arrow::datatypes::TimestampMicrosecondType>();
        assert_eq!(array.value(0), PG_EPOCH_MICROS);
        assert_eq!(array.timezone(), Some("UTC"));

        let mut date = Decoder::new(&PgKind::Date);
        date.append(Some(&(-1i32).to_be_bytes())).unwrap();
        date.append(None).unwrap();
        let array = date.finish(&|i| i).unwrap();
        assert_eq!(
            array
                .as_primitive::<arrow::datatypes::Date32Type>()
                .value(0),
            PG_EPOCH_DAYS - 1
        );
        assert!(array.is_null(1));
        assert!(
            date.append(Some(&i32::MAX.to_be_bytes()))
                .unwrap_err()
                .contains("infinity")
        );
        assert!(
            ts.append(Some(&i64::MIN.to_be_bytes()))
                .unwrap_err()
                .contains("-infinity")
        );
        let mut interval = Decoder::new(&PgKind::Interval);
        let mut long = i64::MAX.to_be_bytes().to_vec();
        long.extend_from_slice(&[0; 8]);
        assert!(
            interval
                .append(Some(&long))
                .unwrap_err()
                .contains("292 years")
        );
    }

    #[test]
    fn one_dimensional_arrays_with_nulls() {
        let mut bytes = Vec::new();
        for part in [1i32, 1, 23, 3, 1] {
            bytes.extend_from_slice(&part.to_be_bytes());
        }
        for element in [Some(7i32), None, Some(9)] {
            match element {
                Some(v) => {
                    bytes.extend_from_slice(&4i32.to_be_bytes());
                    bytes.extend_from_slice(&v.to_be_bytes());
                }
                None => bytes.extend_from_slice(&(-1i32).to_be_bytes()),
            }
        }
        let mut decoder = Decoder::new(&PgKind::Array(Box::new(PgKind::Int4)));
        decoder.append(Some(&bytes)).unwrap();
        decoder.append(None).unwrap();
        let array = decoder.finish(&|i| i).unwrap();
        let list = array.as_list::<i32>();
        assert_eq!(list.len(), 2);
        assert!(list.is_null(1));
        let first = list.value(0);
        let first = first.as_primitive::<arrow::datatypes::Int32Type>();
        assert_eq!(
            first.iter().collect::<Vec<_>>(),
            vec![Some(7), None, Some(9)]
        );
    }

    #[test]
    fn an_array_of_negative_length_is_an_error() {
        // Found by fuzzing (fuzz/fuzz_targets/pg_copy.rs): a dimension of -2 elements
        // made the list offsets decrease, and building the array panicked.
        let mut bytes = Vec::new();
        for part in [1i32, 0, 23, -2, 1] {
            bytes.extend_from_slice(&part.to_be_bytes());
        }
        let mut decoder = Decoder::new(&PgKind::Array(Box::new(PgKind::Int4)));
        assert_eq!(
            decoder.append(Some(&bytes)).unwrap_err(),
            "holds an array of -2 elements"
        );
        let array = decoder.finish(&|i| i).unwrap();
        assert_eq!(array.len(), 0);
    }

    #[test]
    fn an_array_element_length_below_minus_one_is_an_error_not_a_null() {
        // ndim 1, no nulls flag, int4, one element, lower bound 1, element length -2.
        let mut bytes = Vec::new();
        for part in [1i32, 0, 23, 1, 1, -2] {
            bytes.extend_from_slice(&part.to_be_bytes());
        }
        let mut decoder = Decoder::new(&PgKind::Array(Box::new(PgKind::Int4)));
        assert_eq!(
            decoder.append(Some(&bytes)).unwrap_err(),
            "holds an array element of length -2"
        );
    }

    #[test]
    fn typmod_gives_precision_and_scale() {
        // numeric(12, 2): typmod = ((12 << 16) | 2) + 4
        let kind = PgKind::Numeric(None).with_typmod(((12 << 16) | 2) + 4);
        assert_eq!(kind, PgKind::Numeric(Some((12, 2))));
        assert_eq!(Decoder::new(&kind).data_type(), DataType::Decimal128(12, 2));
        // numeric(5, -2): the scale is 11-bit signed.
        let kind = PgKind::Numeric(None).with_typmod(((5 << 16) | (-2i32 & 0x7ff)) + 4);
        assert_eq!(kind, PgKind::Numeric(Some((5, -2))));
        assert_eq!(PgKind::Numeric(None).with_typmod(-1), PgKind::Numeric(None));
        // numeric(1000, 2) is beyond Arrow: the values decide.
        let wide = PgKind::Numeric(None).with_typmod(((1000 << 16) | 2) + 4);
        assert_eq!(Decoder::new(&wide).data_type(), DataType::Decimal128(38, 0));
        // numeric(3, -2): the scale's 11 bits are 0x7fe.
        let kind = PgKind::Numeric(None).with_typmod(((3 << 16) | 0x7fe) + 4);
        assert_eq!(kind, PgKind::Numeric(Some((3, -2))));
    }
}
