//! Exact decimals into `Decimal128`, or `Decimal256` when 38 digits are not enough.
//!
//! Values arrive as an unscaled integer and their own scale. A column whose precision
//! and scale are declared (PostgreSQL `numeric(p, s)`) keeps them, and a value that
//! does not fit them is an error. Otherwise (PostgreSQL's unconstrained or computed
//! `numeric`, MySQL's `DECIMAL`, whose scale sqlx does not report) each batch takes the
//! largest scale of its values, and [`unify`] brings the batches of a column to the
//! largest scale of the whole result at its end. Every rescaling is exact: digits are
//! added, never dropped, and a value that would need rounding or more than 76 digits
//! is an error naming its row.

// Shared by PostgreSQL's and MySQL's decoders: a build with only some drivers leaves the
// others' parts unused.
#![cfg_attr(
    not(all(feature = "postgres", feature = "mysql", feature = "sqlite")),
    allow(dead_code)
)]

use std::fmt::Display;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, Decimal128Array, Decimal256Array, PrimitiveArray};
use arrow::buffer::{NullBuffer, ScalarBuffer};
use arrow::datatypes::{DataType, Decimal128Type, Decimal256Type, DecimalType, i256};

/// The most digits `Decimal128` holds.
pub(crate) const MAX_PRECISION: u8 = 38;
/// The most digits `Decimal256` holds, and the most decimal places conn reads.
pub(crate) const MAX_WIDE_PRECISION: u8 = 76;

/// One decoded decimal: its unscaled value and its scale (`Narrow(12345, 2)` is 123.45).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DecimalValue {
    /// A value whose unscaled form fits an `i128`.
    Narrow(i128, i8),
    /// A wider value (up to 76 digits).
    Wide(i256, i8),
}

/// The unscaled integer types decimals are computed in.
trait Unscaled: Copy + Ord + Display {
    const ZERO: Self;
    /// 10 to the power `exponent`, if it fits.
    fn pow10(exponent: u32) -> Option<Self>;
    fn checked_mul(self, other: Self) -> Option<Self>;
    /// Quotient and remainder of a division by a positive divisor.
    fn div_rem(self, divisor: Self) -> (Self, Self);
    fn negate(self) -> Option<Self>;
}

/// Powers of ten that fit an `i128` (10^0 to 10^38).
const POW10_128: [i128; 39] = {
    let mut table = [1i128; 39];
    let mut i = 1;
    while i < 39 {
        table[i] = table[i - 1] * 10;
        i += 1;
    }
    table
};

impl Unscaled for i128 {
    const ZERO: Self = 0;
    fn pow10(exponent: u32) -> Option<Self> {
        POW10_128.get(usize::try_from(exponent).ok()?).copied()
    }
    fn checked_mul(self, other: Self) -> Option<Self> {
        i128::checked_mul(self, other)
    }
    fn div_rem(self, divisor: Self) -> (Self, Self) {
        (self / divisor, self % divisor)
    }
    fn negate(self) -> Option<Self> {
        self.checked_neg()
    }
}

impl Unscaled for i256 {
    const ZERO: Self = i256::ZERO;
    fn pow10(exponent: u32) -> Option<Self> {
        i256::from_i128(10).checked_pow(exponent)
    }
    fn checked_mul(self, other: Self) -> Option<Self> {
        i256::checked_mul(self, other)
    }
    fn div_rem(self, divisor: Self) -> (Self, Self) {
        (
            self.checked_div(divisor).unwrap_or(i256::ZERO),
            self.checked_rem(divisor).unwrap_or(i256::ZERO),
        )
    }
    fn negate(self) -> Option<Self> {
        self.checked_neg()
    }
}

/// `value` at scale `from`, re-expressed at scale `to`; `None` when that would drop a
/// non-zero digit or overflow.
fn rescale_exact<T: Unscaled>(value: T, from: i8, to: i8) -> Option<T> {
    let diff = i32::from(to) - i32::from(from);
    let factor = T::pow10(diff.unsigned_abs())?;
    if diff >= 0 {
        value.checked_mul(factor)
    } else {
        let (quotient, remainder) = value.div_rem(factor);
        (remainder == T::ZERO).then_some(quotient)
    }
}

/// Whether `value` has fewer digits than `bound` (a power of ten) has zeros.
fn within<T: Unscaled>(value: T, bound: T) -> bool {
    value < bound && bound.negate().is_some_and(|low| value > low)
}

/// The decimal text of an unscaled value at `scale` (`12345`, 2 is "123.45").
pub(crate) fn decimal_text(unscaled: impl Display, scale: i8) -> String {
    let digits = unscaled.to_string();
    let (sign, digits) = match digits.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", digits.as_str()),
    };
    let Ok(places) = usize::try_from(scale) else {
        let zeros = usize::from(scale.unsigned_abs());
        return format!("{sign}{digits}{}", "0".repeat(zeros));
    };
    if places == 0 {
        return format!("{sign}{digits}");
    }
    let padded = format!("{digits:0>width$}", width = places + 1);
    let (int, frac) = padded.split_at(padded.len() - places);
    format!("{sign}{int}.{frac}")
}

impl DecimalValue {
    fn scale(self) -> i8 {
        match self {
            DecimalValue::Narrow(_, scale) | DecimalValue::Wide(_, scale) => scale,
        }
    }

    /// The value as decimal text, for messages.
    pub(crate) fn text(self) -> String {
        match self {
            DecimalValue::Narrow(v, scale) => decimal_text(v, scale),
            DecimalValue::Wide(v, scale) => decimal_text(v, scale),
        }
    }
}

/// A scale conn can hold (at most 76 decimal places), from a count of decimal places.
pub(crate) fn checked_scale(places: usize, what: &str) -> Result<i8, String> {
    i8::try_from(places)
        .ok()
        .filter(|s| *s <= MAX_WIDE_PRECISION as i8)
        .ok_or_else(|| {
            format!(
                "holds {what} with {places} decimal places; Arrow's decimals hold at most \
                 {MAX_WIDE_PRECISION}: round it in the query"
            )
        })
}

/// Parses decimal text such as `-123.4500` exactly (MySQL sends `DECIMAL` values so).
pub(crate) fn parse_decimal(text: &str) -> Result<DecimalValue, String> {
    let malformed = || format!("holds a malformed decimal ({text:?})");
    let (negative, body) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let (int, frac) = body.split_once('.').unwrap_or((body, ""));
    if int.is_empty() && frac.is_empty() {
        return Err(malformed());
    }
    let scale = checked_scale(frac.len(), "a decimal")?;
    let digits = int.bytes().chain(frac.bytes());
    if !digits.clone().all(|d| d.is_ascii_digit()) {
        return Err(malformed());
    }
    let mut narrow: Option<i128> = Some(0);
    for d in digits.clone() {
        narrow = narrow
            .and_then(|v| v.checked_mul(10))
            .and_then(|v| v.checked_add(i128::from(d - b'0')));
    }
    if let Some(v) = narrow {
        return Ok(DecimalValue::Narrow(if negative { -v } else { v }, scale));
    }
    let too_long = || {
        format!(
            "holds a decimal with more than {MAX_WIDE_PRECISION} digits ({text}), more than \
             Arrow's widest decimal holds"
        )
    };
    let ten = i256::from_i128(10);
    let mut wide = i256::ZERO;
    for d in digits {
        wide = wide
            .checked_mul(ten)
            .and_then(|v| v.checked_add(i256::from_i128(i128::from(d - b'0'))))
            .ok_or_else(too_long)?;
    }
    Ok(DecimalValue::Wide(
        if negative { wide.wrapping_neg() } else { wide },
        scale,
    ))
}

/// Collects one column's decimals, batch by batch.
#[derive(Debug)]
pub(crate) struct DecimalColumn {
    /// The declared precision and scale, if the server reported them.
    declared: Option<(u8, i8)>,
    /// Each value's unscaled form and scale; a wide value's slot holds `(0, scale)`.
    values: Vec<Option<(i128, i8)>>,
    /// The values wider than an `i128`, by their index in `values`.
    wide: Vec<(usize, i256)>,
}

/// Where a value did not fit: its index in the batch and what it is.
struct Unfit {
    index: usize,
    value: DecimalValue,
}

impl DecimalColumn {
    /// A column of declared precision and scale, or of a scale that comes from its
    /// values (`None`). A declaration Arrow cannot hold (more than 76 digits or decimal
    /// places) is treated as none: the values then decide, within 76 digits.
    pub(crate) fn new(declared: Option<(u8, i8)>) -> Self {
        let declared = declared.filter(|(p, s)| {
            (1..=MAX_WIDE_PRECISION).contains(p) && s.unsigned_abs() <= MAX_WIDE_PRECISION
        });
        DecimalColumn {
            declared,
            values: Vec::new(),
            wide: Vec::new(),
        }
    }

    #[inline]
    pub(crate) fn push(&mut self, value: Option<DecimalValue>) {
        match value {
            None => self.values.push(None),
            Some(DecimalValue::Narrow(v, scale)) => self.values.push(Some((v, scale))),
            Some(DecimalValue::Wide(v, scale)) => {
                self.wide.push((self.values.len(), v));
                self.values.push(Some((0, scale)));
            }
        }
    }

    /// The Arrow precision for a declared column: never below its scale (PostgreSQL
    /// allows `numeric(3, 5)`, Arrow does not).
    fn declared_precision(precision: u8, scale: i8) -> u8 {
        precision.max(u8::try_from(scale).unwrap_or(0))
    }

    /// The type of the batch being collected (before the values settle it).
    pub(crate) fn data_type(&self) -> DataType {
        match self.declared {
            Some((p, s)) => {
                let p = Self::declared_precision(p, s);
                if p <= MAX_PRECISION && s <= MAX_PRECISION as i8 {
                    DataType::Decimal128(p, s)
                } else {
                    DataType::Decimal256(p, s)
                }
            }
            None => DataType::Decimal128(MAX_PRECISION, 0),
        }
    }

    /// The values collected since the last call, as an array; `row` gives the result
    /// row of each value's index, for messages.
    pub(crate) fn finish(&mut self, row: &dyn Fn(usize) -> usize) -> Result<ArrayRef, String> {
        let wide = std::mem::take(&mut self.wide);
        let result = self.build(&wide, row);
        self.values.clear();
        result
    }

    fn build(
        &self,
        wide: &[(usize, i256)],
        row: &dyn Fn(usize) -> usize,
    ) -> Result<ArrayRef, String> {
        let (precision, scale) = match self.declared {
            Some((p, s)) => (Some(Self::declared_precision(p, s)), s),
            None => (
                None,
                self.values
                    .iter()
                    .flatten()
                    .map(|(_, s)| *s)
                    .max()
                    .unwrap_or(0),
            ),
        };
        let narrow_possible = wide.is_empty()
            && precision.unwrap_or(MAX_PRECISION) <= MAX_PRECISION
            && scale <= MAX_PRECISION as i8;
        if narrow_possible {
            let p = precision.unwrap_or(MAX_PRECISION);
            match self.narrow(p, scale)? {
                Ok(array) => return Ok(array),
                // An undeclared column may still fit 76 digits.
                Err(_) if self.declared.is_none() => {}
                Err(unfit) => return Err(self.unfit_message(&unfit, row, scale)),
            }
        }
        let p = precision.unwrap_or(MAX_WIDE_PRECISION);
        self.wide(wide, p, scale)?
            .map_err(|unfit| self.unfit_message(&unfit, row, scale))
    }

    fn unfit_message(&self, unfit: &Unfit, row: &dyn Fn(usize) -> usize, scale: i8) -> String {
        let row = row(unfit.index);
        let text = unfit.value.text();
        match self.declared {
            Some((p, s)) if unfit.value.scale() > s => format!(
                "row {row} holds {text}, which has more decimal places than the column's \
                 declared numeric({p}, {s}); conn never rounds"
            ),
            Some((p, s)) => format!(
                "row {row} holds {text}, which has more digits than the column's declared \
                 numeric({p}, {s})"
            ),
            None => too_wide(row, &text, scale),
        }
    }

    /// The batch as `Decimal128(precision, scale)`, or the first value that does not fit
    /// (the outer error is Arrow refusing the type).
    fn narrow(&self, precision: u8, scale: i8) -> Result<Result<ArrayRef, Unfit>, String> {
        let bound = POW10_128[usize::from(precision)];
        let mut out = Vec::with_capacity(self.values.len());
        for (index, value) in self.values.iter().enumerate() {
            out.push(match *value {
                None => 0,
                Some((unscaled, s)) => {
                    let rescaled = if s == scale {
                        Some(unscaled)
                    } else {
                        rescale_exact(unscaled, s, scale)
                    };
                    match rescaled.filter(|v| within(*v, bound)) {
                        Some(v) => v,
                        None => {
                            return Ok(Err(Unfit {
                                index,
                                value: DecimalValue::Narrow(unscaled, s),
                            }));
                        }
                    }
                }
            });
        }
        let array = Decimal128Array::new(ScalarBuffer::from(out), self.nulls())
            .with_precision_and_scale(precision, scale)
            .map_err(|e| e.to_string())?;
        Ok(Ok(Arc::new(array)))
    }

    /// The batch as `Decimal256(precision, scale)`, or the first value that does not fit
    /// (the outer error is Arrow refusing the type).
    fn wide(
        &self,
        wide: &[(usize, i256)],
        precision: u8,
        scale: i8,
    ) -> Result<Result<ArrayRef, Unfit>, String> {
        let bound = i256::pow10(u32::from(precision)).unwrap_or(i256::MAX);
        let mut wide = wide.iter().peekable();
        let mut out = Vec::with_capacity(self.values.len());
        for (index, value) in self.values.iter().enumerate() {
            out.push(match *value {
                None => i256::ZERO,
                Some((narrow, s)) => {
                    let v = match wide.next_if(|(at, _)| *at == index) {
                        Some((_, v)) => *v,
                        None => i256::from_i128(narrow),
                    };
                    match rescale_exact(v, s, scale).filter(|v| within(*v, bound)) {
                        Some(v) => v,
                        None => {
                            return Ok(Err(Unfit {
                                index,
                                value: DecimalValue::Wide(v, s),
                            }));
                        }
                    }
                }
            });
        }
        let array = Decimal256Array::new(ScalarBuffer::from(out), self.nulls())
            .with_precision_and_scale(precision, scale)
            .map_err(|e| e.to_string())?;
        Ok(Ok(Arc::new(array)))
    }

    fn nulls(&self) -> Option<NullBuffer> {
        let nulls = NullBuffer::from_iter(self.values.iter().map(Option::is_some));
        (nulls.null_count() > 0).then_some(nulls)
    }
}

/// The message for a value that needs more than 76 digits at the column's scale.
fn too_wide(row: usize, text: &str, scale: i8) -> String {
    format!(
        "row {row} holds {text}, which needs more than {MAX_WIDE_PRECISION} digits at the \
         column's scale of {scale} decimal places (the largest in the result), more than \
         Arrow's widest decimal holds; round or cast the column in the query"
    )
}

/// Brings the decimal arrays of one column (one per batch) to one type: the largest
/// scale of them all, `Decimal128(38, s)` when every value fits it, `Decimal256(76, s)`
/// otherwise. `rows[i]` gives the result row of each value of `arrays[i]`.
pub(crate) fn unify(
    arrays: &[ArrayRef],
    rows: &[&dyn Fn(usize) -> usize],
) -> Result<Vec<ArrayRef>, String> {
    let scale = arrays
        .iter()
        .filter_map(|a| match a.data_type() {
            DataType::Decimal128(_, s) | DataType::Decimal256(_, s) => Some(*s),
            _ => None,
        })
        .max()
        .unwrap_or(0);
    let all_narrow = arrays
        .iter()
        .all(|a| matches!(a.data_type(), DataType::Decimal128(..)));
    if all_narrow && scale <= MAX_PRECISION as i8 {
        let narrow: Option<Vec<ArrayRef>> = arrays
            .iter()
            .map(|a| {
                let a = a.as_primitive::<Decimal128Type>();
                rescale_array::<Decimal128Type, Decimal128Type>(a, MAX_PRECISION, scale, |v| v)
                    .ok()
                    .map(|a| Arc::new(a) as ArrayRef)
            })
            .collect();
        if let Some(narrow) = narrow {
            return Ok(narrow);
        }
    }
    arrays
        .iter()
        .zip(rows)
        .map(|(a, row)| {
            let rescaled = match a.data_type() {
                DataType::Decimal128(..) => rescale_array::<Decimal128Type, Decimal256Type>(
                    a.as_primitive(),
                    MAX_WIDE_PRECISION,
                    scale,
                    i256::from_i128,
                ),
                DataType::Decimal256(..) => rescale_array::<Decimal256Type, Decimal256Type>(
                    a.as_primitive(),
                    MAX_WIDE_PRECISION,
                    scale,
                    |v| v,
                ),
                other => return Err(format!("holds {other} values among decimals")),
            };
            rescaled
                .map(|a| Arc::new(a) as ArrayRef)
                .map_err(|(index, text)| too_wide(row(index), &text, scale))
        })
        .collect()
}

/// A decimal array brought to `Decimal(precision, scale)` of type `To`, each value
/// converted with `widen` and rescaled exactly; else the index and text of the first
/// value that does not fit.
fn rescale_array<From, To>(
    array: &PrimitiveArray<From>,
    precision: u8,
    scale: i8,
    widen: impl Fn(From::Native) -> To::Native,
) -> Result<PrimitiveArray<To>, (usize, String)>
where
    From: DecimalType,
    To: DecimalType,
    To::Native: Unscaled,
{
    let from = match array.data_type() {
        DataType::Decimal128(_, s) | DataType::Decimal256(_, s) => *s,
        _ => 0,
    };
    let bound = <To::Native as Unscaled>::pow10(u32::from(precision));
    let mut out = Vec::with_capacity(array.len());
    for (index, value) in array.values().iter().enumerate() {
        if array.is_null(index) {
            out.push(<To::Native as Unscaled>::ZERO);
            continue;
        }
        let value = widen(*value);
        let fitted = rescale_exact(value, from, scale)
            .filter(|v| bound.is_some_and(|bound| within(*v, bound)));
        match fitted {
            Some(v) => out.push(v),
            None => return Err((index, decimal_text(value, from))),
        }
    }
    PrimitiveArray::<To>::new(ScalarBuffer::from(out), array.nulls().cloned())
        .with_precision_and_scale(precision, scale)
        .map_err(|e| (0, e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(i: usize) -> usize {
        i
    }

    #[test]
    fn rescaling_is_exact_or_refused() {
        assert_eq!(rescale_exact(12345i128, 2, 4), Some(1_234_500));
        assert_eq!(rescale_exact(12300i128, 2, 0), Some(123));
        assert_eq!(rescale_exact(12345i128, 2, 1), None, "never rounds");
        assert_eq!(rescale_exact(i128::MAX, 0, 2), None);
        assert_eq!(
            rescale_exact(i256::from_i128(5), 0, 40),
            i256::pow10(40).map(|p| p * i256::from_i128(5))
        );
    }

    #[test]
    fn text_of_unscaled_values() {
        assert_eq!(decimal_text(12345, 2), "123.45");
        assert_eq!(decimal_text(-5, 3), "-0.005");
        assert_eq!(decimal_text(15, 0), "15");
        assert_eq!(decimal_text(123, -2), "12300");
    }

    #[test]
    fn parsing_decimal_text() {
        assert_eq!(
            parse_decimal("-123.4500"),
            Ok(DecimalValue::Narrow(-1_234_500, 4))
        );
        assert_eq!(parse_decimal("7"), Ok(DecimalValue::Narrow(7, 0)));
        assert_eq!(parse_decimal(".5"), Ok(DecimalValue::Narrow(5, 1)));
        let big = format!("{}.{}", "9".repeat(35), "1".repeat(30));
        let DecimalValue::Wide(v, 30) = parse_decimal(&big).unwrap() else {
            panic!("65 digits are wide")
        };
        assert_eq!(decimal_text(v, 30), big);
        assert!(parse_decimal("1e5").unwrap_err().contains("malformed"));
        assert!(parse_decimal("").is_err());
        assert!(
            parse_decimal(&"9".repeat(80))
                .unwrap_err()
                .contains("more than 76 digits")
        );
    }

    #[test]
    fn a_batch_takes_its_largest_scale_exactly() {
        let mut column = DecimalColumn::new(None);
        column.push(Some(DecimalValue::Narrow(15, 1)));
        column.push(None);
        column.push(Some(DecimalValue::Narrow(1234, 3)));
        let array = column.finish(&row).unwrap();
        assert_eq!(array.data_type(), &DataType::Decimal128(38, 3));
        let array = array.as_primitive::<Decimal128Type>();
        assert_eq!(array.value(0), 1500);
        assert!(array.is_null(1));
        assert_eq!(array.value(2), 1234);
    }

    #[test]
    fn a_batch_beyond_38_digits_is_decimal256() {
        let mut column = DecimalColumn::new(None);
        column.push(Some(DecimalValue::Narrow(10i128.pow(30), 0)));
        column.push(Some(DecimalValue::Narrow(1, 10)));
        let array = column.finish(&row).unwrap();
        assert_eq!(array.data_type(), &DataType::Decimal256(76, 10));
        let array = array.as_primitive::<Decimal256Type>();
        assert_eq!(
            decimal_text(array.value(0), 10),
            format!("1{}.{}", "0".repeat(30), "0".repeat(10))
        );
        assert_eq!(array.value(1), i256::from_i128(1));
    }

    #[test]
    fn a_value_beyond_76_digits_is_an_error_naming_its_row() {
        let mut column = DecimalColumn::new(None);
        column.push(Some(DecimalValue::Narrow(10i128.pow(37), 0)));
        column.push(Some(DecimalValue::Narrow(1, 45)));
        let err = column.finish(&|i| i + 100).unwrap_err();
        assert!(err.starts_with("row 100 holds 10000000000000000000000000000000000000, which needs more than 76 digits at the column's scale of 45"), "{err}");
    }

    #[test]
    fn a_declared_column_keeps_its_type_and_never_rounds() {
        let mut column = DecimalColumn::new(Some((10, 2)));
        column.push(Some(DecimalValue::Narrow(15, 1)));
        let array = column.finish(&row).unwrap();
        assert_eq!(array.data_type(), &DataType::Decimal128(10, 2));
        assert_eq!(array.as_primitive::<Decimal128Type>().value(0), 150);
        column.push(None);
        column.push(Some(DecimalValue::Narrow(1_234_567, 6)));
        let err = column.finish(&|i| i + 7).unwrap_err();
        assert_eq!(
            err,
            "row 8 holds 1.234567, which has more decimal places than the column's declared \
             numeric(10, 2); conn never rounds"
        );
        column.push(Some(DecimalValue::Narrow(10i128.pow(10), 2)));
        let err = column.finish(&row).unwrap_err();
        assert!(
            err.contains("row 0 holds 100000000.00, which has more digits"),
            "{err}"
        );
        // Wider declarations are Decimal256; scale above precision is widened.
        assert_eq!(
            DecimalColumn::new(Some((50, 4))).data_type(),
            DataType::Decimal256(50, 4)
        );
        assert_eq!(
            DecimalColumn::new(Some((3, 5))).data_type(),
            DataType::Decimal128(5, 5)
        );
        assert_eq!(
            DecimalColumn::new(Some((200, 2))).data_type(),
            DataType::Decimal128(38, 0)
        );
    }

    #[test]
    fn unify_rescales_earlier_batches_up() {
        let mut column = DecimalColumn::new(None);
        column.push(Some(DecimalValue::Narrow(2, 0)));
        column.push(None);
        let first = column.finish(&row).unwrap();
        column.push(Some(DecimalValue::Narrow(15, 1)));
        let second = column.finish(&row).unwrap();
        let unified = unify(&[first, second], &[&row, &row]).unwrap();
        let values: Vec<_> = unified
            .iter()
            .map(|a| {
                assert_eq!(a.data_type(), &DataType::Decimal128(38, 1));
                a.as_primitive::<Decimal128Type>()
                    .iter()
                    .collect::<Vec<_>>()
            })
            .collect();
        assert_eq!(values, vec![vec![Some(20), None], vec![Some(15)]]);
    }

    #[test]
    fn unify_widens_to_decimal256_or_fails_naming_the_row() {
        let mut column = DecimalColumn::new(None);
        column.push(Some(DecimalValue::Narrow(10i128.pow(35), 0)));
        let first = column.finish(&row).unwrap();
        column.push(Some(DecimalValue::Narrow(1, 10)));
        let second = column.finish(&row).unwrap();
        let unified = unify(&[first.clone(), second], &[&row, &|i| i + 1]).unwrap();
        assert_eq!(unified[0].data_type(), &DataType::Decimal256(76, 10));
        assert_eq!(unified[1].data_type(), &DataType::Decimal256(76, 10));
        assert_eq!(
            decimal_text(unified[0].as_primitive::<Decimal256Type>().value(0), 10),
            format!("1{}.{}", "0".repeat(35), "0".repeat(10))
        );
        column.push(Some(DecimalValue::Narrow(1, 50)));
        let third = column.finish(&row).unwrap();
        let err = unify(&[first, third], &[&|i| i + 3, &row]).unwrap_err();
        assert!(err.starts_with("row 3 holds 100000000000000000000000000000000000, which needs more than 76 digits at the column's scale of 50"), "{err}");
    }
}
