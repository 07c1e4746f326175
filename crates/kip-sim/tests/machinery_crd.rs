//! CustomResourceDefinitions, driven on a store directly and settled synchronously.

// Test helpers fail loudly; ApiError (a whole Status) is large by design.
#![allow(clippy::expect_used, clippy::result_large_err)]

use std::sync::Arc;

use kip_sim::machinery::Machinery;
use kip_sim::store::{DeleteOptions, Deleted, Part, finalizers, is_terminating, remove_finalizer};
use kip_sim::{GroupResource, ObjectKey, Store, StoreOptions};
use serde_json::{Value, json};

fn crds() -> GroupResource {
    GroupResource::new("apiextensions.k8s.io", "customresourcedefinitions")
}
fn pullers() -> GroupResource {
    GroupResource::new("che.eclipse.org", "kubernetesimagepullers")
}

fn crd(plural: &str, kind: &str) -> Value {
    json!({
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": format!("{plural}.che.eclipse.org")},
        "spec": {
            "group": "che.eclipse.org",
            "scope": "Namespaced",
            "names": {"plural": plural, "kind": kind, "shortNames": ["kip"]},
            "versions": [
                {"name": "v1alpha1", "served": true, "storage": true, "subresources": {"status": {}},
                 "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}
            ]
        }
    })
}

fn setup() -> (Arc<Store>, Machinery) {
    let store = Arc::new(Store::new(StoreOptions::default()));
    store.create(&GroupResource::core("namespaces"), json!({"metadata": {"name": "ns"}})).expect("namespace");
    let machinery = Machinery::new(store.clone());
    (store, machinery)
}

fn get_crd(store: &Store, name: &str) -> Option<Arc<Value>> {
    store.get(&crds(), &ObjectKey::cluster(name))
}

fn condition<'a>(obj: &'a Value, kind: &str) -> (&'a str, &'a str) {
    let found = obj
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .and_then(|list| list.iter().find(|c| c["type"] == kind));
    let field = |f: &str| found.and_then(|c| c[f].as_str()).unwrap_or("");
    (field("status"), field("reason"))
}

fn puller(name: &str, finalizers: &[&str]) -> Value {
    json!({"apiVersion": "che.eclipse.org/v1alpha1", "kind": "KubernetesImagePuller",
           "metadata": {"name": name, "namespace": "ns", "finalizers": finalizers}, "spec": {}})
}

#[test]
fn a_created_crd_is_established_and_served() {
    let (store, mut machinery) = setup();
    assert!(store.create(&pullers(), puller("early", &[])).is_err(), "not served before its CRD");
    store.create(&crds(), crd("kubernetesimagepullers", "KubernetesImagePuller")).expect("crd");
    machinery.settle();

    let stored = get_crd(&store, "kubernetesimagepullers.che.eclipse.org").expect("crd");
    assert_eq!(condition(&stored, "NamesAccepted"), ("True", "NoConflicts"));
    assert_eq!(condition(&stored, "Established"), ("True", "InitialNamesAccepted"));
    assert_eq!(
        stored["status"]["acceptedNames"],
        json!({"plural": "kubernetesimagepullers", "singular": "kubernetesimagepuller", "kind": "KubernetesImagePuller",
               "listKind": "KubernetesImagePullerList", "shortNames": ["kip"]})
    );
    assert_eq!(stored["status"]["storedVersions"], json!(["v1alpha1"]));

    let served = store.resource_type(&pullers()).expect("served");
    assert_eq!(
        (served.api_version().as_str(), served.kind.as_str()),
        ("che.eclipse.org/v1alpha1", "KubernetesImagePuller")
    );
    assert!(served.namespaced && served.status_subresource);
    store.create(&pullers(), puller("main", &[])).expect("custom object");
}

#[test]
fn an_established_crd_settles_without_further_writes() {
    let (store, mut machinery) = setup();
    store.create(&crds(), crd("kubernetesimagepullers", "KubernetesImagePuller")).expect("crd");
    machinery.settle();
    let before = store.current_resource_version();
    machinery.settle();
    assert_eq!(store.current_resource_version(), before, "a settled CRD is not rewritten");
}

#[test]
fn names_taken_by_another_crd_of_the_group_are_refused_until_freed() {
    let (store, mut machinery) = setup();
    store.create(&crds(), crd("kubernetesimagepullers", "KubernetesImagePuller")).expect("first");
    machinery.settle();
    let mut second = crd("imagepullers", "KubernetesImagePuller");
    second["spec"]["names"]["shortNames"] = json!([]);
    second["spec"]["names"]["listKind"] = json!("ImagePullerList");
    store.create(&crds(), second).expect("second");
    machinery.settle();

    let refused = get_crd(&store, "imagepullers.che.eclipse.org").expect("second crd");
    assert_eq!(condition(&refused, "NamesAccepted"), ("False", "KindConflict"));
    assert_eq!(condition(&refused, "Established"), ("False", "NotAccepted"));
    assert_eq!(refused["status"]["acceptedNames"]["kind"], "", "the taken kind is not given");
    assert_eq!(refused["status"]["acceptedNames"]["plural"], "imagepullers", "free names are");
    assert!(store.resource_type(&GroupResource::new("che.eclipse.org", "imagepullers")).is_err(), "not served");

    store
        .delete(&crds(), &ObjectKey::cluster("kubernetesimagepullers.che.eclipse.org"), &DeleteOptions::default())
        .expect("delete");
    machinery.settle();
    let accepted = get_crd(&store, "imagepullers.che.eclipse.org").expect("second crd");
    assert_eq!(condition(&accepted, "Established"), ("True", "InitialNamesAccepted"));
    assert!(store.resource_type(&GroupResource::new("che.eclipse.org", "imagepullers")).is_ok());
}

#[test]
fn an_invalid_crd_is_refused_and_not_served() {
    let (store, mut machinery) = setup();
    let mut bad = crd("kubernetesimagepullers", "KubernetesImagePuller");
    bad["metadata"]["name"] = json!("pullers.che.eclipse.org");
    let err = store.create(&crds(), bad).expect_err("admission refuses a CRD named unlike plural.group");
    assert_eq!(err.code, 422);
    assert_eq!(err.causes[0].field, "metadata.name");
    machinery.settle();
    assert!(get_crd(&store, "pullers.che.eclipse.org").is_none());
    assert!(store.resource_type(&pullers()).is_err());
}

#[test]
fn an_updated_crd_is_served_with_its_new_names() {
    let (store, mut machinery) = setup();
    store.create(&crds(), crd("kubernetesimagepullers", "KubernetesImagePuller")).expect("crd");
    machinery.settle();
    let key = ObjectKey::cluster("kubernetesimagepullers.che.eclipse.org");
    store
        .modify(&crds(), &key, Part::Main, |o| {
            o["spec"]["names"]["shortNames"] = json!(["kip", "puller"]);
            Ok(())
        })
        .expect("update");
    machinery.settle();
    assert_eq!(store.resource_type(&pullers()).expect("served").short_names, vec!["kip", "puller"]);
}

#[test]
fn deleting_a_crd_deletes_its_objects_then_stops_serving_the_kind() {
    let (store, mut machinery) = setup();
    store.create(&crds(), crd("kubernetesimagepullers", "KubernetesImagePuller")).expect("crd");
    machinery.settle();
    store.create(&pullers(), puller("free", &[])).expect("free");
    store.create(&pullers(), puller("held", &["example.com/hold"])).expect("held");
    let name = "kubernetesimagepullers.che.eclipse.org";

    let Deleted::Terminating(marked) =
        store.delete(&crds(), &ObjectKey::cluster(name), &DeleteOptions::default()).expect("delete")
    else {
        panic!("the cleanup finalizer holds the CRD")
    };
    assert_eq!(finalizers(&marked), vec!["customresourcecleanup.apiextensions.k8s.io"]);
    machinery.settle();

    let waiting = get_crd(&store, name).expect("held while an object remains");
    assert_eq!(condition(&waiting, "Terminating"), ("True", "InstanceDeletionInProgress"));
    assert!(store.get(&pullers(), &ObjectKey::new("ns", "free")).is_none());
    let held = store.get(&pullers(), &ObjectKey::new("ns", "held")).expect("held by its finalizer");
    assert!(is_terminating(&held));
    assert!(store.resource_type(&pullers()).is_ok(), "still served while objects remain");

    store
        .modify(&pullers(), &ObjectKey::new("ns", "held"), Part::Main, |o| {
            remove_finalizer(o, "example.com/hold");
            Ok(())
        })
        .expect("release");
    machinery.settle();
    assert!(get_crd(&store, name).is_none(), "the CRD goes once its objects are gone");
    assert!(store.resource_type(&pullers()).is_err(), "and its kind is no longer served");
}

#[test]
fn deleting_a_crd_that_was_never_established_just_goes() {
    let (store, mut machinery) = setup();
    let mut bad = crd("kubernetesimagepullers", "KubernetesImagePuller");
    bad["spec"]["scope"] = json!("Galaxy");
    store.create(&crds(), bad).expect("stored without validation");
    machinery.settle();
    let name = "kubernetesimagepullers.che.eclipse.org";
    store.delete(&crds(), &ObjectKey::cluster(name), &DeleteOptions::default()).expect("delete");
    machinery.settle();
    assert!(get_crd(&store, name).is_none());
}

#[test]
fn established_is_kept_when_a_later_name_is_refused() {
    let (store, mut machinery) = setup();
    store.create(&crds(), crd("kubernetesimagepullers", "KubernetesImagePuller")).expect("first");
    let mut other = crd("gadgets", "Gadget");
    other["spec"]["names"]["shortNames"] = json!(["gd"]);
    store.create(&crds(), other).expect("second");
    machinery.settle();
    let key = ObjectKey::cluster("kubernetesimagepullers.che.eclipse.org");
    store
        .modify(&crds(), &key, Part::Main, |o| {
            o["spec"]["names"]["kind"] = json!("Gadget");
            o["spec"]["names"]["listKind"] = json!("KubernetesImagePullerList");
            Ok(())
        })
        .expect("rename to a taken kind");
    machinery.settle();
    let stored = get_crd(&store, "kubernetesimagepullers.che.eclipse.org").expect("crd");
    assert_eq!(condition(&stored, "NamesAccepted"), ("False", "KindConflict"));
    assert_eq!(condition(&stored, "Established"), ("True", "InitialNamesAccepted"));
    assert_eq!(
        store.resource_type(&pullers()).expect("still served").kind,
        "KubernetesImagePuller",
        "under the names it had"
    );
}

#[test]
fn a_crd_cannot_take_the_names_of_a_built_in_type() {
    let (store, mut machinery) = setup();
    let role = json!({
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "roles.rbac.authorization.k8s.io"},
        "spec": {"group": "rbac.authorization.k8s.io", "scope": "Namespaced",
                 "names": {"plural": "roles", "kind": "MyRole"},
                 "versions": [{"name": "v9", "served": true, "storage": true}]}
    });
    store.create(&crds(), role).expect("crd");
    machinery.settle();
    let stored = get_crd(&store, "roles.rbac.authorization.k8s.io").expect("crd");
    assert_eq!(condition(&stored, "NamesAccepted"), ("False", "PluralConflict"));
    let builtin = store.resource_type(&GroupResource::new("rbac.authorization.k8s.io", "roles")).expect("role");
    assert_eq!((builtin.kind.as_str(), builtin.custom), ("Role", false), "the built-in type is untouched");
}
