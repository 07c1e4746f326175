//! The CRD generated from the Rust types keeps the Go operator's API and adds what kip reports.

use serde_json::{Value, json};

use crate::operator::defaults::{DEFAULT_PULLER_IMAGE, is_go_puller_image, missing_defaults, puller_image};
use crate::operator::resource::{KubernetesImagePullerSpec, crd};

fn schema() -> Value {
    let crd = serde_json::to_value(crd()).expect("json");
    crd.pointer("/spec/versions/0/schema/openAPIV3Schema").cloned().expect("schema")
}

#[test]
fn names_scope_and_subresource_are_the_go_operators() {
    let crd = serde_json::to_value(crd()).expect("json");
    assert_eq!(crd["metadata"]["name"], "kubernetesimagepullers.che.eclipse.org");
    assert_eq!(crd["spec"]["group"], "che.eclipse.org");
    assert_eq!(crd["spec"]["scope"], "Namespaced");
    assert_eq!(crd["spec"]["names"]["kind"], "KubernetesImagePuller");
    assert_eq!(crd["spec"]["names"]["plural"], "kubernetesimagepullers");
    let version = &crd["spec"]["versions"][0];
    assert_eq!(
        (&version["name"], &version["served"], &version["storage"]),
        (&json!("v1alpha1"), &json!(true), &json!(true))
    );
    assert_eq!(version["subresources"]["status"], json!({}));
    let columns: Vec<(&str, &str)> = version["additionalPrinterColumns"]
        .as_array()
        .expect("columns")
        .iter()
        .map(|c| (c["name"].as_str().unwrap_or_default(), c["jsonPath"].as_str().unwrap_or_default()))
        .collect();
    assert_eq!(
        columns,
        [
            ("Ready", ".status.conditions[?(@.type==\"Ready\")].status"),
            ("Cached", ".status.cached"),
            ("Age", ".metadata.creationTimestamp")
        ]
    );
}

#[test]
fn every_go_spec_field_is_an_optional_string() {
    let schema = schema();
    let spec = &schema["properties"]["spec"];
    let go_fields = [
        "configMapName",
        "daemonsetName",
        "deploymentName",
        "images",
        "cachingIntervalHours",
        "cachingMemoryRequest",
        "cachingMemoryLimit",
        "cachingCPURequest",
        "cachingCPULimit",
        "nodeSelector",
        "imagePullSecrets",
        "affinity",
        "tolerations",
        "imagePullerImage",
    ];
    // kip's own fields, beside the Go operator's.
    let kip_fields = ["cachingMode"];
    let mut names: Vec<&str> = spec["properties"].as_object().expect("properties").keys().map(String::as_str).collect();
    names.sort_unstable();
    let mut expected = [&go_fields[..], &kip_fields[..]].concat();
    expected.sort_unstable();
    assert_eq!(names, expected);
    for field in expected {
        assert_eq!(spec["properties"][field]["type"], "string", "{field}");
    }
    assert!(spec.get("required").is_none());
    // A resource without spec is accepted and gets the defaults.
    assert!(schema.get("required").is_none_or(|r| !r.as_array().is_some_and(|r| r.contains(&json!("spec")))));
    assert_eq!(spec["default"], json!({}));
    assert_eq!(spec["properties"]["configMapName"]["default"], "k8s-image-puller");
    assert_eq!(spec["properties"]["deploymentName"]["default"], "kubernetes-image-puller");
    assert!(spec["properties"]["imagePullerImage"].get("default").is_none());
}

#[test]
fn conditions_are_a_map_keyed_by_type() {
    let schema = schema();
    let status = &schema["properties"]["status"]["properties"];
    assert_eq!(status["conditions"]["x-kubernetes-list-type"], "map");
    assert_eq!(status["conditions"]["x-kubernetes-list-map-keys"], json!(["type"]));
    let required = status["conditions"]["items"]["required"].as_array().expect("required");
    assert!(required.contains(&json!("type")));
    for field in ["imagePullerImage", "cached"] {
        assert_eq!(status[field]["type"], "string", "{field}");
    }
    for field in ["desiredNodes", "cachedNodes"] {
        assert_eq!(status[field]["type"], "integer", "{field}");
    }
}

#[test]
fn the_go_pullers_image_means_the_default() {
    let cases = [
        ("quay.io/eclipse/kubernetes-image-puller:next", true),
        ("quay.io/eclipse/kubernetes-image-puller", true),
        ("quay.io/eclipse/kubernetes-image-puller@sha256:0123", true),
        ("quay.io/eclipse/kubernetes-image-puller-operator:next", false),
        ("registry.example.com/kip:1", false),
    ];
    for (image, go) in cases {
        assert_eq!(is_go_puller_image(image), go, "{image}");
        let spec = KubernetesImagePullerSpec { image_puller_image: Some(image.into()), ..Default::default() };
        let expected = if go { DEFAULT_PULLER_IMAGE } else { image };
        assert_eq!(puller_image(&spec, DEFAULT_PULLER_IMAGE), expected, "{image}");
    }
    assert_eq!(puller_image(&KubernetesImagePullerSpec::default(), DEFAULT_PULLER_IMAGE), DEFAULT_PULLER_IMAGE);
}

#[test]
fn only_absent_names_are_written_back() {
    let absent = KubernetesImagePullerSpec::default();
    assert_eq!(
        missing_defaults(&absent),
        [("configMapName", "k8s-image-puller"), ("deploymentName", "kubernetes-image-puller")]
    );
    // An empty string is the user's (it means the default, as in Go, but is left as written).
    let given = KubernetesImagePullerSpec {
        config_map_name: Some(String::new()),
        deployment_name: Some("puller".into()),
        ..Default::default()
    };
    assert!(missing_defaults(&given).is_empty());
}
