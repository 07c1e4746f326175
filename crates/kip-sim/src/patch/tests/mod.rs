//! Tests of the patch forms and the managedFields bookkeeping.

mod apply;
mod apply_lists;
mod json;
mod managed;
mod strategic;

use serde_json::{Value, json};

use super::{PatchOptions, PatchType, patch};
use crate::error::ApiError;
use crate::resources::{Registry, ResourceType, custom_type_from_crd};
use crate::store::ObjectKey;

fn builtin(group: &str, plural: &str) -> ResourceType {
    let registry = Registry::new(false);
    registry.lookup(group, "v1", plural).cloned().expect("served type")
}

fn deployments() -> ResourceType {
    builtin("apps", "deployments")
}

fn pods() -> ResourceType {
    builtin("", "pods")
}

/// A namespaced custom type with a status subresource and a `conditions` list-map keyed by
/// `type`, and a `ports` list-map keyed by `port` and `protocol` (protocol defaulting to TCP).
fn pullers() -> ResourceType {
    let crd = json!({
        "spec": {
            "group": "che.eclipse.org",
            "scope": "Namespaced",
            "names": {"plural": "kubernetesimagepullers", "kind": "KubernetesImagePuller"},
            "versions": [{"name": "v1alpha1", "served": true, "storage": true, "subresources": {"status": {}},
                "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                    "spec": {"type": "object", "properties": {
                        "images": {"type": "string"},
                        "configMapName": {"type": "string"},
                        "tags": {"type": "array", "items": {"type": "string"}, "x-kubernetes-list-type": "set"},
                        "args": {"type": "array", "items": {"type": "string"}},
                        "ports": {"type": "array", "x-kubernetes-list-type": "map",
                                  "x-kubernetes-list-map-keys": ["port", "protocol"],
                                  "items": {"type": "object", "properties": {
                                      "port": {"type": "integer"},
                                      "protocol": {"type": "string", "default": "TCP"},
                                      "name": {"type": "string"}}}}}},
                    "status": {"type": "object", "properties": {
                        "conditions": {"type": "array", "x-kubernetes-list-type": "map",
                                       "x-kubernetes-list-map-keys": ["type"],
                                       "items": {"type": "object", "properties": {
                                           "type": {"type": "string"}, "status": {"type": "string"}}}}}}}}}}]
        }
    });
    custom_type_from_crd(&crd).expect("well-formed CRD")
}

fn body(value: &Value) -> Vec<u8> {
    serde_json::to_vec(value).expect("serializable")
}

fn run(rt: &ResourceType, current: &Value, patch_type: PatchType, patch_body: Value) -> Result<Value, ApiError> {
    patch(rt, Some(current), patch_type, &body(&patch_body), &PatchOptions::default())
}

fn apply_options(manager: &str, force: bool) -> PatchOptions {
    PatchOptions {
        field_manager: Some(manager.into()),
        force,
        subresource: None,
        target: Some(ObjectKey::new("ns", "web")),
    }
}

fn apply_as(
    rt: &ResourceType,
    current: Option<&Value>,
    manager: &str,
    force: bool,
    config: Value,
) -> Result<Value, ApiError> {
    patch(rt, current, PatchType::Apply, &body(&config), &apply_options(manager, force))
}

/// The managedFields entry of `manager` with this operation.
fn entry<'a>(obj: &'a Value, manager: &str, operation: &str) -> Option<&'a Value> {
    obj.pointer("/metadata/managedFields")?
        .as_array()?
        .iter()
        .find(|e| e["manager"] == manager && e["operation"] == operation)
}

/// A deployment as the store holds it after an apply by `kip` (defaults left out).
fn deployment_config(image: &str) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "ns", "labels": {"app": "web"}},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "c", "image": image, "ports": [{"containerPort": 80}]}]}
            }
        }
    })
}

/// The stored object after the store's own bookkeeping for a create.
fn stored(mut obj: Value) -> Value {
    obj["metadata"]["uid"] = json!("uid-1");
    obj["metadata"]["resourceVersion"] = json!("5");
    obj
}
