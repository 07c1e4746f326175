use serde_json::json;

use super::*;

fn pod() -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "p", "namespace": "ns", "finalizers": ["a", "b"],
                     "ownerReferences": [{"uid": "u1", "name": "one", "kind": "ReplicaSet", "apiVersion": "apps/v1"}]},
        "spec": {
            "containers": [
                {"name": "a", "image": "a:1", "args": ["x", "y"],
                 "env": [{"name": "E1", "value": "1"}, {"name": "E2", "value": "2"}],
                 "ports": [{"containerPort": 80, "protocol": "TCP"}],
                 "volumeMounts": [{"name": "v", "mountPath": "/v"}]},
                {"name": "b", "image": "b:1"}
            ],
            "volumes": [{"name": "v", "emptyDir": {}}],
            "tolerations": [{"key": "k1", "operator": "Exists"}],
            "nodeSelector": {"disk": "ssd"}
        },
        "status": {"conditions": [{"type": "Ready", "status": "False"}, {"type": "Initialized", "status": "True"}]}
    })
}

fn smp(original: &Value, patch_body: Value) -> Result<Value, ApiError> {
    run(&pods(), original, PatchType::StrategicMerge, patch_body)
}

#[test]
fn keyed_lists_merge_by_their_patch_merge_key() {
    let cases = [
        (
            "containers by name",
            json!({"spec": {"containers": [{"name": "b", "image": "b:2"}, {"name": "c", "image": "c:1"}]}}),
            "/spec/containers",
            json!([pod()["spec"]["containers"][0], {"name": "b", "image": "b:2"}, {"name": "c", "image": "c:1"}]),
        ),
        (
            "env by name",
            json!({"spec": {"containers": [{"name": "a", "env": [{"name": "E2", "value": "two"}]}]}}),
            "/spec/containers/0/env",
            json!([{"name": "E1", "value": "1"}, {"name": "E2", "value": "two"}]),
        ),
        (
            "ports by containerPort",
            json!({"spec": {"containers": [{"name": "a", "ports": [{"containerPort": 80, "name": "http"}, {"containerPort": 81}]}]}}),
            "/spec/containers/0/ports",
            json!([{"containerPort": 80, "protocol": "TCP", "name": "http"}, {"containerPort": 81}]),
        ),
        (
            "volumeMounts by mountPath",
            json!({"spec": {"containers": [{"name": "a", "volumeMounts": [{"mountPath": "/w", "name": "w"}]}]}}),
            "/spec/containers/0/volumeMounts",
            json!([{"name": "v", "mountPath": "/v"}, {"name": "w", "mountPath": "/w"}]),
        ),
        (
            "volumes by name",
            json!({"spec": {"volumes": [{"name": "w", "configMap": {"name": "cm"}}]}}),
            "/spec/volumes",
            json!([{"name": "v", "emptyDir": {}}, {"name": "w", "configMap": {"name": "cm"}}]),
        ),
        (
            "ownerReferences by uid",
            json!({"metadata": {"ownerReferences": [{"uid": "u2", "name": "two"}]}}),
            "/metadata/ownerReferences",
            json!([pod()["metadata"]["ownerReferences"][0], {"uid": "u2", "name": "two"}]),
        ),
        (
            "status conditions by type",
            json!({"status": {"conditions": [{"type": "Ready", "status": "True"}]}}),
            "/status/conditions",
            json!([{"type": "Ready", "status": "True"}, {"type": "Initialized", "status": "True"}]),
        ),
        (
            "finalizers as a set of primitives",
            json!({"metadata": {"finalizers": ["b", "c"]}}),
            "/metadata/finalizers",
            json!(["a", "b", "c"]),
        ),
    ];
    for (case, patch_body, pointer, expected) in cases {
        let out = smp(&pod(), patch_body).expect(case);
        assert_eq!(out.pointer(pointer), Some(&expected), "{case}");
    }
}

#[test]
fn lists_without_a_strategy_are_replaced_whole() {
    let cases = [
        ("tolerations", json!({"spec": {"tolerations": [{"key": "k2", "operator": "Exists"}]}}), "/spec/tolerations"),
        ("args", json!({"spec": {"containers": [{"name": "a", "args": ["z"]}]}}), "/spec/containers/0/args"),
    ];
    for (case, patch_body, pointer) in cases {
        let out = smp(&pod(), patch_body.clone()).expect(case);
        let sent = match case {
            "args" => json!(["z"]),
            _ => patch_body["spec"]["tolerations"].clone(),
        };
        assert_eq!(out.pointer(pointer), Some(&sent), "{case}");
    }
}

#[test]
fn null_deletes_a_key_and_maps_merge() {
    let out = smp(&pod(), json!({"spec": {"nodeSelector": {"disk": null, "zone": "a"}, "tolerations": null}}))
        .expect("patch applies");
    assert_eq!(out["spec"]["nodeSelector"], json!({"zone": "a"}));
    assert!(out["spec"].get("tolerations").is_none());
}

#[test]
fn patch_directives() {
    let cases = [
        (
            "$patch: replace on a map",
            json!({"spec": {"nodeSelector": {"$patch": "replace", "zone": "a"}}}),
            "/spec/nodeSelector",
            json!({"zone": "a"}),
        ),
        (
            "$patch: merge on a map",
            json!({"spec": {"nodeSelector": {"$patch": "merge", "zone": "a"}}}),
            "/spec/nodeSelector",
            json!({"disk": "ssd", "zone": "a"}),
        ),
        (
            "$patch: delete on a map",
            json!({"spec": {"nodeSelector": {"$patch": "delete"}}}),
            "/spec/nodeSelector",
            json!({}),
        ),
        (
            "$patch: delete on a list element",
            json!({"spec": {"containers": [{"name": "a", "$patch": "delete"}]}}),
            "/spec/containers",
            json!([{"name": "b", "image": "b:1"}]),
        ),
        (
            "$patch: replace in a list",
            json!({"spec": {"containers": [{"$patch": "replace"}, {"name": "z", "image": "z:1"}]}}),
            "/spec/containers",
            json!([{"name": "z", "image": "z:1"}]),
        ),
        (
            "$deleteFromPrimitiveList",
            json!({"metadata": {"$deleteFromPrimitiveList/finalizers": ["a"]}}),
            "/metadata/finalizers",
            json!(["b"]),
        ),
        (
            "$setElementOrder",
            json!({"spec": {"$setElementOrder/containers": [{"name": "b"}, {"name": "a"}]}}),
            "/spec/containers",
            json!([pod()["spec"]["containers"][1], pod()["spec"]["containers"][0]]),
        ),
        (
            "$retainKeys",
            json!({"spec": {"volumes": [{"name": "v", "$retainKeys": ["name", "hostPath"], "hostPath": {"path": "/h"}}]}}),
            "/spec/volumes",
            json!([{"name": "v", "hostPath": {"path": "/h"}}]),
        ),
    ];
    for (case, patch_body, pointer, expected) in cases {
        let out = smp(&pod(), patch_body).expect(case);
        assert_eq!(out.pointer(pointer), Some(&expected), "{case}");
    }
}

#[test]
fn set_element_order_keeps_server_only_elements_after_their_predecessor() {
    let mut original = pod();
    original["spec"]["containers"] = json!([{"name": "a"}, {"name": "s"}, {"name": "b"}]);
    let out = smp(&original, json!({"spec": {"$setElementOrder/containers": [{"name": "b"}, {"name": "a"}]}}))
        .expect("patch applies");
    assert_eq!(out["spec"]["containers"], json!([{"name": "b"}, {"name": "a"}, {"name": "s"}]));
}

#[test]
fn bad_directives_and_elements_carry_the_api_server_codes() {
    let cases = [
        ("body not an object", json!([1]), 400),
        ("retainKeys not a list", json!({"spec": {"$retainKeys": "x"}}), 400),
        ("content outside retainKeys", json!({"spec": {"$retainKeys": ["a"], "b": 1}}), 422),
        ("deleteFromPrimitiveList not a list", json!({"metadata": {"$deleteFromPrimitiveList/finalizers": "a"}}), 400),
        ("setElementOrder not a list", json!({"spec": {"$setElementOrder/containers": {}}}), 400),
        ("element without its merge key", json!({"spec": {"containers": [{"image": "x"}]}}), 500),
        ("unknown $patch", json!({"spec": {"$patch": "explode"}}), 500),
    ];
    for (case, patch_body, code) in cases {
        let err = smp(&pod(), patch_body).expect_err(case);
        assert_eq!(err.code, code, "{case}: {}", err.message);
    }
    let err = smp(&pod(), json!({"spec": {"containers": [{"image": "x"}]}})).expect_err("no merge key");
    assert_eq!(err.message, r#"map: {"image":"x"} does not contain declared merge key: name"#);
}

#[test]
fn workload_templates_merge_containers_by_name() {
    let rt = deployments();
    let current = deployment_config("web:1");
    let out = run(
        &rt,
        &current,
        PatchType::StrategicMerge,
        json!({"spec": {"template": {"spec": {"containers": [{"name": "side", "image": "s:1"}]}}}}),
    )
    .expect("patch applies");
    let names: Vec<&str> = out["spec"]["template"]["spec"]["containers"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["name"].as_str())
        .collect();
    assert_eq!(names, ["c", "side"]);
}

#[test]
fn custom_resources_do_not_support_strategic_merge() {
    let rt = pullers();
    let err = run(&rt, &json!({"metadata": {"name": "x"}}), PatchType::StrategicMerge, json!({})).expect_err("415");
    assert_eq!((err.code, err.reason), (415, "UnsupportedMediaType"));
    assert!(err.message.contains("application/merge-patch+json"), "{}", err.message);
}
