//! Nodes and caching pods read into small types holding only the fields cache status reads:
//! a full Node is tens of KiB (most of it fields kip never reads), and thousands of them are
//! read and watched.

use std::borrow::Cow;

use k8s_openapi::api::core::v1::Taint;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Deserialize;

use super::compute::{ContainerFacts, NodeFacts, PodFacts};

/// A Node with just what cache status and the warm signal need.
#[derive(Clone, Debug, Deserialize)]
pub struct SlimNode {
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub spec: Option<SlimNodeSpec>,
    #[serde(default)]
    pub status: Option<SlimNodeStatus>,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct SlimNodeSpec {
    #[serde(default)]
    pub taints: Option<Vec<Taint>>,
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

/// A caching pod with its node and its containers' image ids.
#[derive(Clone, Debug, Deserialize)]
pub struct SlimPod {
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub spec: Option<SlimPodSpec>,
    #[serde(default)]
    pub status: Option<SlimPodStatus>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SlimPodSpec {
    #[serde(default)]
    pub node_name: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SlimPodStatus {
    /// The `init` caching mode keeps its images in init containers.
    #[serde(default)]
    pub init_container_statuses: Option<Vec<SlimContainerStatus>>,
    #[serde(default)]
    pub container_statuses: Option<Vec<SlimContainerStatus>>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SlimContainerStatus {
    pub name: String,
    #[serde(default, rename = "imageID")]
    pub image_id: String,
}

/// `kube::Resource` for a slim type of a core/v1 kind.
macro_rules! core_v1_resource {
    ($type:ty, $kind:literal, $plural:literal, $scope:ty) => {
        impl kube::Resource for $type {
            type DynamicType = ();
            type Scope = $scope;

            fn kind(_: &()) -> Cow<'_, str> {
                $kind.into()
            }
            fn group(_: &()) -> Cow<'_, str> {
                "".into()
            }
            fn version(_: &()) -> Cow<'_, str> {
                "v1".into()
            }
            fn plural(_: &()) -> Cow<'_, str> {
                $plural.into()
            }
            fn meta(&self) -> &ObjectMeta {
                &self.metadata
            }
            fn meta_mut(&mut self) -> &mut ObjectMeta {
                &mut self.metadata
            }
        }
    };
}

core_v1_resource!(SlimNode, "Node", "nodes", k8s_openapi::ClusterResourceScope);
core_v1_resource!(SlimPod, "Pod", "pods", k8s_openapi::NamespaceResourceScope);

impl SlimNode {
    pub fn name(&self) -> &str {
        self.metadata.name.as_deref().unwrap_or_default()
    }

    /// Every name of every image the node reports.
    pub fn image_names(&self) -> impl Iterator<Item = &String> {
        self.status.iter().flat_map(|s| s.images.iter().flatten()).flat_map(|i| i.names.iter().flatten())
    }

    pub fn facts(&self) -> NodeFacts {
        NodeFacts { name: self.name().to_string(), image_names: self.image_names().cloned().collect() }
    }

    pub fn taints(&self) -> &[Taint] {
        self.spec.as_ref().and_then(|s| s.taints.as_deref()).unwrap_or_default()
    }
}

impl SlimPod {
    /// Whether the pod belongs to the DaemonSet with this uid.
    pub fn owned_by(&self, uid: &str) -> bool {
        self.metadata.owner_references.iter().flatten().any(|o| o.uid == uid)
    }

    /// Whether the pod belongs to a DaemonSet of this name.
    pub fn owned_by_daemonset(&self, name: &str) -> bool {
        self.metadata.owner_references.iter().flatten().any(|o| o.kind == "DaemonSet" && o.name == name)
    }

    pub fn facts(&self) -> Option<PodFacts> {
        let node = self.spec.as_ref()?.node_name.clone()?;
        let containers = self
            .status
            .iter()
            .flat_map(|s| s.init_container_statuses.iter().flatten().chain(s.container_statuses.iter().flatten()))
            .map(|c| {
                let image_id = Some(c.image_id.clone()).filter(|id| !id.is_empty());
                (c.name.clone(), ContainerFacts { image_id })
            })
            .collect();
        Some(PodFacts { node, containers })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn slim_node_keeps_names_and_taints_and_drops_the_rest() {
        let node: SlimNode = serde_json::from_value(json!({
            "apiVersion": "v1", "kind": "Node",
            "metadata": {"name": "node-1", "labels": {"a": "b"}},
            "spec": {"podCIDR": "10.0.0.0/24", "taints": [{"key": "kip.dev/not-warm", "effect": "NoSchedule"}]},
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
        assert_eq!(node.taints().len(), 1);
        assert_eq!(node.taints()[0].key, "kip.dev/not-warm");
    }

    #[test]
    fn slim_pod_keeps_its_node_and_image_ids() {
        let pod: SlimPod = serde_json::from_value(json!({
            "metadata": {"name": "p", "ownerReferences": [
                {"apiVersion": "apps/v1", "kind": "DaemonSet", "name": "ds", "uid": "u-1"}
            ]},
            "spec": {"nodeName": "node-1", "containers": [{"name": "a", "image": "x"}]},
            "status": {"containerStatuses": [
                {"name": "a", "imageID": "reg.io/x@sha256:1", "image": "x", "ready": true, "restartCount": 0},
                {"name": "b", "imageID": "", "image": "y", "ready": false, "restartCount": 0}
            ]}
        }))
        .expect("pod");
        assert!(pod.owned_by("u-1") && !pod.owned_by("u-2"));
        assert!(pod.owned_by_daemonset("ds") && !pod.owned_by_daemonset("other"));
        let facts = pod.facts().expect("scheduled");
        assert_eq!(facts.node, "node-1");
        assert_eq!(facts.containers["a"].image_id.as_deref(), Some("reg.io/x@sha256:1"));
        assert_eq!(facts.containers["b"].image_id, None);
    }
}
