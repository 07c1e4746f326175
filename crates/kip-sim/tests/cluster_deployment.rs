//! The Deployment and ReplicaSet controllers with the scheduler and kubelets.
// Helpers outside #[test] functions assert like the tests do.
#![allow(clippy::expect_used, clippy::unwrap_used)]

#[path = "cluster_support.rs"]
mod support;

use std::collections::BTreeMap;

use kip_sim::controllers::{DEPLOYMENTS, PODS, REPLICASETS};
use serde_json::{Value, json};
use support::*;

fn deployment(name: &str, replicas: i64, strategy: Value) -> Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": NS},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "strategy": strategy,
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "puller", "image": "quay.io/eclipse/kubernetes-image-puller:next",
                                         "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}}}]},
            },
        },
    })
}

/// What `kubectl rollout status deployment` waits for.
fn rolled_out(store: &kip_sim::Store, name: &str) -> bool {
    let Some(d) = get(store, &DEPLOYMENTS, NS, name) else { return false };
    let field = |path: &str| d.pointer(path).and_then(Value::as_i64).unwrap_or(0);
    let replicas = field("/spec/replicas");
    field("/metadata/generation") <= field("/status/observedGeneration")
        && field("/status/updatedReplicas") == replicas
        && field("/status/replicas") == replicas
        && field("/status/availableReplicas") == replicas
}

fn condition(d: &Value, kind: &str) -> Value {
    d["status"]["conditions"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["type"] == kind).cloned())
        .unwrap_or(Value::Null)
}

fn template_hash(pod: &Value) -> String {
    pod["metadata"]["labels"]["pod-template-hash"].as_str().unwrap_or_default().to_string()
}

fn set_image(t: &TestCluster, name: &str, image: &str) {
    edit(&t.store, &DEPLOYMENTS, NS, name, |d| d["spec"]["template"]["spec"]["containers"][0]["image"] = json!(image));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deployment_runs_its_replicas_on_fitting_nodes_and_reports_available() {
    let t = start(config(3));
    let d = t.store.create(&DEPLOYMENTS, deployment("kip", 2, json!({"type": "RollingUpdate"}))).expect("deployment");
    t.cluster.wait_for("rollout", WAIT, |s| rolled_out(s, "kip")).await.expect("rolled out");
    t.cluster
        .wait_for("completion recorded", WAIT, |s| {
            get(s, &DEPLOYMENTS, NS, "kip")
                .is_some_and(|d| condition(&d, "Progressing")["reason"] == "NewReplicaSetAvailable")
        })
        .await
        .expect("progressing complete");
    let d_now = get(&t.store, &DEPLOYMENTS, NS, "kip").expect("deployment");
    assert_eq!(condition(&d_now, "Available")["status"], "True");
    assert_eq!(condition(&d_now, "Available")["reason"], "MinimumReplicasAvailable");
    assert_eq!(d_now["status"]["readyReplicas"], 2);
    assert_eq!(d_now["metadata"]["annotations"]["deployment.kubernetes.io/revision"], "1");
    let rs = t.store.list(&REPLICASETS, Some(NS)).0;
    assert_eq!(rs.len(), 1);
    let hash = rs[0]["metadata"]["labels"]["pod-template-hash"].as_str().expect("hash").to_string();
    assert_eq!(rs[0]["metadata"]["name"], format!("kip-{hash}"));
    assert_eq!(rs[0]["spec"]["selector"]["matchLabels"]["pod-template-hash"], hash);
    assert_eq!(rs[0]["metadata"]["ownerReferences"][0]["uid"], uid(&d));
    let pods = owned_pods(&t.store, &uid(&rs[0]));
    assert_eq!(pods.len(), 2);
    let nodes: std::collections::BTreeSet<String> = pods.iter().map(|p| node_of(p)).collect();
    assert_eq!(nodes.len(), 2, "replicas spread over the emptiest nodes");
    assert!(pods.iter().all(|p| template_hash(p) == hash && is_ready(p)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recreate_stops_every_old_pod_before_starting_a_new_one() {
    let t = start(config(2));
    t.store.create(&DEPLOYMENTS, deployment("kip", 2, json!({"type": "Recreate"}))).expect("deployment");
    t.cluster.wait_for("rollout", WAIT, |s| rolled_out(s, "kip")).await.expect("rolled out");
    let old_hash = template_hash(&t.store.list(&PODS, Some(NS)).0[0]);

    let mut watch = PodWatch::new(&t.store);
    set_image(&t, "kip", "quay.io/eclipse/kubernetes-image-puller:v2");
    let mut overlap = false;
    watch
        .until(
            |pods| pods.len() == 2 && pods.values().all(|p| template_hash(p) != old_hash && is_ready(p)),
            |pods| {
                let old = pods.values().any(|p| template_hash(p) == old_hash);
                let new = pods.values().any(|p| template_hash(p) != old_hash);
                overlap |= old && new;
            },
        )
        .await;
    assert!(!overlap, "Recreate never runs old and new pods together");
    t.cluster.wait_for("rollout", WAIT, |s| rolled_out(s, "kip")).await.expect("rolled out");
    let replicas: BTreeMap<String, i64> = t
        .store
        .list(&REPLICASETS, Some(NS))
        .0
        .iter()
        .map(|rs| {
            (
                rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"].as_str().unwrap().to_string(),
                rs["spec"]["replicas"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(replicas, BTreeMap::from([("1".to_string(), 0), ("2".to_string(), 2)]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rolling_update_stays_within_surge_and_unavailability() {
    let t = start(config(3));
    let strategy = json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}});
    t.store.create(&DEPLOYMENTS, deployment("kip", 3, strategy)).expect("deployment");
    t.cluster.wait_for("rollout", WAIT, |s| rolled_out(s, "kip")).await.expect("rolled out");
    let old_hash = template_hash(&t.store.list(&PODS, Some(NS)).0[0]);

    let mut watch = PodWatch::new(&t.store);
    set_image(&t, "kip", "quay.io/eclipse/kubernetes-image-puller:v2");
    let (mut most_pods, mut fewest_ready) = (0, usize::MAX);
    watch
        .until(
            |pods| pods.len() == 3 && pods.values().all(|p| template_hash(p) != old_hash && is_ready(p)),
            |pods| {
                let live: Vec<&Value> =
                    pods.values().filter(|p| p["metadata"]["deletionTimestamp"].is_null()).collect();
                most_pods = most_pods.max(live.len());
                fewest_ready = fewest_ready.min(live.iter().filter(|p| is_ready(p)).count());
            },
        )
        .await;
    assert_eq!(most_pods, 4, "replicas + maxSurge");
    assert_eq!(fewest_ready, 3, "maxUnavailable 0 keeps every replica available");
    t.cluster.wait_for("rollout", WAIT, |s| rolled_out(s, "kip")).await.expect("rolled out");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pods_that_fit_no_node_wait_unschedulable_until_one_fits() {
    let t = start(config(2));
    let mut d = deployment("picky", 1, json!({"type": "RollingUpdate"}));
    d["spec"]["template"]["spec"]["nodeSelector"] = json!({"disk": "ssd"});
    t.store.create(&DEPLOYMENTS, d).expect("deployment");
    t.cluster
        .wait_for("an unschedulable pod", WAIT, |s| {
            s.list(&PODS, Some(NS)).0.iter().any(|p| {
                p["status"]["conditions"].as_array().is_some_and(|c| {
                    c.iter().any(|c| {
                        c["type"] == "PodScheduled" && c["status"] == "False" && c["reason"] == "Unschedulable"
                    })
                })
            })
        })
        .await
        .expect("unschedulable");
    t.cluster.label_node("node-2", "disk", Some("ssd")).expect("label");
    t.cluster.wait_for("rollout", WAIT, |s| rolled_out(s, "picky")).await.expect("scheduled");
    let pod = t.store.list(&PODS, Some(NS)).0.pop().expect("pod");
    assert_eq!(node_of(&pod), "node-2");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_progress_deadline_without_progress_is_reported() {
    let t = start(config(1));
    t.cluster.set_image_missing("broken:1");
    let mut d = deployment("stuck", 1, json!({"type": "RollingUpdate"}));
    d["spec"]["progressDeadlineSeconds"] = json!(30);
    d["spec"]["template"]["spec"]["containers"][0]["image"] = json!("broken:1");
    t.store.create(&DEPLOYMENTS, d).expect("deployment");
    t.cluster
        .wait_for("the deadline to pass", WAIT, |s| {
            get(s, &DEPLOYMENTS, NS, "stuck").is_some_and(|d| {
                let c = condition(&d, "Progressing");
                c["status"] == "False" && c["reason"] == "ProgressDeadlineExceeded"
            })
        })
        .await
        .expect("timed out progressing");
    let d = get(&t.store, &DEPLOYMENTS, NS, "stuck").expect("deployment");
    assert_eq!(condition(&d, "Available")["status"], "False");
    assert_eq!(d["status"]["unavailableReplicas"], 1);
}
