//! Resource quantities (`10Mi`, `.05`, `200m`, `1e3`) in the Kubernetes grammar:
//!
//! ```text
//! quantity        ::= signedNumber suffix
//! signedNumber    ::= sign? number
//! number          ::= digits | digits "." digits? | "." digits
//! suffix          ::= binarySI | decimalSI | decimalExponent
//! binarySI        ::= Ki | Mi | Gi | Ti | Pi | Ei
//! decimalSI       ::= n | u | m | "" | k | M | G | T | P | E
//! decimalExponent ::= ("e" | "E") signedNumber
//! ```
//!
//! Values are held exactly, in nano-units, so that a request can be compared with its limit
//! and per-node totals can be added up without rounding surprises.

use std::cmp::Ordering;
use std::fmt;

/// A parsed quantity: its exact value in nano-units (`1` = 1e-9), rounded up at the ninth
/// decimal as Kubernetes rounds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Quantity {
    nanos: i128,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum QuantityError {
    #[error("quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'")]
    Syntax,
    #[error(
        "{0:?} is not a unit; accepted units are Ki, Mi, Gi, Ti, Pi, Ei (powers of 1024), n, u, m, k, M, G, T, P, E (powers of 1000), or an exponent such as e3"
    )]
    UnknownSuffix(String),
    #[error("the value is too large")]
    TooLarge,
}

const NANOS_PER_UNIT: i128 = 1_000_000_000;

impl Quantity {
    pub fn parse(text: &str) -> Result<Quantity, QuantityError> {
        let text = text.trim();
        let (negative, rest) = match text.as_bytes().first() {
            Some(b'+') => (false, &text[1..]),
            Some(b'-') => (true, &text[1..]),
            _ => (false, text),
        };
        let number_len = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        let (number, suffix) = rest.split_at(number_len);
        let (whole, fraction) = match number.split_once('.') {
            Some((w, f)) => (w, f),
            None => (number, ""),
        };
        if (whole.is_empty() && fraction.is_empty()) || fraction.contains('.') {
            return Err(QuantityError::Syntax);
        }
        let (base, exponent) = suffix_scale(suffix)?;
        // value = 0.whole.fraction * base^exponent, computed as digits * base^exponent / 10^len(fraction)
        let digits: String = format!("{whole}{fraction}");
        let digits = digits.trim_start_matches('0');
        if digits.len() > 30 {
            return Err(QuantityError::TooLarge);
        }
        let mantissa: i128 = if digits.is_empty() { 0 } else { digits.parse().map_err(|_| QuantityError::Syntax)? };
        let nanos = scale(mantissa, fraction.len() as i32, base, exponent)?;
        Ok(Quantity { nanos: if negative { -nanos } else { nanos } })
    }

    pub fn from_nanos(nanos: i128) -> Self {
        Quantity { nanos }
    }

    pub fn nanos(self) -> i128 {
        self.nanos
    }

    /// The value in thousandths, rounded up (CPU millicores).
    pub fn millis(self) -> i128 {
        div_ceil(self.nanos, 1_000_000)
    }

    /// The value in whole units, rounded up (bytes for memory).
    pub fn units(self) -> i128 {
        div_ceil(self.nanos, NANOS_PER_UNIT)
    }

    pub fn checked_mul(self, factor: i128) -> Option<Quantity> {
        self.nanos.checked_mul(factor).map(Quantity::from_nanos)
    }

    pub fn checked_add(self, other: Quantity) -> Option<Quantity> {
        self.nanos.checked_add(other.nanos).map(Quantity::from_nanos)
    }

    /// A short human form for CPU: `50m`, `2`, `1500m`.
    pub fn display_cpu(self) -> String {
        let millis = self.millis();
        if millis % 1000 == 0 { format!("{}", millis / 1000) } else { format!("{millis}m") }
    }

    /// A short human form for bytes with binary units: `20Mi`, `1.5Gi`.
    pub fn display_bytes(self) -> String {
        let bytes = self.units();
        const UNITS: [(&str, i128); 5] =
            [("Pi", 1 << 50), ("Ti", 1 << 40), ("Gi", 1 << 30), ("Mi", 1 << 20), ("Ki", 1 << 10)];
        // The largest unit that divides exactly reads best (2000Mi, not 1.95Gi); otherwise
        // one decimal in the largest unit that fits.
        if let Some((unit, size)) = UNITS.iter().find(|(_, size)| bytes.abs() >= *size && bytes % size == 0) {
            return format!("{}{unit}", bytes / size);
        }
        if let Some((unit, size)) = UNITS.iter().find(|(_, size)| bytes.abs() >= *size) {
            let tenths = (bytes * 10 + size / 2) / size;
            return format!("{}.{}{unit}", tenths / 10, (tenths % 10).abs());
        }
        bytes.to_string()
    }
}

impl fmt::Display for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let whole = self.nanos / NANOS_PER_UNIT;
        let fraction = (self.nanos % NANOS_PER_UNIT).abs();
        if fraction == 0 {
            write!(f, "{whole}")
        } else {
            let sign = if self.nanos < 0 && whole == 0 { "-" } else { "" };
            let digits = format!("{fraction:09}");
            write!(f, "{sign}{whole}.{}", digits.trim_end_matches('0'))
        }
    }
}

impl std::str::FromStr for Quantity {
    type Err = QuantityError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Quantity::parse(s)
    }
}

/// `(base, exponent)` such that the suffix multiplies by base^exponent.
fn suffix_scale(suffix: &str) -> Result<(i128, i32), QuantityError> {
    let scale = match suffix {
        "" => (10, 0),
        "n" => (10, -9),
        "u" => (10, -6),
        "m" => (10, -3),
        "k" => (10, 3),
        "M" => (10, 6),
        "G" => (10, 9),
        "T" => (10, 12),
        "P" => (10, 15),
        "E" => (10, 18),
        "Ki" => (2, 10),
        "Mi" => (2, 20),
        "Gi" => (2, 30),
        "Ti" => (2, 40),
        "Pi" => (2, 50),
        "Ei" => (2, 60),
        _ => {
            let exponent = suffix.strip_prefix('e').or_else(|| suffix.strip_prefix('E'));
            match exponent {
                Some(e) if !e.is_empty() && e.trim_start_matches(['+', '-']).chars().all(|c| c.is_ascii_digit()) => {
                    let e: i32 = e.parse().map_err(|_| QuantityError::TooLarge)?;
                    (10, e)
                }
                _ if suffix.chars().all(|c| c.is_ascii_alphabetic()) => {
                    return Err(QuantityError::UnknownSuffix(suffix.to_string()));
                }
                _ => return Err(QuantityError::Syntax),
            }
        }
    };
    Ok(scale)
}

/// mantissa / 10^fraction_digits * base^exponent, in nano-units, rounded up.
fn scale(mantissa: i128, fraction_digits: i32, base: i128, exponent: i32) -> Result<i128, QuantityError> {
    // Work with numerator / denominator, both positive.
    let mut numerator = mantissa.checked_mul(NANOS_PER_UNIT).ok_or(QuantityError::TooLarge)?;
    let mut denominator: i128 = 10i128.checked_pow(fraction_digits as u32).ok_or(QuantityError::TooLarge)?;
    if exponent >= 0 {
        let factor = base.checked_pow(exponent as u32).ok_or(QuantityError::TooLarge)?;
        numerator = numerator.checked_mul(factor).ok_or(QuantityError::TooLarge)?;
    } else {
        let factor = base.checked_pow(exponent.unsigned_abs()).ok_or(QuantityError::TooLarge)?;
        denominator = denominator.checked_mul(factor).ok_or(QuantityError::TooLarge)?;
    }
    if numerator >= i128::MAX / 4 {
        return Err(QuantityError::TooLarge);
    }
    Ok(div_ceil(numerator, denominator))
}

fn div_ceil(a: i128, b: i128) -> i128 {
    let q = a / b;
    if a % b != 0 && ((a > 0) == (b > 0)) { q + 1 } else { q }
}

impl PartialOrd<i128> for Quantity {
    fn partial_cmp(&self, other: &i128) -> Option<Ordering> {
        self.nanos.partial_cmp(&(other * NANOS_PER_UNIT))
    }
}

impl PartialEq<i128> for Quantity {
    fn eq(&self, other: &i128) -> bool {
        self.nanos == other * NANOS_PER_UNIT
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_forms_users_write() {
        let cases: &[(&str, i128)] = &[
            ("10Mi", 10 * (1 << 20) * NANOS_PER_UNIT),
            ("20Mi", 20 * (1 << 20) * NANOS_PER_UNIT),
            (".05", 50_000_000),
            (".2", 200_000_000),
            ("200m", 200_000_000),
            ("50m", 50_000_000),
            ("1", NANOS_PER_UNIT),
            ("1.", NANOS_PER_UNIT),
            ("0", 0),
            ("+2", 2 * NANOS_PER_UNIT),
            ("-1", -NANOS_PER_UNIT),
            ("1k", 1000 * NANOS_PER_UNIT),
            ("1Ki", 1024 * NANOS_PER_UNIT),
            ("1e3", 1000 * NANOS_PER_UNIT),
            ("1E-3", 1_000_000),
            ("1.5Gi", 1_610_612_736 * NANOS_PER_UNIT),
            ("100n", 100),
            ("1u", 1000),
            ("0.1n", 1),
            ("1Ei", (1i128 << 60) * NANOS_PER_UNIT),
        ];
        for (text, nanos) in cases {
            assert_eq!(Quantity::parse(text).map(Quantity::nanos), Ok(*nanos), "{text}");
        }
    }

    #[test]
    fn rejects_what_kubernetes_rejects() {
        let cases: &[(&str, QuantityError)] = &[
            ("", QuantityError::Syntax),
            (".", QuantityError::Syntax),
            ("abc", QuantityError::Syntax),
            ("1.2.3", QuantityError::Syntax),
            ("10MB", QuantityError::UnknownSuffix("MB".into())),
            ("10mi", QuantityError::UnknownSuffix("mi".into())),
            ("1 Gi", QuantityError::Syntax),
            ("1e", QuantityError::UnknownSuffix("e".into())),
            ("1e99", QuantityError::TooLarge),
        ];
        for (text, err) in cases {
            assert_eq!(Quantity::parse(text), Err(err.clone()), "{text}");
        }
    }

    #[test]
    fn compares_across_units() {
        let q = |s: &str| Quantity::parse(s).expect(s);
        assert!(q("10Mi") < q("20Mi"));
        assert!(q(".05") < q(".2"));
        assert_eq!(q("1000m"), q("1"));
        assert_eq!(q("1Ki"), q("1024"));
        assert!(q("1G") < q("1Gi"));
    }

    #[test]
    fn displays_for_people() {
        let q = |s: &str| Quantity::parse(s).expect(s);
        assert_eq!(q(".05").display_cpu(), "50m");
        assert_eq!(q("2").display_cpu(), "2");
        assert_eq!(q("20Mi").display_bytes(), "20Mi");
        assert_eq!(q("1536Mi").display_bytes(), "1536Mi");
        assert_eq!(q("1500Ki").display_bytes(), "1500Ki");
        assert_eq!(q("1000001").display_bytes(), "976.6Ki");
        assert_eq!(q("100").display_bytes(), "100");
        assert_eq!(q(".05").to_string(), "0.05");
        assert_eq!(q("20Mi").checked_mul(100).map(Quantity::display_bytes).as_deref(), Some("2000Mi"));
    }
}
