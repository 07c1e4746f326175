//! The wire protocol as raw HTTP: discovery documents, content negotiation, tables, status
//! errors, faults, request accounting and the admin endpoints, and the restart.

// Helpers here are test code: a failure is a test failure.
#![allow(clippy::expect_used)]

mod common;

use std::time::Duration;

use common::*;
use http::Method;
use k8s_openapi::api::core::v1::ConfigMap;
use kip_sim::{Fault, FaultRule};
use kube::api::{Api, ListParams, PostParams};
use serde_json::{Value, json};

#[tokio::test]
async fn discovery_documents() {
    let sim = start();
    let client = client_without_retries(&sim);
    let version = get(&client, "/version").await.json();
    assert_eq!((version["major"].clone(), version["minor"].clone()), (json!("1"), json!("33")));
    assert_eq!(version["gitVersion"], "v1.33.0-kip-sim");
    let api = get(&client, "/api").await.json();
    assert_eq!((api["kind"].clone(), api["versions"].clone()), (json!("APIVersions"), json!(["v1"])));
    let groups = get(&client, "/apis").await.json();
    assert_eq!(groups["kind"], "APIGroupList");
    let apps = groups["groups"].as_array().expect("groups").iter().find(|g| g["name"] == "apps").expect("apps").clone();
    assert_eq!(apps["preferredVersion"], json!({"groupVersion": "apps/v1", "version": "v1"}));
    assert!(!groups["groups"].as_array().expect("groups").iter().any(|g| g["name"] == "route.openshift.io"));
    let core = get(&client, "/api/v1").await.json();
    assert_eq!((core["kind"].clone(), core["groupVersion"].clone()), (json!("APIResourceList"), json!("v1")));
    let find = |doc: &Value, name: &str| {
        doc["resources"].as_array().and_then(|r| r.iter().find(|x| x["name"] == name).cloned())
    };
    let pods = find(&core, "pods").expect("pods");
    assert_eq!(
        (pods["namespaced"].clone(), pods["kind"].clone(), pods["shortNames"].clone()),
        (json!(true), json!("Pod"), json!(["po"]))
    );
    assert!(pods["verbs"].as_array().expect("verbs").contains(&json!("watch")));
    assert_eq!(find(&core, "pods/status").expect("pods/status")["verbs"], json!(["get", "patch", "update"]));
    assert!(find(&core, "configmaps/status").is_none(), "only types with a status subresource");
    let apps_v1 = get(&client, "/apis/apps/v1").await.json();
    let ds = find(&apps_v1, "daemonsets").expect("daemonsets");
    assert_eq!((ds["shortNames"].clone(), ds["categories"].clone()), (json!(["ds"]), json!(["all"])));
    assert_eq!(get(&client, "/apis/apps").await.json()["kind"], "APIGroup");
    assert_eq!(get(&client, "/apis/nope.io/v1").await.status, 404);
    for health in ["/healthz", "/readyz", "/livez"] {
        let answer = get(&client, health).await;
        assert_eq!((answer.status.as_u16(), &answer.body[..]), (200, &b"ok"[..]), "{health}");
    }
}

#[tokio::test]
async fn aggregated_discovery_falls_back_to_plain_json() {
    let sim = start();
    let client = client_without_retries(&sim);
    let accept = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json";
    let answer = raw(&client, Method::GET, "/apis", &[("accept", accept)], b"").await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.content_type(), "application/json");
    assert_eq!(answer.json()["kind"], "APIGroupList");
}

#[tokio::test]
async fn openshift_switch_serves_routes() {
    let sim = start_with(|o| o.openshift = true);
    let groups = get(&client_without_retries(&sim), "/apis").await.json();
    assert!(groups["groups"].as_array().expect("groups").iter().any(|g| g["name"] == "route.openshift.io"));
}

#[tokio::test]
async fn openapi_v2_is_empty_and_v3_names_patch_parameters() {
    let sim = start();
    let client = client_without_retries(&sim);
    let v2 = get(&client, "/openapi/v2").await;
    assert_eq!(v2.status, 200);
    assert_eq!(v2.json()["definitions"], serde_json::json!({}), "an empty document: nothing to validate client side");
    let index = get(&client, "/openapi/v3").await.json();
    let url = index["paths"]["apis/apps/v1"]["serverRelativeURL"].as_str().expect("url").to_string();
    let doc = get(&client, &url).await.json();
    let op = &doc["paths"]["/apis/apps/v1/namespaces/{namespace}/daemonsets/{name}"]["patch"];
    assert_eq!(op["x-kubernetes-group-version-kind"]["kind"], "DaemonSet");
}

#[tokio::test]
async fn protobuf_is_refused_and_json_alternatives_are_used() {
    let sim = start();
    let client = client_without_retries(&sim);
    let path = "/api/v1/namespaces/default/configmaps";
    let answer =
        raw(&client, Method::POST, path, &[("content-type", "application/vnd.kubernetes.protobuf")], b"k8s\0").await;
    assert_eq!((answer.status.as_u16(), answer.json()["reason"].clone()), (415, json!("UnsupportedMediaType")));
    let answer = raw(&client, Method::GET, path, &[("accept", "application/vnd.kubernetes.protobuf")], b"").await;
    assert_eq!((answer.status.as_u16(), answer.json()["reason"].clone()), (406, json!("NotAcceptable")));
    let both = "application/vnd.kubernetes.protobuf,application/json";
    let answer = raw(&client, Method::GET, path, &[("accept", both)], b"").await;
    assert_eq!((answer.status.as_u16(), answer.json()["kind"].clone()), (200, json!("ConfigMapList")));
}

#[tokio::test]
async fn yaml_bodies_create_objects() {
    let sim = start();
    let client = client_without_retries(&sim);
    let yaml = b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: from-yaml\ndata:\n  IMAGES: a=b\n";
    let answer = raw(
        &client,
        Method::POST,
        "/api/v1/namespaces/default/configmaps",
        &[("content-type", "application/yaml")],
        yaml,
    )
    .await;
    assert_eq!(answer.status, 201, "{}", String::from_utf8_lossy(&answer.body));
    assert_eq!(answer.json()["data"]["IMAGES"], "a=b");
    let listed =
        raw(&client, Method::GET, "/api/v1/namespaces/default/configmaps", &[("accept", "application/yaml")], b"")
            .await;
    assert_eq!(listed.content_type(), "application/yaml");
    assert!(String::from_utf8_lossy(&listed.body).contains("name: from-yaml"));
}

#[tokio::test]
async fn lists_carry_kind_api_version_and_the_current_resource_version() {
    let sim = start();
    let client = client_without_retries(&sim);
    let list = get(&client, "/apis/apps/v1/daemonsets").await.json();
    assert_eq!((list["kind"].clone(), list["apiVersion"].clone()), (json!("DaemonSetList"), json!("apps/v1")));
    assert_eq!(list["metadata"]["resourceVersion"], sim.store().current_resource_version().to_string());
    assert_eq!(list["items"], json!([]));
    let all_ns = get(&client, "/api/v1/namespaces").await.json();
    assert_eq!(all_ns["items"].as_array().map(Vec::len), Some(4));
    let future = sim.store().current_resource_version() + 100;
    let answer = get(&client, &format!("/api/v1/configmaps?resourceVersion={future}")).await;
    assert_eq!(answer.status, 504, "a future resourceVersion is not served");
    let answer = get(&client, "/api/v1/configmaps?resourceVersionMatch=Exact").await;
    assert_eq!(answer.status, 400, "resourceVersionMatch needs a resourceVersion");
}

#[tokio::test]
async fn unknown_paths_and_methods_are_status_errors() {
    let sim = start();
    let client = client_without_retries(&sim);
    for path in [
        "/nope",
        "/api/v1/widgets",
        "/apis/apps/v1/namespaces/default/configmaps",
        "/api/v1/namespaces/default/nodes",
        "/api/v1/namespaces/default/configmaps/x/status",
    ] {
        let answer = get(&client, path).await;
        assert_eq!(answer.status, 404, "{path}");
        assert_eq!(answer.json()["kind"], "Status", "{path}");
    }
    let answer = raw(&client, Method::PUT, "/api/v1/namespaces/default/configmaps", &[], b"{}").await;
    assert_eq!((answer.status.as_u16(), answer.json()["reason"].clone()), (405, json!("MethodNotAllowed")));
}

#[tokio::test]
async fn daemonsets_as_a_table() {
    let sim = start();
    let client = client_without_retries(&sim);
    let ds = json!({
        "apiVersion": "apps/v1", "kind": "DaemonSet",
        "metadata": {"name": "kubernetes-image-puller", "namespace": "default"},
        "spec": {"selector": {"matchLabels": {"test": "daemonset-test"}},
                 "template": {"metadata": {"labels": {"test": "daemonset-test"}},
                              "spec": {"nodeSelector": {"node-role.kubernetes.io/worker": ""},
                                       "containers": [{"name": "c", "image": "quay.io/x:1"}]}}}
    });
    let created = raw(
        &client,
        Method::POST,
        "/apis/apps/v1/namespaces/default/daemonsets",
        &[],
        &serde_json::to_vec(&ds).expect("json"),
    )
    .await;
    assert_eq!(created.status, 201);
    let accept = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json";
    let answer =
        raw(&client, Method::GET, "/apis/apps/v1/namespaces/default/daemonsets", &[("accept", accept)], b"").await;
    assert_eq!(answer.status, 200);
    assert!(answer.content_type().contains("as=Table"), "{}", answer.content_type());
    let table = answer.json();
    assert_eq!((table["kind"].clone(), table["apiVersion"].clone()), (json!("Table"), json!("meta.k8s.io/v1")));
    let columns: Vec<&str> =
        table["columnDefinitions"].as_array().expect("columns").iter().filter_map(|c| c["name"].as_str()).collect();
    assert_eq!(
        columns,
        [
            "Name",
            "Desired",
            "Current",
            "Ready",
            "Up-to-date",
            "Available",
            "Node Selector",
            "Age",
            "Containers",
            "Images",
            "Selector"
        ]
    );
    let row = &table["rows"][0];
    assert_eq!(row["cells"][0], "kubernetes-image-puller");
    assert_eq!(row["cells"][6], "node-role.kubernetes.io/worker=");
    assert_eq!(row["object"]["kind"], "PartialObjectMetadata");
    let one = raw(
        &client,
        Method::GET,
        "/apis/apps/v1/namespaces/default/daemonsets/kubernetes-image-puller?includeObject=Object",
        &[("accept", accept)],
        b"",
    )
    .await
    .json();
    assert_eq!(one["rows"][0]["object"]["kind"], "DaemonSet");
}

#[tokio::test]
async fn partial_object_metadata_lists() {
    let sim = start();
    let client = client_without_retries(&sim);
    let accept = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1";
    let list = raw(&client, Method::GET, "/api/v1/namespaces", &[("accept", accept)], b"").await.json();
    assert_eq!(list["kind"], "PartialObjectMetadataList");
    assert_eq!(list["items"][0]["kind"], "PartialObjectMetadata");
    assert!(list["items"][0].get("status").is_none());
}

#[tokio::test]
async fn injected_429_carries_retry_after_and_kube_rs_retries() {
    let sim = start();
    sim.faults().add(FaultRule::next(1, Fault::TooManyRequests { retry_after_seconds: 1 }).for_verb("list"));
    let client = client_without_retries(&sim);
    let answer = get(&client, "/api/v1/namespaces/default/configmaps").await;
    assert_eq!(answer.status, 429);
    assert_eq!(answer.headers.get("retry-after").and_then(|v| v.to_str().ok()), Some("1"));
    assert_eq!(answer.json()["details"]["retryAfterSeconds"], 1);
    assert_eq!(get(&client, "/api/v1/namespaces/default/configmaps").await.status, 200, "only the next one");
    // kube-rs's default client waits and retries a 429.
    sim.faults().add(FaultRule::next(1, Fault::TooManyRequests { retry_after_seconds: 0 }).for_verb("list"));
    sim.reset_stats();
    let api: Api<ConfigMap> = Api::default_namespaced(sim.client().expect("client"));
    api.list(&ListParams::default()).await.expect("list after a retry");
    assert_eq!(sim.stats().count("configmaps", "list"), 2);
}

#[tokio::test]
async fn injected_500_and_conflict() {
    let sim = start();
    let api: Api<ConfigMap> = Api::default_namespaced(sim.client().expect("client"));
    sim.faults().add(FaultRule::next(1, Fault::InternalError).for_resource("configmaps"));
    let (code, reason, _) = api_error(api.list(&ListParams::default()).await.expect_err("500"));
    assert_eq!((code, reason.as_str()), (500, "InternalError"));
    api.list(&ListParams::default()).await.expect("the next one succeeds");
    sim.faults().add(FaultRule::next(1, Fault::Conflict));
    api.list(&ListParams::default()).await.expect("reads are not conflicted");
    let (code, reason, _) =
        api_error(api.create(&PostParams::default(), &config_map("c", &[])).await.expect_err("409"));
    assert_eq!((code, reason.as_str()), (409, "Conflict"));
    api.create(&PostParams::default(), &config_map("c", &[])).await.expect("the next write succeeds");
}

#[tokio::test]
async fn admin_endpoints_are_never_faulted() {
    let sim = start();
    let client = client_without_retries(&sim);
    let rules = json!({"rules": [{"kind": "internalError"}], "seed": 5});
    let answer = raw(&client, Method::PUT, "/_sim/faults", &[], &serde_json::to_vec(&rules).expect("json")).await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.json()["rules"][0]["kind"], "internalError");
    assert_eq!(get(&client, "/api/v1/namespaces").await.status, 500, "every API request fails now");
    let stats = get(&client, "/_sim/stats").await;
    assert_eq!(stats.status, 200, "but not the admin endpoints");
    assert_eq!(stats.json()["byResource"]["namespaces"]["list"], 1);
    let cleared = raw(&client, Method::PUT, "/_sim/faults", &[], br#"{"rules": []}"#).await;
    assert_eq!(cleared.json()["rules"], json!([]));
    assert_eq!(get(&client, "/api/v1/namespaces").await.status, 200);
    let reset = raw(&client, Method::DELETE, "/_sim/stats", &[], b"").await.json();
    assert_eq!(reset["total"], 0);
    assert_eq!(get(&client, "/_sim/objects").await.json()["namespaces"], 4);
    assert_eq!(get(&client, "/_sim/nope").await.status, 404);
}

#[tokio::test]
async fn restart_keeps_state_and_drops_watches() {
    let sim = start();
    let api: Api<ConfigMap> = Api::default_namespaced(sim.client().expect("client"));
    api.create(&PostParams::default(), &config_map("kept", &[])).await.expect("create");
    let client = client_without_retries(&sim);
    let watch = send(&client, Method::GET, "/api/v1/namespaces/default/configmaps?watch=true", &[], b"").await;
    let address = sim.address();
    sim.restart_api_server().await.expect("restart");
    assert_eq!(sim.address(), address, "same port");
    // The open watch was cut off: its body ends (with an error or early).
    let body = tokio::time::timeout(Duration::from_secs(20), watch.into_body().collect_bytes()).await.expect("ended");
    if let Ok(bytes) = body {
        assert_eq!(String::from_utf8_lossy(&bytes).lines().count(), 1, "only the initial ADDED before the cut");
    }
    let fresh: Api<ConfigMap> = Api::default_namespaced(sim.client().expect("client"));
    assert!(fresh.get("kept").await.is_ok(), "the state survived the restart");
    // Restart through the admin endpoint too.
    let answer = raw(&client, Method::PUT, "/_sim/faults", &[], br#"{"restartApiServer": true}"#).await;
    assert_eq!(answer.status, 200);
}
