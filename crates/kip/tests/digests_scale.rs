//! What the leader's cache view costs at 5,000 nodes: memory of the slim node index and the
//! time to compute the report. A measurement, run on demand:
//!
//!   cargo test --release -p kip --test digests_scale -- --ignored --nocapture
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::time::Instant;

use kip::config::Config;
use kip::status::live::{Interest, LiveIndex};
use kip::status::{SlimNode, WantedImage};
use serde_json::json;

const NODES: usize = 5_000;
/// Images a kubelet reports at most (`nodeStatusMaxImages`).
const IMAGES_PER_NODE: usize = 50;
const CACHED: usize = 10;

/// Resident memory of this process, in KiB.
fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).expect("VmRSS");
    line.split_whitespace().nth(1).and_then(|v| v.parse().ok()).expect("a number")
}

/// A Node as a kubelet reports it: labels, annotations, conditions, 50 images, two names each.
fn node(index: usize) -> serde_json::Value {
    let images: Vec<serde_json::Value> = (0..IMAGES_PER_NODE)
        .map(|i| {
            let repo = if i < CACHED { format!("quay.io/team/cached-{i}") } else { format!("docker.io/library/other-{i}") };
            json!({"names": [format!("{repo}@sha256:{:064x}", i), format!("{repo}:v{i}")], "sizeBytes": 100_000_000 + i})
        })
        .collect();
    json!({
        "apiVersion": "v1", "kind": "Node",
        "metadata": {
            "name": format!("node-{index:05}"), "resourceVersion": "1",
            "labels": {"kubernetes.io/hostname": format!("node-{index:05}"), "kubernetes.io/os": "linux",
                       "node.kubernetes.io/instance-type": "m5.2xlarge", "topology.kubernetes.io/zone": "eu-west-1a"},
            "annotations": {"node.alpha.kubernetes.io/ttl": "0", "volumes.kubernetes.io/controller-managed-attach-detach": "true"}
        },
        "spec": {"podCIDR": "10.0.0.0/24", "providerID": format!("aws:///eu-west-1a/i-{index:017x}")},
        "status": {
            "capacity": {"cpu": "8", "memory": "32Gi", "pods": "110"},
            "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady", "message": "kubelet is posting ready status"}],
            "images": images,
            "nodeInfo": {"kubeletVersion": "v1.33.1", "containerRuntimeVersion": "containerd://1.7.24"}
        }
    })
}

#[test]
#[ignore = "a measurement: run with --ignored --nocapture"]
fn the_cache_view_of_5000_nodes_is_small_and_quick() {
    let images: String = (0..CACHED).map(|i| format!("cached-{i}=quay.io/team/cached-{i}:v{i};")).collect();
    let config = Config::from_vars([("IMAGES", images.as_str()), ("DEPLOYMENT_NAME", "kip")]).expect("config");
    let full_json: usize = (0..NODES).map(|i| node(i).to_string().len()).sum();

    let before = rss_kib();
    let mut index = LiveIndex::new(Interest::of(&config));
    for i in 0..NODES {
        // Each node is read into the slim type and dropped, as the watch does.
        let slim: SlimNode = serde_json::from_value(node(i)).expect("node");
        index.upsert_node(&slim);
    }
    let after = rss_kib();

    let wanted: Vec<WantedImage> = config
        .images
        .iter()
        .enumerate()
        .map(|(i, c)| WantedImage {
            name: c.name.clone(),
            image: c.image.clone(),
            digest: Some(format!("sha256:{i:064x}")),
        })
        .collect();
    let start = Instant::now();
    let report = index.report(&wanted);
    let compute = start.elapsed();

    println!(
        "{NODES} nodes x {IMAGES_PER_NODE} images: full Node JSON {} MiB; slim index {} MiB of resident memory; \
         report of {CACHED} images in {compute:?}",
        full_json >> 20,
        after.saturating_sub(before) >> 10,
    );
    assert_eq!(report.nodes.len(), NODES);
    assert_eq!(report.fully_cached.len(), NODES);
}
