//! Simulated kubelets: one task watches the pods bound to any simulated node and gives each a
//! pod worker (a task that pulls images, runs init containers then containers, restarts them
//! by policy and stops them on deletion); one status writer turns their changes into status
//! writes, batched per pod and rate-limited, and writes a node's `status.images` only when its
//! images changed.
//!
//! There are no heartbeats: nothing in the simulation watches them, and at thousands of nodes
//! they would be most of the write load. Node status is written when it changes (images,
//! readiness), no Lease objects are renewed, and `lastHeartbeatTime` moves only with a write.

mod backoff;
pub mod cri_runtime;
pub mod images;
mod node;
pub mod pod_spec;
pub mod pod_state;
pub mod pull_secrets;
mod reclaim;
pub mod runtime;
pub mod sim_runtime;
mod status_writer;
mod worker;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::RwLock;
use serde_json::Value;
use tokio::sync::broadcast::error::{RecvError, TryRecvError};
use tokio_util::sync::CancellationToken;

pub use self::node::{NodeAgent, PodHandle};
use self::pod_spec::PodSpecModel;
use self::runtime::PodSandboxConfig;
use self::status_writer::StatusQueue;
use crate::cluster::catalog::ImageCatalog;
use crate::cluster::clock::SimClock;
use crate::cluster::counters::Counters;
use crate::cluster::node::NodeSpec;
use crate::controllers::{NODES, PODS};
use crate::store::{EventType, ObjectKey, Part, Store, WatchEvent, is_terminating};

/// How the simulated kubelets behave. Durations are simulated time unless noted.
#[derive(Clone, Debug)]
pub struct KubeletConfig {
    /// Least real time between two status writes of one pod: the changes in between are
    /// written together.
    pub pod_status_min_interval: Duration,
    /// Least time between two writes of one node's status (the kubelet's
    /// `nodeStatusUpdateFrequency`).
    pub node_status_interval: Duration,
    /// Least real time between two writes of one node's status, whatever the time scale: at
    /// high scales the simulated interval alone would let thousands of nodes write constantly.
    pub node_status_min_real_interval: Duration,
    pub container_start: Duration,
    pub container_stop: Duration,
    /// How long init containers and other finite jobs run.
    pub short_run: Duration,
    /// How soon the kubelet syncs a pod again after an error (its `backOffPeriod`).
    pub sync_retry: Duration,
    pub image_pull_backoff: (Duration, Duration),
    pub crash_loop_backoff: (Duration, Duration),
    pub image_gc_high_percent: u64,
    pub image_gc_low_percent: u64,
    pub image_minimum_gc_age: Duration,
    pub image_gc_period: Duration,
    /// The eviction manager's hard threshold on the image filesystem (`imagefs.available`, in
    /// percent of its capacity): below it the node reports DiskPressure and reclaims disk.
    pub eviction_imagefs_available_percent: u64,
    /// `nodeStatusMaxImages`.
    pub max_images_in_status: usize,
    /// One pull at a time per node (`serializeImagePulls`).
    pub serialize_image_pulls: bool,
}

impl Default for KubeletConfig {
    fn default() -> Self {
        KubeletConfig {
            pod_status_min_interval: Duration::from_millis(100),
            node_status_interval: Duration::from_secs(10),
            node_status_min_real_interval: Duration::from_secs(1),
            container_start: Duration::from_millis(200),
            container_stop: Duration::from_millis(500),
            short_run: Duration::from_millis(500),
            sync_retry: Duration::from_secs(10),
            image_pull_backoff: (Duration::from_secs(10), Duration::from_secs(300)),
            crash_loop_backoff: (Duration::from_secs(10), Duration::from_secs(300)),
            image_gc_high_percent: 85,
            image_gc_low_percent: 80,
            image_minimum_gc_age: Duration::from_secs(120),
            image_gc_period: Duration::from_secs(300),
            eviction_imagefs_available_percent: 15,
            max_images_in_status: 50,
            serialize_image_pulls: true,
        }
    }
}

/// All simulated kubelets.
pub struct Kubelets {
    store: Arc<Store>,
    clock: SimClock,
    config: KubeletConfig,
    catalog: Arc<ImageCatalog>,
    counters: Arc<Counters>,
    nodes: RwLock<HashMap<String, Arc<NodeAgent>>>,
    status: StatusQueue,
    shutdown: CancellationToken,
}

impl Kubelets {
    /// Starts the pod watch and the status writer. Call [`Kubelets::add_node`] for each node.
    pub fn start(
        store: Arc<Store>,
        clock: SimClock,
        catalog: Arc<ImageCatalog>,
        counters: Arc<Counters>,
        config: KubeletConfig,
        shutdown: CancellationToken,
    ) -> Arc<Self> {
        let status = status_writer::spawn(store.clone(), clock.clone(), config.clone(), shutdown.clone());
        let kubelets = Arc::new(Kubelets {
            store,
            clock,
            config,
            catalog,
            counters,
            nodes: RwLock::new(HashMap::new()),
            status,
            shutdown,
        });
        let events = kubelets.store.subscribe();
        let watcher = kubelets.clone();
        tokio::spawn(async move { watcher.watch(events).await });
        let collector = kubelets.clone();
        tokio::spawn(async move { collector.collect_garbage_periodically().await });
        kubelets
    }

    pub fn clock(&self) -> &SimClock {
        &self.clock
    }

    /// Starts the kubelet of a node (its Node object is created by the caller). Pods already
    /// bound to it start with the next [`Kubelets::start_bound_pods`].
    pub fn add_node(self: &Arc<Self>, spec: &NodeSpec, index: u32) {
        let agent = Arc::new(NodeAgent::new(self, spec, index));
        if let Some(old) = self.nodes.write().insert(spec.name.clone(), agent.clone()) {
            old.shutdown.cancel();
        }
        if agent.runtime.runs_containers() {
            // A real runtime may hold images already: the node reports them from the start,
            // and the runtime's own version.
            self.status.node_changed(&agent);
            let (store, runtime, name) = (self.store.clone(), agent.runtime.clone(), spec.name.clone());
            tokio::spawn(async move {
                let Some(version) = runtime.runtime_version().await else { return };
                let _ = store.modify(&NODES, &ObjectKey::cluster(&name), Part::Status, |node| {
                    node["status"]["nodeInfo"]["containerRuntimeVersion"] = Value::String(version);
                    Ok(())
                });
            });
        }
    }

    /// Runs the pods already bound to the nodes (a node added back, a cluster started on a
    /// store that has pods), and stops those that are gone.
    pub fn start_bound_pods(self: &Arc<Self>) {
        self.relist();
    }

    /// Stops the kubelet of a node: its workers end and its containers are gone.
    pub fn remove_node(&self, name: &str) {
        if let Some(agent) = self.nodes.write().remove(name) {
            agent.shutdown.cancel();
        }
    }

    pub fn node(&self, name: &str) -> Option<Arc<NodeAgent>> {
        self.nodes.read().get(name).cloned()
    }

    /// A node's kubelet stops (or resumes) working; while stopped its pods are reported not
    /// ready, as the node lifecycle controller marks them.
    pub fn set_node_ready(&self, name: &str, ready: bool) {
        let Some(agent) = self.node(name) else { return };
        agent.ready.send_replace(ready);
        let now = self.clock.timestamp();
        for pod in agent.pods.read().values() {
            {
                let mut state = pod.state.lock();
                state.node_not_ready = !ready;
                state.settle(&now);
            }
            self.status.pod_changed(pod);
        }
    }

    /// Makes a running pod fail (as an eviction does): its containers stop, its phase becomes
    /// Failed with this reason and message. Returns false when no kubelet runs the pod.
    pub fn fail_pod(&self, key: &ObjectKey, reason: &str, message: &str) -> bool {
        let nodes = self.nodes.read();
        for agent in nodes.values() {
            if let Some(pod) = agent.pods.read().values().find(|p| p.key == *key) {
                *pod.failure.lock() = Some((reason.to_string(), message.to_string()));
                pod.fail.cancel();
                return true;
            }
        }
        false
    }

    async fn watch(self: Arc<Self>, mut events: tokio::sync::broadcast::Receiver<Arc<WatchEvent>>) {
        loop {
            let event = tokio::select! {
                _ = self.shutdown.cancelled() => return,
                event = events.recv() => event,
            };
            let lagged = match event {
                Ok(event) => {
                    self.on_event(&event);
                    // Every unread event holds an object version in memory: read all that wait
                    // now, rather than one per turn of the scheduler.
                    loop {
                        match events.try_recv() {
                            Ok(event) => self.on_event(&event),
                            Err(TryRecvError::Empty) => break false,
                            Err(TryRecvError::Lagged(_)) => break true,
                            Err(TryRecvError::Closed) => return,
                        }
                    }
                }
                Err(RecvError::Lagged(_)) => true,
                Err(RecvError::Closed) => return,
            };
            if lagged {
                events = self.store.subscribe();
                self.relist();
            }
        }
    }

    fn on_event(self: &Arc<Self>, event: &WatchEvent) {
        if event.resource == *PODS {
            self.on_pod(&event.object, event.event_type);
        } else if event.resource == *NODES && event.event_type == EventType::Deleted {
            self.remove_node(event.object.pointer("/metadata/name").and_then(Value::as_str).unwrap_or(""));
        }
    }

    /// After lost events: start what is missing, stop what is gone.
    fn relist(self: &Arc<Self>) {
        let pods = self.store.list(&PODS, None).0;
        let live: std::collections::HashSet<&str> =
            pods.iter().filter_map(|p| p.pointer("/metadata/uid").and_then(Value::as_str)).collect();
        for agent in self.nodes.read().values() {
            for pod in agent.pods.read().values().filter(|p| !live.contains(p.uid.as_str())) {
                pod.kill.cancel();
            }
        }
        for pod in &pods {
            self.on_pod(pod, EventType::Modified);
        }
    }

    fn on_pod(self: &Arc<Self>, pod: &Value, event_type: EventType) {
        let Some(agent) = bound_node(pod).and_then(|n| self.node(n)) else { return };
        let uid = pod.pointer("/metadata/uid").and_then(Value::as_str).unwrap_or("");
        let known = agent.pods.read().get(uid).cloned();
        match (event_type, known) {
            (EventType::Deleted, Some(handle)) => handle.kill.cancel(),
            (EventType::Deleted, None) => {}
            (_, Some(handle)) => {
                if is_terminating(pod) {
                    let grace =
                        pod.pointer("/metadata/deletionGracePeriodSeconds").and_then(Value::as_i64).unwrap_or(0);
                    handle.request_stop(grace);
                }
            }
            (_, None) => {
                let phase = pod.pointer("/status/phase").and_then(Value::as_str).unwrap_or("Pending");
                if phase == "Succeeded" || phase == "Failed" {
                    return;
                }
                let spec = PodSpecModel::parse(pod);
                let sandbox = agent.runtime.runs_containers().then(|| Arc::new(PodSandboxConfig::from_pod(pod)));
                let handle = Arc::new(PodHandle::new(pod, &spec, &agent));
                {
                    // A relist may race the watch for the same new pod: one worker only.
                    let mut pods = agent.pods.write();
                    if pods.contains_key(&handle.uid) {
                        return;
                    }
                    pods.insert(handle.uid.clone(), handle.clone());
                }
                if is_terminating(pod) {
                    handle.request_stop(
                        pod.pointer("/metadata/deletionGracePeriodSeconds").and_then(Value::as_i64).unwrap_or(0),
                    );
                }
                tokio::spawn(worker::run(self.clone(), agent, handle, spec, sandbox));
            }
        }
    }

    /// The kubelet's periodic image garbage collection, on every node.
    async fn collect_garbage_periodically(self: Arc<Self>) {
        loop {
            tokio::select! {
                _ = self.shutdown.cancelled() => return,
                _ = self.clock.sleep(self.config.image_gc_period) => {}
            }
            let agents: Vec<Arc<NodeAgent>> = self.nodes.read().values().cloned().collect();
            for agent in agents {
                self.collect_garbage(&agent).await;
            }
        }
    }
}

fn bound_node(pod: &Value) -> Option<&str> {
    pod.pointer("/spec/nodeName").and_then(Value::as_str).filter(|n| !n.is_empty())
}
