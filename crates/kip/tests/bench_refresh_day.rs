//! One day of refreshes, compressed, on a simulated cluster: what each way of keeping mutable
//! tags fresh costs, side by side.
//!
//! - `the_go_puller`: what the Go puller does every `CACHING_INTERVAL_HOURS`, driven from here
//!   over the API as its binary does it: wait an interval, get the DaemonSet, delete it with
//!   foreground propagation, wait until it is gone, create it again, wait until
//!   `numberReady == desiredNumberScheduled`; 24 times.
//! - `kip_refresh_always`: `kip run` with `KIP_REFRESH_POLICY=always` (a rolling restart every
//!   interval, `KIP_MAX_UNAVAILABLE` at its default of 10%).
//! - `kip_refresh_on_change`: `kip run` with the default `on-change` (a digest lookup of every
//!   image every interval; a rolling restart only when one changed).
//!
//! Each runs 24 intervals after the caching pods first ran everywhere. With
//! `KIP_BENCH_CHANGES=2`, two of the images get new content during the day (at 6.5 and 15.5
//! intervals). Time is compressed: an interval lasts `KIP_BENCH_HOUR_SECS` real seconds
//! (default 30; kip's hidden `KIP_REFRESH_INTERVAL` override), and the simulated cluster runs
//! 3600 / that many simulated seconds per real second, so that its clock also sees an hour per
//! interval. Run one at a time:
//!
//! ```text
//! cargo test -p kip --release --test bench_refresh_day -- --ignored --nocapture --exact the_go_puller
//! KIP_BENCH_CHANGES=2 cargo test -p kip --release --test bench_refresh_day -- --ignored --nocapture --exact kip_refresh_on_change
//! ```
//! `KIP_BENCH_NODES` (1000), `KIP_BENCH_IMAGES` (20), `KIP_BENCH_HOURS` (24) tune it further.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod bench_support;
mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use bench_support::coverage::{CoverageReport, CoverageTracker};
use bench_support::{BenchImage, env_or, gib, images_var, publish_images, thousands};
use common::*;
use k8s_openapi::api::apps::v1::DaemonSet;
use kip::config::Config;
use kip::render::{RenderContext, desired_daemonset};
use kip_sim::cluster::counters::CounterSnapshot;
use kip_sim::cluster::node::NodeSpec;
use kip_sim::controllers::{DAEMONSETS, NODES};
use kip_sim::store::{ObjectKey, Store};
use kube::Client;
use kube::api::{DeleteParams, PostParams};
use serde_json::Value;
use tokio::time::Instant;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Strategy {
    GoPuller,
    KipAlways,
    KipOnChange,
}

impl Strategy {
    fn describe(self) -> &'static str {
        match self {
            Strategy::GoPuller => "the Go puller (delete and re-create the DaemonSet every interval)",
            Strategy::KipAlways => "kip run, KIP_REFRESH_POLICY=always (rolling restart every interval)",
            Strategy::KipOnChange => "kip run, KIP_REFRESH_POLICY=on-change (the default)",
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark; run in release with --ignored --nocapture, one test at a time"]
async fn the_go_puller() {
    one_day(Strategy::GoPuller).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark; run in release with --ignored --nocapture, one test at a time"]
async fn kip_refresh_always() {
    one_day(Strategy::KipAlways).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark; run in release with --ignored --nocapture, one test at a time"]
async fn kip_refresh_on_change() {
    one_day(Strategy::KipOnChange).await;
}

struct Settings {
    nodes: usize,
    images: usize,
    hours: u32,
    hour: Duration,
    scale: f64,
    changes: usize,
}

impl Settings {
    fn from_env() -> Settings {
        let hour_secs: f64 = env_or("KIP_BENCH_HOUR_SECS", 30.0);
        Settings {
            nodes: env_or("KIP_BENCH_NODES", 1000),
            images: env_or("KIP_BENCH_IMAGES", 20),
            hours: env_or("KIP_BENCH_HOURS", 24),
            hour: Duration::from_secs_f64(hour_secs),
            scale: env_or("KIP_BENCH_SCALE", 3600.0 / hour_secs),
            changes: env_or("KIP_BENCH_CHANGES", 0),
        }
    }
}

/// What is running the refreshes.
enum Driver {
    Go { daemonset: Box<DaemonSet> },
    Kip(Puller),
}

async fn one_day(strategy: Strategy) {
    let settings = Settings::from_env();
    let load_before = bench_support::load_average();
    let node_names: Vec<String> = (1..=settings.nodes).map(|i| format!("node-{i}")).collect();
    let sim = start_cluster(node_names.iter().map(NodeSpec::new).collect(), settings.scale);
    let images = publish_images(&sim, settings.images);
    let client = sim.client().expect("client");
    prepare(&client).await;
    let store = sim.store();
    let tracker = CoverageTracker::start(&store, NAMESPACE, node_names.iter().cloned());
    let images_value = images_var(&images);
    let host = sim.registry_host();
    let mut extra = vec![("IMAGES", images_value.as_str()), ("KIP_INSECURE_REGISTRIES", host.as_str())];

    let start = Instant::now();
    let driver = match strategy {
        Strategy::GoPuller => {
            let config = Config::from_vars(vars(&extra)).expect("config");
            // The pods of kip's DaemonSet, without kip's annotations: the same images, pull
            // policy and init container as the Go puller's.
            let context =
                RenderContext { openshift: false, owner_uid: None, refresh_token: None, digests: BTreeMap::new() };
            let daemonset = Box::new(desired_daemonset(&config, &context));
            go_create(&client, &store, &daemonset).await;
            Driver::Go { daemonset }
        }
        Strategy::KipAlways | Strategy::KipOnChange => {
            let policy = if strategy == Strategy::KipAlways { "always" } else { "on-change" };
            extra.push(("KIP_REFRESH_POLICY", policy));
            let mut options = options();
            options.refresh_interval = Some(settings.hour);
            Driver::Kip(Puller::start(&client, vars(&extra), options))
        }
    };
    let limit = settings.hour * 20;
    let (store, tracker) = (&store, &tracker);
    eventually("a caching pod running on every node", limit, move || async move {
        let rolled = store.get(&DAEMONSETS, &ObjectKey::new(NAMESPACE, DAEMONSET)).is_some_and(|ds| {
            kip_sim::cluster::daemonset_rolled_out(&ds) && ds["status"]["desiredNumberScheduled"] != 0
        });
        (rolled && tracker.uncovered_now() == 0).then_some(())
    })
    .await;
    let initial = start.elapsed();

    // The day starts now.
    let cluster = sim.cluster().expect("a cluster");
    let counters_before = cluster.counters();
    let registry_before = cluster.catalog().registry_requests();
    let refreshes_before = refreshes(&driver).await;
    sim.reset_stats();
    tracker.restart_window();
    let day_start = Instant::now();
    let changes =
        tokio::spawn(publish_changes(sim.cluster().unwrap().clone(), images.clone(), settings.hour, settings.changes));

    let mut go_refreshes = Vec::new();
    match &driver {
        Driver::Go { daemonset } => {
            for _ in 0..settings.hours {
                // Go: `time.After(interval)` after the previous refresh ended.
                tokio::time::sleep(settings.hour).await;
                go_refreshes.push(go_refresh(&client, store, daemonset).await);
            }
        }
        Driver::Kip(_) => {
            tokio::time::sleep_until(day_start + settings.hour * settings.hours).await;
            eventually("the last refresh to finish", limit, move || async move {
                let rolled = store
                    .get(&DAEMONSETS, &ObjectKey::new(NAMESPACE, DAEMONSET))
                    .is_some_and(|ds| kip_sim::cluster::daemonset_rolled_out(&ds));
                (rolled && tracker.uncovered_now() == 0).then_some(())
            })
            .await;
        }
    }
    let day = day_start.elapsed();
    let coverage = tracker.report();
    let counters = cluster.counters();
    let registry = cluster.catalog().registry_requests();
    let stats = sim.stats();
    let refreshes = refreshes(&driver).await - refreshes_before;
    let changed = changes.await.expect("the changes");

    // Every node must hold the new content, whatever the strategy, or the figures compare
    // unlike things.
    for (image, digest) in &changed {
        let missing = nodes_without(store, image, digest);
        assert!(missing.is_empty(), "{} nodes lack {image}@{digest}", missing.len());
    }
    assert_eq!(coverage.lagged, 0, "the coverage tracker fell behind the store's events");

    println!("== one day: {}", strategy.describe());
    println!(
        "{} nodes, {} images ({} per node), {} intervals; {} image(s) with new content during the day",
        settings.nodes,
        settings.images,
        gib(images.iter().map(|i| i.size_bytes).sum()),
        settings.hours,
        settings.changes
    );
    println!(
        "time compression: an interval (an hour) = {:.0} s real; simulated clock {:.0}x real time (an hour per interval)",
        settings.hour.as_secs_f64(),
        settings.scale
    );
    println!("load average before: {load_before}; after: {}", bench_support::load_average());
    println!(
        "initial caching: a caching pod Running and Ready on every node after {:.1} s real ({:.0} s simulated)",
        initial.as_secs_f64(),
        initial.as_secs_f64() * settings.scale
    );
    println!("the day took {:.0} s real", day.as_secs_f64());
    report_go_refreshes(&go_refreshes, settings.scale);
    report(&settings, refreshes, &coverage, &counters_before, &counters);
    let lookups = registry.total() - registry_before.total();
    println!(
        "  registry requests by kip (digest lookups): {} ({} HEAD, {} GET, {} ping)",
        thousands(lookups),
        registry.manifest_head - registry_before.manifest_head,
        registry.manifest_get - registry_before.manifest_get,
        registry.ping - registry_before.ping
    );
    if let Driver::Kip(puller) = driver {
        let by_verb: Vec<String> = stats.by_verb.iter().map(|(verb, n)| format!("{verb} {n}")).collect();
        println!("  API requests by kip during the day: {} ({})", stats.total, by_verb.join(", "));
        puller.stop().await;
    }
}

/// The refreshes so far: kip's `kip_refreshes_total`, or for the Go puller its count.
async fn refreshes(driver: &Driver) -> u64 {
    match driver {
        Driver::Go { .. } => 0,
        Driver::Kip(puller) => puller.metric("kip_refreshes_total").await.unwrap_or(0.0) as u64,
    }
}

/// New content for `count` images, at 6.5 and then every 9 intervals: returns the images
/// changed with their new digests.
async fn publish_changes(
    cluster: kip_sim::cluster::Cluster,
    images: Vec<BenchImage>,
    hour: Duration,
    count: usize,
) -> Vec<(String, String)> {
    let start = Instant::now();
    let mut changed = Vec::new();
    for k in 0..count {
        tokio::time::sleep_until(start + hour.mul_f64(6.5 + 9.0 * k as f64)).await;
        let image = &images[(3 + 8 * k) % images.len()];
        let digest = cluster.catalog().publish_content(&image.reference, "v2", image.size_bytes);
        println!(
            "(new content for {} at interval {:.1})",
            image.name,
            start.elapsed().as_secs_f64() / hour.as_secs_f64()
        );
        changed.push((image.reference.clone(), digest));
    }
    changed
}

/// Nodes whose status lists no `repo@digest` for `reference`'s new content.
fn nodes_without(store: &Store, reference: &str, digest: &str) -> Vec<String> {
    let repo = reference.rsplit_once(':').map(|(repo, _)| repo).unwrap_or(reference);
    let wanted = format!("{repo}@{digest}");
    store
        .list(&NODES, None)
        .0
        .iter()
        .filter(|node| {
            let names = node.pointer("/status/images").and_then(Value::as_array).into_iter().flatten();
            !names.flat_map(|image| image["names"].as_array().into_iter().flatten()).any(|name| name == &wanted)
        })
        .map(|node| node["metadata"]["name"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// How long one Go refresh took: the deletion (until the DaemonSet was gone), the creation
/// (until every pod was ready).
struct GoRefresh {
    deleting: Duration,
    creating: Duration,
}

async fn go_refresh(client: &Client, store: &Store, daemonset: &DaemonSet) -> GoRefresh {
    let api = daemonsets(client);
    let start = Instant::now();
    if api.get_opt(DAEMONSET).await.expect("get the DaemonSet").is_some() {
        api.delete(DAEMONSET, &DeleteParams::foreground()).await.expect("delete the DaemonSet");
        wait_for_store("the DaemonSet to be gone", store, |ds| ds.is_none()).await;
    }
    let deleting = start.elapsed();
    go_create(client, store, daemonset).await;
    GoRefresh { deleting, creating: start.elapsed() - deleting }
}

/// Creates the DaemonSet and waits, as the Go puller does, for `numberReady` to equal
/// `desiredNumberScheduled` (here also: more than zero, which the Go puller does not check).
async fn go_create(client: &Client, store: &Store, daemonset: &DaemonSet) {
    daemonsets(client).create(&PostParams::default(), daemonset).await.expect("create the DaemonSet");
    wait_for_store("every pod ready", store, |ds| {
        ds.is_some_and(|ds| {
            let desired = &ds["status"]["desiredNumberScheduled"];
            desired.as_i64().unwrap_or(0) > 0 && ds["status"]["numberReady"] == *desired
        })
    })
    .await;
}

/// Polls the store (not the API: the counts of API requests stay the puller's) every 20 ms.
async fn wait_for_store(what: &str, store: &Store, done: impl Fn(Option<&Value>) -> bool) {
    let key = ObjectKey::new(NAMESPACE, DAEMONSET);
    let deadline = Instant::now() + Duration::from_secs(1800);
    while !done(store.get(&DAEMONSETS, &key).as_deref()) {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn report_go_refreshes(refreshes: &[GoRefresh], scale: f64) {
    if refreshes.is_empty() {
        return;
    }
    let n = refreshes.len() as f64;
    let deleting: f64 = refreshes.iter().map(|r| r.deleting.as_secs_f64()).sum::<f64>() / n;
    let creating: f64 = refreshes.iter().map(|r| r.creating.as_secs_f64()).sum::<f64>() / n;
    println!(
        "  each refresh: deleting {deleting:.1} s real ({:.0} s simulated), re-creating until all ready {creating:.1} s real ({:.0} s simulated), on average",
        deleting * scale,
        creating * scale
    );
}

fn report(
    settings: &Settings,
    refreshes: u64,
    coverage: &CoverageReport,
    before: &CounterSnapshot,
    after: &CounterSnapshot,
) {
    let containers_per_pod = settings.images as u64 + 1;
    let window = coverage.window.as_secs_f64();
    let uncovered = coverage.uncovered_total.as_secs_f64();
    if refreshes > 0 {
        println!("  refreshes by kip (kip_refreshes_total): {refreshes}");
    }
    println!(
        "  caching pods: {} created, {} deleted; containers started in new pods: {} ({} per pod)",
        thousands(coverage.pods_created),
        thousands(coverage.pods_deleted),
        thousands(coverage.pods_created * containers_per_pod),
        containers_per_pod
    );
    println!("  container restarts in place (restartCount): {}", after.container_restarts - before.container_restarts);
    println!(
        "  kubelet manifest requests: {}; image downloads: {} ({})",
        thousands(after.manifest_requests - before.manifest_requests),
        thousands(after.pulls - before.pulls),
        gib(after.bytes_pulled - before.bytes_pulled)
    );
    println!(
        "  nodes without a running caching pod: {} of {} nodes, {} stretches, at most {} at once",
        coverage.nodes_with_gap, coverage.nodes, coverage.episodes, coverage.peak_uncovered
    );
    println!(
        "    node-time without one: {:.0} node-seconds real ({:.2}% of {} nodes x {:.0} s); per node {:.1} s real ({:.0} s simulated) on average, longest stretch {:.1} s real ({:.0} s simulated)",
        uncovered,
        100.0 * uncovered / (window * coverage.nodes.max(1) as f64),
        coverage.nodes,
        window,
        coverage.mean_per_node().as_secs_f64(),
        coverage.mean_per_node().as_secs_f64() * settings.scale,
        coverage.longest.as_secs_f64(),
        coverage.longest.as_secs_f64() * settings.scale
    );
}
