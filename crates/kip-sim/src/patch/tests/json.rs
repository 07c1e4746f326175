use serde_json::json;

use super::*;

fn configmap() -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm", "namespace": "ns"},
           "data": {"a": "1", "b": "2"}})
}

#[test]
fn json_patch_applies_operations_in_order() {
    let rt = builtin("", "configmaps");
    let ops = json!([
        {"op": "test", "path": "/data/a", "value": "1"},
        {"op": "replace", "path": "/data/a", "value": "10"},
        {"op": "remove", "path": "/data/b"},
        {"op": "add", "path": "/data/c", "value": "3"},
        {"op": "copy", "from": "/data/c", "path": "/data/d"},
        {"op": "move", "from": "/data/d", "path": "/data/e"}
    ]);
    let out = run(&rt, &configmap(), PatchType::Json, ops).expect("patch applies");
    assert_eq!(out["data"], json!({"a": "10", "c": "3", "e": "3"}));
}

#[test]
fn json_patch_errors_carry_the_api_server_codes() {
    let rt = builtin("", "configmaps");
    let generic = "the server rejected our request due to an error in our request";
    // (case, body, code, reason, message)
    type Case<'a> = (&'a str, &'a [u8], u16, &'a str, Option<&'a str>);
    let cases: Vec<Case> = vec![
        ("malformed JSON", b"[{", 400, "BadRequest", None),
        ("not an array", br#"{"op":"add"}"#, 400, "BadRequest", None),
        ("failing test", br#"[{"op":"test","path":"/data/a","value":"2"}]"#, 422, "Invalid", Some(generic)),
        ("missing path", br#"[{"op":"remove","path":"/data/zzz"}]"#, 422, "Invalid", Some(generic)),
        (
            "replace of a missing path",
            br#"[{"op":"replace","path":"/spec/x","value":1}]"#,
            422,
            "Invalid",
            Some(generic),
        ),
        ("unknown op", br#"[{"op":"frobnicate","path":"/data/a"}]"#, 422, "Invalid", Some(generic)),
    ];
    for (case, patch_body, code, reason, message) in cases {
        let err =
            patch(&rt, Some(&configmap()), PatchType::Json, patch_body, &PatchOptions::default()).expect_err(case);
        assert_eq!((err.code, err.reason), (code, reason), "{case}");
        if let Some(message) = message {
            assert_eq!(err.message, message, "{case}");
        }
    }
}

#[test]
fn json_patch_refuses_more_than_ten_thousand_operations() {
    let rt = builtin("", "configmaps");
    let ops: Vec<Value> = (0..10_001).map(|_| json!({"op": "test", "path": "/data/a", "value": "1"})).collect();
    let err = run(&rt, &configmap(), PatchType::Json, Value::Array(ops)).expect_err("too many operations");
    assert_eq!(err.code, 413);
    assert!(err.message.contains("got 10001"), "{}", err.message);
}

#[test]
fn merge_patch_merges_maps_and_null_deletes() {
    let rt = builtin("", "configmaps");
    let out = run(
        &rt,
        &configmap(),
        PatchType::Merge,
        json!({"data": {"a": null, "c": "3"}, "metadata": {"labels": {"x": "y"}}}),
    )
    .expect("patch applies");
    assert_eq!(out["data"], json!({"b": "2", "c": "3"}));
    assert_eq!(out["metadata"]["labels"], json!({"x": "y"}));
}

#[test]
fn merge_patch_replaces_lists_whole() {
    let rt = pods();
    let pod = json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "a", "image": "x"}, {"name": "b", "image": "y"}]}});
    let out = run(&rt, &pod, PatchType::Merge, json!({"spec": {"containers": [{"name": "b", "image": "z"}]}}))
        .expect("patch applies");
    assert_eq!(out["spec"]["containers"], json!([{"name": "b", "image": "z"}]));
}

#[test]
fn merge_patch_with_a_bad_body_is_a_bad_request() {
    let rt = builtin("", "configmaps");
    for bad in [&b"{"[..], b"[1]", b"null", b"3"] {
        let err =
            patch(&rt, Some(&configmap()), PatchType::Merge, bad, &PatchOptions::default()).expect_err("bad body");
        assert_eq!((err.code, err.message.as_str()), (400, "Invalid JSON Patch"));
    }
}

#[test]
fn patching_a_missing_object_is_not_found() {
    let rt = builtin("", "configmaps");
    let options = PatchOptions { target: Some(ObjectKey::new("ns", "cm")), ..Default::default() };
    for patch_type in [PatchType::Json, PatchType::Merge, PatchType::StrategicMerge] {
        let err = patch(&rt, None, patch_type, b"{}", &options).expect_err("missing object");
        assert_eq!((err.code, err.message.as_str()), (404, "configmaps \"cm\" not found"));
    }
}

#[test]
fn force_is_refused_for_non_apply_patches() {
    let rt = builtin("", "configmaps");
    let options = PatchOptions { force: true, ..Default::default() };
    let err = patch(&rt, Some(&configmap()), PatchType::Merge, b"{}", &options).expect_err("force refused");
    assert_eq!(err.code, 422);
    assert_eq!(err.causes[0].field, "force");
    assert_eq!(err.causes[0].message, "Forbidden: may not be specified for non-apply patch");
}
