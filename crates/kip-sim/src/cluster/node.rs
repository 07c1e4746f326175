//! Simulated nodes: what a node is made of ([`NodeSpec`]), the Node object a kubelet registers
//! for it, and the taints Kubernetes' node lifecycle controller keeps in step with a node's
//! conditions and `spec.unschedulable`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use k8s_openapi::api::core::v1::Taint;
use serde_json::{Value, json};

use crate::kubelet::cri_runtime::CriNodeConfig;

pub const TAINT_NOT_READY: &str = "node.kubernetes.io/not-ready";
pub const TAINT_UNREACHABLE: &str = "node.kubernetes.io/unreachable";
pub const TAINT_UNSCHEDULABLE: &str = "node.kubernetes.io/unschedulable";
pub const TAINT_MEMORY_PRESSURE: &str = "node.kubernetes.io/memory-pressure";
pub const TAINT_DISK_PRESSURE: &str = "node.kubernetes.io/disk-pressure";
pub const TAINT_PID_PRESSURE: &str = "node.kubernetes.io/pid-pressure";
pub const TAINT_NETWORK_UNAVAILABLE: &str = "node.kubernetes.io/network-unavailable";

pub const KUBELET_VERSION: &str = "v1.33.1";
pub const CONTAINER_RUNTIME_VERSION: &str = "containerd://1.7.24";

const MIB: u64 = 1024 * 1024;
const GIB: u64 = 1024 * MIB;

/// One node of the simulated cluster.
#[derive(Clone, Debug)]
pub struct NodeSpec {
    pub name: String,
    /// Labels besides the well-known ones every node gets (hostname, os, arch).
    pub labels: BTreeMap<String, String>,
    pub taints: Vec<Taint>,
    pub unschedulable: bool,
    pub ready: bool,
    /// `kubernetes.io/arch`: `amd64`, `arm64`.
    pub arch: String,
    /// Capacity quantities, as Kubernetes writes them.
    pub cpu: String,
    pub memory: String,
    pub max_pods: u32,
    pub ephemeral_storage: String,
    /// Download bandwidth from the registry, in bytes per simulated second.
    pub bandwidth_bytes_per_sec: u64,
    /// Size of the image filesystem; image garbage collection thresholds are relative to it.
    pub image_disk_bytes: u64,
    /// What runs the node's containers.
    pub runtime: NodeRuntime,
}

/// The container runtime of a node.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum NodeRuntime {
    /// Simulated images and containers, in simulated time (bandwidth, sizes, command lines).
    #[default]
    Simulated,
    /// A real CRI runtime (containerd) on a unix socket: real pulls and real containers, in
    /// real time. Give each such node a runtime of its own.
    Cri(CriNodeConfig),
}

impl NodeSpec {
    pub fn new(name: impl Into<String>) -> Self {
        NodeSpec {
            name: name.into(),
            labels: BTreeMap::new(),
            taints: Vec::new(),
            unschedulable: false,
            ready: true,
            arch: "amd64".into(),
            cpu: "4".into(),
            memory: "16Gi".into(),
            max_pods: 110,
            ephemeral_storage: "100Gi".into(),
            bandwidth_bytes_per_sec: 100 * MIB,
            image_disk_bytes: 100 * GIB,
            runtime: NodeRuntime::Simulated,
        }
    }

    pub fn with_label(mut self, key: &str, value: &str) -> Self {
        self.labels.insert(key.into(), value.into());
        self
    }

    pub fn with_taint(mut self, key: &str, value: Option<&str>, effect: &str) -> Self {
        self.taints.push(taint(key, value, effect));
        self
    }

    pub fn with_bandwidth(mut self, bytes_per_sec: u64) -> Self {
        self.bandwidth_bytes_per_sec = bytes_per_sec;
        self
    }

    pub fn with_image_disk(mut self, bytes: u64) -> Self {
        self.image_disk_bytes = bytes;
        self
    }

    /// Runs the node's containers in the CRI runtime at `socket`, with pod directories under
    /// `root_dir`.
    pub fn with_cri_runtime(mut self, socket: impl Into<PathBuf>, root_dir: impl Into<PathBuf>) -> Self {
        self.runtime = NodeRuntime::Cri(CriNodeConfig::new(socket, root_dir));
        self
    }

    pub fn unschedulable(mut self) -> Self {
        self.unschedulable = true;
        self
    }

    pub fn not_ready(mut self) -> Self {
        self.ready = false;
        self
    }
}

pub fn taint(key: &str, value: Option<&str>, effect: &str) -> Taint {
    Taint { key: key.into(), value: value.map(String::from), effect: effect.into(), time_added: None }
}

/// The node's InternalIP, from its index in the cluster (room for 64k nodes).
pub fn node_ip(index: u32) -> String {
    format!("10.{}.{}.{}", 64 + (index >> 16) % 64, (index >> 8) & 255, index & 255)
}

/// The first three octets of the node's pod network (a /24 per node).
pub fn pod_network_prefix(index: u32) -> String {
    format!("{}.{}.{}", 100 + (index >> 16) % 27, 64 + ((index >> 8) & 63), index & 255)
}

/// The Node object a kubelet registers for `spec`.
pub fn node_object(spec: &NodeSpec, index: u32, now: &str) -> Value {
    let mut labels = BTreeMap::new();
    labels.insert("kubernetes.io/hostname".to_string(), spec.name.clone());
    labels.insert("kubernetes.io/os".to_string(), "linux".to_string());
    labels.insert("kubernetes.io/arch".to_string(), spec.arch.clone());
    labels.insert("beta.kubernetes.io/os".to_string(), "linux".to_string());
    labels.insert("beta.kubernetes.io/arch".to_string(), spec.arch.clone());
    labels.extend(spec.labels.clone());
    let resources = json!({
        "cpu": spec.cpu,
        "memory": spec.memory,
        "pods": spec.max_pods.to_string(),
        "ephemeral-storage": spec.ephemeral_storage,
        "hugepages-1Gi": "0",
        "hugepages-2Mi": "0",
    });
    let machine_id = machine_id(&spec.name);
    let mut node = json!({
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": spec.name,
            "labels": labels,
            "annotations": {
                "node.alpha.kubernetes.io/ttl": "0",
                "volumes.kubernetes.io/controller-managed-attach-detach": "true",
            },
        },
        "spec": {
            "podCIDR": format!("{}.0/24", pod_network_prefix(index)),
            "podCIDRs": [format!("{}.0/24", pod_network_prefix(index))],
        },
        "status": {
            "capacity": resources,
            "allocatable": resources,
            "conditions": node_conditions(spec.ready, now),
            "addresses": [
                {"type": "InternalIP", "address": node_ip(index)},
                {"type": "Hostname", "address": spec.name},
            ],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
            "nodeInfo": {
                "machineID": machine_id,
                "systemUUID": machine_id,
                "bootID": machine_id,
                "kernelVersion": "6.1.0-31-amd64",
                "osImage": "Debian GNU/Linux 12 (bookworm)",
                "containerRuntimeVersion": CONTAINER_RUNTIME_VERSION,
                "kubeletVersion": KUBELET_VERSION,
                "kubeProxyVersion": "",
                "operatingSystem": "linux",
                "architecture": spec.arch,
            },
            "images": [],
        },
    });
    if !spec.taints.is_empty() {
        node["spec"]["taints"] = serde_json::to_value(&spec.taints).unwrap_or_else(|_| json!([]));
    }
    if spec.unschedulable {
        node["spec"]["unschedulable"] = json!(true);
    }
    if let Some(taints) = reconciled_taints(&node, now) {
        node["spec"]["taints"] = Value::Array(taints);
    }
    node
}

/// The four conditions a kubelet reports, all healthy but `Ready` as given.
fn node_conditions(ready: bool, now: &str) -> Value {
    let condition = |kind: &str, status: &str, reason: &str, message: &str| {
        json!({"type": kind, "status": status, "reason": reason, "message": message,
               "lastHeartbeatTime": now, "lastTransitionTime": now})
    };
    json!([
        condition("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
        condition("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
        condition("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
        ready_condition(ready, now),
    ])
}

/// The `Ready` condition a kubelet reports.
pub fn ready_condition(ready: bool, now: &str) -> Value {
    if ready {
        json!({"type": "Ready", "status": "True", "reason": "KubeletReady",
               "message": "kubelet is posting ready status", "lastHeartbeatTime": now, "lastTransitionTime": now})
    } else {
        json!({"type": "Ready", "status": "False", "reason": "KubeletNotReady",
               "message": "container runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady message:Network plugin returns error: cni plugin not initialized",
               "lastHeartbeatTime": now, "lastTransitionTime": now})
    }
}

/// Replaces the `Ready` condition of a node object, keeping the transition time when the
/// status does not change. Returns whether anything changed.
pub fn set_ready_condition(node: &mut Value, ready: bool, now: &str) -> bool {
    let wanted = if ready { "True" } else { "False" };
    let Some(conditions) = node.pointer_mut("/status/conditions").and_then(Value::as_array_mut) else {
        node["status"]["conditions"] = json!([ready_condition(ready, now)]);
        return true;
    };
    match conditions.iter_mut().find(|c| c["type"] == "Ready") {
        Some(c) if c["status"] == wanted => false,
        Some(c) => {
            *c = ready_condition(ready, now);
            true
        }
        None => {
            conditions.push(ready_condition(ready, now));
            true
        }
    }
}

fn condition_status<'a>(node: &'a Value, kind: &str) -> Option<&'a str> {
    node.pointer("/status/conditions")?.as_array()?.iter().find(|c| c["type"] == kind)?.get("status")?.as_str()
}

/// The taints the node lifecycle controller derives from a node's state: `(key, effect)`.
pub fn state_taints(node: &Value) -> Vec<(&'static str, &'static str)> {
    let mut taints = Vec::new();
    if node.pointer("/spec/unschedulable").and_then(Value::as_bool) == Some(true) {
        taints.push((TAINT_UNSCHEDULABLE, "NoSchedule"));
    }
    match condition_status(node, "Ready") {
        Some("True") | None => {}
        Some("False") => taints.extend([(TAINT_NOT_READY, "NoSchedule"), (TAINT_NOT_READY, "NoExecute")]),
        Some(_) => taints.extend([(TAINT_UNREACHABLE, "NoSchedule"), (TAINT_UNREACHABLE, "NoExecute")]),
    }
    for (condition, key) in [
        ("MemoryPressure", TAINT_MEMORY_PRESSURE),
        ("DiskPressure", TAINT_DISK_PRESSURE),
        ("PIDPressure", TAINT_PID_PRESSURE),
        ("NetworkUnavailable", TAINT_NETWORK_UNAVAILABLE),
    ] {
        if condition_status(node, condition) == Some("True") {
            taints.push((key, "NoSchedule"));
        }
    }
    taints
}

/// The node's taint list with the state taints brought in line (others untouched), or `None`
/// when it already is. NoExecute taints carry `timeAdded`, as the eviction logic needs it.
pub fn reconciled_taints(node: &Value, now: &str) -> Option<Vec<Value>> {
    const MANAGED: [&str; 7] = [
        TAINT_NOT_READY,
        TAINT_UNREACHABLE,
        TAINT_UNSCHEDULABLE,
        TAINT_MEMORY_PRESSURE,
        TAINT_DISK_PRESSURE,
        TAINT_PID_PRESSURE,
        TAINT_NETWORK_UNAVAILABLE,
    ];
    let wanted = state_taints(node);
    let current: Vec<Value> = node.pointer("/spec/taints").and_then(Value::as_array).cloned().unwrap_or_default();
    let key_effect =
        |t: &Value| (t["key"].as_str().unwrap_or("").to_string(), t["effect"].as_str().unwrap_or("").to_string());
    let mut next: Vec<Value> = current
        .iter()
        .filter(|t| {
            let (key, effect) = key_effect(t);
            !MANAGED.contains(&key.as_str()) || wanted.iter().any(|(k, e)| *k == key && *e == effect)
        })
        .cloned()
        .collect();
    for (key, effect) in &wanted {
        if !next.iter().any(|t| key_effect(t) == (key.to_string(), effect.to_string())) {
            let mut taint = json!({"key": key, "effect": effect});
            if *effect == "NoExecute" {
                taint["timeAdded"] = json!(now);
            }
            next.push(taint);
        }
    }
    (next != current).then_some(next)
}

/// A stable 32-hex-digit machine id for a node name.
fn machine_id(name: &str) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(&Sha256::digest(name.as_bytes())[..16])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn taint_keys(node: &Value) -> Vec<String> {
        node.pointer("/spec/taints")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter().map(|t| format!("{}:{}", t["key"].as_str().unwrap(), t["effect"].as_str().unwrap())).collect()
            })
            .unwrap_or_default()
    }

    #[test]
    fn a_registered_node_carries_what_kubectl_and_schedulers_read() {
        let node = node_object(&NodeSpec::new("node-7").with_label("zone", "a"), 7, "2025-01-01T00:00:00Z");
        assert_eq!(node["metadata"]["labels"]["kubernetes.io/hostname"], "node-7");
        assert_eq!(node["metadata"]["labels"]["kubernetes.io/os"], "linux");
        assert_eq!(node["metadata"]["labels"]["kubernetes.io/arch"], "amd64");
        assert_eq!(node["metadata"]["labels"]["zone"], "a");
        assert_eq!(node["status"]["allocatable"]["pods"], "110");
        assert_eq!(node["status"]["nodeInfo"]["kubeletVersion"], KUBELET_VERSION);
        let conditions: Vec<&str> =
            node["status"]["conditions"].as_array().unwrap().iter().map(|c| c["type"].as_str().unwrap()).collect();
        assert_eq!(conditions, ["MemoryPressure", "DiskPressure", "PIDPressure", "Ready"]);
        assert_eq!(node["status"]["addresses"][0]["address"], node_ip(7));
        assert!(taint_keys(&node).is_empty());
    }

    #[test]
    fn node_state_brings_its_taints() {
        let cases: [(NodeSpec, &[&str]); 4] = [
            (NodeSpec::new("a"), &[]),
            (NodeSpec::new("a").unschedulable(), &["node.kubernetes.io/unschedulable:NoSchedule"]),
            (
                NodeSpec::new("a").not_ready(),
                &["node.kubernetes.io/not-ready:NoSchedule", "node.kubernetes.io/not-ready:NoExecute"],
            ),
            (NodeSpec::new("a").with_taint("gpu", Some("yes"), "NoSchedule"), &["gpu:NoSchedule"]),
        ];
        for (spec, expected) in cases {
            let node = node_object(&spec, 1, "2025-01-01T00:00:00Z");
            assert_eq!(taint_keys(&node), expected, "{spec:?}");
        }
    }

    #[test]
    fn recovering_removes_only_state_taints() {
        let mut node = node_object(
            &NodeSpec::new("a").not_ready().with_taint("gpu", None, "NoSchedule"),
            1,
            "2025-01-01T00:00:00Z",
        );
        assert_eq!(taint_keys(&node).len(), 3);
        let noexec = node["spec"]["taints"].as_array().unwrap().iter().find(|t| t["effect"] == "NoExecute").cloned();
        assert!(noexec.is_some_and(|t| t["timeAdded"].is_string()));
        assert!(set_ready_condition(&mut node, true, "2025-01-01T00:01:00Z"));
        assert!(!set_ready_condition(&mut node, true, "2025-01-01T00:02:00Z"), "unchanged status is no change");
        let taints = reconciled_taints(&node, "2025-01-01T00:01:00Z").expect("taints change");
        node["spec"]["taints"] = Value::Array(taints);
        assert_eq!(taint_keys(&node), ["gpu:NoSchedule"]);
        assert!(reconciled_taints(&node, "2025-01-01T00:01:00Z").is_none());
    }

    #[test]
    fn unknown_readiness_means_unreachable() {
        let mut node = node_object(&NodeSpec::new("a"), 1, "t");
        node["status"]["conditions"][3]["status"] = json!("Unknown");
        assert_eq!(state_taints(&node), vec![(TAINT_UNREACHABLE, "NoSchedule"), (TAINT_UNREACHABLE, "NoExecute")]);
    }

    #[test]
    fn addresses_are_unique_per_index() {
        let ips: std::collections::HashSet<String> = (0..70_000).map(node_ip).collect();
        assert_eq!(ips.len(), 70_000);
        let nets: std::collections::HashSet<String> = (0..16_384).map(pod_network_prefix).collect();
        assert_eq!(nets.len(), 16_384);
    }
}
