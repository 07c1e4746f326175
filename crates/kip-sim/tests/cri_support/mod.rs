//! Helpers of the kubelet-on-containerd tests: the real runtime stack, a simulated cluster whose
//! node runs its containers there, the test images, pods as kip renders them, and waits.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::future::Future;
use std::io::Write;
use std::time::Duration;

use k8s_openapi::api::core::v1::{ContainerStatus, Pod};
use kip_sim::cluster::ClusterConfig;
use kip_sim::cluster::node::NodeSpec;
use kip_sim::cri::harness::RealRuntime;
use kip_sim::cri::oci::ImageBuilder;
use kip_sim::kubelet::KubeletConfig;
use kip_sim::{Sim, SimOptions};
use kube::Api;
use kube::api::PostParams;
use serde_json::{Value, json};

pub const NODE: &str = "node-1";
pub const NAMESPACE: &str = "default";
/// The uid and gid kip's pods run as on plain Kubernetes.
pub const NONROOT: i64 = 65532;
/// Generous: a pull, a sandbox and a start each take well under a second here, but a loaded
/// machine may be slow.
pub const WAIT: Duration = Duration::from_secs(90);

/// The stack for one test, or `None` (and a note) if the real-runtime tests are off.
pub fn start_runtime(test: &str) -> Option<RealRuntime> {
    RealRuntime::start_if_enabled(test).unwrap_or_else(|error| panic!("{error}"))
}

pub fn note(text: &str) {
    let _ = writeln!(std::io::stderr(), "{text}");
}

/// Fast kubelet back-offs, so restarts and retries show within a test.
pub fn quick_kubelet() -> KubeletConfig {
    KubeletConfig {
        crash_loop_backoff: (Duration::from_millis(500), Duration::from_secs(2)),
        image_pull_backoff: (Duration::from_secs(1), Duration::from_secs(2)),
        sync_retry: Duration::from_secs(1),
        ..KubeletConfig::default()
    }
}

/// A simulator with one node, `node-1`, whose containers run in the runtime's containerd.
pub fn start_sim(runtime: &RealRuntime) -> Sim {
    start_sim_with(runtime, |_| {})
}

/// [`start_sim`], with the cluster's settings changed first.
pub fn start_sim_with(runtime: &RealRuntime, change: impl FnOnce(&mut ClusterConfig)) -> Sim {
    let _ = tracing_subscriber::fmt().with_env_filter("warn,kip_sim=info").with_test_writer().try_init();
    let node = NodeSpec::new(NODE).with_cri_runtime(runtime.cri_socket(), runtime.dir().join("kubelet"));
    let mut cluster = ClusterConfig { nodes: vec![node], kubelet: quick_kubelet(), ..ClusterConfig::with_nodes(0) };
    change(&mut cluster);
    Sim::start(SimOptions { cluster: Some(cluster), ..SimOptions::default() }).expect("the simulator starts")
}

/// The test images in the open registry: the kip stand-in (`kip/kip:1`, the real static
/// kip-sleep) and a `FROM scratch` data image with no shell (`kip/data:1`). Returns their
/// references and the data image's manifest digest.
pub struct TestImages {
    pub kip: String,
    pub data: String,
    pub data_repository: String,
    pub data_digest: String,
    pub kip_sleep: Vec<u8>,
}

pub async fn push_test_images(runtime: &RealRuntime) -> TestImages {
    let kip_sleep = std::fs::read(runtime.kip_sleep_binary()).unwrap();
    let registry = runtime.open_registry();
    registry.push("kip/kip", "1", &ImageBuilder::kip_stand_in(kip_sleep.clone()).build().unwrap()).await.unwrap();
    let data = ImageBuilder::data_only("cached by kip, nothing to run").build().unwrap();
    let data_digest = registry.push("kip/data", "1", &data).await.unwrap();
    TestImages {
        kip: format!("{}/kip/kip:1", runtime.registry()),
        data: format!("{}/kip/data:1", runtime.registry()),
        data_repository: format!("{}/kip/data", runtime.registry()),
        data_digest,
        kip_sleep,
    }
}

/// The restricted security context of kip's containers.
pub fn locked_down() -> Value {
    json!({"runAsNonRoot": true, "allowPrivilegeEscalation": false, "readOnlyRootFilesystem": true,
           "capabilities": {"drop": ["ALL"]}})
}

/// A pod bound to the node: kip's caching pod for one image (`copy-sleep` from `kip_image`,
/// then `/kip/sleep 720h` from `image`), as rendered for plain Kubernetes.
pub fn caching_pod(name: &str, kip_image: &str, image: &str) -> Value {
    let mount = json!([{"name": "kip", "mountPath": "/kip"}]);
    let resources = json!({"requests": {"cpu": ".05", "memory": "10Mi"}, "limits": {"cpu": ".2", "memory": "20Mi"}});
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": NAMESPACE, "labels": {"app.kubernetes.io/name": "image-puller"}},
        "spec": {
            "nodeName": NODE,
            "terminationGracePeriodSeconds": 5,
            "securityContext": {"seccompProfile": {"type": "RuntimeDefault"},
                                "runAsUser": NONROOT, "runAsGroup": NONROOT, "fsGroup": NONROOT},
            "volumes": [{"name": "kip", "emptyDir": {"sizeLimit": "50Mi"}}],
            "initContainers": [{"name": "copy-sleep", "image": kip_image, "imagePullPolicy": "Always",
                "command": ["/usr/local/bin/kip-sleep", "--copy-to", "/kip/sleep"],
                "volumeMounts": mount, "resources": resources, "securityContext": locked_down()}],
            "containers": [{"name": "data", "image": image, "imagePullPolicy": "Always",
                "command": ["/kip/sleep"], "args": ["720h"],
                "volumeMounts": mount, "resources": resources, "securityContext": locked_down()}]
        }
    })
}

/// A one-container pod bound to the node running the kip stand-in's kip-sleep with `args`.
pub fn kip_sleep_pod(name: &str, kip_image: &str, restart: &str, args: &[&str], security: Value) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": {
            "nodeName": NODE,
            "restartPolicy": restart,
            "terminationGracePeriodSeconds": 2,
            "containers": [{"name": "main", "image": kip_image, "command": ["/usr/local/bin/kip-sleep"],
                            "args": args, "securityContext": security}]
        }
    })
}

pub fn pods(sim: &Sim) -> Api<Pod> {
    Api::namespaced(sim.client().unwrap(), NAMESPACE)
}

pub async fn create(api: &Api<Pod>, pod: Value) -> Pod {
    api.create(&PostParams::default(), &serde_json::from_value(pod).unwrap()).await.unwrap()
}

/// Polls `check` until it returns Some, or fails the test after [`WAIT`] naming `what`.
pub async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        if tokio::time::Instant::now() > deadline {
            panic!("timed out after {WAIT:?} waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until the pod satisfies `check`, and returns it; a timeout shows the pod's status.
pub async fn pod_until(api: &Api<Pod>, name: &str, what: &str, check: impl Fn(&Pod) -> bool) -> Pod {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let pod = api.get_opt(name).await.ok().flatten();
        if let Some(pod) = pod.as_ref().filter(|pod| check(pod)) {
            return pod.clone();
        }
        if tokio::time::Instant::now() > deadline {
            let status = pod.and_then(|p| p.status).map(|s| format!("{s:#?}")).unwrap_or_else(|| "no pod".into());
            panic!("timed out after {WAIT:?} waiting for pod {name}: {what}; its status:\n{status}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub fn phase(pod: &Pod) -> &str {
    pod.status.as_ref().and_then(|s| s.phase.as_deref()).unwrap_or("")
}

pub fn is_ready(pod: &Pod) -> bool {
    pod.status.iter().flat_map(|s| s.conditions.iter().flatten()).any(|c| c.type_ == "Ready" && c.status == "True")
}

/// A container's status, init containers included.
pub fn container<'a>(pod: &'a Pod, name: &str) -> Option<&'a ContainerStatus> {
    let status = pod.status.as_ref()?;
    status.init_container_statuses.iter().chain(status.container_statuses.iter()).flatten().find(|c| c.name == name)
}

/// `(exit code, reason)` of a terminated container.
pub fn terminated(pod: &Pod, name: &str) -> Option<(i32, String)> {
    let state = container(pod, name)?.state.as_ref()?.terminated.as_ref()?;
    Some((state.exit_code, state.reason.clone().unwrap_or_default()))
}

/// `(reason, message)` of a waiting container.
pub fn waiting(pod: &Pod, name: &str) -> Option<(String, String)> {
    let state = container(pod, name)?.state.as_ref()?.waiting.as_ref()?;
    Some((state.reason.clone().unwrap_or_default(), state.message.clone().unwrap_or_default()))
}

/// Every name of every image in the node's `status.images`.
pub async fn node_image_names(sim: &Sim) -> Vec<String> {
    let nodes: Api<k8s_openapi::api::core::v1::Node> = Api::all(sim.client().unwrap());
    let node = nodes.get(NODE).await.unwrap();
    node.status
        .and_then(|s| s.images)
        .unwrap_or_default()
        .into_iter()
        .flat_map(|image| image.names.unwrap_or_default())
        .collect()
}
