//! The DaemonSet controller and kubelets together on a store: placement, status, node churn.
// Helpers outside #[test] functions assert like the tests do.
#![allow(clippy::expect_used, clippy::unwrap_used)]

#[path = "cluster_support.rs"]
mod support;

use kip_sim::controllers::{DAEMONSETS, PODS};
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_daemonset_on_three_nodes_ends_with_three_ready_pods_and_full_status() {
    let t = start(config(3));
    let ds = t.store.create(&DAEMONSETS, daemonset("puller", &["nginx:1.27", "redis:7"])).expect("daemonset");
    t.cluster.wait_for_daemonset_rolled_out(NS, "puller", WAIT).await.expect("rolled out");
    let status = daemonset_status(&t.store, "puller");
    for field in
        ["desiredNumberScheduled", "currentNumberScheduled", "numberReady", "updatedNumberScheduled", "numberAvailable"]
    {
        assert_eq!(status[field], 3, "{field} in {status}");
    }
    assert_eq!(status["numberMisscheduled"], 0);
    assert!(status.get("numberUnavailable").is_none(), "zero counts are omitted: {status}");
    assert_eq!(status["observedGeneration"], 1);
    let pods = owned_pods(&t.store, &uid(&ds));
    let mut nodes: Vec<String> = pods.iter().map(|p| node_of(p)).collect();
    nodes.sort();
    assert_eq!(nodes, ["node-1", "node-2", "node-3"]);
    for pod in &pods {
        assert!(is_ready(pod), "{}", pod["status"]);
        assert_eq!(pod["status"]["phase"], "Running");
        assert!(pod["metadata"]["name"].as_str().unwrap().starts_with("puller-"));
        assert_eq!(pod["metadata"]["name"].as_str().unwrap().len(), "puller-".len() + 5);
        assert!(pod["metadata"]["labels"]["controller-revision-hash"].is_string());
        assert_eq!(pod["metadata"]["labels"]["pod-template-generation"], "1");
        let pin = &pod["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
            [0]["matchFields"][0];
        assert_eq!(pin["values"][0], pod["spec"]["nodeName"]);
        let statuses = pod["status"]["containerStatuses"].as_array().unwrap();
        assert_eq!(statuses.len(), 2);
        assert!(statuses[0]["imageID"].as_str().unwrap().starts_with("docker.io/library/nginx@sha256:"));
        assert_eq!(pod["status"]["initContainerStatuses"][0]["state"]["terminated"]["reason"], "Completed");
    }
    let _ = PODS.clone();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tainted_and_unselected_nodes_get_no_pod() {
    use kip_sim::cluster::node::{NodeSpec, taint};
    let mut config = config(4);
    config.nodes[1] = NodeSpec::new("node-2").with_taint("dedicated", Some("gpu"), "NoSchedule");
    config.nodes[2] = NodeSpec::new("node-3").with_label("role", "infra");
    config.nodes[3] = NodeSpec::new("node-4").with_taint("soft", None, "PreferNoSchedule");
    let t = start(config);
    let mut ds = daemonset("puller", &["nginx:1.27"]);
    ds["spec"]["template"]["spec"]["affinity"] = serde_json::json!({"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [{"matchExpressions": [{"key": "role", "operator": "NotIn", "values": ["infra"]}]}]}}});
    let ds = t.store.create(&DAEMONSETS, ds).expect("daemonset");
    t.cluster.wait_for_daemonset_rolled_out(NS, "puller", WAIT).await.expect("rolled out");
    let nodes = |store: &kip_sim::Store| {
        let mut n: Vec<String> = owned_pods(store, &uid(&ds)).iter().map(|p| node_of(p)).collect();
        n.sort();
        n
    };
    assert_eq!(nodes(&t.store), ["node-1", "node-4"]);
    assert_eq!(daemonset_status(&t.store, "puller")["desiredNumberScheduled"], 2);

    // An untolerated NoExecute taint evicts the daemon pod; a label change brings one.
    t.cluster.taint_node("node-1", taint("maintenance", None, "NoExecute")).expect("taint");
    t.cluster.label_node("node-3", "role", Some("worker")).expect("label");
    t.cluster
        .wait_for("the pod to leave node-1 and come to node-3", WAIT, |s| nodes(s) == ["node-3", "node-4"])
        .await
        .expect("moved");
    t.cluster.wait_for_daemonset_rolled_out(NS, "puller", WAIT).await.expect("rolled out");
    assert_eq!(daemonset_status(&t.store, "puller")["desiredNumberScheduled"], 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adding_a_node_adds_a_pod_and_removing_one_removes_it() {
    let t = start(config(2));
    let ds = t.store.create(&DAEMONSETS, daemonset("puller", &["nginx:1.27"])).expect("daemonset");
    t.cluster.wait_for_daemonset_rolled_out(NS, "puller", WAIT).await.expect("rolled out");
    t.cluster.add_node(kip_sim::cluster::node::NodeSpec::new("node-3")).expect("add");
    t.cluster
        .wait_for("a ready pod on node-3", WAIT, |s| {
            owned_pods(s, &uid(&ds)).iter().any(|p| node_of(p) == "node-3" && is_ready(p))
        })
        .await
        .expect("pod on the new node");
    t.cluster.wait_for_daemonset_rolled_out(NS, "puller", WAIT).await.expect("rolled out");
    assert_eq!(daemonset_status(&t.store, "puller")["numberReady"], 3);

    t.cluster.remove_node("node-1").expect("remove");
    t.cluster
        .wait_for("the pod of node-1 to go", WAIT, |s| owned_pods(s, &uid(&ds)).iter().all(|p| node_of(p) != "node-1"))
        .await
        .expect("pod removed");
    t.cluster
        .wait_for("two desired", WAIT, |s| daemonset_status(s, "puller")["desiredNumberScheduled"] == 2)
        .await
        .expect("status follows");
    assert!(matches!(t.cluster.remove_node("node-1"), Err(kip_sim::cluster::ClusterError::NoSuchNode(_))));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cordoned_nodes_keep_daemons_and_not_ready_nodes_count_as_misscheduled() {
    let t = start(config(3));
    let ds = t.store.create(&DAEMONSETS, daemonset("puller", &["nginx:1.27"])).expect("daemonset");
    t.cluster.wait_for_daemonset_rolled_out(NS, "puller", WAIT).await.expect("rolled out");
    let before: Vec<String> = owned_pods(&t.store, &uid(&ds)).iter().map(|p| uid(p)).collect();

    t.cluster.set_node_unschedulable("node-1", true).expect("cordon");
    let node = get(&t.store, &kip_sim::controllers::NODES, "", "node-1").expect("node");
    assert_eq!(node["spec"]["taints"][0]["key"], "node.kubernetes.io/unschedulable");
    t.cluster.set_node_ready("node-2", false).expect("not ready");
    t.cluster
        .wait_for("node-2 to leave the desired set", WAIT, |s| {
            let st = daemonset_status(s, "puller");
            let pod_on_2 = owned_pods(s, &uid(&ds)).into_iter().find(|p| node_of(p) == "node-2");
            // Pods of a NotReady node are reported not ready.
            st["desiredNumberScheduled"] == 2
                && st["numberMisscheduled"] == 1
                && st["numberReady"] == 2
                && pod_on_2.is_some_and(|p| !is_ready(&p))
        })
        .await
        .expect("status");
    let after: Vec<String> = owned_pods(&t.store, &uid(&ds)).iter().map(|p| uid(p)).collect();
    assert_eq!(before, after, "no daemon pod was replaced");

    t.cluster.set_node_ready("node-2", true).expect("ready");
    t.cluster
        .wait_for("all ready again", WAIT, |s| {
            let st = daemonset_status(s, "puller");
            st["desiredNumberScheduled"] == 3 && st["numberReady"] == 3 && st["numberMisscheduled"] == 0
        })
        .await
        .expect("recovered");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_pods_are_replaced() {
    let t = start(config(1));
    let ds = t.store.create(&DAEMONSETS, daemonset("puller", &["nginx:1.27"])).expect("daemonset");
    t.cluster.wait_for_daemonset_rolled_out(NS, "puller", WAIT).await.expect("rolled out");
    let first = owned_pods(&t.store, &uid(&ds)).pop().expect("pod");
    let name = first["metadata"]["name"].as_str().unwrap();
    t.cluster.fail_pod(NS, name, "Evicted", "The node was low on resource: memory.").expect("fail");
    t.cluster
        .wait_for("a new ready pod", WAIT, |s| {
            let pods = owned_pods(s, &uid(&ds));
            pods.len() == 1 && uid(&pods[0]) != uid(&first) && is_ready(&pods[0])
        })
        .await
        .expect("replaced");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn min_ready_seconds_delays_availability() {
    let t = start(config(2));
    let mut ds = daemonset("puller", &["nginx:1.27"]);
    ds["spec"]["minReadySeconds"] = serde_json::json!(20);
    t.store.create(&DAEMONSETS, ds).expect("daemonset");
    t.cluster
        .wait_for("ready but not yet available", WAIT, |s| {
            let st = daemonset_status(s, "puller");
            st["numberReady"] == 2 && st.get("numberAvailable").is_none_or(|a| a != 2) && st["numberUnavailable"] == 2
        })
        .await
        .expect("ready first");
    t.cluster.wait_for_daemonset_rolled_out(NS, "puller", WAIT).await.expect("then available");
}
