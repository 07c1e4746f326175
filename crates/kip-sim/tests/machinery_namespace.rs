//! Namespace lifecycle, driven on a store directly and settled synchronously.

// Test helpers fail loudly; ApiError (a whole Status) is large by design.
#![allow(clippy::expect_used, clippy::result_large_err)]

use std::sync::Arc;

use kip_sim::machinery::Machinery;
use kip_sim::store::{DeleteOptions, Deleted, Part, is_terminating, remove_finalizer};
use kip_sim::{GroupResource, ObjectKey, Store, StoreOptions};
use serde_json::{Value, json};

fn namespaces() -> GroupResource {
    GroupResource::core("namespaces")
}
fn configmaps() -> GroupResource {
    GroupResource::core("configmaps")
}
fn service_accounts() -> GroupResource {
    GroupResource::core("serviceaccounts")
}

fn create_namespace(store: &Store, name: &str) {
    store
        .create(&namespaces(), json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}))
        .expect("ns");
}

fn configmap(store: &Store, ns: &str, name: &str, finalizers: &[&str]) {
    let obj = json!({"apiVersion": "v1", "kind": "ConfigMap",
                     "metadata": {"name": name, "namespace": ns, "finalizers": finalizers}, "data": {"k": "v"}});
    store.create(&configmaps(), obj).expect("configmap");
}

fn namespace(store: &Store, name: &str) -> Option<Arc<Value>> {
    store.get(&namespaces(), &ObjectKey::cluster(name))
}

fn condition<'a>(obj: &'a Value, kind: &str) -> Option<&'a Value> {
    obj.pointer("/status/conditions")?.as_array()?.iter().find(|c| c["type"] == kind)
}

fn delete_namespace(store: &Store, name: &str) -> Deleted {
    store.delete(&namespaces(), &ObjectKey::cluster(name), &DeleteOptions::default()).expect("delete namespace")
}

#[test]
fn a_new_namespace_is_made_active_as_the_api_server_does() {
    let store = Arc::new(Store::new(StoreOptions::default()));
    let mut machinery = Machinery::new(store.clone());
    create_namespace(&store, "team");
    machinery.settle();
    let ns = namespace(&store, "team").expect("namespace");
    assert_eq!(ns["status"]["phase"], "Active");
    assert_eq!(ns["spec"]["finalizers"], json!(["kubernetes"]));
    assert_eq!(ns["metadata"]["labels"]["kubernetes.io/metadata.name"], "team");
    assert!(store.get(&service_accounts(), &ObjectKey::new("team", "default")).is_some(), "default service account");
}

#[test]
fn the_default_service_account_comes_back_when_deleted() {
    let store = Arc::new(Store::new(StoreOptions::default()));
    let mut machinery = Machinery::new(store.clone());
    create_namespace(&store, "team");
    configmap(&store, "team", "keep-the-namespace-non-empty", &[]);
    machinery.settle();
    let key = ObjectKey::new("team", "default");
    store.delete(&service_accounts(), &key, &DeleteOptions::default()).expect("delete sa");
    machinery.settle();
    assert!(store.get(&service_accounts(), &key).is_some());
}

#[test]
fn deleting_a_namespace_removes_its_content_then_itself() {
    let store = Arc::new(Store::new(StoreOptions::default()));
    let mut machinery = Machinery::new(store.clone());
    create_namespace(&store, "team");
    create_namespace(&store, "bystander");
    configmap(&store, "team", "a", &[]);
    configmap(&store, "bystander", "b", &[]);
    let ds = json!({"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "d", "namespace": "team"},
                    "spec": {"selector": {"matchLabels": {"app": "d"}},
                             "template": {"metadata": {"labels": {"app": "d"}},
                                          "spec": {"containers": [{"name": "c", "image": "x"}]}}}});
    store.create(&GroupResource::new("apps", "daemonsets"), ds).expect("daemonset");
    machinery.settle();

    let Deleted::Terminating(ns) = delete_namespace(&store, "team") else {
        panic!("the kubernetes finalizer holds it")
    };
    assert_eq!(ns["status"]["phase"], "Terminating");
    let refused = store
        .create(&configmaps(), json!({"metadata": {"name": "late", "namespace": "team"}}))
        .expect_err("no new content in a terminating namespace");
    assert_eq!(refused.code, 403);

    machinery.settle();
    assert!(namespace(&store, "team").is_none(), "gone once empty");
    assert!(store.list(&configmaps(), Some("team")).0.is_empty());
    assert!(store.list(&GroupResource::new("apps", "daemonsets"), Some("team")).0.is_empty());
    assert!(store.list(&service_accounts(), Some("team")).0.is_empty());
    assert_eq!(store.list(&configmaps(), Some("bystander")).0.len(), 1, "other namespaces are untouched");
}

#[test]
fn a_namespace_waits_for_finalizers_of_its_content_and_says_so() {
    let store = Arc::new(Store::new(StoreOptions::default()));
    let mut machinery = Machinery::new(store.clone());
    create_namespace(&store, "team");
    configmap(&store, "team", "held", &["example.com/hold"]);
    machinery.settle();
    delete_namespace(&store, "team");
    machinery.settle();

    let ns = namespace(&store, "team").expect("held by its content");
    assert!(is_terminating(&ns));
    let remaining = condition(&ns, "NamespaceContentRemaining").expect("content condition");
    assert_eq!(
        (remaining["status"].as_str(), remaining["reason"].as_str()),
        (Some("True"), Some("SomeResourcesRemain"))
    );
    assert_eq!(remaining["message"], "Some resources are remaining: configmaps. has 1 resource instances");
    let finalizing = condition(&ns, "NamespaceFinalizersRemaining").expect("finalizer condition");
    assert_eq!(
        finalizing["message"],
        "Some content in the namespace has finalizers remaining: example.com/hold in 1 resource instances"
    );

    store
        .modify(&configmaps(), &ObjectKey::new("team", "held"), Part::Main, |o| {
            remove_finalizer(o, "example.com/hold");
            Ok(())
        })
        .expect("release");
    machinery.settle();
    assert!(namespace(&store, "team").is_none());
}

#[test]
fn a_namespace_deleted_before_the_machinery_runs_still_empties_and_goes() {
    for started_before in [true, false] {
        let store = Arc::new(Store::new(StoreOptions::default()));
        let early = started_before.then(|| Machinery::new(store.clone()));
        create_namespace(&store, "quick");
        configmap(&store, "quick", "a", &[]);
        // Admission gives every namespace the `kubernetes` finalizer, so it waits for the
        // namespace controller even when deleted at once.
        assert!(matches!(delete_namespace(&store, "quick"), Deleted::Terminating(_)));
        let mut machinery = early.unwrap_or_else(|| Machinery::new(store.clone()));
        machinery.settle();
        assert!(store.list(&configmaps(), Some("quick")).0.is_empty(), "machinery started before: {started_before}");
        assert!(namespace(&store, "quick").is_none(), "machinery started before: {started_before}");
    }
}
