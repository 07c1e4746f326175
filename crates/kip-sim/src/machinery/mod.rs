//! The API machinery controllers that run inside the simulated API server and work on the store
//! directly: the garbage collector (ownerReferences, orphan and foreground deletion), namespace
//! lifecycle, and CustomResourceDefinitions (naming, establishing, serving, cleanup); and the
//! mirror that serves every Event through both Event APIs ([`events`]).
//!
//! One task runs them all from the store's live events. It keeps the state that makes each pass
//! cheap (the ownership graph, object counts per namespace) and a de-duplicated work queue. The
//! state is rebuilt from full lists when the task starts and whenever it falls behind the live
//! events; events older than a type's list are then skipped, so nothing counts twice.
//!
//! [`spawn`] runs the controllers in the background; tests that want determinism build a
//! [`Machinery`] and call [`Machinery::settle`], which returns once nothing is left to do.

mod conditions;
mod crd;
pub mod crd_validation;
pub mod events;
mod gc;
mod graph;
mod namespace;
mod queue;
pub mod strategy;

use std::collections::HashMap;
use std::sync::Arc;

use tokio::sync::broadcast::{self, error::RecvError, error::TryRecvError};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use crate::resources::GroupResource;
use crate::store::{ObjectKey, Store, WatchEvent};

use self::crd::Crds;
use self::graph::{Graph, ObjectRef};
use self::namespace::Namespaces;
use self::queue::{Work, WorkQueue};

/// How many passes `settle` runs at most: far beyond any real cascade, it only stops a
/// controller bug from hanging a test.
const SETTLE_LIMIT: usize = 10_000_000;
/// Passes between yields of the background task, so one long cascade does not hog a worker.
const PASSES_PER_YIELD: usize = 64;

/// Runs the machinery controllers until `shutdown` is cancelled.
pub fn spawn(store: Arc<Store>, shutdown: CancellationToken) -> JoinHandle<()> {
    tokio::spawn(events::run(store.clone(), shutdown.clone()));
    let machinery = Machinery::new(store);
    tokio::spawn(machinery.run(shutdown))
}

/// The machinery controllers and their state.
pub struct Machinery {
    store: Arc<Store>,
    live: broadcast::Receiver<Arc<WatchEvent>>,
    /// The resourceVersion each type was listed at in the last resync: older events are in the
    /// lists already.
    listed_at: HashMap<GroupResource, u64>,
    graph: Graph,
    queue: WorkQueue,
    namespaces: Namespaces,
    crds: Crds,
}

impl Machinery {
    /// Subscribes to the store and reads its current state; everything already stored is
    /// looked at on the first pass.
    pub fn new(store: Arc<Store>) -> Self {
        let live = store.subscribe();
        let mut machinery = Machinery {
            store,
            live,
            listed_at: HashMap::new(),
            graph: Graph::default(),
            queue: WorkQueue::default(),
            namespaces: Namespaces::default(),
            crds: Crds::default(),
        };
        machinery.resync();
        machinery
    }

    /// Applies every event stored so far and every pass they call for, including the passes
    /// that its own writes call for, until nothing is left to do. Returns the number of passes.
    pub fn settle(&mut self) -> usize {
        let mut passes = 0;
        while passes < SETTLE_LIMIT {
            self.drain();
            let Some(work) = self.queue.pop() else { return passes };
            self.work(work);
            passes += 1;
        }
        warn!(passes, "machinery did not settle");
        passes
    }

    /// Runs until `shutdown` is cancelled.
    pub async fn run(mut self, shutdown: CancellationToken) {
        loop {
            let mut passes = 0;
            loop {
                self.drain();
                let Some(work) = self.queue.pop() else { break };
                self.work(work);
                passes += 1;
                if passes % PASSES_PER_YIELD == 0 {
                    tokio::task::yield_now().await;
                    if shutdown.is_cancelled() {
                        return;
                    }
                }
            }
            tokio::select! {
                () = shutdown.cancelled() => return,
                received = self.live.recv() => match received {
                    Ok(event) => self.observe(&event),
                    Err(RecvError::Lagged(missed)) => {
                        debug!(missed, "machinery fell behind the store's events; resyncing");
                        self.resync();
                    }
                    // The store is gone: nothing left to run for.
                    Err(RecvError::Closed) => return,
                },
            }
        }
    }

    /// Rebuilds all state from full lists, subscribing first so that no event is missed.
    fn resync(&mut self) {
        self.live = self.store.subscribe();
        self.listed_at.clear();
        self.graph.clear();
        self.namespaces.clear();
        self.crds.clear_progress();
        let types: Vec<GroupResource> = self.store.registry().all().map(|t| t.group_resource()).collect();
        for gr in types {
            let (objects, resource_version) = self.store.list(&gr, None);
            self.listed_at.insert(gr.clone(), resource_version);
            let is_namespace = strategy::is_namespaces(&gr);
            let is_crd = strategy::is_crds(&gr);
            for obj in objects {
                let target = ObjectRef::new(gr.clone(), ObjectKey::of(&obj));
                gc::resync_object(&mut self.graph, &mut self.queue, &target, &obj);
                self.namespaces.count_listed(&target.key);
                if is_namespace {
                    self.queue.push(Work::Namespace(target.key.name.clone()));
                } else if is_crd {
                    self.queue.push(Work::Crd(target.key.name.clone()));
                }
            }
        }
        // Content may outlive a namespace deleted before it carried its finalizer.
        for namespace in self.namespaces.with_content() {
            self.queue.push(Work::Namespace(namespace));
        }
    }

    /// Takes every event already received.
    fn drain(&mut self) {
        loop {
            match self.live.try_recv() {
                Ok(event) => self.observe(&event),
                Err(TryRecvError::Lagged(missed)) => {
                    debug!(missed, "machinery fell behind the store's events; resyncing");
                    self.resync();
                }
                Err(TryRecvError::Empty | TryRecvError::Closed) => return,
            }
        }
    }

    fn observe(&mut self, event: &WatchEvent) {
        if self.listed_at.get(&event.resource).is_some_and(|listed| event.resource_version <= *listed) {
            return;
        }
        gc::observe(&self.store, &mut self.graph, &mut self.queue, event);
        self.namespaces.observe(&mut self.queue, event);
        self.crds.observe(&mut self.queue, event);
    }

    fn work(&mut self, work: Work) {
        match work {
            Work::Object(target) => gc::attempt(&self.store, &self.graph, &target),
            Work::Namespace(name) => self.namespaces.reconcile(&self.store, &name),
            Work::Crd(name) => self.crds.reconcile(&self.store, &mut self.queue, &name),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{DeleteOptions, EventType, StoreOptions};
    use serde_json::json;

    #[test]
    fn events_already_in_a_list_are_not_counted_twice() {
        let store = Arc::new(Store::new(StoreOptions::default()));
        let namespaces = GroupResource::core("namespaces");
        let configmaps = GroupResource::core("configmaps");
        store.create(&namespaces, json!({"metadata": {"name": "ns"}})).expect("namespace");
        let cm = store.create(&configmaps, json!({"metadata": {"name": "cm", "namespace": "ns"}})).expect("configmap");
        let mut machinery = Machinery::new(store.clone());
        machinery.settle();
        // A writer on another thread can store between our subscription and our list; its
        // event then arrives although the list already holds the object.
        let rv = cm["metadata"]["resourceVersion"].as_str().and_then(|v| v.parse().ok()).expect("resourceVersion");
        let replayed = WatchEvent {
            resource_version: rv,
            resource: configmaps,
            event_type: EventType::Added,
            object: cm,
            previous: None,
        };
        machinery.observe(&replayed);
        store.delete(&namespaces, &ObjectKey::cluster("ns"), &DeleteOptions::default()).expect("delete");
        machinery.settle();
        assert!(store.get(&namespaces, &ObjectKey::cluster("ns")).is_none(), "the count reached zero");
    }
}
