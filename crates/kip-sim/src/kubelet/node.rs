//! The kubelet-side state of one node and of each pod it runs.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU32, Ordering};

use parking_lot::{Mutex, RwLock};
use serde_json::Value;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::Kubelets;
use super::cri_runtime::CriRuntime;
use super::images::ImageUsage;
use super::pod_spec::PodSpecModel;
use super::pod_state::PodState;
use super::runtime::ContainerRuntime;
use super::sim_runtime::{SimRuntime, SimTimings};
use crate::cluster::counters::NodeCounters;
use crate::cluster::node::{NodeRuntime, NodeSpec, node_ip, pod_network_prefix};
use crate::store::ObjectKey;

/// One node's kubelet.
pub struct NodeAgent {
    pub name: String,
    pub ip: String,
    pod_network: String,
    next_pod_ip: AtomicU32,
    pub runtime: Arc<dyn ContainerRuntime>,
    /// Held while pulling, when pulls are serialized.
    pub pull_lock: tokio::sync::Mutex<()>,
    /// Whether the kubelet works; pod workers wait while it is false.
    pub ready: watch::Sender<bool>,
    pub pods: RwLock<HashMap<String, Arc<PodHandle>>>,
    pub counters: NodeCounters,
    pub image_disk_bytes: u64,
    pub image_usage: Mutex<ImageUsage>,
    /// The eviction manager sees too little free space on the image disk.
    pub disk_pressure: AtomicBool,
    /// Set while a status write for the node is pending.
    pub status_queued: AtomicBool,
    /// Cancelled when the node goes away.
    pub shutdown: CancellationToken,
}

impl NodeAgent {
    pub(super) fn new(kubelets: &Kubelets, spec: &NodeSpec, index: u32) -> Self {
        let counters = kubelets.counters.node(&spec.name);
        let config = &kubelets.config;
        let timings =
            SimTimings { start: config.container_start, stop: config.container_stop, short_run: config.short_run };
        let runtime: Arc<dyn ContainerRuntime> = match &spec.runtime {
            NodeRuntime::Simulated => Arc::new(SimRuntime::new(
                &spec.name,
                kubelets.catalog.clone(),
                kubelets.clock.clone(),
                counters.clone(),
                spec.bandwidth_bytes_per_sec,
                timings,
            )),
            NodeRuntime::Cri(config) => Arc::new(CriRuntime::new(&spec.name, config.clone())),
        };
        NodeAgent {
            name: spec.name.clone(),
            ip: node_ip(index),
            pod_network: pod_network_prefix(index),
            next_pod_ip: AtomicU32::new(0),
            runtime,
            pull_lock: tokio::sync::Mutex::new(()),
            ready: watch::Sender::new(spec.ready),
            pods: RwLock::new(HashMap::new()),
            counters,
            image_disk_bytes: spec.image_disk_bytes,
            image_usage: Mutex::new(ImageUsage::default()),
            disk_pressure: AtomicBool::new(false),
            status_queued: AtomicBool::new(false),
            shutdown: kubelets.shutdown.child_token(),
        }
    }

    /// The next pod IP of the node's /24 (addresses .2 to .254, reused in turn).
    pub fn allocate_pod_ip(&self) -> String {
        let n = self.next_pod_ip.fetch_add(1, Ordering::Relaxed);
        format!("{}.{}", self.pod_network, 2 + n % 253)
    }

    /// Waits until the kubelet works.
    pub async fn wait_ready(&self) {
        let mut ready = self.ready.subscribe();
        // The sender lives as long as the agent; an error cannot happen while it is borrowed.
        let _ = ready.wait_for(|r| *r).await;
    }
}

/// One pod a kubelet runs.
pub struct PodHandle {
    pub key: ObjectKey,
    pub uid: String,
    pub state: Mutex<PodState>,
    /// Deletion requested: stop within the grace period, then finish the deletion.
    pub stop: CancellationToken,
    pub grace_seconds: AtomicI64,
    /// The pod object is gone: stop at once.
    pub kill: CancellationToken,
    /// The pod is to fail (eviction), with `failure` as reason and message.
    pub fail: CancellationToken,
    pub failure: Mutex<Option<(String, String)>>,
    /// Set while a status write is pending.
    pub status_queued: AtomicBool,
    /// The worker is done: no more status writes.
    pub finished: AtomicBool,
    /// The node's counters, for the writes made for this pod.
    pub counters: NodeCounters,
}

impl PodHandle {
    pub(super) fn new(pod: &Value, spec: &PodSpecModel, node: &NodeAgent) -> Self {
        PodHandle {
            key: ObjectKey::of(pod),
            uid: pod.pointer("/metadata/uid").and_then(Value::as_str).unwrap_or("").to_string(),
            state: Mutex::new(PodState::new(spec, &node.ip)),
            stop: CancellationToken::new(),
            grace_seconds: AtomicI64::new(spec.grace_seconds),
            kill: CancellationToken::new(),
            fail: CancellationToken::new(),
            failure: Mutex::new(None),
            status_queued: AtomicBool::new(false),
            finished: AtomicBool::new(false),
            counters: node.counters.clone(),
        }
    }

    /// Asks the worker to stop the pod within `grace` seconds (a shorter grace shortens it).
    pub fn request_stop(&self, grace: i64) {
        self.grace_seconds.fetch_min(grace.max(0), Ordering::Relaxed);
        self.stop.cancel();
    }
}
