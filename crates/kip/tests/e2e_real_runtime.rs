//! kip end to end on a real container runtime: the puller runs in this process against a
//! simulated control plane whose node runs its containers in containerd (over the CRI), pulling
//! from local registries (one open, one with basic auth and an image pull secret). The images
//! are cached for real: containerd holds them by digest, the node reports them, the caching
//! containers run kip-sleep copied by the init container (a `FROM scratch` image too), the pod
//! is Ready, `kip status` reports every image cached; on shutdown the caching containers end
//! on SIGTERM with exit code 0.
//!
//! Needs `KIP_REAL_RUNTIME=1`, root and the packages of `scripts/real-runtime/install.sh`
//! (`scripts/test.sh` sets it up); otherwise each test says it was skipped.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;
mod e2e_support;

use std::collections::BTreeMap;
use std::time::Instant;

use common::*;
use e2e_support::*;
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::Pod;
use kip_sim::cri::{ContainerFilter, ContainerPhase};
use kip_sim::kubelet::cri_runtime::{translate::POD_UID_LABEL, volumes};
use kube::api::{ListParams, WatchEvent, WatchParams};
use kube::{Api, ResourceExt};

#[tokio::test]
async fn images_are_cached_on_a_real_node_and_the_caching_containers_end_on_sigterm() {
    let test = "images_are_cached_on_a_real_node_and_the_caching_containers_end_on_sigterm";
    let Some(runtime) = start_runtime(test) else { return };
    let pushed = push_images(&runtime).await;
    let sim = start_cri_sim(&runtime);
    let client = sim.client().unwrap();
    prepare_cluster(&client, &runtime, &pushed.kip_image).await;

    let started = Instant::now();
    let puller = Puller::start(&client, puller_vars(&pushed, &[]), options());
    let pod = wait_cached(&client).await;
    note(&format!("puller started to caching pod Ready: {:?}", started.elapsed()));

    // The pod: the init container copied kip-sleep and ended well; each image runs it.
    assert_eq!(terminations(&pod).get(INIT), Some(&(0, "Completed".to_string())), "{:?}", terminations(&pod));
    let statuses = pod.status.as_ref().unwrap().container_statuses.clone().unwrap();
    for (name, _, repository, digest) in &pushed.cached {
        let status = statuses.iter().find(|c| &c.name == name).unwrap();
        assert!(status.ready && status.state.as_ref().unwrap().running.is_some(), "{status:?}");
        assert_eq!(status.image_id, format!("{repository}@{digest}"), "{name} runs the pushed content");
    }
    let volume = volumes::pod_dir(&runtime.dir().join("kubelet"), &pod.uid().unwrap())
        .join("volumes/kubernetes.io~empty-dir/kip");
    assert_eq!(std::fs::read(volume.join("sleep")).unwrap(), pushed.kip_sleep, "the copy is kip-sleep itself");

    // containerd holds every image by its digest, and runs one container per cached image.
    let cri = runtime.client().await.unwrap();
    let held = cri.list_images().await.unwrap();
    for (name, reference, repository, digest) in &pushed.cached {
        let image = held.iter().find(|i| i.repo_tags.contains(reference)).unwrap_or_else(|| panic!("{name}: {held:?}"));
        assert_eq!(image.digest_in(repository), Some(digest.as_str()), "{name}");
    }
    let this_pod = BTreeMap::from([(POD_UID_LABEL.to_string(), pod.uid().unwrap())]);
    let running =
        ContainerFilter { phase: Some(ContainerPhase::Running), labels: this_pod.clone(), ..Default::default() };
    let mut running: Vec<String> = cri.list_containers(&running).await.unwrap().into_iter().map(|c| c.name).collect();
    running.sort();
    assert_eq!(running, ["data", "private"]);

    // The node reports them (its status is written at most every 10 s), and so does kip.
    let started = Instant::now();
    let wanted: Vec<String> =
        pushed.cached.iter().map(|(_, _, repository, digest)| format!("{repository}@{digest}")).collect();
    eventually("the node to list the cached images by digest", WAIT, || async {
        let names = node_image_names(&client).await;
        wanted.iter().all(|w| names.contains(w)).then_some(())
    })
    .await;
    note(&format!("node status.images listed the cached images {:?} after Ready", started.elapsed()));
    let report = kip::status::fetch::fetch(&client, NAMESPACE, DAEMONSET).await.unwrap();
    note(&format!("kip status:\n{}", kip::status::table::images_table(&report)));
    assert!(report.all_cached(), "{report:?}");
    for (name, ..) in &pushed.cached {
        assert!(report.is_cached(name, NODE), "{name}: {report:?}");
    }

    // Shutdown: kip deletes the DaemonSet, the pod goes with grace 1 s, kip-sleep honours SIGTERM.
    let pods: Api<Pod> = Api::namespaced(client.clone(), NAMESPACE);
    let version =
        pods.list(&ListParams::default().labels(POD_SELECTOR)).await.unwrap().metadata.resource_version.unwrap();
    let mut events =
        pods.watch(&WatchParams::default().labels(POD_SELECTOR).timeout(120), &version).await.unwrap().boxed();
    let started = Instant::now();
    puller.stop().await;
    let mut last = pod.clone();
    loop {
        match tokio::time::timeout(WAIT, events.try_next()).await.expect("the pod goes in time").unwrap() {
            Some(WatchEvent::Modified(pod)) => last = pod,
            Some(WatchEvent::Deleted(_)) => break,
            Some(_) => {}
            None => panic!("the watch ended before the caching pod was deleted"),
        }
    }
    note(&format!("puller stopped to caching pod gone: {:?}", started.elapsed()));
    let ended = terminations(&last);
    for (name, ..) in &pushed.cached {
        assert_eq!(ended.get(name), Some(&(0, "Completed".to_string())), "{name} ended on SIGTERM: {ended:?}");
    }
    let left = ContainerFilter { labels: this_pod, ..Default::default() };
    assert_eq!(cri.list_containers(&left).await.unwrap(), [], "nothing of the pod is left in containerd");
    assert!(!volume.exists(), "nor on the node's disk");
}
