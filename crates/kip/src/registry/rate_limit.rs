//! Honouring a registry's 429: its `Retry-After` (seconds or an HTTP date) is read, and no
//! request goes to that registry until then — the other images of a refresh fail at once
//! with the time left, instead of adding to the load that got kip limited.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

/// The longest wait kip accepts from a `Retry-After`; a registry asking for more is retried
/// after this anyway.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);

/// Registries that answered 429, and until when to leave them alone.
#[derive(Debug, Default)]
pub(crate) struct RateLimits {
    blocked_until: Mutex<HashMap<String, Instant>>,
}

impl RateLimits {
    /// The time left before `registry` may be asked again, if it is blocked.
    pub(crate) fn remaining(&self, registry: &str) -> Option<Duration> {
        let mut blocked = self.blocked_until.lock();
        let until = *blocked.get(registry)?;
        let now = Instant::now();
        if now < until {
            return Some(until - now);
        }
        blocked.remove(registry);
        None
    }

    pub(crate) fn block(&self, registry: &str, wait: Duration) {
        self.blocked_until.lock().insert(registry.to_owned(), Instant::now() + wait);
    }
}

/// The wait a `Retry-After` value asks for, or `default` when it is absent or unreadable.
pub(crate) fn retry_after(value: Option<&str>, default: Duration) -> Duration {
    let Some(value) = value.map(str::trim) else { return default };
    let wait = if let Ok(seconds) = value.parse::<u64>() {
        Duration::from_secs(seconds)
    } else if let Ok(when) = jiff::fmt::rfc2822::parse(value) {
        // A date in the past means "now".
        Duration::try_from(when.timestamp().duration_since(jiff::Timestamp::now())).unwrap_or(Duration::ZERO)
    } else {
        default
    };
    wait.min(MAX_RETRY_AFTER)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_retry_after_values() {
        let default = Duration::from_secs(60);
        let in_two_minutes = jiff::Timestamp::now() + jiff::SignedDuration::from_secs(120);
        let http_date = jiff::fmt::rfc2822::to_string(&in_two_minutes.to_zoned(jiff::tz::TimeZone::UTC))
            .unwrap_or_else(|e| panic!("{e}"))
            .replace("+0000", "GMT");
        let cases: &[(Option<&str>, std::ops::RangeInclusive<u64>)] = &[
            (None, 60..=60),
            (Some("7"), 7..=7),
            (Some(" 0 "), 0..=0),
            (Some("soon"), 60..=60),
            (Some("-5"), 60..=60),
            (Some("999999"), 3600..=3600),
            (Some("Sun, 06 Nov 1994 08:49:37 GMT"), 0..=0),
            (Some(&http_date), 100..=120),
        ];
        for (value, expected) in cases {
            let wait = retry_after(*value, default).as_secs();
            assert!(expected.contains(&wait), "{value:?}: {wait}s not in {expected:?}");
        }
    }

    #[test]
    fn blocks_one_registry_until_the_wait_is_over() {
        let limits = RateLimits::default();
        limits.block("docker.io", Duration::from_secs(30));
        limits.block("quay.io", Duration::ZERO);
        let remaining = limits.remaining("docker.io").map(|d| d.as_secs());
        assert!(matches!(remaining, Some(29 | 30)), "{remaining:?}");
        assert_eq!(limits.remaining("quay.io"), None);
        assert_eq!(limits.remaining("ghcr.io"), None);
    }
}
