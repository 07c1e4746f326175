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

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CategoryLabels {
    /// A registry error category: a small fixed set.
    pub category: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ImageLabels {
    /// The image's container name, from the configuration.
    pub image: String,
}

/// The label set of a metric without labels that is absent until first set (a plain gauge is
/// always exported, as 0, which would claim a fact kip does not know).
pub type Unlabelled = [(&'static str, &'static str); 0];

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
    pub registry_requests: Counter,
    pub registry_errors: Family<CategoryLabels, Counter>,
    pub image_nodes_cached: Family<ImageLabels, Gauge>,
    pub nodes_selected: Family<Unlabelled, Gauge>,
    pub nodes_fully_cached: Family<Unlabelled, Gauge>,
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
        let registry_requests = Counter::default();
        registry.register(
            "registry_requests",
            "Requests sent to image registries to resolve digests (manifests and tokens)",
            registry_requests.clone(),
        );
        let registry_errors = Family::<CategoryLabels, Counter>::default();
        registry.register(
            "registry_errors",
            "Images whose digest could not be resolved, per attempt, by error category",
            registry_errors.clone(),
        );
        let image_nodes_cached = Family::<ImageLabels, Gauge>::default();
        registry.register(
            "image_nodes_cached",
            "Selected nodes holding the image (its resolved digest, when known), by container name",
            image_nodes_cached.clone(),
        );
        let nodes_selected = Family::<Unlabelled, Gauge>::default();
        registry.register("nodes_selected", "Nodes the caching DaemonSet selects", nodes_selected.clone());
        let nodes_fully_cached = Family::<Unlabelled, Gauge>::default();
        registry.register("nodes_fully_cached", "Selected nodes holding every image", nodes_fully_cached.clone());
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
            registry_requests,
            registry_errors,
            image_nodes_cached,
            nodes_selected,
            nodes_fully_cached,
        }
    }

    /// The cache status: selected nodes, fully cached nodes, and nodes per image (images no
    /// longer listed lose their series).
    pub fn set_cache_status(&self, selected: usize, fully_cached: usize, per_image: &[(String, usize)]) {
        self.nodes_selected.get_or_create(&[]).set(i64::try_from(selected).unwrap_or(i64::MAX));
        self.nodes_fully_cached.get_or_create(&[]).set(i64::try_from(fully_cached).unwrap_or(i64::MAX));
        self.image_nodes_cached.clear();
        for (image, nodes) in per_image {
            let labels = ImageLabels { image: image.clone() };
            self.image_nodes_cached.get_or_create(&labels).set(i64::try_from(*nodes).unwrap_or(i64::MAX));
        }
    }

    /// No cache status is known (nodes cannot be read, or this replica does not lead).
    pub fn clear_cache_status(&self) {
        self.nodes_selected.clear();
        self.nodes_fully_cached.clear();
        self.image_nodes_cached.clear();
    }

    pub fn count_registry_error(&self, category: &'static str) {
        self.registry_errors.get_or_create(&CategoryLabels { category }).inc();
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

    #[test]
    fn cache_status_is_absent_until_known() {
        let metrics = Metrics::new();
        let absent = metrics.encode();
        assert!(!absent.lines().any(|l| l.starts_with("kip_nodes_selected ")), "{absent}");
        metrics.set_cache_status(3, 1, &[("theia".into(), 2), ("java".into(), 1)]);
        metrics.count_registry_error("unauthorized");
        metrics.registry_requests.inc_by(4);
        let text = metrics.encode();
        for line in [
            "kip_nodes_selected 3",
            "kip_nodes_fully_cached 1",
            "kip_image_nodes_cached{image=\"theia\"} 2",
            "kip_image_nodes_cached{image=\"java\"} 1",
            "kip_registry_errors_total{category=\"unauthorized\"} 1",
            "kip_registry_requests_total 4",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} missing in:\n{text}");
        }
        metrics.set_cache_status(3, 3, &[("theia".into(), 3)]);
        assert!(!metrics.encode().contains("image=\"java\""), "a removed image loses its series");
        metrics.clear_cache_status();
        assert!(!metrics.encode().lines().any(|l| l.starts_with("kip_nodes_selected ")));
    }
}
