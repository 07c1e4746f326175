//! Readiness as kip sees it: the API answers, the configuration is valid, and the DaemonSet is
//! applied (by this replica when it leads, observed when it stands by).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

#[derive(Clone, Debug, Default)]
pub struct Health {
    inner: Arc<Flags>,
}

#[derive(Debug, Default)]
struct Flags {
    api_reachable: AtomicBool,
    config_valid: AtomicBool,
    daemonset_applied: AtomicBool,
}

impl Health {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn set_api_reachable(&self, ok: bool) {
        self.inner.api_reachable.store(ok, Ordering::Relaxed);
    }

    pub fn set_config_valid(&self, ok: bool) {
        self.inner.config_valid.store(ok, Ordering::Relaxed);
    }

    pub fn set_daemonset_applied(&self, ok: bool) {
        self.inner.daemonset_applied.store(ok, Ordering::Relaxed);
    }

    pub fn config_valid(&self) -> bool {
        self.inner.config_valid.load(Ordering::Relaxed)
    }

    /// Why kip is not ready, or `None` when it is.
    pub fn not_ready_reason(&self) -> Option<&'static str> {
        if !self.inner.api_reachable.load(Ordering::Relaxed) {
            Some("the Kubernetes API is not answering")
        } else if !self.inner.config_valid.load(Ordering::Relaxed) {
            Some("the configuration is invalid; the last valid one is kept")
        } else if !self.inner.daemonset_applied.load(Ordering::Relaxed) {
            Some("the DaemonSet is not applied yet")
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_only_when_everything_holds() {
        let health = Health::new();
        assert_eq!(health.not_ready_reason(), Some("the Kubernetes API is not answering"));
        health.set_api_reachable(true);
        health.set_config_valid(true);
        assert_eq!(health.not_ready_reason(), Some("the DaemonSet is not applied yet"));
        health.set_daemonset_applied(true);
        assert_eq!(health.not_ready_reason(), None);
        health.set_config_valid(false);
        assert!(health.not_ready_reason().is_some_and(|r| r.contains("configuration")));
    }
}
