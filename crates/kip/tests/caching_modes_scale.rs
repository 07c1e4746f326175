//! Benchmark of the caching modes: 20 images on many simulated nodes, the DaemonSet as kip
//! renders it in each mode. Prints, per mode, the CPU and memory reserved per node and in total
//! (as kip computes them, and as the simulated scheduler counts the pods it placed), the time
//! until every node holds every image, and the API writes it took.
//!
//! ```text
//! cargo test -p kip --release --test caching_modes_scale -- --ignored --nocapture
//! ```
//! `KIP_SIM_NODES` (default 1000), `KIP_SIM_SCALE` (simulated seconds per real second, default
//! 10: faster runs stretch simulated time whenever the simulation cannot keep up on two cores),
//! `KIP_BENCH_MODES` (default `containers,init,image-volume`) tune it.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use kip::config::{Config, reservation_per_node};
use kip::render::{RenderContext, desired_daemonset};
use kip_sim::GroupResource;
use kip_sim::cluster::{self, ClusterConfig};
use kip_sim::controllers::cache::Resources;
use kip_sim::controllers::{DAEMONSETS, PODS};
use kip_sim::store::{ObjectKey, Store, StoreOptions};
use serde_json::json;
use tokio_util::sync::CancellationToken;

const NS: &str = "k8s-image-puller";
const IMAGES: usize = 20;
const IMAGE_SIZE: u64 = 100 << 20;
const KIP_IMAGE: &str = "registry.example.com/kip/kip:0.1.0";

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn config(mode: &str) -> Config {
    let images: Vec<String> =
        (1..=IMAGES).map(|i| format!("image-{i}=registry.example.com/workspace/image-{i}:1")).collect();
    let images = images.join(";");
    Config::from_vars([
        ("IMAGES", images.as_str()),
        ("DEPLOYMENT_NAME", "kip"),
        ("NAMESPACE", NS),
        ("KIP_IMAGE", KIP_IMAGE),
        ("CACHING_MODE", mode),
    ])
    .expect("valid")
}

fn status(store: &Store, field: &str) -> i64 {
    store
        .get(&DAEMONSETS, &ObjectKey::new(NS, "kubernetes-image-puller"))
        .and_then(|ds| ds["status"][field].as_i64())
        .unwrap_or(0)
}

async fn one_mode(mode: &str, nodes: usize, scale: f64) {
    let store = Arc::new(Store::new(StoreOptions::default()));
    store.create(&GroupResource::core("namespaces"), json!({"metadata": {"name": NS}})).expect("namespace");
    let shutdown = CancellationToken::new();
    let cluster = cluster::spawn(store.clone(), ClusterConfig::with_nodes(nodes).time_scale(scale), shutdown.clone());
    cluster.publish_image(KIP_IMAGE, "sha256:00", 4 << 20);
    for i in 1..=IMAGES {
        cluster.publish_image(
            &format!("registry.example.com/workspace/image-{i}:1"),
            &format!("sha256:{i:02}"),
            IMAGE_SIZE,
        );
    }
    let config = config(mode);
    let daemonset = serde_json::to_value(desired_daemonset(&config, &RenderContext::default())).expect("JSON");
    let rv_before = store.current_resource_version();
    let started = Instant::now();
    let sim_started = cluster.clock().now();
    store.create(&DAEMONSETS, daemonset).expect("daemonset");
    let limit = Duration::from_secs(env_or("KIP_SIM_LIMIT_SECS", 1800));
    while status(&store, "numberReady") < nodes as i64 {
        assert!(started.elapsed() < limit, "{mode}: not every pod ready after {limit:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let all_ready = started.elapsed();
    // Ready means every image was pulled (image containers and volumes before the keeper, or the
    // image containers themselves); the nodes' image stores confirm it.
    for i in 1..=nodes {
        let stored = cluster.node_images(&format!("node-{i}")).await.expect("node");
        assert_eq!(stored.len(), IMAGES + 1, "{mode}: node-{i} holds every image and kip's");
    }
    let pods = store.list(&PODS, Some(NS)).0;
    assert_eq!(pods.len(), nodes);
    // The simulated moment the last pod became ready, from the kubelets' own timestamps (whole
    // simulated seconds), free of the polling above.
    let last_ready = pods
        .iter()
        .filter_map(|p| {
            let conditions = p["status"]["conditions"].as_array()?;
            let ready = conditions.iter().find(|c| c["type"] == "Ready" && c["status"] == "True")?;
            ready["lastTransitionTime"].as_str()?.parse::<jiff::Timestamp>().ok()
        })
        .max()
        .expect("ready pods");
    let sim_cached = last_ready.duration_since(sim_started).as_secs();
    let scheduled: Vec<Resources> = pods.iter().map(|p| Resources::of_pod_spec(&p["spec"])).collect();
    assert!(scheduled.windows(2).all(|w| w[0] == w[1]), "{mode}: every pod reserves the same");
    let per_pod = scheduled[0];
    let total_cpu: i64 = scheduled.iter().map(|r| r.cpu_millis).sum();
    let total_memory: i64 = scheduled.iter().map(|r| r.memory_bytes).sum();
    let computed = reservation_per_node(&config);
    let total = computed.times(nodes as u32).expect("countable");
    let counters = cluster.counters();
    println!("mode {mode}: {IMAGES} images on {nodes} nodes, time scale {scale}");
    println!("  computed per node: {computed}");
    println!("  computed on {nodes} nodes: {total}");
    println!(
        "  scheduler per node: CPU {}m, memory {}Mi requested; on {nodes} nodes: CPU {}m, memory {}Mi requested",
        per_pod.cpu_millis,
        per_pod.memory_bytes >> 20,
        total_cpu,
        total_memory >> 20
    );
    println!(
        "  every node cached after {sim_cached} simulated seconds (the last pod Ready); seen by polling after \
         {all_ready:.2?} real"
    );
    println!(
        "  pulls {}, manifest requests {}, pod status writes {} ({:.1} per pod), store writes {}",
        counters.pulls,
        counters.manifest_requests,
        counters.pod_status_writes,
        counters.pod_status_writes as f64 / nodes as f64,
        store.current_resource_version() - rv_before
    );
    shutdown.cancel();
    // Let the cancelled tasks wind down before the next mode measures.
    tokio::time::sleep(Duration::from_secs(1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark; run in release with --ignored --nocapture"]
async fn twenty_images_on_many_nodes_in_each_mode() {
    let nodes: usize = env_or("KIP_SIM_NODES", 1000);
    let scale: f64 = env_or("KIP_SIM_SCALE", 10.0);
    let modes: String = env_or("KIP_BENCH_MODES", "containers,init,image-volume".to_string());
    for mode in modes.split(',') {
        one_mode(mode.trim(), nodes, scale).await;
    }
}
