//! Shared setup for the cluster tests: a store with a namespace, a fast cluster on it, and
//! object builders. Included by the `cluster_*` tests with `#[path]`.
#![allow(dead_code, clippy::expect_used, clippy::unwrap_used, clippy::result_large_err)]

use std::sync::Arc;
use std::time::Duration;

use kip_sim::cluster::{self, Cluster, ClusterConfig};
use kip_sim::controllers::{DAEMONSETS, PODS};
use kip_sim::store::{ObjectKey, Store, StoreOptions};
use kip_sim::{GroupResource, ObjectKey as Key};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

pub const NS: &str = "k8s-image-puller";
pub const WAIT: Duration = Duration::from_secs(30);

/// A cluster running 20 simulated seconds per real second, with `nodes` nodes.
pub fn config(nodes: usize) -> ClusterConfig {
    let mut config = ClusterConfig::with_nodes(nodes).time_scale(20.0);
    config.kubelet.pod_status_min_interval = Duration::from_millis(20);
    config.kubelet.node_status_interval = Duration::from_secs(1);
    config.kubelet.image_minimum_gc_age = Duration::ZERO;
    config
}

pub struct TestCluster {
    pub store: Arc<Store>,
    pub cluster: Cluster,
    shutdown: CancellationToken,
}

impl Drop for TestCluster {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

pub fn start(config: ClusterConfig) -> TestCluster {
    let store = Arc::new(Store::new(StoreOptions::default()));
    store
        .create(
            &GroupResource::core("namespaces"),
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}}),
        )
        .expect("namespace");
    let shutdown = CancellationToken::new();
    let cluster = cluster::spawn(store.clone(), config, shutdown.clone());
    TestCluster { store, cluster, shutdown }
}

/// A DaemonSet like kip's: an init container copying `sleep`, one container per image.
pub fn daemonset(name: &str, images: &[&str]) -> Value {
    let containers: Vec<Value> = images
        .iter()
        .enumerate()
        .map(|(i, image)| {
            json!({"name": format!("image-{i}"), "image": image, "command": ["/kip/sleep"], "args": ["720h"],
                   "imagePullPolicy": "Always",
                   "resources": {"requests": {"cpu": ".05", "memory": "10Mi"}, "limits": {"cpu": ".2", "memory": "20Mi"}}})
        })
        .collect();
    json!({
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": name, "namespace": NS},
        "spec": {
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {
                    "terminationGracePeriodSeconds": 1,
                    "initContainers": [{"name": "copy-sleep", "image": "quay.io/eclipse/kubernetes-image-puller:next",
                                        "command": ["/bin/sh", "-c", "cp /bin/sleep /kip/sleep"], "imagePullPolicy": "Always"}],
                    "containers": containers,
                },
            },
            "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}},
        },
    })
}

pub fn get(store: &Store, gr: &GroupResource, namespace: &str, name: &str) -> Option<Arc<Value>> {
    store.get(gr, &ObjectKey::new(namespace, name))
}

pub fn daemonset_status(store: &Store, name: &str) -> Value {
    get(store, &DAEMONSETS, NS, name).map(|ds| ds["status"].clone()).unwrap_or(Value::Null)
}

/// The pods a controller with this uid owns.
pub fn owned_pods(store: &Store, owner_uid: &str) -> Vec<Arc<Value>> {
    store
        .list(&PODS, Some(NS))
        .0
        .into_iter()
        .filter(|p| {
            p["metadata"]["ownerReferences"].as_array().is_some_and(|refs| refs.iter().any(|r| r["uid"] == owner_uid))
        })
        .collect()
}

pub fn uid(obj: &Value) -> String {
    obj["metadata"]["uid"].as_str().unwrap_or_default().to_string()
}

pub fn node_of(pod: &Value) -> String {
    pod["spec"]["nodeName"].as_str().unwrap_or_default().to_string()
}

pub fn is_ready(pod: &Value) -> bool {
    pod["status"]["conditions"]
        .as_array()
        .is_some_and(|c| c.iter().any(|c| c["type"] == "Ready" && c["status"] == "True"))
}

pub fn key(namespace: &str, name: &str) -> Key {
    Key::new(namespace, name)
}

/// Sets a field of a stored object through a main write (as an update by a user would).
pub fn edit(store: &Store, gr: &GroupResource, namespace: &str, name: &str, change: impl FnOnce(&mut Value)) {
    store
        .modify(gr, &ObjectKey::new(namespace, name), kip_sim::store::Part::Main, |obj| {
            change(obj);
            Ok(())
        })
        .expect("edit");
}

/// The waiting reasons a pod's containers show.
pub fn waiting_reasons(pod: &Value) -> Vec<String> {
    ["initContainerStatuses", "containerStatuses"]
        .iter()
        .flat_map(|f| pod["status"][*f].as_array().cloned().unwrap_or_default())
        .filter_map(|c| c["state"]["waiting"]["reason"].as_str().map(String::from))
        .collect()
}

/// The store's pods of a namespace as a stream of snapshots: every pod event updates `pods`
/// (by name) and calls `observe`.
pub struct PodWatch {
    events: tokio::sync::broadcast::Receiver<Arc<kip_sim::store::WatchEvent>>,
    pub pods: std::collections::BTreeMap<String, Value>,
}

impl PodWatch {
    pub fn new(store: &Store) -> Self {
        let snapshot = store.snapshot(&PODS, Some(NS));
        let pods = snapshot
            .objects
            .iter()
            .map(|p| (p["metadata"]["name"].as_str().unwrap().to_string(), (**p).clone()))
            .collect();
        PodWatch { events: snapshot.live, pods }
    }

    /// Applies pod events until `done` holds, checking `invariant` after each one.
    pub async fn until(
        &mut self,
        mut done: impl FnMut(&std::collections::BTreeMap<String, Value>) -> bool,
        mut invariant: impl FnMut(&std::collections::BTreeMap<String, Value>),
    ) {
        let deadline = tokio::time::Instant::now() + WAIT;
        while !done(&self.pods) {
            let event = tokio::time::timeout_at(deadline, self.events.recv()).await.expect("timed out watching pods");
            let event = event.expect("the watch fell behind");
            if event.resource != *PODS || event.object["metadata"]["namespace"] != NS {
                continue;
            }
            let name = event.object["metadata"]["name"].as_str().unwrap().to_string();
            match event.event_type {
                kip_sim::store::EventType::Deleted => {
                    self.pods.remove(&name);
                }
                _ => {
                    self.pods.insert(name, (*event.object).clone());
                }
            }
            invariant(&self.pods);
        }
    }
}
