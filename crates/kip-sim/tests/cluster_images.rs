//! Image pulls on the simulated nodes: failures and back-off, pull policies, the node image
//! store, garbage collection and `status.images`.
// Helpers outside #[test] functions assert like the tests do.
#![allow(clippy::expect_used, clippy::unwrap_used)]

#[path = "cluster_support.rs"]
mod support;

use std::collections::BTreeSet;

use kip_sim::cluster::node::NodeSpec;
use kip_sim::controllers::{DAEMONSETS, NODES, PODS};
use serde_json::{Value, json};
use support::*;

/// A one-container DaemonSet without init container.
fn simple_daemonset(name: &str, image: &str, policy: &str) -> Value {
    let mut ds = daemonset(name, &[image]);
    let spec = &mut ds["spec"]["template"]["spec"];
    spec.as_object_mut().unwrap().remove("initContainers");
    spec["containers"][0]["imagePullPolicy"] = json!(policy);
    ds
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_image_backs_off_and_recovers_when_published() {
    let t = start(config(1));
    t.cluster.set_image_missing("ghost:1");
    let mut watch = PodWatch::new(&t.store);
    t.store.create(&DAEMONSETS, simple_daemonset("ghost", "ghost:1", "IfNotPresent")).expect("daemonset");
    let seen = std::cell::RefCell::new(BTreeSet::new());
    let mut message = String::new();
    watch
        .until(
            |_| seen.borrow().contains("ImagePullBackOff"),
            |pods| {
                for pod in pods.values() {
                    seen.borrow_mut().extend(waiting_reasons(pod));
                    if let Some(m) = pod["status"]["containerStatuses"][0]["state"]["waiting"]["message"].as_str() {
                        message = m.to_string();
                    }
                }
            },
        )
        .await;
    let seen = seen.into_inner();
    assert!(seen.contains("ErrImagePull"), "ErrImagePull comes first: {seen:?}");
    assert!(
        message.starts_with("Back-off pulling image \"ghost:1\": ErrImagePull: rpc error: code = NotFound"),
        "{message}"
    );
    let pod = t.store.list(&PODS, Some(NS)).0.pop().expect("pod");
    assert_eq!(pod["status"]["phase"], "Pending");

    t.cluster.publish_image("ghost:1", "sha256:0123456789abcdef", 1000);
    t.cluster.wait_for_daemonset_rolled_out(NS, "ghost", WAIT).await.expect("recovered");
    let pod = t.store.list(&PODS, Some(NS)).0.pop().expect("pod");
    assert_eq!(pod["status"]["containerStatuses"][0]["imageID"], "docker.io/library/ghost@sha256:0123456789abcdef");
    assert_eq!(pod["status"]["containerStatuses"][0]["image"], "docker.io/library/ghost:1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unauthorized_image_reports_access_denied() {
    let t = start(config(1));
    t.cluster.set_image_unauthorized("private.example.com/team/app:2");
    t.store
        .create(&DAEMONSETS, simple_daemonset("private", "private.example.com/team/app:2", "Always"))
        .expect("daemonset");
    t.cluster
        .wait_for("a pull error", WAIT, |s| {
            s.list(&PODS, Some(NS)).0.iter().any(|p| {
                let waiting = &p["status"]["containerStatuses"][0]["state"]["waiting"];
                waiting["reason"] == "ErrImagePull"
                    && waiting["message"].as_str().is_some_and(|m| m.contains("pull access denied"))
            })
        })
        .await
        .expect("access denied");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn always_rechecks_the_registry_and_downloads_only_new_digests() {
    let t = start(config(1));
    t.cluster.publish_image("app:1", "aaaa", 5000);
    let ds = t.store.create(&DAEMONSETS, simple_daemonset("app", "app:1", "Always")).expect("daemonset");
    t.cluster.wait_for_daemonset_rolled_out(NS, "app", WAIT).await.expect("rolled out");
    let first = t.cluster.counters();
    assert_eq!((first.manifest_requests, first.pulls, first.bytes_pulled), (1, 1, 5000));

    let restart = |t: &TestCluster| {
        let pod = owned_pods(&t.store, &uid(&ds)).pop().expect("pod");
        t.store
            .delete(&PODS, &key(NS, pod["metadata"]["name"].as_str().unwrap()), &Default::default())
            .expect("delete");
        uid(&pod)
    };
    let wait_new_pod = |gone: String| {
        let ds_uid = uid(&ds);
        move |s: &kip_sim::Store| owned_pods(s, &ds_uid).iter().any(|p| uid(p) != gone && is_ready(p))
    };
    let gone = restart(&t);
    t.cluster.wait_for("a new pod", WAIT, wait_new_pod(gone)).await.expect("restarted");
    let second = t.cluster.counters();
    assert_eq!((second.manifest_requests, second.pulls), (2, 1), "same digest: asked, not downloaded");

    t.cluster.publish_image("app:1", "bbbb", 7000);
    let gone = restart(&t);
    t.cluster.wait_for("a new pod", WAIT, wait_new_pod(gone)).await.expect("restarted");
    let third = t.cluster.counters();
    assert_eq!((third.manifest_requests, third.pulls, third.bytes_pulled), (3, 2, 12_000));
    let pod = owned_pods(&t.store, &uid(&ds)).pop().expect("pod");
    assert_eq!(pod["status"]["containerStatuses"][0]["imageID"], "docker.io/library/app@sha256:bbbb");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn if_not_present_uses_the_node_cache_and_never_never_pulls() {
    let t = start(config(1));
    t.store.create(&DAEMONSETS, simple_daemonset("cached", "app:1", "IfNotPresent")).expect("daemonset");
    t.cluster.wait_for_daemonset_rolled_out(NS, "cached", WAIT).await.expect("rolled out");
    t.store.create(&DAEMONSETS, simple_daemonset("again", "app:1", "IfNotPresent")).expect("daemonset");
    t.cluster.wait_for_daemonset_rolled_out(NS, "again", WAIT).await.expect("rolled out");
    assert_eq!(t.cluster.counters().manifest_requests, 1, "the second pod found the image on the node");

    t.store.create(&DAEMONSETS, simple_daemonset("never", "absent:1", "Never")).expect("daemonset");
    t.cluster
        .wait_for("ErrImageNeverPull", WAIT, |s| {
            s.list(&PODS, Some(NS)).0.iter().any(|p| waiting_reasons(p) == ["ErrImageNeverPull"])
        })
        .await
        .expect("never pulls");
    assert_eq!(t.cluster.counters().manifest_requests, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn image_gc_removes_only_unused_images_least_recently_used_first() {
    let mut config = config(1);
    config.nodes[0] = NodeSpec::new("node-1").with_image_disk(1000);
    let t = start(config);
    t.cluster.publish_image("keep:1", "1111", 400);
    t.cluster.publish_image("old:1", "2222", 300);
    t.cluster.publish_image("new:1", "3333", 300);
    t.store.create(&DAEMONSETS, simple_daemonset("keep", "keep:1", "IfNotPresent")).expect("daemonset");
    t.cluster.wait_for_daemonset_rolled_out(NS, "keep", WAIT).await.expect("rolled out");
    t.store.create(&DAEMONSETS, simple_daemonset("swap", "old:1", "IfNotPresent")).expect("daemonset");
    t.cluster.wait_for_daemonset_rolled_out(NS, "swap", WAIT).await.expect("rolled out");

    // 700 of 1000 bytes used. The update frees old:1 and brings new:1: 1000 bytes, above the
    // 85% threshold. Removing old:1 is enough to get below 80%; keep:1 and new:1 are in use.
    edit(&t.store, &DAEMONSETS, NS, "swap", |ds| {
        ds["spec"]["template"]["spec"]["containers"][0]["image"] = json!("new:1")
    });
    t.cluster.wait_for_daemonset_rolled_out(NS, "swap", WAIT).await.expect("rolled out");
    let images: BTreeSet<String> =
        t.cluster.node_images("node-1").await.expect("node").into_iter().map(|i| i.id).collect();
    assert_eq!(
        images,
        ["docker.io/library/keep@sha256:1111".to_string(), "docker.io/library/new@sha256:3333".to_string()].into()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_status_lists_pulled_images_with_digests_largest_first() {
    let t = start(config(1));
    t.cluster.publish_image("small:1", "aaaa", 100);
    t.cluster.publish_image("large:1", "bbbb", 900);
    t.store.create(&DAEMONSETS, daemonset("puller", &["small:1", "large:1"])).expect("daemonset");
    t.cluster.wait_for_daemonset_rolled_out(NS, "puller", WAIT).await.expect("rolled out");
    t.cluster
        .wait_for("three images in the node status", WAIT, |s| {
            get(s, &NODES, "", "node-1").is_some_and(|n| n["status"]["images"].as_array().is_some_and(|i| i.len() == 3))
        })
        .await
        .expect("node status");
    let node = get(&t.store, &NODES, "", "node-1").expect("node");
    let images = node["status"]["images"].as_array().unwrap();
    let sizes: Vec<i64> = images.iter().map(|i| i["sizeBytes"].as_i64().unwrap()).collect();
    assert!(sizes.windows(2).all(|w| w[0] >= w[1]), "largest first: {sizes:?}");
    let large = images.iter().find(|i| i["sizeBytes"] == 900).expect("large image");
    assert_eq!(large["names"], json!(["docker.io/library/large@sha256:bbbb", "docker.io/library/large:1"]));
}
