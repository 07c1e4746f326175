//! Resource quantities (`100m`, `0.5`, `10Mi`, `1e3`) as numbers, for the scheduler's
//! resource fit and the kubelet's container limits, parsed by the shared Kubernetes rules
//! ([`kip_rules::Quantity`]).

use kip_rules::Quantity;

/// The value of a quantity in base units (cores, bytes, count); `None` when malformed.
pub fn parse_quantity(text: &str) -> Option<f64> {
    Quantity::parse(text).ok().map(|q| q.nanos() as f64 / 1e9)
}

/// CPU in millicores, rounded up as Kubernetes does (`0.0001` is `1m`).
pub fn cpu_millis(text: &str) -> Option<i64> {
    Quantity::parse(text).ok().and_then(|q| i64::try_from(q.millis().max(0)).ok())
}

/// A byte or count quantity, rounded up.
pub fn whole(text: &str) -> Option<i64> {
    Quantity::parse(text).ok().and_then(|q| i64::try_from(q.units().max(0)).ok())
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
