//! The watched state: what is kept of a node, relists, and the report over it.

use serde_json::json;

use super::*;

const D1: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";

fn config() -> Config {
    Config::from_vars([
        ("IMAGES", "theia=quay.io/eclipse/che-theia:next;nginx=nginx:1.25"),
        ("DEPLOYMENT_NAME", "kip"),
        ("NODE_SELECTOR", r#"{"pool":"dev"}"#),
        ("KIP_WARM_NODE_LABEL", "kip.dev/cached"),
        ("KIP_STARTUP_TAINT", "kip.dev/not-warm"),
    ])
    .unwrap_or_else(|e| panic!("{e}"))
}

fn node(name: &str, labels: serde_json::Value, taints: serde_json::Value, images: &[&str]) -> SlimNode {
    serde_json::from_value(json!({
        "metadata": {"name": name, "labels": labels, "resourceVersion": "7",
                     "annotations": {"volumes.kubernetes.io/controller-managed-attach-detach": "true"}},
        "spec": {"taints": taints},
        "status": {"images": [{"names": images}]}
    }))
    .expect("node")
}

fn pod(name: &str, node: &str, owner: &str, image_id: &str) -> SlimPod {
    serde_json::from_value(json!({
        "metadata": {"name": name, "ownerReferences": [{"apiVersion": "apps/v1", "kind": "DaemonSet", "name": owner, "uid": "u"}]},
        "spec": {"nodeName": node},
        "status": {"containerStatuses": [{"name": "theia", "imageID": image_id}]}
    }))
    .expect("pod")
}

fn wanted(digest: Option<&str>) -> Vec<WantedImage> {
    vec![
        WantedImage {
            name: "theia".into(),
            image: "quay.io/eclipse/che-theia:next".into(),
            digest: digest.map(String::from),
        },
        WantedImage { name: "nginx".into(), image: "nginx:1.25".into(), digest: None },
    ]
}

#[test]
fn only_what_matters_is_kept_of_a_node() {
    let mut index = LiveIndex::new(Interest::of(&config()));
    index.upsert_node(&node(
        "n1",
        json!({"pool": "dev", "kubernetes.io/hostname": "n1", "kip.dev/cached": "true"}),
        json!([{"key": "kip.dev/not-warm", "effect": "NoSchedule"}, {"key": "gpu", "effect": "NoSchedule"}]),
        &[
            "quay.io/eclipse/che-theia:next",
            &format!("quay.io/eclipse/che-theia@{D1}"),
            "docker.io/library/nginx:1.25",
            "registry.k8s.io/pause:3.10",
            "docker.io/library/redis:7",
        ],
    ));
    let kept = index.node("n1").expect("kept");
    assert_eq!(kept.facts.image_names.len(), 3, "other images are dropped: {:?}", kept.facts.image_names);
    assert_eq!(kept.labels.keys().collect::<Vec<_>>(), ["kip.dev/cached", "pool"]);
    assert_eq!(kept.taints.len(), 2, "every taint is kept while the startup taint is there");
    assert!(kept.has_taint("kip.dev/not-warm"));
    assert_eq!(kept.resource_version.as_deref(), Some("7"));
    index.upsert_node(&node("n2", json!({"pool": "dev"}), json!([{"key": "gpu", "effect": "NoSchedule"}]), &[]));
    assert!(index.node("n2").expect("kept").taints.is_empty(), "no startup taint: no taints kept");
}

#[test]
fn the_report_covers_selected_nodes_by_digest() {
    let mut index = LiveIndex::new(Interest::of(&config()));
    let held = ["quay.io/eclipse/che-theia:next", "docker.io/library/nginx:1.25"];
    index.upsert_node(&node("dev-1", json!({"pool": "dev"}), json!([]), &held));
    index.upsert_node(&node("prod-1", json!({"pool": "prod"}), json!([]), &held));
    index.upsert_node(&node("prod-2", json!({"pool": "prod"}), json!([]), &[]));
    // A caching pod makes a node selected whatever its labels.
    index.upsert_pod(&pod("ds-x", "prod-2", "kubernetes-image-puller", ""));
    index.upsert_pod(&pod("other", "prod-1", "someone-else", ""));
    let report = index.report(&wanted(None));
    assert_eq!(report.nodes, ["dev-1", "prod-2"]);
    assert_eq!(report.fully_cached, ["dev-1"]);
    // With a digest known, the tag alone is not enough.
    let by_digest = index.report(&wanted(Some(D1)));
    assert!(by_digest.fully_cached.is_empty());
    index.upsert_pod(&pod("ds-x", "prod-2", "kubernetes-image-puller", &format!("quay.io/eclipse/che-theia@{D1}")));
    assert!(index.report(&wanted(Some(D1))).is_cached("theia", "prod-2"));
}

#[test]
fn a_relist_drops_what_is_gone() {
    let mut index = LiveIndex::new(Interest::of(&config()));
    index.upsert_node(&node("a", json!({}), json!([]), &[]));
    index.upsert_node(&node("b", json!({}), json!([]), &[]));
    index.upsert_pod(&pod("p1", "a", "kubernetes-image-puller", ""));
    index.upsert_pod(&pod("p2", "b", "kubernetes-image-puller", ""));
    index.begin_node_relist();
    index.upsert_node(&node("b", json!({}), json!([]), &[]));
    index.end_node_relist();
    index.begin_pod_relist();
    index.upsert_pod(&pod("p2", "b", "kubernetes-image-puller", ""));
    index.end_pod_relist();
    assert_eq!(index.nodes().map(|n| n.facts.name.as_str()).collect::<Vec<_>>(), ["b"]);
    assert_eq!(index.report(&wanted(None)).nodes, ["b"]);
    index.remove_node("b");
    index.remove_pod("p2");
    assert!(index.report(&wanted(None)).nodes.is_empty());
}

#[test]
fn repositories_are_read_from_image_names() {
    for (name, repository) in [
        ("quay.io/x/app:next", "quay.io/x/app"),
        ("quay.io/x/app@sha256:ab", "quay.io/x/app"),
        ("quay.io/x/app:next@sha256:ab", "quay.io/x/app"),
        ("127.0.0.1:5000/x/app", "127.0.0.1:5000/x/app"),
        ("127.0.0.1:5000/x/app:1", "127.0.0.1:5000/x/app"),
        ("nginx", "nginx"),
    ] {
        assert_eq!(repository_of(name), repository, "{name}");
    }
}
