use serde_json::json;

use super::*;

const SUBDOMAIN: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const LABEL: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";

fn configmap(meta: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta})
}

#[test]
fn object_names_follow_their_type_rule() {
    let cases = [
        (builtin("", "configmaps"), "k8s-image-puller", None),
        (builtin("", "configmaps"), "a.b-c", None),
        (
            builtin("", "configmaps"),
            "Bad_Name",
            Some(format!("metadata.name: Invalid value: \"Bad_Name\": {SUBDOMAIN}")),
        ),
        (builtin("", "namespaces"), "k8s-image-puller", None),
        (builtin("", "namespaces"), "a.b", Some(format!("metadata.name: Invalid value: \"a.b\": {LABEL}"))),
        (builtin("rbac.authorization.k8s.io", "roles"), "system:Weird_but:ok", None),
        (
            builtin("rbac.authorization.k8s.io", "roles"),
            "a/b",
            Some("metadata.name: Invalid value: \"a/b\": may not contain '/'".to_string()),
        ),
    ];
    for (rt, name, expected) in cases {
        let causes = validate(&rt, &configmap(json!({"name": name, "namespace": "ns"})), None);
        assert_eq!(lines(&causes), expected.into_iter().collect::<Vec<_>>(), "{} {name}", rt.kind);
        assert!(causes.iter().all(|c| c.reason == "FieldValueInvalid"));
    }
}

#[test]
fn generate_name_may_end_in_a_dash() {
    let rt = builtin("", "configmaps");
    assert!(validate(&rt, &configmap(json!({"generateName": "puller-"})), None).is_empty());
    let causes = validate(&rt, &configmap(json!({"generateName": "Puller-"})), None);
    assert_eq!(lines(&causes), [format!("metadata.generateName: Invalid value: \"Puller-\": {SUBDOMAIN}")]);
}

#[test]
fn namespaces_of_objects_are_labels() {
    let causes = validate(&builtin("", "configmaps"), &configmap(json!({"name": "cm", "namespace": "Bad"})), None);
    assert_eq!(lines(&causes), [format!("metadata.namespace: Invalid value: \"Bad\": {LABEL}")]);
}

#[test]
fn label_keys_and_values_are_checked() {
    let rt = builtin("", "configmaps");
    let labels = json!({"app.kubernetes.io/name": "image-puller", "-bad": "ok", "good": "bad value"});
    let causes = validate(&rt, &configmap(json!({"name": "cm", "labels": labels})), None);
    let fields: Vec<&str> = causes.iter().map(|c| c.field.as_str()).collect();
    assert_eq!(fields, ["metadata.labels", "metadata.labels"]);
    assert!(
        causes[0].message.starts_with("Invalid value: \"-bad\": name part must consist of"),
        "{}",
        causes[0].message
    );
    assert!(
        causes[1].message.starts_with("Invalid value: \"bad value\": a valid label must be"),
        "{}",
        causes[1].message
    );
}

#[test]
fn annotation_keys_and_total_size_are_checked() {
    let rt = builtin("", "configmaps");
    let ok = json!({"name": "cm", "annotations": {"kip.dev/Hash": "x", "Any": "value with spaces"}});
    assert!(validate(&rt, &configmap(ok), None).is_empty());
    let bad_key = json!({"name": "cm", "annotations": {"a b": "x"}});
    let causes = validate(&rt, &configmap(bad_key), None);
    assert_eq!(causes.len(), 1);
    assert_eq!(causes[0].field, "metadata.annotations");
    let huge = json!({"name": "cm", "annotations": {"big": "x".repeat(256 * 1024)}});
    let causes = validate(&rt, &configmap(huge), None);
    assert_eq!(lines(&causes), ["metadata.annotations: Too long: may not be more than 262144 bytes"]);
    assert_eq!(causes[0].reason, "FieldValueTooLong");
}
