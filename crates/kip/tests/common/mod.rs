//! A simulated cluster and an in-process puller for the integration tests.
#![allow(dead_code, clippy::expect_used, clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment};
use k8s_openapi::api::core::v1::Namespace;
use kip::config::Config;
use kip::puller::config_source::ConfigSource;
use kip::puller::{RunOptions, run_with};
use kip::telemetry::logging::LogFormat;
use kip_sim::{Sim, SimOptions};
use kube::api::PostParams;
use kube::{Api, Client};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_util::sync::CancellationToken;

pub const NAMESPACE: &str = "k8s-image-puller";
pub const DEPLOYMENT: &str = "kubernetes-image-puller";
pub const DAEMONSET: &str = "kubernetes-image-puller";
pub const IMAGES: &str = "java=quay.io/eclipse/che-java11-maven:next;theia=quay.io/eclipse/che-theia:next";

pub fn start_sim(nodes: usize) -> Sim {
    let _ = tracing_subscriber::fmt().with_env_filter("warn,kip=info").with_test_writer().try_init();
    Sim::start(SimOptions { nodes, ..SimOptions::default() }).expect("start kip-sim")
}

/// The namespace and kip's own Deployment, which owns the DaemonSet.
pub async fn prepare(client: &Client) -> Deployment {
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let ns = serde_json::from_value(json!({"metadata": {"name": NAMESPACE}})).expect("namespace");
    namespaces.create(&PostParams::default(), &ns).await.expect("create namespace");
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), NAMESPACE);
    let deployment = serde_json::from_value(json!({
        "metadata": {"name": DEPLOYMENT, "labels": {"app": "kubernetes-image-puller"}},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "kubernetes-image-puller"}},
            "template": {
                "metadata": {"labels": {"app": "kubernetes-image-puller"}},
                "spec": {"containers": [{"name": "kip", "image": "ghcr.io/kip-dev/kip:0.1.0", "args": ["run"]}]}
            }
        }
    }))
    .expect("deployment");
    deployments.create(&PostParams::default(), &deployment).await.expect("create deployment")
}

/// The images the tests cache, on the simulator's own registry (which kip reaches over plain
/// HTTP), so that digest lookups stay on this machine.
pub fn sim_images(sim: &Sim) -> String {
    let host = sim.registry_host();
    format!("java={host}/eclipse/che-java11-maven:next;theia={host}/eclipse/che-theia:next")
}

/// [`vars`] with [`sim_images`] and the simulator's registry marked insecure.
pub fn vars_on(sim: &Sim, extra: &[(&str, &str)]) -> BTreeMap<String, String> {
    let images = sim_images(sim);
    let host = sim.registry_host();
    let mut all = vec![("IMAGES", images.as_str()), ("KIP_INSECURE_REGISTRIES", host.as_str())];
    all.extend_from_slice(extra);
    vars(&all)
}

/// A simulator whose cluster runs `time_scale` times faster than real time.
pub fn start_cluster(nodes: Vec<kip_sim::cluster::node::NodeSpec>, time_scale: f64) -> Sim {
    let filter = std::env::var("RUST_LOG").unwrap_or_else(|_| "warn,kip=info".into());
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_test_writer().try_init();
    let mut cluster = kip_sim::cluster::ClusterConfig::with_nodes(0).time_scale(time_scale);
    cluster.nodes = nodes;
    Sim::start(SimOptions { cluster: Some(cluster), ..SimOptions::default() }).expect("start kip-sim")
}

pub fn vars(extra: &[(&str, &str)]) -> BTreeMap<String, String> {
    let mut vars: BTreeMap<String, String> = [
        ("IMAGES", IMAGES),
        ("DEPLOYMENT_NAME", DEPLOYMENT),
        ("NAMESPACE", NAMESPACE),
        ("KIP_IMAGE", "ghcr.io/kip-dev/kip:0.1.0"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    vars.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    vars
}

pub fn free_addr() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr")
}

pub fn options() -> RunOptions {
    RunOptions {
        http_addr: free_addr(),
        log_format: LogFormat::Text,
        leader_elect: false,
        lease_name: None,
        lease_duration: Duration::from_secs(3),
        lease_renew: Duration::from_millis(500),
        identity: None,
        config_map: None,
        refresh_interval: None,
    }
}

/// A puller running in this process.
pub struct Puller {
    pub stop: CancellationToken,
    pub task: tokio::task::JoinHandle<anyhow::Result<()>>,
    pub http: SocketAddr,
}

impl Puller {
    pub fn start(client: &Client, vars: BTreeMap<String, String>, options: RunOptions) -> Puller {
        let config = Arc::new(Config::from_vars(&vars).unwrap_or_else(|e| panic!("{e}")));
        let source = ConfigSource { env: vars, config_map: options.config_map.clone() };
        let stop = CancellationToken::new();
        let http = options.http_addr;
        let task = tokio::spawn(run_with(client.clone(), config, source, options, stop.clone()));
        Puller { stop, task, http }
    }

    /// Stops it as SIGTERM would, and waits for the cleanup.
    pub async fn stop(self) {
        self.stop.cancel();
        tokio::time::timeout(Duration::from_secs(30), self.task)
            .await
            .expect("the puller stops in time")
            .expect("the puller task")
            .expect("the puller ends cleanly");
    }

    pub async fn get(&self, path: &str) -> (u16, String) {
        http_get(self.http, path).await
    }

    pub async fn metric(&self, name: &str) -> Option<f64> {
        let (_, text) = self.get("/metrics").await;
        text.lines()
            .find(|l| l.starts_with(name) && l[name.len()..].starts_with([' ', '{']))
            .and_then(|l| l.rsplit(' ').next().and_then(|v| v.parse().ok()))
    }
}

/// A plain HTTP/1.0 GET (status, body); (0, "") when nothing answers.
pub async fn http_get(addr: SocketAddr, path: &str) -> (u16, String) {
    http_request(addr, "GET", path).await
}

/// A plain HTTP/1.0 POST without body (status, body).
pub async fn http_post(addr: SocketAddr, path: &str) -> (u16, String) {
    http_request(addr, "POST", path).await
}

async fn http_request(addr: SocketAddr, method: &str, path: &str) -> (u16, String) {
    let Ok(mut stream) = tokio::net::TcpStream::connect(addr).await else { return (0, String::new()) };
    let request = format!("{method} {path} HTTP/1.0\r\nHost: {addr}\r\nContent-Length: 0\r\n\r\n");
    if stream.write_all(request.as_bytes()).await.is_err() {
        return (0, String::new());
    }
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response).await;
    let status = response.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = response.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    (status, body)
}

/// Polls `check` until it returns Some, or fails the test after `timeout` naming `what`.
pub async fn eventually<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        if tokio::time::Instant::now() > deadline {
            panic!("timed out after {timeout:?} waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub fn daemonsets(client: &Client) -> Api<DaemonSet> {
    Api::namespaced(client.clone(), NAMESPACE)
}

pub async fn daemonset(client: &Client) -> Option<DaemonSet> {
    daemonsets(client).get_opt(DAEMONSET).await.ok().flatten()
}

pub fn container_images(ds: &DaemonSet) -> Vec<(String, String)> {
    ds.spec
        .as_ref()
        .and_then(|s| s.template.spec.as_ref())
        .map(|p| p.containers.iter().map(|c| (c.name.clone(), c.image.clone().unwrap_or_default())).collect())
        .unwrap_or_default()
}

pub fn template_annotation(ds: &DaemonSet, key: &str) -> Option<String> {
    ds.spec.as_ref()?.template.metadata.as_ref()?.annotations.as_ref()?.get(key).cloned()
}

/// The digests kip recorded on the DaemonSet, by container name.
pub fn recorded_digests(ds: &DaemonSet) -> BTreeMap<String, String> {
    ds.metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get("kip.dev/digests"))
        .and_then(|text| serde_json::from_str(text).ok())
        .unwrap_or_default()
}

/// The value of the metric line that starts with `series` exactly (name and labels), e.g.
/// `kip_image_nodes_cached{image="theia"}`.
pub async fn metric_series(puller: &Puller, series: &str) -> Option<f64> {
    let (_, text) = puller.get("/metrics").await;
    text.lines()
        .find_map(|line| line.strip_prefix(series).and_then(|rest| rest.strip_prefix(' ')))
        .and_then(|value| value.trim().parse().ok())
}

/// The caching pods that are not being deleted.
pub async fn caching_pods(client: &Client) -> Vec<k8s_openapi::api::core::v1::Pod> {
    let pods: Api<k8s_openapi::api::core::v1::Pod> = Api::namespaced(client.clone(), NAMESPACE);
    let params = kube::api::ListParams::default().labels("app.kubernetes.io/name=image-puller");
    pods.list(&params)
        .await
        .map(|list| list.items.into_iter().filter(|p| p.metadata.deletion_timestamp.is_none()).collect())
        .unwrap_or_default()
}

/// The DaemonSet once its current generation runs ready on every node it selects.
pub async fn rolled_out(client: &Client) -> Option<DaemonSet> {
    let ds = daemonset(client).await?;
    let status = ds.status.as_ref()?;
    let current = status.observed_generation == ds.metadata.generation;
    let desired = status.desired_number_scheduled;
    let done = desired > 0
        && status.updated_number_scheduled == Some(desired)
        && status.number_ready == desired
        && status.number_available == Some(desired);
    (current && done && caching_pods(client).await.len() == desired as usize).then_some(ds)
}

/// Events of `reason` in the namespace (events.k8s.io/v1, as kip records them).
pub async fn events(client: &Client, reason: &str) -> Vec<k8s_openapi::api::events::v1::Event> {
    let api: Api<k8s_openapi::api::events::v1::Event> = Api::namespaced(client.clone(), NAMESPACE);
    api.list(&Default::default())
        .await
        .map(|list| list.items.into_iter().filter(|e| e.reason.as_deref() == Some(reason)).collect())
        .unwrap_or_default()
}
