//! A simulated cluster with the CRD installed, `kip operator` running in this process, and a
//! stand-in for the kubelet that runs each puller Deployment's `kip run` in this process too
//! (the simulated kubelets run no processes), so that the whole chain operator -> puller ->
//! DaemonSet -> caching pods -> status can be observed.
#![allow(dead_code, clippy::expect_used, clippy::unwrap_used)]

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kip::operator::build::CONFIG_HASH_ANNOTATION;
use kip::operator::{KubernetesImagePuller, OperatorOptions, run_with};
use kip::telemetry::logging::LogFormat;
use kube::api::{DynamicObject, ListParams, Patch, PatchParams, PostParams};
use kube::{Api, Client, ResourceExt};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::common::{Puller, eventually, free_addr};

pub const WAIT: Duration = Duration::from_secs(30);
pub const PULLER_IMAGE: &str = "ghcr.io/kip-dev/kip:0.1.0";

/// Installs a CRD and waits until its kind is served.
pub async fn install_crd(client: &Client, crd: &CustomResourceDefinition) {
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    crds.patch(&crd.name_any(), &PatchParams::apply("test").force(), &Patch::Apply(crd)).await.expect("apply the CRD");
    let resources: Api<KubernetesImagePuller> = Api::all(client.clone());
    eventually("the CRD to be served", WAIT, || async { resources.list(&ListParams::default()).await.ok() }).await;
}

pub async fn create_namespace(client: &Client, name: &str) {
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let namespace = serde_json::from_value(json!({"metadata": {"name": name}})).expect("namespace");
    namespaces.create(&PostParams::default(), &namespace).await.expect("create the namespace");
}

pub fn resources(client: &Client, namespace: &str) -> Api<KubernetesImagePuller> {
    Api::namespaced(client.clone(), namespace)
}

/// Creates a resource with this spec (as `kubectl create` would).
pub async fn create(client: &Client, namespace: &str, name: &str, spec: Value) -> KubernetesImagePuller {
    let object = json!({
        "apiVersion": "che.eclipse.org/v1alpha1",
        "kind": "KubernetesImagePuller",
        "metadata": {"name": name},
        "spec": spec,
    });
    // Sent as plain JSON, so the spec reaches the API server exactly as written.
    let object: DynamicObject = serde_json::from_value(object).expect("an object");
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), namespace, &api_resource());
    let created = api.create(&PostParams::default(), &object).await.expect("create the resource");
    serde_json::from_value(serde_json::to_value(created).expect("json")).expect("a KubernetesImagePuller")
}

/// Changes the spec with a merge patch (as `kubectl patch --type merge` would).
pub async fn patch_spec(client: &Client, namespace: &str, name: &str, spec: Value) {
    resources(client, namespace)
        .patch(name, &PatchParams::default(), &Patch::Merge(json!({"spec": spec})))
        .await
        .expect("patch the spec");
}

fn api_resource() -> kube::core::ApiResource {
    kube::core::ApiResource::erase::<KubernetesImagePuller>(&())
}

pub async fn get(client: &Client, namespace: &str, name: &str) -> KubernetesImagePuller {
    resources(client, namespace).get(name).await.expect("get the resource")
}

/// The condition `type_` of the resource: (status, reason, message).
pub fn condition(kip: &KubernetesImagePuller, type_: &str) -> Option<(String, String, String)> {
    kip.status
        .as_ref()?
        .conditions
        .iter()
        .find(|c| c.type_ == type_)
        .map(|c| (c.status.clone(), c.reason.clone(), c.message.clone()))
}

/// Waits until the condition has this status and reason (for the resource's current generation).
pub async fn wait_condition(
    client: &Client,
    namespace: &str,
    name: &str,
    type_: &str,
    status: &str,
    reason: &str,
) -> KubernetesImagePuller {
    let what = format!("{namespace}/{name} to have {type_}={status} ({reason})");
    eventually(&what, WAIT, || async {
        let kip = get(client, namespace, name).await;
        let generation = kip.metadata.generation;
        let found = kip.status.as_ref()?.conditions.iter().find(|c| c.type_ == type_)?;
        (found.status == status && found.reason == reason && found.observed_generation == generation).then_some(kip)
    })
    .await
}

pub fn operator_options() -> OperatorOptions {
    OperatorOptions {
        http_addr: free_addr(),
        log_format: LogFormat::Text,
        puller_image: PULLER_IMAGE.to_string(),
        leader_elect: false,
        lease_name: "kip-operator".to_string(),
        lease_namespace: Some("default".to_string()),
        lease_duration: Duration::from_secs(3),
        lease_renew: Duration::from_millis(500),
        identity: Some("test-operator".to_string()),
    }
}

/// `kip operator` in this process.
pub struct Operator {
    stop: CancellationToken,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
    pub http: SocketAddr,
}

impl Operator {
    pub fn start(client: &Client) -> Operator {
        let options = operator_options();
        let http = options.http_addr;
        let stop = CancellationToken::new();
        let task = tokio::spawn(run_with(client.clone(), options, stop.clone()));
        Operator { stop, task, http }
    }

    pub async fn stop(self) {
        self.stop.cancel();
        tokio::time::timeout(WAIT, self.task)
            .await
            .expect("the operator stops in time")
            .expect("the operator task")
            .expect("the operator ends cleanly");
    }
}

/// Runs `kip run` for every puller Deployment, as its pod would: with the Deployment's env and
/// the ConfigMap it names, restarted when the pod template's configuration digest changes,
/// stopped when the Deployment goes.
pub struct Kubelet {
    stop: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

impl Kubelet {
    pub fn start(client: &Client) -> Kubelet {
        let stop = CancellationToken::new();
        let task = tokio::spawn(run_pullers(client.clone(), stop.clone()));
        Kubelet { stop, task }
    }

    pub async fn stop(self) {
        self.stop.cancel();
        let _ = self.task.await;
    }
}

/// `(namespace, name)` -> (configuration digest, the running puller).
type Running = HashMap<(String, String), (String, Puller)>;

async fn run_pullers(client: Client, stop: CancellationToken) {
    let mut running: Running = HashMap::new();
    while !stop.is_cancelled() {
        let deployments: Api<Deployment> = Api::all(client.clone());
        if let Ok(list) =
            deployments.list(&ListParams::default().labels("app.kubernetes.io/managed-by=kip-operator")).await
        {
            let mut wanted = Vec::new();
            for deployment in list.items {
                let key = (deployment.namespace().unwrap_or_default(), deployment.name_any());
                let Some((digest, vars)) = pod_environment(&client, &deployment).await else { continue };
                wanted.push(key.clone());
                if running.get(&key).is_some_and(|(running_digest, _)| *running_digest == digest) {
                    continue;
                }
                if let Some((_, old)) = running.remove(&key) {
                    old.stop().await;
                }
                let mut options = crate::common::options();
                options.config_map = vars.get("KIP_CONFIG_MAP").cloned();
                running.insert(key, (digest, Puller::start(&client, vars, options)));
            }
            let gone: Vec<_> = running.keys().filter(|k| !wanted.contains(k)).cloned().collect();
            for key in gone {
                if let Some((_, old)) = running.remove(&key) {
                    old.stop().await;
                }
            }
        }
        tokio::select! {
            _ = stop.cancelled() => {}
            _ = tokio::time::sleep(Duration::from_millis(200)) => {}
        }
    }
    for (_, (_, puller)) in running {
        puller.stop().await;
    }
}

/// The digest and environment of the puller pod of `deployment`: its ConfigMap's data
/// (`envFrom`) overridden by its `env` values; `None` until the ConfigMap exists and is valid.
async fn pod_environment(client: &Client, deployment: &Deployment) -> Option<(String, BTreeMap<String, String>)> {
    let template = &deployment.spec.as_ref()?.template;
    let digest = template.metadata.as_ref()?.annotations.as_ref()?.get(CONFIG_HASH_ANNOTATION)?.clone();
    let container = template.spec.as_ref()?.containers.first()?;
    let config_map_name = container.env_from.as_ref()?.first()?.config_map_ref.as_ref()?.name.clone();
    let config_maps: Api<ConfigMap> = Api::namespaced(client.clone(), &deployment.namespace()?);
    let mut vars = config_maps.get_opt(&config_map_name).await.ok()??.data?;
    for env in container.env.iter().flatten() {
        if let Some(value) = &env.value {
            vars.insert(env.name.clone(), value.clone());
        }
    }
    kip::config::Config::from_vars(&vars).ok()?;
    Some((digest, vars))
}
