//! DaemonSet updates: RollingUpdate within maxUnavailable, surge, OnDelete, revisions.
// Helpers outside #[test] functions assert like the tests do.
#![allow(clippy::expect_used, clippy::unwrap_used)]

#[path = "cluster_support.rs"]
mod support;

use std::collections::{BTreeMap, BTreeSet};

use kip_sim::controllers::{DAEMONSETS, REVISIONS};
use serde_json::{Value, json};
use support::*;

/// Nodes without a pod that is ready and not being deleted.
fn nodes_without_available_pod(pods: &BTreeMap<String, Value>, nodes: &[&str]) -> usize {
    nodes
        .iter()
        .filter(|n| {
            !pods.values().any(|p| node_of(p) == **n && is_ready(p) && p["metadata"]["deletionTimestamp"].is_null())
        })
        .count()
}

fn hash_of(pod: &Value) -> String {
    pod["metadata"]["labels"]["controller-revision-hash"].as_str().unwrap_or_default().to_string()
}

fn change_image(t: &TestCluster, image: &str) {
    edit(&t.store, &DAEMONSETS, NS, "puller", |ds| {
        ds["spec"]["template"]["spec"]["containers"][0]["image"] = json!(image);
    });
}

async fn rolling_update_respects(max_unavailable: Value, nodes: usize, expected_peak: usize) {
    let t = start(config(nodes));
    let mut ds = daemonset("puller", &["nginx:1.27"]);
    ds["spec"]["updateStrategy"]["rollingUpdate"]["maxUnavailable"] = max_unavailable.clone();
    t.store.create(&DAEMONSETS, ds).expect("daemonset");
    t.cluster.wait_for_daemonset_rolled_out(NS, "puller", WAIT).await.expect("rolled out");
    let old_hash = hash_of(&owned_pods(&t.store, &uid(&get(&t.store, &DAEMONSETS, NS, "puller").unwrap()))[0]);

    let mut watch = PodWatch::new(&t.store);
    change_image(&t, "nginx:1.28");
    let names: Vec<String> = (1..=nodes).map(|i| format!("node-{i}")).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let mut peak = 0;
    watch
        .until(
            |pods| pods.len() == nodes && pods.values().all(|p| hash_of(p) != old_hash && is_ready(p)),
            |pods| peak = peak.max(nodes_without_available_pod(pods, &names)),
        )
        .await;
    assert_eq!(peak, expected_peak, "maxUnavailable {max_unavailable} over {nodes} nodes");
    t.cluster.wait_for_daemonset_rolled_out(NS, "puller", WAIT).await.expect("rolled out");
    let status = daemonset_status(&t.store, "puller");
    assert_eq!(
        (status["updatedNumberScheduled"].clone(), status["observedGeneration"].clone()),
        (json!(nodes), json!(2))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_template_change_replaces_one_pod_at_a_time() {
    rolling_update_respects(json!(1), 4, 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_percentage_of_unavailable_pods_rounds_up() {
    // 30% of 5 nodes is 1.5: DaemonSets round up to 2.
    rolling_update_respects(json!("30%"), 5, 2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn surge_starts_the_new_pod_before_the_old_one_goes() {
    let t = start(config(3));
    let mut ds = daemonset("puller", &["nginx:1.27"]);
    ds["spec"]["updateStrategy"]["rollingUpdate"] = json!({"maxUnavailable": 0, "maxSurge": 1});
    t.store.create(&DAEMONSETS, ds).expect("daemonset");
    t.cluster.wait_for_daemonset_rolled_out(NS, "puller", WAIT).await.expect("rolled out");
    let old_hash = hash_of(&t.store.list(&kip_sim::controllers::PODS, Some(NS)).0[0]);

    let mut watch = PodWatch::new(&t.store);
    change_image(&t, "nginx:1.28");
    let (mut peak_unavailable, mut peak_doubled) = (0, 0);
    watch
        .until(
            |pods| pods.len() == 3 && pods.values().all(|p| hash_of(p) != old_hash && is_ready(p)),
            |pods| {
                peak_unavailable =
                    peak_unavailable.max(nodes_without_available_pod(pods, &["node-1", "node-2", "node-3"]));
                let mut per_node: BTreeMap<String, usize> = BTreeMap::new();
                // Old pods being deleted no longer count against the surge.
                for p in pods.values().filter(|p| p["metadata"]["deletionTimestamp"].is_null()) {
                    *per_node.entry(node_of(p)).or_default() += 1;
                }
                peak_doubled = peak_doubled.max(per_node.values().filter(|n| **n > 1).count());
            },
        )
        .await;
    assert_eq!(peak_unavailable, 0, "with surge and no unavailability every node keeps an available pod");
    assert_eq!(peak_doubled, 1, "at most maxSurge nodes hold two pods at once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_delete_waits_for_pods_to_be_deleted() {
    let t = start(config(2));
    let mut ds = daemonset("puller", &["nginx:1.27"]);
    ds["spec"]["updateStrategy"] = json!({"type": "OnDelete"});
    let ds = t.store.create(&DAEMONSETS, ds).expect("daemonset");
    t.cluster.wait_for_daemonset_rolled_out(NS, "puller", WAIT).await.expect("rolled out");
    let before: BTreeSet<String> = owned_pods(&t.store, &uid(&ds)).iter().map(|p| uid(p)).collect();

    change_image(&t, "nginx:1.28");
    t.cluster
        .wait_for("the new generation to be observed", WAIT, |s| {
            daemonset_status(s, "puller")["observedGeneration"] == 2
        })
        .await
        .expect("observed");
    let after: BTreeSet<String> = owned_pods(&t.store, &uid(&ds)).iter().map(|p| uid(p)).collect();
    assert_eq!(before, after, "OnDelete replaces nothing by itself");
    assert!(daemonset_status(&t.store, "puller").get("updatedNumberScheduled").is_none());

    let victim = owned_pods(&t.store, &uid(&ds)).into_iter().find(|p| node_of(p) == "node-1").expect("pod");
    t.store
        .delete(
            &kip_sim::controllers::PODS,
            &key(NS, victim["metadata"]["name"].as_str().unwrap()),
            &Default::default(),
        )
        .expect("delete");
    t.cluster
        .wait_for("one updated pod", WAIT, |s| {
            let st = daemonset_status(s, "puller");
            st["updatedNumberScheduled"] == 1 && st["numberReady"] == 2
        })
        .await
        .expect("replaced with the new template");
    let replacement = owned_pods(&t.store, &uid(&ds)).into_iter().find(|p| node_of(p) == "node-1").expect("pod");
    assert_eq!(replacement["spec"]["containers"][0]["image"], "nginx:1.28");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_template_gets_a_numbered_revision() {
    let t = start(config(1));
    let ds = t.store.create(&DAEMONSETS, daemonset("puller", &["nginx:1.27"])).expect("daemonset");
    t.cluster.wait_for_daemonset_rolled_out(NS, "puller", WAIT).await.expect("rolled out");
    change_image(&t, "nginx:1.28");
    t.cluster.wait_for_daemonset_rolled_out(NS, "puller", WAIT).await.expect("rolled out");
    t.cluster.wait_for("two revisions", WAIT, |s| s.list(&REVISIONS, Some(NS)).0.len() == 2).await.expect("revisions");
    let mut revisions = t.store.list(&REVISIONS, Some(NS)).0;
    revisions.sort_by_key(|r| r["revision"].as_i64());
    assert_eq!(revisions[0]["revision"], 1);
    assert_eq!(revisions[1]["revision"], 2);
    assert_eq!(revisions[1]["data"]["spec"]["template"]["spec"]["containers"][0]["image"], "nginx:1.28");
    assert_eq!(revisions[1]["data"]["spec"]["template"]["$patch"], "replace");
    let current_hash = revisions[1]["metadata"]["labels"]["controller-revision-hash"].as_str().unwrap().to_string();
    assert_eq!(revisions[1]["metadata"]["name"], format!("puller-{current_hash}"));
    assert_eq!(revisions[1]["metadata"]["ownerReferences"][0]["uid"], uid(&ds));
    t.cluster
        .wait_for("the pod on the current revision", WAIT, |s| {
            owned_pods(s, &uid(&ds)).iter().all(|p| hash_of(p) == current_hash && is_ready(p))
        })
        .await
        .expect("pods follow");

    // Going back to the first template reuses its revision, renumbered.
    change_image(&t, "nginx:1.27");
    t.cluster
        .wait_for("the first revision renumbered", WAIT, |s| {
            let revisions = s.list(&REVISIONS, Some(NS)).0;
            revisions.len() == 2
                && revisions.iter().any(|r| {
                    r["revision"] == 3
                        && r["data"]["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.27"
                })
        })
        .await
        .expect("renumbered");
}
