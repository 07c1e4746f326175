//! Errors of the DaemonSet controller, split by what to do about them.

use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("Kubernetes API request failed: {0}")]
    Api(#[source] kube::Error),
    #[error("the API server rejected the DaemonSet: {0}")]
    Rejected(#[source] kube::Error),
    #[error("kip is not allowed to do this (check its Role): {0}")]
    Forbidden(#[source] kube::Error),
}

impl Error {
    /// Sorts an API error by cause.
    pub fn from_kube(err: kube::Error) -> Self {
        match &err {
            kube::Error::Api(status) if status.code == 422 || status.code == 400 => Error::Rejected(err),
            kube::Error::Api(status) if status.code == 403 || status.code == 401 => Error::Forbidden(err),
            _ => Error::Api(err),
        }
    }

    /// A bounded label for metrics and the event reason.
    pub fn category(&self) -> &'static str {
        match self {
            Error::Api(kube::Error::Api(status)) if status.code == 409 => "conflict",
            Error::Api(kube::Error::Api(status)) if status.code == 429 => "throttled",
            Error::Api(kube::Error::Api(_)) => "api",
            Error::Api(_) => "unreachable",
            Error::Rejected(_) => "rejected",
            Error::Forbidden(_) => "forbidden",
        }
    }

    /// Whether retrying soon can help. Rejections and missing permissions need a change by a
    /// person (configuration or RBAC), so they are retried slowly.
    pub fn is_transient(&self) -> bool {
        matches!(self, Error::Api(_))
    }

    /// True when the API server could not be reached or answered with a server error.
    pub fn api_unavailable(&self) -> bool {
        match self {
            Error::Api(kube::Error::Api(status)) => status.code >= 500 || status.code == 429,
            Error::Api(_) => true,
            _ => false,
        }
    }
}

/// Exponential backoff with a cap: 1 s, 2 s, 4 s ... up to `cap`, for the n-th consecutive
/// failure (n starts at 1). Slow errors start at the cap.
pub fn backoff(consecutive_failures: u32, transient: bool, cap: Duration) -> Duration {
    if !transient {
        return cap;
    }
    let exponent = consecutive_failures.saturating_sub(1).min(16);
    Duration::from_secs(1u64 << exponent).min(cap)
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::core::Status;

    fn api_error(code: u16) -> kube::Error {
        kube::Error::Api(Box::new(Status::failure("x", "Reason").with_code(code)))
    }

    #[test]
    fn categories_are_bounded_and_meaningful() {
        let cases = [
            (409, "conflict", true),
            (429, "throttled", true),
            (500, "api", true),
            (422, "rejected", false),
            (403, "forbidden", false),
        ];
        for (code, category, transient) in cases {
            let err = Error::from_kube(api_error(code));
            assert_eq!(err.category(), category, "{code}");
            assert_eq!(err.is_transient(), transient, "{code}");
        }
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let cap = Duration::from_secs(60);
        let seen: Vec<u64> = (1..=8).map(|n| backoff(n, true, cap).as_secs()).collect();
        assert_eq!(seen, vec![1, 2, 4, 8, 16, 32, 60, 60]);
        assert_eq!(backoff(1, false, cap), cap);
        assert_eq!(backoff(u32::MAX, true, cap), cap);
    }
}
