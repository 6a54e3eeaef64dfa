//! Exact decimal arithmetic on unscaled `i128` values: rescaling, the digit check,
//! text out and text in. Nothing here goes through floating point, and nothing rounds:
//! a value that would lose a digit is refused.

/// `10^exp`, or `None` beyond `i128`.
pub(crate) fn pow10(exp: u32) -> Option<i128> {
    10i128.checked_pow(exp)
}

/// `value` (unscaled, `from` digits after the point) with `to` digits after the point,
/// or `None` when that would drop a non-zero digit or overflow `i128`.
pub(crate) fn rescale(value: i128, from: i8, to: i8) -> Option<i128> {
    let shift = i32::from(to) - i32::from(from);
    if shift >= 0 {
        value.checked_mul(pow10(shift.unsigned_abs())?)
    } else {
        match pow10(shift.unsigned_abs()) {
            Some(divisor) if value % divisor == 0 => Some(value / divisor),
            Some(_) => None,
            // A divisor beyond i128 divides only zero exactly.
            None => (value == 0).then_some(0),
        }
    }
}

/// Whether `value` has at most `precision` digits.
pub(crate) fn fits_precision(value: i128, precision: u8) -> bool {
    match pow10(u32::from(precision)) {
        Some(limit) => value.unsigned_abs() < limit.unsigned_abs(),
        None => true,
    }
}

/// `value` (unscaled, `scale` digits after the point) as decimal text: `-12.34`.
pub(crate) fn text(value: i128, scale: i8) -> String {
    let digits = value.unsigned_abs().to_string();
    let sign = if value < 0 { "-" } else { "" };
    let scale = i32::from(scale);
    if scale <= 0 {
        let zeros = "0".repeat(scale.unsigned_abs() as usize);
        if value == 0 {
            return "0".to_owned();
        }
        return format!("{sign}{digits}{zeros}");
    }
    let scale = scale.unsigned_abs() as usize;
    let padded = if digits.len() <= scale {
        format!("{}{digits}", "0".repeat(scale + 1 - digits.len()))
    } else {
        digits
    };
    let (whole, fraction) = padded.split_at(padded.len() - scale);
    format!("{sign}{whole}.{fraction}")
}

/// Why decimal text could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ParseError {
    /// Not a decimal number at all.
    NotANumber,
    /// More digits after the point than the scale keeps (non-zero ones).
    TooManyFractionDigits,
    /// More digits than an `i128` holds.
    TooLarge,
}

/// The decimal number `text` (`-12.34`, `+5`, `1.5e3`, `.5`) unscaled to `scale` digits
/// after the point, exactly: `parse("-12.34", 3) == Ok(-12340)`.
pub(crate) fn parse(text: &str, scale: u8) -> Result<i128, ParseError> {
    let (negative, rest) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let (mantissa, exponent) = match rest.find(['e', 'E']) {
        Some(at) => {
            // i64's parser takes an optional sign, as an exponent may have.
            let exponent: i64 = rest[at + 1..].parse().map_err(|_| ParseError::NotANumber)?;
            (&rest[..at], exponent)
        }
        None => (rest, 0),
    };
    let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.len() + fraction.len() == 0 || !all_digits(whole) || !all_digits(fraction) {
        return Err(ParseError::NotANumber);
    }
    // The value is digits * 10^(exponent - fraction.len()); unscaled to `scale` that is
    // digits * 10^shift.
    let digits: String = format!("{whole}{fraction}");
    let digits = digits.trim_start_matches('0');
    let shift = exponent
        .saturating_sub(fraction.len() as i64)
        .saturating_add(i64::from(scale));
    let kept = if shift >= 0 {
        digits
    } else {
        let dropped = usize::try_from(shift.unsigned_abs()).unwrap_or(usize::MAX);
        let cut = digits.len().saturating_sub(dropped);
        if digits[cut..].bytes().any(|b| b != b'0') {
            return Err(ParseError::TooManyFractionDigits);
        }
        &digits[..cut]
    };
    let mut value: i128 = 0;
    for digit in kept.bytes() {
        value = value
            .checked_mul(10)
            .and_then(|v| v.checked_add(i128::from(digit - b'0')))
            .ok_or(ParseError::TooLarge)?;
    }
    if shift > 0 && value != 0 {
        let factor = u32::try_from(shift)
            .ok()
            .and_then(pow10)
            .ok_or(ParseError::TooLarge)?;
        value = value.checked_mul(factor).ok_or(ParseError::TooLarge)?;
    }
    Ok(if negative { -value } else { value })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rescale_is_exact_or_refuses() {
        assert_eq!(rescale(1234, 2, 4), Some(123_400));
        assert_eq!(rescale(123_400, 4, 2), Some(1234));
        assert_eq!(rescale(123_401, 4, 2), None);
        assert_eq!(rescale(-500, 2, 0), Some(-5));
        assert_eq!(rescale(-501, 2, 0), None);
        assert_eq!(rescale(i128::MAX, 0, 1), None);
        assert_eq!(rescale(0, 60, 0), Some(0));
        assert_eq!(rescale(7, 60, 0), None);
    }

    #[test]
    fn precision_counts_digits() {
        assert!(fits_precision(99_999, 5));
        assert!(!fits_precision(100_000, 5));
        assert!(fits_precision(-99_999, 5));
        assert!(!fits_precision(-100_000, 5));
        assert!(fits_precision(10i128.pow(38) - 1, 38));
        assert!(!fits_precision(10i128.pow(38), 38));
    }

    #[test]
    fn text_places_the_point() {
        assert_eq!(text(-1234, 2), "-12.34");
        assert_eq!(text(5, 3), "0.005");
        assert_eq!(text(-5, 3), "-0.005");
        assert_eq!(text(0, 2), "0.00");
        assert_eq!(text(42, 0), "42");
        assert_eq!(text(42, -2), "4200");
        assert_eq!(text(0, -2), "0");
    }

    #[test]
    fn parse_is_exact() {
        assert_eq!(parse("-12.34", 2), Ok(-1234));
        assert_eq!(parse("-12.34", 3), Ok(-12340));
        assert_eq!(parse("+5", 0), Ok(5));
        assert_eq!(parse(".5", 1), Ok(5));
        assert_eq!(parse("5.", 0), Ok(5));
        assert_eq!(parse("1.5e3", 0), Ok(1500));
        assert_eq!(parse("1.5E+3", 1), Ok(15000));
        assert_eq!(parse("15e-1", 1), Ok(15));
        assert_eq!(parse("12.300", 1), Ok(123));
        assert_eq!(parse("0.000", 0), Ok(0));
        assert_eq!(parse("-0", 0), Ok(0));
        assert_eq!(parse("00012", 0), Ok(12));
        assert_eq!(parse("0e999999999999", 0), Ok(0));
        assert_eq!(
            parse("99999999999999999999999999999999999999", 0),
            Ok(10i128.pow(38) - 1)
        );
        assert_eq!(
            parse("-0.9999999999999999999999999999999999999", 37),
            Ok(-(10i128.pow(37) - 1))
        );
    }

    #[test]
    fn parse_refuses_rather_than_rounds() {
        assert_eq!(parse("12.345", 2), Err(ParseError::TooManyFractionDigits));
        assert_eq!(parse("1e-1", 0), Err(ParseError::TooManyFractionDigits));
        assert_eq!(parse("1e99", 0), Err(ParseError::TooLarge));
        assert_eq!(
            parse("1000000000000000000000000000000000000000000", 0),
            Err(ParseError::TooLarge)
        );
        for bad in [
            "", "-", ".", "1.2.3", "12a", "1e", "1e+-2", "--1", " 1", "inf", "NaN",
        ] {
            assert_eq!(parse(bad, 0), Err(ParseError::NotANumber), "{bad:?}");
        }
    }
}
