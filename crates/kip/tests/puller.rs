//! `kip run` against a simulated cluster over HTTP: the DaemonSet applied, restored, kept
//! through API faults and bad configurations, refreshed, led by one replica.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::*;
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::ConfigMap;
use kip_sim::{Fault, FaultRule};
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::{Api, ResourceExt};
use serde_json::json;

const WAIT: Duration = Duration::from_secs(20);

async fn applied(client: &kube::Client) -> DaemonSet {
    eventually("the DaemonSet to be applied", WAIT, || async { daemonset(client).await }).await
}

#[tokio::test]
async fn applies_the_daemonset_owned_by_kips_deployment() {
    let sim = start_sim(0);
    let client = sim.client().expect("client");
    let owner = prepare(&client).await;
    let puller = Puller::start(&client, vars_on(&sim, &[]), options());
    let ds = applied(&client).await;
    let host = sim.registry_host();
    assert_eq!(
        container_images(&ds),
        vec![
            ("java".to_string(), format!("{host}/eclipse/che-java11-maven:next")),
            ("theia".to_string(), format!("{host}/eclipse/che-theia:next"))
        ]
    );
    let owners = ds.owner_references();
    assert_eq!(owners.len(), 1);
    assert_eq!((owners[0].kind.as_str(), owners[0].name.as_str()), ("Deployment", DEPLOYMENT));
    assert_eq!(Some(&owners[0].uid), owner.metadata.uid.as_ref());
    let managers: Vec<_> = ds.managed_fields().iter().map(|m| (m.manager.clone(), m.operation.clone())).collect();
    assert!(managers.contains(&(Some("kip".into()), Some("Apply".into()))), "{managers:?}");
    let ready = eventually("/readyz to answer 200", WAIT, || async {
        let (status, _) = puller.get("/readyz").await;
        (status == 200).then_some(())
    })
    .await;
    assert_eq!(ready, ());
    assert_eq!(puller.metric("kip_images_configured").await, Some(2.0));
    puller.stop().await;
    assert!(daemonset(&client).await.is_none(), "the DaemonSet is deleted on shutdown by default");
}

#[tokio::test]
async fn restores_a_daemonset_deleted_by_hand() {
    let sim = start_sim(0);
    let client = sim.client().expect("client");
    prepare(&client).await;
    let puller = Puller::start(&client, vars_on(&sim, &[]), options());
    let first = applied(&client).await;
    daemonsets(&client).delete(DAEMONSET, &DeleteParams::default()).await.expect("delete by hand");
    let again = eventually("the DaemonSet to come back", WAIT, || async {
        daemonset(&client).await.filter(|ds| ds.uid() != first.uid())
    })
    .await;
    assert_eq!(container_images(&again), container_images(&first));
    puller.stop().await;
}

#[tokio::test]
async fn reverts_a_hand_edit() {
    let sim = start_sim(0);
    let client = sim.client().expect("client");
    prepare(&client).await;
    let puller = Puller::start(&client, vars_on(&sim, &[]), options());
    let wanted = container_images(&applied(&client).await);
    let edit = json!({"spec": {"template": {"spec": {"containers": [
        {"name": "java", "image": "evil.example.com/miner:1"},
        {"name": "extra", "image": "busybox", "command": ["sleep", "1d"]}
    ]}}}});
    let params = PatchParams { field_manager: Some("kubectl-edit".into()), ..Default::default() };
    daemonsets(&client).patch(DAEMONSET, &params, &Patch::Strategic(edit)).await.expect("edit by hand");
    let restored = eventually("the edit to be reverted", WAIT, || async {
        daemonset(&client).await.filter(|ds| container_images(ds) == wanted)
    })
    .await;
    assert_eq!(container_images(&restored), wanted);
    puller.stop().await;
}

#[tokio::test]
async fn a_restart_with_the_same_configuration_changes_nothing() {
    let sim = start_sim(0);
    let client = sim.client().expect("client");
    prepare(&client).await;
    let keep = vars_on(&sim, &[("KIP_KEEP_DAEMONSET_ON_EXIT", "true")]);
    let first = Puller::start(&client, keep.clone(), options());
    let before = eventually("the digests recorded", WAIT, || async {
        daemonset(&client).await.filter(|ds| recorded_digests(ds).len() == 2)
    })
    .await;
    first.stop().await;
    let kept = daemonset(&client).await.expect("kept on exit when asked");
    assert_eq!(kept.resource_version(), before.resource_version());

    let second = Puller::start(&client, keep, options());
    eventually("the second puller to reconcile", WAIT, || async {
        second.metric("kip_reconciles_total").await.filter(|n| *n >= 1.0)
    })
    .await;
    let after = daemonset(&client).await.expect("still there");
    assert_eq!(after.metadata.generation, before.metadata.generation, "no template change, so no pod restarts");
    assert_eq!(after.resource_version(), before.resource_version(), "not even a write");
    second.stop().await;
}

#[tokio::test]
async fn refreshes_by_a_new_template_annotation_without_recreating() {
    let sim = start_sim(0);
    let client = sim.client().expect("client");
    prepare(&client).await;
    let mut opts = options();
    opts.refresh_interval = Some(Duration::from_secs(1));
    let puller =
        Puller::start(&client, vars_on(&sim, &[("KIP_MAX_UNAVAILABLE", "1"), ("KIP_REFRESH_POLICY", "always")]), opts);
    let first = applied(&client).await;
    let token = template_annotation(&first, "kip.dev/refresh").expect("a refresh token");
    let refreshed = eventually("a refresh", WAIT, || async {
        daemonset(&client).await.filter(|ds| template_annotation(ds, "kip.dev/refresh").as_ref() != Some(&token))
    })
    .await;
    assert_eq!(refreshed.uid(), first.uid(), "refreshed in place, never deleted and recreated");
    assert!(refreshed.metadata.generation > first.metadata.generation);
    let strategy = refreshed.spec.as_ref().and_then(|s| s.update_strategy.as_ref()).expect("strategy");
    assert_eq!(strategy.type_.as_deref(), Some("RollingUpdate"));
    let max_unavailable = strategy.rolling_update.as_ref().and_then(|r| r.max_unavailable.clone());
    assert_eq!(max_unavailable, Some(k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::Int(1)));
    assert!(puller.metric("kip_refreshes_total").await.unwrap_or(0.0) >= 1.0);
    puller.stop().await;
}

#[tokio::test]
async fn survives_api_faults_and_ends_correct() {
    let sim = start_sim(0);
    let client = sim.client().expect("client");
    prepare(&client).await;
    let puller = Puller::start(&client, vars_on(&sim, &[]), options());
    let first = applied(&client).await;

    sim.faults().add(FaultRule::next(30, Fault::InternalError));
    sim.faults().add(FaultRule::next(10, Fault::TooManyRequests { retry_after_seconds: 1 }));
    sim.faults().drop_watches();
    sim.restart_api_server().await.expect("restart the API server");
    // A change while the API fails for kip must still be noticed and repaired. (Deleted in the
    // store directly: the faults would hit this test's own request too.)
    sim.store()
        .delete(
            &kip_sim::GroupResource::new("apps", "daemonsets"),
            &kip_sim::ObjectKey::new(NAMESPACE, DAEMONSET),
            &Default::default(),
        )
        .expect("delete behind kip's back");
    let restored = eventually("the DaemonSet back after the faults", Duration::from_secs(60), || async {
        daemonset(&client).await.filter(|ds| ds.uid() != first.uid())
    })
    .await;
    assert_eq!(container_images(&restored), container_images(&first));
    assert!(!puller.task.is_finished(), "kip stays up through API faults");
    puller.stop().await;
}

#[tokio::test]
async fn an_invalid_configuration_change_leaves_the_daemonset_alone() {
    let sim = start_sim(0);
    let client = sim.client().expect("client");
    prepare(&client).await;
    let configmaps: Api<ConfigMap> = Api::namespaced(client.clone(), NAMESPACE);
    let data = |images: &str| -> ConfigMap {
        serde_json::from_value(json!({"metadata": {"name": "k8s-image-puller"}, "data": {"IMAGES": images}}))
            .expect("cm")
    };
    configmaps.create(&PostParams::default(), &data(&sim_images(&sim))).await.expect("configmap");
    let mut opts = options();
    opts.config_map = Some("k8s-image-puller".into());
    let puller = Puller::start(&client, vars_on(&sim, &[]), opts);
    let before = applied(&client).await;

    configmaps.replace("k8s-image-puller", &PostParams::default(), &data("java=;no equals sign")).await.expect("bad");
    eventually("the bad configuration to be reported", WAIT, || async {
        puller.metric("kip_config_errors").await.filter(|n| *n >= 2.0)
    })
    .await;
    let (status, body) = puller.get("/readyz").await;
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("configuration"), "{body}");
    tokio::time::sleep(Duration::from_secs(1)).await;
    let during = daemonset(&client).await.expect("still there");
    assert_eq!(during.resource_version(), before.resource_version(), "untouched");

    configmaps.replace("k8s-image-puller", &PostParams::default(), &data("node=node:20")).await.expect("fixed");
    let updated = eventually("the fixed configuration to apply", WAIT, || async {
        daemonset(&client).await.filter(|ds| container_images(ds) == vec![("node".to_string(), "node:20".to_string())])
    })
    .await;
    assert_eq!(updated.uid(), before.uid());
    assert_eq!(puller.metric("kip_config_errors").await, Some(0.0));
    puller.stop().await;
}

#[tokio::test]
async fn two_replicas_one_leader() {
    let sim = start_sim(0);
    let client = sim.client().expect("client");
    prepare(&client).await;
    let elect = |identity: &str| {
        let mut opts = options();
        opts.leader_elect = true;
        opts.identity = Some(identity.into());
        opts
    };
    let keep = vars_on(&sim, &[("KIP_KEEP_DAEMONSET_ON_EXIT", "true")]);
    let a = Puller::start(&client, keep.clone(), elect("replica-a"));
    let b = Puller::start(&client, keep, elect("replica-b"));
    applied(&client).await;
    let leases: Api<Lease> = Api::namespaced(client.clone(), NAMESPACE);
    let holder = eventually("a lease holder", WAIT, || async {
        leases.get_opt("kip-kubernetes-image-puller").await.ok().flatten()?.spec?.holder_identity
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let leaders = a.metric("kip_leader").await.unwrap_or(0.0) + b.metric("kip_leader").await.unwrap_or(0.0);
    assert_eq!(leaders, 1.0, "exactly one leader");
    let (leader, standby) = if holder == "replica-a" { (a, b) } else { (b, a) };
    assert_eq!(leader.metric("kip_leader").await, Some(1.0));
    leader.stop().await;
    eventually("the standby to take over", WAIT, || async { standby.metric("kip_leader").await.filter(|v| *v == 1.0) })
        .await;
    // The new leader keeps the DaemonSet right.
    daemonsets(&client).delete(DAEMONSET, &DeleteParams::default()).await.expect("delete");
    applied(&client).await;
    standby.stop().await;
    let _: Api<Deployment> = Api::namespaced(client, NAMESPACE);
}

/// Which nodes have a Ready caching pod that is not being deleted, from the pods in the store.
fn covered_nodes(pods: &std::collections::BTreeMap<String, serde_json::Value>) -> std::collections::BTreeSet<String> {
    pods.values()
        .filter(|p| p.pointer("/metadata/deletionTimestamp").is_none())
        .filter(|p| {
            p.pointer("/status/conditions")
                .and_then(serde_json::Value::as_array)
                .is_some_and(|c| c.iter().any(|c| c["type"] == "Ready" && c["status"] == "True"))
        })
        .filter_map(|p| p.pointer("/spec/nodeName").and_then(serde_json::Value::as_str).map(String::from))
        .collect()
}

/// A pod of the caching DaemonSet (not kip's own).
fn caching_pod(pod: &serde_json::Value) -> bool {
    pod.pointer("/metadata/labels/test").and_then(serde_json::Value::as_str) == Some("daemonset-test")
}

#[tokio::test]
async fn a_refresh_rolls_one_node_at_a_time_and_never_empties_the_cluster() {
    const NODES: usize = 4;
    let sim = start_sim(NODES);
    let client = sim.client().expect("client");
    prepare(&client).await;
    let mut opts = options();
    // Long enough for one rolling refresh of every node to finish before the next starts.
    opts.refresh_interval = Some(Duration::from_secs(20));
    let extra = [("KIP_MAX_UNAVAILABLE", "1"), ("KIP_REFRESH_POLICY", "always")];
    let puller = Puller::start(&client, vars_on(&sim, &extra), opts);
    let ready = eventually("every node caching", Duration::from_secs(60), || async {
        let ds = daemonset(&client).await?;
        let status = ds.status.clone()?;
        (status.number_ready == NODES as i32 && status.desired_number_scheduled == NODES as i32).then_some(ds)
    })
    .await;
    let token = template_annotation(&ready, "kip.dev/refresh");

    // Follow every pod change in the store from now until the refresh has replaced every pod.
    let store = sim.store();
    let pods_gr = kip_sim::GroupResource::core("pods");
    let mut live = store.subscribe();
    let mut pods: std::collections::BTreeMap<String, serde_json::Value> = store
        .list(&pods_gr, Some(NAMESPACE))
        .0
        .iter()
        .filter(|p| caching_pod(p))
        .map(|p| (p["metadata"]["name"].as_str().unwrap_or_default().to_string(), (**p).clone()))
        .collect();
    let before: std::collections::BTreeSet<String> = pods.keys().cloned().collect();
    let mut worst_uncovered = 0;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    loop {
        let event = match tokio::time::timeout_at(deadline, live.recv()).await {
            Ok(event) => event.expect("events"),
            Err(_) => {
                let ds = daemonset(&client).await;
                panic!(
                    "the refresh did not end in time: pods {:?}, covered {:?}, token {:?} -> {:?}",
                    pods.keys().collect::<Vec<_>>(),
                    covered_nodes(&pods),
                    token,
                    ds.as_ref().and_then(|d| template_annotation(d, "kip.dev/refresh"))
                )
            }
        };
        if event.resource == pods_gr && caching_pod(&event.object) {
            let name = event.object["metadata"]["name"].as_str().unwrap_or_default().to_string();
            match event.event_type {
                kip_sim::store::EventType::Deleted => {
                    pods.remove(&name);
                }
                _ => {
                    pods.insert(name, (*event.object).clone());
                }
            }
            let uncovered = NODES - covered_nodes(&pods).len();
            worst_uncovered = worst_uncovered.max(uncovered);
        }
        let replaced = !pods.is_empty() && pods.keys().all(|p| !before.contains(p));
        if replaced && covered_nodes(&pods).len() == NODES {
            break;
        }
    }
    assert!(worst_uncovered <= 1, "at most maxUnavailable = 1 node without a ready caching pod, saw {worst_uncovered}");
    let after = daemonset(&client).await.expect("the DaemonSet");
    assert_eq!(after.uid(), ready.uid(), "rolled in place");
    assert_ne!(template_annotation(&after, "kip.dev/refresh"), token, "a new refresh token rolled the pods");
    puller.stop().await;
}
