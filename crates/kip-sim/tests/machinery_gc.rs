//! The garbage collector, driven on a store directly and settled synchronously.

// Test helpers fail loudly; ApiError (a whole Status) is large by design.
#![allow(clippy::expect_used, clippy::result_large_err)]

use std::sync::Arc;

use kip_sim::machinery::Machinery;
use kip_sim::store::{DeleteOptions, Deleted, Propagation, finalizers, is_terminating, meta_str};
use kip_sim::{GroupResource, ObjectKey, Store, StoreOptions};
use serde_json::{Value, json};

fn pods() -> GroupResource {
    GroupResource::core("pods")
}
fn daemonsets() -> GroupResource {
    GroupResource::new("apps", "daemonsets")
}
fn deployments() -> GroupResource {
    GroupResource::new("apps", "deployments")
}
fn replicasets() -> GroupResource {
    GroupResource::new("apps", "replicasets")
}

fn store_with(namespaces: &[&str], options: StoreOptions) -> Arc<Store> {
    let store = Arc::new(Store::new(options));
    for ns in namespaces {
        store
            .create(
                &GroupResource::core("namespaces"),
                json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}),
            )
            .expect("namespace");
    }
    store
}

fn store() -> Arc<Store> {
    store_with(&["ns", "other"], StoreOptions::default())
}

fn owner_ref(owner: &Value, blocking: bool) -> Value {
    json!({
        "apiVersion": owner["apiVersion"], "kind": owner["kind"], "name": owner["metadata"]["name"],
        "uid": owner["metadata"]["uid"], "controller": true, "blockOwnerDeletion": blocking,
    })
}

fn workload(store: &Store, gr: &GroupResource, kind: &str, ns: &str, name: &str, owners: Vec<Value>) -> Arc<Value> {
    let obj = json!({
        "apiVersion": "apps/v1", "kind": kind,
        "metadata": {"name": name, "namespace": ns, "ownerReferences": owners},
        "spec": {
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [{"name": "c", "image": "x"}]}},
        },
    });
    store.create(gr, obj).expect("create workload")
}

/// A pod; `node` binds it, so its deletion waits for a kubelet (none runs here).
fn pod(store: &Store, ns: &str, name: &str, owners: Vec<Value>, node: Option<&str>) -> Arc<Value> {
    let mut spec = json!({"containers": [{"name": "c", "image": "x"}], "terminationGracePeriodSeconds": 1});
    if let Some(node) = node {
        spec["nodeName"] = json!(node);
    }
    let obj = json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": ns, "ownerReferences": owners},
        "spec": spec,
    });
    store.create(&pods(), obj).expect("create pod")
}

fn get(store: &Store, gr: &GroupResource, ns: &str, name: &str) -> Option<Arc<Value>> {
    store.get(gr, &ObjectKey::new(ns, name))
}

fn delete(store: &Store, gr: &GroupResource, ns: &str, name: &str, propagation: Option<Propagation>) -> Deleted {
    let options = DeleteOptions { propagation, ..DeleteOptions::default() };
    store.delete(gr, &ObjectKey::new(ns, name), &options).expect("delete")
}

/// What a kubelet does once a pod's containers stopped.
fn kubelet_finishes(store: &Store, ns: &str, name: &str) {
    let now = DeleteOptions { grace_period_seconds: Some(0), ..DeleteOptions::default() };
    store.delete(&pods(), &ObjectKey::new(ns, name), &now).expect("kubelet removes the pod");
}

fn owner_uids(obj: &Value) -> Vec<String> {
    obj.pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)
        .map(|refs| refs.iter().filter_map(|r| r["uid"].as_str().map(String::from)).collect())
        .unwrap_or_default()
}

#[test]
fn background_deletion_of_a_daemonset_removes_its_pods_afterwards() {
    let store = store();
    let mut machinery = Machinery::new(store.clone());
    let ds = workload(&store, &daemonsets(), "DaemonSet", "ns", "puller", vec![]);
    for i in 0..3 {
        pod(&store, "ns", &format!("puller-{i}"), vec![owner_ref(&ds, true)], None);
    }
    pod(&store, "ns", "bound", vec![owner_ref(&ds, true)], Some("node-1"));
    pod(&store, "ns", "unrelated", vec![], None);
    machinery.settle();
    assert!(get(&store, &pods(), "ns", "puller-0").is_some(), "pods of a live owner stay");

    assert!(matches!(delete(&store, &daemonsets(), "ns", "puller", None), Deleted::Gone(_)), "the owner goes at once");
    machinery.settle();
    for i in 0..3 {
        assert!(get(&store, &pods(), "ns", &format!("puller-{i}")).is_none(), "puller-{i} collected");
    }
    let bound = get(&store, &pods(), "ns", "bound").expect("a bound pod waits for its kubelet");
    assert!(is_terminating(&bound), "but its deletion has started");
    assert!(get(&store, &pods(), "ns", "unrelated").is_some());
}

#[test]
fn orphan_deletion_keeps_dependents_and_removes_only_that_owner_reference() {
    let store = store();
    let mut machinery = Machinery::new(store.clone());
    let ds = workload(&store, &daemonsets(), "DaemonSet", "ns", "puller", vec![]);
    let other = workload(&store, &daemonsets(), "DaemonSet", "ns", "other-owner", vec![]);
    pod(&store, "ns", "a", vec![owner_ref(&ds, true)], None);
    pod(&store, "ns", "b", vec![owner_ref(&ds, true), owner_ref(&other, false)], None);
    machinery.settle();

    let Deleted::Terminating(_) = delete(&store, &daemonsets(), "ns", "puller", Some(Propagation::Orphan)) else {
        panic!("orphan deletion waits for the collector")
    };
    machinery.settle();
    assert!(get(&store, &daemonsets(), "ns", "puller").is_none(), "the owner goes once its dependents are orphaned");
    let a = get(&store, &pods(), "ns", "a").expect("orphaned pod remains");
    assert!(a.pointer("/metadata/ownerReferences").is_none(), "{a}");
    let b = get(&store, &pods(), "ns", "b").expect("pod with another owner remains");
    assert_eq!(owner_uids(&b), vec![meta_str(&other, "uid").unwrap_or("").to_string()]);
}

#[test]
fn foreground_deletion_waits_for_blocking_dependents() {
    let store = store();
    let mut machinery = Machinery::new(store.clone());
    let ds = workload(&store, &daemonsets(), "DaemonSet", "ns", "puller", vec![]);
    pod(&store, "ns", "blocking", vec![owner_ref(&ds, true)], Some("node-1"));
    pod(&store, "ns", "not-blocking", vec![owner_ref(&ds, false)], Some("node-2"));
    machinery.settle();

    delete(&store, &daemonsets(), "ns", "puller", Some(Propagation::Foreground));
    machinery.settle();
    let owner = get(&store, &daemonsets(), "ns", "puller").expect("owner stays while a blocking dependent exists");
    assert_eq!(finalizers(&owner), vec!["foregroundDeletion"]);
    for name in ["blocking", "not-blocking"] {
        assert!(get(&store, &pods(), "ns", name).is_some_and(|p| is_terminating(&p)), "{name} is being deleted");
    }

    kubelet_finishes(&store, "ns", "blocking");
    machinery.settle();
    assert!(get(&store, &daemonsets(), "ns", "puller").is_none(), "no blocking dependent left: the owner goes");
    assert!(get(&store, &pods(), "ns", "not-blocking").is_some(), "a non-blocking dependent does not hold the owner");
}

#[test]
fn foreground_deletion_without_blocking_dependents_finishes_at_once() {
    let store = store();
    let mut machinery = Machinery::new(store.clone());
    let ds = workload(&store, &daemonsets(), "DaemonSet", "ns", "puller", vec![]);
    pod(&store, "ns", "p", vec![owner_ref(&ds, false)], None);
    machinery.settle();
    delete(&store, &daemonsets(), "ns", "puller", Some(Propagation::Foreground));
    machinery.settle();
    assert!(get(&store, &daemonsets(), "ns", "puller").is_none());
    assert!(get(&store, &pods(), "ns", "p").is_none(), "dependents are deleted all the same");
}

#[test]
fn references_that_do_not_match_a_live_owner_count_as_absent() {
    let store = store();
    let mut machinery = Machinery::new(store.clone());
    let ds = workload(&store, &daemonsets(), "DaemonSet", "ns", "puller", vec![]);
    let elsewhere = workload(&store, &daemonsets(), "DaemonSet", "other", "remote", vec![]);
    let node = store
        .create(
            &GroupResource::core("nodes"),
            json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node-1"}}),
        )
        .expect("node");
    let mut stale = owner_ref(&ds, true);
    stale["uid"] = json!("00000000-0000-0000-0000-000000000000");
    let mut renamed = owner_ref(&ds, true);
    renamed["name"] = json!("no-such-daemonset");
    let unknown_kind = json!({"apiVersion": "example.com/v1", "kind": "Gadget", "name": "g", "uid": "u-g"});

    let cases = [
        ("matches", vec![owner_ref(&ds, true)], true),
        ("uid of another object", vec![stale], false),
        ("name of no object", vec![renamed], false),
        ("owner in another namespace", vec![owner_ref(&elsewhere, true)], false),
        ("cluster-scoped owner", vec![owner_ref(&node, false)], true),
        ("one live owner of two", vec![owner_ref(&elsewhere, true), owner_ref(&ds, true)], true),
        ("unresolvable kind is left alone", vec![unknown_kind], true),
    ];
    for (name, owners, _) in &cases {
        pod(&store, "ns", &name.replace(' ', "-"), owners.clone(), None);
    }
    machinery.settle();
    for (name, _, stays) in &cases {
        let found = get(&store, &pods(), "ns", &name.replace(' ', "-"));
        assert_eq!(found.is_some(), *stays, "{name}");
    }
    let mixed = get(&store, &pods(), "ns", "one-live-owner-of-two").expect("kept by its live owner");
    assert_eq!(owner_uids(&mixed), vec![meta_str(&ds, "uid").unwrap_or("").to_string()], "absent owner dropped");
}

#[test]
fn a_cluster_scoped_object_cannot_be_owned_by_a_namespaced_one() {
    let store = store();
    let mut machinery = Machinery::new(store.clone());
    let ds = workload(&store, &daemonsets(), "DaemonSet", "ns", "puller", vec![]);
    let mut node = json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node-1"}});
    node["metadata"]["ownerReferences"] = json!([owner_ref(&ds, false)]);
    store.create(&GroupResource::core("nodes"), node).expect("node");
    delete(&store, &daemonsets(), "ns", "puller", None);
    machinery.settle();
    assert!(store.get(&GroupResource::core("nodes"), &ObjectKey::cluster("node-1")).is_some(), "unresolvable: kept");
}

#[test]
fn chains_cascade_in_the_background() {
    let store = store();
    let mut machinery = Machinery::new(store.clone());
    let deploy = workload(&store, &deployments(), "Deployment", "ns", "web", vec![]);
    let rs = workload(&store, &replicasets(), "ReplicaSet", "ns", "web-1", vec![owner_ref(&deploy, true)]);
    pod(&store, "ns", "web-1-a", vec![owner_ref(&rs, true)], None);
    machinery.settle();
    delete(&store, &deployments(), "ns", "web", None);
    machinery.settle();
    assert!(get(&store, &replicasets(), "ns", "web-1").is_none());
    assert!(get(&store, &pods(), "ns", "web-1-a").is_none(), "the grandchild goes too");
}

#[test]
fn chains_delete_bottom_up_in_the_foreground() {
    let store = store();
    let mut machinery = Machinery::new(store.clone());
    let deploy = workload(&store, &deployments(), "Deployment", "ns", "web", vec![]);
    let rs = workload(&store, &replicasets(), "ReplicaSet", "ns", "web-1", vec![owner_ref(&deploy, true)]);
    pod(&store, "ns", "web-1-a", vec![owner_ref(&rs, true)], Some("node-1"));
    machinery.settle();

    delete(&store, &deployments(), "ns", "web", Some(Propagation::Foreground));
    machinery.settle();
    let middle = get(&store, &replicasets(), "ns", "web-1").expect("the middle waits for its pod");
    assert_eq!(finalizers(&middle), vec!["foregroundDeletion"], "deleted in the foreground in turn");
    assert!(get(&store, &deployments(), "ns", "web").is_some(), "the top waits for the middle");
    assert!(get(&store, &pods(), "ns", "web-1-a").is_some_and(|p| is_terminating(&p)));

    kubelet_finishes(&store, "ns", "web-1-a");
    machinery.settle();
    assert!(get(&store, &replicasets(), "ns", "web-1").is_none());
    assert!(get(&store, &deployments(), "ns", "web").is_none());
}

#[test]
fn state_from_before_the_machinery_started_is_collected() {
    let store = store();
    let ds = workload(&store, &daemonsets(), "DaemonSet", "ns", "puller", vec![]);
    pod(&store, "ns", "p", vec![owner_ref(&ds, true)], None);
    delete(&store, &daemonsets(), "ns", "puller", None);
    let mut machinery = Machinery::new(store.clone());
    machinery.settle();
    assert!(get(&store, &pods(), "ns", "p").is_none());
}

#[test]
fn falling_behind_the_events_resyncs_without_losing_work() {
    // A live channel of 16 events overflows long before this test is done.
    let store = store_with(&["ns"], StoreOptions { live_capacity: 16, ..StoreOptions::default() });
    let mut machinery = Machinery::new(store.clone());
    let ds = workload(&store, &daemonsets(), "DaemonSet", "ns", "puller", vec![]);
    for i in 0..100 {
        pod(&store, "ns", &format!("p-{i}"), vec![owner_ref(&ds, true)], None);
    }
    delete(&store, &daemonsets(), "ns", "puller", None);
    machinery.settle();
    assert_eq!(store.list(&pods(), Some("ns")).0.len(), 0);
}

#[test]
fn deleting_a_large_daemonset_costs_a_pass_per_pod() {
    let store = store();
    let mut machinery = Machinery::new(store.clone());
    let ds = workload(&store, &daemonsets(), "DaemonSet", "ns", "puller", vec![]);
    let count = 5_000;
    for i in 0..count {
        pod(&store, "ns", &format!("p-{i}"), vec![owner_ref(&ds, true)], None);
    }
    let passes_on_create = machinery.settle();
    delete(&store, &daemonsets(), "ns", "puller", None);
    let passes_on_delete = machinery.settle();
    assert_eq!(store.list(&pods(), Some("ns")).0.len(), 0);
    // One look at each new pod, one at each orphaned pod (plus a handful for the namespace).
    assert!(passes_on_create <= count + 10, "{passes_on_create}");
    assert!(passes_on_delete <= count + 10, "{passes_on_delete}");
}
