//! The kubelets' status writer: one task that turns "this pod (or node) changed" notices into
//! status writes. A notice only marks the object; the write renders whatever the state is by
//! then, so every change since the last write goes out in one write, and no object is written
//! more often than its minimum interval (pods: real time, for cost; nodes: the simulated node
//! status period, as a kubelet reports).

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::KubeletConfig;
use super::images::node_status_images;
use super::node::{NodeAgent, PodHandle};
use super::reclaim::set_disk_pressure_condition;
use crate::cluster::clock::SimClock;
use crate::controllers::{NODES, PODS};
use crate::error::ApiError;
use crate::store::{ObjectKey, Part, Store, meta_str};

enum Target {
    Pod(Arc<PodHandle>),
    Node(Arc<NodeAgent>),
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum TargetKey {
    Pod(String),
    Node(String),
}

impl Target {
    fn key(&self) -> TargetKey {
        match self {
            Target::Pod(p) => TargetKey::Pod(p.uid.clone()),
            Target::Node(n) => TargetKey::Node(n.name.clone()),
        }
    }
}

/// Where workers report changes.
pub(crate) struct StatusQueue {
    tx: mpsc::UnboundedSender<Target>,
}

impl StatusQueue {
    pub fn pod_changed(&self, pod: &Arc<PodHandle>) {
        if !pod.status_queued.swap(true, Ordering::AcqRel) {
            // The writer only stops at shutdown, when nothing needs writing any more.
            let _ = self.tx.send(Target::Pod(pod.clone()));
        }
    }

    pub fn node_changed(&self, node: &Arc<NodeAgent>) {
        if !node.status_queued.swap(true, Ordering::AcqRel) {
            let _ = self.tx.send(Target::Node(node.clone()));
        }
    }
}

pub(crate) fn spawn(
    store: Arc<Store>,
    clock: SimClock,
    config: KubeletConfig,
    shutdown: CancellationToken,
) -> StatusQueue {
    let (tx, rx) = mpsc::unbounded_channel();
    let writer = Writer {
        store,
        clock,
        config,
        due: BinaryHeap::new(),
        pending: HashMap::new(),
        last: HashMap::new(),
        sequence: 0,
    };
    tokio::spawn(writer.run(rx, shutdown));
    StatusQueue { tx }
}

struct Writer {
    store: Arc<Store>,
    clock: SimClock,
    config: KubeletConfig,
    due: BinaryHeap<Reverse<(Instant, u64, TargetKey)>>,
    pending: HashMap<TargetKey, Target>,
    last: HashMap<TargetKey, Instant>,
    sequence: u64,
}

impl Writer {
    async fn run(mut self, mut rx: mpsc::UnboundedReceiver<Target>, shutdown: CancellationToken) {
        loop {
            let now = Instant::now();
            while self.due.peek().is_some_and(|Reverse((at, _, _))| *at <= now) {
                let Some(Reverse((_, _, key))) = self.due.pop() else { break };
                if let Some(target) = self.pending.remove(&key) {
                    self.write(target).await;
                    self.last.insert(key, Instant::now());
                    // Every write is an event that each watcher holds (object and previous
                    // state) until it has read it: let the watchers keep up.
                    tokio::task::yield_now().await;
                }
            }
            let next = self.due.peek().map(|Reverse((at, _, _))| *at);
            tokio::select! {
                _ = shutdown.cancelled() => return,
                target = rx.recv() => match target {
                    Some(target) => {
                        self.schedule(target);
                        while let Ok(target) = rx.try_recv() {
                            self.schedule(target);
                        }
                    }
                    None => return,
                },
                _ = async { match next { Some(at) => tokio::time::sleep_until(at).await, None => std::future::pending().await } } => {}
            }
        }
    }

    fn schedule(&mut self, target: Target) {
        let key = target.key();
        let interval = match &target {
            Target::Pod(_) => self.config.pod_status_min_interval,
            Target::Node(_) => {
                self.clock.to_real(self.config.node_status_interval).max(self.config.node_status_min_real_interval)
            }
        };
        let now = Instant::now();
        let at = self.last.get(&key).map_or(now, |last| (*last + interval).max(now));
        self.sequence += 1;
        self.due.push(Reverse((at, self.sequence, key.clone())));
        self.pending.insert(key, target);
    }

    async fn write(&mut self, target: Target) {
        match target {
            Target::Pod(pod) => {
                pod.status_queued.store(false, Ordering::Release);
                if pod.finished.load(Ordering::Acquire) {
                    self.last.remove(&TargetKey::Pod(pod.uid.clone()));
                    return;
                }
                write_pod_status(&self.store, &pod);
            }
            Target::Node(node) => {
                node.status_queued.store(false, Ordering::Release);
                let images = node.runtime.list_images().await;
                let list = node_status_images(&images, self.config.max_images_in_status);
                let pressure = node.disk_pressure.load(Ordering::Acquire);
                let now = self.clock.timestamp();
                let written = self.store.modify(&NODES, &ObjectKey::cluster(&node.name), Part::Status, |obj| {
                    set_disk_pressure_condition(obj, pressure, &now);
                    if obj.pointer("/status/images") != Some(&list) {
                        obj["status"]["images"] = list;
                    }
                    Ok(())
                });
                if written.is_ok() {
                    node.counters.node_status_write();
                }
            }
        }
    }
}

/// Writes the pod's status as it is now, at once; false when the pod is gone or replaced.
pub(super) fn write_pod_status(store: &Store, pod: &PodHandle) -> bool {
    let status = pod.state.lock().render();
    let uid = pod.uid.clone();
    let written = store.modify(&PODS, &pod.key, Part::Status, move |obj| {
        if meta_str(obj, "uid") != Some(uid.as_str()) {
            return Err(ApiError::new(409, "Conflict", "the pod was replaced"));
        }
        obj["status"] = status;
        Ok(())
    });
    if written.is_ok() {
        pod.counters.pod_status_write();
    }
    written.is_ok()
}
