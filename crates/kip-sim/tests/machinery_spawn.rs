//! The machinery running in the background, as the simulated API server runs it.

// Test helpers fail loudly; ApiError (a whole Status) is large by design.
#![allow(clippy::expect_used, clippy::result_large_err)]

use std::sync::Arc;
use std::time::Duration;

use kip_sim::machinery;
use kip_sim::store::DeleteOptions;
use kip_sim::{GroupResource, ObjectKey, Store, StoreOptions};
use serde_json::json;
use tokio_util::sync::CancellationToken;

/// Polls until `done` holds; generous, since CI machines are shared and slow.
async fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    for _ in 0..1000 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("timed out waiting until {what}");
}

#[tokio::test]
async fn spawned_machinery_collects_dependents_and_stops_on_shutdown() {
    let store = Arc::new(Store::new(StoreOptions::default()));
    let shutdown = CancellationToken::new();
    let task = machinery::spawn(store.clone(), shutdown.clone());

    let namespaces = GroupResource::core("namespaces");
    store.create(&namespaces, json!({"metadata": {"name": "ns"}})).expect("namespace");
    eventually("the namespace is active", || {
        store.get(&namespaces, &ObjectKey::cluster("ns")).is_some_and(|ns| ns["status"]["phase"] == "Active")
    })
    .await;

    let cms = GroupResource::core("configmaps");
    let owner = store
        .create(
            &cms,
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "owner", "namespace": "ns"}}),
        )
        .expect("owner");
    let dependent = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {
        "name": "dependent", "namespace": "ns",
        "ownerReferences": [{"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": owner["metadata"]["uid"]}]
    }});
    store.create(&cms, dependent).expect("dependent");
    store.delete(&cms, &ObjectKey::new("ns", "owner"), &DeleteOptions::default()).expect("delete owner");
    eventually("the dependent is collected", || store.get(&cms, &ObjectKey::new("ns", "dependent")).is_none()).await;

    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(10), task).await.expect("stops on shutdown").expect("no panic");
}
