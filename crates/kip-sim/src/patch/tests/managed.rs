//! record_update: the fields of non-apply writes.

use serde_json::json;

use super::super::record_update;
use super::*;

fn configmap(data: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm", "namespace": "ns"}, "data": data})
}

fn fields(obj: &Value, manager: &str) -> Value {
    entry(obj, manager, "Update").map(|e| e["fieldsV1"].clone()).unwrap_or(Value::Null)
}

#[test]
fn a_create_records_every_field_it_set() {
    let rt = builtin("", "configmaps");
    let mut created = configmap(json!({"a": "1"}));
    created["metadata"]["labels"] = json!({"app": "x"});
    record_update(&rt, None, &mut created, "kubectl-create", None);
    assert_eq!(
        fields(&created, "kubectl-create"),
        json!({"f:data": {".": {}, "f:a": {}}, "f:metadata": {"f:labels": {".": {}, "f:app": {}}}})
    );
    let e = entry(&created, "kubectl-create", "Update").expect("entry");
    assert_eq!(e["apiVersion"], "v1");
    assert_eq!(e["fieldsType"], "FieldsV1");
}

#[test]
fn an_update_takes_the_fields_it_changes_from_other_managers() {
    let rt = builtin("", "configmaps");
    let mut first = configmap(json!({"a": "1", "b": "2"}));
    record_update(&rt, None, &mut first, "one", None);
    let mut second = first.clone();
    second["data"] = json!({"a": "10", "b": "2", "c": "3"});
    record_update(&rt, Some(&first), &mut second, "two", None);
    assert_eq!(fields(&second, "one"), json!({"f:data": {".": {}, "f:b": {}}}));
    assert_eq!(fields(&second, "two"), json!({"f:data": {"f:a": {}, "f:c": {}}}));
    let mut third = second.clone();
    third["data"] = json!({"a": "10", "c": "3"});
    record_update(&rt, Some(&second), &mut third, "two", None);
    assert_eq!(fields(&third, "one"), json!({"f:data": {}}), "removed fields leave everyone");
    let entries = third["metadata"]["managedFields"].as_array().map(Vec::len);
    assert_eq!(entries, Some(2), "one entry per manager");
}

#[test]
fn managers_left_with_nothing_are_dropped() {
    let rt = builtin("", "configmaps");
    let mut first = configmap(json!({"a": "1"}));
    record_update(&rt, None, &mut first, "one", None);
    let mut second = first.clone();
    second.as_object_mut().map(|o| o.remove("data"));
    record_update(&rt, Some(&first), &mut second, "two", None);
    assert!(entry(&second, "one", "Update").is_none());
    assert!(second["metadata"].get("managedFields").is_none(), "nobody owns anything");
}

#[test]
fn entries_are_kept_per_subresource() {
    let rt = deployments();
    let mut first = deployment_config("web:1");
    record_update(&rt, None, &mut first, "kip", None);
    let mut status = first.clone();
    status["status"] = json!({"replicas": 1});
    record_update(&rt, Some(&first), &mut status, "kip", Some("status"));
    let entries = status["metadata"]["managedFields"].as_array().cloned().unwrap_or_default();
    assert_eq!(entries.len(), 2);
    let status_entry = entries.iter().find(|e| e["subresource"] == "status").expect("status entry");
    assert_eq!(status_entry["fieldsV1"], json!({"f:status": {".": {}, "f:replicas": {}}}));
    let main = entries.iter().find(|e| e.get("subresource").is_none()).expect("main entry");
    assert!(main["fieldsV1"].get("f:status").is_none());
}

#[test]
fn an_unchanged_write_keeps_the_entry_as_it_was() {
    let rt = builtin("", "configmaps");
    let mut first = configmap(json!({"a": "1"}));
    record_update(&rt, None, &mut first, "one", None);
    first["metadata"]["managedFields"][0]["time"] = json!("2020-01-01T00:00:00Z");
    let mut same = first.clone();
    record_update(&rt, Some(&first), &mut same, "one", None);
    assert_eq!(same, first);
}

#[test]
fn an_empty_managed_fields_list_clears_the_record() {
    let rt = builtin("", "configmaps");
    let mut first = configmap(json!({"a": "1"}));
    record_update(&rt, None, &mut first, "one", None);
    let mut cleared = first.clone();
    cleared["metadata"]["managedFields"] = json!([]);
    cleared["data"]["b"] = json!("2");
    record_update(&rt, Some(&first), &mut cleared, "two", None);
    let entries = cleared["metadata"]["managedFields"].as_array().cloned().unwrap_or_default();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0]["manager"], "two");
}

#[test]
fn many_updaters_fold_into_ancient_changes() {
    let rt = builtin("", "configmaps");
    let mut obj = configmap(json!({}));
    for i in 0..12 {
        let before = obj.clone();
        obj["data"][format!("k{i}")] = json!("v");
        record_update(&rt, Some(&before), &mut obj, &format!("m{i:02}"), None);
        // Distinct, increasing times, so that the oldest are known.
        if let Some(list) = obj["metadata"]["managedFields"].as_array_mut() {
            for e in list.iter_mut().filter(|e| e["manager"] == format!("m{i:02}")) {
                e["time"] = json!(format!("2020-01-01T00:00:{i:02}Z"));
            }
        }
    }
    let entries = obj["metadata"]["managedFields"].as_array().cloned().unwrap_or_default();
    assert_eq!(entries.len(), 10);
    let ancient = entries.iter().find(|e| e["manager"] == "ancient-changes").expect("ancient-changes");
    assert_eq!(ancient["fieldsV1"]["f:data"].as_object().map(|d| d.len()), Some(3));
    assert!(entries.iter().all(|e| e["manager"] != "m00" && e["manager"] != "m01"));
}
