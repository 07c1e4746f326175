//! The container runtime as the kubelet sees it: the handful of CRI operations it needs (pull,
//! inspect, list and remove images; run and remove pod sandboxes; start, stop and wait for
//! containers). The simulated runtime implements it for the simulated cluster; the CRI runtime
//! ([`super::cri_runtime`]) drives real containers in containerd.

use std::collections::BTreeMap;
use std::time::Duration;

use futures::FutureExt;
use futures::future::BoxFuture;
use k8s_openapi::api::core::v1::PodSpec;
use serde::Deserialize;
use serde_json::Value;

pub use crate::cri::RegistryAuth;

/// An image stored on a node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageInfo {
    /// `repo@sha256:<hex>`: what `imageID` shows.
    pub id: String,
    /// `repo:tag` names pointing at it on this node (a tag moved elsewhere leaves it).
    pub tags: Vec<String>,
    pub size_bytes: u64,
}

impl ImageInfo {
    /// The names a node lists it under in `status.images`: digest reference first, then tags.
    pub fn names(&self) -> Vec<String> {
        std::iter::once(self.id.clone()).chain(self.tags.iter().cloned()).collect()
    }
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RuntimeError {
    /// The registry does not have the reference (a CRI `NotFound`).
    #[error("rpc error: code = NotFound desc = {0}")]
    ImageNotFound(String),
    /// The registry refused access, or another pull failure.
    #[error("rpc error: code = Unknown desc = {0}")]
    PullFailed(String),
    #[error("rpc error: code = NotFound desc = an image with id {0:?} does not exist")]
    NoSuchImage(String),
    #[error("rpc error: code = NotFound desc = a container with id {0:?} does not exist")]
    NoSuchContainer(String),
    /// The pod spec asks for something the runtime cannot or must not do (a root user under
    /// `runAsNonRoot`, an unsupported volume): the kubelet's `CreateContainerConfigError`.
    #[error("{0}")]
    InvalidConfig(String),
    #[error("rpc error: code = Unknown desc = {0}")]
    Other(String),
}

/// A pod as a runtime that runs real containers needs it: identity, labels and the whole spec
/// (volumes, security contexts, resources). Built only for such runtimes: the simulated one
/// needs none of it, and at thousands of pods the parsed specs would cost memory.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PodSandboxConfig {
    pub uid: String,
    pub name: String,
    pub namespace: String,
    pub labels: BTreeMap<String, String>,
    pub spec: PodSpec,
}

impl PodSandboxConfig {
    /// Reads a pod object. A spec that does not parse (the API server validated it, so this is
    /// not expected) leaves an empty spec: its containers then fail to start with a message.
    pub fn from_pod(pod: &Value) -> Self {
        let text = |pointer: &str| pod.pointer(pointer).and_then(Value::as_str).unwrap_or("").to_string();
        let labels = pod
            .pointer("/metadata/labels")
            .and_then(Value::as_object)
            .map(|labels| labels.iter().filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string()))).collect())
            .unwrap_or_default();
        let spec = match pod.get("spec").map(PodSpec::deserialize) {
            Some(Ok(spec)) => spec,
            Some(Err(err)) => {
                tracing::warn!(pod = %text("/metadata/name"), %err, "pod spec does not parse");
                PodSpec::default()
            }
            None => PodSpec::default(),
        };
        PodSandboxConfig {
            uid: text("/metadata/uid"),
            name: text("/metadata/name"),
            namespace: text("/metadata/namespace"),
            labels,
            spec,
        }
    }

    /// The names of the pod's image pull secrets.
    pub fn pull_secret_names(&self) -> Vec<String> {
        self.spec.image_pull_secrets.iter().flatten().map(|secret| secret.name.clone()).collect()
    }
}

/// What a container is started with.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ContainerConfig {
    pub pod_uid: String,
    pub name: String,
    /// The image id the kubelet resolved (`repo@sha256:...`).
    pub image_id: String,
    pub command: Vec<String>,
    pub args: Vec<String>,
    pub init: bool,
    /// 0 for the first start, then one more per restart: a runtime keeps exited containers,
    /// and (name, attempt) names one within its pod.
    pub attempt: u32,
    /// Image volumes to mount, by the image id the kubelet resolved (CRI `Mount.image`).
    pub image_mounts: Vec<String>,
}

/// How a container ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContainerExit {
    pub exit_code: i32,
    /// `Completed` for 0, `Error` otherwise.
    pub reason: String,
}

impl ContainerExit {
    pub fn with_code(exit_code: i32) -> Self {
        ContainerExit { exit_code, reason: if exit_code == 0 { "Completed".into() } else { "Error".into() } }
    }
}

/// A node's container runtime. Futures are boxed so that the kubelet can hold runtimes of
/// different kinds behind one pointer.
pub trait ContainerRuntime: Send + Sync {
    /// True when containers are real processes: the kubelet then gives the runtime each pod's
    /// sandbox (with the whole spec) and the pod's pull credentials, and reports the node's
    /// images as soon as the node starts (the runtime may hold images already).
    fn runs_containers(&self) -> bool {
        false
    }

    /// `name://version` of the runtime, as a node's `nodeInfo.containerRuntimeVersion` shows
    /// it; `None` keeps the version the node was registered with.
    fn runtime_version(&self) -> BoxFuture<'_, Option<String>> {
        async { None }.boxed()
    }

    /// Pulls `image` (a reference as written in a pod spec): resolves it at the registry and
    /// downloads it unless its content is already stored. Returns the stored image.
    /// `credentials` are those of the pod's pull secrets that match the image's registry, most
    /// specific first: each is tried in turn; none means an anonymous pull.
    fn pull_image<'a>(
        &'a self,
        image: &'a str,
        credentials: &'a [RegistryAuth],
    ) -> BoxFuture<'a, Result<ImageInfo, RuntimeError>>;

    /// The stored image a reference names, if any (no registry access).
    fn image_status<'a>(&'a self, image: &'a str) -> BoxFuture<'a, Option<ImageInfo>>;

    fn list_images(&self) -> BoxFuture<'_, Vec<ImageInfo>>;

    /// Bytes the stored images take on the image filesystem (CRI `ImageFsInfo`).
    fn image_fs_usage(&self) -> BoxFuture<'_, u64>;

    fn remove_image<'a>(&'a self, image_id: &'a str) -> BoxFuture<'a, Result<(), RuntimeError>>;

    /// Creates the pod's sandbox (and its volumes) before any of its containers starts. Only
    /// called when [`Self::runs_containers`].
    fn run_pod_sandbox<'a>(&'a self, _pod: &'a PodSandboxConfig) -> BoxFuture<'a, Result<(), RuntimeError>> {
        async { Ok(()) }.boxed()
    }

    /// Removes the pod's sandbox, whatever still runs in it, and its volumes.
    fn remove_pod_sandbox<'a>(&'a self, _pod_uid: &'a str) -> BoxFuture<'a, ()> {
        async {}.boxed()
    }

    /// Creates and starts a container; returns its id.
    fn start_container<'a>(&'a self, config: &'a ContainerConfig) -> BoxFuture<'a, Result<String, RuntimeError>>;

    /// Stops a container, killing it after `grace`; returns how it ended.
    fn stop_container<'a>(
        &'a self,
        container_id: &'a str,
        grace: Duration,
    ) -> BoxFuture<'a, Result<ContainerExit, RuntimeError>>;

    /// Resolves when the container exits by itself (never, for one that runs until stopped).
    fn wait_container<'a>(&'a self, container_id: &'a str) -> BoxFuture<'a, ContainerExit>;

    /// Forgets a stopped container.
    fn remove_container<'a>(&'a self, container_id: &'a str) -> BoxFuture<'a, ()>;
}
