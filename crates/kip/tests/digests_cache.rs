//! The leader's cache view against kip-sim over HTTP: metrics of which node holds which image,
//! the aggregated "nodes cached" event, and the node warm signal (label set and removed, the
//! startup taint removed, nothing else touched).
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::*;
use k8s_openapi::api::core::v1::{ConfigMap, Node};
use kip_sim::cluster::node::NodeSpec;
use kube::api::PostParams;
use kube::{Api, Client};
use serde_json::json;

const WAIT: Duration = Duration::from_secs(60);
const LABEL: &str = "kip.dev/cached";
const TAINT: &str = "kip.dev/not-warm";

async fn node(client: &Client, name: &str) -> Node {
    Api::<Node>::all(client.clone()).get(name).await.expect("the node")
}

fn labels(node: &Node) -> BTreeMap<String, String> {
    node.metadata.labels.clone().unwrap_or_default()
}

fn taints(node: &Node) -> Vec<(String, String)> {
    node.spec
        .as_ref()
        .and_then(|s| s.taints.as_ref())
        .map(|t| t.iter().map(|t| (t.key.clone(), t.effect.clone())).collect())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cache_metrics_and_the_nodes_cached_event() {
    let sim = start_cluster((1..=3).map(|i| NodeSpec::new(format!("node-{i}"))).collect(), 20.0);
    let client = sim.client().expect("client");
    prepare(&client).await;
    let puller = Puller::start(&client, vars_on(&sim, &[]), options());
    for (series, value) in [
        ("kip_nodes_selected", 3.0),
        ("kip_nodes_fully_cached", 3.0),
        ("kip_image_nodes_cached{image=\"theia\"}", 3.0),
        ("kip_image_nodes_cached{image=\"java\"}", 3.0),
    ] {
        eventually(&format!("{series} = {value}"), WAIT, || async {
            metric_series(&puller, series).await.filter(|v| *v == value)
        })
        .await;
    }
    let cached = eventually("a NodesCached event", WAIT, || async {
        let all = events(&client, "NodesCached").await;
        all.iter().any(|e| e.note.as_deref().is_some_and(|n| n.contains("3 of 3 selected nodes"))).then_some(all)
    })
    .await;
    assert!(cached.len() <= 3, "aggregated, never one per node and change: {cached:?}");
    let regarding = cached[0].regarding.as_ref().expect("regarding");
    assert_eq!((regarding.kind.as_deref(), regarding.name.as_deref()), (Some("DaemonSet"), Some(DAEMONSET)));
    puller.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn warm_nodes_are_labelled_and_lose_the_startup_taint_only() {
    let nodes = vec![
        NodeSpec::new("node-1"),
        NodeSpec::new("node-2").with_label("pool", "dev").with_taint(TAINT, None, "NoSchedule").with_taint(
            "team",
            Some("a"),
            "PreferNoSchedule",
        ),
    ];
    let sim = start_cluster(nodes, 20.0);
    let client = sim.client().expect("client");
    prepare(&client).await;
    let configmaps: Api<ConfigMap> = Api::namespaced(client.clone(), NAMESPACE);
    let data = |images: &str| -> ConfigMap {
        serde_json::from_value(json!({"metadata": {"name": "k8s-image-puller"}, "data": {"IMAGES": images}}))
            .expect("configmap")
    };
    configmaps.create(&PostParams::default(), &data(&sim_images(&sim))).await.expect("configmap");
    let mut options = options();
    options.config_map = Some("k8s-image-puller".into());
    let vars = vars_on(&sim, &[("KIP_WARM_NODE_LABEL", LABEL), ("KIP_STARTUP_TAINT", TAINT)]);
    let puller = Puller::start(&client, vars, options);

    // The caching pods tolerate the startup taint, so node-2 gets its images and turns warm.
    for name in ["node-1", "node-2"] {
        eventually(&format!("{name} labelled warm"), WAIT, || async {
            (labels(&node(&client, name).await).get(LABEL).map(String::as_str) == Some("true")).then_some(())
        })
        .await;
    }
    let warm = eventually("the startup taint removed", WAIT, || async {
        let node = node(&client, "node-2").await;
        (!taints(&node).iter().any(|(key, _)| key == TAINT)).then_some(node)
    })
    .await;
    assert_eq!(taints(&warm), [("team".to_string(), "PreferNoSchedule".to_string())], "other taints stay");
    assert_eq!(labels(&warm).get("pool").map(String::as_str), Some("dev"), "other labels stay");
    let managers: Vec<Option<String>> =
        warm.metadata.managed_fields.iter().flatten().map(|m| m.manager.clone()).collect();
    assert!(managers.contains(&Some("kip".to_string())), "written by field manager kip: {managers:?}");

    // A new image no node can pull: no node holds every image any more.
    let ghost = format!("{}/eclipse/ghost:1", sim.registry_host());
    sim.cluster().expect("a cluster").catalog().set_image_missing(&ghost);
    let images = format!("{};ghost={ghost}", sim_images(&sim));
    configmaps.replace("k8s-image-puller", &PostParams::default(), &data(&images)).await.expect("update");
    for name in ["node-1", "node-2"] {
        eventually(&format!("{name} no longer labelled warm"), WAIT, || async {
            (!labels(&node(&client, name).await).contains_key(LABEL)).then_some(())
        })
        .await;
    }
    assert!(!taints(&node(&client, "node-2").await).iter().any(|(key, _)| key == TAINT), "the taint is not put back");
    assert_eq!(metric_series(&puller, "kip_nodes_fully_cached").await, Some(0.0));
    assert_eq!(metric_series(&puller, "kip_image_nodes_cached{image=\"ghost\"}").await, Some(0.0));
    puller.stop().await;
}
