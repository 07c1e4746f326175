//! Shared setup for the cluster tests: a store with a namespace, a fast cluster on it, and
//! object builders. Included by the `cluster_*` tests with `#[path]`.
#![allow(dead_code, clippy::expect_used, clippy::unwrap_used)]

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
