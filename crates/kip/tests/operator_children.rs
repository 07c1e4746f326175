//! `kip operator` against a simulated cluster: the children of a KubernetesImagePuller created,
//! updated, renamed, repaired, left alone for an invalid spec, garbage-collected with it; a
//! second resource in a namespace refused; a resource as the Go operator left it adopted.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;
mod operator_common;

use common::{eventually, start_sim};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, ServiceAccount};
use k8s_openapi::api::events::v1::Event;
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use kip::operator::build::CONFIG_HASH_ANNOTATION;
use kip::operator::crd;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams};
use kube::{Api, Client, ResourceExt};
use operator_common::*;
use serde_json::json;

const NS: &str = "k8s-image-puller";
const IMAGES: &str = "java=quay.io/eclipse/che-java11-maven:next;theia=quay.io/eclipse/che-theia:next";

async fn cluster() -> (kip_sim::Sim, Client) {
    let sim = start_sim(0);
    let client = sim.client().expect("client");
    install_crd(&client, &crd()).await;
    create_namespace(&client, NS).await;
    (sim, client)
}

fn api<K>(client: &Client) -> Api<K>
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>,
{
    Api::namespaced(client.clone(), NS)
}

async fn wait_for<K>(client: &Client, name: &str) -> K
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug,
{
    let api: Api<K> = api(client);
    eventually(&format!("{} {name}", K::kind(&())), WAIT, || async { api.get_opt(name).await.ok().flatten() }).await
}

async fn wait_gone<K>(client: &Client, name: &str)
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug,
{
    let api: Api<K> = api(client);
    let what = format!("{} {name} to be deleted", K::kind(&()));
    eventually(&what, WAIT, || async { matches!(api.get_opt(name).await, Ok(None)).then_some(()) }).await
}

fn template_hash(deployment: &Deployment) -> String {
    deployment.spec.as_ref().unwrap().template.metadata.as_ref().unwrap().annotations.as_ref().unwrap()
        [CONFIG_HASH_ANNOTATION]
        .clone()
}

async fn event_reasons(client: &Client, name: &str) -> Vec<String> {
    let events: Api<Event> = api(client);
    let list = events.list(&ListParams::default()).await.expect("events");
    list.items
        .into_iter()
        .filter(|e| e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(name))
        .filter_map(|e| e.reason)
        .collect()
}

#[tokio::test]
async fn a_new_resource_gets_every_child() {
    let (_sim, client) = cluster().await;
    let operator = Operator::start(&client);
    let kip = create(&client, NS, "image-puller", json!({"images": IMAGES, "cachingIntervalHours": "2"})).await;
    let uid = kip.uid().unwrap();

    let deployment: Deployment = wait_for(&client, "kubernetes-image-puller").await;
    let config_map: ConfigMap = wait_for(&client, "k8s-image-puller").await;
    let role: Role = wait_for(&client, "create-daemonset").await;
    let binding: RoleBinding = wait_for(&client, "create-daemonset").await;
    let account: ServiceAccount = wait_for(&client, "k8s-image-puller").await;
    for (kind, owners) in [
        ("Deployment", deployment.owner_references()),
        ("ConfigMap", config_map.owner_references()),
        ("Role", role.owner_references()),
        ("RoleBinding", binding.owner_references()),
        ("ServiceAccount", account.owner_references()),
    ] {
        assert_eq!(owners.len(), 1, "{kind}");
        assert_eq!((owners[0].uid.as_str(), owners[0].controller), (uid.as_str(), Some(true)), "{kind}");
    }
    let data = config_map.data.unwrap();
    assert_eq!(data["IMAGES"], IMAGES);
    assert_eq!(data["CACHING_INTERVAL_HOURS"], "2");
    assert_eq!(data["NAMESPACE"], NS);
    assert_eq!(data["KIP_IMAGE"], PULLER_IMAGE);
    assert_eq!(data["CACHING_MEMORY_LIMIT"], "20Mi");
    let container = &deployment.spec.as_ref().unwrap().template.spec.as_ref().unwrap().containers[0];
    assert_eq!(container.image.as_deref(), Some(PULLER_IMAGE));
    let managers: Vec<_> =
        deployment.managed_fields().iter().map(|m| (m.manager.clone(), m.operation.clone())).collect();
    assert!(managers.contains(&(Some("kip-operator".into()), Some("Apply".into()))), "{managers:?}");
    assert_eq!(binding.role_ref.name, "create-daemonset");

    // The API server wrote the name defaults into the spec (they are schema defaults).
    let kip = eventually("the status", WAIT, || async {
        let kip = get(&client, NS, "image-puller").await;
        kip.status.is_some().then_some(kip)
    })
    .await;
    assert_eq!(kip.spec.config_map_name.as_deref(), Some("k8s-image-puller"));
    assert_eq!(kip.spec.deployment_name.as_deref(), Some("kubernetes-image-puller"));
    assert_eq!(kip.status.as_ref().unwrap().image_puller_image.as_deref(), Some(PULLER_IMAGE));
    let reasons = eventually("the Created event", WAIT, || async {
        let reasons = event_reasons(&client, "image-puller").await;
        reasons.contains(&"Created".to_string()).then_some(reasons)
    })
    .await;
    assert!(reasons.contains(&"Created".to_string()), "{reasons:?}");
    operator.stop().await;
}

#[tokio::test]
async fn a_spec_change_updates_the_config_map_and_rolls_the_deployment() {
    let (_sim, client) = cluster().await;
    let operator = Operator::start(&client);
    create(&client, NS, "image-puller", json!({"images": IMAGES})).await;
    let before: Deployment = wait_for(&client, "kubernetes-image-puller").await;

    patch_spec(&client, NS, "image-puller", json!({"images": "node=node:20", "cachingMemoryLimit": "64Mi"})).await;
    let data = eventually("the new data", WAIT, || async {
        let config_map: ConfigMap = api(&client).get("k8s-image-puller").await.ok()?;
        config_map.data.filter(|d| d["IMAGES"] == "node=node:20")
    })
    .await;
    assert_eq!(data["CACHING_MEMORY_LIMIT"], "64Mi");
    let after = eventually("the Deployment to roll", WAIT, || async {
        let deployment: Deployment = api(&client).get("kubernetes-image-puller").await.ok()?;
        (template_hash(&deployment) != template_hash(&before)).then_some(deployment)
    })
    .await;
    assert!(after.metadata.generation > before.metadata.generation);
    operator.stop().await;
}

#[tokio::test]
async fn renaming_the_config_map_or_deployment_deletes_the_old_one() {
    let (_sim, client) = cluster().await;
    let operator = Operator::start(&client);
    create(&client, NS, "image-puller", json!({"images": IMAGES})).await;
    let _: Deployment = wait_for(&client, "kubernetes-image-puller").await;

    patch_spec(&client, NS, "image-puller", json!({"configMapName": "puller-config", "deploymentName": "puller"}))
        .await;
    let deployment: Deployment = wait_for(&client, "puller").await;
    let _: ConfigMap = wait_for(&client, "puller-config").await;
    wait_gone::<ConfigMap>(&client, "k8s-image-puller").await;
    wait_gone::<Deployment>(&client, "kubernetes-image-puller").await;
    let container = &deployment.spec.as_ref().unwrap().template.spec.as_ref().unwrap().containers[0];
    assert_eq!(container.env_from.as_ref().unwrap()[0].config_map_ref.as_ref().unwrap().name, "puller-config");
    // The puller's Role follows the new names.
    let role = eventually("the Role to name the new objects", WAIT, || async {
        let role: Role = api(&client).get("create-daemonset").await.ok()?;
        let names: Vec<String> =
            role.rules.iter().flatten().flat_map(|r| r.resource_names.clone().unwrap_or_default()).collect();
        (names.contains(&"puller".to_string()) && names.contains(&"puller-config".to_string())).then_some(names)
    })
    .await;
    assert!(!role.contains(&"k8s-image-puller".to_string()), "{role:?}");
    operator.stop().await;
}

#[tokio::test]
async fn children_deleted_or_changed_by_hand_are_repaired() {
    let (_sim, client) = cluster().await;
    let operator = Operator::start(&client);
    create(&client, NS, "image-puller", json!({"images": IMAGES})).await;
    let config_map: ConfigMap = wait_for(&client, "k8s-image-puller").await;
    let role: Role = wait_for(&client, "create-daemonset").await;
    let _: RoleBinding = wait_for(&client, "create-daemonset").await;

    api::<ConfigMap>(&client).delete("k8s-image-puller", &DeleteParams::default()).await.expect("delete");
    let restored = eventually("the ConfigMap to come back", WAIT, || async {
        let restored: ConfigMap = api(&client).get("k8s-image-puller").await.ok()?;
        (restored.uid() != config_map.uid()).then_some(restored)
    })
    .await;
    assert_eq!(restored.data, config_map.data);

    // A rule added by hand (kubectl edit) is taken away again.
    let mut rules = role.rules.clone().unwrap();
    rules.push(serde_json::from_value(json!({"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]})).unwrap());
    api::<Role>(&client)
        .patch("create-daemonset", &PatchParams::default(), &Patch::Merge(json!({"rules": rules})))
        .await
        .expect("edit the Role");
    eventually("the Role's rules to be repaired", WAIT, || async {
        let repaired: Role = api(&client).get("create-daemonset").await.ok()?;
        (repaired.rules == role.rules).then_some(())
    })
    .await;

    // A RoleBinding pointing elsewhere cannot be changed back (roleRef is immutable): it is
    // deleted and created again.
    api::<RoleBinding>(&client).delete("create-daemonset", &DeleteParams::default()).await.expect("delete");
    let foreign = serde_json::from_value(json!({
        "metadata": {"name": "create-daemonset"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
        "subjects": [{"kind": "ServiceAccount", "name": "k8s-image-puller", "namespace": NS}],
    }))
    .unwrap();
    let _ = api::<RoleBinding>(&client).create(&Default::default(), &foreign).await;
    let binding = eventually("the RoleBinding to refer to the Role again", WAIT, || async {
        let binding: RoleBinding = api(&client).get("create-daemonset").await.ok()?;
        (binding.role_ref.kind == "Role" && !binding.owner_references().is_empty()).then_some(binding)
    })
    .await;
    assert_eq!(binding.role_ref.name, "create-daemonset");
    operator.stop().await;
}

#[tokio::test]
async fn an_invalid_spec_is_degraded_and_leaves_the_children_alone() {
    let (_sim, client) = cluster().await;
    let operator = Operator::start(&client);
    create(&client, NS, "image-puller", json!({"images": IMAGES})).await;
    let config_map: ConfigMap = wait_for(&client, "k8s-image-puller").await;
    let deployment: Deployment = wait_for(&client, "kubernetes-image-puller").await;

    patch_spec(
        &client,
        NS,
        "image-puller",
        json!({"images": "java=quay.io/eclipse/che-java11-maven:next;theia", "cachingMemoryLimit": "20MB", "nodeSelector": "{\"disktype\": ssd}"}),
    )
    .await;
    let kip = wait_condition(&client, NS, "image-puller", "Degraded", "True", "InvalidSpec").await;
    let (_, _, message) = condition(&kip, "Degraded").unwrap();
    for variable in ["IMAGES[entry 2 \"theia\"]", "CACHING_MEMORY_LIMIT", "NODE_SELECTOR"] {
        assert!(message.contains(variable), "{variable} in {message}");
    }
    assert!(message.contains("invalid configuration: 3 errors"), "{message}");
    assert_eq!(condition(&kip, "Ready").unwrap().1, "InvalidSpec");
    let unchanged_config_map: ConfigMap = api(&client).get("k8s-image-puller").await.unwrap();
    let unchanged_deployment: Deployment = api(&client).get("kubernetes-image-puller").await.unwrap();
    assert_eq!(unchanged_config_map.resource_version(), config_map.resource_version());
    assert_eq!(template_hash(&unchanged_deployment), template_hash(&deployment));
    assert!(event_reasons(&client, "image-puller").await.contains(&"InvalidSpec".to_string()));

    // Fixed: applied, and no longer degraded.
    patch_spec(
        &client,
        NS,
        "image-puller",
        json!({"images": "node=node:20", "cachingMemoryLimit": null, "nodeSelector": null}),
    )
    .await;
    wait_condition(&client, NS, "image-puller", "Degraded", "False", "AsExpected").await;
    let fixed: ConfigMap = api(&client).get("k8s-image-puller").await.unwrap();
    assert_eq!(fixed.data.unwrap()["IMAGES"], "node=node:20");
    operator.stop().await;
}

#[tokio::test]
async fn deleting_the_resource_deletes_its_children() {
    let (_sim, client) = cluster().await;
    let operator = Operator::start(&client);
    create(&client, NS, "image-puller", json!({"images": IMAGES})).await;
    let _: Deployment = wait_for(&client, "kubernetes-image-puller").await;
    let _: RoleBinding = wait_for(&client, "create-daemonset").await;

    resources(&client, NS).delete("image-puller", &DeleteParams::default()).await.expect("delete");
    wait_gone::<Deployment>(&client, "kubernetes-image-puller").await;
    wait_gone::<ConfigMap>(&client, "k8s-image-puller").await;
    wait_gone::<Role>(&client, "create-daemonset").await;
    wait_gone::<RoleBinding>(&client, "create-daemonset").await;
    wait_gone::<ServiceAccount>(&client, "k8s-image-puller").await;
    operator.stop().await;
}

#[tokio::test]
async fn a_second_resource_in_a_namespace_is_degraded_and_touches_nothing() {
    let (_sim, client) = cluster().await;
    let operator = Operator::start(&client);
    create(&client, NS, "first", json!({"images": IMAGES})).await;
    let config_map: ConfigMap = wait_for(&client, "k8s-image-puller").await;
    wait_condition(&client, NS, "first", "Degraded", "False", "AsExpected").await;

    create(&client, NS, "second", json!({"images": "node=node:20", "configMapName": "second-config"})).await;
    let second = wait_condition(&client, NS, "second", "Degraded", "True", "DuplicateResource").await;
    let (_, _, message) = condition(&second, "Degraded").unwrap();
    assert!(message.contains("first, the oldest in namespace k8s-image-puller, is in force"), "{message}");
    assert!(api::<ConfigMap>(&client).get_opt("second-config").await.unwrap().is_none());
    let unchanged: ConfigMap = api(&client).get("k8s-image-puller").await.unwrap();
    assert_eq!(unchanged.resource_version(), config_map.resource_version());
    assert!(event_reasons(&client, "second").await.contains(&"DuplicateResource".to_string()));

    // The first one goes: the second takes over.
    resources(&client, NS).delete("first", &DeleteParams::default()).await.expect("delete");
    let _: ConfigMap = wait_for(&client, "second-config").await;
    wait_condition(&client, NS, "second", "Degraded", "False", "AsExpected").await;
    operator.stop().await;
}

/// The CRD as the Go operator shipped it: the same fields, no defaults, no status fields.
fn go_operator_crd() -> k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition {
    let mut crd = serde_json::to_value(crd()).unwrap();
    let schema = crd.pointer_mut("/spec/versions/0/schema/openAPIV3Schema").unwrap();
    for field in ["configMapName", "deploymentName"] {
        schema["properties"]["spec"]["properties"][field].as_object_mut().unwrap().remove("default");
    }
    schema["properties"]["spec"].as_object_mut().unwrap().remove("default");
    schema["properties"]["status"] = json!({"type": "object", "properties": {"imagePullerImage": {"type": "string"}}, "x-kubernetes-preserve-unknown-fields": true});
    serde_json::from_value(crd).unwrap()
}

#[tokio::test]
async fn a_resource_left_by_the_go_operator_keeps_working() {
    let sim = start_sim(0);
    let client = sim.client().expect("client");
    install_crd(&client, &go_operator_crd()).await;
    create_namespace(&client, NS).await;
    // Created under the Go CRD: no defaults filled in, the Go puller's image named.
    create(
        &client,
        NS,
        "kubernetes-image-puller",
        json!({"images": IMAGES, "imagePullerImage": "quay.io/eclipse/kubernetes-image-puller:next", "daemonsetName": ""}),
    )
    .await;
    let before = get(&client, NS, "kubernetes-image-puller").await;
    assert_eq!(before.spec.config_map_name, None);

    let operator = Operator::start(&client);
    let deployment: Deployment = wait_for(&client, "kubernetes-image-puller").await;
    let container = &deployment.spec.as_ref().unwrap().template.spec.as_ref().unwrap().containers[0];
    assert_eq!(container.image.as_deref(), Some(PULLER_IMAGE), "kip runs, not the Go puller");
    let config_map: ConfigMap = wait_for(&client, "k8s-image-puller").await;
    assert_eq!(config_map.data.as_ref().unwrap()["DAEMONSET_NAME"], "kubernetes-image-puller");
    let kip = eventually("the defaults to be written back", WAIT, || async {
        let kip = get(&client, NS, "kubernetes-image-puller").await;
        kip.spec.deployment_name.is_some().then_some(kip)
    })
    .await;
    assert_eq!(kip.spec.config_map_name.as_deref(), Some("k8s-image-puller"));
    assert_eq!(kip.spec.deployment_name.as_deref(), Some("kubernetes-image-puller"));
    // What the user wrote stays as written.
    assert_eq!(kip.spec.image_puller_image.as_deref(), Some("quay.io/eclipse/kubernetes-image-puller:next"));
    assert_eq!(kip.spec.daemonset_name.as_deref(), Some(""));
    let reasons = eventually("the events", WAIT, || async {
        let reasons = event_reasons(&client, "kubernetes-image-puller").await;
        (reasons.contains(&"Defaulted".to_string()) && reasons.contains(&"ImageReplaced".to_string()))
            .then_some(reasons)
    })
    .await;
    assert!(reasons.contains(&"Created".to_string()), "{reasons:?}");
    operator.stop().await;
}
