//! Watches against the simulator over HTTP: kube-rs watchers and controllers, resumption after
//! drops and 410s, bookmarks, streaming lists, selector transitions.

// ApiError is large by design (a whole Status); the store closures return it.
#![allow(clippy::result_large_err)]
// Helpers here are test code: a failure is a test failure.
#![allow(clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use futures::{Stream, StreamExt};
use k8s_openapi::api::core::v1::ConfigMap;
use kip_sim::{GroupResource, ObjectKey, store::Part};
use kube::api::{Api, DeleteParams, ObjectMeta, PostParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::watcher::{self, Event, watcher};
use serde_json::{Value, json};

/// A guard against hangs, not a timing assertion.
const PATIENCE: Duration = Duration::from_secs(20);

async fn next_event<S: Stream<Item = Result<Event<ConfigMap>, watcher::Error>> + Unpin>(
    stream: &mut S,
) -> Event<ConfigMap> {
    loop {
        match tokio::time::timeout(PATIENCE, stream.next()).await.expect("an event in time") {
            Some(Ok(event)) => return event,
            // Expired and dropped watches surface as errors before the watcher recovers.
            Some(Err(_)) => continue,
            None => panic!("the watch stream ended"),
        }
    }
}

fn describe(event: &Event<ConfigMap>) -> String {
    let name = |cm: &ConfigMap| cm.metadata.name.clone().unwrap_or_default();
    match event {
        Event::Init => "Init".into(),
        Event::InitApply(cm) => format!("InitApply {}", name(cm)),
        Event::InitDone => "InitDone".into(),
        Event::Apply(cm) => {
            format!("Apply {} {}", name(cm), cm.data.as_ref().and_then(|d| d.get("key")).cloned().unwrap_or_default())
        }
        Event::Delete(cm) => format!("Delete {}", name(cm)),
    }
}

async fn watcher_sees_changes(config: watcher::Config) -> kip_sim::StatsSnapshot {
    let sim = start();
    let api: Api<ConfigMap> = Api::default_namespaced(sim.client().expect("client"));
    api.create(&PostParams::default(), &config_map("before", &[])).await.expect("create");
    let mut stream = watcher(api.clone(), config).boxed();
    let mut seen = Vec::new();
    for _ in 0..3 {
        seen.push(describe(&next_event(&mut stream).await));
    }
    assert_eq!(seen, ["Init", "InitApply before", "InitDone"]);
    let created = api.create(&PostParams::default(), &config_map("a", &[])).await.expect("create");
    let mut changed = created.clone();
    changed.data = Some([("key".to_string(), "changed".to_string())].into());
    api.replace("a", &PostParams::default(), &changed).await.expect("replace");
    api.delete("a", &DeleteParams::default()).await.expect("delete");
    let mut seen = Vec::new();
    for _ in 0..3 {
        seen.push(describe(&next_event(&mut stream).await));
    }
    assert_eq!(seen, ["Apply a value", "Apply a changed", "Delete a"]);
    sim.stats()
}

#[tokio::test]
async fn default_watcher_lists_then_watches() {
    let stats = watcher_sees_changes(watcher::Config::default()).await;
    assert_eq!(stats.count("configmaps", "list"), 1);
    assert!(stats.count("configmaps", "watch") >= 1);
}

#[tokio::test]
async fn streaming_list_watcher_needs_no_list() {
    let stats = watcher_sees_changes(watcher::Config::default().streaming_lists()).await;
    assert_eq!(stats.count("configmaps", "list"), 0, "the initial state came in the watch");
    assert!(stats.count("configmaps", "watch") >= 1);
}

#[tokio::test]
async fn watcher_relists_after_410() {
    let sim = start_with(|o| {
        o.watch_history = 16;
        o.bookmark_interval = Duration::from_secs(3600);
    });
    let api: Api<ConfigMap> = Api::default_namespaced(sim.client().expect("client"));
    let mut stream = watcher(api.clone(), watcher::Config::default()).boxed();
    while !matches!(next_event(&mut stream).await, Event::InitDone) {}
    let receive = async { while !describe(&next_event(&mut stream).await).contains("late") {} };
    let disturb = async {
        wait_for_watches(&sim, 1).await;
        // Other writes push the watcher's resourceVersion out of the history...
        let store = sim.store();
        for i in 0..40 {
            let secret = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": format!("s{i}"), "namespace": "default"}});
            store.create(&GroupResource::core("secrets"), secret).expect("secret");
        }
        // ...so resuming after the drop gets 410 Expired, and the watcher lists again.
        sim.faults().drop_watches();
        api.create(&PostParams::default(), &config_map("late", &[])).await.expect("create");
    };
    tokio::time::timeout(PATIENCE, async { tokio::join!(receive, disturb) }).await.expect("recovered in time");
    assert_eq!(sim.stats().count("configmaps", "list"), 2, "relisted after the 410");
}

#[tokio::test]
async fn watcher_resumes_after_dropped_watches() {
    let sim = start();
    let api: Api<ConfigMap> = Api::default_namespaced(sim.client().expect("client"));
    let mut stream = watcher(api.clone(), watcher::Config::default()).boxed();
    while !matches!(next_event(&mut stream).await, Event::InitDone) {}
    // The watcher opens its watches while its stream is polled.
    let receive = async {
        loop {
            if describe(&next_event(&mut stream).await) == "Apply after value" {
                break;
            }
        }
    };
    let write = async {
        wait_for_watches(&sim, 1).await;
        sim.faults().drop_watches();
        wait_for_watches(&sim, 2).await;
        api.create(&PostParams::default(), &config_map("after", &[])).await.expect("create");
    };
    tokio::time::timeout(PATIENCE, async { tokio::join!(receive, write) }).await.expect("resumed in time");
    assert_eq!(sim.stats().count("configmaps", "list"), 1, "resumed from its resourceVersion, no relist");
}

async fn wait_for_watches(sim: &kip_sim::Sim, count: u64) {
    while sim.stats().count("configmaps", "watch") < count {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn controller_reconciles_a_config_map() {
    let sim = start();
    let client = sim.client().expect("client");
    let api: Api<ConfigMap> = Api::default_namespaced(client.clone());
    async fn reconcile(source: Arc<ConfigMap>, api: Arc<Api<ConfigMap>>) -> Result<Action, kube::Error> {
        let name = format!("{}-copy", source.metadata.name.clone().unwrap_or_default());
        let copy = ConfigMap {
            metadata: ObjectMeta { name: Some(name), ..ObjectMeta::default() },
            data: source.data.clone(),
            ..ConfigMap::default()
        };
        match api.create(&PostParams::default(), &copy).await {
            Ok(_) => Ok(Action::await_change()),
            Err(kube::Error::Api(s)) if s.code == 409 => Ok(Action::await_change()),
            Err(e) => Err(e),
        }
    }
    fn error_policy(_: Arc<ConfigMap>, _: &kube::Error, _: Arc<Api<ConfigMap>>) -> Action {
        Action::requeue(Duration::from_millis(100))
    }
    let controller = Controller::new(api.clone(), watcher::Config::default().labels("role=source"))
        .run(reconcile, error_policy, Arc::new(api.clone()))
        .for_each(|_| async {});
    let handle = tokio::spawn(controller);
    api.create(&PostParams::default(), &config_map("src", &[("role", "source")])).await.expect("create");
    let copy = tokio::time::timeout(PATIENCE, async {
        loop {
            if let Ok(copy) = api.get("src-copy").await {
                return copy;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the controller made the copy");
    assert_eq!(copy.data.and_then(|d| d.get("key").cloned()).as_deref(), Some("value"));
    handle.abort();
}

fn store_write(sim: &kip_sim::Sim, name: &str, labels: Option<Value>) {
    let gr = GroupResource::core("configmaps");
    let store = sim.store();
    let key = ObjectKey::new("default", name);
    if store.get(&gr, &key).is_none() {
        let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": "default", "labels": labels}});
        store.create(&gr, cm).expect("create");
    } else {
        store
            .modify(&gr, &key, Part::Main, |cm| {
                cm["metadata"]["labels"] = labels.unwrap_or(Value::Null);
                Ok(())
            })
            .expect("modify");
    }
}

#[tokio::test]
async fn watch_selectors_turn_transitions_into_added_and_deleted() {
    let sim = start();
    let client = client_without_retries(&sim);
    let rv = sim.store().current_resource_version();
    let path = format!(
        "/api/v1/namespaces/default/configmaps?watch=true&labelSelector=app%3Dweb&resourceVersion={rv}&timeoutSeconds=1"
    );
    let response = send(&client, http::Method::GET, &path, &[], b"").await;
    store_write(&sim, "x", None);
    store_write(&sim, "x", Some(json!({"app": "web"})));
    store_write(&sim, "x", Some(json!({"app": "web", "more": "yes"})));
    store_write(&sim, "x", Some(json!({"app": "db"})));
    store_write(&sim, "y", Some(json!({"app": "web"})));
    sim.store()
        .delete(&GroupResource::core("configmaps"), &ObjectKey::new("default", "y"), &Default::default())
        .expect("delete");
    let body = response.into_body().collect_bytes().await.expect("body");
    let events: Vec<(String, String, Value)> = String::from_utf8_lossy(&body)
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).expect("json"))
        .map(|e| {
            (
                e["type"].as_str().unwrap_or("").to_string(),
                e["object"]["metadata"]["name"].as_str().unwrap_or("").to_string(),
                e["object"]["metadata"]["labels"].clone(),
            )
        })
        .collect();
    let summary: Vec<(&str, &str)> = events.iter().map(|(t, n, _)| (t.as_str(), n.as_str())).collect();
    assert_eq!(summary, [("ADDED", "x"), ("MODIFIED", "x"), ("DELETED", "x"), ("ADDED", "y"), ("DELETED", "y")]);
    assert_eq!(events[2].2, json!({"app": "web", "more": "yes"}), "a leaving object is sent as it was when it matched");
}

#[tokio::test]
async fn namespaced_watches_see_only_their_namespace() {
    let sim = start();
    let client = client_without_retries(&sim);
    let rv = sim.store().current_resource_version();
    let path = format!("/api/v1/namespaces/kube-system/configmaps?watch=1&resourceVersion={rv}&timeoutSeconds=1");
    let response = send(&client, http::Method::GET, &path, &[], b"").await;
    let api_default: Api<ConfigMap> = Api::default_namespaced(sim.client().expect("client"));
    let api_system: Api<ConfigMap> = Api::namespaced(sim.client().expect("client"), "kube-system");
    api_default.create(&PostParams::default(), &config_map("elsewhere", &[])).await.expect("create");
    api_system.create(&PostParams::default(), &config_map("here", &[])).await.expect("create");
    let body = response.into_body().collect_bytes().await.expect("body");
    let names: Vec<String> = String::from_utf8_lossy(&body)
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).expect("json")["object"]["metadata"]["name"]
                .as_str()
                .unwrap_or("")
                .to_string()
        })
        .collect();
    assert_eq!(names, ["here"]);
}

#[tokio::test]
async fn bookmarks_carry_only_the_resource_version() {
    let sim = start_with(|o| o.bookmark_interval = Duration::from_millis(50));
    let client = client_without_retries(&sim);
    let rv = sim.store().current_resource_version();
    let path = format!(
        "/apis/apps/v1/namespaces/default/daemonsets?watch=true&allowWatchBookmarks=true&resourceVersion={rv}&timeoutSeconds=1"
    );
    let events = get(&client, &path).await.events();
    assert!(!events.is_empty(), "bookmarks within a second at a 50ms interval");
    for event in &events {
        assert_eq!(event["type"], "BOOKMARK");
        assert_eq!(
            event["object"],
            json!({"kind": "DaemonSet", "apiVersion": "apps/v1", "metadata": {"resourceVersion": rv.to_string()}})
        );
    }
    let without = get(&client, &path.replace("allowWatchBookmarks=true&", "")).await.events();
    assert!(without.is_empty(), "no bookmarks unless asked for");
}

#[tokio::test]
async fn streaming_list_ends_initial_events_with_an_annotated_bookmark() {
    let sim = start_with(|o| o.bookmark_interval = Duration::from_secs(3600));
    let api: Api<ConfigMap> = Api::default_namespaced(sim.client().expect("client"));
    for name in ["a", "b"] {
        api.create(&PostParams::default(), &config_map(name, &[])).await.expect("create");
    }
    let rv = sim.store().current_resource_version();
    let client = client_without_retries(&sim);
    let path = "/api/v1/namespaces/default/configmaps?watch=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true&timeoutSeconds=1";
    let events = get(&client, path).await.events();
    let types: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap_or("")).collect();
    assert_eq!(types, ["ADDED", "ADDED", "BOOKMARK"]);
    assert_eq!(events[2]["object"]["metadata"]["annotations"]["k8s.io/initial-events-end"], "true");
    assert_eq!(events[2]["object"]["metadata"]["resourceVersion"], rv.to_string());
    let bad = get(&client, "/api/v1/namespaces/default/configmaps?watch=true&sendInitialEvents=true").await;
    assert_eq!(bad.status, 400, "sendInitialEvents needs resourceVersionMatch=NotOlderThan");
}

#[tokio::test]
async fn too_old_resource_version_is_an_error_event() {
    let sim = start_with(|o| o.watch_history = 4);
    let api: Api<ConfigMap> = Api::default_namespaced(sim.client().expect("client"));
    for i in 0..10 {
        api.create(&PostParams::default(), &config_map(&format!("c{i}"), &[])).await.expect("create");
    }
    let client = client_without_retries(&sim);
    let answer = get(&client, "/api/v1/namespaces/default/configmaps?watch=true&resourceVersion=2").await;
    assert_eq!(answer.status, 200, "the watch is accepted, then ends with the error");
    let events = answer.events();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["type"], "ERROR");
    assert_eq!(events[0]["object"]["kind"], "Status");
    assert_eq!(
        (events[0]["object"]["code"].clone(), events[0]["object"]["reason"].clone()),
        (json!(410), json!("Expired"))
    );
    // A recent one replays what came after it.
    let rv = sim.store().current_resource_version() - 2;
    let events = get(
        &client,
        &format!("/api/v1/namespaces/default/configmaps?watch=true&resourceVersion={rv}&timeoutSeconds=1"),
    )
    .await
    .events();
    let names: Vec<&str> = events.iter().map(|e| e["object"]["metadata"]["name"].as_str().unwrap_or("")).collect();
    assert_eq!(names, ["c8", "c9"]);
}
