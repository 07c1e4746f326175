//! The resource types the simulated API server serves: the built-in ones kip and its tests use,
//! plus the kinds that CustomResourceDefinitions add while the server runs.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use serde_json::Value;

/// A group and a plural resource name, the key every stored object lives under.
/// Written as Kubernetes writes a GroupResource: `daemonsets.apps`, or `pods` for the core group.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GroupResource {
    pub group: Arc<str>,
    pub resource: Arc<str>,
}

impl GroupResource {
    pub fn new(group: &str, resource: &str) -> Self {
        GroupResource { group: group.into(), resource: resource.into() }
    }
    pub fn core(resource: &str) -> Self {
        Self::new("", resource)
    }
}

impl fmt::Display for GroupResource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.group.is_empty() {
            write!(f, "{}", self.resource)
        } else {
            write!(f, "{}.{}", self.resource, self.group)
        }
    }
}

impl fmt::Debug for GroupResource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Everything the server needs to know about one served resource.
#[derive(Clone, Debug)]
pub struct ResourceType {
    pub group: String,
    pub version: String,
    /// Plural, lower case: `daemonsets`.
    pub plural: String,
    pub singular: String,
    pub kind: String,
    pub namespaced: bool,
    /// Has a `/status` subresource: main writes keep the stored status, status writes keep the rest.
    pub status_subresource: bool,
    /// The server keeps `metadata.generation`, bumped when anything but metadata and status changes.
    pub generation: bool,
    pub short_names: Vec<String>,
    pub categories: Vec<String>,
    /// For custom resources: the CRD's `additionalPrinterColumns` for this version.
    pub printer_columns: Vec<Value>,
    /// True for kinds served because a CRD defines them.
    pub custom: bool,
    /// For custom resources: the version's `schema.openAPIV3Schema` (validation and pruning).
    pub schema: Option<Arc<Value>>,
}

impl ResourceType {
    pub fn group_resource(&self) -> GroupResource {
        GroupResource::new(&self.group, &self.plural)
    }

    /// `v1` or `apps/v1`.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() { self.version.clone() } else { format!("{}/{}", self.group, self.version) }
    }

    pub fn list_kind(&self) -> String {
        format!("{}List", self.kind)
    }

    fn builtin(group: &str, version: &str, plural: &str, kind: &str, namespaced: bool) -> Self {
        ResourceType {
            group: group.into(),
            version: version.into(),
            plural: plural.into(),
            singular: kind.to_lowercase(),
            kind: kind.into(),
            namespaced,
            status_subresource: false,
            generation: false,
            short_names: Vec::new(),
            categories: Vec::new(),
            printer_columns: Vec::new(),
            custom: false,
            schema: None,
        }
    }

    fn with_status(mut self) -> Self {
        self.status_subresource = true;
        self
    }

    fn with_generation(mut self) -> Self {
        self.generation = true;
        self
    }

    fn short(mut self, names: &[&str]) -> Self {
        self.short_names = names.iter().map(|n| n.to_string()).collect();
        self
    }

    fn all_category(mut self) -> Self {
        self.categories = vec!["all".into()];
        self
    }
}

/// The types served at start. CRDs add more at run time (see [`Registry::add_custom`]).
pub fn builtin_types(openshift: bool) -> Vec<ResourceType> {
    let mut types = vec![
        ResourceType::builtin("", "v1", "namespaces", "Namespace", false).with_status().short(&["ns"]),
        ResourceType::builtin("", "v1", "nodes", "Node", false).with_status().short(&["no"]),
        ResourceType::builtin("", "v1", "pods", "Pod", true).with_status().short(&["po"]).all_category(),
        ResourceType::builtin("", "v1", "configmaps", "ConfigMap", true).short(&["cm"]),
        ResourceType::builtin("", "v1", "secrets", "Secret", true),
        ResourceType::builtin("", "v1", "serviceaccounts", "ServiceAccount", true).short(&["sa"]),
        ResourceType::builtin("", "v1", "events", "Event", true).short(&["ev"]),
        ResourceType::builtin("events.k8s.io", "v1", "events", "Event", true).short(&["ev"]),
        ResourceType::builtin("apps", "v1", "daemonsets", "DaemonSet", true)
            .with_status()
            .with_generation()
            .short(&["ds"])
            .all_category(),
        ResourceType::builtin("apps", "v1", "deployments", "Deployment", true)
            .with_status()
            .with_generation()
            .short(&["deploy"])
            .all_category(),
        ResourceType::builtin("apps", "v1", "replicasets", "ReplicaSet", true)
            .with_status()
            .with_generation()
            .short(&["rs"])
            .all_category(),
        ResourceType::builtin("apps", "v1", "controllerrevisions", "ControllerRevision", true),
        ResourceType::builtin("rbac.authorization.k8s.io", "v1", "roles", "Role", true),
        ResourceType::builtin("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding", true),
        ResourceType::builtin("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", false),
        ResourceType::builtin("rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding", false),
        ResourceType::builtin("coordination.k8s.io", "v1", "leases", "Lease", true),
        ResourceType::builtin(
            "apiextensions.k8s.io",
            "v1",
            "customresourcedefinitions",
            "CustomResourceDefinition",
            false,
        )
        .with_status()
        .with_generation()
        .short(&["crd", "crds"]),
        ResourceType::builtin(
            "admissionregistration.k8s.io",
            "v1",
            "validatingadmissionpolicies",
            "ValidatingAdmissionPolicy",
            false,
        )
        .with_status()
        .with_generation(),
        ResourceType::builtin(
            "admissionregistration.k8s.io",
            "v1",
            "validatingadmissionpolicybindings",
            "ValidatingAdmissionPolicyBinding",
            false,
        )
        .with_generation(),
    ];
    if openshift {
        types.push(ResourceType::builtin("route.openshift.io", "v1", "routes", "Route", true).with_status());
    }
    types
}

/// The served types, looked up by group and plural (and by kind for apply and discovery).
#[derive(Clone, Debug, Default)]
pub struct Registry {
    types: BTreeMap<GroupResource, ResourceType>,
}

impl Registry {
    pub fn new(openshift: bool) -> Self {
        let mut registry = Registry::default();
        for t in builtin_types(openshift) {
            registry.types.insert(t.group_resource(), t);
        }
        registry
    }

    pub fn get(&self, gr: &GroupResource) -> Option<&ResourceType> {
        self.types.get(gr)
    }

    /// Finds the type served at `group`/`version` with this plural name.
    pub fn lookup(&self, group: &str, version: &str, plural: &str) -> Option<&ResourceType> {
        self.types.get(&GroupResource::new(group, plural)).filter(|t| t.version == version)
    }

    pub fn by_kind(&self, api_version: &str, kind: &str) -> Option<&ResourceType> {
        self.types.values().find(|t| t.kind == kind && t.api_version() == api_version)
    }

    pub fn all(&self) -> impl Iterator<Item = &ResourceType> {
        self.types.values()
    }

    /// Serves (or stops serving, with `None`) the kind a CRD defines. Returns the previous type.
    pub fn add_custom(&mut self, resource: ResourceType) -> Option<ResourceType> {
        self.types.insert(resource.group_resource(), resource)
    }

    pub fn remove_custom(&mut self, gr: &GroupResource) -> Option<ResourceType> {
        match self.types.get(gr) {
            Some(t) if t.custom => self.types.remove(gr),
            _ => None,
        }
    }

    /// The `(group, version)` pairs served, core first, in a stable order.
    pub fn group_versions(&self) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = Vec::new();
        for t in self.types.values() {
            let gv = (t.group.clone(), t.version.clone());
            if !out.contains(&gv) {
                out.push(gv);
            }
        }
        out.sort_by(|a, b| (!a.0.is_empty(), &a.0).cmp(&(!b.0.is_empty(), &b.0)));
        out
    }
}

/// The served type a CRD object defines (its storage version), if the CRD is well formed.
pub fn custom_type_from_crd(crd: &Value) -> Option<ResourceType> {
    let spec = crd.get("spec")?;
    let group = spec.get("group")?.as_str()?;
    let names = spec.get("names")?;
    let plural = names.get("plural")?.as_str()?;
    let kind = names.get("kind")?.as_str()?;
    let singular = names.get("singular").and_then(Value::as_str).unwrap_or(&kind.to_lowercase()).to_string();
    let namespaced = spec.get("scope").and_then(Value::as_str) != Some("Cluster");
    let versions = spec.get("versions")?.as_array()?;
    let version = versions
        .iter()
        .find(|v| v.get("storage").and_then(Value::as_bool) == Some(true))
        .or_else(|| versions.first())?;
    let strings = |v: Option<&Value>| -> Vec<String> {
        v.and_then(Value::as_array)
            .map(|a| a.iter().filter_map(|s| s.as_str().map(String::from)).collect())
            .unwrap_or_default()
    };
    Some(ResourceType {
        group: group.into(),
        version: version.get("name")?.as_str()?.into(),
        plural: plural.into(),
        singular,
        kind: kind.into(),
        namespaced,
        status_subresource: version.pointer("/subresources/status").is_some(),
        generation: true,
        short_names: strings(names.get("shortNames")),
        categories: strings(names.get("categories")),
        printer_columns: version.get("additionalPrinterColumns").and_then(Value::as_array).cloned().unwrap_or_default(),
        custom: true,
        schema: version.pointer("/schema/openAPIV3Schema").cloned().map(Arc::new),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn group_resource_displays_like_kubernetes() {
        assert_eq!(GroupResource::new("apps", "daemonsets").to_string(), "daemonsets.apps");
        assert_eq!(GroupResource::core("pods").to_string(), "pods");
    }

    #[test]
    fn openshift_adds_routes() {
        assert!(Registry::new(true).lookup("route.openshift.io", "v1", "routes").is_some());
        assert!(Registry::new(false).lookup("route.openshift.io", "v1", "routes").is_none());
    }

    #[test]
    fn crd_defines_a_type() {
        let crd = json!({
            "spec": {
                "group": "che.eclipse.org",
                "scope": "Namespaced",
                "names": {"plural": "kubernetesimagepullers", "kind": "KubernetesImagePuller", "singular": "kubernetesimagepuller"},
                "versions": [{"name": "v1alpha1", "served": true, "storage": true,
                              "subresources": {"status": {}},
                              "additionalPrinterColumns": [{"name": "Ready", "type": "string", "jsonPath": ".status.conditions[?(@.type==\"Ready\")].status"}]}]
            }
        });
        let t = custom_type_from_crd(&crd).expect("well-formed CRD");
        assert_eq!(t.api_version(), "che.eclipse.org/v1alpha1");
        assert!(t.namespaced && t.status_subresource && t.custom);
        assert_eq!(t.printer_columns.len(), 1);
    }

    #[test]
    fn core_group_versions_come_first() {
        let gvs = Registry::new(false).group_versions();
        assert_eq!(gvs[0], ("".to_string(), "v1".to_string()));
        assert!(gvs.iter().any(|(g, _)| g == "apps"));
    }
}
