//! The leader's view of the cache, off the reconciliation's path: Nodes (slim) and the caching
//! pods are watched, and about once a second after a change the report is computed (by digest
//! where known) and published: metrics with bounded labels (`kip_nodes_selected`,
//! `kip_nodes_fully_cached`, `kip_image_nodes_cached{image}`), an Event when nodes become fully
//! cached (aggregated: at most one every [`EVENT_SPACING`]), and the warm signal.
//!
//! Listing and watching Nodes needs a ClusterRole that installs leave out by default; without
//! it kip says so once, exports no cache metrics, and tries again now and then.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt as _;
use kube::Api;
use kube::runtime::{WatchStreamExt as _, watcher};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use super::events::{Notifier, daemonset_reference};
use super::reconcile::DAEMONSET_SELECTOR;
use super::warm::WarmSignal;
use crate::config::Config;
use crate::status::live::{Interest, LiveIndex};
use crate::status::{CacheReport, SlimNode, SlimPod, WantedImage};
use crate::telemetry::Metrics;

/// How often the report is recomputed while things change.
const RECOMPUTE_EVERY: Duration = Duration::from_secs(1);
/// The least time between two "nodes cached" events.
pub const EVENT_SPACING: Duration = Duration::from_secs(30);
/// How long to wait before trying again to read nodes after a refusal.
const FORBIDDEN_RETRY: Duration = Duration::from_secs(600);
/// Node names listed in an event before the rest are counted.
const LISTED: usize = 5;

/// Everything the cache view needs.
pub struct CacheStatus {
    pub client: kube::Client,
    pub config: watch::Receiver<Arc<Config>>,
    /// The digests in force, as last applied to the DaemonSet.
    pub digests: watch::Receiver<Arc<BTreeMap<String, String>>>,
    pub metrics: Metrics,
    pub notifier: Notifier,
}

enum Update {
    Node(Result<watcher::Event<SlimNode>, watcher::Error>),
    Pod(Result<watcher::Event<SlimPod>, watcher::Error>),
}

/// Why watching stopped.
enum Ended {
    Forbidden(String),
    Closed,
}

impl CacheStatus {
    /// Watches until `stop`, starting over when the configuration changes.
    pub async fn run(mut self, stop: CancellationToken) {
        let mut announcer = Announcer::default();
        // Without a watched ConfigMap the configuration never changes.
        let mut config_open = true;
        loop {
            let config = self.config.borrow_and_update().clone();
            let mut config_changes = self.config.clone();
            let ended = tokio::select! {
                _ = stop.cancelled() => break,
                changed = config_changes.changed(), if config_open => {
                    config_open = changed.is_ok();
                    continue;
                }
                ended = self.watch(&config, &mut announcer) => ended,
            };
            self.metrics.clear_cache_status();
            let pause = match ended {
                Ended::Forbidden(what) => {
                    warn!(
                        "kip may not {what}, so it exports no cache status metrics and gives nodes no warm \
                         signal: install kip's node-reading ClusterRole (see the README) for them; trying again \
                         in {}s",
                        FORBIDDEN_RETRY.as_secs()
                    );
                    FORBIDDEN_RETRY
                }
                Ended::Closed => RECOMPUTE_EVERY,
            };
            tokio::select! {
                _ = stop.cancelled() => break,
                changed = self.config.changed(), if config_open => config_open = changed.is_ok(),
                _ = tokio::time::sleep(pause) => {}
            }
        }
        self.metrics.clear_cache_status();
    }

    async fn watch(&self, config: &Config, announcer: &mut Announcer) -> Ended {
        let mut index = LiveIndex::new(Interest::of(config));
        let nodes = watcher(Api::<SlimNode>::all(self.client.clone()), watcher::Config::default())
            .default_backoff()
            .map(Update::Node);
        let pod_selector = watcher::Config::default().labels(DAEMONSET_SELECTOR);
        let pods = watcher(Api::<SlimPod>::namespaced(self.client.clone(), &config.namespace), pod_selector)
            .default_backoff()
            .map(Update::Pod);
        let mut updates = std::pin::pin!(futures::stream::select(nodes, pods));
        let mut warm =
            WarmSignal::new(self.client.clone(), config.warm_node_label.clone(), config.startup_taint.clone());
        let mut digests = self.digests.clone();
        let mut digests_open = true;
        let mut tick = tokio::time::interval(RECOMPUTE_EVERY);
        let (mut nodes_listed, mut pods_listed, mut dirty) = (false, false, true);
        loop {
            tokio::select! {
                update = updates.next() => {
                    match update {
                        None => return Ended::Closed,
                        Some(Update::Node(Ok(event))) => nodes_listed |= apply_node(&mut index, event),
                        Some(Update::Pod(Ok(event))) => pods_listed |= apply_pod(&mut index, event),
                        Some(Update::Node(Err(error))) => {
                            if forbidden(&error) {
                                return Ended::Forbidden("list and watch nodes".into());
                            }
                            debug!(%error, "watching nodes failed; retrying");
                        }
                        Some(Update::Pod(Err(error))) => {
                            if forbidden(&error) {
                                return Ended::Forbidden(format!("list and watch pods in {}", config.namespace));
                            }
                            debug!(%error, "watching the caching pods failed; retrying");
                        }
                    }
                    dirty = true;
                }
                changed = digests.changed(), if digests_open => {
                    digests_open = changed.is_ok();
                    dirty = true;
                }
                _ = tick.tick() => {
                    if dirty && nodes_listed && pods_listed {
                        dirty = false;
                        let wanted = wanted(config, &digests.borrow());
                        let report = index.report(&wanted);
                        self.publish(config, &report, announcer).await;
                        if let Some(warm) = warm.as_mut() {
                            warm.apply(&report, &index).await;
                        }
                    }
                }
            }
        }
    }

    async fn publish(&self, config: &Config, report: &CacheReport, announcer: &mut Announcer) {
        let per_image: Vec<(String, usize)> =
            report.images.iter().map(|i| (i.name.clone(), i.cached_on.len())).collect();
        self.metrics.set_cache_status(report.nodes.len(), report.fully_cached.len(), &per_image);
        if let Some(note) = announcer.observe(report, Instant::now()) {
            info!("{note}");
            let daemonset = daemonset_reference(config);
            self.notifier.daemonset(&daemonset, "NodesCached", note).await;
        }
    }
}

/// The configured images with the digests in force.
fn wanted(config: &Config, digests: &BTreeMap<String, String>) -> Vec<WantedImage> {
    config
        .images
        .iter()
        .map(|c| WantedImage { name: c.name.clone(), image: c.image.clone(), digest: digests.get(&c.name).cloned() })
        .collect()
}

/// Applies a node event; true once the initial list is complete.
fn apply_node(index: &mut LiveIndex, event: watcher::Event<SlimNode>) -> bool {
    match event {
        watcher::Event::Init => index.begin_node_relist(),
        watcher::Event::InitApply(node) | watcher::Event::Apply(node) => index.upsert_node(&node),
        watcher::Event::Delete(node) => index.remove_node(node.name()),
        watcher::Event::InitDone => {
            index.end_node_relist();
            return true;
        }
    }
    false
}

fn apply_pod(index: &mut LiveIndex, event: watcher::Event<SlimPod>) -> bool {
    match event {
        watcher::Event::Init => index.begin_pod_relist(),
        watcher::Event::InitApply(pod) | watcher::Event::Apply(pod) => index.upsert_pod(&pod),
        watcher::Event::Delete(pod) => index.remove_pod(pod.metadata.name.as_deref().unwrap_or_default()),
        watcher::Event::InitDone => {
            index.end_pod_relist();
            return true;
        }
    }
    false
}

fn forbidden(error: &watcher::Error) -> bool {
    match error {
        watcher::Error::InitialListFailed(kube::Error::Api(status))
        | watcher::Error::WatchStartFailed(kube::Error::Api(status))
        | watcher::Error::WatchFailed(kube::Error::Api(status)) => status.code == 403,
        watcher::Error::WatchError(status) => status.code == 403,
        _ => false,
    }
}

/// Turns "these nodes are fully cached now" into few events: nodes that became fully cached
/// are collected and announced together, at most once per [`EVENT_SPACING`]. The first report
/// announces every node already fully cached (one event, also after a change of leader).
#[derive(Debug, Default)]
pub struct Announcer {
    known: BTreeSet<String>,
    pending: BTreeSet<String>,
    last_sent: Option<Instant>,
}

impl Announcer {
    /// The note of the event to record now, if any.
    pub fn observe(&mut self, report: &CacheReport, now: Instant) -> Option<String> {
        let fully: BTreeSet<String> = report.fully_cached.iter().cloned().collect();
        self.pending.extend(fully.difference(&self.known).cloned());
        self.pending.retain(|node| fully.contains(node));
        self.known = fully;
        let due = self.last_sent.is_none_or(|at| now.duration_since(at) >= EVENT_SPACING);
        if self.pending.is_empty() || !due {
            return None;
        }
        self.last_sent = Some(now);
        let nodes: Vec<String> = std::mem::take(&mut self.pending).into_iter().collect();
        let listed = if nodes.len() > LISTED {
            format!("{} and {} more", nodes[..LISTED].join(", "), nodes.len() - LISTED)
        } else {
            nodes.join(", ")
        };
        let (count, plural) = (nodes.len(), if nodes.len() == 1 { "node holds" } else { "nodes hold" });
        Some(format!(
            "{count} {plural} every cached image now: {listed} ({} of {} selected nodes are fully cached)",
            report.fully_cached.len(),
            report.nodes.len()
        ))
    }
}

#[cfg(test)]
#[path = "cache_status_tests.rs"]
mod tests;
