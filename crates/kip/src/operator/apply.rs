//! The *apply* step's writes: every child by server-side apply (field manager `kip-operator`,
//! forced: the operator owns what it sets), a RoleBinding whose immutable `roleRef` changed
//! deleted first, leftovers of a rename deleted last, and the name defaults written back into
//! the spec where the API server did not already fill them in.

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment};
use k8s_openapi::api::core::v1::{ConfigMap, ServiceAccount};
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use kube::api::{DeleteParams, Patch, PatchParams};
use kube::{Api, Client, Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::json;

use super::FIELD_MANAGER;
use super::build::{Children, desired_role_ref};
use super::defaults::missing_defaults;
use super::error::Error;
use super::observe::Live;
use super::resource::KubernetesImagePuller;

/// What the writes changed, for events.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Applied {
    /// Spec fields given their default.
    pub defaulted: Vec<&'static str>,
    pub role_binding_recreated: bool,
    /// `(kind, name)` of each leftover deleted.
    pub deleted: Vec<(&'static str, String)>,
}

async fn server_side_apply<K>(api: &Api<K>, object: &K) -> Result<K, Error>
where
    K: Resource<DynamicType = ()> + Clone + Serialize + DeserializeOwned + std::fmt::Debug,
{
    let name = object.name_any();
    api.patch(&name, &PatchParams::apply(FIELD_MANAGER).force(), &Patch::Apply(object))
        .await
        .map_err(|e| Error::api(format!("applying {} {name}", K::kind(&())), e))
}

/// Deletes `name`; already gone is fine.
async fn delete<K>(api: &Api<K>, name: &str) -> Result<(), Error>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + std::fmt::Debug,
{
    match api.delete(name, &DeleteParams::background()).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) if status.code == 404 => Ok(()),
        Err(e) => Err(Error::api(format!("deleting {} {name}", K::kind(&())), e)),
    }
}

/// Writes the missing name defaults into the spec, as the Go operator did. The CRD declares
/// them as schema defaults, so the API server normally fills them in and this finds nothing to
/// do; it covers a CRD without them. A merge patch touches only the missing fields, and the
/// resourceVersion in it makes a concurrent edit win (the next pass sees it).
async fn write_back_defaults(client: &Client, kip: &KubernetesImagePuller) -> Result<Vec<&'static str>, Error> {
    let missing = missing_defaults(&kip.spec);
    if missing.is_empty() {
        return Ok(Vec::new());
    }
    let namespace = kip.namespace().unwrap_or_default();
    let api: Api<KubernetesImagePuller> = Api::namespaced(client.clone(), &namespace);
    let spec: serde_json::Map<String, serde_json::Value> =
        missing.iter().map(|(field, value)| (field.to_string(), json!(value))).collect();
    let patch = json!({"metadata": {"resourceVersion": kip.resource_version()}, "spec": spec});
    let params = PatchParams { field_manager: Some(FIELD_MANAGER.to_string()), ..PatchParams::default() };
    match api.patch(&kip.name_any(), &params, &Patch::Merge(&patch)).await {
        Ok(_) => Ok(missing.iter().map(|(field, _)| *field).collect()),
        // Changed meanwhile: the change triggers another pass, which looks again.
        Err(kube::Error::Api(status)) if status.code == 409 => Ok(Vec::new()),
        Err(e) => Err(Error::api(format!("writing the defaults into KubernetesImagePuller {}", kip.name_any()), e)),
    }
}

/// Applies `children` and removes what `live` shows to be left over. `puller_current` says the
/// puller Deployment already runs the current configuration: only then are its other
/// DaemonSets deleted, or a puller still running the old one would create them again.
pub async fn apply(
    client: &Client,
    kip: &KubernetesImagePuller,
    children: &Children,
    live: &Live,
    puller_current: bool,
) -> Result<Applied, Error> {
    let namespace = kip.namespace().unwrap_or_default();
    let mut applied = Applied { defaulted: write_back_defaults(client, kip).await?, ..Applied::default() };

    let service_accounts: Api<ServiceAccount> = Api::namespaced(client.clone(), &namespace);
    server_side_apply(&service_accounts, &children.service_account).await?;
    let roles: Api<Role> = Api::namespaced(client.clone(), &namespace);
    server_side_apply(&roles, &children.role).await?;
    let role_bindings: Api<RoleBinding> = Api::namespaced(client.clone(), &namespace);
    if live.role_ref.as_ref().is_some_and(|role_ref| *role_ref != desired_role_ref()) {
        delete(&role_bindings, &children.role_binding.name_any()).await?;
        applied.role_binding_recreated = true;
    }
    server_side_apply(&role_bindings, &children.role_binding).await?;
    let config_maps: Api<ConfigMap> = Api::namespaced(client.clone(), &namespace);
    server_side_apply(&config_maps, &children.config_map).await?;
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), &namespace);
    server_side_apply(&deployments, &children.deployment).await?;

    for name in &live.stale_deployments {
        delete(&deployments, name).await?;
        applied.deleted.push(("Deployment", name.clone()));
    }
    for name in &live.stale_config_maps {
        delete(&config_maps, name).await?;
        applied.deleted.push(("ConfigMap", name.clone()));
    }
    if puller_current {
        let daemonsets: Api<DaemonSet> = Api::namespaced(client.clone(), &namespace);
        for name in &live.stale_daemonsets {
            delete(&daemonsets, name).await?;
            applied.deleted.push(("DaemonSet", name.clone()));
        }
    }
    Ok(applied)
}
