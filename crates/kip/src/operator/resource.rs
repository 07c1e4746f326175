//! The `KubernetesImagePuller` custom resource (`che.eclipse.org/v1alpha1`), shaped exactly as the
//! Go operator's so that existing resources keep working: every spec field is an optional string
//! with the Go JSON name. The CRD is generated from these types ([`crd`]); `kip crd` prints it.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{CustomResourceDefinition, JSON};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::CustomResource;
use kube::CustomResourceExt;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::defaults::{DEFAULT_CONFIG_MAP_NAME, DEFAULT_DEPLOYMENT_NAME};

/// What to cache and how. Every field is an optional string, as in the Go operator; an empty
/// string means "the default", like a missing field.
// The printer columns repeat `type_`, which clippy takes for a duplicated attribute.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "che.eclipse.org",
    version = "v1alpha1",
    kind = "KubernetesImagePuller",
    plural = "kubernetesimagepullers",
    namespaced,
    status = "KubernetesImagePullerStatus",
    derive = "PartialEq",
    derive = "Default",
    doc = "Keeps a list of container images cached on the nodes of a cluster, one per namespace.",
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].status",
        description = "True when every image is cached on every selected node"
    ),
    printcolumn(
        name = "Cached",
        type_ = "string",
        json_path = ".status.cached",
        description = "Nodes with every image cached, of the nodes selected"
    ),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp")
)]
#[serde(rename_all = "camelCase")]
pub struct KubernetesImagePullerSpec {
    /// Name of the ConfigMap holding the puller's configuration (default k8s-image-puller).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = DEFAULT_CONFIG_MAP_NAME))]
    pub config_map_name: Option<String>,
    /// Name of the caching DaemonSet (DAEMONSET_NAME, default kubernetes-image-puller).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub daemonset_name: Option<String>,
    /// Name of the puller's Deployment (default kubernetes-image-puller).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = DEFAULT_DEPLOYMENT_NAME))]
    pub deployment_name: Option<String>,
    /// Images to cache, as name=image entries separated by ';' (IMAGES).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub images: Option<String>,
    /// Hours between refreshes of mutable tags (CACHING_INTERVAL_HOURS, default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caching_interval_hours: Option<String>,
    /// Memory request of each caching container (CACHING_MEMORY_REQUEST, default 10Mi).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caching_memory_request: Option<String>,
    /// Memory limit of each caching container (CACHING_MEMORY_LIMIT, default 20Mi).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caching_memory_limit: Option<String>,
    /// CPU request of each caching container (CACHING_CPU_REQUEST, default .05).
    #[serde(default, rename = "cachingCPURequest", skip_serializing_if = "Option::is_none")]
    pub caching_cpu_request: Option<String>,
    /// CPU limit of each caching container (CACHING_CPU_LIMIT, default .2).
    #[serde(default, rename = "cachingCPULimit", skip_serializing_if = "Option::is_none")]
    pub caching_cpu_limit: Option<String>,
    /// JSON object of node labels the caching pods require (NODE_SELECTOR, default {}).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_selector: Option<String>,
    /// Secrets for pulling the cached images, separated by ';' (IMAGE_PULL_SECRETS).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_pull_secrets: Option<String>,
    /// JSON of a core/v1 Affinity for the caching pods (AFFINITY, default {}).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub affinity: Option<String>,
    /// JSON array of core/v1 Tolerations for the caching pods (TOLERATIONS, default []).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tolerations: Option<String>,
    /// How images are kept on nodes (CACHING_MODE): containers (default), init or image-volume.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caching_mode: Option<String>,
    /// The kip image run by the puller Deployment and the init container of the caching pods
    /// (default the operator's own version). The Go puller's image is replaced by kip's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_puller_image: Option<String>,
}

/// What the operator observed. `conditions` holds `Ready` (every image cached on every
/// selected node), `Progressing` and `Degraded`, each with the generation it describes.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct KubernetesImagePullerStatus {
    /// The image the puller runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_puller_image: Option<String>,
    /// Ready, Progressing and Degraded.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<Condition>,
    /// Nodes that should hold the images (the desired pods of the caching DaemonSet).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub desired_nodes: Option<i32>,
    /// Nodes whose caching pod is ready with the current list of images.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cached_nodes: Option<i32>,
    /// The cached and desired nodes as cached/desired, for the Cached column.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cached: Option<String>,
}

/// The CustomResourceDefinition, as applied to clusters. Beyond what the derive generates, a
/// resource without `spec` is accepted (the Go CRD did not require one) and defaulted to `{}`,
/// so that the API server fills in the name defaults for it too; descriptions are one paragraph
/// each, so that YAML tools can fold them.
pub fn crd() -> CustomResourceDefinition {
    let mut crd = KubernetesImagePuller::crd();
    for version in &mut crd.spec.versions {
        let Some(schema) = version.schema.as_mut().and_then(|s| s.open_api_v3_schema.as_mut()) else { continue };
        if let Some(required) = schema.required.as_mut() {
            required.retain(|field| field != "spec");
            if required.is_empty() {
                schema.required = None;
            }
        }
        if let Some(spec) = schema.properties.as_mut().and_then(|p| p.get_mut("spec")) {
            spec.default = Some(JSON(json!({})));
        }
    }
    match serde_json::to_value(&crd) {
        Ok(mut value) => {
            one_paragraph_descriptions(&mut value);
            serde_json::from_value(value).unwrap_or(crd)
        }
        Err(_) => crd,
    }
}

fn one_paragraph_descriptions(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, item) in map.iter_mut() {
                match item {
                    Value::String(text) if key == "description" => {
                        *text = text.split_whitespace().collect::<Vec<_>>().join(" ");
                    }
                    _ => one_paragraph_descriptions(item),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(one_paragraph_descriptions),
        _ => {}
    }
}

/// The CRD as YAML, as committed in `deploy/operator/crd.yaml`. Folded at a width that keeps
/// every line within 80 columns, so the file passes yamllint's default rules.
pub fn crd_yaml() -> String {
    let options = serde_saphyr::ser_options! { folded_wrap_chars: 60 };
    let body = serde_saphyr::to_string_with_options(&crd(), options)
        .unwrap_or_else(|error| format!("# cannot render as YAML: {error}\n"));
    format!("# Generated by `kip crd` from crates/kip/src/operator/resource.rs; do not edit.\n---\n{body}")
}
