//! The container runtime as the kubelet sees it: the handful of CRI operations it needs (pull,
//! inspect, list and remove images; start, stop and wait for containers). The simulated
//! runtime implements it for the simulated cluster; a CRI client (containerd over gRPC) can
//! implement it to drive real containers.

use std::time::Duration;

use futures::future::BoxFuture;

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
    #[error("rpc error: code = Unknown desc = {0}")]
    Other(String),
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
    /// Pulls `image` (a reference as written in a pod spec): resolves it at the registry and
    /// downloads it unless its content is already stored. Returns the stored image.
    fn pull_image<'a>(&'a self, image: &'a str) -> BoxFuture<'a, Result<ImageInfo, RuntimeError>>;

    /// The stored image a reference names, if any (no registry access).
    fn image_status<'a>(&'a self, image: &'a str) -> BoxFuture<'a, Option<ImageInfo>>;

    fn list_images(&self) -> BoxFuture<'_, Vec<ImageInfo>>;

    /// Bytes the stored images take on the image filesystem (CRI `ImageFsInfo`).
    fn image_fs_usage(&self) -> BoxFuture<'_, u64>;

    fn remove_image<'a>(&'a self, image_id: &'a str) -> BoxFuture<'a, Result<(), RuntimeError>>;

    /// Creates and starts a container; returns its id.
    fn start_container<'a>(&'a self, config: &'a ContainerConfig) -> BoxFuture<'a, Result<String, RuntimeError>>;

    /// Stops a container, killing it after `grace`.
    fn stop_container<'a>(&'a self, container_id: &'a str, grace: Duration) -> BoxFuture<'a, Result<(), RuntimeError>>;

    /// Resolves when the container exits by itself (never, for one that runs until stopped).
    fn wait_container<'a>(&'a self, container_id: &'a str) -> BoxFuture<'a, ContainerExit>;

    /// Forgets a stopped container.
    fn remove_container<'a>(&'a self, container_id: &'a str) -> BoxFuture<'a, ()>;
}
