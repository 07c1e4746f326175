//! The simulated cluster that runs on a [`Store`]: nodes with kubelets, the DaemonSet,
//! Deployment and ReplicaSet controllers, and an image registry, all in simulated time.
//!
//! [`spawn`] starts it; the returned [`Cluster`] is the handle tests and benchmarks use to
//! change the cluster (add, remove, cordon, taint or break nodes; publish or break images) and
//! to read what it did (counters, node images), with helpers to wait for a state.

pub mod catalog;
pub mod clock;
pub mod counters;
pub mod node;
mod wait;

pub use self::wait::daemonset_rolled_out;

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use k8s_openapi::api::core::v1::Taint;
use parking_lot::Mutex;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use self::catalog::ImageCatalog;
use self::clock::SimClock;
use self::counters::{CounterSnapshot, Counters};
use self::node::{NodeSpec, node_object, reconciled_taints, set_ready_condition};
use crate::controllers::{self, ControllerConfig, NODES};
use crate::error::ApiError;
use crate::kubelet::runtime::ImageInfo;
use crate::kubelet::{KubeletConfig, Kubelets};
use crate::store::{DeleteOptions, ObjectKey, Part, Store};

/// What the cluster is made of and how fast it runs.
#[derive(Clone, Debug)]
pub struct ClusterConfig {
    pub nodes: Vec<NodeSpec>,
    /// Simulated seconds per real second.
    pub time_scale: f64,
    /// Size of images nobody published.
    pub default_image_size: u64,
    /// Latency of a registry manifest request (simulated).
    pub registry_latency: Duration,
    pub kubelet: KubeletConfig,
    pub controllers: ControllerConfig,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        Self::with_nodes(3)
    }
}

impl ClusterConfig {
    /// `node-1` to `node-<count>`, otherwise the defaults.
    pub fn with_nodes(count: usize) -> Self {
        ClusterConfig {
            nodes: (1..=count).map(|i| NodeSpec::new(format!("node-{i}"))).collect(),
            time_scale: 1.0,
            default_image_size: 50 * 1024 * 1024,
            registry_latency: Duration::from_millis(200),
            kubelet: KubeletConfig::default(),
            controllers: ControllerConfig::default(),
        }
    }

    pub fn time_scale(mut self, scale: f64) -> Self {
        self.time_scale = scale;
        self
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error("node {0:?} does not exist in the simulated cluster")]
    NoSuchNode(String),
    #[error("node {0:?} already exists in the simulated cluster; remove it first or pick another name")]
    NodeExists(String),
    #[error("pod {0} does not run on any simulated node")]
    NoSuchPod(String),
    #[error("the store refused the change: {0}")]
    Api(#[from] ApiError),
    #[error("gave up after {0:?} waiting for {1}")]
    Timeout(Duration, String),
}

struct Inner {
    store: Arc<Store>,
    clock: SimClock,
    catalog: Arc<ImageCatalog>,
    counters: Arc<Counters>,
    kubelets: Arc<Kubelets>,
    next_index: AtomicU32,
    nodes: Mutex<HashSet<String>>,
    shutdown: CancellationToken,
}

/// A handle on the running cluster; clones share it.
#[derive(Clone)]
pub struct Cluster {
    inner: Arc<Inner>,
}

/// Registers the nodes, starts their kubelets and the controllers. Must be called within a
/// tokio runtime; everything stops when `shutdown` is cancelled. A node whose Node object
/// already exists keeps it.
pub fn spawn(store: Arc<Store>, config: ClusterConfig, shutdown: CancellationToken) -> Cluster {
    let clock = SimClock::new(config.time_scale);
    let catalog = Arc::new(ImageCatalog::new(config.default_image_size, config.registry_latency));
    let counters = Arc::new(Counters::default());
    let kubelets = Kubelets::start(
        store.clone(),
        clock.clone(),
        catalog.clone(),
        counters.clone(),
        config.kubelet,
        shutdown.clone(),
    );
    let cluster = Cluster {
        inner: Arc::new(Inner {
            store: store.clone(),
            clock: clock.clone(),
            catalog,
            counters,
            kubelets,
            next_index: AtomicU32::new(1),
            nodes: Mutex::new(HashSet::new()),
            shutdown: shutdown.clone(),
        }),
    };
    for spec in config.nodes {
        if let Err(err) = cluster.register_node(spec.clone()) {
            tracing::warn!(node = %spec.name, %err, "node not registered");
        }
    }
    cluster.inner.kubelets.start_bound_pods();
    controllers::spawn(store, clock, config.controllers, shutdown);
    cluster
}

impl Cluster {
    pub fn store(&self) -> &Arc<Store> {
        &self.inner.store
    }

    pub fn clock(&self) -> &SimClock {
        &self.inner.clock
    }

    /// The simulated registry.
    pub fn catalog(&self) -> &ImageCatalog {
        &self.inner.catalog
    }

    /// A shared handle on the simulated registry (the API server serves it over HTTP).
    pub fn catalog_handle(&self) -> Arc<ImageCatalog> {
        self.inner.catalog.clone()
    }

    /// Stops the kubelets and controllers.
    pub fn shutdown(&self) {
        self.inner.shutdown.cancel();
    }

    /// Registers a node and starts its kubelet. An existing Node object of that name is kept,
    /// and so are pods already bound to it.
    pub fn add_node(&self, spec: NodeSpec) -> Result<(), ClusterError> {
        self.register_node(spec)?;
        self.inner.kubelets.start_bound_pods();
        Ok(())
    }

    fn register_node(&self, spec: NodeSpec) -> Result<(), ClusterError> {
        if !self.inner.nodes.lock().insert(spec.name.clone()) {
            return Err(ClusterError::NodeExists(spec.name));
        }
        let index = self.inner.next_index.fetch_add(1, Ordering::Relaxed);
        let node = node_object(&spec, index, &self.inner.clock.timestamp());
        match self.inner.store.create(&NODES, node) {
            Ok(_) => {}
            Err(err) if err.code == 409 => {}
            Err(err) => {
                self.inner.nodes.lock().remove(&spec.name);
                return Err(err.into());
            }
        }
        self.inner.kubelets.add_node(&spec, index);
        Ok(())
    }

    /// Stops a node's kubelet and deletes the Node; its pods are then deleted (pod GC).
    pub fn remove_node(&self, name: &str) -> Result<(), ClusterError> {
        if !self.inner.nodes.lock().remove(name) {
            return Err(ClusterError::NoSuchNode(name.to_string()));
        }
        self.inner.kubelets.remove_node(name);
        match self.inner.store.delete(&NODES, &ObjectKey::cluster(name), &DeleteOptions::default()) {
            Ok(_) => Ok(()),
            Err(err) if err.code == 404 => Ok(()),
            Err(err) => Err(err.into()),
        }
    }

    fn modify_node(&self, name: &str, part: Part, change: impl FnOnce(&mut Value)) -> Result<(), ClusterError> {
        if !self.inner.nodes.lock().contains(name) {
            return Err(ClusterError::NoSuchNode(name.to_string()));
        }
        self.inner.store.modify(&NODES, &ObjectKey::cluster(name), part, |node| {
            change(node);
            Ok(())
        })?;
        Ok(())
    }

    /// Brings the node's state taints in line with its conditions and cordon, as the node
    /// lifecycle controller does (done here at once so that callers see the result).
    fn reconcile_taints(&self, name: &str) -> Result<(), ClusterError> {
        let now = self.inner.clock.timestamp();
        self.modify_node(name, Part::Main, |node| {
            if let Some(taints) = reconciled_taints(node, &now) {
                node["spec"]["taints"] = Value::Array(taints);
            }
        })
    }

    /// Makes the node's kubelet report Ready (or not). A NotReady node gets the `not-ready`
    /// taints, its kubelet stops making progress, and its pods are reported not ready.
    pub fn set_node_ready(&self, name: &str, ready: bool) -> Result<(), ClusterError> {
        let now = self.inner.clock.timestamp();
        self.modify_node(name, Part::Status, |node| {
            set_ready_condition(node, ready, &now);
        })?;
        self.reconcile_taints(name)?;
        self.inner.kubelets.set_node_ready(name, ready);
        Ok(())
    }

    /// Cordons (or uncordons) a node: `spec.unschedulable` and its taint.
    pub fn set_node_unschedulable(&self, name: &str, unschedulable: bool) -> Result<(), ClusterError> {
        self.modify_node(name, Part::Main, |node| {
            if unschedulable {
                node["spec"]["unschedulable"] = json!(true);
            } else if let Some(spec) = node.get_mut("spec").and_then(Value::as_object_mut) {
                spec.remove("unschedulable");
            }
        })?;
        self.reconcile_taints(name)
    }

    /// Adds a taint, or replaces the one with the same key and effect.
    pub fn taint_node(&self, name: &str, taint: Taint) -> Result<(), ClusterError> {
        let mut taint_value = serde_json::to_value(&taint).map_err(|e| ApiError::bad_request(e.to_string()))?;
        if taint.effect == "NoExecute" && taint.time_added.is_none() {
            taint_value["timeAdded"] = json!(self.inner.clock.timestamp());
        }
        self.modify_node(name, Part::Main, |node| {
            let mut taints: Vec<Value> =
                node.pointer("/spec/taints").and_then(Value::as_array).cloned().unwrap_or_default();
            taints.retain(|t| !(t["key"] == taint_value["key"] && t["effect"] == taint_value["effect"]));
            taints.push(taint_value);
            node["spec"]["taints"] = Value::Array(taints);
        })
    }

    /// Removes the taints with this key (and effect, when given).
    pub fn untaint_node(&self, name: &str, key: &str, effect: Option<&str>) -> Result<(), ClusterError> {
        self.modify_node(name, Part::Main, |node| {
            if let Some(taints) = node.pointer_mut("/spec/taints").and_then(Value::as_array_mut) {
                taints.retain(|t| !(t["key"] == key && effect.is_none_or(|e| t["effect"] == e)));
            }
        })
    }

    /// Sets a node label, or removes it with `None`.
    pub fn label_node(&self, name: &str, key: &str, value: Option<&str>) -> Result<(), ClusterError> {
        self.modify_node(name, Part::Main, |node| {
            if !node["metadata"].get("labels").is_some_and(Value::is_object) {
                node["metadata"]["labels"] = json!({});
            }
            match value {
                Some(v) => node["metadata"]["labels"][key] = json!(v),
                None => {
                    if let Some(labels) = node["metadata"]["labels"].as_object_mut() {
                        labels.remove(key);
                    }
                }
            }
        })
    }

    /// Pushes new content under a reference (a tag then points to `digest`).
    pub fn publish_image(&self, reference: &str, digest: &str, size_bytes: u64) {
        self.inner.catalog.publish_image(reference, digest, size_bytes);
    }

    /// Makes pulls of the reference fail with "not found" until it is published.
    pub fn set_image_missing(&self, reference: &str) {
        self.inner.catalog.set_image_missing(reference);
    }

    /// Makes pulls of the reference fail with "pull access denied" until it is published.
    pub fn set_image_unauthorized(&self, reference: &str) {
        self.inner.catalog.set_image_unauthorized(reference);
    }

    /// Totals over all nodes.
    pub fn counters(&self) -> CounterSnapshot {
        self.inner.counters.total()
    }

    pub fn node_counters(&self, name: &str) -> Option<CounterSnapshot> {
        self.inner.counters.by_node().get(name).copied()
    }

    pub fn counters_by_node(&self) -> std::collections::BTreeMap<String, CounterSnapshot> {
        self.inner.counters.by_node()
    }

    /// The images stored on a node now.
    pub async fn node_images(&self, name: &str) -> Result<Vec<ImageInfo>, ClusterError> {
        let agent = self.inner.kubelets.node(name).ok_or_else(|| ClusterError::NoSuchNode(name.to_string()))?;
        Ok(agent.runtime.list_images().await)
    }

    /// Makes a running pod fail, as an eviction does (`reason`, e.g. `Evicted`, and message
    /// end up in its status).
    pub fn fail_pod(&self, namespace: &str, name: &str, reason: &str, message: &str) -> Result<(), ClusterError> {
        let key = ObjectKey::new(namespace, name);
        if self.inner.kubelets.fail_pod(&key, reason, message) {
            Ok(())
        } else {
            Err(ClusterError::NoSuchPod(format!("{namespace}/{name}")))
        }
    }
}
