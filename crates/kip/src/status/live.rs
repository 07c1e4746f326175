//! The cache state kept up to date from watches of Nodes and caching pods, for `kip run`. Only
//! what the report and the warm signal read is kept per node: the image names of the cached
//! repositories (a node lists up to 50 images, most of them others'), the labels the node
//! selector and the warm label use, and the taints when the startup taint is among them. At
//! 5,000 nodes this is a few MiB where full Node objects would take hundreds.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::core::v1::Taint;

use super::compute::{CacheReport, NodeFacts, PodFacts, WantedImage, compute};
use super::fetch::selects;
use super::slim::{SlimNode, SlimPod};
use crate::config::{Config, ImageReference};

/// What of a node is worth keeping, given the configuration.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Interest {
    /// Repositories of the cached images, normalized and as written.
    repositories: BTreeSet<String>,
    label_keys: BTreeSet<String>,
    startup_taint: Option<String>,
    node_selector: BTreeMap<String, String>,
    daemonset: String,
}

impl Interest {
    pub fn of(config: &Config) -> Interest {
        let mut repositories = BTreeSet::new();
        for cached in &config.images {
            repositories.insert(repository_of(&cached.image).to_string());
            if let Ok(reference) = ImageReference::parse(&cached.image) {
                repositories.insert(reference.repository());
            }
        }
        let label_keys = config.node_selector.keys().cloned().chain(config.warm_node_label.clone()).collect();
        Interest {
            repositories,
            label_keys,
            startup_taint: config.startup_taint.clone(),
            node_selector: config.node_selector.clone(),
            daemonset: config.daemonset_name.clone(),
        }
    }
}

/// `repo` of `repo:tag`, `repo@digest` or `repo`.
fn repository_of(name: &str) -> &str {
    let name = name.split('@').next().unwrap_or(name);
    match name.rsplit_once(':') {
        Some((repository, tag)) if !tag.contains('/') => repository,
        _ => name,
    }
}

/// One node, slimmed to the interest.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LiveNode {
    pub facts: NodeFacts,
    pub labels: BTreeMap<String, String>,
    /// All the node's taints when one has the startup taint's key (to remove it alone), else
    /// empty.
    pub taints: Vec<Taint>,
    pub resource_version: Option<String>,
}

impl LiveNode {
    pub fn has_taint(&self, key: &str) -> bool {
        self.taints.iter().any(|t| t.key == key)
    }
}

/// The nodes and caching pods, as last seen.
#[derive(Debug, Default)]
pub struct LiveIndex {
    interest: Interest,
    nodes: BTreeMap<String, LiveNode>,
    /// Caching pods by pod name.
    pods: BTreeMap<String, PodFacts>,
    /// Names seen since a relist began, per kind.
    relisting_nodes: Option<BTreeSet<String>>,
    relisting_pods: Option<BTreeSet<String>>,
}

impl LiveIndex {
    pub fn new(interest: Interest) -> LiveIndex {
        LiveIndex { interest, ..LiveIndex::default() }
    }

    pub fn upsert_node(&mut self, node: &SlimNode) {
        let name = node.name().to_string();
        let interest = &self.interest;
        let image_names =
            node.image_names().filter(|n| interest.repositories.contains(repository_of(n))).cloned().collect();
        let labels = node
            .metadata
            .labels
            .iter()
            .flatten()
            .filter(|(k, _)| interest.label_keys.contains(*k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let taints = match &interest.startup_taint {
            Some(key) if node.taints().iter().any(|t| &t.key == key) => node.taints().to_vec(),
            _ => Vec::new(),
        };
        if let Some(seen) = &mut self.relisting_nodes {
            seen.insert(name.clone());
        }
        let entry = LiveNode {
            facts: NodeFacts { name: name.clone(), image_names },
            labels,
            taints,
            resource_version: node.metadata.resource_version.clone(),
        };
        self.nodes.insert(name, entry);
    }

    pub fn remove_node(&mut self, name: &str) {
        self.nodes.remove(name);
    }

    /// A relist of nodes starts: nodes not listed again are dropped at its end.
    pub fn begin_node_relist(&mut self) {
        self.relisting_nodes = Some(BTreeSet::new());
    }

    pub fn end_node_relist(&mut self) {
        if let Some(seen) = self.relisting_nodes.take() {
            self.nodes.retain(|name, _| seen.contains(name));
        }
    }

    /// Records a pod if it is a caching pod of the DaemonSet; forgets it otherwise.
    pub fn upsert_pod(&mut self, pod: &SlimPod) {
        let name = pod.metadata.name.clone().unwrap_or_default();
        if let Some(seen) = &mut self.relisting_pods {
            seen.insert(name.clone());
        }
        match pod.facts().filter(|_| pod.owned_by_daemonset(&self.interest.daemonset)) {
            Some(facts) => {
                self.pods.insert(name, facts);
            }
            None => {
                self.pods.remove(&name);
            }
        }
    }

    pub fn remove_pod(&mut self, name: &str) {
        self.pods.remove(name);
    }

    pub fn begin_pod_relist(&mut self) {
        self.relisting_pods = Some(BTreeSet::new());
    }

    pub fn end_pod_relist(&mut self) {
        if let Some(seen) = self.relisting_pods.take() {
            self.pods.retain(|name, _| seen.contains(name));
        }
    }

    pub fn node(&self, name: &str) -> Option<&LiveNode> {
        self.nodes.get(name)
    }

    pub fn nodes(&self) -> impl Iterator<Item = &LiveNode> {
        self.nodes.values()
    }

    /// The report over the selected nodes: those the node selector matches, and those running
    /// a caching pod.
    pub fn report(&self, wanted: &[WantedImage]) -> CacheReport {
        let with_pods: BTreeSet<&str> = self.pods.values().map(|p| p.node.as_str()).collect();
        let nodes = self
            .nodes
            .values()
            .filter(|n| {
                selects(&self.interest.node_selector, Some(&n.labels)) || with_pods.contains(n.facts.name.as_str())
            })
            .map(|n| &n.facts);
        compute(wanted, nodes, self.pods.values())
    }
}

#[cfg(test)]
#[path = "live_tests.rs"]
mod tests;
