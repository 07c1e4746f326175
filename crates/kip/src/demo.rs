//! `kip demo`: the puller at work on a simulated cluster. Starts kip-sim with N nodes (of
//! differing download speeds), installs what a user would (namespace, ConfigMap, kip's
//! Deployment), runs the puller on a sample configuration, shows the nodes pulling, and ends
//! with a table of which node holds which image once every image is cached everywhere.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kip_sim::cluster::ClusterConfig;
use kip_sim::cluster::node::NodeSpec;
use kip_sim::{Sim, SimOptions};
use kube::api::PostParams;
use kube::{Api, Client};
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::puller::config_source::ConfigSource;
use crate::puller::{self, RunOptions};
use crate::status::{self, CacheReport};
use crate::telemetry::logging::LogFormat;

const NAMESPACE: &str = "k8s-image-puller";
const DEPLOYMENT: &str = "kubernetes-image-puller";
const CONFIG_MAP: &str = "k8s-image-puller";
const MIB: u64 = 1024 * 1024;

/// The sample: images a developer-workspace cluster caches, with plausible sizes. They are
/// served by the simulator's own registry (its address goes in front), so that kip resolves
/// the very digests the simulated nodes pull, without leaving this machine.
const SAMPLE: &[(&str, &str, u64)] = &[
    ("theia", "eclipse/che-theia:next", 620 * MIB),
    ("java11-maven", "eclipse/che-java11-maven:next", 480 * MIB),
    ("machine-exec", "eclipse/che-machine-exec:next", 28 * MIB),
];

#[derive(Debug, clap::Args)]
pub struct DemoOptions {
    /// Nodes of the simulated cluster.
    #[arg(long, default_value_t = 3)]
    pub nodes: usize,
    /// Simulated seconds per real second (image downloads take simulated time).
    #[arg(long, default_value_t = 4.0)]
    pub time_scale: f64,
    /// Give up after this many real seconds.
    #[arg(long, default_value_t = 300)]
    pub timeout: u64,
}

pub async fn run(options: DemoOptions) -> ExitCode {
    crate::telemetry::logging::init_with_level(LogFormat::Text, "warn");
    match demo(options).await {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(err) => {
            eprintln!("kip demo: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn cluster_config(nodes: usize, time_scale: f64) -> ClusterConfig {
    let mut config = ClusterConfig::with_nodes(0).time_scale(time_scale);
    // Nodes download at 100, 50 and 25 MiB/s in turn, so progress differs between them.
    config.nodes =
        (1..=nodes).map(|i| NodeSpec::new(format!("node-{i}")).with_bandwidth((100 * MIB) >> ((i - 1) % 3))).collect();
    config
}

async fn demo(options: DemoOptions) -> anyhow::Result<bool> {
    let nodes = options.nodes.max(1);
    println!("Starting a simulated cluster with {nodes} nodes...");
    let sim_options = SimOptions { cluster: Some(cluster_config(nodes, options.time_scale)), ..SimOptions::default() };
    let sim = tokio::task::spawn_blocking(move || Sim::start(sim_options)).await??;
    let registry = sim.registry_host();
    if let Some(cluster) = sim.cluster() {
        for (_, image, size) in SAMPLE {
            cluster.catalog().publish_content(&format!("{registry}/{image}"), "demo", *size);
        }
    }
    let client = sim.client()?;
    let vars = install(&client, &registry).await?;
    let images =
        SAMPLE.iter().map(|(name, image, _)| format!("{name}={registry}/{image}")).collect::<Vec<_>>().join("; ");
    println!("Installed kip in namespace {NAMESPACE}; caching: {images}");

    let config = Arc::new(Config::from_vars(&vars).map_err(|e| anyhow::anyhow!("{e}"))?);
    let stop = CancellationToken::new();
    let run_options = RunOptions {
        http_addr: "127.0.0.1:0".parse()?,
        log_format: LogFormat::Text,
        leader_elect: false,
        lease_name: None,
        lease_duration: Duration::from_secs(15),
        lease_renew: Duration::from_secs(5),
        identity: Some("kip-demo".into()),
        config_map: Some(CONFIG_MAP.into()),
        refresh_interval: None,
    };
    let source = ConfigSource { env: vars, config_map: Some(CONFIG_MAP.into()) };
    let puller = tokio::spawn(puller::run_with(client.clone(), config, source, run_options, stop.clone()));

    let cached = watch_progress(&client, nodes, Duration::from_secs(options.timeout)).await;
    stop.cancel();
    let _ = puller.await;
    tokio::task::spawn_blocking(move || sim.shutdown()).await?;
    Ok(cached)
}

/// What the install methods create: the namespace, the ConfigMap, and kip's Deployment (its
/// pod is simulated; the puller itself runs in this process). Returns the puller's variables.
async fn install(client: &Client, registry: &str) -> anyhow::Result<BTreeMap<String, String>> {
    let namespaces: Api<Namespace> = Api::all(client.clone());
    namespaces
        .create(&PostParams::default(), &serde_json::from_value(json!({"metadata": {"name": NAMESPACE}}))?)
        .await?;
    let images: String = SAMPLE.iter().map(|(name, image, _)| format!("{name}={registry}/{image};\n")).collect();
    let data = BTreeMap::from([
        ("IMAGES".to_string(), images),
        ("KIP_INSECURE_REGISTRIES".to_string(), registry.to_string()),
        ("CACHING_INTERVAL_HOURS".to_string(), "1".to_string()),
        ("NAMESPACE".to_string(), NAMESPACE.to_string()),
        ("DAEMONSET_NAME".to_string(), "kubernetes-image-puller".to_string()),
        ("KIP_IMAGE".to_string(), "ghcr.io/kip-dev/kip:0.1.0".to_string()),
    ]);
    let config_maps: Api<ConfigMap> = Api::namespaced(client.clone(), NAMESPACE);
    let config_map = serde_json::from_value(json!({"metadata": {"name": CONFIG_MAP}, "data": data}))?;
    config_maps.create(&PostParams::default(), &config_map).await?;
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), NAMESPACE);
    let labels = json!({"app": "kubernetes-image-puller"});
    let deployment = serde_json::from_value(json!({
        "metadata": {"name": DEPLOYMENT, "labels": labels},
        "spec": {
            "replicas": 1,
            "strategy": {"type": "Recreate"},
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": {"containers": [
                {"name": "kip", "image": "ghcr.io/kip-dev/kip:0.1.0", "args": ["run"]}
            ]}}
        }
    }))?;
    deployments.create(&PostParams::default(), &deployment).await?;
    let mut vars = data;
    vars.insert("DEPLOYMENT_NAME".into(), DEPLOYMENT.into());
    Ok(vars)
}

fn progress_line(report: &CacheReport, elapsed: Duration) -> String {
    let per_node: Vec<String> = report
        .nodes
        .iter()
        .map(|node| {
            let held = report.images.iter().filter(|i| i.cached_on.contains(node)).count();
            format!("{node} {held}/{}", report.images.len())
        })
        .collect();
    format!("[{:>5.1}s] {}", elapsed.as_secs_f64(), per_node.join("  "))
}

/// Prints a line whenever the picture changes; true once every node holds every image.
async fn watch_progress(client: &Client, nodes: usize, timeout: Duration) -> bool {
    let start = Instant::now();
    let mut last = String::new();
    while start.elapsed() < timeout {
        match status::fetch::fetch(client, NAMESPACE, "kubernetes-image-puller").await {
            Ok(report) => {
                let line = progress_line(&report, start.elapsed());
                let picture = line.split_once(']').map(|(_, rest)| rest.to_string()).unwrap_or_default();
                if picture != last {
                    println!("{line}");
                    last = picture;
                }
                if report.all_cached() && report.nodes.len() == nodes {
                    println!("\nEvery image is cached on every node after {:.1}s:\n", start.elapsed().as_secs_f64());
                    print!("{}", status::table::nodes_table(&report));
                    println!();
                    print!("{}", status::table::images_table(&report));
                    return true;
                }
            }
            // The DaemonSet appears a moment after the puller starts.
            Err(status::fetch::FetchError::NoDaemonSet { .. }) => {}
            Err(err) => eprintln!("kip demo: {err}"),
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    eprintln!("kip demo: not every image was cached within {}s", timeout.as_secs());
    false
}
