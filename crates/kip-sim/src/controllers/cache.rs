//! The controllers' view of the store, kept up to date from watch events: nodes and pods as
//! small structs of just the fields the controllers read (a 50-container pod is hundreds of KiB
//! of JSON; its view is a few hundred bytes), workload objects as shared JSON, each indexed by
//! the uid of its controlling owner.
//!
//! Events may arrive for states the cache already holds (the controllers write through it, and
//! a relist overlaps the live stream): every entry keeps its resourceVersion and older states
//! are ignored.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use serde_json::Value;

use super::eligibility::NodeFacts;
use super::quantity;
use crate::cluster::clock::parse_timestamp;
use crate::store::{EventType, ObjectKey, WatchEvent, is_terminating, meta_str};

pub fn resource_version(obj: &Value) -> u64 {
    meta_str(obj, "resourceVersion").and_then(|rv| rv.parse().ok()).unwrap_or(0)
}

/// The controlling owner of an object (`ownerReferences[].controller == true`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OwnerRef {
    pub kind: String,
    pub name: String,
    pub uid: String,
}

pub fn controller_of(obj: &Value) -> Option<OwnerRef> {
    let refs = obj.pointer("/metadata/ownerReferences")?.as_array()?;
    let owner = refs.iter().find(|r| r.get("controller").and_then(Value::as_bool) == Some(true))?;
    Some(OwnerRef {
        kind: owner.get("kind")?.as_str()?.to_string(),
        name: owner.get("name")?.as_str()?.to_string(),
        uid: owner.get("uid")?.as_str()?.to_string(),
    })
}

/// Requested resources, for fitting pods onto nodes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Resources {
    pub cpu_millis: i64,
    pub memory_bytes: i64,
}

impl Resources {
    fn of_container(container: &Value) -> Self {
        let request = |name: &str, parse: fn(&str) -> Option<i64>| {
            container
                .pointer(&format!("/resources/requests/{name}"))
                .and_then(Value::as_str)
                .and_then(parse)
                .unwrap_or(0)
        };
        Resources { cpu_millis: request("cpu", quantity::cpu_millis), memory_bytes: request("memory", quantity::whole) }
    }

    /// A pod's effective request: its containers together, or its largest init container.
    pub fn of_pod_spec(spec: &Value) -> Self {
        let list = |field: &str| -> Vec<Resources> {
            spec.get(field)
                .and_then(Value::as_array)
                .map(|a| a.iter().map(Self::of_container).collect())
                .unwrap_or_default()
        };
        let mut total = list("containers").into_iter().fold(Resources::default(), |a, b| Resources {
            cpu_millis: a.cpu_millis + b.cpu_millis,
            memory_bytes: a.memory_bytes + b.memory_bytes,
        });
        for init in list("initContainers") {
            total.cpu_millis = total.cpu_millis.max(init.cpu_millis);
            total.memory_bytes = total.memory_bytes.max(init.memory_bytes);
        }
        total
    }
}

/// What the controllers read of a pod.
#[derive(Clone, Debug, PartialEq)]
pub struct PodView {
    pub key: ObjectKey,
    pub uid: String,
    pub labels: BTreeMap<String, String>,
    pub owner: Option<OwnerRef>,
    /// `spec.nodeName`, or for an unbound daemon pod the node its affinity names.
    pub node_name: Option<String>,
    pub bound: bool,
    pub phase: String,
    pub ready: bool,
    pub ready_since: Option<jiff::Timestamp>,
    pub terminating: bool,
    pub created: String,
    pub requests: Resources,
}

impl PodView {
    pub fn from_object(obj: &Value) -> Self {
        let spec = obj.get("spec").unwrap_or(&Value::Null);
        let bound_to = spec.get("nodeName").and_then(Value::as_str).filter(|n| !n.is_empty());
        let ready_condition = obj
            .pointer("/status/conditions")
            .and_then(Value::as_array)
            .and_then(|conditions| conditions.iter().find(|c| c["type"] == "Ready"));
        PodView {
            key: ObjectKey::of(obj),
            uid: meta_str(obj, "uid").unwrap_or("").to_string(),
            labels: obj
                .pointer("/metadata/labels")
                .and_then(|l| serde::Deserialize::deserialize(l).ok())
                .unwrap_or_default(),
            owner: controller_of(obj),
            node_name: bound_to.map(String::from).or_else(|| affinity_target(spec)),
            bound: bound_to.is_some(),
            phase: obj.pointer("/status/phase").and_then(Value::as_str).unwrap_or("Pending").to_string(),
            ready: ready_condition.is_some_and(|c| c["status"] == "True"),
            ready_since: ready_condition
                .and_then(|c| c.get("lastTransitionTime"))
                .and_then(Value::as_str)
                .and_then(parse_timestamp),
            terminating: is_terminating(obj),
            created: meta_str(obj, "creationTimestamp").unwrap_or("").to_string(),
            requests: Resources::of_pod_spec(spec),
        }
    }

    /// Succeeded or Failed: its containers will not run again.
    pub fn is_terminal(&self) -> bool {
        self.phase == "Succeeded" || self.phase == "Failed"
    }

    /// Counts toward a controller's replicas: neither terminal nor being deleted.
    pub fn is_active(&self) -> bool {
        !self.is_terminal() && !self.terminating
    }

    /// Ready for at least `min_ready_seconds` (strictly more, as Kubernetes compares) at `now`.
    pub fn is_available(&self, min_ready_seconds: i64, now: jiff::Timestamp) -> bool {
        if !self.ready {
            return false;
        }
        if min_ready_seconds <= 0 {
            return true;
        }
        self.ready_since.is_some_and(|since| {
            since.checked_add(jiff::SignedDuration::from_secs(min_ready_seconds)).is_ok_and(|t| t < now)
        })
    }
}

/// The node a daemon pod's required affinity pins it to (`metadata.name In [node]`).
fn affinity_target(spec: &Value) -> Option<String> {
    let terms = spec
        .pointer("/affinity/nodeAffinity/requiredDuringSchedulingIgnoredDuringExecution/nodeSelectorTerms")?
        .as_array()?;
    terms.iter().flat_map(|t| t.get("matchFields").and_then(Value::as_array).into_iter().flatten()).find_map(|f| {
        let values = f.get("values")?.as_array()?;
        (f["key"] == "metadata.name" && f["operator"] == "In" && values.len() == 1)
            .then(|| values[0].as_str().map(String::from))
            .flatten()
    })
}

/// What the controllers read of a node.
#[derive(Clone, Debug, PartialEq)]
pub struct NodeView {
    pub facts: NodeFacts,
    pub allocatable: Resources,
    pub max_pods: i64,
    /// The Node object needs its state taints brought in line.
    pub taints_stale: bool,
}

impl NodeView {
    pub fn from_object(obj: &Value) -> Self {
        let allocatable = |name: &str, parse: fn(&str) -> Option<i64>| {
            obj.pointer(&format!("/status/allocatable/{name}")).and_then(Value::as_str).and_then(parse)
        };
        NodeView {
            facts: NodeFacts::from_node(obj),
            allocatable: Resources {
                cpu_millis: allocatable("cpu", quantity::cpu_millis).unwrap_or(i64::MAX),
                memory_bytes: allocatable("memory", quantity::whole).unwrap_or(i64::MAX),
            },
            max_pods: allocatable("pods", quantity::whole).unwrap_or(110),
            taints_stale: crate::cluster::node::reconciled_taints(obj, "").is_some(),
        }
    }
}

#[derive(Debug)]
struct Entry<T> {
    resource_version: u64,
    owner_uid: Option<String>,
    value: T,
}

/// Objects of one type by key, with their controlling owner's uid indexed.
#[derive(Debug)]
pub struct Index<T> {
    items: BTreeMap<ObjectKey, Entry<T>>,
    by_owner: HashMap<String, BTreeSet<ObjectKey>>,
}

impl<T> Default for Index<T> {
    fn default() -> Self {
        Index { items: BTreeMap::new(), by_owner: HashMap::new() }
    }
}

impl<T> Index<T> {
    /// Stores a state unless the index holds a newer one. Returns whether it was stored.
    pub fn upsert(&mut self, key: ObjectKey, resource_version: u64, owner_uid: Option<String>, value: T) -> bool {
        if self.items.get(&key).is_some_and(|e| e.resource_version >= resource_version) {
            return false;
        }
        self.unindex(&key);
        if let Some(uid) = &owner_uid {
            self.by_owner.entry(uid.clone()).or_default().insert(key.clone());
        }
        self.items.insert(key, Entry { resource_version, owner_uid, value });
        true
    }

    /// Removes an object unless the index holds a state newer than the deletion.
    pub fn remove(&mut self, key: &ObjectKey, resource_version: u64) -> Option<T> {
        if self.items.get(key).is_none_or(|e| e.resource_version > resource_version) {
            return None;
        }
        self.unindex(key);
        self.items.remove(key).map(|e| e.value)
    }

    fn unindex(&mut self, key: &ObjectKey) {
        let Some(uid) = self.items.get(key).and_then(|e| e.owner_uid.clone()) else { return };
        if let Some(keys) = self.by_owner.get_mut(&uid) {
            keys.remove(key);
            if keys.is_empty() {
                self.by_owner.remove(&uid);
            }
        }
    }

    pub fn get(&self, key: &ObjectKey) -> Option<&T> {
        self.items.get(key).map(|e| &e.value)
    }

    /// The resourceVersion of the state held for `key`.
    pub fn version(&self, key: &ObjectKey) -> Option<u64> {
        self.items.get(key).map(|e| e.resource_version)
    }

    /// Every object with the resourceVersion of the state held.
    pub fn entries(&self) -> impl Iterator<Item = (&ObjectKey, u64, &T)> {
        self.items.iter().map(|(k, e)| (k, e.resource_version, &e.value))
    }

    pub fn iter(&self) -> impl Iterator<Item = (&ObjectKey, &T)> {
        self.items.iter().map(|(k, e)| (k, &e.value))
    }

    pub fn values(&self) -> impl Iterator<Item = &T> {
        self.items.values().map(|e| &e.value)
    }

    pub fn keys(&self) -> impl Iterator<Item = &ObjectKey> {
        self.items.keys()
    }

    /// Objects whose controlling owner has this uid.
    pub fn owned_by<'a>(&'a self, uid: &str) -> impl Iterator<Item = &'a T> + 'a {
        self.by_owner.get(uid).into_iter().flatten().filter_map(|k| self.items.get(k).map(|e| &e.value))
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn clear(&mut self) {
        self.items.clear();
        self.by_owner.clear();
    }
}

/// Applies one change of one object to an index, through `view` for new states.
pub fn apply_event<T>(index: &mut Index<T>, event: &WatchEvent, view: impl FnOnce(&Value) -> T) -> bool {
    let key = ObjectKey::of(&event.object);
    let rv = event.resource_version;
    match event.event_type {
        EventType::Deleted => index.remove(&key, rv).is_some(),
        EventType::Added | EventType::Modified => {
            index.upsert(key, rv, controller_of(&event.object).map(|o| o.uid), view(&event.object))
        }
    }
}

/// Stores an object the controllers just wrote (write-through, ahead of its event).
pub fn apply_written<T>(index: &mut Index<T>, obj: &Value, view: impl FnOnce(&Value) -> T) {
    index.upsert(ObjectKey::of(obj), resource_version(obj), controller_of(obj).map(|o| o.uid), view(obj));
}

/// Stores a workload object the controllers just wrote.
pub fn remember(index: &mut Index<Arc<Value>>, obj: &Arc<Value>) {
    apply_written(index, obj, |_| obj.clone());
}

/// Everything the controllers watch.
#[derive(Debug, Default)]
pub struct Caches {
    pub nodes: Index<NodeView>,
    pub pods: Index<PodView>,
    pub daemonsets: Index<Arc<Value>>,
    pub deployments: Index<Arc<Value>>,
    pub replicasets: Index<Arc<Value>>,
    pub revisions: Index<Arc<Value>>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn older_states_never_replace_newer_ones() {
        let mut index: Index<&str> = Index::default();
        let key = ObjectKey::new("ns", "a");
        assert!(index.upsert(key.clone(), 5, Some("owner".into()), "v5"));
        assert!(!index.upsert(key.clone(), 4, None, "v4"));
        assert_eq!(index.get(&key), Some(&"v5"));
        assert_eq!(index.remove(&key, 3), None, "a deletion older than the state is stale");
        assert_eq!(index.owned_by("owner").count(), 1);
        assert_eq!(index.remove(&key, 6), Some("v5"));
        assert_eq!(index.owned_by("owner").count(), 0);
    }

    #[test]
    fn pod_views_read_readiness_ownership_and_target_node() {
        let pod = json!({
            "metadata": {"name": "ds-abcde", "namespace": "ns", "uid": "u1", "resourceVersion": "9",
                         "labels": {"controller-revision-hash": "h"},
                         "ownerReferences": [{"kind": "DaemonSet", "name": "ds", "uid": "d1", "controller": true}]},
            "spec": {"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
                        {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["node-3"]}]}]}}},
                     "containers": [{"name": "a", "resources": {"requests": {"cpu": "50m", "memory": "10Mi"}}},
                                    {"name": "b", "resources": {"requests": {"cpu": "50m"}}}]},
            "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": "2025-01-01T00:00:00Z"}]}
        });
        let view = PodView::from_object(&pod);
        assert_eq!(view.node_name.as_deref(), Some("node-3"));
        assert!(!view.bound && view.ready && view.is_active());
        assert_eq!(view.owner.as_ref().map(|o| o.uid.as_str()), Some("d1"));
        assert_eq!(view.requests, Resources { cpu_millis: 100, memory_bytes: 10 << 20 });
        let since: jiff::Timestamp = "2025-01-01T00:00:00Z".parse().unwrap();
        let ten_later = since + jiff::SignedDuration::from_secs(10);
        assert!(view.is_available(0, since));
        assert!(view.is_available(5, ten_later));
        assert!(!view.is_available(10, ten_later), "availability needs strictly more than minReadySeconds");
    }
}
