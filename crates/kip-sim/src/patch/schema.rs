//! Merge rules for the served types: which lists merge element by element (and on which key),
//! which hold a set of values, and which maps are atomic, for strategic merge patch and for
//! server-side apply.
//!
//! Built-in types use a compact table taken from the Kubernetes API types (`patchStrategy` /
//! `patchMergeKey` tags for strategic merge; `+listType`, `+listMapKey`, `+mapType`,
//! `+structType` markers for apply), keyed by where a field sits: object metadata (also in pod
//! templates), a pod spec (in pods and in workload templates), a container (regular, init or
//! ephemeral), pod status, and per-kind paths. Every other list of a built-in type is atomic
//! (apply) and replaced whole (strategic merge). Custom resources read the CRD's
//! `openAPIV3Schema`: `x-kubernetes-list-type` (`atomic` by default, `set`, `map` with
//! `x-kubernetes-list-map-keys`) and `x-kubernetes-map-type`.

use serde_json::Value;

use crate::resources::ResourceType;

/// How a strategic merge patch treats a list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PatchList {
    /// The patch's list replaces the stored one.
    Replace,
    /// Elements are objects merged by the value of this field.
    MergeByKey(&'static str),
    /// A list of primitives: the patch's values are added to the stored ones.
    MergePrimitives,
}

/// One field of an apply list-map key, with the value a missing field stands for.
#[derive(Clone, Debug, PartialEq)]
pub struct KeyField {
    pub name: String,
    pub default: Option<Value>,
}

/// How server-side apply treats a list.
#[derive(Clone, Debug, PartialEq)]
pub enum ApplyList {
    Atomic,
    Set,
    Map(Vec<KeyField>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Context {
    /// The object itself; `rel` is the path from its root.
    Root,
    Meta,
    PodSpec,
    Container,
    PodStatus,
    /// Inside a custom resource (outside its metadata): `node` is the schema here.
    Custom,
}

/// Where a walk over an object stands, for looking up the merge rules there.
#[derive(Clone, Debug)]
pub struct Cursor<'a> {
    group: &'a str,
    kind: &'a str,
    custom: bool,
    context: Context,
    /// Field names from where the context starts, dot-separated; list elements add nothing.
    rel: String,
    node: Option<&'a Value>,
}

const WORKLOADS: [&str; 3] = ["DaemonSet", "Deployment", "ReplicaSet"];
const CONTAINER_LISTS: [&str; 3] = ["containers", "initContainers", "ephemeralContainers"];

fn key(names: &[&str]) -> ApplyList {
    ApplyList::Map(
        names
            .iter()
            .map(|n| KeyField {
                name: n.to_string(),
                // The API types give the protocol of a port a default, so a port may leave it out.
                default: (*n == "protocol").then(|| Value::String("TCP".into())),
            })
            .collect(),
    )
}

impl<'a> Cursor<'a> {
    pub fn root(rt: &'a ResourceType) -> Self {
        Cursor {
            group: &rt.group,
            kind: &rt.kind,
            custom: rt.custom,
            context: Context::Root,
            rel: String::new(),
            node: rt.schema.as_deref(),
        }
    }

    fn at(&self, context: Context, rel: String, node: Option<&'a Value>) -> Self {
        Cursor { context, rel, node, ..self.clone() }
    }

    fn joined(&self, name: &str) -> String {
        if self.rel.is_empty() { name.to_string() } else { format!("{}.{name}", self.rel) }
    }

    fn is_workload(&self) -> bool {
        self.group == "apps" && WORKLOADS.contains(&self.kind)
    }

    fn is_core(&self, kind: &str) -> bool {
        self.group.is_empty() && self.kind == kind
    }

    /// The cursor at field `name` of the object here.
    pub fn field(&self, name: &str) -> Self {
        let rel = self.joined(name);
        match self.context {
            Context::Root if rel == "metadata" => self.at(Context::Meta, String::new(), None),
            Context::Root if self.custom => {
                let node = self.node.and_then(|n| n.get("properties")).and_then(|p| p.get(name));
                self.at(Context::Custom, rel, node)
            }
            Context::Root if self.is_core("Pod") && rel == "spec" => self.at(Context::PodSpec, String::new(), None),
            Context::Root if self.is_core("Pod") && rel == "status" => self.at(Context::PodStatus, String::new(), None),
            Context::Root if self.is_workload() && rel == "spec.template.metadata" => {
                self.at(Context::Meta, String::new(), None)
            }
            Context::Root if self.is_workload() && rel == "spec.template.spec" => {
                self.at(Context::PodSpec, String::new(), None)
            }
            Context::Custom => {
                let node = self.node.and_then(|n| {
                    n.get("properties").and_then(|p| p.get(name)).or_else(|| n.get("additionalProperties"))
                });
                self.at(Context::Custom, rel, node.filter(|n| n.is_object()))
            }
            _ => self.at(self.context, rel, None),
        }
    }

    /// The cursor at an element of the list here.
    pub fn item(&self) -> Self {
        match self.context {
            Context::PodSpec if CONTAINER_LISTS.contains(&self.rel.as_str()) => {
                self.at(Context::Container, String::new(), None)
            }
            Context::Custom => self.at(Context::Custom, self.rel.clone(), self.node.and_then(|n| n.get("items"))),
            _ => self.clone(),
        }
    }

    /// The strategic-merge rule for the list here.
    pub fn patch_list(&self) -> PatchList {
        use PatchList::{MergeByKey, MergePrimitives, Replace};
        match (self.context, self.rel.as_str()) {
            (Context::Meta, "ownerReferences") => MergeByKey("uid"),
            (Context::Meta, "finalizers") => MergePrimitives,
            (Context::PodSpec, "containers" | "initContainers" | "ephemeralContainers") => MergeByKey("name"),
            (Context::PodSpec, "volumes" | "imagePullSecrets" | "schedulingGates" | "resourceClaims") => {
                MergeByKey("name")
            }
            (Context::PodSpec, "hostAliases") => MergeByKey("ip"),
            (Context::PodSpec, "topologySpreadConstraints") => MergeByKey("topologyKey"),
            (Context::Container, "ports") => MergeByKey("containerPort"),
            (Context::Container, "env") => MergeByKey("name"),
            (Context::Container, "volumeMounts") => MergeByKey("mountPath"),
            (Context::Container, "volumeDevices") => MergeByKey("devicePath"),
            (Context::PodStatus, "conditions") => MergeByKey("type"),
            (Context::PodStatus, "podIPs" | "hostIPs") => MergeByKey("ip"),
            (Context::Root, "status.conditions")
                if self.is_workload() || self.is_core("Node") || self.is_core("Namespace") =>
            {
                MergeByKey("type")
            }
            (Context::Root, "status.addresses") if self.is_core("Node") => MergeByKey("type"),
            (Context::Root, "spec.podCIDRs") if self.is_core("Node") => MergePrimitives,
            (Context::Root, "secrets") if self.is_core("ServiceAccount") => MergeByKey("name"),
            _ => Replace,
        }
    }

    /// The server-side apply rule for the list here.
    pub fn apply_list(&self) -> ApplyList {
        match (self.context, self.rel.as_str()) {
            (Context::Custom, _) => self.custom_list(),
            (Context::Meta, "ownerReferences") => key(&["uid"]),
            (Context::Meta, "finalizers") => ApplyList::Set,
            (Context::PodSpec, "containers" | "initContainers" | "ephemeralContainers") => key(&["name"]),
            (Context::PodSpec, "volumes" | "imagePullSecrets" | "schedulingGates" | "resourceClaims") => key(&["name"]),
            (Context::PodSpec, "hostAliases") => key(&["ip"]),
            (Context::PodSpec, "topologySpreadConstraints") => key(&["topologyKey", "whenUnsatisfiable"]),
            (Context::Container, "ports") => key(&["containerPort", "protocol"]),
            (Context::Container, "env" | "resources.claims") => key(&["name"]),
            (Context::Container, "volumeMounts") => key(&["mountPath"]),
            (Context::Container, "volumeDevices") => key(&["devicePath"]),
            (Context::PodStatus, "conditions") => key(&["type"]),
            (Context::PodStatus, "podIPs") => key(&["ip"]),
            (Context::Root, "status.conditions")
                if self.is_workload()
                    || self.is_core("Node")
                    || self.is_core("Namespace")
                    || self.kind == "CustomResourceDefinition" =>
            {
                key(&["type"])
            }
            (Context::Root, "spec.podCIDRs") if self.is_core("Node") => ApplyList::Set,
            (Context::Root, "secrets") if self.is_core("ServiceAccount") => key(&["name"]),
            _ => ApplyList::Atomic,
        }
    }

    /// Whether server-side apply treats the map here as one value.
    pub fn atomic_map(&self) -> bool {
        match (self.context, self.rel.as_str()) {
            (Context::Custom, _) => {
                self.node.and_then(|n| n.get("x-kubernetes-map-type")).and_then(Value::as_str) == Some("atomic")
            }
            (Context::PodSpec, "nodeSelector" | "topologySpreadConstraints.labelSelector") => true,
            (
                Context::Container,
                "env.valueFrom.configMapKeyRef"
                | "env.valueFrom.secretKeyRef"
                | "env.valueFrom.fieldRef"
                | "env.valueFrom.resourceFieldRef",
            ) => true,
            (Context::Root, "spec.selector") => self.is_workload(),
            _ => false,
        }
    }

    fn custom_list(&self) -> ApplyList {
        let Some(node) = self.node else { return ApplyList::Atomic };
        match node.get("x-kubernetes-list-type").and_then(Value::as_str) {
            Some("set") => ApplyList::Set,
            Some("map") => {
                let item_properties = node.pointer("/items/properties");
                let names = node.get("x-kubernetes-list-map-keys").and_then(Value::as_array);
                ApplyList::Map(
                    names
                        .into_iter()
                        .flatten()
                        .filter_map(Value::as_str)
                        .map(|name| KeyField {
                            name: name.to_string(),
                            default: item_properties.and_then(|p| p.get(name)).and_then(|p| p.get("default")).cloned(),
                        })
                        .collect(),
                )
            }
            _ => ApplyList::Atomic,
        }
    }
}
