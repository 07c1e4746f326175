//! Tests of defaulting and validation.

mod custom;
mod defaults;
mod metadata;
mod pods;
mod quantities;
mod workloads;

use serde_json::{Value, json};

use super::{default, validate};
use crate::error::Cause;
use crate::resources::{Registry, ResourceType};

fn builtin(group: &str, plural: &str) -> ResourceType {
    Registry::new(false).lookup(group, "v1", plural).cloned().expect("served type")
}

fn defaulted(rt: &ResourceType, mut obj: Value) -> Value {
    default(rt, &mut obj);
    obj
}

/// A valid DaemonSet as kip renders it (before defaulting).
fn daemonset() -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "DaemonSet",
        "metadata": {"name": "kubernetes-image-puller", "namespace": "k8s-image-puller"},
        "spec": {
            "selector": {"matchLabels": {"test": "daemonset-test", "app.kubernetes.io/name": "image-puller"}},
            "template": {
                "metadata": {"labels": {"test": "daemonset-test", "app.kubernetes.io/name": "image-puller"}},
                "spec": {
                    "terminationGracePeriodSeconds": 1,
                    "volumes": [{"name": "kip", "emptyDir": {"sizeLimit": "50Mi"}}],
                    "initContainers": [{"name": "copy-sleep", "image": "quay.io/eclipse/kubernetes-image-puller:next",
                                        "imagePullPolicy": "Always",
                                        "volumeMounts": [{"name": "kip", "mountPath": "/kip"}]}],
                    "containers": [{"name": "theia", "image": "quay.io/eclipse/che-theia:next",
                                    "command": ["/kip/sleep"], "args": ["720h"], "imagePullPolicy": "Always",
                                    "resources": {"requests": {"memory": "10Mi", "cpu": ".05"},
                                                  "limits": {"memory": "20Mi", "cpu": ".2"}},
                                    "volumeMounts": [{"name": "kip", "mountPath": "/kip"}]}]
                }
            }
        }
    })
}

fn pod(spec: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "ns"}, "spec": spec})
}

/// The causes, as `field: message` lines, for compact assertions.
fn lines(causes: &[Cause]) -> Vec<String> {
    causes.iter().map(|c| format!("{}: {}", c.field, c.message)).collect()
}

fn validate_defaulted(rt: &ResourceType, obj: Value) -> Vec<Cause> {
    let obj = defaulted(rt, obj);
    validate(rt, &obj, None)
}
