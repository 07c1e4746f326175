//! The DaemonSet controller and kubelets together on a store: placement, status, node churn.

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
