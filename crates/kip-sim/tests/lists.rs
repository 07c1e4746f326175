//! Lists against the simulator over HTTP: label and field selectors, paging with consistent
//! snapshots and expiring continue tokens, query decoding.

// Helpers here are test code: a failure is a test failure.
#![allow(clippy::expect_used)]

mod common;

use std::time::Duration;

use common::*;
use k8s_openapi::api::core::v1::{ConfigMap, Container, Pod, PodSpec};
use kube::api::{Api, DeleteParams, ListParams, ObjectMeta, PostParams};
use serde_json::{Value, json};

fn names<K: kube::Resource>(items: impl IntoIterator<Item = K>) -> Vec<String> {
    items.into_iter().filter_map(|o| o.meta().name.clone()).collect()
}

#[tokio::test]
async fn label_and_field_selectors_filter_lists() {
    let sim = start();
    let api: Api<ConfigMap> = Api::default_namespaced(sim.client().expect("client"));
    for (name, labels) in [("a", &[("app", "web"), ("tier", "front")][..]), ("b", &[("app", "db")][..]), ("c", &[][..])]
    {
        api.create(&PostParams::default(), &config_map(name, labels)).await.expect("create");
    }
    let cases: [(&str, &str, &[&str]); 10] = [
        ("app=web", "", &["a"]),
        ("app==db", "", &["b"]),
        ("app!=web", "", &["b", "c"]),
        ("app in (web,db)", "", &["a", "b"]),
        ("app notin (web)", "", &["b", "c"]),
        ("tier", "", &["a"]),
        ("!tier", "", &["b", "c"]),
        ("", "metadata.name=b", &["b"]),
        ("", "metadata.name!=b", &["a", "c"]),
        ("app", "metadata.namespace==default,metadata.name!=a", &["b"]),
    ];
    for (labels, fields, want) in cases {
        let params = ListParams::default().labels(labels).fields(fields);
        let got = names(api.list(&params).await.expect("list").items);
        assert_eq!(got, want, "labels {labels:?} fields {fields:?}");
    }
    let (code, reason, _) = api_error(api.list(&ListParams::default().labels("app in web")).await.expect_err("bad"));
    assert_eq!((code, reason.as_str()), (400, "BadRequest"));
    let (code, _, status) =
        api_error(api.list(&ListParams::default().fields("spec.nodeName=x")).await.expect_err("bad field"));
    assert_eq!((code, status.message.as_str()), (400, "field label not supported: spec.nodeName"));
}

#[tokio::test]
async fn pods_select_by_node_name() {
    let sim = start();
    let api: Api<Pod> = Api::default_namespaced(sim.client().expect("client"));
    for (name, node) in [("p1", "node-1"), ("p2", "node-2")] {
        let pod = Pod {
            metadata: ObjectMeta { name: Some(name.into()), ..ObjectMeta::default() },
            spec: Some(PodSpec {
                node_name: Some(node.into()),
                containers: vec![Container { name: "c".into(), image: Some("busybox".into()), ..Container::default() }],
                ..PodSpec::default()
            }),
            status: None,
        };
        api.create(&PostParams::default(), &pod).await.expect("create");
    }
    let got = names(api.list(&ListParams::default().fields("spec.nodeName=node-2")).await.expect("list").items);
    assert_eq!(got, ["p2"]);
    let got = names(api.list(&ListParams::default().fields("status.phase=Pending")).await.expect("list").items);
    assert_eq!(got, ["p1", "p2"]);
}

#[tokio::test]
async fn paging_serves_a_consistent_snapshot() {
    let sim = start();
    let api: Api<ConfigMap> = Api::default_namespaced(sim.client().expect("client"));
    for i in 0..7 {
        api.create(&PostParams::default(), &config_map(&format!("cm-{i}"), &[])).await.expect("create");
    }
    let first = api.list(&ListParams::default().limit(3)).await.expect("page 1");
    assert_eq!(names(first.items.clone()), ["cm-0", "cm-1", "cm-2"]);
    assert_eq!(first.metadata.remaining_item_count, Some(4));
    let rv = first.metadata.resource_version.clone();
    // Written between pages: not part of this list.
    api.create(&PostParams::default(), &config_map("cm-3-late", &[])).await.expect("create");
    api.delete("cm-5", &DeleteParams::default()).await.expect("delete");
    let mut token = first.metadata.continue_.clone();
    let mut all = names(first.items);
    while let Some(t) = token.filter(|t| !t.is_empty()) {
        let page = api.list(&ListParams::default().limit(3).continue_token(&t)).await.expect("next page");
        assert_eq!(page.metadata.resource_version, rv, "every page is at the first page's resourceVersion");
        all.extend(names(page.items));
        token = page.metadata.continue_;
    }
    assert_eq!(all, ["cm-0", "cm-1", "cm-2", "cm-3", "cm-4", "cm-5", "cm-6"]);
}

#[tokio::test]
async fn unknown_and_expired_continue_tokens_are_410() {
    let sim = start_with(|o| o.continue_ttl = Duration::ZERO);
    let api: Api<ConfigMap> = Api::default_namespaced(sim.client().expect("client"));
    for name in ["a", "b"] {
        api.create(&PostParams::default(), &config_map(name, &[])).await.expect("create");
    }
    let first = api.list(&ListParams::default().limit(1)).await.expect("page 1");
    let token = first.metadata.continue_.expect("a continue token");
    let (code, reason, status) =
        api_error(api.list(&ListParams::default().limit(1).continue_token(&token)).await.expect_err("expired"));
    assert_eq!((code, reason.as_str()), (410, "Expired"));
    assert!(status.message.starts_with("The provided continue parameter is too old"), "{}", status.message);
    let client = client_without_retries(&sim);
    let answer = get(&client, "/api/v1/namespaces/default/configmaps?limit=1&continue=bogus").await;
    assert_eq!((answer.status.as_u16(), answer.json()["reason"].clone()), (410, json!("Expired")));
}

#[tokio::test]
async fn query_decoding_treats_plus_as_space() {
    let sim = start();
    let api: Api<ConfigMap> = Api::default_namespaced(sim.client().expect("client"));
    api.create(&PostParams::default(), &config_map("web", &[("app", "web")])).await.expect("create");
    api.create(&PostParams::default(), &config_map("db", &[("app", "db")])).await.expect("create");
    let client = client_without_retries(&sim);
    for query in ["labelSelector=app+in+(web)", "labelSelector=app%20in%20%28web%29", "labelSelector=app+notin+(db)"] {
        let answer = get(&client, &format!("/api/v1/namespaces/default/configmaps?{query}")).await;
        assert_eq!(answer.status, 200, "{query}: {}", String::from_utf8_lossy(&answer.body));
        let items: Vec<Value> = answer.json()["items"].as_array().cloned().expect("items");
        assert_eq!(items.len(), 1, "{query}");
        assert_eq!(items[0]["metadata"]["name"], "web", "{query}");
    }
}
