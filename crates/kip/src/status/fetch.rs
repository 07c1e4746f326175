//! Reading the cache state from the cluster once (`kip status`): the live DaemonSet (what is
//! wanted, and the digests kip recorded on it), its pods, and the nodes it selects, all read
//! into slim types.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::DaemonSet;
use k8s_openapi::api::core::v1::Pod;
use kube::api::ListParams;
use kube::{Api, Client};

use super::compute::{CacheReport, ContainerFacts, NodeFacts, PodFacts, WantedImage, compute};
pub use super::slim::SlimNode;
use super::slim::SlimPod;
use crate::render::DIGESTS_ANNOTATION;

/// The images a DaemonSet caches (in any caching mode: see `render::cached_images`), with the
/// digest kip recorded for each, when it did.
pub fn wanted_images(daemonset: &DaemonSet) -> Vec<WantedImage> {
    let digests: BTreeMap<String, String> = daemonset
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(DIGESTS_ANNOTATION))
        .and_then(|text| serde_json::from_str(text).ok())
        .unwrap_or_default();
    daemonset
        .spec
        .as_ref()
        .and_then(|s| s.template.spec.as_ref())
        .map(|pod| {
            crate::render::cached_images(pod)
                .iter()
                .map(|c| WantedImage {
                    name: c.name.clone(),
                    image: c.image.clone().unwrap_or_default(),
                    digest: digests.get(&c.name).cloned(),
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The facts of a full Pod (for callers that hold one already).
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

/// Whether a node's labels match a node selector.
pub fn selects(node_selector: &BTreeMap<String, String>, labels: Option<&BTreeMap<String, String>>) -> bool {
    node_selector.iter().all(|(k, v)| labels.and_then(|l| l.get(k)) == Some(v))
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
    let uid = ds.metadata.uid.clone().unwrap_or_default();
    let pods: Api<SlimPod> = Api::namespaced(client.clone(), namespace);
    let pods: Vec<PodFacts> = pods
        .list(&ListParams::default().labels(&selector))
        .await?
        .items
        .iter()
        .filter(|p| p.owned_by(&uid))
        .filter_map(SlimPod::facts)
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
        .filter(|n| selects(&node_selector, n.metadata.labels.as_ref()) || pods.iter().any(|p| p.node == n.name()))
        .map(SlimNode::facts)
        .collect();
    Ok(compute(&wanted_images(&ds), &nodes, &pods))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn node_selectors_match_labels() {
        let labels = BTreeMap::from([("a".to_string(), "b".to_string())]);
        assert!(selects(&BTreeMap::new(), None));
        assert!(selects(&BTreeMap::from([("a".into(), "b".into())]), Some(&labels)));
        assert!(!selects(&BTreeMap::from([("a".into(), "c".into())]), Some(&labels)));
        assert!(!selects(&BTreeMap::from([("a".into(), "b".into())]), None));
    }

    #[test]
    fn wanted_images_carry_the_recorded_digests() {
        let ds: DaemonSet = serde_json::from_value(json!({
            "metadata": {"name": "ds", "annotations": {DIGESTS_ANNOTATION: "{\"a\":\"sha256:1\"}"}},
            "spec": {"selector": {}, "template": {"spec": {
                "initContainers": [{"name": "copy-sleep", "image": "kip"}],
                "containers": [{"name": "a", "image": "reg.io/a:1@sha256:1"}, {"name": "b", "image": "reg.io/b:1"}]
            }}}
        }))
        .expect("daemonset");
        let wanted = wanted_images(&ds);
        assert_eq!(
            wanted,
            [
                WantedImage { name: "a".into(), image: "reg.io/a:1@sha256:1".into(), digest: Some("sha256:1".into()) },
                WantedImage { name: "b".into(), image: "reg.io/b:1".into(), digest: None },
            ]
        );
    }
}
