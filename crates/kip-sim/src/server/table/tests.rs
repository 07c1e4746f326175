use super::*;
use crate::resources::{Registry, custom_type_from_crd};

fn builtin(group: &str, plural: &str) -> ResourceType {
    Registry::new(false).lookup(group, "v1", plural).cloned().expect("served type")
}

fn names(builder: &TableBuilder) -> Vec<String> {
    builder.column_definitions().iter().map(|c| c["name"].as_str().unwrap_or("").to_string()).collect()
}

#[test]
fn daemonset_rows_have_the_kubectl_columns() {
    let builder = TableBuilder::new(&builtin("apps", "daemonsets"), IncludeObject::Metadata);
    assert_eq!(
        names(&builder)[..8],
        ["Name", "Desired", "Current", "Ready", "Up-to-date", "Available", "Node Selector", "Age"]
    );
    let ds = json!({
        "metadata": {"name": "puller", "namespace": "ns", "creationTimestamp": "2020-01-01T00:00:00Z"},
        "spec": {
            "selector": {"matchLabels": {"test": "daemonset-test"}},
            "template": {"spec": {"nodeSelector": {"b": "2", "a": "1"},
                                  "containers": [{"name": "c1", "image": "i1"}, {"name": "c2", "image": "i2"}]}}
        },
        "status": {"desiredNumberScheduled": 3, "currentNumberScheduled": 3, "numberReady": 2,
                   "updatedNumberScheduled": 3, "numberAvailable": 2}
    });
    let row = builder.row(&ds);
    let cells = row["cells"].as_array().expect("cells");
    assert_eq!(cells[..7], [json!("puller"), json!(3), json!(3), json!(2), json!(3), json!(2), json!("a=1,b=2")]);
    assert_eq!(cells[8..], [json!("c1,c2"), json!("i1,i2"), json!("test=daemonset-test")]);
    assert_eq!(row["object"]["kind"], "PartialObjectMetadata");
    assert_eq!(row["object"]["metadata"]["name"], "puller");
    assert!(row["object"].get("spec").is_none());
}

#[test]
fn pod_status_column_follows_container_states() {
    let builder = TableBuilder::new(&builtin("", "pods"), IncludeObject::None);
    let running = json!({"ready": true, "restartCount": 0, "state": {"running": {}}});
    let cases = [
        (json!({"phase": "Pending"}), None, "Pending", "0/1"),
        (json!({"phase": "Running", "containerStatuses": [running]}), None, "Running", "1/1"),
        (
            json!({"phase": "Pending", "containerStatuses": [{"ready": false, "state": {"waiting": {"reason": "ErrImagePull"}}}]}),
            None,
            "ErrImagePull",
            "0/1",
        ),
        (
            json!({"phase": "Pending", "initContainerStatuses": [{"state": {"waiting": {"reason": "PodInitializing"}}}]}),
            None,
            "Init:0/1",
            "0/1",
        ),
        (
            json!({"phase": "Failed", "containerStatuses": [{"ready": false, "state": {"terminated": {"exitCode": 2}}}]}),
            None,
            "ExitCode:2",
            "0/1",
        ),
        (
            json!({"phase": "Running", "containerStatuses": [running]}),
            Some("2020-01-01T00:00:00Z"),
            "Terminating",
            "1/1",
        ),
    ];
    for (status, deleting, want_status, want_ready) in cases {
        let pod = json!({
            "metadata": {"name": "p", "creationTimestamp": "2020-01-01T00:00:00Z", "deletionTimestamp": deleting},
            "spec": {"nodeName": "node-1", "initContainers": [{"name": "i"}], "containers": [{"name": "c"}]},
            "status": status,
        });
        let row = builder.row(&pod);
        assert_eq!(row["cells"][2], want_status, "{status}");
        assert_eq!(row["cells"][1], want_ready, "{status}");
        assert_eq!(row["cells"][6], "node-1");
        assert!(row.get("object").is_none(), "includeObject=None");
    }
}

#[test]
fn node_status_and_roles() {
    let builder = TableBuilder::new(&builtin("", "nodes"), IncludeObject::Object);
    let node = json!({
        "metadata": {"name": "n1", "labels": {"node-role.kubernetes.io/worker": "", "node-role.kubernetes.io/infra": ""}},
        "spec": {"unschedulable": true},
        "status": {"conditions": [{"type": "Ready", "status": "True"}], "nodeInfo": {"kubeletVersion": "v1.33.0"}}
    });
    let row = builder.row(&node);
    assert_eq!(
        row["cells"].as_array().expect("cells")[..3],
        [json!("n1"), json!("Ready,SchedulingDisabled"), json!("infra,worker")]
    );
    assert_eq!(row["cells"][4], "v1.33.0");
    assert_eq!(row["object"]["spec"]["unschedulable"], true, "includeObject=Object carries the object");
}

#[test]
fn custom_resources_use_printer_columns_with_filters() {
    let crd = json!({"spec": {
        "group": "che.eclipse.org", "scope": "Namespaced",
        "names": {"plural": "kubernetesimagepullers", "kind": "KubernetesImagePuller"},
        "versions": [{"name": "v1alpha1", "served": true, "storage": true, "additionalPrinterColumns": [
            {"name": "Ready", "type": "string", "jsonPath": ".status.conditions[?(@.type==\"Ready\")].status"},
            {"name": "Images", "type": "integer", "jsonPath": ".status.count", "priority": 1},
            {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}
        ]}]
    }});
    let rt = custom_type_from_crd(&crd).expect("crd");
    let builder = TableBuilder::new(&rt, IncludeObject::Metadata);
    assert_eq!(names(&builder), ["Name", "Ready", "Images", "Age"]);
    assert_eq!(builder.column_definitions()[2]["priority"], 1);
    let obj = json!({
        "metadata": {"name": "kip", "creationTimestamp": jiff::Timestamp::now().to_string()},
        "status": {"count": 4, "conditions": [{"type": "Progressing", "status": "False"}, {"type": "Ready", "status": "True"}]}
    });
    let cells = builder.row(&obj)["cells"].as_array().cloned().expect("cells");
    assert_eq!(cells[..3], [json!("kip"), json!("True"), json!(4)]);
    assert!(cells[3].as_str().is_some_and(|age| age.ends_with('s')), "{}", cells[3]);
    let missing = builder.row(&json!({"metadata": {"name": "new"}}));
    assert_eq!(missing["cells"][1], Value::Null, "no Ready condition yet");
}

#[test]
fn custom_resources_without_columns_get_age_and_others_get_created_at() {
    let crd = json!({"spec": {"group": "g.io", "names": {"plural": "things", "kind": "Thing"},
                              "versions": [{"name": "v1", "storage": true}]}});
    let builder = TableBuilder::new(&custom_type_from_crd(&crd).expect("crd"), IncludeObject::Metadata);
    assert_eq!(names(&builder), ["Name", "Age"]);
    let roles = TableBuilder::new(&builtin("rbac.authorization.k8s.io", "roles"), IncludeObject::Metadata);
    assert_eq!(names(&roles), ["Name", "Created At"]);
    let cm = TableBuilder::new(&builtin("", "configmaps"), IncludeObject::Metadata);
    assert_eq!(names(&cm), ["Name", "Data", "Age"]);
    let row = cm.row(&json!({"metadata": {"name": "c"}, "data": {"a": "1", "b": "2"}, "binaryData": {"c": ""}}));
    assert_eq!(row["cells"][1], 3);
}
