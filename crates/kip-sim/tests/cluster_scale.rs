//! Scale benchmark: N simulated nodes and a DaemonSet of 50 images (kip's pod shape: an init
//! container and 50 sleeping containers), created directly in the store. Prints the time until
//! every pod runs, the peak resident memory of the process and the writes it took.
//!
//! ```text
//! KIP_SIM_NODES=5000 cargo test -p kip-sim --release --test cluster_scale -- --ignored --nocapture
//! ```
//! `KIP_SIM_NODES` (default 1000), `KIP_SIM_SCALE` (simulated seconds per real second, default
//! 100) and `KIP_SIM_HISTORY` (the store's watch history, default the store's) tune it.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use kip_sim::GroupResource;
use kip_sim::cluster::{self, ClusterConfig};
use kip_sim::controllers::{DAEMONSETS, PODS};
use kip_sim::store::{ObjectKey, Store, StoreOptions};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

const IMAGES: usize = 50;

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// A field of `/proc/self/status` in KiB (`VmHWM`, `VmRSS`).
fn proc_status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn daemonset() -> Value {
    let containers: Vec<Value> = (0..IMAGES)
        .map(|i| {
            json!({
                "name": format!("image-{i}"),
                "image": format!("registry.example.com/workspace/image-{i}:latest"),
                "command": ["/kip/sleep"],
                "args": ["720h"],
                "imagePullPolicy": "Always",
                "resources": {"requests": {"cpu": ".05", "memory": "10Mi"}, "limits": {"cpu": ".2", "memory": "20Mi"}},
                "securityContext": {"capabilities": {"drop": ["ALL"]}, "readOnlyRootFilesystem": true, "allowPrivilegeEscalation": false},
                "volumeMounts": [{"name": "kip", "mountPath": "/kip"}],
                "terminationMessagePath": "/dev/termination-log",
                "terminationMessagePolicy": "File",
            })
        })
        .collect();
    json!({
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": "kubernetes-image-puller", "namespace": "k8s-image-puller"},
        "spec": {
            "selector": {"matchLabels": {"test": "daemonset-test"}},
            "template": {
                "metadata": {"labels": {"test": "daemonset-test", "app.kubernetes.io/name": "image-puller"}},
                "spec": {
                    "terminationGracePeriodSeconds": 1,
                    "securityContext": {"seccompProfile": {"type": "RuntimeDefault"}, "fsGroup": 65532},
                    "volumes": [{"name": "kip", "emptyDir": {"sizeLimit": "50Mi"}}],
                    "initContainers": [{
                        "name": "copy-sleep",
                        "image": "quay.io/eclipse/kubernetes-image-puller:next",
                        "command": ["/bin/sh", "-c", "cp /bin/sleep /kip/sleep"],
                        "imagePullPolicy": "Always",
                        "volumeMounts": [{"name": "kip", "mountPath": "/kip"}],
                    }],
                    "containers": containers,
                },
            },
            "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}},
        },
    })
}

fn status_field(store: &Store, field: &str) -> i64 {
    store
        .get(&DAEMONSETS, &ObjectKey::new("k8s-image-puller", "kubernetes-image-puller"))
        .and_then(|ds| ds["status"][field].as_i64())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark; run in release with --ignored --nocapture"]
async fn fifty_images_on_many_nodes() {
    let nodes: usize = env_or("KIP_SIM_NODES", 1000);
    let scale: f64 = env_or("KIP_SIM_SCALE", 100.0);
    let defaults = StoreOptions::default();
    let history_limit = env_or("KIP_SIM_HISTORY", defaults.history_limit);
    let store = Arc::new(Store::new(StoreOptions { history_limit, ..defaults }));
    store
        .create(&GroupResource::core("namespaces"), json!({"metadata": {"name": "k8s-image-puller"}}))
        .expect("namespace");
    let shutdown = CancellationToken::new();
    let started = Instant::now();
    let cluster = cluster::spawn(store.clone(), ClusterConfig::with_nodes(nodes).time_scale(scale), shutdown.clone());
    let registered = started.elapsed();
    let rss_nodes = proc_status_kib("VmRSS:");
    let rv_before = store.current_resource_version();

    let started = Instant::now();
    store.create(&DAEMONSETS, daemonset()).expect("daemonset");
    let mut all_created = None;
    let limit = Duration::from_secs(env_or("KIP_SIM_LIMIT_SECS", 1800));
    let mut last_report = Instant::now();
    loop {
        tokio::time::sleep(Duration::from_millis(200)).await;
        if std::env::var("KIP_SIM_TRACE").is_ok() && last_report.elapsed() > Duration::from_secs(2) {
            last_report = Instant::now();
            println!(
                "{:>6.1?} rss {} MiB, scheduled {}, ready {}, store rv {}",
                started.elapsed(),
                proc_status_kib("VmRSS:") / 1024,
                status_field(&store, "currentNumberScheduled"),
                status_field(&store, "numberReady"),
                store.current_resource_version()
            );
        }
        if all_created.is_none() && status_field(&store, "currentNumberScheduled") == nodes as i64 {
            all_created = Some(started.elapsed());
        }
        if status_field(&store, "numberReady") == nodes as i64 {
            break;
        }
        assert!(started.elapsed() < limit, "not all pods ready after {limit:?}");
    }
    let all_ready = started.elapsed();
    let pods = store.list(&PODS, None).0;
    let running = pods.iter().filter(|p| p["status"]["phase"] == "Running").count();
    assert_eq!(running, nodes, "every daemon pod runs");
    let containers_running = pods
        .iter()
        .flat_map(|p| p["status"]["containerStatuses"].as_array().cloned().unwrap_or_default())
        .filter(|c| c["state"]["running"].is_object())
        .count();
    assert_eq!(containers_running, nodes * IMAGES);
    let counters = cluster.counters();
    println!("nodes: {nodes}, images per pod: {IMAGES}, time scale: {scale}, store history: {history_limit} events");
    println!("nodes registered in {registered:.2?}; resident memory then {} MiB", rss_nodes / 1024);
    println!("all {nodes} pods created after {:.2?}", all_created.unwrap_or(all_ready));
    println!(
        "all {nodes} pods Running and Ready after {all_ready:.2?} (simulated {:.0?})",
        cluster.clock().to_sim(all_ready)
    );
    println!("peak resident memory (VmHWM): {} MiB", proc_status_kib("VmHWM:") / 1024);
    tokio::time::sleep(Duration::from_secs(3)).await;
    println!("resident memory 3 s later (VmRSS): {} MiB", proc_status_kib("VmRSS:") / 1024);
    println!(
        "pulls: {} ({} GiB), manifest requests: {}",
        counters.pulls,
        counters.bytes_pulled >> 30,
        counters.manifest_requests
    );
    println!(
        "status writes: {} pod ({:.1} per pod), {} node; store writes in total: {}",
        counters.pod_status_writes,
        counters.pod_status_writes as f64 / nodes as f64,
        counters.node_status_writes,
        store.current_resource_version() - rv_before
    );
    shutdown.cancel();
}
