//! The node "warm" signal (off by default): with `KIP_WARM_NODE_LABEL`, a node holding every
//! cached image gets that label set to `true`, and loses it when it no longer holds them; with
//! `KIP_STARTUP_TAINT`, that taint is removed from a node once it holds every image (and never
//! put back: it marks a node that has not been warm yet). Schedulers and autoscaled workloads
//! can then wait for warm nodes.
//!
//! Writes are strategic merge patches with field manager `kip` that name only kip's label, and
//! for the taint the node's other taints unchanged, guarded by the node's resourceVersion so that
//! a concurrent change to the taints is never overwritten (the patch fails and is redone from
//! the newer node).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use futures::StreamExt as _;
use k8s_openapi::api::core::v1::{Node, Taint};
use kube::Api;
use kube::api::{Patch, PatchParams};
use serde_json::{Value, json};
use tracing::{debug, info, warn};

use super::reconcile::FIELD_MANAGER;
use crate::status::CacheReport;
use crate::status::live::LiveIndex;

/// The label's value on a warm node.
pub const WARM: &str = "true";
/// Patches sent at once.
const CONCURRENCY: usize = 8;
/// Patches per pass, so that thousands of nodes turning warm at once are spread out.
const MAX_PER_PASS: usize = 200;
/// A change not yet seen in the watch is not sent again before this.
const IN_FLIGHT_FOR: Duration = Duration::from_secs(15);
/// After a refusal for lack of permission, wait this long before trying again.
const FORBIDDEN_PAUSE: Duration = Duration::from_secs(300);

/// One write to a node.
#[derive(Clone, Debug, PartialEq)]
pub enum NodeChange {
    Label {
        node: String,
    },
    Unlabel {
        node: String,
    },
    /// Removes the startup taint: `remaining` are the node's other taints, as of
    /// `resource_version`.
    Untaint {
        node: String,
        remaining: Vec<Taint>,
        resource_version: Option<String>,
    },
}

impl NodeChange {
    pub fn node(&self) -> &str {
        match self {
            NodeChange::Label { node } | NodeChange::Unlabel { node } | NodeChange::Untaint { node, .. } => node,
        }
    }

    fn patch(&self, label: Option<&str>) -> Value {
        match self {
            NodeChange::Label { .. } => json!({"metadata": {"labels": {label.unwrap_or_default(): WARM}}}),
            NodeChange::Unlabel { .. } => json!({"metadata": {"labels": {label.unwrap_or_default(): null}}}),
            NodeChange::Untaint { remaining, resource_version, .. } => json!({
                "metadata": {"resourceVersion": resource_version},
                "spec": {"taints": remaining},
            }),
        }
    }
}

/// The writes that bring nodes in line with the report.
pub fn changes(report: &CacheReport, index: &LiveIndex, label: Option<&str>, taint: Option<&str>) -> Vec<NodeChange> {
    let warm: std::collections::BTreeSet<&str> = report.fully_cached.iter().map(String::as_str).collect();
    let mut changes = Vec::new();
    for node in index.nodes() {
        let name = node.facts.name.as_str();
        let is_warm = warm.contains(name);
        if let Some(label) = label {
            match (is_warm, node.labels.get(label).map(String::as_str)) {
                (true, Some(WARM)) | (false, None) => {}
                (true, _) => changes.push(NodeChange::Label { node: name.to_string() }),
                (false, Some(_)) => changes.push(NodeChange::Unlabel { node: name.to_string() }),
            }
        }
        if let Some(taint) = taint
            && is_warm
            && node.has_taint(taint)
        {
            changes.push(NodeChange::Untaint {
                node: name.to_string(),
                remaining: node.taints.iter().filter(|t| t.key != taint).cloned().collect(),
                resource_version: node.resource_version.clone(),
            });
        }
    }
    changes
}

/// Sends node writes, skipping those already under way.
pub struct WarmSignal {
    api: Api<Node>,
    label: Option<String>,
    taint: Option<String>,
    in_flight: HashMap<String, (NodeChange, Instant)>,
    paused_until: Option<Instant>,
}

impl WarmSignal {
    /// `None` when neither label nor taint is configured.
    pub fn new(client: kube::Client, label: Option<String>, taint: Option<String>) -> Option<WarmSignal> {
        (label.is_some() || taint.is_some()).then(|| WarmSignal {
            api: Api::all(client),
            label,
            taint,
            in_flight: HashMap::new(),
            paused_until: None,
        })
    }

    /// Brings the nodes in line with `report`, a bounded number of writes at a time.
    pub async fn apply(&mut self, report: &CacheReport, index: &LiveIndex) {
        let now = Instant::now();
        if self.paused_until.is_some_and(|until| now < until) {
            return;
        }
        self.in_flight.retain(|_, (_, since)| now.duration_since(*since) < IN_FLIGHT_FOR);
        let wanted = changes(report, index, self.label.as_deref(), self.taint.as_deref());
        let due: Vec<NodeChange> = wanted
            .into_iter()
            .filter(|change| self.in_flight.get(change.node()).is_none_or(|(sent, _)| sent != change))
            .take(MAX_PER_PASS)
            .collect();
        for change in &due {
            self.in_flight.insert(change.node().to_string(), (change.clone(), now));
        }
        let label = self.label.clone();
        let api = self.api.clone();
        let results: Vec<(NodeChange, Result<(), kube::Error>)> = futures::stream::iter(due)
            .map(|change| {
                let api = api.clone();
                let patch = change.patch(label.as_deref());
                async move {
                    let params = PatchParams { field_manager: Some(FIELD_MANAGER.into()), ..Default::default() };
                    let result = api.patch(change.node(), &params, &Patch::Strategic(patch)).await.map(|_| ());
                    (change, result)
                }
            })
            .buffer_unordered(CONCURRENCY)
            .collect()
            .await;
        let mut done: HashMap<&'static str, usize> = HashMap::new();
        for (change, result) in results {
            match result {
                Ok(()) => {
                    debug!(node = change.node(), change = kind(&change), "node warm signal updated");
                    *done.entry(kind(&change)).or_default() += 1;
                }
                Err(kube::Error::Api(status)) if status.code == 403 => {
                    warn!(
                        node = change.node(),
                        "kip may not patch nodes, so the warm label and startup taint are left alone: install \
                         kip's node-patching ClusterRole (see the README), or unset KIP_WARM_NODE_LABEL and \
                         KIP_STARTUP_TAINT"
                    );
                    self.paused_until = Some(Instant::now() + FORBIDDEN_PAUSE);
                    self.in_flight.clear();
                    return;
                }
                Err(error) => {
                    // A conflict (the node changed meanwhile) or an outage: redone from the
                    // next state the watch shows.
                    debug!(node = change.node(), %error, "node warm signal update failed; will retry");
                    self.in_flight.remove(change.node());
                }
            }
        }
        if !done.is_empty() {
            info!(
                labelled = done.get("labelled").copied().unwrap_or(0),
                unlabelled = done.get("unlabelled").copied().unwrap_or(0),
                untainted = done.get("untainted").copied().unwrap_or(0),
                "updated the nodes' warm signal"
            );
        }
    }
}

/// For logs: which kind of change, without the taint list.
fn kind(change: &NodeChange) -> &'static str {
    match change {
        NodeChange::Label { .. } => "labelled",
        NodeChange::Unlabel { .. } => "unlabelled",
        NodeChange::Untaint { .. } => "untainted",
    }
}

#[cfg(test)]
#[path = "warm_tests.rs"]
mod tests;
