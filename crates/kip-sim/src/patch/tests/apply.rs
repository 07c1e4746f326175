use serde_json::json;

use super::*;

#[test]
fn apply_requires_a_field_manager() {
    let options = PatchOptions { target: Some(ObjectKey::new("ns", "web")), ..Default::default() };
    let err = patch(&deployments(), None, PatchType::Apply, &body(&deployment_config("web:1")), &options)
        .expect_err("manager required");
    assert_eq!((err.code, err.reason), (422, "Invalid"));
    assert_eq!(
        err.message,
        r#"PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch"#
    );
    assert_eq!(err.causes[0].field, "fieldManager");
    assert_eq!(err.causes[0].reason, "FieldValueRequired");
}

#[test]
fn apply_refuses_bodies_the_api_server_refuses() {
    let mut wrong_kind = deployment_config("web:1");
    wrong_kind["kind"] = json!("DaemonSet");
    let mut core_kind = deployment_config("web:1");
    core_kind["apiVersion"] = json!("v1");
    core_kind["kind"] = json!("Pod");
    let mut managed = deployment_config("web:1");
    managed["metadata"]["managedFields"] = json!([{"manager": "x"}]);
    let mut other_name = deployment_config("web:1");
    other_name["metadata"]["name"] = json!("other");
    let mut other_namespace = deployment_config("web:1");
    other_namespace["metadata"]["namespace"] = json!("elsewhere");
    let cases = [
        ("kind", wrong_kind, "invalid object type: apps/v1, Kind=DaemonSet"),
        ("core kind", core_kind, "invalid object type: /v1, Kind=Pod"),
        ("managedFields", managed, "metadata.managedFields must be nil"),
        ("name", other_name, "the name of the object (other) does not match the name on the URL (web)"),
        (
            "namespace",
            other_namespace,
            "the namespace of the provided object does not match the namespace sent on the request",
        ),
    ];
    for (case, config, message) in cases {
        let err = apply_as(&deployments(), None, "kip", false, config).expect_err(case);
        assert_eq!((err.code, err.message.as_str()), (400, message), "{case}");
    }
    let err = patch(&deployments(), None, PatchType::Apply, b"- a\n- b\n", &apply_options("kip", false))
        .expect_err("a YAML list is no object");
    assert_eq!(err.code, 400);
    assert!(err.message.starts_with("error decoding YAML"), "{}", err.message);
}

#[test]
fn apply_creates_a_missing_object_and_records_its_fields() {
    let mut config = deployment_config("web:1");
    config["metadata"].as_object_mut().map(|m| m.remove("namespace"));
    let created = apply_as(&deployments(), None, "kip", false, config).expect("apply creates");
    assert_eq!(created["metadata"]["namespace"], "ns", "the namespace comes from the URL");
    assert_eq!(created["spec"]["replicas"], 2);
    let entry = entry(&created, "kip", "Apply").expect("kip's entry");
    assert_eq!(entry["apiVersion"], "apps/v1");
    assert_eq!(entry["fieldsType"], "FieldsV1");
    assert!(entry["time"].as_str().is_some_and(|t| t.ends_with('Z')));
    assert!(entry.get("subresource").is_none());
    assert_eq!(
        entry["fieldsV1"],
        json!({
            "f:metadata": {"f:labels": {"f:app": {}}},
            "f:spec": {
                "f:replicas": {},
                "f:selector": {},
                "f:template": {
                    "f:metadata": {"f:labels": {"f:app": {}}},
                    "f:spec": {"f:containers": {"k:{\"name\":\"c\"}": {
                        ".": {},
                        "f:image": {},
                        "f:name": {},
                        "f:ports": {"k:{\"containerPort\":80,\"protocol\":\"TCP\"}": {".": {}, "f:containerPort": {}}}
                    }}}
                }
            }
        })
    );
}

#[test]
fn yaml_bodies_are_accepted() {
    let yaml = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web\ndata:\n  IMAGES: \"a=b\"\n";
    let created =
        patch(&builtin("", "configmaps"), None, PatchType::Apply, yaml.as_bytes(), &apply_options("kip", false))
            .expect("apply creates");
    assert_eq!(created["data"]["IMAGES"], "a=b");
    assert_eq!(created["metadata"]["namespace"], "ns");
}

#[test]
fn reapplying_the_same_configuration_changes_nothing() {
    let rt = deployments();
    let first = stored(apply_as(&rt, None, "kip", false, deployment_config("web:1")).expect("create"));
    let again = apply_as(&rt, Some(&first), "kip", false, deployment_config("web:1")).expect("re-apply");
    assert_eq!(again, first);
}

#[test]
fn fields_no_longer_applied_are_removed() {
    let rt = deployments();
    let first = stored(apply_as(&rt, None, "kip", false, deployment_config("web:1")).expect("create"));
    let mut smaller = deployment_config("web:1");
    smaller["spec"].as_object_mut().map(|s| s.remove("replicas"));
    smaller["metadata"].as_object_mut().map(|m| m.remove("labels"));
    let out = apply_as(&rt, Some(&first), "kip", false, smaller).expect("apply");
    assert!(out["spec"].get("replicas").is_none());
    assert!(out["metadata"].get("labels").is_none(), "an emptied map goes too");
    assert!(entry(&out, "kip", "Apply").is_some_and(|e| e["fieldsV1"]["f:spec"].get("f:replicas").is_none()));
}

#[test]
fn fields_another_applier_applies_are_kept() {
    let rt = deployments();
    let first = stored(apply_as(&rt, None, "kip", false, deployment_config("web:1")).expect("create"));
    let same_replicas =
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}, "spec": {"replicas": 2}});
    let shared = apply_as(&rt, Some(&first), "scaler", false, same_replicas).expect("same value: no conflict");
    let mut smaller = deployment_config("web:1");
    smaller["spec"].as_object_mut().map(|s| s.remove("replicas"));
    let out = apply_as(&rt, Some(&shared), "kip", false, smaller).expect("apply");
    assert_eq!(out["spec"]["replicas"], 2, "the scaler still applies replicas");
}

#[test]
fn fields_no_manager_applied_are_left_alone() {
    let rt = deployments();
    let mut first = stored(apply_as(&rt, None, "kip", false, deployment_config("web:1")).expect("create"));
    // Defaults the server filled in belong to nobody.
    first["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"] = json!("IfNotPresent");
    first["spec"]["progressDeadlineSeconds"] = json!(600);
    let out = apply_as(&rt, Some(&first), "kip", false, deployment_config("web:2")).expect("apply");
    assert_eq!(out["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"], "IfNotPresent");
    assert_eq!(out["spec"]["template"]["spec"]["containers"][0]["image"], "web:2");
    assert_eq!(out["spec"]["progressDeadlineSeconds"], 600);
}

/// The deployment after kip applied it and `kubectl-edit` changed the image and replicas.
fn edited_by_hand() -> Value {
    let rt = deployments();
    let first = stored(apply_as(&rt, None, "kip", false, deployment_config("web:1")).expect("create"));
    let mut edited = first.clone();
    edited["spec"]["template"]["spec"]["containers"][0]["image"] = json!("web:hand");
    edited["spec"]["replicas"] = json!(5);
    super::super::record_update(&rt, Some(&first), &mut edited, "kubectl-edit", None);
    edited
}

#[test]
fn changing_a_field_another_manager_owns_is_a_conflict() {
    let rt = deployments();
    let edited = edited_by_hand();
    let err = apply_as(&rt, Some(&edited), "kip", false, deployment_config("web:1")).expect_err("conflict");
    assert_eq!((err.code, err.reason), (409, "Conflict"));
    let fields: Vec<&str> = err.causes.iter().map(|c| c.field.as_str()).collect();
    assert_eq!(fields, [".spec.replicas", ".spec.template.spec.containers[name=\"c\"].image"]);
    for cause in &err.causes {
        assert_eq!(cause.reason, "FieldManagerConflict");
        assert_eq!(cause.message, "conflict with \"kubectl-edit\" using apps/v1");
    }
    assert_eq!(
        err.message,
        "Apply failed with 2 conflicts: conflicts with \"kubectl-edit\" using apps/v1:\n- .spec.replicas\n- .spec.template.spec.containers[name=\"c\"].image"
    );
    let mut one = deployment_config("web:1");
    one["spec"]["replicas"] = json!(5);
    let err = apply_as(&rt, Some(&edited), "kip", false, one).expect_err("one conflict");
    assert_eq!(
        err.message,
        "Apply failed with 1 conflict: conflict with \"kubectl-edit\" using apps/v1: .spec.template.spec.containers[name=\"c\"].image"
    );
}

#[test]
fn force_takes_ownership_of_conflicting_fields() {
    let rt = deployments();
    let edited = edited_by_hand();
    let out = apply_as(&rt, Some(&edited), "kip", true, deployment_config("web:1")).expect("forced");
    assert_eq!(out["spec"]["replicas"], 2);
    assert_eq!(out["spec"]["template"]["spec"]["containers"][0]["image"], "web:1");
    assert!(entry(&out, "kubectl-edit", "Update").is_none(), "the editor is left with nothing and dropped");
    let after = stored(out);
    let again = apply_as(&rt, Some(&after), "kip", false, deployment_config("web:1")).expect("no conflict any more");
    assert_eq!(again, after);
}

#[test]
fn applying_the_value_a_field_holds_shares_ownership() {
    let rt = deployments();
    let edited = edited_by_hand();
    let mut agreeing = deployment_config("web:hand");
    agreeing["spec"]["replicas"] = json!(5);
    let out = apply_as(&rt, Some(&edited), "kip", false, agreeing).expect("no conflict");
    let editor = entry(&out, "kubectl-edit", "Update").expect("the editor keeps its fields");
    assert!(editor["fieldsV1"]["f:spec"].get("f:replicas").is_some());
}

#[test]
fn apply_to_status_touches_only_status() {
    let rt = pullers();
    let mut options = apply_options("kip", false);
    let config = json!({"apiVersion": "che.eclipse.org/v1alpha1", "kind": "KubernetesImagePuller",
                        "metadata": {"name": "web"}, "spec": {"images": "a=b"}});
    let created = stored(apply_as(&rt, None, "kip", false, config).expect("create"));
    options.subresource = Some("status".into());
    let status = json!({"apiVersion": "che.eclipse.org/v1alpha1", "kind": "KubernetesImagePuller",
                        "metadata": {"name": "web", "labels": {"ignored": "yes"}},
                        "spec": {"images": "ignored"},
                        "status": {"conditions": [{"type": "Ready", "status": "True"}]}});
    let out = patch(&rt, Some(&created), PatchType::Apply, &body(&status), &options).expect("status apply");
    assert_eq!(out["spec"]["images"], "a=b");
    assert!(out["metadata"].get("labels").is_none());
    assert_eq!(out["status"]["conditions"][0]["status"], "True");
    let entries = out["metadata"]["managedFields"].as_array().cloned().unwrap_or_default();
    let status_entry = entries.iter().find(|e| e["subresource"] == "status").expect("status entry");
    assert_eq!(status_entry["operation"], "Apply");
    assert_eq!(
        status_entry["fieldsV1"],
        json!({"f:status": {"f:conditions": {"k:{\"type\":\"Ready\"}": {".": {}, "f:status": {}, "f:type": {}}}}})
    );
    let err = patch(&rt, None, PatchType::Apply, &body(&status), &options).expect_err("no create through status");
    assert_eq!(err.code, 404);
}

#[test]
fn main_apply_ignores_status_of_types_with_a_status_subresource() {
    let mut config = deployment_config("web:1");
    config["status"] = json!({"replicas": 7});
    let out = apply_as(&deployments(), None, "kip", false, config).expect("create");
    assert!(out.get("status").is_none());
    let kip = entry(&out, "kip", "Apply").expect("entry");
    assert!(kip["fieldsV1"].get("f:status").is_none());
}

#[test]
fn preconditions_in_the_configuration_are_checked() {
    let rt = deployments();
    let first = stored(apply_as(&rt, None, "kip", false, deployment_config("web:1")).expect("create"));
    let mut stale = deployment_config("web:1");
    stale["metadata"]["resourceVersion"] = json!("4");
    assert_eq!(apply_as(&rt, Some(&first), "kip", false, stale).expect_err("stale").code, 409);
    let mut other_uid = deployment_config("web:1");
    other_uid["metadata"]["uid"] = json!("uid-2");
    assert_eq!(apply_as(&rt, Some(&first), "kip", false, other_uid.clone()).expect_err("uid").code, 409);
    assert_eq!(apply_as(&rt, None, "kip", false, other_uid).expect_err("uid of nothing").code, 409);
}
