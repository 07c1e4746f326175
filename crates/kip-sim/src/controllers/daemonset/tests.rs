//! The DaemonSet controller's decisions, driven by hand on a store without kubelets.

use std::sync::Arc;

use serde_json::{Value, json};

use super::super::cache::PodView;
use super::super::{DAEMONSETS, Manager, NODES, PODS, REVISIONS};
use super::*;
use crate::cluster::node::{NodeSpec, node_object};
use crate::resources::GroupResource;
use crate::store::{DeleteOptions, Part, Store, StoreOptions};

const LONG_AGO: &str = "2020-01-01T00:00:00Z";

fn store_with_nodes(count: u32) -> Arc<Store> {
    let store = Arc::new(Store::new(StoreOptions::default()));
    store.create(&GroupResource::core("namespaces"), json!({"metadata": {"name": "ns"}})).expect("namespace");
    for i in 1..=count {
        store.create(&NODES, node_object(&NodeSpec::new(format!("node-{i}")), i, LONG_AGO)).expect("node");
    }
    store
}

fn daemonset(max_unavailable: Value) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "DaemonSet",
        "metadata": {"name": "ds", "namespace": "ns"},
        "spec": {
            "selector": {"matchLabels": {"app": "ds"}},
            "template": {"metadata": {"labels": {"app": "ds"}}, "spec": {"containers": [{"name": "c", "image": "app:1"}]}},
            "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": max_unavailable}},
        },
    })
}

fn pods(store: &Store) -> Vec<Arc<Value>> {
    store.list(&PODS, Some("ns")).0
}

fn on_node<'a>(pods: &'a [Arc<Value>], node: &str) -> Vec<&'a Arc<Value>> {
    pods.iter().filter(|p| p["spec"]["nodeName"] == node).collect()
}

/// Reports a pod running, and ready (since long ago) or not, as its kubelet would.
fn set_ready(store: &Store, pod: &Value, ready: bool) {
    let status = json!({"phase": "Running", "conditions": [
        {"type": "Ready", "status": if ready { "True" } else { "False" }, "lastTransitionTime": LONG_AGO}]});
    store
        .modify(&PODS, &ObjectKey::of(pod), Part::Status, |p| {
            p["status"] = status;
            Ok(())
        })
        .expect("status");
}

/// What the kubelet does once a deleted pod's containers stopped.
fn finish_deletions(store: &Store) {
    for pod in pods(store).iter().filter(|p| is_terminating(p)) {
        let now = DeleteOptions { grace_period_seconds: Some(0), ..Default::default() };
        store.delete(&PODS, &ObjectKey::of(pod), &now).expect("delete");
    }
}

#[test]
fn a_rolling_update_replaces_unavailable_old_pods_first_and_stays_within_the_budget() {
    let store = store_with_nodes(4);
    store.create(&DAEMONSETS, daemonset(json!(1))).expect("daemonset");
    let (mut m, mut events) = Manager::for_tests(store.clone());
    m.settle(&mut events);
    assert_eq!(pods(&store).len(), 4);
    for pod in pods(&store) {
        set_ready(&store, &pod, pod["spec"]["nodeName"] != "node-3");
    }
    m.settle(&mut events);
    assert_eq!(store.get(&DAEMONSETS, &ObjectKey::new("ns", "ds")).expect("ds")["status"]["numberReady"], 3);

    store
        .modify(&DAEMONSETS, &ObjectKey::new("ns", "ds"), Part::Main, |ds| {
            ds["spec"]["template"]["spec"]["containers"][0]["image"] = json!("app:2");
            Ok(())
        })
        .expect("update");
    m.settle(&mut events);
    let terminating: Vec<String> = pods(&store)
        .iter()
        .filter(|p| is_terminating(p))
        .map(|p| p["spec"]["nodeName"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(terminating, ["node-3"], "the unavailable old pod goes first, and uses up the budget of one");

    finish_deletions(&store);
    m.settle(&mut events);
    let all = pods(&store);
    let replacement = on_node(&all, "node-3");
    assert_eq!(replacement.len(), 1);
    assert_eq!(replacement[0]["spec"]["containers"][0]["image"], "app:2");
    assert!(all.iter().all(|p| !is_terminating(p)), "nothing else goes while the new pod is unavailable");

    set_ready(&store, replacement[0], true);
    m.settle(&mut events);
    assert_eq!(pods(&store).iter().filter(|p| is_terminating(p)).count(), 1, "then the next one, alone");
}

#[test]
fn pods_on_nodes_that_vanish_or_stop_matching_go() {
    let store = store_with_nodes(2);
    let mut ds = daemonset(json!(1));
    ds["spec"]["template"]["spec"]["nodeSelector"] = json!({"kubernetes.io/hostname": "node-1"});
    store.create(&DAEMONSETS, ds).expect("daemonset");
    let (mut m, mut events) = Manager::for_tests(store.clone());
    m.settle(&mut events);
    let all = pods(&store);
    assert_eq!((on_node(&all, "node-1").len(), on_node(&all, "node-2").len()), (1, 0));

    store
        .modify(&NODES, &ObjectKey::cluster("node-1"), Part::Main, |n| {
            n["metadata"]["labels"]["kubernetes.io/hostname"] = json!("renamed");
            Ok(())
        })
        .expect("relabel");
    m.settle(&mut events);
    assert!(pods(&store).iter().all(|p| is_terminating(p)), "a misscheduled pod is deleted");

    store.delete(&NODES, &ObjectKey::cluster("node-1"), &DeleteOptions::default()).expect("delete node");
    m.settle(&mut events);
    assert!(pods(&store).is_empty(), "the pods of a deleted node are removed");
}

fn view(labels: &[(&str, &str)], ready: bool, created: &str, name: &str) -> PodView {
    let pod = json!({
        "metadata": {"name": name, "namespace": "ns", "uid": name, "creationTimestamp": created,
                     "labels": labels.iter().map(|(k, v)| (k.to_string(), json!(v))).collect::<serde_json::Map<_, _>>()},
        "spec": {"nodeName": "node-1"},
        "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": if ready { "True" } else { "False" }, "lastTransitionTime": LONG_AGO}]},
    });
    PodView::from_object(&pod)
}

#[test]
fn nodes_with_extra_pods_keep_the_right_one() {
    let ds = DaemonSetView::new(&ObjectKey::new("ns", "ds"), Arc::new(daemonset(json!(1))));
    let now: jiff::Timestamp = "2025-01-01T00:00:00Z".parse().unwrap();
    let new = |ready, created, name| view(&[(REVISION_HASH_LABEL, "new")], ready, created, name);
    let old = |ready, created, name| view(&[(REVISION_HASH_LABEL, "old")], ready, created, name);
    type Case = (&'static str, bool, Vec<PodView>, Vec<&'static str>, bool);
    let cases: Vec<Case> = vec![
        ("no surge: the oldest stays", false, vec![old(true, "t1", "a"), new(true, "t2", "b")], vec!["b"], false),
        ("surge: nothing running, create", true, vec![], vec![], true),
        (
            "surge: new not yet available, old ready",
            true,
            vec![old(true, "t1", "a"), new(false, "t2", "b")],
            vec![],
            false,
        ),
        ("surge: new available, old goes", true, vec![old(true, "t1", "a"), new(true, "t2", "b")], vec!["a"], false),
        ("surge: old not ready goes", true, vec![old(false, "t1", "a"), new(false, "t2", "b")], vec!["a"], false),
        (
            "surge: a second new pod goes",
            true,
            vec![old(true, "t1", "a"), new(false, "t2", "b"), new(false, "t3", "c")],
            vec!["c"],
            false,
        ),
    ];
    for (name, surge, running, deleted, created) in cases {
        let running: Vec<&PodView> = running.iter().collect();
        let (mut create, mut delete) = (Vec::new(), Vec::new());
        excess_pods(&ds, "new", surge, true, &running, now, "node-1", &mut create, &mut delete);
        let deleted_names: Vec<&str> = delete.iter().map(|k| k.name.as_str()).collect();
        assert_eq!(deleted_names, deleted, "{name}");
        assert_eq!(!create.is_empty(), created, "{name}");
    }
}

#[test]
fn failed_pods_are_deleted_with_growing_back_off() {
    let mut memo = DaemonSetMemo::default();
    let at = |s: i64| jiff::Timestamp::from_second(1_700_000_000 + s).unwrap();
    assert_eq!(failed_pod_backoff(&mut memo, "node-1", at(0)), None, "the first failed pod goes at once");
    assert_eq!(failed_pod_backoff(&mut memo, "node-1", at(0)), Some(Duration::from_secs(1)));
    assert_eq!(failed_pod_backoff(&mut memo, "node-2", at(0)), None, "back-off is per node");
    assert_eq!(failed_pod_backoff(&mut memo, "node-1", at(1)), None);
    assert_eq!(failed_pod_backoff(&mut memo, "node-1", at(2)), Some(Duration::from_secs(1)), "now 2 s");
    assert_eq!(failed_pod_backoff(&mut memo, "node-1", at(3)), None);
}

#[test]
fn a_revision_name_taken_by_another_template_raises_the_collision_count() {
    let store = store_with_nodes(1);
    let ds = store.create(&DAEMONSETS, daemonset(json!(1))).expect("daemonset");
    let taken = format!("ds-{}", crate::controllers::revision::template_hash(&ds["spec"]["template"], None));
    let impostor = json!({
        "apiVersion": "apps/v1", "kind": "ControllerRevision",
        "metadata": {"name": taken, "namespace": "ns",
                     "ownerReferences": [crate::controllers::controller_ref(&ds, "apps/v1", "DaemonSet")]},
        "data": {"spec": {"template": {"spec": {"containers": []}, "$patch": "replace"}}},
        "revision": 1,
    });
    store.create(&REVISIONS, impostor).expect("revision");
    let (mut m, mut events) = Manager::for_tests(store.clone());
    m.settle(&mut events);
    let ds = store.get(&DAEMONSETS, &ObjectKey::new("ns", "ds")).expect("ds");
    assert_eq!(ds["status"]["collisionCount"], 1);
    let hash = crate::controllers::revision::template_hash(&ds["spec"]["template"], Some(1));
    let current =
        store.get(&REVISIONS, &ObjectKey::new("ns", &format!("ds-{hash}"))).expect("a revision under the new hash");
    assert_eq!(current["revision"], 2);
    assert_eq!(pods(&store)[0]["metadata"]["labels"][REVISION_HASH_LABEL], hash);
}
