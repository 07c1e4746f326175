//! kube-rs `Api` against the simulator over HTTP: typed CRUD and the errors clients rely on.

// Helpers here are test code: a failure is a test failure.
#![allow(clippy::expect_used)]

mod common;

use common::*;
use either::Either;
use k8s_openapi::api::apps::v1::{DaemonSet, DaemonSetSpec, DaemonSetStatus};
use k8s_openapi::api::core::v1::{ConfigMap, Container, Namespace, Pod, PodSpec, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::api::{Api, DeleteParams, ListParams, ObjectMeta, PostParams};
use serde_json::json;

fn daemonset(name: &str) -> DaemonSet {
    let labels: std::collections::BTreeMap<String, String> =
        [("test".to_string(), "daemonset-test".to_string())].into();
    DaemonSet {
        metadata: ObjectMeta { name: Some(name.into()), ..ObjectMeta::default() },
        spec: Some(DaemonSetSpec {
            selector: LabelSelector { match_labels: Some(labels.clone()), ..LabelSelector::default() },
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta { labels: Some(labels), ..ObjectMeta::default() }),
                spec: Some(PodSpec {
                    containers: vec![Container {
                        name: "c".into(),
                        image: Some("busybox".into()),
                        ..Container::default()
                    }],
                    ..PodSpec::default()
                }),
            },
            ..DaemonSetSpec::default()
        }),
        status: None,
    }
}

#[tokio::test]
async fn config_map_create_get_replace_delete() {
    let sim = start();
    let api: Api<ConfigMap> = Api::default_namespaced(sim.client().expect("client"));
    let created = api.create(&PostParams::default(), &config_map("a", &[])).await.expect("create");
    assert_eq!(created.metadata.namespace.as_deref(), Some("default"), "namespace filled from the URL");
    assert!(created.metadata.uid.is_some() && created.metadata.resource_version.is_some());
    let mut fetched = api.get("a").await.expect("get");
    assert_eq!(fetched.data, created.data);
    fetched.data = Some([("key".to_string(), "changed".to_string())].into());
    let replaced = api.replace("a", &PostParams::default(), &fetched).await.expect("replace");
    assert_eq!(replaced.data.as_ref().and_then(|d| d.get("key")).map(String::as_str), Some("changed"));
    assert_ne!(replaced.metadata.resource_version, created.metadata.resource_version);
    // A config map is gone at once: the API server answers with a Success Status naming it.
    match api.delete("a", &DeleteParams::default()).await.expect("delete") {
        Either::Right(status) => {
            assert_eq!(status.details.as_ref().map(|d| d.name.as_str()), Some("a"));
            assert_eq!(status.details.as_ref().map(|d| d.kind.as_str()), Some("configmaps"));
        }
        Either::Left(cm) => panic!("expected a Status, got the object {cm:?}"),
    }
    assert_eq!(api_error(api.get("a").await.expect_err("gone")).0, 404);
}

#[tokio::test]
async fn pods_return_the_deleted_object() {
    let sim = start();
    let api: Api<Pod> = Api::default_namespaced(sim.client().expect("client"));
    let pod = Pod {
        metadata: ObjectMeta { name: Some("p".into()), ..ObjectMeta::default() },
        spec: Some(PodSpec {
            containers: vec![Container { name: "c".into(), image: Some("busybox".into()), ..Container::default() }],
            ..PodSpec::default()
        }),
        status: None,
    };
    api.create(&PostParams::default(), &pod).await.expect("create");
    let deleted = api.delete("p", &DeleteParams::default()).await.expect("delete");
    assert!(matches!(deleted, Either::Left(ref p) if p.metadata.name.as_deref() == Some("p")), "{deleted:?}");
}

#[tokio::test]
async fn daemon_set_status_is_a_separate_subresource() {
    let sim = start();
    let api: Api<DaemonSet> = Api::default_namespaced(sim.client().expect("client"));
    let created = api.create(&PostParams::default(), &daemonset("ds")).await.expect("create");
    assert_eq!(created.metadata.generation, Some(1));
    // A status write changes only status.
    let mut with_status = created.clone();
    with_status.status = Some(DaemonSetStatus { number_ready: 2, desired_number_scheduled: 3, ..Default::default() });
    with_status.spec.as_mut().expect("spec").min_ready_seconds = Some(99);
    let after_status = api.replace_status("ds", &PostParams::default(), &with_status).await.expect("status");
    assert_eq!(after_status.status.as_ref().map(|s| s.number_ready), Some(2));
    assert_eq!(after_status.spec.as_ref().and_then(|s| s.min_ready_seconds), None, "spec unchanged by /status");
    assert_eq!(after_status.metadata.generation, Some(1));
    // A main write keeps the stored status and bumps the generation for a spec change.
    let mut main = after_status.clone();
    main.status = Some(DaemonSetStatus { number_ready: 0, ..Default::default() });
    main.spec.as_mut().expect("spec").min_ready_seconds = Some(5);
    let after_main = api.replace("ds", &PostParams::default(), &main).await.expect("replace");
    assert_eq!(after_main.status.as_ref().map(|s| s.number_ready), Some(2), "status kept");
    assert_eq!(after_main.metadata.generation, Some(2));
    let status_only = api.get_status("ds").await.expect("get status");
    assert_eq!(status_only.metadata.name.as_deref(), Some("ds"));
}

#[tokio::test]
async fn namespaces_are_cluster_scoped() {
    let sim = start();
    let api: Api<Namespace> = Api::all(sim.client().expect("client"));
    let names: Vec<String> = api
        .list(&ListParams::default())
        .await
        .expect("list")
        .items
        .into_iter()
        .filter_map(|n| n.metadata.name)
        .collect();
    assert_eq!(names, ["default", "kube-node-lease", "kube-public", "kube-system"]);
    let ns = Namespace {
        metadata: ObjectMeta { name: Some("k8s-image-puller".into()), ..ObjectMeta::default() },
        ..Namespace::default()
    };
    api.create(&PostParams::default(), &ns).await.expect("create");
    let cms: Api<ConfigMap> = Api::namespaced(sim.client().expect("client"), "k8s-image-puller");
    cms.create(&PostParams::default(), &config_map("c", &[])).await.expect("create in the new namespace");
    assert!(api.get("k8s-image-puller").await.expect("get").metadata.namespace.is_none());
    api.delete("k8s-image-puller", &DeleteParams::default()).await.expect("delete");
}

#[tokio::test]
async fn conflicts_not_found_and_invalid_are_status_errors() {
    let sim = start();
    let api: Api<ConfigMap> = Api::default_namespaced(sim.client().expect("client"));
    let first = api.create(&PostParams::default(), &config_map("c", &[])).await.expect("create");
    // AlreadyExists
    let (code, reason, _) =
        api_error(api.create(&PostParams::default(), &config_map("c", &[])).await.expect_err("dup"));
    assert_eq!((code, reason.as_str()), (409, "AlreadyExists"));
    // Optimistic concurrency: a write from a stale copy conflicts.
    let mut newer = first.clone();
    newer.data = Some([("k".to_string(), "1".to_string())].into());
    api.replace("c", &PostParams::default(), &newer).await.expect("first writer");
    let mut stale = first.clone();
    stale.data = Some([("k".to_string(), "2".to_string())].into());
    let (code, reason, status) = api_error(api.replace("c", &PostParams::default(), &stale).await.expect_err("stale"));
    assert_eq!((code, reason.as_str()), (409, "Conflict"));
    assert!(status.message.contains("the object has been modified"), "{}", status.message);
    // NotFound names the resource.
    let (code, reason, status) = api_error(api.get("missing").await.expect_err("missing"));
    assert_eq!((code, reason.as_str()), (404, "NotFound"));
    assert_eq!(status.message, "configmaps \"missing\" not found");
    // Invalid: no name and no generateName; the causes say which field.
    let nameless = ConfigMap::default();
    let (code, reason, status) = api_error(api.create(&PostParams::default(), &nameless).await.expect_err("invalid"));
    assert_eq!((code, reason.as_str()), (422, "Invalid"));
    let causes = status.details.expect("details").causes;
    assert_eq!(causes[0].field, "metadata.name");
    assert_eq!(causes[0].reason, "FieldValueRequired");
}

#[tokio::test]
async fn body_and_url_must_agree() {
    let sim = start();
    let client = client_without_retries(&sim);
    let other_ns =
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "kube-system"}});
    let body = serde_json::to_vec(&other_ns).expect("json");
    let answer = raw(&client, http::Method::POST, "/api/v1/namespaces/default/configmaps", &[], &body).await;
    assert_eq!(answer.status, 400, "{}", answer.json());
    assert!(answer.json()["message"].as_str().unwrap_or("").contains("does not match the namespace"));
    let api: Api<ConfigMap> = Api::default_namespaced(sim.client().expect("client"));
    api.create(&PostParams::default(), &config_map("c", &[])).await.expect("create");
    let renamed = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "d"}});
    let body = serde_json::to_vec(&renamed).expect("json");
    let answer = raw(&client, http::Method::PUT, "/api/v1/namespaces/default/configmaps/c", &[], &body).await;
    assert_eq!(answer.status, 400);
    assert_eq!(answer.json()["message"], "the name of the object (d) does not match the name on the URL (c)");
    let wrong_kind = json!({"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "e"}});
    let body = serde_json::to_vec(&wrong_kind).expect("json");
    let answer = raw(&client, http::Method::POST, "/api/v1/namespaces/default/configmaps", &[], &body).await;
    assert_eq!(answer.status, 400);
}

#[tokio::test]
async fn delete_collection_honours_the_label_selector() {
    let sim = start();
    let api: Api<ConfigMap> = Api::default_namespaced(sim.client().expect("client"));
    for (name, labels) in [("a", &[("app", "kip")][..]), ("b", &[("app", "kip")][..]), ("c", &[][..])] {
        api.create(&PostParams::default(), &config_map(name, labels)).await.expect("create");
    }
    let deleted = api
        .delete_collection(&DeleteParams::default(), &ListParams::default().labels("app=kip"))
        .await
        .expect("deletecollection");
    let Either::Left(list) = deleted else { panic!("expected the deleted objects") };
    let mut names: Vec<String> = list.items.into_iter().filter_map(|c| c.metadata.name).collect();
    names.sort();
    assert_eq!(names, ["a", "b"]);
    let left: Vec<String> = api
        .list(&ListParams::default())
        .await
        .expect("list")
        .items
        .into_iter()
        .filter_map(|c| c.metadata.name)
        .collect();
    assert_eq!(left, ["c"]);
    assert_eq!(sim.stats().count("configmaps", "deletecollection"), 1);
}

#[tokio::test]
async fn dry_run_create_stores_nothing() {
    let sim = start();
    let api: Api<ConfigMap> = Api::default_namespaced(sim.client().expect("client"));
    let params = PostParams { dry_run: true, ..PostParams::default() };
    let answered = api.create(&params, &config_map("dry", &[])).await.expect("dry run");
    assert_eq!(answered.metadata.name.as_deref(), Some("dry"));
    assert_eq!(api_error(api.get("dry").await.expect_err("not stored")).0, 404);
}

#[tokio::test]
async fn finalizers_hold_a_deletion_and_the_object_is_returned() {
    let sim = start();
    let api: Api<ConfigMap> = Api::default_namespaced(sim.client().expect("client"));
    let mut cm = config_map("held", &[]);
    cm.metadata.finalizers = Some(vec!["example.com/hold".into()]);
    api.create(&PostParams::default(), &cm).await.expect("create");
    let answer = api.delete("held", &DeleteParams::default()).await.expect("delete");
    let Either::Left(terminating) = answer else { panic!("expected the terminating object") };
    assert!(terminating.metadata.deletion_timestamp.is_some());
    assert!(api.get("held").await.is_ok(), "still there until the finalizer goes");
}

#[tokio::test]
async fn delete_options_from_body_and_query() {
    let sim = start();
    let api: Api<ConfigMap> = Api::default_namespaced(sim.client().expect("client"));
    let client = client_without_retries(&sim);
    for name in ["a", "b", "c"] {
        api.create(&PostParams::default(), &config_map(name, &[])).await.expect("create");
    }
    let path = |name: &str| format!("/api/v1/namespaces/default/configmaps/{name}");
    // A failed precondition is a conflict, and nothing is deleted.
    let body = br#"{"kind":"DeleteOptions","apiVersion":"v1","preconditions":{"uid":"not-this-one"}}"#;
    let answer = raw(&client, http::Method::DELETE, &path("a"), &[], body).await;
    assert_eq!((answer.status.as_u16(), answer.json()["reason"].clone()), (409, json!("Conflict")));
    assert!(api.get("a").await.is_ok());
    // propagationPolicy from the query: Orphan holds the object with the orphan finalizer.
    let answer = raw(&client, http::Method::DELETE, &format!("{}?propagationPolicy=Orphan", path("a")), &[], b"").await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.json()["metadata"]["finalizers"], json!(["orphan"]));
    // The deprecated orphanDependents=false asks for a cascade: 202 while it runs.
    let body = br#"{"orphanDependents": false}"#;
    let answer = raw(&client, http::Method::DELETE, &path("b"), &[], body).await;
    assert_eq!(answer.status, 202);
    assert_eq!(answer.json()["metadata"]["finalizers"], json!(["foregroundDeletion"]));
    // Both at once are refused; an unknown policy too.
    let body = br#"{"orphanDependents": true, "propagationPolicy": "Background"}"#;
    assert_eq!(raw(&client, http::Method::DELETE, &path("c"), &[], body).await.status, 422);
    let answer =
        raw(&client, http::Method::DELETE, &format!("{}?propagationPolicy=Sideways", path("c")), &[], b"").await;
    assert_eq!(answer.status, 422);
    // dryRun deletes nothing.
    let answer = raw(&client, http::Method::DELETE, &format!("{}?dryRun=All", path("c")), &[], b"").await;
    assert_eq!(answer.status, 200);
    assert!(api.get("c").await.is_ok());
}

#[tokio::test]
async fn dry_run_update_checks_but_stores_nothing() {
    let sim = start();
    let api: Api<ConfigMap> = Api::default_namespaced(sim.client().expect("client"));
    let created = api.create(&PostParams::default(), &config_map("c", &[])).await.expect("create");
    let mut changed = created.clone();
    changed.data = Some([("key".to_string(), "dry".to_string())].into());
    let params = PostParams { dry_run: true, ..PostParams::default() };
    let answered = api.replace("c", &params, &changed).await.expect("dry run");
    assert_eq!(answered.data.as_ref().and_then(|d| d.get("key")).map(String::as_str), Some("dry"));
    let stored = api.get("c").await.expect("get");
    assert_eq!(stored.data.as_ref().and_then(|d| d.get("key")).map(String::as_str), Some("value"));
    assert_eq!(stored.metadata.resource_version, created.metadata.resource_version);
    let mut stale = changed.clone();
    stale.metadata.resource_version = Some("1".into());
    let (code, _, _) = api_error(api.replace("c", &params, &stale).await.expect_err("stale dry run"));
    assert_eq!(code, 409);
}
