//! How apply merges lists and maps: keyed lists, sets, atomic values, custom resources.

use serde_json::json;

use super::*;

fn pod_config(spec: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web"}, "spec": spec})
}

#[test]
fn keyed_lists_merge_per_element_and_atomic_values_are_replaced() {
    let rt = pods();
    let live = stored(json!({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "namespace": "ns"},
        "spec": {
            "containers": [{"name": "a", "image": "a:1", "args": ["1", "2"], "imagePullPolicy": "IfNotPresent",
                            "ports": [{"containerPort": 80, "protocol": "TCP"}]},
                           {"name": "b", "image": "b:1"}],
            "nodeSelector": {"disk": "ssd", "zone": "a"},
            "tolerations": [{"key": "x", "operator": "Exists"}]
        }
    }));
    let config = pod_config(json!({
        "containers": [{"name": "a", "image": "a:2", "args": ["3"], "ports": [{"containerPort": 80, "name": "http"}]},
                       {"name": "c", "image": "c:1"}],
        "nodeSelector": {"zone": "b"},
        "tolerations": [{"key": "y", "operator": "Exists"}]
    }));
    let out = apply_as(&rt, Some(&live), "kip", false, config).expect("apply");
    let spec = &out["spec"];
    assert_eq!(
        spec["containers"],
        json!([
            {"name": "a", "image": "a:2", "args": ["3"], "imagePullPolicy": "IfNotPresent",
             "ports": [{"containerPort": 80, "protocol": "TCP", "name": "http"}]},
            {"name": "b", "image": "b:1"},
            {"name": "c", "image": "c:1"}
        ]),
        "elements merge by name (ports by port and defaulted protocol); args are atomic"
    );
    assert_eq!(spec["nodeSelector"], json!({"zone": "b"}), "nodeSelector is an atomic map");
    assert_eq!(spec["tolerations"], json!([{"key": "y", "operator": "Exists"}]), "tolerations are atomic");
}

#[test]
fn sets_merge_by_value() {
    let rt = builtin("", "configmaps");
    let live = stored(json!({"apiVersion": "v1", "kind": "ConfigMap",
                             "metadata": {"name": "web", "namespace": "ns", "finalizers": ["a"]}}));
    let config =
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "web", "finalizers": ["b", "a"]}});
    let out = apply_as(&rt, Some(&live), "kip", false, config).expect("apply");
    assert_eq!(out["metadata"]["finalizers"], json!(["a", "b"]));
    let kip = entry(&out, "kip", "Apply").expect("entry");
    assert_eq!(kip["fieldsV1"], json!({"f:metadata": {"f:finalizers": {"v:\"a\"": {}, "v:\"b\"": {}}}}));
}

#[test]
fn dropping_an_element_removes_it_with_its_defaulted_fields() {
    let rt = pods();
    let two = pod_config(json!({"containers": [{"name": "a", "image": "a:1"}, {"name": "b", "image": "b:1"}]}));
    let mut live = stored(apply_as(&rt, None, "kip", false, two).expect("create"));
    live["spec"]["containers"][1]["terminationMessagePath"] = json!("/dev/termination-log");
    let one = pod_config(json!({"containers": [{"name": "a", "image": "a:1"}]}));
    let out = apply_as(&rt, Some(&live), "kip", false, one).expect("apply");
    assert_eq!(out["spec"]["containers"], json!([{"name": "a", "image": "a:1"}]));
}

#[test]
fn an_element_another_applier_owns_in_part_keeps_that_part() {
    let rt = pods();
    let both = pod_config(json!({"containers": [{"name": "a", "image": "a:1", "args": ["x"]}]}));
    let live = stored(apply_as(&rt, None, "kip", false, both).expect("create"));
    let image_only = pod_config(json!({"containers": [{"name": "a", "image": "a:1"}]}));
    let shared = apply_as(&rt, Some(&live), "other", false, image_only).expect("shared image");
    let none = pod_config(json!({"containers": []}));
    let out = apply_as(&rt, Some(&shared), "kip", false, none).expect("apply");
    assert_eq!(out["spec"]["containers"], json!([{"name": "a", "image": "a:1"}]), "args go, the shared image stays");
}

#[test]
fn invalid_keyed_lists_in_the_configuration_are_refused() {
    let rt = pods();
    let cases = [
        (
            json!({"containers": [{"image": "x"}]}),
            "failed to create typed patch object (ns/web; /v1, Kind=Pod): .spec.containers: element 0: associative list with keys has an element that omits key field \"name\" (and doesn't have default value)",
        ),
        (
            json!({"containers": [{"name": "a"}, {"name": "a"}]}),
            "failed to create typed patch object (ns/web; /v1, Kind=Pod): .spec.containers: duplicate entries for key [name=\"a\"]",
        ),
    ];
    for (spec, message) in cases {
        let err = apply_as(&rt, None, "kip", false, pod_config(spec)).expect_err("refused");
        assert_eq!((err.code, err.message.as_str()), (500, message));
    }
}

#[test]
fn custom_resources_merge_by_their_schema() {
    let rt = pullers();
    let config = |ports: Value, tags: Value, args: Value| {
        json!({"apiVersion": "che.eclipse.org/v1alpha1", "kind": "KubernetesImagePuller", "metadata": {"name": "web"},
               "spec": {"ports": ports, "tags": tags, "args": args}})
    };
    let live = stored(
        apply_as(
            &rt,
            None,
            "a",
            false,
            config(json!([{"port": 1}, {"port": 2, "protocol": "UDP"}]), json!(["x"]), json!(["1"])),
        )
        .expect("create"),
    );
    let out =
        apply_as(&rt, Some(&live), "b", true, config(json!([{"port": 1, "name": "one"}]), json!(["y"]), json!(["2"])))
            .expect("apply");
    assert_eq!(out["spec"]["ports"], json!([{"port": 1, "name": "one"}, {"port": 2, "protocol": "UDP"}]));
    assert_eq!(out["spec"]["tags"], json!(["x", "y"]));
    assert_eq!(out["spec"]["args"], json!(["2"]), "lists without a list type are atomic");
    let b = entry(&out, "b", "Apply").expect("entry");
    assert!(b["fieldsV1"]["f:spec"]["f:ports"].get("k:{\"port\":1,\"protocol\":\"TCP\"}").is_some());
    let a = entry(&out, "a", "Apply").expect("a keeps what it still owns");
    assert!(a["fieldsV1"]["f:spec"].get("f:args").is_none(), "forced away");
    assert!(a["fieldsV1"]["f:spec"]["f:ports"].get("k:{\"port\":2,\"protocol\":\"UDP\"}").is_some());
}
