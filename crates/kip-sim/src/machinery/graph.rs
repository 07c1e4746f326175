//! The ownership graph the garbage collector works from: for every object that names owners,
//! its owner references; for every owner uid, the objects that name it. Kept up to date from the
//! store's events, so the dependents of an owner are one map look-up away, however large the
//! store (deleting a DaemonSet of 5,000 pods never scans the world per pod).

use std::collections::HashMap;

use serde_json::Value;

use crate::resources::GroupResource;
use crate::store::ObjectKey;

/// One stored object, by type and key.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectRef {
    pub resource: GroupResource,
    pub key: ObjectKey,
}

impl ObjectRef {
    pub fn new(resource: GroupResource, key: ObjectKey) -> Self {
        ObjectRef { resource, key }
    }
}

/// One entry of `metadata.ownerReferences`, with the fields the collector reads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OwnerRef {
    pub api_version: String,
    pub kind: String,
    pub name: String,
    pub uid: String,
    /// `blockOwnerDeletion`: a foreground deletion of the owner waits for this dependent.
    pub blocking: bool,
}

impl OwnerRef {
    /// The owner references of an object; malformed entries (no uid) are skipped.
    pub fn all_of(obj: &Value) -> Vec<OwnerRef> {
        let Some(refs) = obj.pointer("/metadata/ownerReferences").and_then(Value::as_array) else {
            return Vec::new();
        };
        let text = |r: &Value, field: &str| r.get(field).and_then(Value::as_str).unwrap_or("").to_string();
        refs.iter()
            .filter(|r| r.get("uid").and_then(Value::as_str).is_some_and(|u| !u.is_empty()))
            .map(|r| OwnerRef {
                api_version: text(r, "apiVersion"),
                kind: text(r, "kind"),
                name: text(r, "name"),
                uid: text(r, "uid"),
                blocking: r.get("blockOwnerDeletion").and_then(Value::as_bool).unwrap_or(false),
            })
            .collect()
    }

    /// The API group of the owner's `apiVersion` (empty for the core group).
    pub fn group(&self) -> &str {
        self.api_version.rsplit_once('/').map(|(group, _)| group).unwrap_or("")
    }
}

#[derive(Debug, Default)]
pub struct Graph {
    owners: HashMap<ObjectRef, Vec<OwnerRef>>,
    /// Owner uid -> its dependents, each with whether it blocks a foreground deletion.
    dependents: HashMap<String, HashMap<ObjectRef, bool>>,
}

impl Graph {
    pub fn clear(&mut self) {
        self.owners.clear();
        self.dependents.clear();
    }

    /// The owner references recorded for an object (empty if it names none).
    pub fn owners_of(&self, object: &ObjectRef) -> &[OwnerRef] {
        self.owners.get(object).map(Vec::as_slice).unwrap_or(&[])
    }

    /// Records the owners an object names now. Returns the references it dropped or stopped
    /// blocking: their owners may be waiting for exactly that.
    pub fn set_owners(&mut self, object: &ObjectRef, owners: Vec<OwnerRef>) -> Vec<OwnerRef> {
        let old = self.owners.remove(object).unwrap_or_default();
        let released: Vec<OwnerRef> = old
            .iter()
            .filter(|o| !owners.iter().any(|n| n.uid == o.uid && (n.blocking || !o.blocking)))
            .cloned()
            .collect();
        for o in &old {
            self.unlink(&o.uid, object);
        }
        for o in &owners {
            let blocking = self.dependents.entry(o.uid.clone()).or_default().entry(object.clone()).or_insert(false);
            *blocking |= o.blocking;
        }
        if !owners.is_empty() {
            self.owners.insert(object.clone(), owners);
        }
        released
    }

    /// Forgets an object that is gone; returns the owner references it had.
    pub fn remove(&mut self, object: &ObjectRef) -> Vec<OwnerRef> {
        let old = self.owners.remove(object).unwrap_or_default();
        for o in &old {
            self.unlink(&o.uid, object);
        }
        old
    }

    fn unlink(&mut self, owner_uid: &str, object: &ObjectRef) {
        if let Some(deps) = self.dependents.get_mut(owner_uid) {
            deps.remove(object);
            if deps.is_empty() {
                self.dependents.remove(owner_uid);
            }
        }
    }

    pub fn dependents_of(&self, owner_uid: &str) -> Vec<ObjectRef> {
        self.dependents.get(owner_uid).map(|d| d.keys().cloned().collect()).unwrap_or_default()
    }

    pub fn has_dependents(&self, owner_uid: &str) -> bool {
        self.dependents.contains_key(owner_uid)
    }

    pub fn has_blocking_dependents(&self, owner_uid: &str) -> bool {
        self.dependents.get(owner_uid).is_some_and(|d| d.values().any(|blocking| *blocking))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(name: &str) -> ObjectRef {
        ObjectRef::new(GroupResource::core("pods"), ObjectKey::new("ns", name))
    }

    fn owner(uid: &str, blocking: bool) -> OwnerRef {
        OwnerRef {
            api_version: "apps/v1".into(),
            kind: "DaemonSet".into(),
            name: "ds".into(),
            uid: uid.into(),
            blocking,
        }
    }

    #[test]
    fn reads_owner_references_and_skips_those_without_uid() {
        let obj = json!({"metadata": {"ownerReferences": [
            {"apiVersion": "apps/v1", "kind": "DaemonSet", "name": "ds", "uid": "u1", "blockOwnerDeletion": true},
            {"apiVersion": "v1", "kind": "ConfigMap", "name": "cm"}
        ]}});
        let refs = OwnerRef::all_of(&obj);
        assert_eq!(refs, vec![owner("u1", true)]);
        assert_eq!(refs[0].group(), "apps");
        assert_eq!(OwnerRef { api_version: "v1".into(), ..owner("u", false) }.group(), "");
    }

    #[test]
    fn tracks_dependents_and_blocking() {
        let mut graph = Graph::default();
        graph.set_owners(&pod("a"), vec![owner("u1", false)]);
        graph.set_owners(&pod("b"), vec![owner("u1", true), owner("u2", false)]);
        let mut deps = graph.dependents_of("u1");
        deps.sort();
        assert_eq!(deps, vec![pod("a"), pod("b")]);
        assert!(graph.has_blocking_dependents("u1"));
        assert!(!graph.has_blocking_dependents("u2"));
        graph.remove(&pod("b"));
        assert!(!graph.has_blocking_dependents("u1"));
        assert!(!graph.has_dependents("u2"), "an owner with no dependents left is forgotten");
    }

    #[test]
    fn reports_released_references() {
        let cases = [
            ("dropped", vec![owner("u1", true)], vec![], vec!["u1"]),
            ("unblocked", vec![owner("u1", true)], vec![owner("u1", false)], vec!["u1"]),
            ("newly blocking", vec![owner("u1", false)], vec![owner("u1", true)], vec![]),
            ("kept", vec![owner("u1", true), owner("u2", false)], vec![owner("u1", true)], vec!["u2"]),
        ];
        for (name, before, after, released) in cases {
            let mut graph = Graph::default();
            graph.set_owners(&pod("a"), before);
            let got: Vec<String> = graph.set_owners(&pod("a"), after).into_iter().map(|o| o.uid).collect();
            assert_eq!(got, released, "{name}");
        }
    }
}
