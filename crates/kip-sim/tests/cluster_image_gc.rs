//! The simulated kubelet's image rules against whole pods: image volumes (pulled for the
//! containers that mount them, reported by the node, held while the pod lives), and what image
//! garbage collection and the eviction manager remove under disk pressure.
// Helpers outside #[test] functions assert like the tests do.
#![allow(clippy::expect_used, clippy::unwrap_used)]

#[path = "cluster_support.rs"]
mod support;

use std::collections::BTreeSet;

use kip_sim::cluster::node::NodeSpec;
use kip_sim::controllers::{NODES, PODS};
use serde_json::{Value, json};
use support::*;

/// A pod bound to `node-1`: `init` images as init containers that exit at once, `containers`
/// as sleeping containers, and image volumes (name, reference) mounted by the first container
/// when `mounted`.
fn pod(name: &str, init: &[&str], containers: &[&str], volumes: &[(&str, &str, bool)]) -> Value {
    let container = |prefix: &str, i: usize, image: &str, args: &str| {
        json!({"name": format!("{prefix}-{i}"), "image": image, "imagePullPolicy": "IfNotPresent",
               "command": ["/kip/sleep"], "args": [args]})
    };
    let mut main: Vec<Value> = containers.iter().enumerate().map(|(i, c)| container("c", i, c, "720h")).collect();
    main[0]["volumeMounts"] = volumes
        .iter()
        .filter(|(_, _, mounted)| *mounted)
        .map(|(name, _, _)| json!({"name": name, "mountPath": format!("/cache/{name}"), "readOnly": true}))
        .collect();
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": NS},
        "spec": {
            "nodeName": "node-1",
            "terminationGracePeriodSeconds": 1,
            "initContainers": init.iter().enumerate().map(|(i, c)| container("i", i, c, "0s")).collect::<Vec<_>>(),
            "containers": main,
            "volumes": volumes.iter().map(|(name, reference, _)| json!({"name": name, "image": {"reference": reference, "pullPolicy": "IfNotPresent"}})).collect::<Vec<_>>(),
        },
    })
}

async fn ready(t: &TestCluster, name: &str) {
    t.cluster
        .wait_for(&format!("pod {name} ready"), WAIT, |s| get(s, &PODS, NS, name).is_some_and(|p| is_ready(&p)))
        .await
        .expect("ready");
}

/// Repositories (`docker.io/library/<name>`) of the images stored on node-1.
async fn stored(t: &TestCluster) -> BTreeSet<String> {
    let images = t.cluster.node_images("node-1").await.expect("node");
    images
        .into_iter()
        .map(|i| i.id.trim_start_matches("docker.io/library/").split('@').next().unwrap().to_string())
        .collect()
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|n| n.to_string()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn image_volumes_are_pulled_for_the_containers_that_mount_them_and_reported_by_the_node() {
    let t = start(config(1));
    for (reference, digest, size) in [("keeper:1", "aaaa", 10), ("data:1", "bbbb", 300), ("tools:1", "cccc", 200)] {
        t.cluster.publish_image(reference, digest, size);
    }
    t.cluster.set_image_missing("ghost:1");
    let volumes = [("data", "data:1", true), ("tools", "tools:1", true), ("ghost", "ghost:1", false)];
    t.store.create(&PODS, pod("volumes", &[], &["keeper:1"], &volumes)).expect("pod");
    ready(&t, "volumes").await;
    assert_eq!(stored(&t).await, set(&["data", "keeper", "tools"]), "an image volume nobody mounts is not pulled");
    assert_eq!(t.cluster.counters().manifest_requests, 3);
    t.cluster
        .wait_for("the node to report the volume images", WAIT, |s| {
            get(s, &NODES, "", "node-1").is_some_and(|n| {
                let names: Vec<&str> = n["status"]["images"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .flat_map(|i| i["names"].as_array().into_iter().flatten().filter_map(Value::as_str))
                    .collect();
                ["docker.io/library/data:1", "docker.io/library/tools:1"].iter().all(|n| names.contains(n))
            })
        })
        .await
        .expect("node status");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mounted_image_volume_that_cannot_be_pulled_keeps_the_container_from_starting() {
    let t = start(config(1));
    t.cluster.publish_image("keeper:1", "aaaa", 10);
    t.cluster.set_image_missing("ghost:1");
    t.store.create(&PODS, pod("ghost", &[], &["keeper:1"], &[("ghost", "ghost:1", true)])).expect("pod");
    t.cluster
        .wait_for("the pull error on the container", WAIT, |s| {
            get(s, &PODS, NS, "ghost").is_some_and(|p| {
                let waiting = &p["status"]["containerStatuses"][0]["state"]["waiting"];
                waiting["reason"] == "ImagePullBackOff"
                    && waiting["message"].as_str().is_some_and(|m| m.starts_with("Back-off pulling image \"ghost:1\""))
            })
        })
        .await
        .expect("back-off");
    assert_eq!(get(&t.store, &PODS, NS, "ghost").unwrap()["status"]["phase"], "Pending");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_disk_pressure_only_the_images_nothing_holds_are_removed() {
    let mut config = config(1);
    config.nodes[0] = NodeSpec::new("node-1").with_image_disk(1000);
    let t = start(config);
    for (reference, size) in [
        ("kip:1", 10),
        ("init-a:1", 100),
        ("init-b:1", 100),
        ("volume-c:1", 100),
        ("running-d:1", 100),
        ("deleted-e:1", 100),
        ("failed-f:1", 100),
        ("recent-g:1", 50),
        ("filler:1", 300),
        ("more:1", 200),
    ] {
        t.cluster.publish_image(reference, &format!("{:0>4}", reference.len()), size);
    }
    // Held by exited init containers of a running pod, by an image volume, by a running
    // container; once held by a pod now deleted, and by a pod that failed (terminated, not
    // deleted). 610 of 1000 bytes.
    let pods = [
        pod("init", &["init-a:1", "init-b:1"], &["kip:1"], &[]),
        pod("volume", &[], &["kip:1"], &[("c", "volume-c:1", true)]),
        pod("running", &[], &["running-d:1"], &[]),
        pod("deleted", &[], &["deleted-e:1"], &[]),
        pod("failed", &[], &["failed-f:1"], &[]),
    ];
    for pod in pods {
        let name = pod["metadata"]["name"].as_str().unwrap().to_string();
        t.store.create(&PODS, pod).expect("pod");
        ready(&t, &name).await;
    }
    t.store.delete(&PODS, &key(NS, "deleted"), &Default::default()).expect("delete");
    t.cluster.wait_for("the deleted pod gone", WAIT, |s| get(s, &PODS, NS, "deleted").is_none()).await.expect("gone");
    t.cluster.fail_pod(NS, "failed", "Evicted", "test").expect("fail");
    t.cluster
        .wait_for("the failed pod", WAIT, |s| {
            get(s, &PODS, NS, "failed").is_some_and(|p| p["status"]["phase"] == "Failed")
        })
        .await
        .expect("failed");
    // Unused too, and used more recently than the others: collecting only down to 80% would
    // spare it.
    t.store.create(&PODS, pod("recent", &[], &["recent-g:1"], &[])).expect("pod");
    ready(&t, "recent").await;
    t.store.delete(&PODS, &key(NS, "recent"), &Default::default()).expect("delete");
    t.cluster.wait_for("the recent pod gone", WAIT, |s| get(s, &PODS, NS, "recent").is_none()).await.expect("gone");
    assert_eq!(stored(&t).await.len(), 8, "nothing collected below the thresholds");

    // 960 of 1000: less than 15% free. The eviction manager removes the failed pod's containers,
    // then every image nothing holds, not just enough to reach 80%.
    t.store.create(&PODS, pod("filler", &[], &["filler:1"], &[])).expect("pod");
    ready(&t, "filler").await;
    assert_eq!(stored(&t).await, set(&["filler", "init-a", "init-b", "kip", "running-d", "volume-c"]));

    // 910, all of it held: the pressure stays, the node says so, and its taint follows.
    t.store.create(&PODS, pod("more", &[], &["more:1"], &[])).expect("pod");
    ready(&t, "more").await;
    t.cluster
        .wait_for("DiskPressure and its taint", WAIT, |s| {
            get(s, &NODES, "", "node-1").is_some_and(|n| {
                let pressure = n["status"]["conditions"]
                    .as_array()
                    .is_some_and(|c| c.iter().any(|c| c["type"] == "DiskPressure" && c["status"] == "True"));
                let tainted = n["spec"]["taints"]
                    .as_array()
                    .is_some_and(|t| t.iter().any(|t| t["key"] == "node.kubernetes.io/disk-pressure"));
                pressure && tainted
            })
        })
        .await
        .expect("disk pressure reported");
    assert_eq!(stored(&t).await, set(&["filler", "init-a", "init-b", "kip", "more", "running-d", "volume-c"]));
}
