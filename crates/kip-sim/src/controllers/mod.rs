//! The simulated controller manager: the DaemonSet, Deployment and ReplicaSet controllers, a
//! minimal scheduler for unbound pods, and the node lifecycle duties (state taints, removing
//! pods of deleted nodes), in one task sharing one cache, as kube-controller-manager shares its
//! informers.
//!
//! The loop drains every pending watch event into the cache, queues the keys they affect (each
//! at most once), then syncs the queued keys. A burst of events therefore costs one sync per
//! affected object, not one per event. Writes go straight to the store and through the cache,
//! so a sync never acts twice on a state its own write already changed.

pub mod cache;
mod daemonset;
mod deployment;
pub mod eligibility;
mod nodes;
pub mod quantity;
pub mod queue;
mod replicaset;
pub mod revision;
pub mod rollout;

use std::collections::HashMap;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use serde_json::Value;
use tokio::sync::broadcast::Receiver;
use tokio::sync::broadcast::error::{RecvError, TryRecvError};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use self::cache::{Caches, NodeView, PodView, apply_event, apply_written, controller_of, resource_version};
use self::queue::WorkQueue;
use crate::cluster::clock::SimClock;
use crate::error::ApiError;
use crate::resources::GroupResource;
use crate::store::{DeleteOptions, Deleted, EventType, ObjectKey, Store, WatchEvent};

/// The resources the cluster works on.
pub static PODS: LazyLock<GroupResource> = LazyLock::new(|| GroupResource::core("pods"));
pub static NODES: LazyLock<GroupResource> = LazyLock::new(|| GroupResource::core("nodes"));
pub static DAEMONSETS: LazyLock<GroupResource> = LazyLock::new(|| GroupResource::new("apps", "daemonsets"));
pub static DEPLOYMENTS: LazyLock<GroupResource> = LazyLock::new(|| GroupResource::new("apps", "deployments"));
pub static REPLICASETS: LazyLock<GroupResource> = LazyLock::new(|| GroupResource::new("apps", "replicasets"));
pub static REVISIONS: LazyLock<GroupResource> = LazyLock::new(|| GroupResource::new("apps", "controllerrevisions"));

/// How the controllers behave.
#[derive(Clone, Debug)]
pub struct ControllerConfig {
    /// Most pods a controller creates or deletes in one sync (Kubernetes' `burstReplicas`).
    pub burst_replicas: usize,
}

impl Default for ControllerConfig {
    fn default() -> Self {
        ControllerConfig { burst_replicas: 250 }
    }
}

/// What the manager's queue holds.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum WorkKey {
    DaemonSet(ObjectKey),
    Deployment(ObjectKey),
    ReplicaSet(ObjectKey),
    /// State taints, and the pods of a node that is gone.
    Node(String),
    /// A scheduling pass over unbound pods.
    Unscheduled,
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum SyncError {
    /// The API refused a write; worth retrying.
    #[error("{0}")]
    Api(#[from] ApiError),
    /// The object cannot be acted on until someone changes it.
    #[error("{0}")]
    Invalid(String),
}

pub(crate) struct Manager {
    store: Arc<Store>,
    clock: SimClock,
    config: ControllerConfig,
    caches: Caches,
    queue: WorkQueue<WorkKey>,
    failures: HashMap<WorkKey, u32>,
    daemonsets: daemonset::Memory,
}

/// Starts the controller manager; it stops when `shutdown` is cancelled.
pub(crate) fn spawn(
    store: Arc<Store>,
    clock: SimClock,
    config: ControllerConfig,
    shutdown: CancellationToken,
) -> JoinHandle<()> {
    let mut manager = Manager {
        store,
        clock,
        config,
        caches: Caches::default(),
        queue: WorkQueue::default(),
        failures: HashMap::new(),
        daemonsets: daemonset::Memory::default(),
    };
    // Subscribe before spawning, so that nothing written after `spawn` returns is missed.
    let events = manager.relist();
    tokio::spawn(async move { manager.run(events, shutdown).await })
}

impl Manager {
    async fn run(&mut self, mut events: Receiver<Arc<WatchEvent>>, shutdown: CancellationToken) {
        loop {
            let mut synced = 0;
            while let Some(key) = self.queue.pop() {
                self.sync(key);
                synced += 1;
                // Let other tasks (kubelets, the API server) run between long stretches of work.
                if synced % 64 == 0 {
                    tokio::task::yield_now().await;
                    if self.drain(&mut events) {
                        events = self.relist();
                    }
                }
            }
            let deadline = self.queue.next_deadline();
            tokio::select! {
                _ = shutdown.cancelled() => return,
                event = events.recv() => match event {
                    Ok(event) => {
                        self.apply(&event);
                        if self.drain(&mut events) {
                            events = self.relist();
                        }
                    }
                    Err(RecvError::Lagged(_)) => events = self.relist(),
                    Err(RecvError::Closed) => return,
                },
                _ = sleep_until(deadline) => {}
            }
        }
    }

    /// Applies every event already waiting. Returns true when events were lost and the cache
    /// must be rebuilt.
    fn drain(&mut self, events: &mut Receiver<Arc<WatchEvent>>) -> bool {
        loop {
            match events.try_recv() {
                Ok(event) => self.apply(&event),
                Err(TryRecvError::Empty | TryRecvError::Closed) => return false,
                Err(TryRecvError::Lagged(_)) => return true,
            }
        }
    }

    /// Rebuilds the cache from a fresh list and queues everything; returns the live stream that
    /// continues from that list.
    fn relist(&mut self) -> Receiver<Arc<WatchEvent>> {
        let snapshot = self.store.snapshot(&PODS, None);
        self.caches = Caches::default();
        for pod in &snapshot.objects {
            apply_written(&mut self.caches.pods, pod, PodView::from_object);
        }
        for node in self.store.list(&NODES, None).0 {
            apply_written(&mut self.caches.nodes, &node, NodeView::from_object);
        }
        for (gr, index) in [
            (&*DAEMONSETS, &mut self.caches.daemonsets),
            (&*DEPLOYMENTS, &mut self.caches.deployments),
            (&*REPLICASETS, &mut self.caches.replicasets),
            (&*REVISIONS, &mut self.caches.revisions),
        ] {
            for obj in self.store.list(gr, None).0 {
                let view = obj.clone();
                apply_written(index, &obj, move |_| view);
            }
        }
        let keys: Vec<WorkKey> = (self.caches.daemonsets.keys().cloned().map(WorkKey::DaemonSet))
            .chain(self.caches.deployments.keys().cloned().map(WorkKey::Deployment))
            .chain(self.caches.replicasets.keys().cloned().map(WorkKey::ReplicaSet))
            .chain(self.caches.nodes.keys().map(|k| WorkKey::Node(k.name.clone())))
            .chain([WorkKey::Unscheduled])
            .collect();
        for key in keys {
            self.queue.add(key);
        }
        snapshot.live
    }

    /// Updates the cache with one event and queues what it affects.
    fn apply(&mut self, event: &WatchEvent) {
        let obj = &event.object;
        let gr = &event.resource;
        // A state the cache already holds (written through by a sync) still queues its keys:
        // the write may have changed what another object's sync decides.
        if *gr == *PODS {
            apply_event(&mut self.caches.pods, event, PodView::from_object);
            let namespace = ObjectKey::of(obj).namespace;
            match controller_of(obj) {
                Some(owner) if owner.kind == "DaemonSet" => {
                    self.queue.add(WorkKey::DaemonSet(ObjectKey::new(&namespace, &owner.name)))
                }
                Some(owner) if owner.kind == "ReplicaSet" => {
                    let rs = ObjectKey::new(&namespace, &owner.name);
                    // `Recreate` waits for old pods to be gone, which changes no ReplicaSet.
                    let deployment = self.caches.replicasets.get(&rs).and_then(|rs| controller_of(rs));
                    if let Some(deployment) = deployment.filter(|d| d.kind == "Deployment") {
                        self.queue.add(WorkKey::Deployment(ObjectKey::new(&namespace, &deployment.name)));
                    }
                    self.queue.add(WorkKey::ReplicaSet(rs));
                }
                _ => {}
            }
            let unbound = obj.pointer("/spec/nodeName").and_then(Value::as_str).is_none_or(str::is_empty);
            // A new unbound pod needs a node; a pod leaving a node may make room for one.
            if unbound || event.event_type == EventType::Deleted {
                self.queue.add(WorkKey::Unscheduled);
            }
        } else if *gr == *NODES {
            apply_event(&mut self.caches.nodes, event, NodeView::from_object);
            let name = ObjectKey::of(obj).name;
            let stale = self.caches.nodes.get(&ObjectKey::cluster(&name)).is_some_and(|n| n.taints_stale);
            if event.event_type == EventType::Deleted || stale {
                self.queue.add(WorkKey::Node(name));
            }
            let daemonsets: Vec<ObjectKey> = self.caches.daemonsets.keys().cloned().collect();
            for key in daemonsets {
                self.queue.add(WorkKey::DaemonSet(key));
            }
            self.queue.add(WorkKey::Unscheduled);
        } else if *gr == *DAEMONSETS {
            apply_event(&mut self.caches.daemonsets, event, |_| obj.clone());
            self.queue.add(WorkKey::DaemonSet(ObjectKey::of(obj)));
        } else if *gr == *DEPLOYMENTS {
            apply_event(&mut self.caches.deployments, event, |_| obj.clone());
            self.queue.add(WorkKey::Deployment(ObjectKey::of(obj)));
        } else if *gr == *REPLICASETS {
            apply_event(&mut self.caches.replicasets, event, |_| obj.clone());
            let key = ObjectKey::of(obj);
            if let Some(owner) = controller_of(obj).filter(|o| o.kind == "Deployment") {
                self.queue.add(WorkKey::Deployment(ObjectKey::new(&key.namespace, &owner.name)));
            }
            self.queue.add(WorkKey::ReplicaSet(key));
        } else if *gr == *REVISIONS {
            apply_event(&mut self.caches.revisions, event, |_| obj.clone());
            if let Some(owner) = controller_of(obj).filter(|o| o.kind == "DaemonSet") {
                self.queue.add(WorkKey::DaemonSet(ObjectKey::new(&ObjectKey::of(obj).namespace, &owner.name)));
            }
        }
    }

    fn sync(&mut self, key: WorkKey) {
        let result = match &key {
            WorkKey::DaemonSet(k) => daemonset::sync(self, k),
            WorkKey::Deployment(k) => deployment::sync(self, k),
            WorkKey::ReplicaSet(k) => replicaset::sync(self, k),
            WorkKey::Node(name) => nodes::sync_node(self, name),
            WorkKey::Unscheduled => nodes::schedule_pending(self),
        };
        match result {
            Ok(()) => {
                self.failures.remove(&key);
            }
            Err(SyncError::Invalid(message)) => {
                tracing::warn!(?key, %message, "cannot act on the object until it changes");
                self.failures.remove(&key);
            }
            Err(SyncError::Api(err)) => {
                // Conflicts and vanished objects resolve themselves with the next events; retry
                // with a growing delay so that a persistent refusal does not spin.
                let attempts = self.failures.entry(key.clone()).or_default();
                *attempts = attempts.saturating_add(1);
                let delay = Duration::from_millis(5u64 << (*attempts).min(8));
                tracing::debug!(?key, %err, ?delay, "sync failed; retrying");
                self.queue.add_after(key, delay);
            }
        }
    }

    /// Queues `key` again after `sim` simulated time.
    fn requeue_after(&mut self, key: WorkKey, sim: Duration) {
        self.queue.add_after(key, self.clock.to_real(sim));
    }

    fn create_pod(&mut self, pod: Value) -> Result<(), ApiError> {
        let created = self.store.create(&PODS, pod)?;
        apply_written(&mut self.caches.pods, &created, PodView::from_object);
        Ok(())
    }

    /// Deletes a pod as a controller does (gracefully; the kubelet finishes bound pods).
    fn delete_pod(&mut self, key: &ObjectKey, options: &DeleteOptions) -> Result<(), ApiError> {
        match self.store.delete(&PODS, key, options) {
            Ok(Deleted::Terminating(obj)) => {
                apply_written(&mut self.caches.pods, &obj, PodView::from_object);
                Ok(())
            }
            Ok(Deleted::Gone(obj)) => {
                self.caches.pods.remove(key, resource_version(&obj));
                Ok(())
            }
            Err(err) if err.code == 404 => Ok(()),
            Err(err) => Err(err),
        }
    }
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

/// A controller ownerReference to `owner` (an object of `kind` in `api_version`).
pub(crate) fn controller_ref(owner: &Value, api_version: &str, kind: &str) -> Value {
    serde_json::json!({
        "apiVersion": api_version,
        "kind": kind,
        "name": owner.pointer("/metadata/name").cloned().unwrap_or(Value::Null),
        "uid": owner.pointer("/metadata/uid").cloned().unwrap_or(Value::Null),
        "controller": true,
        "blockOwnerDeletion": true,
    })
}
