//! How long each node went without a running caching pod: the store's live events are
//! followed in this process (no API requests, so the counts of requests stay kip's), and for
//! every node the time with no caching pod that is Running, Ready and not terminating is
//! added up. A node is covered as soon as one such pod runs on it.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use kip_sim::controllers::PODS;
use kip_sim::controllers::cache::PodView;
use kip_sim::store::{EventType, Store};
use parking_lot::Mutex;
use serde_json::Value;
use tokio::sync::broadcast::error::RecvError;
use tokio::time::Instant;

/// The label every caching pod carries.
const CACHING_POD_LABEL: (&str, &str) = ("app.kubernetes.io/name", "image-puller");

#[derive(Debug, Default)]
struct NodeCoverage {
    serving_pods: u32,
    uncovered_since: Option<Instant>,
    uncovered_total: Duration,
    longest: Duration,
    episodes: u32,
}

#[derive(Debug)]
struct PodCoverage {
    node: Option<String>,
    serving: bool,
}

#[derive(Debug)]
struct State {
    namespace: String,
    nodes: HashMap<String, NodeCoverage>,
    pods: HashMap<String, PodCoverage>,
    since: Instant,
    pods_created: u64,
    pods_deleted: u64,
    peak_uncovered: usize,
    lagged: u64,
}

/// What the tracker saw over a window.
#[derive(Clone, Debug)]
pub struct CoverageReport {
    pub window: Duration,
    pub nodes: usize,
    /// Node-time without a caching pod, summed over the nodes.
    pub uncovered_total: Duration,
    /// The longest single stretch a node spent without one.
    pub longest: Duration,
    /// Nodes that were without one at some point.
    pub nodes_with_gap: usize,
    /// Stretches without one, over all nodes.
    pub episodes: u64,
    /// The most nodes without one at the same time.
    pub peak_uncovered: usize,
    pub pods_created: u64,
    pub pods_deleted: u64,
    /// Store events missed because this process fell behind (the figures are then wrong).
    pub lagged: u64,
}

impl CoverageReport {
    pub fn mean_per_node(&self) -> Duration {
        self.uncovered_total.checked_div(self.nodes.max(1) as u32).unwrap_or_default()
    }
}

pub struct CoverageTracker {
    state: Arc<Mutex<State>>,
    task: tokio::task::JoinHandle<()>,
}

impl CoverageTracker {
    /// Follows the caching pods in `namespace` on `nodes` from now on; every node counts as
    /// uncovered until a caching pod runs on it.
    pub fn start(store: &Store, namespace: &str, nodes: impl IntoIterator<Item = String>) -> CoverageTracker {
        let now = Instant::now();
        let snapshot = store.snapshot(&PODS, Some(namespace));
        let nodes: HashMap<String, NodeCoverage> = nodes
            .into_iter()
            .map(|name| (name, NodeCoverage { uncovered_since: Some(now), ..Default::default() }))
            .collect();
        let peak_uncovered = nodes.len();
        let mut state = State {
            namespace: namespace.to_string(),
            nodes,
            pods: HashMap::new(),
            since: now,
            pods_created: 0,
            pods_deleted: 0,
            peak_uncovered,
            lagged: 0,
        };
        for pod in &snapshot.objects {
            state.apply(pod, EventType::Added, now);
        }
        let state = Arc::new(Mutex::new(state));
        let mut live = snapshot.live;
        let shared = state.clone();
        let task = tokio::spawn(async move {
            loop {
                match live.recv().await {
                    Ok(event) if event.resource == *PODS => {
                        shared.lock().apply(&event.object, event.event_type, Instant::now());
                    }
                    Ok(_) => {}
                    Err(RecvError::Lagged(missed)) => shared.lock().lagged += missed,
                    Err(RecvError::Closed) => return,
                }
            }
        });
        CoverageTracker { state, task }
    }

    /// Starts a new window now: totals and counts go back to zero; nodes without a pod now
    /// count from now.
    pub fn restart_window(&self) {
        let now = Instant::now();
        let mut state = self.state.lock();
        state.since = now;
        state.pods_created = 0;
        state.pods_deleted = 0;
        for node in state.nodes.values_mut() {
            node.uncovered_total = Duration::ZERO;
            node.longest = Duration::ZERO;
            node.episodes = 0;
            if node.uncovered_since.is_some() {
                node.uncovered_since = Some(now);
            }
        }
        state.peak_uncovered = state.uncovered_now();
    }

    /// Nodes without a running caching pod right now.
    pub fn uncovered_now(&self) -> usize {
        self.state.lock().uncovered_now()
    }

    /// The window so far (stretches still open count up to now).
    pub fn report(&self) -> CoverageReport {
        let now = Instant::now();
        let state = self.state.lock();
        let mut report = CoverageReport {
            window: now.duration_since(state.since),
            nodes: state.nodes.len(),
            uncovered_total: Duration::ZERO,
            longest: Duration::ZERO,
            nodes_with_gap: 0,
            episodes: 0,
            peak_uncovered: state.peak_uncovered,
            pods_created: state.pods_created,
            pods_deleted: state.pods_deleted,
            lagged: state.lagged,
        };
        for node in state.nodes.values() {
            let open = node.uncovered_since.map(|at| now.duration_since(at)).unwrap_or_default();
            let total = node.uncovered_total + open;
            report.uncovered_total += total;
            report.longest = report.longest.max(node.longest).max(open);
            report.episodes += u64::from(node.episodes) + u64::from(node.uncovered_since.is_some());
            report.nodes_with_gap += usize::from(!total.is_zero());
        }
        report
    }
}

impl Drop for CoverageTracker {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl State {
    fn uncovered_now(&self) -> usize {
        self.nodes.values().filter(|n| n.uncovered_since.is_some()).count()
    }

    fn apply(&mut self, pod: &Value, event: EventType, now: Instant) {
        let view = PodView::from_object(pod);
        if view.key.namespace != self.namespace
            || view.labels.get(CACHING_POD_LABEL.0).map(String::as_str) != Some(CACHING_POD_LABEL.1)
        {
            return;
        }
        let serving = event != EventType::Deleted && !view.terminating && view.phase == "Running" && view.ready;
        let previous = match event {
            EventType::Deleted => {
                self.pods_deleted += 1;
                self.pods.remove(&view.uid)
            }
            _ => {
                let entry = self.pods.entry(view.uid.clone());
                let known = matches!(entry, std::collections::hash_map::Entry::Occupied(_));
                let pod = entry.or_insert(PodCoverage { node: None, serving: false });
                if !known {
                    self.pods_created += 1;
                }
                if view.node_name.is_some() {
                    pod.node = view.node_name.clone();
                }
                let before = PodCoverage { node: pod.node.clone(), serving: pod.serving };
                pod.serving = serving;
                Some(before)
            }
        };
        let Some(previous) = previous else { return };
        if previous.serving == serving {
            return;
        }
        let Some(node) = previous.node.as_ref().and_then(|name| self.nodes.get_mut(name)) else { return };
        if serving {
            node.serving_pods += 1;
            if let Some(since) = node.uncovered_since.take() {
                let stretch = now.duration_since(since);
                node.uncovered_total += stretch;
                node.longest = node.longest.max(stretch);
                node.episodes += 1;
            }
        } else {
            node.serving_pods = node.serving_pods.saturating_sub(1);
            if node.serving_pods == 0 && node.uncovered_since.is_none() {
                node.uncovered_since = Some(now);
                let uncovered = self.uncovered_now();
                self.peak_uncovered = self.peak_uncovered.max(uncovered);
            }
        }
    }
}
