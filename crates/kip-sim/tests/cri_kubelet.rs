//! The simulated kubelet on a real container runtime: pods bound to a node whose runtime is
//! containerd (over the CRI) run for real, from images pulled from a local registry, and their
//! statuses, the node's images and what is left on the host after deletion are checked.
//! Needs `KIP_REAL_RUNTIME=1`, root and the packages of `scripts/real-runtime/install.sh`;
//! the last test runs on the simulated runtime always.
// Test helpers outside #[test] functions fail the test the same way.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod cri_support;

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::time::Instant;

use base64::Engine;
use cri_support::*;
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::Pod;
use kip_sim::cri::{ContainerFilter, ContainerPhase, SandboxFilter};
use kip_sim::kubelet::cri_runtime::translate::POD_UID_LABEL;
use kip_sim::kubelet::cri_runtime::volumes;
use kip_sim::{Sim, SimOptions};
use kube::api::{DeleteParams, WatchEvent, WatchParams};
use kube::{Api, ResourceExt};
use serde_json::json;

/// Deletes the pod and follows it through a watch until it is gone; returns the last state seen.
async fn delete_and_follow(api: &Api<Pod>, name: &str, grace: u32) -> Pod {
    let current = api.get(name).await.unwrap();
    let version = current.resource_version().unwrap();
    let params = WatchParams::default().fields(&format!("metadata.name={name}")).timeout(60);
    let mut events = api.watch(&params, &version).await.unwrap().boxed();
    api.delete(name, &DeleteParams::default().grace_period(grace)).await.unwrap();
    let mut last = current;
    while let Some(event) = tokio::time::timeout(WAIT, events.try_next()).await.expect("pod deleted in time").unwrap() {
        match event {
            WatchEvent::Modified(pod) => last = pod,
            WatchEvent::Deleted(_) => return last,
            _ => {}
        }
    }
    panic!("the watch of {name} ended before the pod was deleted");
}

#[tokio::test]
async fn a_caching_pod_runs_for_real_and_leaves_nothing_behind_when_deleted() {
    let Some(runtime) = start_runtime("a_caching_pod_runs_for_real_and_leaves_nothing_behind_when_deleted") else {
        return;
    };
    let images = push_test_images(&runtime).await;
    let cri = runtime.client().await.unwrap();
    // Held by the runtime before the node starts: the node reports it from the start.
    cri.pull_image(&images.data, None).await.unwrap();
    let sim = start_sim(&runtime);
    let data_by_digest = format!("{}@{}", images.data_repository, images.data_digest);
    let names = eventually("the node to report the image it already holds", || async {
        let names = node_image_names(&sim).await;
        names.contains(&data_by_digest).then_some(names)
    })
    .await;
    assert!(names.contains(&images.data), "{names:?}");
    let version = cri.version().await.unwrap();
    let nodes: Api<k8s_openapi::api::core::v1::Node> = Api::all(sim.client().unwrap());
    let wanted = format!("containerd://{}", version.runtime_version);
    eventually("the node to name its real runtime", || async {
        let node = nodes.get(NODE).await.ok()?;
        (node.status?.node_info?.container_runtime_version == wanted).then_some(())
    })
    .await;

    let api = pods(&sim);
    let started = Instant::now();
    let created = create(&api, caching_pod("cache", &images.kip, &images.data)).await;
    let uid = created.uid().unwrap();
    let pod = pod_until(&api, "cache", "Ready", is_ready).await;
    note(&format!("caching pod created to Ready: {:?}", started.elapsed()));

    assert_eq!(terminated(&pod, "copy-sleep"), Some((0, "Completed".into())), "the init container copied sleep");
    let data = container(&pod, "data").unwrap();
    assert!(data.ready && data.state.as_ref().unwrap().running.is_some(), "{data:?}");
    assert_eq!(data.image_id, data_by_digest, "imageID is the repository digest");
    assert!(data.container_id.as_deref().unwrap().starts_with("containerd://"));
    assert_eq!(phase(&pod), "Running");

    // The emptyDir on the host holds the copy, made by the pod's user in the pod's group.
    let volume = volumes::pod_dir(&runtime.dir().join("kubelet"), &uid).join("volumes/kubernetes.io~empty-dir/kip");
    let sleep = std::fs::metadata(volume.join("sleep")).unwrap();
    assert_eq!((sleep.uid(), sleep.gid(), sleep.mode() & 0o777), (NONROOT as u32, NONROOT as u32, 0o755));
    assert_eq!(std::fs::read(volume.join("sleep")).unwrap(), images.kip_sleep);

    let this_pod = BTreeMap::from([(POD_UID_LABEL.to_string(), uid.clone())]);
    let running =
        ContainerFilter { phase: Some(ContainerPhase::Running), labels: this_pod.clone(), ..Default::default() };
    let running: Vec<String> = cri.list_containers(&running).await.unwrap().into_iter().map(|c| c.name).collect();
    assert_eq!(running, ["data"], "the scratch image runs the copied sleep");
    // The node writes its status at most every 10 s, as a kubelet does.
    let wanted = [&images.kip, &images.data, &data_by_digest];
    let started = Instant::now();
    eventually("the node to list both images", || async {
        let names = node_image_names(&sim).await;
        wanted.iter().all(|name| names.contains(name)).then_some(())
    })
    .await;
    note(&format!("node status.images listed both images {:?} later", started.elapsed()));

    let started = Instant::now();
    let last = delete_and_follow(&api, "cache", 5).await;
    note(&format!("caching pod deleted (grace 5s) to gone: {:?}", started.elapsed()));
    assert_eq!(terminated(&last, "data"), Some((0, "Completed".into())), "SIGTERM ends kip-sleep with 0");
    let sandboxes = cri.list_pod_sandboxes(&SandboxFilter { labels: this_pod.clone(), ..Default::default() }).await;
    assert_eq!(sandboxes.unwrap(), [], "the sandbox is removed with the pod");
    let containers = ContainerFilter { labels: this_pod, ..Default::default() };
    assert_eq!(cri.list_containers(&containers).await.unwrap(), []);
    assert!(!volume.exists(), "the emptyDir is removed with the pod");
}

#[tokio::test]
async fn exit_codes_restarts_and_security_contexts_show_in_pod_statuses() {
    let Some(runtime) = start_runtime("exit_codes_restarts_and_security_contexts_show_in_pod_statuses") else {
        return;
    };
    let images = push_test_images(&runtime).await;
    let sim = start_sim(&runtime);
    let api = pods(&sim);
    let kip = images.kip.as_str();
    let root = |extra: serde_json::Value| {
        let mut context = json!({"runAsUser": 0});
        context.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        context
    };
    // A host directory only its owner may write: root without capabilities is refused.
    let guarded = runtime.dir().join("guarded");
    std::fs::create_dir_all(&guarded).unwrap();
    std::os::unix::fs::chown(&guarded, Some(NONROOT as u32), Some(NONROOT as u32)).unwrap();
    let with_guarded = |mut pod: serde_json::Value| {
        pod["spec"]["volumes"] = json!([{"name": "guarded", "hostPath": {"path": guarded.display().to_string()}}]);
        pod["spec"]["containers"][0]["volumeMounts"] = json!([{"name": "guarded", "mountPath": "/guarded"}]);
        pod
    };
    let cases = [
        ("bad-args", kip_sleep_pod("bad-args", kip, "Never", &["forever"], root(json!({}))), 255, "Error", "Failed"),
        ("done", kip_sleep_pod("done", kip, "Never", &["0s"], root(json!({}))), 0, "Completed", "Succeeded"),
        (
            "read-only",
            kip_sleep_pod(
                "read-only",
                kip,
                "Never",
                &["--copy-to", "/copy"],
                root(json!({"readOnlyRootFilesystem": true})),
            ),
            1,
            "Error",
            "Failed",
        ),
        (
            "writable",
            kip_sleep_pod("writable", kip, "Never", &["--copy-to", "/copy"], root(json!({}))),
            0,
            "Completed",
            "Succeeded",
        ),
        (
            "no-caps",
            with_guarded(kip_sleep_pod(
                "no-caps",
                kip,
                "Never",
                &["--copy-to", "/guarded/no-caps"],
                root(json!({"capabilities": {"drop": ["ALL"]}})),
            )),
            1,
            "Error",
            "Failed",
        ),
        (
            "caps",
            with_guarded(kip_sleep_pod("caps", kip, "Never", &["--copy-to", "/guarded/caps"], root(json!({})))),
            0,
            "Completed",
            "Succeeded",
        ),
    ];
    for (_, pod, ..) in &cases {
        create(&api, pod.clone()).await;
    }
    create(&api, kip_sleep_pod("restarts", kip, "Always", &["100ms"], root(json!({})))).await;
    create(&api, kip_sleep_pod("as-root", kip, "Always", &["1h"], json!({"runAsNonRoot": true}))).await;

    for (name, _, code, reason, pod_phase) in cases {
        let pod = pod_until(&api, name, "finished", |p| matches!(phase(p), "Succeeded" | "Failed")).await;
        assert_eq!((terminated(&pod, "main"), phase(&pod)), (Some((code, reason.to_string())), pod_phase), "{name}");
    }
    assert!(!guarded.join("no-caps").exists() && guarded.join("caps").exists());
    let restarted =
        pod_until(&api, "restarts", "restarted twice", |p| container(p, "main").is_some_and(|c| c.restart_count >= 2))
            .await;
    let last = container(&restarted, "main").unwrap().last_state.clone().unwrap().terminated.unwrap();
    assert_eq!((last.exit_code, last.reason.as_deref()), (0, Some("Completed")));
    let refused =
        pod_until(&api, "as-root", "refused", |p| waiting(p, "main").is_some_and(|(r, _)| r != "ContainerCreating"))
            .await;
    let (reason, message) = waiting(&refused, "main").unwrap();
    assert_eq!(reason, "CreateContainerConfigError", "{message}");
    assert!(message.contains("runAsNonRoot") && message.contains("root"), "{message}");
}

#[tokio::test]
async fn pull_secrets_of_the_pod_unlock_a_registry_with_basic_auth() {
    let Some(runtime) = start_runtime("pull_secrets_of_the_pod_unlock_a_registry_with_basic_auth") else {
        return;
    };
    let kip_sleep = std::fs::read(runtime.kip_sleep_binary()).unwrap();
    let stand_in = kip_sim::cri::oci::ImageBuilder::kip_stand_in(kip_sleep).build().unwrap();
    runtime.authenticated_registry().push("kip/private", "1", &stand_in).await.unwrap();
    let image = format!("{}/kip/private:1", runtime.auth_registry());
    let sim = start_sim(&runtime);
    let api = pods(&sim);
    let pair = format!("{}:{}", runtime.auth().username, runtime.auth().password);
    let config =
        json!({"auths": {runtime.auth_registry(): {"auth": base64::engine::general_purpose::STANDARD.encode(pair)}}});
    let secret = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "pull", "namespace": NAMESPACE},
        "type": "kubernetes.io/dockerconfigjson",
        "data": {".dockerconfigjson": base64::engine::general_purpose::STANDARD.encode(config.to_string())}});
    let secrets: Api<k8s_openapi::api::core::v1::Secret> = Api::namespaced(sim.client().unwrap(), NAMESPACE);
    secrets.create(&Default::default(), &serde_json::from_value(secret).unwrap()).await.unwrap();

    let mut anonymous = kip_sleep_pod("anonymous", &image, "Always", &["1h"], json!({}));
    // Always: with IfNotPresent, a pod without the secret would run the image that the other
    // pod pulled, as on a real node.
    anonymous["spec"]["containers"][0]["imagePullPolicy"] = json!("Always");
    create(&api, anonymous.clone()).await;
    anonymous["metadata"]["name"] = json!("with-secret");
    anonymous["spec"]["imagePullSecrets"] = json!([{"name": "absent"}, {"name": "pull"}]);
    create(&api, anonymous).await;

    let ready = pod_until(&api, "with-secret", "Ready", is_ready).await;
    assert!(
        container(&ready, "main")
            .unwrap()
            .image_id
            .starts_with(&format!("{}/kip/private@sha256:", runtime.auth_registry()))
    );
    let refused = pod_until(&api, "anonymous", "refused", |p| {
        waiting(p, "main").is_some_and(|(r, _)| r == "ErrImagePull" || r == "ImagePullBackOff")
    })
    .await;
    let (_, message) = waiting(&refused, "main").unwrap();
    assert!(message.contains("401 Unauthorized"), "{message}");
}

#[tokio::test]
async fn image_garbage_collection_removes_unused_images_from_containerd_and_keeps_those_in_use() {
    let test = "image_garbage_collection_removes_unused_images_from_containerd_and_keeps_those_in_use";
    let Some(runtime) = start_runtime(test) else {
        return;
    };
    let images = push_test_images(&runtime).await;
    let other = kip_sim::cri::oci::ImageBuilder::data_only("used for a while").build().unwrap();
    let other_digest = runtime.open_registry().push("kip/other", "1", &other).await.unwrap();
    let other_image = format!("{}/kip/other:1", runtime.registry());
    // A disk that is always too full: every image nobody uses goes, once older than 2 s.
    let sim = start_sim_with(&runtime, |cluster| {
        cluster.nodes[0] = cluster.nodes[0].clone().with_image_disk(1);
        cluster.kubelet.image_minimum_gc_age = std::time::Duration::from_secs(2);
        cluster.kubelet.image_gc_period = std::time::Duration::from_secs(1);
    });
    let api = pods(&sim);
    create(&api, kip_sleep_pod("kept", &images.kip, "Always", &["1h"], json!({}))).await;
    create(&api, caching_pod("dropped", &images.kip, &other_image)).await;
    for name in ["kept", "dropped"] {
        pod_until(&api, name, "Ready", is_ready).await;
    }
    delete_and_follow(&api, "dropped", 1).await;

    let cri = runtime.client().await.unwrap();
    let started = Instant::now();
    let held = eventually("the unused image to be removed from containerd", || async {
        let held = cri.list_images().await.unwrap();
        (!held.iter().any(|i| i.repo_tags.contains(&other_image))).then_some(held)
    })
    .await;
    note(&format!("unused image removed {:?} after its pod", started.elapsed()));
    assert!(held.iter().any(|i| i.repo_tags.contains(&images.kip)), "the image in use stays: {held:?}");
    let other_by_digest = format!("{}/kip/other@{other_digest}", runtime.registry());
    eventually("the node to stop listing the removed image", || async {
        let names = node_image_names(&sim).await;
        (!names.contains(&other_by_digest) && names.contains(&images.kip)).then_some(())
    })
    .await;
    assert!(is_ready(&api.get("kept").await.unwrap()), "the pod using the kept image runs on");
}

/// The kubelet writes how the containers ended before it removes the pod: on the simulated
/// runtime too, where a stop within the grace period is an exit 0.
#[tokio::test]
async fn a_deleted_pod_shows_how_its_containers_ended_before_it_goes() {
    let sim = Sim::start(SimOptions { nodes: 1, ..SimOptions::default() }).unwrap();
    let api = pods(&sim);
    let pod = kip_sleep_pod("simulated", "kip:1", "Always", &["1h"], json!({}));
    create(&api, pod).await;
    pod_until(&api, "simulated", "Ready", is_ready).await;
    let last = delete_and_follow(&api, "simulated", 1).await;
    assert_eq!(terminated(&last, "main"), Some((0, "Completed".into())));
}
