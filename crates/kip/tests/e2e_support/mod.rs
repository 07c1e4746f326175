//! Helpers of kip's end-to-end tests on a real container runtime: the runtime stack, a
//! simulated control plane whose node runs containerd, the pushed images, kip's namespace,
//! pull secret and Deployment, and reads of what the node and the caching pods show.
#![allow(dead_code, clippy::expect_used, clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::io::Write;
use std::time::Duration;

use crate::common::*;
use base64::Engine;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Namespace, Node, Pod, Secret};
use kip_sim::cluster::ClusterConfig;
use kip_sim::cluster::node::NodeSpec;
use kip_sim::cri::harness::RealRuntime;
use kip_sim::cri::oci::{ImageBuilder, KIP_SLEEP_PATH};
use kip_sim::{Sim, SimOptions};
use kube::api::{ListParams, PostParams};
use kube::{Api, Client};
use serde_json::json;

pub const NODE: &str = "node-1";
pub const PULL_SECRET: &str = "kip-pull";
/// Generous: every step takes about a second here, but a loaded machine may be slow.
pub const WAIT: Duration = Duration::from_secs(120);
pub const POD_SELECTOR: &str = "app.kubernetes.io/name=image-puller";
pub const INIT: &str = "copy-sleep";

pub fn note(text: &str) {
    let _ = writeln!(std::io::stderr(), "{text}");
}

/// The real runtime, or `None` (and a note) when the tests are off.
pub fn start_runtime(test: &str) -> Option<RealRuntime> {
    RealRuntime::start_if_enabled(test).unwrap_or_else(|error| panic!("{error}"))
}

/// A simulated control plane with one node whose containers run in the runtime's containerd.
pub fn start_cri_sim(runtime: &RealRuntime) -> Sim {
    let _ = tracing_subscriber::fmt().with_env_filter("warn,kip=info").with_test_writer().try_init();
    let node = NodeSpec::new(NODE).with_cri_runtime(runtime.cri_socket(), runtime.dir().join("kubelet"));
    let cluster = ClusterConfig { nodes: vec![node], ..ClusterConfig::with_nodes(0) };
    Sim::start(SimOptions { cluster: Some(cluster), ..SimOptions::default() }).expect("start kip-sim")
}

/// What the tests push: kip's image stand-in and two images to cache, each with its digest.
pub struct Pushed {
    pub kip_image: String,
    pub kip_sleep: Vec<u8>,
    /// The registries, which speak plain HTTP: `KIP_INSECURE_REGISTRIES`.
    pub insecure_registries: String,
    /// (container name, reference, repository, manifest digest)
    pub cached: Vec<(String, String, String, String)>,
}

pub async fn push_images(runtime: &RealRuntime) -> Pushed {
    let kip_sleep = std::fs::read(runtime.kip_sleep_binary()).unwrap();
    let open = runtime.open_registry();
    open.push("kip-dev/kip", "e2e", &ImageBuilder::kip_stand_in(kip_sleep.clone()).build().unwrap()).await.unwrap();
    // Nothing to run in it, no shell: only kip's copied sleep can keep it in use.
    let data = ImageBuilder::data_only("workspace data cached by kip").build().unwrap();
    let data_digest = open.push("kip/data", "1", &data).await.unwrap();
    let private = ImageBuilder::data_only("a private image").label("team", "kip").build().unwrap();
    let private_digest = runtime.authenticated_registry().push("kip/private", "1", &private).await.unwrap();
    let cached = [
        ("data", runtime.registry(), "kip/data", data_digest),
        ("private", runtime.auth_registry(), "kip/private", private_digest),
    ]
    .into_iter()
    .map(|(name, host, repo, digest)| (name.to_string(), format!("{host}/{repo}:1"), format!("{host}/{repo}"), digest))
    .collect();
    Pushed {
        kip_image: format!("{}/kip-dev/kip:e2e", runtime.registry()),
        kip_sleep,
        insecure_registries: format!("{};{}", runtime.registry(), runtime.auth_registry()),
        cached,
    }
}

/// kip's namespace, its pull secret for the auth registry, and its own Deployment (owner of
/// the DaemonSet), whose pod runs the stand-in image: nothing is pulled from the internet.
pub async fn prepare_cluster(client: &Client, runtime: &RealRuntime, kip_image: &str) {
    let create = PostParams::default();
    let namespace = serde_json::from_value(json!({"metadata": {"name": NAMESPACE}})).unwrap();
    Api::<Namespace>::all(client.clone()).create(&create, &namespace).await.unwrap();
    let engine = base64::engine::general_purpose::STANDARD;
    let pair = engine.encode(format!("{}:{}", runtime.auth().username, runtime.auth().password));
    let config = json!({"auths": {runtime.auth_registry(): {"auth": pair}}}).to_string();
    let secret = json!({"metadata": {"name": PULL_SECRET}, "type": "kubernetes.io/dockerconfigjson",
                        "data": {".dockerconfigjson": engine.encode(config)}});
    let secrets: Api<Secret> = Api::namespaced(client.clone(), NAMESPACE);
    secrets.create(&create, &serde_json::from_value(secret).unwrap()).await.unwrap();
    let labels = json!({"app": "kubernetes-image-puller"});
    let deployment = json!({
        "metadata": {"name": DEPLOYMENT, "labels": labels},
        "spec": {"replicas": 1, "selector": {"matchLabels": labels}, "template": {
            "metadata": {"labels": labels},
            "spec": {"containers": [{"name": "kip", "image": kip_image, "command": [KIP_SLEEP_PATH], "args": ["720h"]}]}
        }}
    });
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), NAMESPACE);
    deployments.create(&create, &serde_json::from_value(deployment).unwrap()).await.unwrap();
}

pub fn puller_vars(pushed: &Pushed, extra: &[(&str, &str)]) -> BTreeMap<String, String> {
    let images: Vec<String> = pushed.cached.iter().map(|(name, image, ..)| format!("{name}={image}")).collect();
    let mut all = vec![
        ("IMAGES", images.join(";")),
        ("KIP_IMAGE", pushed.kip_image.clone()),
        ("IMAGE_PULL_SECRETS", PULL_SECRET.to_string()),
        ("KIP_INSECURE_REGISTRIES", pushed.insecure_registries.clone()),
    ];
    all.extend(extra.iter().map(|(k, v)| (*k, v.to_string())));
    let pairs: Vec<(&str, &str)> = all.iter().map(|(k, v)| (*k, v.as_str())).collect();
    vars(&pairs)
}

/// The caching pods (the DaemonSet's), terminating ones included, with their statuses.
pub async fn every_caching_pod(client: &Client) -> Vec<Pod> {
    let pods: Api<Pod> = Api::namespaced(client.clone(), NAMESPACE);
    pods.list(&ListParams::default().labels(POD_SELECTOR)).await.map(|l| l.items).unwrap_or_default()
}

pub fn is_ready(pod: &Pod) -> bool {
    pod.status.iter().flat_map(|s| s.conditions.iter().flatten()).any(|c| c.type_ == "Ready" && c.status == "True")
}

/// `(exit code, reason)` of each terminated container of the pod, init containers included.
pub fn terminations(pod: &Pod) -> BTreeMap<String, (i32, String)> {
    let status = pod.status.as_ref();
    let all = status.iter().flat_map(|s| s.init_container_statuses.iter().chain(s.container_statuses.iter()).flatten());
    all.filter_map(|c| {
        let t = c.state.as_ref()?.terminated.as_ref()?;
        Some((c.name.clone(), (t.exit_code, t.reason.clone().unwrap_or_default())))
    })
    .collect()
}

pub async fn node_image_names(client: &Client) -> Vec<String> {
    let node = Api::<Node>::all(client.clone()).get(NODE).await.unwrap();
    let images = node.status.and_then(|s| s.images).unwrap_or_default();
    images.into_iter().flat_map(|i| i.names.unwrap_or_default()).collect()
}

/// Waits until the DaemonSet has every scheduled pod ready, and returns its one pod.
pub async fn wait_cached(client: &Client) -> Pod {
    eventually("the DaemonSet's pod to be Ready on the node", WAIT, || async {
        let ds = daemonset(client).await?;
        let status = ds.status?;
        let pods = every_caching_pod(client).await;
        let ready = status.desired_number_scheduled == 1 && status.number_ready == 1;
        (ready && pods.len() == 1 && is_ready(&pods[0])).then(|| pods[0].clone())
    })
    .await
}
