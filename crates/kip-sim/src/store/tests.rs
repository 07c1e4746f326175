use super::*;
use serde_json::json;

fn store_with_namespace(ns: &str) -> Store {
    let store = Store::new(StoreOptions::default());
    store
        .create(
            &GroupResource::core("namespaces"),
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}),
        )
        .expect("namespace");
    store
}

fn ds() -> GroupResource {
    GroupResource::new("apps", "daemonsets")
}

fn daemonset(name: &str, image: &str) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "DaemonSet",
        "metadata": {"name": name, "namespace": "ns"},
        "spec": {
            "selector": {"matchLabels": {"app": "a"}},
            "template": {"metadata": {"labels": {"app": "a"}}, "spec": {"containers": [{"name": "c", "image": image}]}}
        },
        "status": {"numberReady": 7}
    })
}

fn rv(obj: &Value) -> u64 {
    meta_str(obj, "resourceVersion").and_then(|s| s.parse().ok()).expect("resourceVersion")
}

#[test]
fn create_sets_server_owned_metadata_and_drops_client_status() {
    let store = store_with_namespace("ns");
    let created = store.create(&ds(), daemonset("a", "x")).expect("create");
    assert!(meta_str(&created, "uid").is_some_and(|u| u.len() == 36));
    assert!(meta_str(&created, "creationTimestamp").is_some_and(|t| t.ends_with('Z')));
    assert_eq!(created["metadata"]["generation"], 1);
    assert_eq!(rv(&created), store.current_resource_version());
    assert!(created.get("status").is_none(), "status is not settable on create");
}

#[test]
fn create_twice_is_already_exists() {
    let store = store_with_namespace("ns");
    store.create(&ds(), daemonset("a", "x")).expect("create");
    let err = store.create(&ds(), daemonset("a", "x")).expect_err("duplicate");
    assert_eq!((err.code, err.reason), (409, "AlreadyExists"));
}

#[test]
fn create_in_missing_namespace_is_not_found() {
    let store = store_with_namespace("ns");
    let mut obj = daemonset("a", "x");
    obj["metadata"]["namespace"] = json!("elsewhere");
    let err = store.create(&ds(), obj).expect_err("no namespace");
    assert_eq!(err.code, 404);
    assert!(err.message.contains("namespaces \"elsewhere\" not found"), "{}", err.message);
}

#[test]
fn generate_name_makes_a_unique_name() {
    let store = store_with_namespace("ns");
    let mut obj = daemonset("", "x");
    obj["metadata"] = json!({"generateName": "puller-", "namespace": "ns"});
    let a = store.create(&ds(), obj.clone()).expect("a");
    let b = store.create(&ds(), obj).expect("b");
    let (na, nb) = (meta_str(&a, "name").unwrap_or(""), meta_str(&b, "name").unwrap_or(""));
    assert!(na.starts_with("puller-") && na.len() == "puller-".len() + 5, "{na}");
    assert_ne!(na, nb);
}

#[test]
fn unchanged_update_is_a_no_op() {
    let store = store_with_namespace("ns");
    let created = store.create(&ds(), daemonset("a", "x")).expect("create");
    let mut events = store.subscribe();
    let again = store.update(&ds(), (*created).clone(), Part::Main).expect("update");
    assert_eq!(rv(&again), rv(&created));
    assert!(events.try_recv().is_err(), "no event for a no-op write");
}

#[test]
fn generation_bumps_only_on_spec_change() {
    let store = store_with_namespace("ns");
    let created = store.create(&ds(), daemonset("a", "x")).expect("create");
    let mut labelled = (*created).clone();
    labelled["metadata"]["labels"] = json!({"k": "v"});
    let labelled = store.update(&ds(), labelled, Part::Main).expect("label");
    assert_eq!(labelled["metadata"]["generation"], 1);
    assert!(rv(&labelled) > rv(&created));
    let mut changed = (*labelled).clone();
    changed["spec"]["template"]["spec"]["containers"][0]["image"] = json!("y");
    let changed = store.update(&ds(), changed, Part::Main).expect("spec");
    assert_eq!(changed["metadata"]["generation"], 2);
}

#[test]
fn stale_resource_version_conflicts() {
    let store = store_with_namespace("ns");
    let created = store.create(&ds(), daemonset("a", "x")).expect("create");
    let mut first = (*created).clone();
    first["spec"]["template"]["spec"]["containers"][0]["image"] = json!("y");
    store.update(&ds(), first, Part::Main).expect("first writer");
    let mut second = (*created).clone();
    second["spec"]["template"]["spec"]["containers"][0]["image"] = json!("z");
    let err = store.update(&ds(), second, Part::Main).expect_err("second writer is stale");
    assert_eq!((err.code, err.reason), (409, "Conflict"));
}

#[test]
fn main_and_status_writes_touch_only_their_part() {
    let store = store_with_namespace("ns");
    let created = store.create(&ds(), daemonset("a", "x")).expect("create");
    let mut status_write = (*created).clone();
    status_write["status"] = json!({"numberReady": 3});
    status_write["spec"]["template"]["spec"]["containers"][0]["image"] = json!("ignored");
    let after_status = store.update(&ds(), status_write, Part::Status).expect("status");
    assert_eq!(after_status["status"]["numberReady"], 3);
    assert_eq!(after_status["spec"]["template"]["spec"]["containers"][0]["image"], "x");
    assert_eq!(after_status["metadata"]["generation"], 1);

    let mut main_write = (*after_status).clone();
    main_write["status"] = json!({"numberReady": 99});
    main_write["spec"]["template"]["spec"]["containers"][0]["image"] = json!("y");
    let after_main = store.update(&ds(), main_write, Part::Main).expect("main");
    assert_eq!(after_main["status"]["numberReady"], 3, "a main write keeps the stored status");
    assert_eq!(after_main["spec"]["template"]["spec"]["containers"][0]["image"], "y");
}

#[test]
fn finalizers_hold_deletion_until_removed() {
    let store = store_with_namespace("ns");
    let mut obj = daemonset("a", "x");
    obj["metadata"]["finalizers"] = json!(["example.com/hold"]);
    store.create(&ds(), obj).expect("create");
    let key = ObjectKey::new("ns", "a");
    let deleted = store.delete(&ds(), &key, &DeleteOptions::default()).expect("delete");
    let Deleted::Terminating(obj) = deleted else { panic!("finalizer must hold the object") };
    assert!(is_terminating(&obj));
    assert!(store.get(&ds(), &key).is_some());
    let mut events = store.subscribe();
    store
        .modify(&ds(), &key, Part::Main, |o| {
            remove_finalizer(o, "example.com/hold");
            Ok(())
        })
        .expect("remove finalizer");
    assert!(store.get(&ds(), &key).is_none(), "gone with its last finalizer");
    let event = events.try_recv().expect("event");
    assert_eq!(event.event_type, EventType::Deleted);
}

#[test]
fn orphan_and_foreground_add_their_finalizers() {
    let store = store_with_namespace("ns");
    store.create(&ds(), daemonset("a", "x")).expect("a");
    store.create(&ds(), daemonset("b", "x")).expect("b");
    let orphan = DeleteOptions { propagation: Some(Propagation::Orphan), ..Default::default() };
    let Deleted::Terminating(a) = store.delete(&ds(), &ObjectKey::new("ns", "a"), &orphan).expect("a") else {
        panic!("orphan deletion waits for the garbage collector")
    };
    assert_eq!(finalizers(&a), vec![FINALIZER_ORPHAN]);
    let fg = DeleteOptions { propagation: Some(Propagation::Foreground), ..Default::default() };
    let Deleted::Terminating(b) = store.delete(&ds(), &ObjectKey::new("ns", "b"), &fg).expect("b") else {
        panic!("foreground deletion waits for dependents")
    };
    assert_eq!(finalizers(&b), vec![FINALIZER_FOREGROUND]);
}

#[test]
fn bound_pods_wait_for_the_kubelet() {
    let store = store_with_namespace("ns");
    let pods = GroupResource::core("pods");
    let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "ns"},
                     "spec": {"nodeName": "node-1", "terminationGracePeriodSeconds": 5, "containers": [{"name": "c", "image": "x"}]}});
    store.create(&pods, pod).expect("pod");
    let key = ObjectKey::new("ns", "p");
    let Deleted::Terminating(p) = store.delete(&pods, &key, &DeleteOptions::default()).expect("delete") else {
        panic!("a bound pod is deleted gracefully")
    };
    assert_eq!(p["metadata"]["deletionGracePeriodSeconds"], 5);
    let final_status = store.modify(&pods, &key, Part::Status, |o| {
        o["status"] =
            json!({"phase": "Running", "containerStatuses": [{"name": "c", "state": {"terminated": {"exitCode": 0}}}]});
        Ok(())
    });
    assert!(final_status.is_ok() && store.get(&pods, &key).is_some(), "a write within the grace period is no deletion");
    let now = DeleteOptions { grace_period_seconds: Some(0), ..Default::default() };
    assert!(matches!(store.delete(&pods, &key, &now).expect("force"), Deleted::Gone(_)));
}

#[test]
fn watch_replays_after_a_version_and_expires_old_ones() {
    let store = Store::new(StoreOptions { history_limit: 3, ..Default::default() });
    let ns = GroupResource::core("namespaces");
    let mut versions = Vec::new();
    for i in 0..5 {
        let obj = store.create(&ns, json!({"metadata": {"name": format!("n{i}")}})).expect("create");
        versions.push(rv(&obj));
    }
    let watch = store.watch_from(versions[2]).expect("recent version");
    let replayed: Vec<u64> = watch.replay.iter().map(|e| e.resource_version).collect();
    assert_eq!(replayed, vec![versions[3], versions[4]]);
    let err = store.watch_from(versions[0]).err().expect("too old");
    assert_eq!(err.code, 410);
}

#[test]
fn list_is_ordered_and_scoped_to_the_namespace() {
    let store = store_with_namespace("ns");
    store.create(&GroupResource::core("namespaces"), json!({"metadata": {"name": "other"}})).expect("ns");
    for (ns, name) in [("ns", "b"), ("ns", "a"), ("other", "c")] {
        let mut obj = daemonset(name, "x");
        obj["metadata"]["namespace"] = json!(ns);
        store.create(&ds(), obj).expect("create");
    }
    let names = |objs: Vec<Arc<Value>>| -> Vec<String> {
        objs.iter().map(|o| meta_str(o, "name").unwrap_or("").to_string()).collect()
    };
    assert_eq!(names(store.list(&ds(), Some("ns")).0), vec!["a", "b"]);
    assert_eq!(names(store.list(&ds(), None).0), vec!["a", "b", "c"]);
}

#[test]
fn ownership_changes_are_writes_but_manager_times_are_not() {
    let store = store_with_namespace("ns");
    let mut obj = daemonset("a", "x");
    obj["metadata"]["managedFields"] =
        json!([{"manager": "kip", "operation": "Apply", "time": "2026-01-01T00:00:00Z"}]);
    let created = store.create(&ds(), obj).expect("create");
    let mut later = (*created).clone();
    later["metadata"]["managedFields"][0]["time"] = json!("2026-01-02T00:00:00Z");
    assert_eq!(rv(&store.update(&ds(), later, Part::Main).expect("same")), rv(&created), "only a time changed");
    let mut shared = (*created).clone();
    shared["metadata"]["managedFields"]
        .as_array_mut()
        .expect("list")
        .push(json!({"manager": "other", "operation": "Apply", "time": "2026-01-02T00:00:00Z"}));
    assert!(rv(&store.update(&ds(), shared, Part::Main).expect("co-owner")) > rv(&created), "a new owner is a change");
}

#[test]
fn status_writes_keep_their_managed_fields() {
    let store = store_with_namespace("ns");
    let created = store.create(&ds(), daemonset("a", "x")).expect("create");
    let mut status_write = (*created).clone();
    status_write["status"] = json!({"numberReady": 1});
    status_write["metadata"]["managedFields"] =
        json!([{"manager": "ds-controller", "operation": "Update", "subresource": "status"}]);
    let written = store.update(&ds(), status_write, Part::Status).expect("status");
    assert_eq!(written["metadata"]["managedFields"][0]["manager"], "ds-controller");
}
