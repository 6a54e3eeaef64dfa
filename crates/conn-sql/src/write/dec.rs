//! Exact decimals as digit strings, for writing: an Arrow decimal, integer or float is
//! brought to a column's scale and precision without rounding, whatever its size
//! (Decimal256 and PostgreSQL's 1000-digit numerics included), or refused.

/// `±digits × 10^-scale`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Dec {
    pub(crate) negative: bool,
    /// The unscaled magnitude's decimal digits, without leading zeros ("0" for zero).
    pub(crate) digits: String,
    pub(crate) scale: i32,
}

/// Why a value does not fit a decimal column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Misfit {
    /// Non-zero digits would be dropped below the column's scale.
    Fraction,
    /// More digits than the column's precision.
    Precision,
}

impl Dec {
    /// From an unscaled integer's decimal text (an optional `-`, then digits).
    pub(crate) fn from_unscaled(text: &str, scale: i32) -> Dec {
        let (negative, magnitude) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        Dec::new(negative, magnitude, scale)
    }

    fn new(negative: bool, magnitude: &str, scale: i32) -> Dec {
        let trimmed = magnitude.trim_start_matches('0');
        if trimmed.is_empty() {
            Dec {
                negative: false,
                digits: "0".into(),
                scale,
            }
        } else {
            Dec {
                negative,
                digits: trimmed.to_owned(),
                scale,
            }
        }
    }

    /// From a plain decimal literal: `-12.50`, `0.001`, `7` (no exponent; Rust prints
    /// floats this way).
    pub(crate) fn parse_plain(text: &str) -> Option<Dec> {
        let (negative, rest) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let (int, frac) = rest.split_once('.').unwrap_or((rest, ""));
        if int.is_empty() && frac.is_empty()
            || !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit())
        {
            return None;
        }
        let scale = i32::try_from(frac.len()).ok()?;
        Some(Dec::new(negative, &format!("{int}{frac}"), scale))
    }

    /// The shortest decimal that reads back as `value` (None for NaN and infinities).
    pub(crate) fn from_f64(value: f64) -> Option<Dec> {
        if value.is_finite() {
            Dec::parse_plain(&format!("{value}"))
        } else {
            None
        }
    }

    /// The shortest decimal that reads back as `value` as a 32-bit float.
    pub(crate) fn from_f32(value: f32) -> Option<Dec> {
        if value.is_finite() {
            Dec::parse_plain(&format!("{value}"))
        } else {
            None
        }
    }

    pub(crate) fn is_zero(&self) -> bool {
        self.digits == "0"
    }

    /// The same value at `scale`; `None` if non-zero digits would be dropped.
    pub(crate) fn at_scale(&self, scale: i32) -> Option<Dec> {
        if self.is_zero() {
            return Some(Dec {
                scale,
                ..self.clone()
            });
        }
        if scale >= self.scale {
            let zeros = usize::try_from(scale - self.scale).ok()?;
            let mut digits = String::with_capacity(self.digits.len() + zeros);
            digits.push_str(&self.digits);
            digits.extend(std::iter::repeat_n('0', zeros));
            return Some(Dec {
                negative: self.negative,
                digits,
                scale,
            });
        }
        let drop = usize::try_from(self.scale - scale).ok()?;
        if drop >= self.digits.len() {
            // Every digit would go: only zero survives, and the value is not zero.
            return None;
        }
        let (keep, dropped) = self.digits.split_at(self.digits.len() - drop);
        dropped.bytes().all(|b| b == b'0').then(|| Dec {
            negative: self.negative,
            digits: keep.to_owned(),
            scale,
        })
    }

    /// The value at the column's scale, checked against its precision.
    pub(crate) fn fit(&self, precision: Option<u32>, scale: Option<i32>) -> Result<Dec, Misfit> {
        let scaled = match scale {
            Some(scale) => self.at_scale(scale).ok_or(Misfit::Fraction)?,
            None => self.at_scale(self.scale.max(0)).ok_or(Misfit::Fraction)?,
        };
        if let Some(precision) = precision
            && !scaled.is_zero()
            && scaled.digits.len() > usize::try_from(precision).unwrap_or(usize::MAX)
        {
            return Err(Misfit::Precision);
        }
        Ok(scaled)
    }

    /// The value as an integer, when it is a whole number that fits `i128`.
    pub(crate) fn to_i128(&self) -> Result<i128, Misfit> {
        let whole = self.at_scale(0).ok_or(Misfit::Fraction)?;
        let magnitude: i128 = whole.digits.parse().map_err(|_| Misfit::Precision)?;
        Ok(if whole.negative {
            -magnitude
        } else {
            magnitude
        })
    }

    /// Trailing fractional zeros removed, a negative scale written out: one spelling per
    /// value, for comparisons.
    pub(crate) fn normalized(&self) -> Dec {
        let mut out = self
            .at_scale(self.scale.max(0))
            .unwrap_or_else(|| self.clone());
        while out.scale > 0 && out.digits.len() > 1 && out.digits.ends_with('0') {
            out.digits.pop();
            out.scale -= 1;
        }
        if out.is_zero() {
            out.scale = 0;
        }
        out
    }

    /// Plain text (`-123.45`) at a scale of at least 0.
    pub(crate) fn to_plain(&self) -> String {
        let value = self
            .at_scale(self.scale.max(0))
            .unwrap_or_else(|| self.clone());
        let scale = usize::try_from(value.scale).unwrap_or(0);
        let sign = if value.negative { "-" } else { "" };
        if scale == 0 {
            return format!("{sign}{}", value.digits);
        }
        let padded = format!("{:0>width$}", value.digits, width = scale + 1);
        let (int, frac) = padded.split_at(padded.len() - scale);
        format!("{sign}{int}.{frac}")
    }

    /// The nearest `f64`, if it prints back as this same decimal.
    pub(crate) fn to_f64_exactly(&self) -> Option<f64> {
        let value: f64 = self.to_plain().parse().ok()?;
        let back = Dec::from_f64(value)?;
        (back.normalized() == self.normalized()).then_some(value)
    }

    /// The nearest `f32`, if it prints back as this same decimal.
    pub(crate) fn to_f32_exactly(&self) -> Option<f32> {
        let value: f32 = self.to_plain().parse().ok()?;
        let back = Dec::from_f32(value)?;
        (back.normalized() == self.normalized()).then_some(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dec(text: &str) -> Dec {
        Dec::parse_plain(text).unwrap()
    }

    #[test]
    fn parsing_and_printing() {
        assert_eq!(dec("-12.50").to_plain(), "-12.50");
        assert_eq!(dec("0.001").to_plain(), "0.001");
        assert_eq!(dec("-0.0").to_plain(), "0.0");
        assert_eq!(Dec::from_unscaled("-5", -2).to_plain(), "-500");
        assert_eq!(Dec::from_unscaled("5", 3).to_plain(), "0.005");
        assert_eq!(Dec::from_f64(1e-7).unwrap().to_plain(), "0.0000001");
        assert_eq!(Dec::from_f64(0.1).unwrap().to_plain(), "0.1");
        assert!(Dec::from_f64(f64::NAN).is_none());
        assert!(Dec::parse_plain("1e5").is_none());
        assert!(Dec::parse_plain(".").is_none());
    }

    #[test]
    fn rescaling_never_rounds() {
        assert_eq!(dec("1.25").at_scale(4).unwrap().digits, "12500");
        assert_eq!(dec("1.20").at_scale(1).unwrap().digits, "12");
        assert_eq!(dec("1.25").at_scale(1), None);
        assert_eq!(dec("0.005").at_scale(2), None);
        assert_eq!(dec("0.000").at_scale(0).unwrap().digits, "0");
        assert_eq!(dec("500").at_scale(-2).unwrap().digits, "5");
        assert_eq!(dec("550").at_scale(-2), None);
    }

    #[test]
    fn fitting_a_column() {
        assert_eq!(dec("999.99").fit(Some(5), Some(2)).unwrap().digits, "99999");
        assert_eq!(dec("1000.00").fit(Some(5), Some(2)), Err(Misfit::Precision));
        assert_eq!(dec("1.255").fit(Some(5), Some(2)), Err(Misfit::Fraction));
        assert_eq!(
            dec("-0.5").fit(Some(1), Some(1)).unwrap().to_plain(),
            "-0.5"
        );
        assert_eq!(
            Dec::from_unscaled("123", -3)
                .fit(None, None)
                .unwrap()
                .to_plain(),
            "123000"
        );
        assert_eq!(dec("0").fit(Some(1), Some(0)).unwrap().to_plain(), "0");
    }

    #[test]
    fn integers_and_floats() {
        assert_eq!(dec("-42.000").to_i128(), Ok(-42));
        assert_eq!(dec("42.5").to_i128(), Err(Misfit::Fraction));
        assert_eq!(dec("0.1").to_f64_exactly(), Some(0.1));
        assert_eq!(dec("0.1").to_f32_exactly(), Some(0.1f32));
        assert_eq!(dec("1234567890.12345678").to_f32_exactly(), None);
        assert_eq!(dec("12345678901234567.89").to_f64_exactly(), None);
        assert_eq!(dec("2.50").to_f64_exactly(), Some(2.5));
    }
}
