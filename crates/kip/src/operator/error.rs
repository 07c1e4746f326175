//! Errors of the operator's reconciler, sorted by what to do about them: transient ones are
//! retried soon with backoff; the others need a person (RBAC, an admission rejection).

use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A request about one object failed; `what` says which, e.g. "applying ConfigMap k8s-image-puller".
    #[error("{what} failed: {source}")]
    Api {
        what: String,
        #[source]
        source: kube::Error,
    },
    /// The resource has no namespace or uid: it did not come from the API server.
    #[error("KubernetesImagePuller {0} has no {1}; only objects read from the API server can be reconciled")]
    Incomplete(String, &'static str),
}

impl Error {
    pub fn api(what: impl Into<String>, source: kube::Error) -> Self {
        Error::Api { what: what.into(), source }
    }

    fn status_code(&self) -> Option<u16> {
        match self {
            Error::Api { source: kube::Error::Api(status), .. } => Some(status.code),
            _ => None,
        }
    }

    /// A bounded label for metrics and the condition message.
    pub fn category(&self) -> &'static str {
        match (self, self.status_code()) {
            (Error::Incomplete(..), _) => "incomplete",
            (_, Some(401 | 403)) => "forbidden",
            (_, Some(400 | 422)) => "rejected",
            (_, Some(409)) => "conflict",
            (_, Some(429)) => "throttled",
            (_, Some(_)) => "api",
            (_, None) => "unreachable",
        }
    }

    /// Whether retrying soon can help.
    pub fn is_transient(&self) -> bool {
        !matches!(self.category(), "forbidden" | "rejected" | "incomplete")
    }
}

/// Delay before the next attempt after `failures` consecutive failures (from 1): doubling from
/// one second up to a minute for transient errors, five minutes for the others (a person has
/// to act, and the change they make triggers a reconciliation anyway).
pub fn retry_delay(failures: u32, transient: bool) -> Duration {
    if !transient {
        return Duration::from_secs(300);
    }
    Duration::from_secs(1u64 << failures.saturating_sub(1).min(6)).min(Duration::from_secs(60))
}
