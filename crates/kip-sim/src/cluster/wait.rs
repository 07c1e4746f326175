//! Waiting for the cluster to reach a state: a predicate over the store, checked again after
//! every change (and now and then, for states that come with time alone).

use std::time::Duration;

use serde_json::Value;

use super::{Cluster, ClusterError};
use crate::controllers::DAEMONSETS;
use crate::store::{ObjectKey, Store};

/// How often a predicate is checked even when nothing changed.
const RECHECK: Duration = Duration::from_millis(50);

impl Cluster {
    /// Waits until `done` holds for the store, for at most `timeout` (real time).
    pub async fn wait_for(
        &self,
        what: &str,
        timeout: Duration,
        mut done: impl FnMut(&Store) -> bool,
    ) -> Result<(), ClusterError> {
        let mut events = self.store().subscribe();
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if done(self.store()) {
                return Ok(());
            }
            tokio::select! {
                _ = tokio::time::sleep_until(deadline) => {
                    return Err(ClusterError::Timeout(timeout, what.to_string()));
                }
                _ = events.recv() => {
                    // Lagged or not, the predicate reads the store itself.
                    while events.try_recv().is_ok() {}
                }
                _ = tokio::time::sleep(RECHECK) => {}
            }
        }
    }

    /// Waits until the DaemonSet's controller has seen its latest generation and every node
    /// that should run it has an updated, available pod (what `kubectl rollout status` waits
    /// for).
    pub async fn wait_for_daemonset_rolled_out(
        &self,
        namespace: &str,
        name: &str,
        timeout: Duration,
    ) -> Result<(), ClusterError> {
        let key = ObjectKey::new(namespace, name);
        self.wait_for(&format!("daemon set {namespace}/{name} to roll out"), timeout, |store| {
            store.get(&DAEMONSETS, &key).is_some_and(|ds| daemonset_rolled_out(&ds))
        })
        .await
    }
}

/// `kubectl rollout status` for a DaemonSet: generation observed, every desired pod updated
/// and available.
pub fn daemonset_rolled_out(ds: &Value) -> bool {
    let field = |path: &str| ds.pointer(path).and_then(Value::as_i64).unwrap_or(0);
    let desired = field("/status/desiredNumberScheduled");
    field("/metadata/generation") <= field("/status/observedGeneration")
        && field("/status/updatedNumberScheduled") >= desired
        && field("/status/numberAvailable") >= desired
}
