//! The *build* step: pure functions from a `KubernetesImagePuller` to the objects the operator
//! applies (ServiceAccount, Role, RoleBinding, ConfigMap, puller Deployment). No I/O: every
//! shape is checked by unit tests from YAML fixtures.

mod deployment;
mod rbac;

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, ServiceAccount};
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::{Resource, ResourceExt};
use sha2::{Digest, Sha256};

use super::defaults::{self, DEFAULT_IMAGES, given};
use super::resource::KubernetesImagePuller;
use crate::config::vars::{self, *};

pub use deployment::{CONFIG_HASH_ANNOTATION, desired_deployment};
pub use rbac::{desired_role_binding, desired_role_ref, desired_service_account, lease_name};

/// Label on the puller's ConfigMap and Deployment, as the Go operator set it (the Deployment's
/// selector, which cannot change, so kip adopts a Deployment the Go operator created).
pub const APP_LABEL: (&str, &str) = ("app", "kubernetes-image-puller");
/// Label on every child: the operator watches its children through it.
pub const MANAGED_BY_LABEL: (&str, &str) = ("app.kubernetes.io/managed-by", "kip-operator");
/// Selects the children in watches and lists.
pub const MANAGED_BY_SELECTOR: &str = "app.kubernetes.io/managed-by=kip-operator";

/// Everything the operator applies for one resource, in the order it applies them: the
/// permissions before the pod that uses them, the ConfigMap before the Deployment that reads it.
#[derive(Clone, Debug, PartialEq)]
pub struct Children {
    pub service_account: ServiceAccount,
    pub role: Role,
    pub role_binding: RoleBinding,
    pub config_map: ConfigMap,
    pub deployment: Deployment,
}

/// What the build needs beyond the resource itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BuildContext {
    /// The image the puller runs when the spec names none (the operator's own version).
    pub default_image: String,
}

/// The ConfigMap data the spec stands for: every variable the puller reads, from the defaults,
/// overridden by the non-empty spec fields, with the namespace and image the operator decides.
pub fn config_map_data(kip: &KubernetesImagePuller, ctx: &BuildContext) -> BTreeMap<String, String> {
    let spec = &kip.spec;
    let fields: [(&str, &Option<String>); 11] = [
        (IMAGES, &spec.images),
        (CACHING_INTERVAL_HOURS, &spec.caching_interval_hours),
        (DAEMONSET_NAME, &spec.daemonset_name),
        (CACHING_MEMORY_REQUEST, &spec.caching_memory_request),
        (CACHING_MEMORY_LIMIT, &spec.caching_memory_limit),
        (CACHING_CPU_REQUEST, &spec.caching_cpu_request),
        (CACHING_CPU_LIMIT, &spec.caching_cpu_limit),
        (NODE_SELECTOR, &spec.node_selector),
        (IMAGE_PULL_SECRETS, &spec.image_pull_secrets),
        (AFFINITY, &spec.affinity),
        (TOLERATIONS, &spec.tolerations),
    ];
    let mut data: BTreeMap<String, String> = fields
        .iter()
        .map(|(key, field)| {
            let fallback = if *key == IMAGES { DEFAULT_IMAGES } else { vars::default_of(key) };
            (key.to_string(), given(field).unwrap_or(fallback).to_string())
        })
        .collect();
    data.insert(DAEMONSET_ANNOTATIONS.into(), vars::default_of(DAEMONSET_ANNOTATIONS).into());
    data.insert(NAMESPACE.into(), kip.namespace().unwrap_or_default());
    data.insert(KIP_IMAGE.into(), defaults::puller_image(spec, &ctx.default_image).into());
    data.insert(DEPLOYMENT_NAME.into(), defaults::deployment_name(spec).into());
    // Only when chosen: the data of a resource written for the Go operator stays as it was, and
    // so does its hash (which would roll the puller).
    if let Some(mode) = given(&spec.caching_mode) {
        data.insert(CACHING_MODE.into(), mode.into());
    }
    data
}

/// A short, stable digest of the ConfigMap data: the Deployment's pod template carries it, so
/// that a change of data rolls the puller.
pub fn data_hash(data: &BTreeMap<String, String>) -> String {
    let mut hasher = Sha256::new();
    for (key, value) in data {
        // Length prefixes keep `a=bc` and `ab=c` apart.
        hasher.update((key.len() as u64).to_be_bytes());
        hasher.update(key.as_bytes());
        hasher.update((value.len() as u64).to_be_bytes());
        hasher.update(value.as_bytes());
    }
    hex::encode(&hasher.finalize()[..8])
}

/// Every child for `kip`, from the ConfigMap data [`config_map_data`] gave (already validated).
pub fn desired_children(kip: &KubernetesImagePuller, data: &BTreeMap<String, String>) -> Children {
    let spec = &kip.spec;
    let daemonset_name = data.get(DAEMONSET_NAME).map(String::as_str).unwrap_or_default();
    let names = rbac::PullerNames {
        config_map: defaults::config_map_name(spec),
        deployment: defaults::deployment_name(spec),
        lease: &lease_name(daemonset_name),
        pull_secrets: data
            .get(IMAGE_PULL_SECRETS)
            .map(|secrets| secrets.split(';').map(str::trim).filter(|s| !s.is_empty()).collect())
            .unwrap_or_default(),
    };
    Children {
        service_account: desired_service_account(kip),
        role: rbac::desired_role(kip, &names),
        role_binding: desired_role_binding(kip),
        config_map: ConfigMap {
            metadata: child_meta(kip, names.config_map, &[APP_LABEL, MANAGED_BY_LABEL]),
            data: Some(data.clone()),
            ..ConfigMap::default()
        },
        deployment: desired_deployment(kip, data),
    }
}

/// The controller reference every child carries, so deleting the resource deletes them.
pub fn owner_reference(kip: &KubernetesImagePuller) -> OwnerReference {
    OwnerReference {
        api_version: KubernetesImagePuller::api_version(&()).into_owned(),
        kind: KubernetesImagePuller::kind(&()).into_owned(),
        name: kip.name_any(),
        uid: kip.uid().unwrap_or_default(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

/// Name, namespace, labels and the owner reference of a child.
fn child_meta(kip: &KubernetesImagePuller, name: &str, labels: &[(&str, &str)]) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.to_string()),
        namespace: kip.namespace(),
        labels: Some(labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()),
        owner_references: Some(vec![owner_reference(kip)]),
        ..ObjectMeta::default()
    }
}
