//! Where messages go. Rendering writes into a [`Sink`], so the same code feeds a file
//! descriptor in the binary and a `Vec<u8>` in tests, with no allocation and no `core::fmt`
//! (which alone would cost more than the rest of the binary).

/// A destination for message bytes.
pub trait Sink {
    /// Appends `bytes`. Failures are the sink's business: a message that cannot be written has
    /// nowhere else to go.
    fn put(&mut self, bytes: &[u8]);
}

#[cfg(test)]
impl Sink for Vec<u8> {
    fn put(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
}

/// Writes `value` in decimal.
pub fn put_decimal(sink: &mut impl Sink, mut value: u64) {
    // u64::MAX has 20 digits.
    let mut digits = [0u8; 20];
    let mut start = digits.len();
    loop {
        start -= 1;
        digits[start] = b'0' + (value % 10) as u8;
        value /= 10;
        if value == 0 {
            break;
        }
    }
    sink.put(&digits[start..]);
}

/// Writes `text` between double quotes the way Go's `time` package quotes a duration in its
/// errors: `"` and `\` get a backslash, and every byte below a space or above 0x7F is shown
/// as `\xHH` (lower-case hex).
///
/// Go walks the string by rune and escapes each byte of a rune that is non-ASCII, invalid
/// UTF-8 or a control character. Every byte of a multi-byte or invalid sequence is above 0x7F
/// and every control rune is a single byte below a space, so the byte-wise rule here gives the
/// same text for any input.
pub fn put_go_quoted(sink: &mut impl Sink, text: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    sink.put(b"\"");
    for &byte in text {
        if !(b' '..0x80).contains(&byte) {
            sink.put(&[b'\\', b'x', HEX[usize::from(byte >> 4)], HEX[usize::from(byte & 0xF)]]);
        } else if byte == b'"' || byte == b'\\' {
            sink.put(&[b'\\', byte]);
        } else {
            sink.put(&[byte]);
        }
    }
    sink.put(b"\"");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decimal(value: u64) -> String {
        let mut out = Vec::new();
        put_decimal(&mut out, value);
        String::from_utf8(out).unwrap()
    }

    fn quoted(text: &[u8]) -> String {
        let mut out = Vec::new();
        put_go_quoted(&mut out, text);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn decimal_renders_every_magnitude() {
        for (value, want) in [(0, "0"), (7, "7"), (10, "10"), (255, "255"), (u64::MAX, "18446744073709551615")] {
            assert_eq!(decimal(value), want, "{value}");
        }
    }

    /// The expectations are those of Go's own `ParseDuration` error tests, plus the ASCII
    /// edge cases of the quoting rule.
    #[test]
    fn quoting_matches_go() {
        let cases: &[(&[u8], &str)] = &[
            (b"", r#""""#),
            (b"10d", r#""10d""#),
            (b"\x85\x85", r#""\x85\x85""#),
            (b"\xffff", r#""\xffff""#),
            (b"hello \xffff world", r#""hello \xffff world""#),
            ("\u{FFFD}".as_bytes(), r#""\xef\xbf\xbd""#),
            ("\u{FFFD} hello \u{FFFD} world".as_bytes(), r#""\xef\xbf\xbd hello \xef\xbf\xbd world""#),
            ("12µs".as_bytes(), r#""12\xc2\xb5s""#),
            (b"a\"b\\c", r#""a\"b\\c""#),
            (b"\t\n\x1f", r#""\x09\x0a\x1f""#),
            // DEL is below 0x80 and not below a space: Go prints it as it is.
            (b" ~\x7f", "\" ~\x7f\""),
        ];
        for (input, want) in cases {
            assert_eq!(quoted(input), *want, "{input:?}");
        }
    }
}
