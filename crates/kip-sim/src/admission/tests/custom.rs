//! Custom resources against their CRD's schema, and CRD names.

use serde_json::json;

use super::*;
use crate::resources::custom_type_from_crd;

fn pullers() -> ResourceType {
    let schema = json!({
        "type": "object",
        "required": ["spec"],
        "properties": {
            "spec": {
                "type": "object",
                "required": ["deploymentName"],
                "properties": {
                    "deploymentName": {"type": "string", "default": "kubernetes-image-puller"},
                    "configMapName": {"type": "string", "default": "k8s-image-puller"},
                    "images": {"type": "string"},
                    "replicas": {"type": "integer"},
                    "mode": {"type": "string", "enum": ["fast", "slow"]},
                    "port": {"x-kubernetes-int-or-string": true},
                    "note": {"type": "string", "nullable": true},
                    "extra": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
                    "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                    "items": {"type": "array", "items": {"type": "object", "required": ["name"],
                              "properties": {"name": {"type": "string"}, "size": {"type": "integer", "default": 1}}}}
                }
            },
            "status": {"type": "object", "properties": {"ready": {"type": "boolean"}}}
        }
    });
    let crd = json!({"spec": {"group": "che.eclipse.org", "scope": "Namespaced",
        "names": {"plural": "kubernetesimagepullers", "kind": "KubernetesImagePuller"},
        "versions": [{"name": "v1alpha1", "served": true, "storage": true, "schema": {"openAPIV3Schema": schema}}]}});
    custom_type_from_crd(&crd).expect("well-formed CRD")
}

fn puller(spec: Value) -> Value {
    json!({"apiVersion": "che.eclipse.org/v1alpha1", "kind": "KubernetesImagePuller",
           "metadata": {"name": "kip", "namespace": "ns", "labels": {"a": "b"}}, "spec": spec})
}

#[test]
fn defaulting_prunes_unknown_fields_and_fills_defaults() {
    let rt = pullers();
    let out = defaulted(
        &rt,
        puller(json!({
            "images": "a=b", "unknown": 1, "replicas": null, "note": null,
            "extra": {"anything": {"goes": true}},
            "labels": {"x": "y"},
            "items": [{"name": "i", "junk": 2}]
        })),
    );
    assert_eq!(
        out["spec"],
        json!({
            "images": "a=b", "note": null,
            "deploymentName": "kubernetes-image-puller", "configMapName": "k8s-image-puller",
            "extra": {"anything": {"goes": true}},
            "labels": {"x": "y"},
            "items": [{"name": "i", "size": 1}]
        })
    );
    assert_eq!(out["metadata"]["labels"], json!({"a": "b"}), "metadata is never pruned");
    let mut with_unknown_root = puller(json!({}));
    with_unknown_root["other"] = json!(1);
    assert!(defaulted(&rt, with_unknown_root).get("other").is_none());
}

#[test]
fn validation_checks_types_required_and_enums() {
    let rt = pullers();
    let causes = validate(
        &rt,
        &puller(json!({"deploymentName": 5, "replicas": "three", "mode": "medium", "port": true,
                       "items": [{"size": 1}]})),
        None,
    );
    assert_eq!(
        lines(&causes),
        [
            "spec.deploymentName: Invalid value: 5: spec.deploymentName in body must be of type string: \"integer\"",
            "spec.items[0].name: Required value",
            "spec.mode: Unsupported value: \"medium\": supported values: \"fast\", \"slow\"",
            "spec.port: Invalid value: true: spec.port in body must be of type integer-or-string: \"boolean\"",
            "spec.replicas: Invalid value: \"three\": spec.replicas in body must be of type integer: \"string\"",
        ]
    );
    let reasons: Vec<&str> = causes.iter().map(|c| c.reason).collect();
    assert_eq!(
        reasons,
        [
            "FieldValueTypeInvalid",
            "FieldValueRequired",
            "FieldValueNotSupported",
            "FieldValueTypeInvalid",
            "FieldValueTypeInvalid"
        ]
    );
    let mut no_spec = puller(json!({}));
    no_spec.as_object_mut().map(|o| o.remove("spec"));
    assert_eq!(lines(&validate(&rt, &no_spec, None)), ["spec: Required value"]);
    assert!(validate_defaulted(&rt, puller(json!({"port": "http", "mode": "fast"}))).is_empty());
}

#[test]
fn custom_resources_follow_metadata_rules_too() {
    let rt = pullers();
    let mut bad = puller(json!({"deploymentName": "x"}));
    bad["metadata"]["name"] = json!("Bad");
    assert_eq!(validate(&rt, &bad, None).len(), 1);
}

#[test]
fn crd_names_are_plural_dot_group() {
    let rt = builtin("apiextensions.k8s.io", "customresourcedefinitions");
    let crd = |name: &str| {
        json!({"metadata": {"name": name},
               "spec": {"group": "che.eclipse.org", "names": {"plural": "kubernetesimagepullers"}}})
    };
    assert!(validate(&rt, &crd("kubernetesimagepullers.che.eclipse.org"), None).is_empty());
    assert_eq!(
        lines(&validate(&rt, &crd("pullers.che.eclipse.org"), None)),
        ["metadata.name: Invalid value: \"pullers.che.eclipse.org\": must be spec.names.plural+\".\"+spec.group"]
    );
    assert_eq!(defaulted(&rt, crd("x"))["spec"]["conversion"], json!({"strategy": "None"}));
}
