//! Each caching mode on a simulated node, with the DaemonSet exactly as kip renders it: the
//! images get cached, survive image garbage collection under disk pressure while the caching pod
//! runs, and a refresh (a new pod template) pulls them again.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::result_large_err)]

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use kip::config::Config;
use kip::render::{RenderContext, desired_daemonset};
use kip_sim::GroupResource;
use kip_sim::cluster::node::NodeSpec;
use kip_sim::cluster::{self, Cluster, ClusterConfig};
use kip_sim::controllers::{DAEMONSETS, PODS};
use kip_sim::store::{ObjectKey, Part, Store, StoreOptions};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

const NS: &str = "k8s-image-puller";
const WAIT: Duration = Duration::from_secs(30);
const KIP_IMAGE: &str = "registry.example.com/kip:1";
const IMAGES: &str = "a=registry.example.com/a:1;b=registry.example.com/b:1;c=registry.example.com/c:1";

struct Node {
    store: Arc<Store>,
    cluster: Cluster,
    shutdown: CancellationToken,
}

impl Drop for Node {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// One node with a 1000-byte image disk; kip's image is 10 bytes, each cached image 100.
fn node() -> Node {
    let mut config = ClusterConfig::with_nodes(1).time_scale(20.0);
    config.nodes[0] = NodeSpec::new("node-1").with_image_disk(1000);
    config.kubelet.pod_status_min_interval = Duration::from_millis(20);
    config.kubelet.node_status_min_real_interval = Duration::from_millis(20);
    config.kubelet.image_minimum_gc_age = Duration::ZERO;
    let store = Arc::new(Store::new(StoreOptions::default()));
    store.create(&GroupResource::core("namespaces"), json!({"metadata": {"name": NS}})).expect("namespace");
    let shutdown = CancellationToken::new();
    let cluster = cluster::spawn(store.clone(), config, shutdown.clone());
    cluster.publish_image(KIP_IMAGE, "sha256:0001", 10);
    for (name, digest) in [("a", "0a"), ("b", "0b"), ("c", "0c")] {
        cluster.publish_image(&format!("registry.example.com/{name}:1"), &format!("sha256:{digest}"), 100);
    }
    Node { store, cluster, shutdown }
}

fn daemonset(mode: &str, refresh: Option<&str>) -> Value {
    let config = Config::from_vars([
        ("IMAGES", IMAGES),
        ("DEPLOYMENT_NAME", "kip"),
        ("NAMESPACE", NS),
        ("KIP_IMAGE", KIP_IMAGE),
        ("CACHING_MODE", mode),
    ])
    .expect("valid");
    let ctx = RenderContext { refresh_token: refresh.map(String::from), ..RenderContext::default() };
    serde_json::to_value(desired_daemonset(&config, &ctx)).expect("JSON")
}

async fn cache(node: &Node, mode: &str) {
    node.store.create(&DAEMONSETS, daemonset(mode, None)).expect("daemonset");
    node.cluster.wait_for_daemonset_rolled_out(NS, "kubernetes-image-puller", WAIT).await.expect("cached");
}

/// Image names (last path component) stored on the node.
async fn stored(node: &Node) -> BTreeSet<String> {
    let images = node.cluster.node_images("node-1").await.expect("node");
    images.iter().map(|i| i.id.rsplit('/').next().unwrap().split('@').next().unwrap().to_string()).collect()
}

/// Whether `kip status` would say that every node holds every image, from the objects in the
/// store: the live DaemonSet, its pods and the nodes.
fn all_cached(node: &Node) -> bool {
    use kip::status::{compute, fetch};
    let ds = node.store.get(&DAEMONSETS, &ObjectKey::new(NS, "kubernetes-image-puller")).expect("daemonset");
    let ds: k8s_openapi::api::apps::v1::DaemonSet = serde_json::from_value((*ds).clone()).expect("daemonset");
    let nodes: Vec<compute::NodeFacts> = node
        .store
        .list(&kip_sim::controllers::NODES, None)
        .0
        .iter()
        .map(|n| serde_json::from_value::<fetch::SlimNode>((**n).clone()).expect("node").facts())
        .collect();
    let pods: Vec<compute::PodFacts> = node
        .store
        .list(&PODS, Some(NS))
        .0
        .iter()
        .filter_map(|p| fetch::pod_facts(&serde_json::from_value((**p).clone()).expect("pod")))
        .collect();
    let wanted = fetch::wanted_images(&ds);
    assert_eq!(wanted.iter().map(|w| w.name.as_str()).collect::<Vec<_>>(), ["a", "b", "c"]);
    compute::compute(&wanted, &nodes, &pods).all_cached()
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|n| n.to_string()).collect()
}

/// Runs `image` (of `size` bytes) in a pod on the node until it is ready.
async fn run(node: &Node, name: &str, image: &str, size: u64) {
    node.cluster.publish_image(image, &format!("sha256:{name}"), size);
    let pod = json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": NS},
        "spec": {"nodeName": "node-1", "terminationGracePeriodSeconds": 1,
                 "containers": [{"name": "app", "image": image, "command": ["sleep"], "args": ["720h"]}]},
    });
    node.store.create(&PODS, pod).expect("pod");
    let ready = |s: &Store| {
        s.get(&PODS, &ObjectKey::new(NS, name)).is_some_and(|p| {
            p["status"]["conditions"]
                .as_array()
                .is_some_and(|c| c.iter().any(|c| c["type"] == "Ready" && c["status"] == "True"))
        })
    };
    node.cluster.wait_for(&format!("{name} ready"), WAIT, ready).await.expect("ready");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cached_images_survive_disk_pressure_in_every_mode_while_the_pod_runs() {
    for mode in ["containers", "init", "image-volume"] {
        let node = node();
        cache(&node, mode).await;
        assert_eq!(stored(&node).await, set(&["a", "b", "c", "kip"]), "{mode}: cached");
        // In image-volume mode only the node's status.images tell, written every few seconds.
        let seen = node.cluster.wait_for("kip status to see every image cached", WAIT, |_| all_cached(&node)).await;
        assert!(seen.is_ok(), "{mode}: kip status sees every image cached");
        // An image some earlier pod used (unused now), then one in use that brings the disk to
        // 910 of 1000 bytes: less than 15% free.
        run(&node, "earlier", "registry.example.com/earlier:1", 200).await;
        node.store.delete(&PODS, &ObjectKey::new(NS, "earlier"), &Default::default()).expect("delete");
        let gone = |s: &Store| s.get(&PODS, &ObjectKey::new(NS, "earlier")).is_none();
        node.cluster.wait_for("the earlier pod gone", WAIT, gone).await.expect("gone");
        run(&node, "workload", "registry.example.com/workload:1", 400).await;
        assert_eq!(
            stored(&node).await,
            set(&["a", "b", "c", "kip", "workload"]),
            "{mode}: the cached images stay, the unused one goes"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refresh_pulls_every_cached_image_again_in_every_mode() {
    // Manifest requests of one caching pod start, all with pull policy Always: kip's image for
    // the copy and, in init mode, again for the keeper; each cached image once.
    for (mode, per_start) in [("containers", 4), ("init", 5), ("image-volume", 4)] {
        let node = node();
        cache(&node, mode).await;
        assert_eq!(node.cluster.counters().manifest_requests, per_start, "{mode}: first start");
        let refreshed = daemonset(mode, Some("2024-05-01T10:00:00Z"));
        node.store
            .modify(&DAEMONSETS, &ObjectKey::new(NS, "kubernetes-image-puller"), Part::Main, |ds| {
                ds["spec"]["template"] = refreshed["spec"]["template"].clone();
                Ok(())
            })
            .expect("refresh");
        let new_pod = |s: &Store| {
            s.list(&PODS, Some(NS)).0.iter().any(|p| {
                p["metadata"]["annotations"]["kip.dev/refresh"] == "2024-05-01T10:00:00Z"
                    && p["status"]["conditions"]
                        .as_array()
                        .is_some_and(|c| c.iter().any(|c| c["type"] == "Ready" && c["status"] == "True"))
            })
        };
        node.cluster.wait_for("the refreshed pod ready", WAIT, new_pod).await.expect("refreshed");
        assert_eq!(node.cluster.counters().manifest_requests, 2 * per_start, "{mode}: pulled again");
        assert_eq!(node.cluster.counters().pulls, 4, "{mode}: the same digests are not downloaded twice");
    }
}
