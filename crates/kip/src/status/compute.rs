//! The pure part: given the wanted images, the selected nodes and the caching pods, which node
//! holds which image.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::config::ImageReference;

/// An image kip keeps cached: its container name, its reference, and the digest it resolved
/// to, when known (a node then counts only if it holds that digest).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WantedImage {
    pub name: String,
    pub image: String,
    pub digest: Option<String>,
}

/// What a node reports about itself.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NodeFacts {
    pub name: String,
    /// Every name of every image in `status.images` (`repo:tag` and `repo@sha256:...`).
    pub image_names: BTreeSet<String>,
}

/// A caching pod's containers, by container name.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PodFacts {
    pub node: String,
    pub containers: BTreeMap<String, ContainerFacts>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ContainerFacts {
    /// `imageID` of the container status (`repo@sha256:...`): set once the image was pulled.
    pub image_id: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageCache {
    pub name: String,
    pub image: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    pub cached_on: Vec<String>,
    pub missing_on: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CacheReport {
    /// The selected nodes, sorted.
    pub nodes: Vec<String>,
    pub images: Vec<ImageCache>,
    /// Nodes that hold every image.
    pub fully_cached: Vec<String>,
}

impl CacheReport {
    pub fn all_cached(&self) -> bool {
        !self.nodes.is_empty() && self.fully_cached.len() == self.nodes.len()
    }

    pub fn is_cached(&self, image: &str, node: &str) -> bool {
        self.images.iter().any(|i| i.name == image && i.cached_on.iter().any(|n| n == node))
    }
}

/// The names under which a node would report `image`: the runtime's normalized forms, and the
/// text as written (some runtimes keep it).
fn names_of(image: &WantedImage) -> Vec<String> {
    let mut names = vec![image.image.clone()];
    if let Ok(reference) = ImageReference::parse(&image.image) {
        names.extend(reference.runtime_names());
        if let Some(digest) = &image.digest {
            names.push(format!("{}@{digest}", reference.repository()));
        }
    }
    names
}

fn digest_of(image_id: &str) -> Option<&str> {
    image_id.rsplit_once('@').map(|(_, digest)| digest).or_else(|| image_id.starts_with("sha256:").then_some(image_id))
}

/// `names`: the names a node would report the image under; `digest_suffix`: `@<digest>` when
/// the digest is known (made once per image, not once per node).
fn holds(
    node: &NodeFacts,
    pods: &[&PodFacts],
    image: &WantedImage,
    names: &[String],
    digest_suffix: Option<&str>,
) -> bool {
    let mut container_digests = pods
        .iter()
        .filter_map(|p| p.containers.get(&image.name))
        .filter_map(|c| c.image_id.as_deref())
        .filter_map(digest_of);
    match (&image.digest, digest_suffix) {
        // The digest is known: only that content counts.
        (Some(digest), Some(suffix)) => {
            container_digests.any(|d| d == digest.as_str()) || node.image_names.iter().any(|n| n.ends_with(suffix))
        }
        _ => container_digests.next().is_some() || names.iter().any(|n| node.image_names.contains(n)),
    }
}

/// Which of `nodes` holds which of `images`: a node holds an image when its `status.images`
/// lists it, or a caching pod on it runs a container of it that was pulled (with a known
/// digest, only that digest counts). A node may run several caching pods during a rollout.
pub fn compute<'a>(
    images: &[WantedImage],
    nodes: impl IntoIterator<Item = &'a NodeFacts>,
    pods: impl IntoIterator<Item = &'a PodFacts>,
) -> CacheReport {
    let mut nodes: Vec<&NodeFacts> = nodes.into_iter().collect();
    nodes.sort_by(|a, b| a.name.cmp(&b.name));
    let mut pods_by_node: BTreeMap<&str, Vec<&PodFacts>> = BTreeMap::new();
    for pod in pods {
        pods_by_node.entry(pod.node.as_str()).or_default().push(pod);
    }
    let mut report = CacheReport {
        nodes: nodes.iter().map(|n| n.name.clone()).collect(),
        images: Vec::with_capacity(images.len()),
        fully_cached: Vec::new(),
    };
    let mut missing_per_node: BTreeMap<&str, usize> = BTreeMap::new();
    for image in images {
        let names = names_of(image);
        let digest_suffix = image.digest.as_ref().map(|digest| format!("@{digest}"));
        let mut entry = ImageCache {
            name: image.name.clone(),
            image: image.image.clone(),
            digest: image.digest.clone(),
            cached_on: Vec::new(),
            missing_on: Vec::new(),
        };
        for node in &nodes {
            let pods = pods_by_node.get(node.name.as_str()).map(Vec::as_slice).unwrap_or_default();
            if holds(node, pods, image, &names, digest_suffix.as_deref()) {
                entry.cached_on.push(node.name.clone());
            } else {
                entry.missing_on.push(node.name.clone());
                *missing_per_node.entry(node.name.as_str()).or_default() += 1;
            }
        }
        report.images.push(entry);
    }
    report.fully_cached =
        nodes.iter().filter(|n| !missing_per_node.contains_key(n.name.as_str())).map(|n| n.name.clone()).collect();
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    const D1: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
    const D2: &str = "sha256:2222222222222222222222222222222222222222222222222222222222222222";

    fn wanted(name: &str, image: &str, digest: Option<&str>) -> WantedImage {
        WantedImage { name: name.into(), image: image.into(), digest: digest.map(String::from) }
    }

    fn node(name: &str, names: &[&str]) -> NodeFacts {
        NodeFacts { name: name.into(), image_names: names.iter().map(|s| s.to_string()).collect() }
    }

    fn pod(node: &str, containers: &[(&str, Option<&str>)]) -> PodFacts {
        PodFacts {
            node: node.into(),
            containers: containers
                .iter()
                .map(|(n, id)| (n.to_string(), ContainerFacts { image_id: id.map(String::from) }))
                .collect(),
        }
    }

    #[test]
    fn node_images_count_under_their_normalized_names() {
        let images = [wanted("nginx", "nginx:1.25", None), wanted("theia", "quay.io/eclipse/che-theia:next", None)];
        let nodes = [
            node("node-2", &["docker.io/library/nginx:1.25", "quay.io/eclipse/che-theia:next"]),
            node("node-1", &["docker.io/library/nginx:1.25"]),
        ];
        let report = compute(&images, &nodes, &[]);
        assert_eq!(report.nodes, vec!["node-1", "node-2"]);
        assert_eq!(report.images[0].cached_on, vec!["node-1", "node-2"]);
        assert_eq!(report.images[1].cached_on, vec!["node-2"]);
        assert_eq!(report.images[1].missing_on, vec!["node-1"]);
        assert_eq!(report.fully_cached, vec!["node-2"]);
        assert!(!report.all_cached());
    }

    #[test]
    fn a_pulled_container_counts_even_when_the_node_list_is_truncated() {
        // Kubelets report at most 50 images per node, largest first: small ones may be absent.
        let images = [wanted("small", "quay.io/x/small:1", None)];
        let nodes = [node("node-1", &[])];
        let pods = [pod("node-1", &[("small", Some(&format!("quay.io/x/small@{D1}")))])];
        let report = compute(&images, &nodes, &pods);
        assert!(report.all_cached());
        let not_pulled = [pod("node-1", &[("small", None)])];
        assert!(!compute(&images, &nodes, &not_pulled).all_cached());
    }

    #[test]
    fn a_known_digest_must_match() {
        let images = [wanted("app", "quay.io/x/app:next", Some(D2))];
        let nodes = [
            node("old", &["quay.io/x/app:next", &format!("quay.io/x/app@{D1}")]),
            node("new", &["quay.io/x/app:next", &format!("quay.io/x/app@{D2}")]),
            node("pod-only", &[]),
        ];
        let pods = [pod("pod-only", &[("app", Some(&format!("quay.io/x/app@{D2}")))])];
        let report = compute(&images, &nodes, &pods);
        assert_eq!(report.images[0].cached_on, vec!["new", "pod-only"]);
        assert_eq!(report.images[0].missing_on, vec!["old"]);
    }

    #[test]
    fn during_a_rollout_either_pod_may_hold_the_digest() {
        let images = [wanted("app", "quay.io/x/app:next", Some(D2))];
        let nodes = [node("node-1", &[])];
        let pods = [
            pod("node-1", &[("app", Some(&format!("quay.io/x/app@{D1}")))]),
            pod("node-1", &[("app", Some(&format!("quay.io/x/app@{D2}")))]),
        ];
        assert!(compute(&images, &nodes, &pods).all_cached());
        assert!(!compute(&images, &nodes, &pods[..1]).all_cached());
    }

    #[test]
    fn no_nodes_is_not_all_cached() {
        assert!(!compute(&[wanted("a", "a", None)], &[], &[]).all_cached());
    }
}
