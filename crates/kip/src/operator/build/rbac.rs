//! The puller's identity and least-privilege permissions: ServiceAccount `k8s-image-puller`, and
//! Role and RoleBinding `create-daemonset` (the Go operator's names) granting exactly what
//! `kip run` does, pinned by name wherever the API allows it.

use k8s_openapi::api::core::v1::ServiceAccount;
use k8s_openapi::api::rbac::v1::{PolicyRule, Role, RoleBinding, RoleRef, Subject};
use kube::ResourceExt;

use super::{MANAGED_BY_LABEL, child_meta};
use crate::operator::defaults::{RBAC_NAME, SERVICE_ACCOUNT_NAME};
use crate::operator::resource::KubernetesImagePuller;

/// The names the Role pins.
pub(super) struct PullerNames<'a> {
    pub config_map: &'a str,
    pub deployment: &'a str,
    pub lease: &'a str,
    /// `IMAGE_PULL_SECRETS`: the puller reads them to resolve private images' digests.
    pub pull_secrets: Vec<&'a str>,
}

/// The leader Lease of `kip run` for this DaemonSet (its default `KIP_LEASE_NAME`).
pub fn lease_name(daemonset_name: &str) -> String {
    format!("kip-{daemonset_name}")
}

pub fn desired_service_account(kip: &KubernetesImagePuller) -> ServiceAccount {
    ServiceAccount { metadata: child_meta(kip, SERVICE_ACCOUNT_NAME, &[MANAGED_BY_LABEL]), ..ServiceAccount::default() }
}

fn rule(group: &str, resource: &str, names: &[&str], verbs: &[&str]) -> PolicyRule {
    let strings = |items: &[&str]| items.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    PolicyRule {
        api_groups: Some(vec![group.to_string()]),
        resources: Some(vec![resource.to_string()]),
        resource_names: (!names.is_empty()).then(|| strings(names)),
        verbs: strings(verbs),
        ..PolicyRule::default()
    }
}

pub(super) fn desired_role(kip: &KubernetesImagePuller, names: &PullerNames<'_>) -> Role {
    Role {
        metadata: child_meta(kip, RBAC_NAME, &[MANAGED_BY_LABEL]),
        rules: Some(
            [
                // The caching DaemonSet: applied (a PATCH that creates it when missing), watched,
                // deleted after a rename. Its name can change with the ConfigMap, so it is not pinned.
                rule("apps", "daemonsets", &[], &["get", "list", "watch", "create", "patch", "delete"]),
                // The puller's own Deployment, owner of the DaemonSet, watched by name (a field
                // selector on metadata.name lets resourceNames restrict list and watch too).
                rule("apps", "deployments", &[names.deployment], &["get", "list", "watch"]),
                // The configuration, watched live by name.
                rule("", "configmaps", &[names.config_map], &["get", "list", "watch"]),
                // Leader election: a new object's name is unknown when `create` is authorized.
                rule("coordination.k8s.io", "leases", &[], &["create"]),
                rule("coordination.k8s.io", "leases", &[names.lease], &["get", "update"]),
                rule("events.k8s.io", "events", &[], &["create", "patch"]),
                // The caching pods (by the DaemonSet's label selector), for the cache status.
                rule("", "pods", &[], &["list", "watch"]),
            ]
            .into_iter()
            // The pull secrets, by name: the registry credentials for digest lookups.
            .chain((!names.pull_secrets.is_empty()).then(|| rule("", "secrets", &names.pull_secrets, &["get"])))
            .collect(),
        ),
    }
}

pub fn desired_role_binding(kip: &KubernetesImagePuller) -> RoleBinding {
    RoleBinding {
        metadata: child_meta(kip, RBAC_NAME, &[MANAGED_BY_LABEL]),
        role_ref: desired_role_ref(),
        subjects: Some(vec![Subject {
            kind: "ServiceAccount".to_string(),
            name: SERVICE_ACCOUNT_NAME.to_string(),
            namespace: kip.namespace(),
            ..Subject::default()
        }]),
    }
}

/// A RoleBinding's `roleRef` cannot change: one that differs means delete and create again.
pub fn desired_role_ref() -> RoleRef {
    RoleRef {
        api_group: "rbac.authorization.k8s.io".to_string(),
        kind: "Role".to_string(),
        name: RBAC_NAME.to_string(),
    }
}
