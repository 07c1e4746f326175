//! The *dereference* step's reads: the live objects the reconciler compares with what it built.
//! Leftovers of a rename are found by label and by controller reference, so a crash between
//! applying the new object and deleting the old one is repaired on the next pass.

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment};
use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::api::rbac::v1::{RoleBinding, RoleRef};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::ListParams;
use kube::{Api, Client, Resource, ResourceExt};
use serde::de::DeserializeOwned;

use super::build::APP_LABEL;
use super::defaults::RBAC_NAME;
use super::error::Error;
use crate::puller::reconcile::DAEMONSET_SELECTOR;

/// The live state the reconciler needs for one resource.
#[derive(Clone, Debug, Default)]
pub struct Live {
    pub deployment: Option<Deployment>,
    pub daemonset: Option<DaemonSet>,
    /// The `roleRef` of the RoleBinding `create-daemonset`, if it exists.
    pub role_ref: Option<RoleRef>,
    /// Children of this resource left behind by a rename of the ConfigMap or Deployment.
    pub stale_config_maps: Vec<String>,
    pub stale_deployments: Vec<String>,
    /// Caching DaemonSets of the puller Deployment other than the configured one.
    pub stale_daemonsets: Vec<String>,
}

/// The names wanted now, to tell leftovers from current children.
pub struct Wanted<'a> {
    pub uid: &'a str,
    pub config_map: &'a str,
    pub deployment: &'a str,
    pub daemonset: &'a str,
}

async fn get<K>(api: &Api<K>, name: &str) -> Result<Option<K>, Error>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + std::fmt::Debug,
{
    api.get_opt(name).await.map_err(|e| Error::api(format!("reading {} {name}", K::kind(&())), e))
}

/// Names of the objects selected by `labels` that `owner_uid` controls, other than `keep`.
async fn others_controlled_by<K>(api: &Api<K>, labels: &str, owner_uid: &str, keep: &str) -> Result<Vec<String>, Error>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + std::fmt::Debug,
{
    let list = api
        .list_metadata(&ListParams::default().labels(labels))
        .await
        .map_err(|e| Error::api(format!("listing {}s labelled {labels}", K::kind(&())), e))?;
    Ok(list
        .items
        .iter()
        .filter(|o| o.name_any() != keep && owned_by(&o.metadata, owner_uid, true))
        .map(|o| o.name_any())
        .collect())
}

/// Whether `meta` has an owner reference to `uid` (a controller reference when `controller`).
pub fn owned_by(meta: &ObjectMeta, uid: &str, controller: bool) -> bool {
    meta.owner_references.iter().flatten().any(|r| r.uid == uid && (!controller || r.controller == Some(true)))
}

pub async fn live(client: &Client, namespace: &str, wanted: &Wanted<'_>) -> Result<Live, Error> {
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), namespace);
    let daemonsets: Api<DaemonSet> = Api::namespaced(client.clone(), namespace);
    let config_maps: Api<ConfigMap> = Api::namespaced(client.clone(), namespace);
    let role_bindings: Api<RoleBinding> = Api::namespaced(client.clone(), namespace);
    let app = format!("{}={}", APP_LABEL.0, APP_LABEL.1);

    let deployment = get(&deployments, wanted.deployment).await?;
    let daemonset = get(&daemonsets, wanted.daemonset).await?;
    let role_ref = get(&role_bindings, RBAC_NAME).await?.map(|binding| binding.role_ref);
    let stale_config_maps = others_controlled_by(&config_maps, &app, wanted.uid, wanted.config_map).await?;
    let stale_deployments = others_controlled_by(&deployments, &app, wanted.uid, wanted.deployment).await?;
    // The puller's DaemonSets are owned (not controlled) by its Deployment.
    let stale_daemonsets = match deployment.as_ref().and_then(|d| d.uid()) {
        Some(owner) => daemonsets
            .list_metadata(&ListParams::default().labels(DAEMONSET_SELECTOR))
            .await
            .map_err(|e| Error::api(format!("listing DaemonSets labelled {DAEMONSET_SELECTOR}"), e))?
            .items
            .iter()
            .filter(|o| o.name_any() != wanted.daemonset && owned_by(&o.metadata, &owner, false))
            .map(|o| o.name_any())
            .collect(),
        None => Vec::new(),
    };
    Ok(Live { deployment, daemonset, role_ref, stale_config_maps, stale_deployments, stale_daemonsets })
}
