//! A node's container runtime on a real CRI runtime (containerd over its unix socket): a thin
//! adapter from the kubelet's [`ContainerRuntime`] to [`CriClient`]. Images are pulled for
//! real (with the pod's pull credentials), the node reports what the runtime lists; each pod
//! gets a host-network sandbox and a directory for its emptyDir volumes and logs, removed with
//! it; containers run with the pod's command lines, mounts, resources and security contexts
//! (see [`translate`]), and their exits are read back from the runtime.
//!
//! One runtime serves one node: nodes sharing a containerd would all report the same images
//! and could not tell their pods' images apart for garbage collection. Containers always share
//! the host's network namespace (there is no CNI), whatever `hostNetwork` says; the pod IPs the
//! kubelet reports stay the simulated ones.

mod images;
pub mod translate;
pub mod volumes;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;
use futures::future::BoxFuture;
use parking_lot::Mutex;
use tokio::sync::OnceCell;

use self::images::{container_error, kubelet_image, pull_error};
use super::runtime::{
    ContainerConfig, ContainerExit, ContainerRuntime, ImageInfo, PodSandboxConfig, RegistryAuth, RuntimeError,
};
use crate::cri::{ContainerId, ContainerPhase, CriClient, CriError, Sandbox, SandboxFilter, SandboxId};

/// How often a running container's state is asked for: the CRI has no exit notification that
/// every containerd version serves.
const EXIT_POLL: Duration = Duration::from_millis(200);
/// How many times a stopped container's state is asked for before giving up on reading it.
const STOPPED_POLLS: usize = 100;

/// Where a node's runtime is and where it keeps pod directories.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CriNodeConfig {
    /// The runtime's CRI socket, e.g. `/run/containerd/containerd.sock`.
    pub socket: PathBuf,
    /// The node's own directory: `pods/<uid>/` holds each pod's volumes and logs.
    pub root_dir: PathBuf,
}

impl CriNodeConfig {
    pub fn new(socket: impl Into<PathBuf>, root_dir: impl Into<PathBuf>) -> Self {
        CriNodeConfig { socket: socket.into(), root_dir: root_dir.into() }
    }
}

/// A pod whose sandbox runs.
struct RunningPod {
    sandbox: Sandbox,
    config: Arc<PodSandboxConfig>,
}

pub struct CriRuntime {
    node: String,
    config: CriNodeConfig,
    /// Connected on first use: nodes are created outside of async code.
    client: OnceCell<CriClient>,
    pods: Mutex<HashMap<String, RunningPod>>,
    /// The last image list read, reported again when the runtime does not answer, so that a
    /// hiccup does not empty the node's `status.images`.
    last_images: Mutex<Vec<ImageInfo>>,
}

impl CriRuntime {
    pub fn new(node: &str, config: CriNodeConfig) -> Self {
        CriRuntime {
            node: node.to_string(),
            config,
            client: OnceCell::new(),
            pods: Mutex::new(HashMap::new()),
            last_images: Mutex::new(Vec::new()),
        }
    }

    async fn client(&self) -> Result<&CriClient, CriError> {
        self.client.get_or_try_init(|| CriClient::connect(&self.config.socket)).await
    }

    async fn pull(&self, image: &str, credentials: &[RegistryAuth]) -> Result<ImageInfo, RuntimeError> {
        let client = self.client().await.map_err(pull_error)?;
        let attempts: Vec<Option<&RegistryAuth>> =
            if credentials.is_empty() { vec![None] } else { credentials.iter().map(Some).collect() };
        let mut failure = None;
        for auth in attempts {
            match client.pull_image(image, auth).await {
                Ok(id) => {
                    return match client.image_status(&id.0).await.map_err(pull_error)? {
                        Some(stored) => Ok(kubelet_image(&stored)),
                        None => Err(RuntimeError::NoSuchImage(id.0)),
                    };
                }
                Err(err) => failure = Some(err),
            }
        }
        Err(failure.map(pull_error).unwrap_or_else(|| RuntimeError::PullFailed(format!("no pull of {image} was made"))))
    }

    async fn run_sandbox(&self, pod: &PodSandboxConfig) -> Result<(), RuntimeError> {
        if self.pods.lock().contains_key(&pod.uid) {
            return Ok(());
        }
        let dir = volumes::pod_dir(&self.config.root_dir, &pod.uid);
        let spec = translate::sandbox_spec(pod, volumes::log_dir(&dir)).map_err(RuntimeError::InvalidConfig)?;
        volumes::prepare(&dir, &pod.spec).map_err(|err| RuntimeError::Other(err.to_string()))?;
        let client = self.client().await.map_err(|err| RuntimeError::Other(err.to_string()))?;
        let sandbox = client.run_pod_sandbox(&spec).await.map_err(|err| RuntimeError::Other(err.to_string()))?;
        self.pods.lock().insert(pod.uid.clone(), RunningPod { sandbox, config: Arc::new(pod.clone()) });
        Ok(())
    }

    /// Stops and removes every sandbox of the pod: the one it knows, and any whose creation
    /// was cut short before its id came back. Then the pod's directory goes.
    async fn remove_sandbox(&self, uid: &str) {
        let known = self.pods.lock().remove(uid).map(|pod| pod.sandbox.id);
        let mut ids: Vec<SandboxId> = known.into_iter().collect();
        if let Ok(client) = self.client().await {
            let filter = SandboxFilter {
                labels: [(translate::POD_UID_LABEL.to_string(), uid.to_string())].into(),
                ..SandboxFilter::default()
            };
            match client.list_pod_sandboxes(&filter).await {
                Ok(found) => {
                    for sandbox in found {
                        if !ids.contains(&sandbox.id) {
                            ids.push(sandbox.id);
                        }
                    }
                }
                Err(err) => tracing::warn!(node = %self.node, pod = %uid, %err, "cannot list the pod's sandboxes"),
            }
            for id in &ids {
                let removed = match client.stop_pod_sandbox(id).await {
                    Ok(()) => client.remove_pod_sandbox(id).await,
                    Err(err) => Err(err),
                };
                if let Err(err) = removed {
                    tracing::warn!(node = %self.node, pod = %uid, sandbox = %id, %err, "cannot remove a pod sandbox");
                }
            }
        }
        if let Err(err) = volumes::remove(&volumes::pod_dir(&self.config.root_dir, uid)) {
            tracing::warn!(node = %self.node, pod = %uid, %err, "cannot remove the pod's directory");
        }
    }

    async fn start(&self, config: &ContainerConfig) -> Result<String, RuntimeError> {
        let (sandbox, pod) = {
            let pods = self.pods.lock();
            let running = pods.get(&config.pod_uid).ok_or_else(|| {
                RuntimeError::Other(format!("pod {} has no sandbox on node {}", config.pod_uid, self.node))
            })?;
            (running.sandbox.clone(), running.config.clone())
        };
        let client = self.client().await.map_err(|err| RuntimeError::Other(err.to_string()))?;
        let image = client
            .image_status(&config.image_id)
            .await
            .map_err(|err| RuntimeError::Other(err.to_string()))?
            .ok_or_else(|| RuntimeError::NoSuchImage(config.image_id.clone()))?;
        let dir = volumes::pod_dir(&self.config.root_dir, &config.pod_uid);
        let spec = translate::container_spec(&pod, config, &dir, &image).map_err(RuntimeError::InvalidConfig)?;
        let id = client.create_container(&sandbox, &spec).await.map_err(|err| RuntimeError::Other(err.to_string()))?;
        if let Err(err) = client.start_container(&id).await {
            // Free the (name, attempt) for the next try.
            let _ = client.remove_container(&id).await;
            return Err(RuntimeError::Other(err.to_string()));
        }
        Ok(id.0)
    }

    /// How the container ended, once it has.
    async fn exit_of(&self, id: &ContainerId) -> Result<Option<ContainerExit>, RuntimeError> {
        let client = self.client().await.map_err(|err| RuntimeError::Other(err.to_string()))?;
        let status = client.container_status(id).await.map_err(|err| container_error(err, id.as_str()))?;
        if status.phase != ContainerPhase::Exited {
            return Ok(None);
        }
        let reason = match status.reason.as_str() {
            "" => ContainerExit::with_code(status.exit_code).reason,
            reason => reason.to_string(),
        };
        Ok(Some(ContainerExit { exit_code: status.exit_code, reason }))
    }

    async fn wait(&self, container_id: &str) -> ContainerExit {
        let id = ContainerId(container_id.to_string());
        loop {
            match self.exit_of(&id).await {
                Ok(Some(exit)) => return exit,
                Ok(None) => {}
                // Gone from the runtime: killed with its sandbox, as far as anyone can tell.
                Err(RuntimeError::NoSuchContainer(_)) => {
                    return ContainerExit { exit_code: 137, reason: "ContainerStatusUnknown".into() };
                }
                Err(err) => tracing::debug!(node = %self.node, container = %container_id, %err, "container status"),
            }
            tokio::time::sleep(EXIT_POLL).await;
        }
    }

    async fn stop(&self, container_id: &str, grace: Duration) -> Result<ContainerExit, RuntimeError> {
        let id = ContainerId(container_id.to_string());
        let client = self.client().await.map_err(|err| RuntimeError::Other(err.to_string()))?;
        client.stop_container(&id, grace).await.map_err(|err| container_error(err, container_id))?;
        // StopContainer returns once the process is gone; its state may lag a moment behind.
        for _ in 0..STOPPED_POLLS {
            if let Some(exit) = self.exit_of(&id).await? {
                return Ok(exit);
            }
            tokio::time::sleep(EXIT_POLL / 4).await;
        }
        Ok(ContainerExit { exit_code: 137, reason: "ContainerStatusUnknown".into() })
    }

    async fn images(&self) -> Vec<ImageInfo> {
        let listed = match self.client().await {
            Ok(client) => client.list_images().await,
            Err(err) => Err(err),
        };
        match listed {
            Ok(images) => {
                let images: Vec<ImageInfo> = images.iter().map(kubelet_image).collect();
                *self.last_images.lock() = images.clone();
                images
            }
            Err(err) => {
                tracing::warn!(node = %self.node, %err, "cannot list the runtime's images; reporting the last list");
                self.last_images.lock().clone()
            }
        }
    }
}

impl ContainerRuntime for CriRuntime {
    fn runs_containers(&self) -> bool {
        true
    }

    fn runtime_version(&self) -> BoxFuture<'_, Option<String>> {
        async move {
            let version = self.client().await.ok()?.version().await.ok()?;
            Some(format!("{}://{}", version.runtime_name, version.runtime_version))
        }
        .boxed()
    }

    fn pull_image<'a>(
        &'a self,
        image: &'a str,
        credentials: &'a [RegistryAuth],
    ) -> BoxFuture<'a, Result<ImageInfo, RuntimeError>> {
        self.pull(image, credentials).boxed()
    }

    fn image_status<'a>(&'a self, image: &'a str) -> BoxFuture<'a, Option<ImageInfo>> {
        async move {
            let client = self.client().await.ok()?;
            client.image_status(image).await.ok().flatten().map(|stored| kubelet_image(&stored))
        }
        .boxed()
    }

    fn list_images(&self) -> BoxFuture<'_, Vec<ImageInfo>> {
        self.images().boxed()
    }

    fn image_fs_usage(&self) -> BoxFuture<'_, u64> {
        async move {
            let Ok(client) = self.client().await else { return 0 };
            match client.image_fs_info().await {
                Ok(filesystems) => filesystems.iter().map(|fs| fs.used_bytes).sum(),
                Err(err) => {
                    tracing::warn!(node = %self.node, %err, "cannot read the image filesystem's usage");
                    0
                }
            }
        }
        .boxed()
    }

    fn remove_image<'a>(&'a self, image_id: &'a str) -> BoxFuture<'a, Result<(), RuntimeError>> {
        async move {
            let client = self.client().await.map_err(|err| RuntimeError::Other(err.to_string()))?;
            client.remove_image(image_id).await.map_err(|err| RuntimeError::Other(err.to_string()))
        }
        .boxed()
    }

    fn run_pod_sandbox<'a>(&'a self, pod: &'a PodSandboxConfig) -> BoxFuture<'a, Result<(), RuntimeError>> {
        self.run_sandbox(pod).boxed()
    }

    fn remove_pod_sandbox<'a>(&'a self, pod_uid: &'a str) -> BoxFuture<'a, ()> {
        self.remove_sandbox(pod_uid).boxed()
    }

    fn start_container<'a>(&'a self, config: &'a ContainerConfig) -> BoxFuture<'a, Result<String, RuntimeError>> {
        self.start(config).boxed()
    }

    fn stop_container<'a>(
        &'a self,
        container_id: &'a str,
        grace: Duration,
    ) -> BoxFuture<'a, Result<ContainerExit, RuntimeError>> {
        self.stop(container_id, grace).boxed()
    }

    fn wait_container<'a>(&'a self, container_id: &'a str) -> BoxFuture<'a, ContainerExit> {
        self.wait(container_id).boxed()
    }

    fn remove_container<'a>(&'a self, container_id: &'a str) -> BoxFuture<'a, ()> {
        async move {
            let id = ContainerId(container_id.to_string());
            if let Ok(client) = self.client().await
                && let Err(err) = client.remove_container(&id).await
            {
                tracing::warn!(node = %self.node, container = %container_id, %err, "cannot remove a container");
            }
        }
        .boxed()
    }
}
