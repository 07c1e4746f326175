//! Prometheus metrics, all prefixed `kip_`. Labels are bounded: results, error categories,
//! node states, never object names or error text.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Instant;

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelValue)]
pub enum ReconcileResult {
    Ok,
    Error,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReconcileLabels {
    pub result: ReconcileResult,
    /// Error category (`none` on success): a small fixed set.
    pub category: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelValue)]
pub enum NodeState {
    Desired,
    Current,
    Ready,
    Updated,
    Available,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct NodeStateLabels {
    pub state: NodeState,
}

#[derive(Clone)]
pub struct Metrics {
    registry: Arc<Registry>,
    pub reconciles: Family<ReconcileLabels, Counter>,
    pub reconcile_duration: Histogram,
    pub daemonset_nodes: Family<NodeStateLabels, Gauge>,
    pub images_configured: Gauge,
    pub config_errors: Gauge,
    pub last_refresh: Gauge<f64, AtomicU64>,
    pub refreshes: Counter,
    pub leader: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("kip");
        let reconciles = Family::<ReconcileLabels, Counter>::default();
        registry.register(
            "reconciles",
            "Reconciliations of the DaemonSet, by result and error category",
            reconciles.clone(),
        );
        let reconcile_duration = Histogram::new(exponential_buckets(0.005, 2.0, 12));
        registry.register("reconcile_duration_seconds", "Time taken by one reconciliation", reconcile_duration.clone());
        let daemonset_nodes = Family::<NodeStateLabels, Gauge>::default();
        registry.register(
            "daemonset_nodes",
            "Nodes of the caching DaemonSet: desired, current, ready, updated and available",
            daemonset_nodes.clone(),
        );
        let images_configured = Gauge::default();
        registry.register("images_configured", "Images in the configuration in use", images_configured.clone());
        let config_errors = Gauge::default();
        registry.register(
            "config_errors",
            "Problems in the latest configuration read (0 when it is valid; a non-zero value means the last valid one is kept)",
            config_errors.clone(),
        );
        let last_refresh = Gauge::<f64, AtomicU64>::default();
        registry.register(
            "last_refresh_timestamp_seconds",
            "Unix time of the last refresh (rolling restart) of the caching pods",
            last_refresh.clone(),
        );
        let refreshes = Counter::default();
        registry.register("refreshes", "Refreshes (rolling restarts) started", refreshes.clone());
        let leader = Gauge::default();
        registry.register("leader", "1 while this replica holds the leader lease", leader.clone());
        Metrics {
            registry: Arc::new(registry),
            reconciles,
            reconcile_duration,
            daemonset_nodes,
            images_configured,
            config_errors,
            last_refresh,
            refreshes,
            leader,
        }
    }

    /// Starts timing a reconciliation; the duration is recorded when the guard drops.
    pub fn time_reconcile(&self) -> ReconcileTimer {
        ReconcileTimer { start: Instant::now(), histogram: self.reconcile_duration.clone() }
    }

    pub fn count_reconcile(&self, category: Option<&'static str>) {
        let labels = match category {
            None => ReconcileLabels { result: ReconcileResult::Ok, category: "none" },
            Some(category) => ReconcileLabels { result: ReconcileResult::Error, category },
        };
        self.reconciles.get_or_create(&labels).inc();
    }

    pub fn set_nodes(&self, state: NodeState, value: i64) {
        self.daemonset_nodes.get_or_create(&NodeStateLabels { state }).set(value);
    }

    /// The OpenMetrics text exposition.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

pub struct ReconcileTimer {
    start: Instant,
    histogram: Histogram,
}

impl Drop for ReconcileTimer {
    fn drop(&mut self) {
        self.histogram.observe(self.start.elapsed().as_secs_f64());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposition_carries_the_prefix_and_bounded_labels() {
        let metrics = Metrics::new();
        metrics.count_reconcile(None);
        metrics.count_reconcile(Some("api"));
        metrics.set_nodes(NodeState::Ready, 3);
        metrics.images_configured.set(5);
        drop(metrics.time_reconcile());
        let text = metrics.encode();
        assert!(text.contains("kip_reconciles_total{result=\"Ok\",category=\"none\"} 1"), "{text}");
        assert!(text.contains("kip_reconciles_total{result=\"Error\",category=\"api\"} 1"), "{text}");
        assert!(text.contains("kip_daemonset_nodes{state=\"Ready\"} 3"), "{text}");
        assert!(text.contains("kip_images_configured 5"), "{text}");
        assert!(text.contains("kip_reconcile_duration_seconds_count 1"), "{text}");
        assert!(text.ends_with("# EOF\n"));
    }
}
