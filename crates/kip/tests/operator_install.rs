//! The install files of `deploy/operator`, applied to a simulated cluster as
//! `kubectl apply -k deploy/operator` would apply them, then the sample resource: accepted by
//! the API server, and cached by an operator running as the Deployment runs it.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;
mod operator_common;

use std::path::PathBuf;

use common::start_sim;
use k8s_openapi::api::apps::v1::Deployment;
use kube::api::{DynamicObject, Patch, PatchParams};
use kube::core::GroupVersionKind;
use kube::discovery::{Discovery, Scope};
use kube::{Api, Client, ResourceExt};
use operator_common::*;
use serde_json::Value;

fn deploy_file(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../deploy/operator").join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

/// The files `kustomization.yaml` lists, in its order.
fn kustomization_resources() -> Vec<String> {
    let kustomization: Value = serde_saphyr::from_str(&deploy_file("kustomization.yaml")).expect("kustomization");
    kustomization["resources"].as_array().expect("resources").iter().map(|r| r.as_str().unwrap().to_string()).collect()
}

/// Server-side applies every document of `text`, resolving kinds through discovery.
async fn apply_all(client: &Client, text: &str) -> Vec<String> {
    let mut applied = Vec::new();
    for document in serde_saphyr::from_multiple::<Value>(text).expect("YAML") {
        let object: DynamicObject = serde_json::from_value(document).expect("an object");
        let types = object.types.clone().expect("apiVersion and kind");
        let gvk = GroupVersionKind::try_from(&types).expect("group, version and kind");
        // A CRD applied just before adds a kind: discover again for each object.
        let discovery = Discovery::new(client.clone()).run().await.expect("discovery");
        let (resource, capabilities) =
            discovery.resolve_gvk(&gvk).unwrap_or_else(|| panic!("the API server does not serve {gvk:?}"));
        let api: Api<DynamicObject> = match (capabilities.scope, object.namespace()) {
            (Scope::Namespaced, Some(namespace)) => Api::namespaced_with(client.clone(), &namespace, &resource),
            (Scope::Namespaced, None) => Api::default_namespaced_with(client.clone(), &resource),
            (Scope::Cluster, _) => Api::all_with(client.clone(), &resource),
        };
        api.patch(&object.name_any(), &PatchParams::apply("kubectl").force(), &Patch::Apply(&object))
            .await
            .unwrap_or_else(|error| panic!("applying {} {}: {error}", gvk.kind, object.name_any()));
        applied.push(format!("{}/{}", gvk.kind, object.name_any()));
    }
    applied
}

#[tokio::test]
async fn the_install_files_and_the_sample_work_on_a_cluster() {
    let sim = start_sim(2);
    let client = sim.client().expect("client");
    let mut applied = Vec::new();
    for file in kustomization_resources() {
        applied.extend(apply_all(&client, &deploy_file(&file)).await);
    }
    for expected in [
        "Namespace/kip-operator",
        "CustomResourceDefinition/kubernetesimagepullers.che.eclipse.org",
        "ClusterRole/kip-operator",
        "Deployment/kip-operator",
        "ValidatingAdmissionPolicyBinding/one-per-namespace.kubernetesimagepullers.che.eclipse.org",
    ] {
        assert!(applied.iter().any(|a| a == expected), "{expected} in {applied:?}");
    }
    let operator_deployment: Api<Deployment> = Api::namespaced(client.clone(), "kip-operator");
    assert!(operator_deployment.get_opt("kip-operator").await.unwrap().is_some());

    // The operator's pod, as the simulated kubelet cannot run it: the same binary in-process.
    let operator = Operator::start(&client);
    let kubelet = Kubelet::start(&client);
    create_namespace(&client, "k8s-image-puller").await;
    apply_all(&client, &deploy_file("samples/kubernetesimagepuller.yaml")).await;
    let kip = wait_condition(&client, "k8s-image-puller", "image-puller", "Ready", "True", "ImagesCached").await;
    assert_eq!(kip.status.unwrap().cached.as_deref(), Some("2/2"));
    kubelet.stop().await;
    operator.stop().await;
}
