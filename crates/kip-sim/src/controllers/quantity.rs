//! Resource quantities (`100m`, `0.5`, `10Mi`, `1e3`) as numbers, for the scheduler's
//! resource fit. Only what fitting needs: a value in base units.

/// The value of a quantity in base units (cores, bytes, count); `None` when malformed.
pub fn parse_quantity(text: &str) -> Option<f64> {
    let text = text.trim();
    let split = text.find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '+' || c == '-')).unwrap_or(text.len());
    let (number, suffix) = text.split_at(split);
    let number: f64 = number.parse().ok()?;
    let factor = match suffix {
        "" => 1.0,
        "n" => 1e-9,
        "u" => 1e-6,
        "m" => 1e-3,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "P" => 1e15,
        "E" => 1e18,
        "Ki" => 1024f64,
        "Mi" => 1024f64.powi(2),
        "Gi" => 1024f64.powi(3),
        "Ti" => 1024f64.powi(4),
        "Pi" => 1024f64.powi(5),
        "Ei" => 1024f64.powi(6),
        exponent if exponent.starts_with(['e', 'E']) => 10f64.powi(exponent[1..].parse().ok()?),
        _ => return None,
    };
    Some(number * factor)
}

/// CPU in millicores, rounded up as Kubernetes does (`0.0001` is `1m`).
pub fn cpu_millis(text: &str) -> Option<i64> {
    parse_quantity(text).map(|cores| (cores * 1000.0 - 1e-9).ceil().max(0.0) as i64)
}

/// A byte or count quantity, rounded up.
pub fn whole(text: &str) -> Option<i64> {
    parse_quantity(text).map(|v| (v - 1e-9).ceil().max(0.0) as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_parse_in_every_notation() {
        let cpu = [
            ("100m", Some(100)),
            ("0.5", Some(500)),
            (".05", Some(50)),
            ("2", Some(2000)),
            ("1e-3", Some(1)),
            ("x", None),
        ];
        for (text, expected) in cpu {
            assert_eq!(cpu_millis(text), expected, "{text}");
        }
        let bytes = [
            ("10Mi", Some(10 * 1024 * 1024)),
            ("1Gi", Some(1 << 30)),
            ("1k", Some(1000)),
            ("128974848", Some(128_974_848)),
            ("129e6", Some(129_000_000)),
            ("1.5Ki", Some(1536)),
            ("5Qi", None),
        ];
        for (text, expected) in bytes {
            assert_eq!(whole(text), expected, "{text}");
        }
    }
}
