//! The status of a KubernetesImagePuller against a simulated cluster whose kubelets pull the
//! images: Ready once every node holds them, again after a change, and an operator restart
//! that changes nothing.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;
mod operator_common;

use std::collections::BTreeMap;

use common::{eventually, http_get, start_sim};
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment};
use k8s_openapi::api::core::v1::{ConfigMap, ServiceAccount};
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use kip::operator::crd;
use kube::{Api, Client, ResourceExt};
use operator_common::*;
use serde_json::json;

const NS: &str = "k8s-image-puller";
const NAME: &str = "image-puller";
const IMAGES: &str = "java=quay.io/eclipse/che-java11-maven:next;theia=quay.io/eclipse/che-theia:next";

async fn cluster(nodes: usize) -> (kip_sim::Sim, Client) {
    let sim = start_sim(nodes);
    let client = sim.client().expect("client");
    install_crd(&client, &crd()).await;
    create_namespace(&client, NS).await;
    (sim, client)
}

fn daemonset_images(daemonset: &DaemonSet) -> Vec<String> {
    let pod = daemonset.spec.as_ref().and_then(|s| s.template.spec.as_ref());
    pod.map(|p| p.containers.iter().filter_map(|c| c.image.clone()).collect()).unwrap_or_default()
}

#[tokio::test]
async fn ready_once_every_node_holds_the_images() {
    let (_sim, client) = cluster(3).await;
    let operator = Operator::start(&client);
    let kubelet = Kubelet::start(&client);
    create(&client, NS, NAME, json!({"images": IMAGES})).await;

    let kip = wait_condition(&client, NS, NAME, "Ready", "True", "ImagesCached").await;
    let status = kip.status.clone().unwrap();
    assert_eq!((status.desired_nodes, status.cached_nodes, status.cached.as_deref()), (Some(3), Some(3), Some("3/3")));
    assert_eq!(condition(&kip, "Progressing").unwrap().1, "Complete");
    assert_eq!(condition(&kip, "Degraded").unwrap().0, "False");
    assert_eq!(condition(&kip, "Ready").unwrap().2, "2 images cached on all 3 selected nodes.");

    // A new list of images: not Ready until the DaemonSet carries it on every node.
    patch_spec(&client, NS, NAME, json!({"images": "node=docker.io/library/node:20"})).await;
    let kip = wait_condition(&client, NS, NAME, "Ready", "True", "ImagesCached").await;
    assert_eq!(kip.status.as_ref().unwrap().cached.as_deref(), Some("3/3"));
    let daemonsets: Api<DaemonSet> = Api::namespaced(client.clone(), NS);
    let daemonset = daemonsets.get("kubernetes-image-puller").await.unwrap();
    assert_eq!(daemonset_images(&daemonset), ["docker.io/library/node:20"]);
    kubelet.stop().await;
    operator.stop().await;
}

/// resourceVersions of the resource and everything it leads to.
async fn versions(client: &Client) -> BTreeMap<&'static str, String> {
    let ns = |client: &Client| client.clone();
    let mut versions = BTreeMap::new();
    versions.insert("KubernetesImagePuller", get(client, NS, NAME).await.resource_version().unwrap());
    let sa: Api<ServiceAccount> = Api::namespaced(ns(client), NS);
    versions.insert("ServiceAccount", sa.get("k8s-image-puller").await.unwrap().resource_version().unwrap());
    let role: Api<Role> = Api::namespaced(ns(client), NS);
    versions.insert("Role", role.get("create-daemonset").await.unwrap().resource_version().unwrap());
    let binding: Api<RoleBinding> = Api::namespaced(ns(client), NS);
    versions.insert("RoleBinding", binding.get("create-daemonset").await.unwrap().resource_version().unwrap());
    let config_map: Api<ConfigMap> = Api::namespaced(ns(client), NS);
    versions.insert("ConfigMap", config_map.get("k8s-image-puller").await.unwrap().resource_version().unwrap());
    let deployment: Api<Deployment> = Api::namespaced(ns(client), NS);
    versions.insert("Deployment", deployment.get("kubernetes-image-puller").await.unwrap().resource_version().unwrap());
    let daemonset: Api<DaemonSet> = Api::namespaced(ns(client), NS);
    versions.insert("DaemonSet", daemonset.get("kubernetes-image-puller").await.unwrap().resource_version().unwrap());
    versions
}

async fn successful_reconciles(operator: &Operator) -> Option<f64> {
    let (_, text) = http_get(operator.http, "/metrics").await;
    text.lines()
        .find(|l| l.starts_with("kip_operator_reconciles_total{result=\"Ok\""))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
}

#[tokio::test]
async fn restarting_the_operator_changes_nothing() {
    let (_sim, client) = cluster(2).await;
    let operator = Operator::start(&client);
    let kubelet = Kubelet::start(&client);
    create(&client, NS, NAME, json!({"images": IMAGES})).await;
    wait_condition(&client, NS, NAME, "Ready", "True", "ImagesCached").await;
    operator.stop().await;
    let before = versions(&client).await;

    let operator = Operator::start(&client);
    // The new operator has reconciled the resource (its writes come before the count).
    eventually("the new operator to reconcile", WAIT, || async {
        successful_reconciles(&operator).await.filter(|count| *count >= 1.0)
    })
    .await;
    assert_eq!(versions(&client).await, before, "a restart writes nothing");
    kubelet.stop().await;
    operator.stop().await;
}
