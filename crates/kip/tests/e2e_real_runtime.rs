//! kip end to end on a real container runtime: the puller runs in this process against a
//! simulated control plane whose node runs its containers in containerd (over the CRI), pulling
//! from local registries (one open, one with basic auth and an image pull secret). The images
//! are cached for real: containerd holds them by digest, the node reports them, the caching
//! containers run kip-sleep copied by the init container (a `FROM scratch` image too), the pod
//! is Ready, `kip status` reports every image cached; on shutdown the caching containers end
//! on SIGTERM with exit code 0. Refreshing on change: new content pushed under a tag rolls the
//! caching pods exactly once and brings the new digest to the node, while refreshes that find
//! nothing new restart nothing (with images as tags, and pinned to digests).
//!
//! Needs `KIP_REAL_RUNTIME=1`, root and the packages of `scripts/real-runtime/install.sh`
//! (`scripts/test.sh` sets it up); otherwise each test says it was skipped.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;
mod e2e_support;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use e2e_support::*;
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::Pod;
use kip::puller::RunOptions;
use kip_sim::cri::oci::ImageBuilder;
use kip_sim::cri::{ContainerFilter, ContainerPhase};
use kip_sim::kubelet::cri_runtime::{translate::POD_UID_LABEL, volumes};
use kube::api::{ListParams, WatchEvent, WatchParams};
use kube::{Api, Client, ResourceExt};

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
    for (name, _, _, digest) in &pushed.cached {
        assert!(report.is_cached(name, NODE), "{name}: {report:?}");
        let entry = report.images.iter().find(|i| &i.name == name).unwrap();
        assert_eq!(entry.digest.as_ref(), Some(digest), "kip resolved {name} to the pushed content");
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

/// Keeps the uid of every caching pod created from now on, through a watch.
struct PodLog {
    uids: Arc<Mutex<BTreeSet<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl PodLog {
    async fn start(client: &Client) -> PodLog {
        let pods: Api<Pod> = Api::namespaced(client.clone(), NAMESPACE);
        let list = pods.list(&ListParams::default().labels(POD_SELECTOR)).await.unwrap();
        let uids = Arc::new(Mutex::new(list.items.iter().filter_map(|p| p.uid()).collect::<BTreeSet<_>>()));
        let version = list.metadata.resource_version.unwrap();
        let mut events =
            pods.watch(&WatchParams::default().labels(POD_SELECTOR).timeout(290), &version).await.unwrap().boxed();
        let seen = uids.clone();
        let task = tokio::spawn(async move {
            while let Ok(Some(event)) = events.try_next().await {
                if let WatchEvent::Added(pod) = event {
                    seen.lock().unwrap().extend(pod.uid());
                }
            }
        });
        PodLog { uids, task }
    }

    fn uids(&self) -> BTreeSet<String> {
        self.uids.lock().unwrap().clone()
    }
}

impl Drop for PodLog {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Lets `rounds` refresh intervals pass, and waits until kip has looked up every image at
/// least that many more times in the meantime.
async fn refresh_rounds(puller: &Puller, interval: Duration, rounds: u32, images: usize) {
    let metric = "kip_registry_requests_total";
    let before = puller.metric(metric).await.unwrap_or(0.0);
    tokio::time::sleep(interval * rounds).await;
    let wanted = before + f64::from(rounds) * images as f64;
    let after = eventually(&format!("{rounds} more rounds of registry lookups"), WAIT, || async {
        puller.metric(metric).await.filter(|after| *after >= wanted)
    })
    .await;
    note(&format!("{rounds} refresh intervals of {interval:?}: {} registry requests", after - before));
}

#[tokio::test]
async fn new_content_under_a_tag_rolls_the_pods_once_and_no_change_restarts_nothing() {
    refresh_on_change("new_content_under_a_tag_rolls_the_pods_once_and_no_change_restarts_nothing", false).await;
}

#[tokio::test]
async fn with_pinned_digests_new_content_rolls_the_pods_once_and_no_change_restarts_nothing() {
    refresh_on_change("with_pinned_digests_new_content_rolls_the_pods_once_and_no_change_restarts_nothing", true).await;
}

/// Refresh on change, the images in the pod template as configured (tags, pulled `Always`) or
/// pinned to the digests kip resolved (`KIP_PIN_DIGESTS`).
async fn refresh_on_change(test: &str, pin: bool) {
    let Some(runtime) = start_runtime(test) else { return };
    let pushed = push_images(&runtime).await;
    let sim = start_cri_sim(&runtime);
    let client = sim.client().unwrap();
    prepare_cluster(&client, &runtime, &pushed.kip_image).await;
    let pin_digests = if pin { "true" } else { "false" };
    let vars = puller_vars(&pushed, &[("KIP_REFRESH_POLICY", "on-change"), ("KIP_PIN_DIGESTS", pin_digests)]);
    let interval = Duration::from_secs(2);
    let puller = Puller::start(&client, vars, RunOptions { refresh_interval: Some(interval), ..options() });
    let first = wait_cached(&client).await;
    let log = PodLog::start(&client).await;
    let (generation, recorded) = eventually("kip to record the digests it resolved", WAIT, || async {
        let ds = daemonset(&client).await?;
        let text = ds.metadata.annotations.as_ref()?.get("kip.dev/digests")?.clone();
        let digests: BTreeMap<String, String> = serde_json::from_str(&text).ok()?;
        (digests.len() == pushed.cached.len()).then_some((ds.metadata.generation?, digests))
    })
    .await;
    for (name, _, _, digest) in &pushed.cached {
        assert_eq!(recorded.get(name), Some(digest), "{name}");
    }

    // Nothing changed: refreshes come and go, and no pod restarts.
    refresh_rounds(&puller, interval, 4, pushed.cached.len()).await;
    let pods = every_caching_pod(&client).await;
    assert_eq!(pods.iter().map(|p| p.uid().unwrap()).collect::<Vec<_>>(), [first.uid().unwrap()]);
    let restarts: Vec<i32> =
        pods[0].status.iter().flat_map(|s| s.container_statuses.iter().flatten()).map(|c| c.restart_count).collect();
    assert_eq!(restarts, [0, 0]);
    assert_eq!(daemonset(&client).await.unwrap().metadata.generation, Some(generation), "no change, no rollout");

    // New content under the data image's tag: one rollout brings it to the node.
    let (_, data_image, data_repository, old_digest) = pushed.cached[0].clone();
    let new_content = ImageBuilder::data_only("new workspace data").build().unwrap();
    let pushed_at = Instant::now();
    let new_digest = runtime.open_registry().push("kip/data", "1", &new_content).await.unwrap();
    assert_ne!(new_digest, old_digest);
    let new_id = format!("{data_repository}@{new_digest}");
    let replaced = eventually("the caching pod to be replaced by one running the new content", WAIT, || async {
        let pods = every_caching_pod(&client).await;
        let pod = pods.iter().find(|p| p.uid() != first.uid() && is_ready(p))?;
        let statuses = pod.status.as_ref()?.container_statuses.as_ref()?;
        let data = statuses.iter().find(|c| c.name == "data")?;
        (pods.len() == 1 && data.image_id == new_id).then(|| pod.clone())
    })
    .await;
    note(&format!("new content pushed to the replacement pod Ready: {:?}", pushed_at.elapsed()));
    assert_eq!(daemonset(&client).await.unwrap().metadata.generation, Some(generation + 1));

    // Exactly once: more refreshes roll nothing.
    refresh_rounds(&puller, interval, 4, pushed.cached.len()).await;
    assert_eq!(daemonset(&client).await.unwrap().metadata.generation, Some(generation + 1), "one rollout");
    let pods: Vec<String> = every_caching_pod(&client).await.iter().filter_map(|p| p.uid()).collect();
    assert_eq!(pods, [replaced.uid().unwrap()]);
    assert_eq!(log.uids(), BTreeSet::from([first.uid().unwrap(), replaced.uid().unwrap()]), "one pod replaced once");

    // The node holds the new content (under the tag too, when pulled by tag), and says so.
    let cri = runtime.client().await.unwrap();
    let held = cri.image_status(&new_id).await.unwrap().expect("the new content is held");
    assert_eq!(held.repo_tags.contains(&data_image), !pin, "{held:?}");
    eventually("the node to list the new content", WAIT, || async {
        node_image_names(&client).await.contains(&new_id).then_some(())
    })
    .await;
    let report = kip::status::fetch::fetch(&client, NAMESPACE, DAEMONSET).await.unwrap();
    assert!(report.all_cached(), "{report:?}");
    puller.stop().await;
}
