//! What `kip run` costs: a release `kip run` in a process of its own, pointed at a simulated
//! cluster (in this process) through a kubeconfig, configured as the install methods do it
//! (environment plus the watched ConfigMap, leader election on, renewing every 5 s). Measured
//! from outside, in `/proc/PID`: resident memory and CPU time while it rolls the caching pods
//! out to every node, then over a steady window where nothing changes, with the API requests
//! it made in that window (`Sim::stats`, by verb and resource). Also the time from start
//! until every node holds every image.
//!
//! ```text
//! KIP_BENCH_NODES=1000 cargo test -p kip --release --test bench_footprint -- --ignored --nocapture
//! ```
//! `KIP_BENCH_NODES` (default 1000), `KIP_BENCH_IMAGES` (20), `KIP_BENCH_SCALE` (simulated
//! seconds per real second, 1) and `KIP_BENCH_STEADY_SECS` (the steady window, 600) tune it.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod bench_support;
mod common;

use std::collections::BTreeMap;
use std::process::Stdio;
use std::time::Duration;

use bench_support::coverage::CoverageTracker;
use bench_support::{env_or, images_var, proc_status_kib, publish_images, thousands};
use common::*;
use k8s_openapi::api::core::v1::ConfigMap;
use kip_sim::cluster::node::NodeSpec;
use kip_sim::controllers::DAEMONSETS;
use kip_sim::store::ObjectKey;
use kube::Api;
use kube::api::PostParams;
use serde_json::json;
use tokio::time::Instant;

const CONFIG_MAP: &str = "k8s-image-puller";

struct Sample {
    at: Duration,
    rss_kib: u64,
    cpu: Duration,
}

impl Sample {
    fn take(pid: u32, start: Instant) -> Sample {
        Sample { at: start.elapsed(), rss_kib: proc_status_kib(pid, "VmRSS:"), cpu: bench_support::cpu_time(pid) }
    }

    fn line(&self, what: &str) -> String {
        format!(
            "  {what:<44} after {:>7.1} s: VmRSS {:>6.1} MiB, CPU so far {:>6.2} s",
            self.at.as_secs_f64(),
            self.rss_kib as f64 / 1024.0,
            self.cpu.as_secs_f64()
        )
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark; run in release with --ignored --nocapture"]
async fn kip_run_footprint() {
    let nodes: usize = env_or("KIP_BENCH_NODES", 1000);
    let image_count: usize = env_or("KIP_BENCH_IMAGES", 20);
    let scale: f64 = env_or("KIP_BENCH_SCALE", 1.0);
    let steady = Duration::from_secs(env_or("KIP_BENCH_STEADY_SECS", 600));
    let load_before = bench_support::load_average();

    let node_names: Vec<String> = (1..=nodes).map(|i| format!("node-{i}")).collect();
    let sim = start_cluster(node_names.iter().map(NodeSpec::new).collect(), scale);
    let images = publish_images(&sim, image_count);
    let client = sim.client().expect("client");
    prepare(&client).await;
    let host = sim.registry_host();
    let data = BTreeMap::from([
        ("IMAGES".to_string(), images_var(&images)),
        ("CACHING_INTERVAL_HOURS".to_string(), "1".to_string()),
        ("DAEMONSET_NAME".to_string(), DAEMONSET.to_string()),
        ("NAMESPACE".to_string(), NAMESPACE.to_string()),
        ("KIP_IMAGE".to_string(), "ghcr.io/kip-dev/kip:0.1.0".to_string()),
        ("KIP_INSECURE_REGISTRIES".to_string(), host.clone()),
    ]);
    let config_maps: Api<ConfigMap> = Api::namespaced(client.clone(), NAMESPACE);
    let config_map = serde_json::from_value(json!({"metadata": {"name": CONFIG_MAP}, "data": data})).unwrap();
    config_maps.create(&PostParams::default(), &config_map).await.expect("create the ConfigMap");

    let dir = tempfile::tempdir().expect("a temporary directory");
    let kubeconfig = dir.path().join("kubeconfig");
    sim.write_kubeconfig(&kubeconfig).expect("kubeconfig");
    let log_path = dir.path().join("kip.log");
    let http = free_addr();
    let store = sim.store();
    let tracker = CoverageTracker::start(&store, NAMESPACE, node_names.iter().cloned());

    // As the Deployment of the install methods runs it: envFrom the ConfigMap, and the
    // ConfigMap watched.
    let mut kip = tokio::process::Command::new(env!("CARGO_BIN_EXE_kip"))
        .arg("run")
        .envs(&data)
        .env("KUBECONFIG", &kubeconfig)
        .env("DEPLOYMENT_NAME", DEPLOYMENT)
        .env("KIP_CONFIG_MAP", CONFIG_MAP)
        .env("KIP_LEASE_NAME", "kip-kubernetes-image-puller")
        .env("POD_NAME", "kubernetes-image-puller-bench")
        .env("KIP_HTTP_ADDR", http.to_string())
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log_path).expect("log file"))
        .kill_on_drop(true)
        .spawn()
        .expect("start kip run");
    let pid = kip.id().expect("kip's pid");
    let start = Instant::now();
    println!("kip run (pid {pid}) against {nodes} simulated nodes, {image_count} images, time scale {scale}");
    println!("load average before: {load_before}");

    let ds_key = ObjectKey::new(NAMESPACE, DAEMONSET);
    let (mut applied, mut running, mut cached) = (None, None, None);
    let limit = Duration::from_secs(env_or("KIP_BENCH_LIMIT_SECS", 3600));
    while cached.is_none() {
        tokio::time::sleep(Duration::from_millis(250)).await;
        assert!(start.elapsed() < limit, "not every node cached after {limit:?}; see {}", log_path.display());
        assert!(kip.try_wait().expect("kip's state").is_none(), "kip exited; see {}", log_path.display());
        let ds = store.get(&DAEMONSETS, &ds_key);
        if applied.is_none() && ds.is_some() {
            applied = Some(Sample::take(pid, start));
        }
        let rolled = ds.as_deref().is_some_and(|ds| {
            kip_sim::cluster::daemonset_rolled_out(ds) && ds["status"]["desiredNumberScheduled"] == json!(nodes)
        });
        if running.is_none() && rolled && tracker.uncovered_now() == 0 {
            running = Some(Sample::take(pid, start));
        }
        if running.is_some() && fully_cached(http).await == Some(nodes as f64) {
            cached = Some(Sample::take(pid, start));
        }
    }
    let rollout_peak = proc_status_kib(pid, "VmHWM:");
    println!("{}", applied.unwrap().line("the DaemonSet applied"));
    println!("{}", running.unwrap().line("a caching pod Running and Ready on every node"));
    println!("{}", cached.as_ref().unwrap().line("kip_nodes_fully_cached = every node"));
    println!("  peak resident memory until then (VmHWM): {:.1} MiB", rollout_peak as f64 / 1024.0);

    // Let the last status changes and the aggregated events go by, then measure a window in
    // which nothing changes.
    tokio::time::sleep(Duration::from_secs(30)).await;
    let cluster = sim.cluster().expect("a cluster");
    let counters_before = cluster.counters();
    let registry_before = cluster.catalog().registry_requests();
    sim.reset_stats();
    let begin = Sample::take(pid, start);
    let (mut rss_min, mut rss_max) = (u64::MAX, 0);
    let window_start = Instant::now();
    while window_start.elapsed() < steady {
        tokio::time::sleep(Duration::from_secs(5).min(steady)).await;
        let rss = proc_status_kib(pid, "VmRSS:");
        (rss_min, rss_max) = (rss_min.min(rss), rss_max.max(rss));
    }
    let window = window_start.elapsed();
    let stats = sim.stats();
    let end = Sample::take(pid, start);
    let counters = cluster.counters();
    let registry = cluster.catalog().registry_requests();
    let per_hour = |count: u64| count as f64 * 3600.0 / window.as_secs_f64();
    let cpu = end.cpu.saturating_sub(begin.cpu);

    println!("steady window of {:.0} s (nothing changed in the cluster):", window.as_secs_f64());
    println!(
        "  VmRSS {:.1} to {:.1} MiB; peak over the whole run (VmHWM) {:.1} MiB",
        rss_min as f64 / 1024.0,
        rss_max as f64 / 1024.0,
        proc_status_kib(pid, "VmHWM:") as f64 / 1024.0
    );
    println!(
        "  CPU {:.2} s in the window: {:.1} s per hour ({:.3}% of one core)",
        cpu.as_secs_f64(),
        cpu.as_secs_f64() * 3600.0 / window.as_secs_f64(),
        100.0 * cpu.as_secs_f64() / window.as_secs_f64()
    );
    println!(
        "  cluster in the window: {} pod and {} node status writes, {} image pulls; kip's registry requests: {}",
        counters.pod_status_writes - counters_before.pod_status_writes,
        counters.node_status_writes - counters_before.node_status_writes,
        counters.pulls - counters_before.pulls,
        registry.total() - registry_before.total()
    );
    println!(
        "  API requests by kip: {} in {:.0} s, {:.0} per hour extrapolated (x 3600 / {:.0})",
        stats.total,
        window.as_secs_f64(),
        per_hour(stats.total),
        window.as_secs_f64()
    );
    let leases = stats.by_resource.get("leases.coordination.k8s.io").map(|v| v.values().sum()).unwrap_or(0);
    println!(
        "    of which the leader Lease: {leases} ({:.0} per hour); everything else: {} ({:.0} per hour)",
        per_hour(leases),
        stats.total - leases,
        per_hour(stats.total - leases)
    );
    for (resource, verbs) in &stats.by_resource {
        for (verb, count) in verbs {
            println!("    {resource:<32} {verb:<8} {:>6} ({:>7.1} per hour)", thousands(*count), per_hour(*count));
        }
    }

    // As a Deployment's rollout would: SIGTERM, and kip deletes the DaemonSet.
    let killed = std::process::Command::new("kill").args(["-TERM", &pid.to_string()]).status().expect("kill");
    assert!(killed.success());
    let status = tokio::time::timeout(Duration::from_secs(60), kip.wait()).await.expect("kip stops").expect("wait");
    assert!(status.success(), "kip ends cleanly on SIGTERM: {status}; see {}", log_path.display());
    println!("CPU over the whole run: {:.2} s", end.cpu.as_secs_f64());
    println!("load average after: {}", bench_support::load_average());
}

/// `kip_nodes_fully_cached` from kip's metrics endpoint (not the API server).
async fn fully_cached(http: std::net::SocketAddr) -> Option<f64> {
    let (_, text) = http_get(http, "/metrics").await;
    text.lines()
        .find_map(|line| line.strip_prefix("kip_nodes_fully_cached "))
        .and_then(|value| value.trim().parse().ok())
}
