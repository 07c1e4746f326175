//! The operator's defaults, kept as the Go operator had them so that a resource written for it
//! behaves the same, and the effective value of every spec field.

use super::resource::KubernetesImagePullerSpec;

pub const DEFAULT_CONFIG_MAP_NAME: &str = "k8s-image-puller";
pub const DEFAULT_DEPLOYMENT_NAME: &str = "kubernetes-image-puller";
/// What the Go operator caches when `images` is empty: a resource that relied on it keeps
/// caching the same images.
pub const DEFAULT_IMAGES: &str = "che-code=quay.io/che-incubator/che-code:next;base-developer-image=quay.io/devfile/base-developer-image:ubi9-latest";
/// The Go puller's image repository. The Go operator wrote its image into every resource's
/// spec; kip cannot run from it, so naming it means "the operator's default".
pub const GO_PULLER_REPOSITORY: &str = "quay.io/eclipse/kubernetes-image-puller";
/// kip's own image, at the version of this binary.
pub const DEFAULT_PULLER_IMAGE: &str = concat!("ghcr.io/kip-dev/kip:", env!("CARGO_PKG_VERSION"));

/// Fixed names of the children, as the Go operator named them.
pub const SERVICE_ACCOUNT_NAME: &str = "k8s-image-puller";
pub const RBAC_NAME: &str = "create-daemonset";
/// The puller's container in its Deployment.
pub const CONTAINER_NAME: &str = "kubernetes-image-puller";

/// The value of a spec field, `None` when missing or empty (both mean "default", as in Go).
pub fn given(field: &Option<String>) -> Option<&str> {
    field.as_deref().filter(|value| !value.is_empty())
}

pub fn config_map_name(spec: &KubernetesImagePullerSpec) -> &str {
    given(&spec.config_map_name).unwrap_or(DEFAULT_CONFIG_MAP_NAME)
}

pub fn deployment_name(spec: &KubernetesImagePullerSpec) -> &str {
    given(&spec.deployment_name).unwrap_or(DEFAULT_DEPLOYMENT_NAME)
}

/// The image the puller runs: the spec's, unless it is missing or names the Go puller.
pub fn puller_image<'a>(spec: &'a KubernetesImagePullerSpec, operator_default: &'a str) -> &'a str {
    match given(&spec.image_puller_image) {
        Some(image) if !is_go_puller_image(image) => image,
        _ => operator_default,
    }
}

/// `quay.io/eclipse/kubernetes-image-puller` with any tag or digest.
pub fn is_go_puller_image(image: &str) -> bool {
    image
        .strip_prefix(GO_PULLER_REPOSITORY)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with(':') || rest.starts_with('@'))
}

/// The spec fields the Go operator wrote back when missing, with the value to write. kip
/// writes back the names only: a written-back image would pin the puller to the version of
/// the operator that wrote it, and keep it there across operator upgrades.
pub fn missing_defaults(spec: &KubernetesImagePullerSpec) -> Vec<(&'static str, &'static str)> {
    let mut missing = Vec::new();
    if spec.config_map_name.is_none() {
        missing.push(("configMapName", DEFAULT_CONFIG_MAP_NAME));
    }
    if spec.deployment_name.is_none() {
        missing.push(("deploymentName", DEFAULT_DEPLOYMENT_NAME));
    }
    missing
}
