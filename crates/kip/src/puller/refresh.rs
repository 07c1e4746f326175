//! When to refresh the cached images. A refresh is a rolling restart of the caching pods
//! (their `imagePullPolicy: Always` makes the kubelet pull mutable tags again), triggered by a
//! new value of the pod-template annotation [`REFRESH_ANNOTATION`]. The value is the time of
//! the last refresh, so the schedule survives restarts of kip: a DaemonSet that already
//! carries a recent value is left alone.

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};

pub use crate::render::REFRESH_ANNOTATION;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefreshPlan {
    /// The annotation value to apply.
    pub token: String,
    /// True when this plan starts a refresh (the token changed on an existing DaemonSet).
    pub refreshing: bool,
    /// When the next refresh is due.
    pub next_due: Timestamp,
}

/// Plans the refresh given the token on the live DaemonSet (`None` when there is no
/// DaemonSet, or it carries no token).
pub fn plan(live_token: Option<&str>, daemonset_exists: bool, now: Timestamp, interval: Duration) -> RefreshPlan {
    let interval = SignedDuration::try_from(interval).unwrap_or(SignedDuration::MAX);
    let fresh = |refreshing| RefreshPlan {
        token: format_token(now),
        refreshing,
        next_due: now.saturating_add(interval).unwrap_or(now),
    };
    match live_token.and_then(|t| t.parse::<Timestamp>().ok()) {
        // A token from the future (clock skew, a hand edit) is not trusted to delay refreshes.
        Some(last) if last <= now => {
            let due = last.saturating_add(interval).unwrap_or(last);
            if now >= due {
                fresh(true)
            } else {
                RefreshPlan { token: live_token.unwrap_or_default().to_string(), refreshing: false, next_due: due }
            }
        }
        // No usable token: a new DaemonSet starts fresh; an existing one without our token
        // (created by the Go puller, or edited) gets one, which restarts its pods once.
        _ => fresh(daemonset_exists),
    }
}

fn format_token(at: Timestamp) -> String {
    at.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Time from `now` until `at`, zero if it has passed.
pub fn until(now: Timestamp, at: Timestamp) -> Duration {
    Duration::try_from(at.duration_since(now)).unwrap_or(Duration::ZERO)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().expect("timestamp")
    }

    const HOUR: Duration = Duration::from_secs(3600);

    #[test]
    fn new_daemonset_gets_a_token_without_refreshing() {
        let now = ts("2026-01-01T10:00:00Z");
        let p = plan(None, false, now, HOUR);
        assert_eq!(p.token, "2026-01-01T10:00:00Z");
        assert!(!p.refreshing);
        assert_eq!(p.next_due, ts("2026-01-01T11:00:00Z"));
    }

    #[test]
    fn recent_token_is_kept() {
        let p = plan(Some("2026-01-01T10:00:00Z"), true, ts("2026-01-01T10:30:00Z"), HOUR);
        assert_eq!(p.token, "2026-01-01T10:00:00Z");
        assert!(!p.refreshing);
        assert_eq!(p.next_due, ts("2026-01-01T11:00:00Z"));
    }

    #[test]
    fn due_token_refreshes() {
        let p = plan(Some("2026-01-01T10:00:00Z"), true, ts("2026-01-01T11:00:00Z"), HOUR);
        assert_eq!(p.token, "2026-01-01T11:00:00Z");
        assert!(p.refreshing);
        assert_eq!(p.next_due, ts("2026-01-01T12:00:00Z"));
    }

    #[test]
    fn foreign_or_future_tokens_are_replaced() {
        let now = ts("2026-01-01T10:00:00Z");
        for token in [None, Some("garbage"), Some("2027-01-01T00:00:00Z")] {
            let p = plan(token, true, now, HOUR);
            assert_eq!(p.token, "2026-01-01T10:00:00Z", "{token:?}");
            assert!(p.refreshing, "{token:?}");
        }
    }

    #[test]
    fn until_is_never_negative() {
        let now = ts("2026-01-01T10:00:00Z");
        assert_eq!(until(now, ts("2026-01-01T09:00:00Z")), Duration::ZERO);
        assert_eq!(until(now, ts("2026-01-01T10:00:05Z")), Duration::from_secs(5));
    }
}
