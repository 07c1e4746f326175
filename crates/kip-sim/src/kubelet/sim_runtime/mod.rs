//! The simulated container runtime of one node: an image store filled from the simulated
//! registry (a manifest request per pull, a download only for content not yet stored, taking
//! registry latency plus size over the node's bandwidth), and containers that run as their
//! command line says (see [`behaviour`]).

pub mod behaviour;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures::FutureExt;
use futures::future::BoxFuture;
use parking_lot::Mutex;
use tokio::time::Instant;

use self::behaviour::{RunPlan, plan};
use super::runtime::{ContainerConfig, ContainerExit, ContainerRuntime, ImageInfo, RegistryAuth, RuntimeError};
use crate::cluster::catalog::{ImageCatalog, ImageRef, RegistryError};
use crate::cluster::clock::SimClock;
use crate::cluster::counters::NodeCounters;

/// How simulated containers start, stop and run (simulated durations).
#[derive(Clone, Debug)]
pub struct SimTimings {
    /// From start request to running.
    pub start: Duration,
    /// From stop request to exit, at most the grace period.
    pub stop: Duration,
    /// How long a container with a finite job (an init container, `exit 3`) runs.
    pub short_run: Duration,
}

#[derive(Debug)]
struct SimContainer {
    plan: RunPlan,
    started: Instant,
}

pub struct SimRuntime {
    node: String,
    catalog: Arc<ImageCatalog>,
    clock: SimClock,
    counters: NodeCounters,
    bandwidth_bytes_per_sec: u64,
    timings: SimTimings,
    images: Mutex<BTreeMap<String, ImageInfo>>,
    containers: Mutex<HashMap<String, SimContainer>>,
    next_container: AtomicU64,
}

impl SimRuntime {
    pub fn new(
        node: &str,
        catalog: Arc<ImageCatalog>,
        clock: SimClock,
        counters: NodeCounters,
        bandwidth_bytes_per_sec: u64,
        timings: SimTimings,
    ) -> Self {
        SimRuntime {
            node: node.to_string(),
            catalog,
            clock,
            counters,
            bandwidth_bytes_per_sec: bandwidth_bytes_per_sec.max(1),
            timings,
            images: Mutex::new(BTreeMap::new()),
            containers: Mutex::new(HashMap::new()),
            next_container: AtomicU64::new(1),
        }
    }

    fn find_image(&self, image: &ImageRef) -> Option<ImageInfo> {
        let images = self.images.lock();
        match &image.digest {
            Some(digest) => images.get(&format!("{}@{digest}", image.repo)).cloned(),
            None => {
                let name = image.name();
                images.values().find(|i| i.tags.contains(&name)).cloned()
            }
        }
    }

    /// Stores an image under `tag`, which leaves any other image it pointed to.
    fn store_image(&self, id: String, tag: Option<String>, size_bytes: u64) -> ImageInfo {
        let mut images = self.images.lock();
        if let Some(tag) = &tag {
            for other in images.values_mut().filter(|i| i.id != id) {
                other.tags.retain(|t| t != tag);
            }
        }
        let entry = images.entry(id.clone()).or_insert_with(|| ImageInfo { id, tags: Vec::new(), size_bytes });
        if let Some(tag) = tag
            && !entry.tags.contains(&tag)
        {
            entry.tags.push(tag);
        }
        entry.clone()
    }

    async fn pull(&self, reference: &str) -> Result<ImageInfo, RuntimeError> {
        let image = ImageRef::parse(reference);
        self.counters.manifest_request();
        self.clock.sleep(self.catalog.latency(&image)).await;
        let resolved = self.catalog.resolve(&image).map_err(|err| match err {
            RegistryError::NotFound(_) => RuntimeError::ImageNotFound(err.to_string()),
            RegistryError::Unauthorized(_) => RuntimeError::PullFailed(err.to_string()),
        })?;
        let id = resolved.id();
        let tag = image.digest.is_none().then(|| image.name());
        let stored = self.images.lock().contains_key(&id);
        if !stored {
            let seconds = resolved.size_bytes as f64 / self.bandwidth_bytes_per_sec as f64;
            self.clock.sleep(Duration::from_secs_f64(seconds)).await;
            self.counters.download(resolved.size_bytes);
        }
        Ok(self.store_image(id, tag, resolved.size_bytes))
    }
}

impl ContainerRuntime for SimRuntime {
    /// The simulated registry decides access by reference alone (see the catalog's faults):
    /// credentials are not checked.
    fn pull_image<'a>(
        &'a self,
        image: &'a str,
        _credentials: &'a [RegistryAuth],
    ) -> BoxFuture<'a, Result<ImageInfo, RuntimeError>> {
        self.pull(image).boxed()
    }

    fn image_status<'a>(&'a self, image: &'a str) -> BoxFuture<'a, Option<ImageInfo>> {
        let found = self.find_image(&ImageRef::parse(image));
        async move { found }.boxed()
    }

    fn list_images(&self) -> BoxFuture<'_, Vec<ImageInfo>> {
        let images: Vec<ImageInfo> = self.images.lock().values().cloned().collect();
        async move { images }.boxed()
    }

    fn image_fs_usage(&self) -> BoxFuture<'_, u64> {
        let used = self.images.lock().values().map(|i| i.size_bytes).sum();
        async move { used }.boxed()
    }

    fn remove_image<'a>(&'a self, image_id: &'a str) -> BoxFuture<'a, Result<(), RuntimeError>> {
        let removed = self.images.lock().remove(image_id);
        async move { removed.map(|_| ()).ok_or_else(|| RuntimeError::NoSuchImage(image_id.to_string())) }.boxed()
    }

    fn start_container<'a>(&'a self, config: &'a ContainerConfig) -> BoxFuture<'a, Result<String, RuntimeError>> {
        async move {
            {
                let images = self.images.lock();
                // The container's image and every image it mounts must be stored.
                if let Some(missing) =
                    std::iter::once(&config.image_id).chain(&config.image_mounts).find(|id| !images.contains_key(*id))
                {
                    return Err(RuntimeError::NoSuchImage(missing.clone()));
                }
            }
            self.clock.sleep(self.timings.start).await;
            let n = self.next_container.fetch_add(1, Ordering::Relaxed);
            let id = container_id(&self.node, n);
            let plan = plan(&config.command, &config.args, config.init, self.timings.short_run);
            self.containers.lock().insert(id.clone(), SimContainer { plan, started: Instant::now() });
            Ok(id)
        }
        .boxed()
    }

    /// A simulated container always honours SIGTERM: it exits 0 within the grace period, or is
    /// killed (137) when there is none.
    fn stop_container<'a>(
        &'a self,
        container_id: &'a str,
        grace: Duration,
    ) -> BoxFuture<'a, Result<ContainerExit, RuntimeError>> {
        async move {
            if !self.containers.lock().contains_key(container_id) {
                return Err(RuntimeError::NoSuchContainer(container_id.to_string()));
            }
            self.clock.sleep(self.timings.stop.min(grace)).await;
            self.containers.lock().remove(container_id);
            Ok(ContainerExit::with_code(if grace.is_zero() { 137 } else { 0 }))
        }
        .boxed()
    }

    fn wait_container<'a>(&'a self, container_id: &'a str) -> BoxFuture<'a, ContainerExit> {
        let found = self.containers.lock().get(container_id).map(|c| (c.plan, c.started));
        async move {
            match found {
                Some((RunPlan::ExitAfter { after, code }, started)) => {
                    let end =
                        started.checked_add(self.clock.to_real(after)).unwrap_or_else(|| self.clock.deadline(after));
                    tokio::time::sleep_until(end).await;
                    ContainerExit::with_code(code)
                }
                Some((RunPlan::Forever, _)) => std::future::pending().await,
                None => ContainerExit::with_code(137),
            }
        }
        .boxed()
    }

    fn remove_container<'a>(&'a self, container_id: &'a str) -> BoxFuture<'a, ()> {
        self.containers.lock().remove(container_id);
        async {}.boxed()
    }
}

/// A 64-hex-digit container id, unique per node and start.
fn container_id(node: &str, n: u64) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(format!("{node}/{n}").as_bytes()))
}

#[cfg(test)]
mod tests;
