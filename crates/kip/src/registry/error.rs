//! Why a digest could not be resolved, in a few bounded categories that events and metric
//! labels can use, with messages that name the image and registry and never hold credentials
//! or tokens.

use std::time::Duration;

use super::reference::ReferenceError;

/// A failed resolution.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RegistryError {
    #[error(transparent)]
    InvalidReference(#[from] ReferenceError),
    #[error("cannot reach registry {registry} for {image}: {reason}")]
    Unreachable { registry: String, image: String, reason: String },
    #[error("registry {registry} refused access to {image}{}: {reason}", with_credentials(.credentials_source))]
    Unauthorized { registry: String, image: String, credentials_source: Option<String>, reason: String },
    #[error("{image} was not found in registry {registry}: no such repository, or no such tag in it")]
    NotFound { registry: String, image: String },
    #[error("registry {registry} is rate limiting kip (asked for {image}); retrying after {}s", retry_after.as_secs())]
    RateLimited { registry: String, image: String, retry_after: Duration },
    #[error("registry {registry} failed with HTTP {status} for {image}: {reason}")]
    ServerError { registry: String, image: String, status: u16, reason: String },
    #[error("registry {registry} sent an invalid response for {image}: {reason}")]
    InvalidResponse { registry: String, image: String, reason: String },
}

fn with_credentials(source: &Option<String>) -> String {
    match source {
        Some(source) => format!(" with the credentials of {source}"),
        None => " without credentials".to_owned(),
    }
}

/// The bounded set of error kinds, for metric labels and event reasons.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ErrorCategory {
    InvalidReference,
    Unreachable,
    Unauthorized,
    NotFound,
    RateLimited,
    ServerError,
    InvalidResponse,
}

impl ErrorCategory {
    pub const ALL: [ErrorCategory; 7] = [
        ErrorCategory::InvalidReference,
        ErrorCategory::Unreachable,
        ErrorCategory::Unauthorized,
        ErrorCategory::NotFound,
        ErrorCategory::RateLimited,
        ErrorCategory::ServerError,
        ErrorCategory::InvalidResponse,
    ];

    /// A `snake_case` label value.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCategory::InvalidReference => "invalid_reference",
            ErrorCategory::Unreachable => "unreachable",
            ErrorCategory::Unauthorized => "unauthorized",
            ErrorCategory::NotFound => "not_found",
            ErrorCategory::RateLimited => "rate_limited",
            ErrorCategory::ServerError => "server_error",
            ErrorCategory::InvalidResponse => "invalid_response",
        }
    }

    /// Whether retrying soon may succeed without anyone changing anything.
    pub fn is_transient(self) -> bool {
        matches!(self, ErrorCategory::Unreachable | ErrorCategory::RateLimited | ErrorCategory::ServerError)
    }
}

impl RegistryError {
    pub fn category(&self) -> ErrorCategory {
        match self {
            RegistryError::InvalidReference(_) => ErrorCategory::InvalidReference,
            RegistryError::Unreachable { .. } => ErrorCategory::Unreachable,
            RegistryError::Unauthorized { .. } => ErrorCategory::Unauthorized,
            RegistryError::NotFound { .. } => ErrorCategory::NotFound,
            RegistryError::RateLimited { .. } => ErrorCategory::RateLimited,
            RegistryError::ServerError { .. } => ErrorCategory::ServerError,
            RegistryError::InvalidResponse { .. } => ErrorCategory::InvalidResponse,
        }
    }

    /// How long the registry asked kip to wait, for a rate-limit error.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            RegistryError::RateLimited { retry_after, .. } => Some(*retry_after),
            _ => None,
        }
    }
}

/// The HTTP client could not be built (TLS set-up).
#[derive(Debug, thiserror::Error)]
#[error("cannot set up the registry client: {reason}")]
pub struct ClientSetupError {
    pub reason: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn category_labels_are_distinct_and_snake_case() {
        let labels: std::collections::BTreeSet<&str> = ErrorCategory::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(labels.len(), ErrorCategory::ALL.len());
        assert!(labels.iter().all(|l| l.chars().all(|c| c.is_ascii_lowercase() || c == '_')));
    }

    #[test]
    fn messages_say_what_and_where() {
        let unauthorized = RegistryError::Unauthorized {
            registry: "quay.io".into(),
            image: "quay.io/a:1".into(),
            credentials_source: Some("pull secret \"regcred\"".into()),
            reason: "HTTP 401".into(),
        };
        assert_eq!(
            unauthorized.to_string(),
            "registry quay.io refused access to quay.io/a:1 with the credentials of pull secret \"regcred\": HTTP 401"
        );
        assert_eq!(unauthorized.category(), ErrorCategory::Unauthorized);
        let limited = RegistryError::RateLimited {
            registry: "docker.io".into(),
            image: "docker.io/library/nginx:latest".into(),
            retry_after: Duration::from_secs(30),
        };
        assert_eq!(limited.retry_after(), Some(Duration::from_secs(30)));
        assert!(limited.to_string().contains("retrying after 30s"));
        assert!(limited.category().is_transient());
        assert!(!unauthorized.category().is_transient());
    }
}
