//! Node faults through the admin endpoint: add, remove, NotReady, cordon.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::*;
use http::Method;
use kip_sim::{GroupResource, ObjectKey};
use serde_json::Value;

fn node(sim: &kip_sim::Sim, name: &str) -> Option<Value> {
    sim.store().get(&GroupResource::core("nodes"), &ObjectKey::cluster(name)).map(|n| (*n).clone())
}

fn ready(node: &Value) -> bool {
    node["status"]["conditions"].as_array().into_iter().flatten().any(|c| c["type"] == "Ready" && c["status"] == "True")
}

async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    for _ in 0..200 {
        if check() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}

#[tokio::test]
async fn nodes_are_added_removed_and_broken_from_the_admin_endpoint() {
    let sim = start_with(|o| {
        o.controllers = true;
        o.nodes = 2;
    });
    let client = client_without_retries(&sim);
    let listed = get(&client, "/_sim/nodes").await.json();
    let names: Vec<&str> = listed.as_array().expect("list").iter().filter_map(|n| n["name"].as_str()).collect();
    assert_eq!(names, ["node-1", "node-2"]);

    let added = raw(&client, Method::POST, "/_sim/nodes", &[], br#"{"name": "node-9", "labels": {"zone": "a"}}"#).await;
    assert_eq!(added.status, 201);
    let new = node(&sim, "node-9").expect("the node is registered");
    assert_eq!(new["metadata"]["labels"]["zone"], "a");
    assert_eq!(raw(&client, Method::POST, "/_sim/nodes", &[], br#"{"name": "node-9"}"#).await.status, 409);

    let patched =
        raw(&client, Method::PATCH, "/_sim/nodes/node-1", &[], br#"{"ready": false, "unschedulable": true}"#).await;
    assert_eq!(patched.status, 200);
    eventually("node-1 NotReady and cordoned", || {
        node(&sim, "node-1").is_some_and(|n| !ready(&n) && n["spec"]["unschedulable"] == true)
    })
    .await;

    assert_eq!(raw(&client, Method::DELETE, "/_sim/nodes/node-2", &[], b"").await.status, 200);
    eventually("node-2 gone", || node(&sim, "node-2").is_none()).await;
    assert_eq!(raw(&client, Method::DELETE, "/_sim/nodes/nope", &[], b"").await.status, 404);
}

#[tokio::test]
async fn without_a_cluster_there_are_no_nodes_to_change() {
    let sim = start();
    let client = client_without_retries(&sim);
    assert_eq!(get(&client, "/_sim/nodes").await.status, 404);
}
