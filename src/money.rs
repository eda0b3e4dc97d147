//! Exact decimal money: API decimal strings to integer units and back.
//!
//! Every amount inside ringex is a `u64` count of some smallest unit (an asset's `10^-decimals`, a
//! market's tick or step). This module converts the API's decimal strings
//! (`^[0-9]+(\.[0-9]+)?$`) to such counts and back, exactly or not at all: a string with more
//! decimals than the scale allows is rejected even when the extra digits are zeros (`150.500` at
//! scale 2), and a value past `u64::MAX` units is rejected, never rounded or wrapped.
//!
//! Hand-written rather than `rust_decimal` because it runs on the hot path of every order in the
//! verify stage: it parses straight from the request bytes and formats straight into the response
//! buffer, with no allocation and no intermediate 96-bit representation. `rust_decimal` serves as
//! the oracle in this module's property tests.
//!
//! No floating point anywhere.

/// Why a decimal string was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecimalError {
    /// Not `^[0-9]+(\.[0-9]+)?$`.
    Malformed,
    /// More fractional digits than the scale.
    TooManyDecimals,
    /// More than `u64::MAX` units.
    Overflow,
}

/// Largest scale (fractional digits) any amount may have; 10^19 still fits a `u64`.
pub const SCALE_MAX: u32 = 18;

/// `10^exponent` for `exponent <= 19`.
pub const fn pow10(exponent: u32) -> u64 {
    assert!(exponent <= 19);
    10u64.pow(exponent)
}

/// Parses a decimal string into a count of `10^-scale` units.
///
/// ```
/// use ringex::money::{parse_units, DecimalError};
/// assert_eq!(parse_units(b"150.50", 2), Ok(15050));
/// assert_eq!(parse_units(b"150.5", 2), Ok(15050));
/// assert_eq!(parse_units(b"150", 2), Ok(15000));
/// assert_eq!(parse_units(b"150.500", 2), Err(DecimalError::TooManyDecimals));
/// assert_eq!(parse_units(b"1e3", 2), Err(DecimalError::Malformed));
/// ```
pub fn parse_units(text: &[u8], scale: u32) -> Result<u64, DecimalError> {
    debug_assert!(scale <= SCALE_MAX);
    let (integer_digits, fraction_digits) = match text.iter().position(|&byte| byte == b'.') {
        Some(dot) => (&text[..dot], &text[dot + 1..]),
        None => (text, &text[text.len()..]),
    };
    let has_dot = integer_digits.len() != text.len();
    if integer_digits.is_empty() || (has_dot && fraction_digits.is_empty()) {
        return Err(DecimalError::Malformed);
    }
    let mut value: u64 = 0;
    for &byte in integer_digits {
        let digit = digit_value(byte)?;
        value = value
            .checked_mul(10)
            .and_then(|v| v.checked_add(digit))
            .ok_or(DecimalError::Overflow)?;
    }
    // Validate every fractional digit before judging the length, so "1.x" is Malformed, not
    // TooManyDecimals.
    for &byte in fraction_digits {
        digit_value(byte)?;
    }
    if fraction_digits.len() > scale as usize {
        return Err(DecimalError::TooManyDecimals);
    }
    let mut fraction: u64 = 0;
    for &byte in fraction_digits {
        fraction = fraction * 10 + u64::from(byte - b'0');
    }
    fraction *= pow10(scale - fraction_digits.len() as u32);
    value
        .checked_mul(pow10(scale))
        .and_then(|v| v.checked_add(fraction))
        .ok_or(DecimalError::Overflow)
}

fn digit_value(byte: u8) -> Result<u64, DecimalError> {
    if byte.is_ascii_digit() { Ok(u64::from(byte - b'0')) } else { Err(DecimalError::Malformed) }
}

/// Longest text [`write_units`] produces: 20 digits, a dot and a leading `0`.
pub const UNITS_TEXT_MAX: usize = 22;

/// Writes `units × 10^-scale` with exactly `scale` fractional digits into `out`; returns the length.
///
/// ```
/// use ringex::money::write_units;
/// let mut buffer = [0u8; 32];
/// let length = write_units(15050, 2, &mut buffer);
/// assert_eq!(&buffer[..length], b"150.50");
/// let length = write_units(5, 3, &mut buffer);
/// assert_eq!(&buffer[..length], b"0.005");
/// let length = write_units(7, 0, &mut buffer);
/// assert_eq!(&buffer[..length], b"7");
/// ```
pub fn write_units(units: u64, scale: u32, out: &mut [u8]) -> usize {
    debug_assert!(scale <= SCALE_MAX);
    // Digits right to left into a scratch array, then copy: no allocation, no division by 10^scale
    // in u64 beyond what the digits need.
    let mut digits = [b'0'; UNITS_TEXT_MAX];
    let mut count = 0;
    let mut rest = units;
    while rest != 0 {
        digits[count] = b'0' + (rest % 10) as u8;
        rest /= 10;
        count += 1;
    }
    // At least scale + 1 digits, so "0.005" keeps its leading zero.
    let digit_count = count.max(scale as usize + 1);
    let length = digit_count + usize::from(scale > 0);
    assert!(out.len() >= length, "output buffer too short for a decimal");
    let mut position = 0;
    for index in (0..digit_count).rev() {
        out[position] = digits[index];
        position += 1;
        if index == scale as usize && scale > 0 {
            out[position] = b'.';
            position += 1;
        }
    }
    debug_assert_eq!(position, length);
    length
}

/// A decimal step such as a tick size `0.01` or a step size `0.00001`: `units × 10^-scale`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DecimalStep {
    /// The step in units of `10^-scale`; at least 1.
    pub units: u64,
    /// Fractional digits of the step as written, without trailing zeros.
    pub scale: u32,
}

impl DecimalStep {
    /// Parses a positive decimal, dropping trailing fractional zeros (`0.010` → 1 at scale 2).
    pub fn parse(text: &str) -> Result<DecimalStep, String> {
        let trimmed = match text.find('.') {
            Some(_) => text.trim_end_matches('0').trim_end_matches('.'),
            None => text,
        };
        let scale = trimmed.find('.').map_or(0, |dot| trimmed.len() - dot - 1) as u32;
        if scale > SCALE_MAX {
            return Err(format!("`{text}` has more than {SCALE_MAX} decimals"));
        }
        let units = parse_units(trimmed.as_bytes(), scale)
            .map_err(|error| format!("`{text}` is not a decimal ({error:?})"))?;
        if units == 0 {
            return Err(format!("`{text}` must be greater than zero"));
        }
        Ok(DecimalStep { units, scale })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rust_decimal::Decimal;
    use std::str::FromStr;

    #[test]
    fn parse_table() {
        let cases: &[(&str, u32, Result<u64, DecimalError>)] = &[
            ("0", 0, Ok(0)),
            ("0.0", 1, Ok(0)),
            ("1", 6, Ok(1_000_000)),
            ("1.25", 2, Ok(125)),
            ("001.25", 2, Ok(125)),
            ("1.250", 2, Err(DecimalError::TooManyDecimals)),
            ("1.", 2, Err(DecimalError::Malformed)),
            (".5", 2, Err(DecimalError::Malformed)),
            ("", 2, Err(DecimalError::Malformed)),
            ("-1", 2, Err(DecimalError::Malformed)),
            ("+1", 2, Err(DecimalError::Malformed)),
            ("1,5", 2, Err(DecimalError::Malformed)),
            (" 1", 2, Err(DecimalError::Malformed)),
            ("1.2.3", 2, Err(DecimalError::Malformed)),
            ("1.x", 0, Err(DecimalError::Malformed)),
            ("18446744073709551615", 0, Ok(u64::MAX)),
            ("18446744073709551616", 0, Err(DecimalError::Overflow)),
            ("18446744073709551.615", 3, Ok(u64::MAX)),
            ("18446744073709551.616", 3, Err(DecimalError::Overflow)),
            ("99999999999999999999999", 0, Err(DecimalError::Overflow)),
        ];
        for (text, scale, expected) in cases {
            assert_eq!(parse_units(text.as_bytes(), *scale), *expected, "{text} at {scale}");
        }
    }

    #[test]
    fn write_table() {
        let cases: &[(u64, u32, &str)] = &[
            (0, 0, "0"),
            (0, 2, "0.00"),
            (1, 9, "0.000000001"),
            (188_125_000, 6, "188.125000"),
            (u64::MAX, 0, "18446744073709551615"),
            (u64::MAX, 18, "18.446744073709551615"),
        ];
        for (units, scale, expected) in cases {
            let mut buffer = [0u8; UNITS_TEXT_MAX];
            let length = write_units(*units, *scale, &mut buffer);
            assert_eq!(std::str::from_utf8(&buffer[..length]).unwrap(), *expected);
        }
    }

    #[test]
    fn step_parse() {
        assert_eq!(DecimalStep::parse("0.01"), Ok(DecimalStep { units: 1, scale: 2 }));
        assert_eq!(DecimalStep::parse("0.010"), Ok(DecimalStep { units: 1, scale: 2 }));
        assert_eq!(DecimalStep::parse("0.05"), Ok(DecimalStep { units: 5, scale: 2 }));
        assert_eq!(DecimalStep::parse("10"), Ok(DecimalStep { units: 10, scale: 0 }));
        assert!(DecimalStep::parse("0").is_err());
        assert!(DecimalStep::parse("abc").is_err());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// Formatting then parsing is the identity.
        #[test]
        fn roundtrip(units in any::<u64>(), scale in 0u32..=SCALE_MAX) {
            let mut buffer = [0u8; UNITS_TEXT_MAX];
            let length = write_units(units, scale, &mut buffer);
            prop_assert_eq!(parse_units(&buffer[..length], scale), Ok(units));
        }

        /// Agrees with rust_decimal on every well-formed string that fits.
        #[test]
        fn agrees_with_rust_decimal(
            integer in "[0-9]{1,10}",
            fraction in proptest::option::of("[0-9]{1,9}"),
            scale in 0u32..=9,
        ) {
            let text = match &fraction {
                Some(fraction) => format!("{integer}.{fraction}"),
                None => integer.clone(),
            };
            let parsed = parse_units(text.as_bytes(), scale);
            let fraction_length = fraction.as_ref().map_or(0, |f| f.len()) as u32;
            if fraction_length > scale {
                prop_assert_eq!(parsed, Err(DecimalError::TooManyDecimals));
            } else {
                let oracle = Decimal::from_str(&text).unwrap() * Decimal::from(pow10(scale));
                prop_assert_eq!(Decimal::from(parsed.unwrap()), oracle.normalize());
            }
        }
    }
}
