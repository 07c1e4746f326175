//! Scale benchmark, ignored by default: 5,000 pods of 50 containers each, listed whole and in
//! pages, and watched by several clients while every pod changes. Prints throughput.
//!
//! `cargo test -p kip-sim --release --test scale -- --ignored --nocapture`

// ApiError is large by design (a whole Status); the store closures return it.
#![allow(clippy::result_large_err)]
// Helpers here are test code: a failure is a test failure.
#![allow(clippy::expect_used)]

mod common;

use std::time::Instant;

use common::*;
use futures::StreamExt;
use http::Method;
use http_body_util::BodyExt;
use kip_sim::{GroupResource, ObjectKey, store::Part};
use serde_json::{Value, json};

const PODS: usize = 5_000;
const CONTAINERS: usize = 50;
const WATCHERS: usize = 3;

fn pod(i: usize) -> Value {
    let containers: Vec<Value> = (0..CONTAINERS)
        .map(|c| {
            json!({
                "name": format!("image-{c}"),
                "image": format!("quay.io/example/image-{c}:next"),
                "command": ["/kip/sleep"], "args": ["720h"],
                "resources": {"requests": {"cpu": "50m", "memory": "10Mi"}, "limits": {"cpu": "200m", "memory": "20Mi"}},
                "volumeMounts": [{"name": "kip", "mountPath": "/kip"}],
                "imagePullPolicy": "Always",
            })
        })
        .collect();
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": format!("puller-{i:05}"), "namespace": "default",
                     "labels": {"test": "daemonset-test", "app.kubernetes.io/name": "image-puller"}},
        "spec": {"nodeName": format!("node-{i:04}"), "containers": containers,
                 "volumes": [{"name": "kip", "emptyDir": {"sizeLimit": "50Mi"}}]},
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: run with --release --ignored --nocapture"]
async fn list_and_watch_throughput() {
    let sim = start_with(|o| o.watch_history = 20_000);
    let store = sim.store();
    let pods = GroupResource::core("pods");
    let started = Instant::now();
    for i in 0..PODS {
        store.create(&pods, pod(i)).expect("pod");
    }
    println!("created {PODS} pods of {CONTAINERS} containers in the store: {:?}", started.elapsed());
    let client = client_without_retries(&sim);

    for _ in 0..3 {
        let started = Instant::now();
        let answer = raw(&client, Method::GET, "/api/v1/pods", &[], b"").await;
        let elapsed = started.elapsed();
        assert_eq!(answer.status, 200);
        let mb = answer.body.len() as f64 / 1e6;
        println!(
            "list all: {PODS} pods, {mb:.1} MB in {elapsed:?} = {:.0} pods/s, {:.0} MB/s",
            PODS as f64 / elapsed.as_secs_f64(),
            mb / elapsed.as_secs_f64()
        );
    }

    let started = Instant::now();
    let mut token = String::new();
    let mut pages = 0;
    let mut items = 0;
    loop {
        let path = format!("/api/v1/pods?limit=500&continue={token}");
        let list = raw(&client, Method::GET, &path, &[], b"").await.json();
        items += list["items"].as_array().map_or(0, Vec::len);
        pages += 1;
        match list["metadata"]["continue"].as_str() {
            Some(t) if !t.is_empty() => token = t.to_string(),
            _ => break,
        }
    }
    assert_eq!(items, PODS);
    println!("paged list: {items} pods in {pages} pages of 500 in {:?}", started.elapsed());

    let rv = store.current_resource_version();
    let mut watches = Vec::new();
    for _ in 0..WATCHERS {
        let path = format!("/api/v1/pods?watch=true&resourceVersion={rv}");
        watches.push(send(&client, Method::GET, &path, &[], b"").await.into_body().into_data_stream());
    }
    let readers: Vec<_> = watches
        .into_iter()
        .map(|mut stream| {
            tokio::spawn(async move {
                let (mut lines, mut bytes) = (0usize, 0usize);
                while lines < PODS {
                    let Some(Ok(chunk)) = stream.next().await else { break };
                    bytes += chunk.len();
                    lines += chunk.iter().filter(|b| **b == b'\n').count();
                }
                (lines, bytes)
            })
        })
        .collect();
    let started = Instant::now();
    for i in 0..PODS {
        let key = ObjectKey::new("default", &format!("puller-{i:05}"));
        store
            .modify(&pods, &key, Part::Main, |p| {
                p["metadata"]["annotations"] = json!({"bench": "1"});
                Ok(())
            })
            .expect("modify");
    }
    let written = started.elapsed();
    let mut total_bytes = 0;
    for reader in readers {
        let (lines, bytes) = reader.await.expect("reader");
        assert_eq!(lines, PODS, "every watcher saw every event");
        total_bytes += bytes;
    }
    let elapsed = started.elapsed();
    println!(
        "watch: {PODS} pod updates (written in {written:?}) delivered to {WATCHERS} watchers in {elapsed:?} = {:.0} events/s, {:.0} MB/s",
        (PODS * WATCHERS) as f64 / elapsed.as_secs_f64(),
        total_bytes as f64 / 1e6 / elapsed.as_secs_f64()
    );
}
