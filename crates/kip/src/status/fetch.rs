//! Reading the cache state from the cluster: the live DaemonSet (what is wanted), its pods, and
//! the nodes it selects. Nodes are read into a slim type holding only names, labels and image
//! names: a full Node is tens of KiB, mostly fields kip never reads.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::DaemonSet;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::ListParams;
use kube::{Api, Client};
use serde::Deserialize;

use super::compute::{CacheReport, ContainerFacts, NodeFacts, PodFacts, WantedImage, compute};

/// A Node with just what cache status needs.
#[derive(Clone, Debug, Deserialize)]
pub struct SlimNode {
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub status: Option<SlimNodeStatus>,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct SlimNodeStatus {
    #[serde(default)]
    pub images: Option<Vec<SlimImage>>,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct SlimImage {
    #[serde(default)]
    pub names: Option<Vec<String>>,
}

impl kube::Resource for SlimNode {
    type DynamicType = ();
    type Scope = k8s_openapi::ClusterResourceScope;

    fn kind(_: &()) -> std::borrow::Cow<'_, str> {
        "Node".into()
    }
    fn group(_: &()) -> std::borrow::Cow<'_, str> {
        "".into()
    }
    fn version(_: &()) -> std::borrow::Cow<'_, str> {
        "v1".into()
    }
    fn plural(_: &()) -> std::borrow::Cow<'_, str> {
        "nodes".into()
    }
    fn meta(&self) -> &ObjectMeta {
        &self.metadata
    }
    fn meta_mut(&mut self) -> &mut ObjectMeta {
        &mut self.metadata
    }
}

impl SlimNode {
    pub fn facts(&self) -> NodeFacts {
        NodeFacts {
            name: self.metadata.name.clone().unwrap_or_default(),
            image_names: self
                .status
                .iter()
                .flat_map(|s| s.images.iter().flatten())
                .flat_map(|i| i.names.iter().flatten().cloned())
                .collect(),
        }
    }
}

/// The images a DaemonSet caches, whatever its caching mode (kip's own containers excluded).
pub fn wanted_images(daemonset: &DaemonSet) -> Vec<WantedImage> {
    daemonset
        .spec
        .as_ref()
        .and_then(|s| s.template.spec.as_ref())
        .map(|pod| {
            crate::render::cached_images(pod)
                .iter()
                .map(|c| WantedImage { name: c.name.clone(), image: c.image.clone().unwrap_or_default(), digest: None })
                .collect()
        })
        .unwrap_or_default()
}

pub fn pod_facts(pod: &Pod) -> Option<PodFacts> {
    let node = pod.spec.as_ref()?.node_name.clone()?;
    let containers = pod
        .status
        .iter()
        .flat_map(|s| s.init_container_statuses.iter().flatten().chain(s.container_statuses.iter().flatten()))
        .map(|c| (c.name.clone(), ContainerFacts { image_id: Some(c.image_id.clone()).filter(|id| !id.is_empty()) }))
        .collect();
    Some(PodFacts { node, containers })
}

fn selects(node_selector: &BTreeMap<String, String>, node: &SlimNode) -> bool {
    let labels = node.metadata.labels.clone().unwrap_or_default();
    node_selector.iter().all(|(k, v)| labels.get(k) == Some(v))
}

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("DaemonSet {namespace}/{name} not found: is kip running with this NAMESPACE and DAEMONSET_NAME?")]
    NoDaemonSet { namespace: String, name: String },
    #[error("reading from the Kubernetes API failed: {0}")]
    Api(#[from] kube::Error),
}

/// The cache report of a live DaemonSet. Selected nodes: those matching its nodeSelector, plus
/// any node running one of its pods (node affinity and taints narrow the selection further;
/// a node running a pod is selected by definition).
pub async fn fetch(client: &Client, namespace: &str, daemonset: &str) -> Result<CacheReport, FetchError> {
    let daemonsets: Api<DaemonSet> = Api::namespaced(client.clone(), namespace);
    let ds = daemonsets
        .get_opt(daemonset)
        .await?
        .ok_or_else(|| FetchError::NoDaemonSet { namespace: namespace.into(), name: daemonset.into() })?;
    let selector = ds
        .spec
        .as_ref()
        .and_then(|s| s.selector.match_labels.as_ref())
        .map(|labels| labels.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(","))
        .unwrap_or_default();
    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let pods: Vec<PodFacts> = pods
        .list(&ListParams::default().labels(&selector))
        .await?
        .items
        .iter()
        .filter(|p| p.metadata.owner_references.iter().flatten().any(|o| Some(&o.uid) == ds.metadata.uid.as_ref()))
        .filter_map(pod_facts)
        .collect();
    let node_selector = ds
        .spec
        .as_ref()
        .and_then(|s| s.template.spec.as_ref())
        .and_then(|p| p.node_selector.clone())
        .unwrap_or_default();
    let nodes: Api<SlimNode> = Api::all(client.clone());
    let nodes: Vec<NodeFacts> = nodes
        .list(&ListParams::default())
        .await?
        .items
        .iter()
        .filter(|n| selects(&node_selector, n) || pods.iter().any(|p| Some(&p.node) == n.metadata.name.as_ref()))
        .map(SlimNode::facts)
        .collect();
    Ok(compute(&wanted_images(&ds), &nodes, &pods))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn slim_node_keeps_names_and_drops_the_rest() {
        let node: SlimNode = serde_json::from_value(json!({
            "apiVersion": "v1", "kind": "Node",
            "metadata": {"name": "node-1", "labels": {"a": "b"}},
            "spec": {"podCIDR": "10.0.0.0/24"},
            "status": {"capacity": {"cpu": "4"}, "images": [
                {"names": ["docker.io/library/nginx@sha256:ab", "docker.io/library/nginx:1.25"], "sizeBytes": 1},
                {"sizeBytes": 2}
            ]}
        }))
        .expect("node");
        let facts = node.facts();
        assert_eq!(facts.name, "node-1");
        assert_eq!(facts.image_names.len(), 2);
        assert!(facts.image_names.contains("docker.io/library/nginx:1.25"));
        assert!(selects(&BTreeMap::from([("a".into(), "b".into())]), &node));
        assert!(!selects(&BTreeMap::from([("a".into(), "c".into())]), &node));
    }
}
