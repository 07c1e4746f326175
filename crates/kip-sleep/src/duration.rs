//! Go's `time.ParseDuration`, to the nanosecond and to the letter of its error messages.
//!
//! Grammar: an optional `+` or `-`, then one or more `<number><unit>` parts, where a number is
//! decimal digits with an optional fraction (`1`, `1.5`, `.5`, `1.`, but not `.`), and a unit is
//! one of `ns`, `us`, `µs` (U+00B5), `μs` (U+03BC), `ms`, `s`, `m`, `h`. `0` alone (also `+0`,
//! `-0`) is zero; any other number without a unit is an error. The value is a signed count of
//! nanoseconds that must fit an `i64`, so `-9223372036854775808ns` is accepted and
//! `9223372036854775808ns` is not.
//!
//! Fractions follow Go exactly, including its use of `f64`: a fraction's value is
//! `fraction * (unit / 10^digits)` truncated to whole nanoseconds, and digits past the 19th
//! that would overflow are ignored.
//!
//! One deliberate difference: Go sums the parts in a `uint64` that wraps when two parts of
//! exactly 2^63 ns meet (`9223372036854775808ns9223372036854775808ns` parses as 0 there);
//! here that sum is reported as out of range, like every other overflow.

use crate::out::{Sink, put_go_quoted};

/// 2^63: the magnitude of the most negative duration, and one more than the largest positive.
const MAGNITUDE_LIMIT: u64 = 1 << 63;

/// A duration string that Go's `time.ParseDuration` rejects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DurationError<'a> {
    /// The whole string, as given.
    pub input: &'a [u8],
    pub kind: DurationErrorKind<'a>,
}

/// Which of Go's three messages applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DurationErrorKind<'a> {
    /// Empty, a sign alone, a part that does not start with a digit or `.`, a part with no
    /// digits, or a value beyond the `i64` nanosecond range.
    Invalid,
    /// A number that is not followed by a unit (`5`, `1h30`).
    MissingUnit,
    /// A unit that is not one of `ns us µs μs ms s m h`.
    UnknownUnit(&'a [u8]),
}

impl DurationError<'_> {
    /// Writes Go's text for this error, e.g. `time: unknown unit "d" in duration "10d"`.
    pub fn put_message(&self, sink: &mut impl Sink) {
        match self.kind {
            DurationErrorKind::Invalid => sink.put(b"time: invalid duration "),
            DurationErrorKind::MissingUnit => sink.put(b"time: missing unit in duration "),
            DurationErrorKind::UnknownUnit(unit) => {
                sink.put(b"time: unknown unit ");
                put_go_quoted(sink, unit);
                sink.put(b" in duration ");
            }
        }
        put_go_quoted(sink, self.input);
    }
}

/// Parses `input` as Go's `time.ParseDuration` does, giving signed nanoseconds.
pub fn parse_duration(input: &[u8]) -> Result<i64, DurationError<'_>> {
    let fail = |kind| DurationError { input, kind };
    let invalid = fail(DurationErrorKind::Invalid);

    let (negative, mut rest) = match input.split_first() {
        Some((b'-', rest)) => (true, rest),
        Some((b'+', rest)) => (false, rest),
        _ => (false, input),
    };
    if rest == b"0" {
        return Ok(0);
    }
    if rest.is_empty() {
        return Err(invalid);
    }

    let mut total: u64 = 0;
    while let Some(&first) = rest.first() {
        if first != b'.' && !first.is_ascii_digit() {
            return Err(invalid);
        }
        let (whole, after_whole) = leading_int(rest).ok_or(invalid)?;
        let has_whole_digits = after_whole.len() != rest.len();
        rest = after_whole;

        let mut fraction = Fraction::NONE;
        let mut has_fraction_digits = false;
        if let Some((b'.', after_dot)) = rest.split_first() {
            let (parsed, after_fraction) = leading_fraction(after_dot);
            has_fraction_digits = after_fraction.len() != after_dot.len();
            fraction = parsed;
            rest = after_fraction;
        }
        if !has_whole_digits && !has_fraction_digits {
            return Err(invalid);
        }

        let unit_len = rest.iter().position(|&c| c == b'.' || c.is_ascii_digit()).unwrap_or(rest.len());
        if unit_len == 0 {
            return Err(fail(DurationErrorKind::MissingUnit));
        }
        let (unit_name, after_unit) = rest.split_at(unit_len);
        rest = after_unit;
        let unit = unit_nanos(unit_name).ok_or(fail(DurationErrorKind::UnknownUnit(unit_name)))?;

        if whole > MAGNITUDE_LIMIT / unit {
            return Err(invalid);
        }
        let mut part = whole * unit;
        if fraction.digits > 0 {
            // Go computes this in float64 so that fractions of an hour stay exact to the
            // nanosecond; the same operations in the same order give the same result. The
            // product is at most one hour in nanoseconds, far inside u64.
            part += (fraction.digits as f64 * (unit as f64 / fraction.scale)) as u64;
            if part > MAGNITUDE_LIMIT {
                return Err(invalid);
            }
        }
        total = total.checked_add(part).filter(|&sum| sum <= MAGNITUDE_LIMIT).ok_or(invalid)?;
    }

    if negative {
        // total <= 2^63, whose negation is i64::MIN: two's complement gives it exactly.
        return Ok((total as i64).wrapping_neg());
    }
    i64::try_from(total).map_err(|_| invalid)
}

/// Nanoseconds in one `unit`, for the units Go knows.
fn unit_nanos(unit: &[u8]) -> Option<u64> {
    const MICRO_SIGN_S: &[u8] = "\u{00B5}s".as_bytes();
    const GREEK_MU_S: &[u8] = "\u{03BC}s".as_bytes();
    match unit {
        b"ns" => Some(1),
        b"us" | MICRO_SIGN_S | GREEK_MU_S => Some(1_000),
        b"ms" => Some(1_000_000),
        b"s" => Some(1_000_000_000),
        b"m" => Some(60 * 1_000_000_000),
        b"h" => Some(60 * 60 * 1_000_000_000),
        _ => None,
    }
}

/// Consumes leading decimal digits. `None` when their value exceeds 2^63, as Go's
/// `leadingInt` refuses it.
fn leading_int(text: &[u8]) -> Option<(u64, &[u8])> {
    let digits = text.iter().take_while(|c| c.is_ascii_digit()).count();
    let mut value: u64 = 0;
    for &c in &text[..digits] {
        if value > MAGNITUDE_LIMIT / 10 {
            return None;
        }
        value = value * 10 + u64::from(c - b'0');
        if value > MAGNITUDE_LIMIT {
            return None;
        }
    }
    Some((value, &text[digits..]))
}

/// The digits after a decimal point: their value and `10^n` for the `n` digits kept.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Fraction {
    digits: u64,
    scale: f64,
}

impl Fraction {
    const NONE: Fraction = Fraction { digits: 0, scale: 1.0 };
}

/// Consumes leading decimal digits of a fraction. Like Go's `leadingFraction`, it never fails:
/// once another digit would overflow, the rest only lose precision.
fn leading_fraction(text: &[u8]) -> (Fraction, &[u8]) {
    let digits = text.iter().take_while(|c| c.is_ascii_digit()).count();
    let mut fraction = Fraction::NONE;
    for &c in &text[..digits] {
        if fraction.digits > (MAGNITUDE_LIMIT - 1) / 10 {
            break;
        }
        let next = fraction.digits * 10 + u64::from(c - b'0');
        if next > MAGNITUDE_LIMIT {
            break;
        }
        fraction.digits = next;
        fraction.scale *= 10.0;
    }
    (fraction, &text[digits..])
}

#[cfg(test)]
#[path = "duration_tests.rs"]
mod tests;
