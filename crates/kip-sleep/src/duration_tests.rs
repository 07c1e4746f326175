//! Table tests for the duration grammar. Accepted values and rejected inputs include those of
//! Go's own `ParseDuration` tests; the rest were cross-checked against Go's implementation.

use super::*;

const NS: i64 = 1;
const US: i64 = 1_000;
const MS: i64 = 1_000_000;
const S: i64 = 1_000_000_000;
const M: i64 = 60 * S;
const H: i64 = 60 * M;

fn message(error: &DurationError<'_>) -> String {
    let mut out = Vec::new();
    error.put_message(&mut out);
    String::from_utf8(out).unwrap()
}

#[test]
fn accepted_durations_have_gos_values() {
    let cases: &[(&str, i64)] = &[
        // zero, alone or signed
        ("0", 0),
        ("+0", 0),
        ("-0", 0),
        ("0s", 0),
        ("-0s", 0),
        ("0h0m", 0),
        // simple
        ("5s", 5 * S),
        ("30s", 30 * S),
        ("1478s", 1478 * S),
        ("720h", 720 * H),
        ("300ms", 300 * MS),
        // sign
        ("-5s", -5 * S),
        ("+5s", 5 * S),
        ("-1h", -H),
        // decimals: leading and trailing dots, trailing zeros
        ("5.0s", 5 * S),
        ("5.6s", 5 * S + 600 * MS),
        ("5.s", 5 * S),
        ("1.s", S),
        (".5s", 500 * MS),
        (".5h", 30 * M),
        ("1.5h", 90 * M),
        ("1.0s", S),
        ("1.00s", S),
        ("1.004s", S + 4 * MS),
        ("1.0040s", S + 4 * MS),
        ("100.00100s", 100 * S + MS),
        // every unit, both micro signs
        ("10ns", 10 * NS),
        ("11us", 11 * US),
        ("12\u{00B5}s", 12 * US),
        ("12\u{03BC}s", 12 * US),
        ("13ms", 13 * MS),
        ("14s", 14 * S),
        ("15m", 15 * M),
        ("16h", 16 * H),
        // composites, in any order, units repeated
        ("3h30m", 3 * H + 30 * M),
        ("1h30m5s", H + 30 * M + 5 * S),
        ("10.5s4m", 4 * M + 10 * S + 500 * MS),
        ("-2m3.4s", -(2 * M + 3 * S + 400 * MS)),
        ("1h2m3s4ms5us6ns", H + 2 * M + 3 * S + 4 * MS + 5 * US + 6 * NS),
        ("39h9m14.425s", 39 * H + 9 * M + 14 * S + 425 * MS),
        ("1h1h", 2 * H),
        // fractions truncate to whole nanoseconds
        ("1.5ns", 1),
        ("0.000000001s", 1),
        ("0.0000000009s", 0),
        ("0.3333333333333333333h", 20 * M),
        ("0.100000000000000000000h", 6 * M),
        // the first overflow check of the fraction digits
        ("0.830103483285477580700h", 49 * M + 48 * S + 372_539_827),
        // 18 nines are kept, then rounding in f64 makes the fraction a whole second
        ("1.99999999999999999999999999s", 2 * S),
        // large values, exact beyond f64 precision
        ("52763797000ns", 52_763_797_000),
        ("9007199254740993ns", (1 << 53) + 1),
        // the i64 limits
        ("9223372036854775807ns", i64::MAX),
        ("9223372036854775.807us", i64::MAX),
        ("9223372036s854ms775us807ns", i64::MAX),
        ("2562047h47m16.854775807s", i64::MAX),
        ("-9223372036854775808ns", i64::MIN),
        ("-9223372036854775.808us", i64::MIN),
        ("-9223372036s854ms775us808ns", i64::MIN),
        ("-2562047h47m16.854775808s", i64::MIN),
    ];
    for &(input, want) in cases {
        assert_eq!(parse_duration(input.as_bytes()), Ok(want), "{input:?}");
    }
}

#[test]
fn rejected_durations_give_gos_messages() {
    let cases: &[(&[u8], &str)] = &[
        // nothing, or a sign alone
        (b"", r#"time: invalid duration """#),
        (b"-", r#"time: invalid duration "-""#),
        (b"+", r#"time: invalid duration "+""#),
        // a bare number other than 0
        (b"3", r#"time: missing unit in duration "3""#),
        (b"00", r#"time: missing unit in duration "00""#),
        (b"0.0", r#"time: missing unit in duration "0.0""#),
        (b"-5", r#"time: missing unit in duration "-5""#),
        (b"1h30", r#"time: missing unit in duration "1h30""#),
        // a second dot ends the number and leaves no unit
        (b"1.5.5s", r#"time: missing unit in duration "1.5.5s""#),
        (b"1..5s", r#"time: missing unit in duration "1..5s""#),
        // parts without digits
        (b"s", r#"time: invalid duration "s""#),
        (b".", r#"time: invalid duration ".""#),
        (b"-.", r#"time: invalid duration "-.""#),
        (b".s", r#"time: invalid duration ".s""#),
        (b"+.s", r#"time: invalid duration "+.s""#),
        (b"..5s", r#"time: invalid duration "..5s""#),
        // signs only in front, no spaces
        (b"++1s", r#"time: invalid duration "++1s""#),
        (b"-+1s", r#"time: invalid duration "-+1s""#),
        (b"1h-1m", r#"time: unknown unit "h-" in duration "1h-1m""#),
        (b" 1s", r#"time: invalid duration " 1s""#),
        (b"--help", r#"time: invalid duration "--help""#),
        // units
        (b"1d", r#"time: unknown unit "d" in duration "1d""#),
        (b"10d", r#"time: unknown unit "d" in duration "10d""#),
        (b"1S", r#"time: unknown unit "S" in duration "1S""#),
        (b"1s ", r#"time: unknown unit "s " in duration "1s ""#),
        (b"1e3s", r#"time: unknown unit "e" in duration "1e3s""#),
        (b"1sec", r#"time: unknown unit "sec" in duration "1sec""#),
        ("1\u{00B5}".as_bytes(), r#"time: unknown unit "\xc2\xb5" in duration "1\xc2\xb5""#),
        // bytes that are not printable ASCII are escaped, as Go does
        (b"\x85\x85", r#"time: invalid duration "\x85\x85""#),
        (b"\xffff", r#"time: invalid duration "\xffff""#),
        (b"1\xff", r#"time: unknown unit "\xff" in duration "1\xff""#),
        // beyond the i64 nanosecond range
        (b"9223372036854775808ns", r#"time: invalid duration "9223372036854775808ns""#),
        (b"9223372036854775810ns", r#"time: invalid duration "9223372036854775810ns""#),
        (b"-9223372036854775809ns", r#"time: invalid duration "-9223372036854775809ns""#),
        (b"99999999999999999999ns", r#"time: invalid duration "99999999999999999999ns""#),
        (b"9223372036854776us", r#"time: invalid duration "9223372036854776us""#),
        (b"3000000h", r#"time: invalid duration "3000000h""#),
        (b"9223372036854775.808us", r#"time: invalid duration "9223372036854775.808us""#),
        (b"9223372036854ms775us808ns", r#"time: invalid duration "9223372036854ms775us808ns""#),
        (b"2562047h47m16.854775808s", r#"time: invalid duration "2562047h47m16.854775808s""#),
        // Go wraps this sum to 0; it is an overflow, and reported as one here
        (
            b"9223372036854775808ns9223372036854775808ns",
            r#"time: invalid duration "9223372036854775808ns9223372036854775808ns""#,
        ),
    ];
    for &(input, want) in cases {
        match parse_duration(input) {
            Ok(value) => panic!("{input:?} was accepted as {value} ns"),
            Err(error) => {
                assert_eq!(error.input, input, "{input:?}");
                assert_eq!(message(&error), want, "{input:?}");
            }
        }
    }
}

#[test]
fn unknown_unit_names_the_unit_only() {
    let error = parse_duration(b"1h2x3s").unwrap_err();
    assert_eq!(error.kind, DurationErrorKind::UnknownUnit(b"x"));
}
