//! kip end to end on a real container runtime: the puller runs in this process against a
//! simulated control plane whose node runs its containers in containerd (over the CRI), pulling
//! from local registries (one open, one with basic auth and an image pull secret). The images
//! are cached for real: containerd holds them by digest, the node reports them, the caching
//! containers run kip-sleep copied by the init container (a `FROM scratch` image too), the pod
//! is Ready, `kip status` reports every image cached; on shutdown the caching containers end
//! on SIGTERM with exit code 0.
//!
//! Needs `KIP_REAL_RUNTIME=1`, root and the packages of `scripts/real-runtime/install.sh`
//! (`scripts/test.sh` sets it up); otherwise each test says it was skipped.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::io::Write;
use std::time::{Duration, Instant};

use base64::Engine;
use common::*;
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Namespace, Node, Pod, Secret};
use kip_sim::cluster::ClusterConfig;
use kip_sim::cluster::node::NodeSpec;
use kip_sim::cri::harness::RealRuntime;
use kip_sim::cri::oci::{ImageBuilder, KIP_SLEEP_PATH};
use kip_sim::cri::{ContainerFilter, ContainerPhase};
use kip_sim::kubelet::cri_runtime::{translate::POD_UID_LABEL, volumes};
use kip_sim::{Sim, SimOptions};
use kube::api::{ListParams, PostParams, WatchEvent, WatchParams};
use kube::{Api, Client, ResourceExt};
use serde_json::json;

const NODE: &str = "node-1";
const PULL_SECRET: &str = "kip-pull";
/// Generous: every step takes about a second here, but a loaded machine may be slow.
const WAIT: Duration = Duration::from_secs(120);
const POD_SELECTOR: &str = "app.kubernetes.io/name=image-puller";
const INIT: &str = "copy-sleep";

fn note(text: &str) {
    let _ = writeln!(std::io::stderr(), "{text}");
}

/// The real runtime, or `None` (and a note) when the tests are off.
fn start_runtime(test: &str) -> Option<RealRuntime> {
    RealRuntime::start_if_enabled(test).unwrap_or_else(|error| panic!("{error}"))
}

/// A simulated control plane with one node whose containers run in the runtime's containerd.
fn start_sim(runtime: &RealRuntime) -> Sim {
    let _ = tracing_subscriber::fmt().with_env_filter("warn,kip=info").with_test_writer().try_init();
    let node = NodeSpec::new(NODE).with_cri_runtime(runtime.cri_socket(), runtime.dir().join("kubelet"));
    let cluster = ClusterConfig { nodes: vec![node], ..ClusterConfig::with_nodes(0) };
    Sim::start(SimOptions { cluster: Some(cluster), ..SimOptions::default() }).expect("start kip-sim")
}

/// What the tests push: kip's image stand-in and two images to cache, each with its digest.
struct Pushed {
    kip_image: String,
    kip_sleep: Vec<u8>,
    /// (container name, reference, repository, manifest digest)
    cached: Vec<(String, String, String, String)>,
}

async fn push_images(runtime: &RealRuntime) -> Pushed {
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
    Pushed { kip_image: format!("{}/kip-dev/kip:e2e", runtime.registry()), kip_sleep, cached }
}

/// kip's namespace, its pull secret for the auth registry, and its own Deployment (owner of
/// the DaemonSet), whose pod runs the stand-in image: nothing is pulled from the internet.
async fn prepare_cluster(client: &Client, runtime: &RealRuntime, kip_image: &str) {
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

fn puller_vars(pushed: &Pushed, extra: &[(&str, &str)]) -> BTreeMap<String, String> {
    let images: Vec<String> = pushed.cached.iter().map(|(name, image, ..)| format!("{name}={image}")).collect();
    let mut all = vec![
        ("IMAGES", images.join(";")),
        ("KIP_IMAGE", pushed.kip_image.clone()),
        ("IMAGE_PULL_SECRETS", PULL_SECRET.to_string()),
    ];
    all.extend(extra.iter().map(|(k, v)| (*k, v.to_string())));
    let pairs: Vec<(&str, &str)> = all.iter().map(|(k, v)| (*k, v.as_str())).collect();
    vars(&pairs)
}

/// The caching pods (the DaemonSet's), with their statuses.
async fn caching_pods(client: &Client) -> Vec<Pod> {
    let pods: Api<Pod> = Api::namespaced(client.clone(), NAMESPACE);
    pods.list(&ListParams::default().labels(POD_SELECTOR)).await.map(|l| l.items).unwrap_or_default()
}

fn is_ready(pod: &Pod) -> bool {
    pod.status.iter().flat_map(|s| s.conditions.iter().flatten()).any(|c| c.type_ == "Ready" && c.status == "True")
}

/// `(exit code, reason)` of each terminated container of the pod, init containers included.
fn terminations(pod: &Pod) -> BTreeMap<String, (i32, String)> {
    let status = pod.status.as_ref();
    let all = status.iter().flat_map(|s| s.init_container_statuses.iter().chain(s.container_statuses.iter()).flatten());
    all.filter_map(|c| {
        let t = c.state.as_ref()?.terminated.as_ref()?;
        Some((c.name.clone(), (t.exit_code, t.reason.clone().unwrap_or_default())))
    })
    .collect()
}

async fn node_image_names(client: &Client) -> Vec<String> {
    let node = Api::<Node>::all(client.clone()).get(NODE).await.unwrap();
    let images = node.status.and_then(|s| s.images).unwrap_or_default();
    images.into_iter().flat_map(|i| i.names.unwrap_or_default()).collect()
}

/// Waits until the DaemonSet has every scheduled pod ready, and returns its one pod.
async fn wait_cached(client: &Client) -> Pod {
    eventually("the DaemonSet's pod to be Ready on the node", WAIT, || async {
        let ds = daemonset(client).await?;
        let status = ds.status?;
        let pods = caching_pods(client).await;
        let ready = status.desired_number_scheduled == 1 && status.number_ready == 1;
        (ready && pods.len() == 1 && is_ready(&pods[0])).then(|| pods[0].clone())
    })
    .await
}

#[tokio::test]
async fn images_are_cached_on_a_real_node_and_the_caching_containers_end_on_sigterm() {
    let test = "images_are_cached_on_a_real_node_and_the_caching_containers_end_on_sigterm";
    let Some(runtime) = start_runtime(test) else { return };
    let pushed = push_images(&runtime).await;
    let sim = start_sim(&runtime);
    let client = sim.client().unwrap();
    prepare_cluster(&client, &runtime, &pushed.kip_image).await;

    let started = Instant::now();
    let puller = Puller::start(&client, puller_vars(&pushed, &[]), options());
    let pod = wait_cached(&client).await;
    note(&format!("puller started to caching pod Ready: {:?}", started.elapsed()));

    // The pod: the init container copied kip-sleep and ended well; each image runs it.
    assert_eq!(terminations(&pod).get(INIT), Some(&(0, "Completed".to_string())), "{:?}", terminations(&pod));
    let statuses = pod.status.as_ref().unwrap().container_statuses.clone().unwrap();
    for (name, _, repository, digest) in &pushed.cached {
        let status = statuses.iter().find(|c| &c.name == name).unwrap();
        assert!(status.ready && status.state.as_ref().unwrap().running.is_some(), "{status:?}");
        assert_eq!(status.image_id, format!("{repository}@{digest}"), "{name} runs the pushed content");
    }
    let volume = volumes::pod_dir(&runtime.dir().join("kubelet"), &pod.uid().unwrap())
        .join("volumes/kubernetes.io~empty-dir/kip");
    assert_eq!(std::fs::read(volume.join("sleep")).unwrap(), pushed.kip_sleep, "the copy is kip-sleep itself");

    // containerd holds every image by its digest, and runs one container per cached image.
    let cri = runtime.client().await.unwrap();
    let held = cri.list_images().await.unwrap();
    for (name, reference, repository, digest) in &pushed.cached {
        let image = held.iter().find(|i| i.repo_tags.contains(reference)).unwrap_or_else(|| panic!("{name}: {held:?}"));
        assert_eq!(image.digest_in(repository), Some(digest.as_str()), "{name}");
    }
    let this_pod = BTreeMap::from([(POD_UID_LABEL.to_string(), pod.uid().unwrap())]);
    let running =
        ContainerFilter { phase: Some(ContainerPhase::Running), labels: this_pod.clone(), ..Default::default() };
    let mut running: Vec<String> = cri.list_containers(&running).await.unwrap().into_iter().map(|c| c.name).collect();
    running.sort();
    assert_eq!(running, ["data", "private"]);

    // The node reports them (its status is written at most every 10 s), and so does kip.
    let started = Instant::now();
    let wanted: Vec<String> =
        pushed.cached.iter().map(|(_, _, repository, digest)| format!("{repository}@{digest}")).collect();
    eventually("the node to list the cached images by digest", WAIT, || async {
        let names = node_image_names(&client).await;
        wanted.iter().all(|w| names.contains(w)).then_some(())
    })
    .await;
    note(&format!("node status.images listed the cached images {:?} after Ready", started.elapsed()));
    let report = kip::status::fetch::fetch(&client, NAMESPACE, DAEMONSET).await.unwrap();
    note(&format!("kip status:\n{}", kip::status::table::images_table(&report)));
    assert!(report.all_cached(), "{report:?}");
    for (name, ..) in &pushed.cached {
        assert!(report.is_cached(name, NODE), "{name}: {report:?}");
    }

    // Shutdown: kip deletes the DaemonSet, the pod goes with grace 1 s, kip-sleep honours SIGTERM.
    let pods: Api<Pod> = Api::namespaced(client.clone(), NAMESPACE);
    let version =
        pods.list(&ListParams::default().labels(POD_SELECTOR)).await.unwrap().metadata.resource_version.unwrap();
    let mut events =
        pods.watch(&WatchParams::default().labels(POD_SELECTOR).timeout(120), &version).await.unwrap().boxed();
    let started = Instant::now();
    puller.stop().await;
    let mut last = pod.clone();
    loop {
        match tokio::time::timeout(WAIT, events.try_next()).await.expect("the pod goes in time").unwrap() {
            Some(WatchEvent::Modified(pod)) => last = pod,
            Some(WatchEvent::Deleted(_)) => break,
            Some(_) => {}
            None => panic!("the watch ended before the caching pod was deleted"),
        }
    }
    note(&format!("puller stopped to caching pod gone: {:?}", started.elapsed()));
    let ended = terminations(&last);
    for (name, ..) in &pushed.cached {
        assert_eq!(ended.get(name), Some(&(0, "Completed".to_string())), "{name} ended on SIGTERM: {ended:?}");
    }
    let left = ContainerFilter { labels: this_pod, ..Default::default() };
    assert_eq!(cri.list_containers(&left).await.unwrap(), [], "nothing of the pod is left in containerd");
    assert!(!volume.exists(), "nor on the node's disk");
}
