//! Collecting exact decimals into `Decimal128` when the scale may only be known from
//! the data (PostgreSQL's unconstrained `numeric`, MySQL's `DECIMAL` whose scale sqlx
//! does not report).
//!
//! Values arrive as an unscaled `i128` and their own scale. The column's scale is
//! fixed when known up front, otherwise by the largest scale of the first batch; later
//! values with more digits are rounded half away from zero to it.

use std::sync::Arc;

use arrow::array::{ArrayRef, Decimal128Array};
use arrow::datatypes::DataType;

/// The widest precision `Decimal128` holds.
pub(crate) const MAX_PRECISION: u8 = 38;

#[derive(Debug)]
pub(crate) struct DecimalColumn {
    precision: u8,
    scale: Option<i8>,
    values: Vec<Option<(i128, i8)>>,
}

fn pow10(exponent: u32) -> Option<i128> {
    10i128.checked_pow(exponent)
}

/// `value` (at `from` scale) at `to` scale; rounding half away from zero when digits
/// are dropped. `None` on overflow.
pub(crate) fn rescale(value: i128, from: i8, to: i8) -> Option<i128> {
    let diff = i32::from(to) - i32::from(from);
    if diff >= 0 {
        value.checked_mul(pow10(diff.unsigned_abs())?)
    } else {
        let divisor = pow10(diff.unsigned_abs())?;
        let quotient = value / divisor;
        let remainder = value % divisor;
        let round_away = remainder.unsigned_abs() * 2 >= divisor.unsigned_abs();
        Some(if round_away {
            quotient + value.signum()
        } else {
            quotient
        })
    }
}

impl DecimalColumn {
    /// A column of known precision and scale, or unknown (`None`) to be taken from the
    /// first batch.
    pub(crate) fn new(precision_scale: Option<(u8, i8)>) -> Self {
        match precision_scale {
            Some((precision, scale)) => DecimalColumn {
                precision: precision.clamp(1, MAX_PRECISION),
                scale: Some(scale),
                values: Vec::new(),
            },
            None => DecimalColumn {
                precision: MAX_PRECISION,
                scale: None,
                values: Vec::new(),
            },
        }
    }

    pub(crate) fn push(&mut self, value: Option<(i128, i8)>) {
        self.values.push(value);
    }

    pub(crate) fn data_type(&self) -> DataType {
        DataType::Decimal128(self.precision, self.scale.unwrap_or(0))
    }

    pub(crate) fn finish(&mut self) -> Result<ArrayRef, String> {
        let scale = *self.scale.get_or_insert_with(|| {
            self.values
                .iter()
                .flatten()
                .map(|(_, s)| *s)
                .max()
                .unwrap_or(0)
                .clamp(0, MAX_PRECISION as i8)
        });
        let values: Result<Vec<Option<i128>>, String> = self
            .values
            .drain(..)
            .map(|v| {
                v.map(|(unscaled, from)| {
                    rescale(unscaled, from, scale).ok_or_else(|| {
                        format!("a decimal value does not fit in {MAX_PRECISION} digits")
                    })
                })
                .transpose()
            })
            .collect();
        let array = Decimal128Array::from(values?)
            .with_precision_and_scale(self.precision, scale)
            .map_err(|e| e.to_string())?;
        Ok(Arc::new(array))
    }
}

#[cfg(test)]
mod tests {
    use arrow::array::Array;

    use super::*;

    #[test]
    fn rescaling_rounds_half_away_from_zero() {
        assert_eq!(rescale(12345, 2, 4), Some(1_234_500));
        assert_eq!(rescale(12345, 2, 1), Some(1235));
        assert_eq!(rescale(-12345, 2, 1), Some(-1235));
        assert_eq!(rescale(12344, 2, 1), Some(1234));
        assert_eq!(rescale(i128::MAX, 0, 2), None);
    }

    #[test]
    fn unknown_scale_comes_from_the_first_batch() {
        let mut column = DecimalColumn::new(None);
        column.push(Some((15, 1)));
        column.push(None);
        column.push(Some((1234, 3)));
        let array = column.finish().unwrap();
        assert_eq!(array.data_type(), &DataType::Decimal128(38, 3));
        let array = array.as_any().downcast_ref::<Decimal128Array>().unwrap();
        assert_eq!(array.value(0), 1500);
        assert!(array.is_null(1));
        // The second batch keeps the scale of the first.
        column.push(Some((12345, 4)));
        let second = column.finish().unwrap();
        let second = second.as_any().downcast_ref::<Decimal128Array>().unwrap();
        assert_eq!(second.value(0), 1235);
    }
}
