//! The operator's own health and metrics, served on its HTTP port by
//! [`crate::telemetry::server`]: `/healthz` (the process serves),
//! `/readyz` (the API answers and, when this replica leads, its cache of resources is filled)
//! and `/metrics` (OpenMetrics, prefixed `kip_operator_`, labels bounded).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::telemetry::metrics::{ReconcileLabels, ReconcileResult};
use crate::telemetry::server::{Exposition, Readiness};

#[derive(Clone)]
pub struct OperatorMetrics {
    registry: Arc<Registry>,
    reconciles: Family<ReconcileLabels, Counter>,
    reconcile_duration: Histogram,
    pub leader: Gauge,
}

impl Default for OperatorMetrics {
    fn default() -> Self {
        Self::new()
    }
}

impl OperatorMetrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("kip_operator");
        let reconciles = Family::<ReconcileLabels, Counter>::default();
        registry.register(
            "reconciles",
            "Reconciliations of KubernetesImagePullers, by result and error category",
            reconciles.clone(),
        );
        let reconcile_duration = Histogram::new(exponential_buckets(0.005, 2.0, 12));
        registry.register("reconcile_duration_seconds", "Time taken by one reconciliation", reconcile_duration.clone());
        let leader = Gauge::default();
        registry.register("leader", "1 while this replica holds the leader lease", leader.clone());
        OperatorMetrics { registry: Arc::new(registry), reconciles, reconcile_duration, leader }
    }

    pub fn count_reconcile(&self, category: Option<&'static str>) {
        let labels = match category {
            None => ReconcileLabels { result: ReconcileResult::Ok, category: "none" },
            Some(category) => ReconcileLabels { result: ReconcileResult::Error, category },
        };
        self.reconciles.get_or_create(&labels).inc();
    }

    /// Records the time since `start` as one reconciliation's duration.
    pub fn observe_duration(&self, start: Instant) {
        self.reconcile_duration.observe(start.elapsed().as_secs_f64());
    }

    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

/// Readiness flags, set by the leader election loop and the controller.
#[derive(Clone, Debug, Default)]
pub struct OperatorHealth {
    inner: Arc<Flags>,
}

#[derive(Debug, Default)]
struct Flags {
    api_reachable: AtomicBool,
    leading: AtomicBool,
    cache_ready: AtomicBool,
}

impl OperatorHealth {
    pub fn set_api_reachable(&self, ok: bool) {
        self.inner.api_reachable.store(ok, Ordering::Relaxed);
    }

    pub fn set_leading(&self, leading: bool) {
        self.inner.leading.store(leading, Ordering::Relaxed);
        if !leading {
            self.inner.cache_ready.store(false, Ordering::Relaxed);
        }
    }

    pub fn set_cache_ready(&self, ready: bool) {
        self.inner.cache_ready.store(ready, Ordering::Relaxed);
    }

    /// Why the operator is not ready, or `None`. A standby replica is ready when the API
    /// answers: it can take over at once.
    pub fn not_ready_reason(&self) -> Option<&'static str> {
        let flag = |f: &AtomicBool| f.load(Ordering::Relaxed);
        if !flag(&self.inner.api_reachable) {
            Some("the Kubernetes API is not answering")
        } else if flag(&self.inner.leading) && !flag(&self.inner.cache_ready) {
            Some("the list of KubernetesImagePullers is not loaded yet")
        } else {
            None
        }
    }
}

impl Readiness for OperatorHealth {
    fn not_ready_reason(&self) -> Option<&'static str> {
        OperatorHealth::not_ready_reason(self)
    }
}

impl Exposition for OperatorMetrics {
    fn encode(&self) -> String {
        OperatorMetrics::encode(self)
    }
}
