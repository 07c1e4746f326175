//! Defaulting and validation, as the API server applies them to the types kip uses.
//!
//! The store calls [`default`] then [`validate`] on every create and every main-part update;
//! a non-empty list of causes becomes a 422 `Invalid` answer. Field paths and messages follow
//! the API server's (`spec.template.spec.containers[0].name: Invalid value: "Bad_Name": a
//! lowercase RFC 1123 label must consist of ...`).
//!
//! Validated: object metadata (names, generateName, namespace, labels, annotations); pod specs
//! in pods and workload templates (container names and duplicates, images, pull policies,
//! ports, resource quantities and requests against limits, volume names and mounts, restart
//! and DNS policies); DaemonSet, Deployment and ReplicaSet selectors and templates; CRD names;
//! custom resources against their schema. Not validated: updates of a pod's immutable spec,
//! probes, security contexts, RBAC rules, and whatever else kip does not use.

mod custom;
mod defaults;
mod messages;
mod meta;
mod pod;
mod workload;

#[cfg(test)]
mod tests;

use serde_json::Value;

use crate::error::Cause;
use crate::resources::ResourceType;

/// Fills the defaults the API server would (before validation and storage). For custom
/// resources this also prunes fields the CRD's schema does not declare.
pub fn default(rt: &ResourceType, obj: &mut Value) {
    if rt.custom {
        if let Some(schema) = &rt.schema {
            custom::prune_and_default(schema, obj);
        }
        return;
    }
    defaults::default_builtin(rt, obj);
}

/// The reasons the API server would reject this object (empty when valid). `old` is the stored
/// object on update.
pub fn validate(rt: &ResourceType, obj: &Value, old: Option<&Value>) -> Vec<Cause> {
    let mut causes = meta::validate_metadata(rt, obj);
    match (rt.group.as_str(), rt.kind.as_str()) {
        _ if rt.custom => {
            if let Some(schema) = &rt.schema {
                causes.extend(custom::validate_custom(schema, obj));
            }
        }
        ("", "Pod") => match obj.get("spec") {
            Some(spec) => causes.extend(pod::validate_pod_spec(spec, "spec")),
            None => causes.push(messages::required("spec.containers", "")),
        },
        ("apps", kind @ ("DaemonSet" | "Deployment" | "ReplicaSet")) => {
            causes.extend(workload::validate_workload(kind, obj, old));
        }
        ("apiextensions.k8s.io", "CustomResourceDefinition") => causes.extend(custom::validate_crd_name(obj)),
        _ => {}
    }
    causes
}
