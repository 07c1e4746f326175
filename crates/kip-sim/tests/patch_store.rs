//! PATCH and admission together with the store, as the HTTP layer drives them: apply creates
//! through `Store::create` and updates through `Store::write`; other writes record their
//! fields with `record_update`.

// Helpers of a test crate may fail loudly; ApiError carries a whole Status by design.
#![allow(clippy::expect_used, clippy::result_large_err)]

use std::sync::Arc;

use kip_sim::patch::{self, PatchOptions, PatchType};
use kip_sim::store::{ObjectKey, Part};
use kip_sim::{ApiError, GroupResource, Store, StoreOptions};
use serde_json::{Value, json};

fn store() -> Store {
    let store = Store::new(StoreOptions::default());
    store
        .create(
            &GroupResource::core("namespaces"),
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "k8s-image-puller"}}),
        )
        .expect("namespace");
    store
}

fn ds() -> GroupResource {
    GroupResource::new("apps", "daemonsets")
}

fn key() -> ObjectKey {
    ObjectKey::new("k8s-image-puller", "kubernetes-image-puller")
}

/// The DaemonSet kip renders, with one cached image.
fn desired(image: &str) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "DaemonSet",
        "metadata": {"name": "kubernetes-image-puller", "namespace": "k8s-image-puller"},
        "spec": {
            "selector": {"matchLabels": {"test": "daemonset-test"}},
            "template": {
                "metadata": {"labels": {"test": "daemonset-test"}},
                "spec": {
                    "terminationGracePeriodSeconds": 1,
                    "volumes": [{"name": "kip", "emptyDir": {"sizeLimit": "50Mi"}}],
                    "containers": [{"name": "theia", "image": image, "command": ["/kip/sleep"], "args": ["720h"],
                                    "imagePullPolicy": "Always",
                                    "volumeMounts": [{"name": "kip", "mountPath": "/kip"}]}]
                }
            }
        }
    })
}

/// A server-side apply as the HTTP layer runs it.
fn apply(store: &Store, manager: &str, force: bool, config: &Value) -> Result<Arc<Value>, ApiError> {
    let rt = store.resource_type(&ds())?;
    let options = PatchOptions { field_manager: Some(manager.into()), force, subresource: None, target: Some(key()) };
    let body = serde_json::to_vec(config).expect("serializable");
    match store.get(&ds(), &key()) {
        None => store.create(&ds(), patch::patch(&rt, None, PatchType::Apply, &body, &options)?),
        Some(_) => store.write(&ds(), &key(), Part::Main, |current| {
            patch::patch(&rt, Some(current), PatchType::Apply, &body, &options)
        }),
    }
}

fn resource_version(obj: &Value) -> &str {
    obj["metadata"]["resourceVersion"].as_str().unwrap_or_default()
}

#[test]
fn reapplying_the_desired_daemonset_is_a_no_op_after_defaulting() {
    let store = store();
    let created = apply(&store, "kip", true, &desired("quay.io/eclipse/che-theia:next")).expect("create");
    assert_eq!(created["spec"]["revisionHistoryLimit"], 10, "defaults are filled in");
    assert_eq!(created["spec"]["template"]["spec"]["containers"][0]["terminationMessagePolicy"], "File");
    let again = apply(&store, "kip", true, &desired("quay.io/eclipse/che-theia:next")).expect("re-apply");
    assert_eq!(resource_version(&again), resource_version(&created), "nothing was written");
    assert_eq!(again, created);
    let changed = apply(&store, "kip", true, &desired("quay.io/eclipse/che-theia:7")).expect("new image");
    assert_ne!(resource_version(&changed), resource_version(&created));
    assert_eq!(changed["metadata"]["generation"], 2);
}

#[test]
fn a_hand_edit_conflicts_with_a_plain_apply_and_yields_to_force() {
    let store = store();
    let rt = store.resource_type(&ds()).expect("type");
    apply(&store, "kip", true, &desired("a:1")).expect("create");
    store
        .write(&ds(), &key(), Part::Main, |current| {
            let mut edited = current.clone();
            edited["spec"]["template"]["spec"]["containers"][0]["image"] = json!("a:hand");
            patch::record_update(&rt, Some(current), &mut edited, "kubectl-edit", None);
            Ok(edited)
        })
        .expect("edit");
    let err = apply(&store, "kip", false, &desired("a:1")).expect_err("conflict");
    assert_eq!(err.code, 409);
    assert_eq!(err.causes[0].field, ".spec.template.spec.containers[name=\"theia\"].image");
    let forced = apply(&store, "kip", true, &desired("a:1")).expect("forced");
    assert_eq!(forced["spec"]["template"]["spec"]["containers"][0]["image"], "a:1");
}

#[test]
fn an_invalid_apply_is_rejected_with_the_api_server_message() {
    let store = store();
    let mut bad = desired("a:1");
    bad["spec"]["template"]["spec"]["containers"][0]["name"] = json!("Bad_Name");
    let err = apply(&store, "kip", true, &bad).expect_err("invalid");
    assert_eq!((err.code, err.reason), (422, "Invalid"));
    assert!(
        err.message.starts_with(
            "DaemonSet.apps \"kubernetes-image-puller\" is invalid: spec.template.spec.containers[0].name: Invalid value: \"Bad_Name\": a lowercase RFC 1123 label must consist of"
        ),
        "{}",
        err.message
    );
}
