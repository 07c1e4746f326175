//! The puller's configuration: the environment variables of the Go image puller (normally set
//! from a ConfigMap through `envFrom`), parsed and validated up front into one typed [`Config`].
//! Every problem is collected, so a user sees them all at once.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Affinity, Toleration};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

/// One image to keep cached: the container name and the image reference.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CachedImage {
    /// Container name in the DaemonSet (a DNS-1123 label).
    pub name: String,
    /// Image reference as written by the user (`registry/repo:tag` or `...@sha256:...`).
    pub image: String,
}

/// How images are kept on a node (see the caching modes in the README).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CachingMode {
    /// One sleeping container per image: the Go version's shape.
    #[default]
    Containers,
}

/// The validated configuration.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    /// `IMAGES`, in the order given.
    pub images: Vec<CachedImage>,
    /// `CACHING_INTERVAL_HOURS`, at least 1.
    pub caching_interval_hours: u32,
    /// `DAEMONSET_NAME`.
    pub daemonset_name: String,
    /// `DAEMONSET_ANNOTATIONS`.
    pub daemonset_annotations: BTreeMap<String, String>,
    /// `NAMESPACE`.
    pub namespace: String,
    /// `CACHING_MEMORY_REQUEST`, `CACHING_MEMORY_LIMIT`, `CACHING_CPU_REQUEST`, `CACHING_CPU_LIMIT`.
    pub caching_memory_request: Quantity,
    pub caching_memory_limit: Quantity,
    pub caching_cpu_request: Quantity,
    pub caching_cpu_limit: Quantity,
    /// `NODE_SELECTOR`.
    pub node_selector: BTreeMap<String, String>,
    /// `IMAGE_PULL_SECRETS`.
    pub image_pull_secrets: Vec<String>,
    /// `AFFINITY` (`None` for `{}`).
    pub affinity: Option<Affinity>,
    /// `TOLERATIONS`.
    pub tolerations: Vec<Toleration>,
    /// `KIP_IMAGE`: the image holding `kip-sleep` (kip's own image).
    pub kip_image: String,
    /// `DEPLOYMENT_NAME`: the puller's own Deployment, owner of the DaemonSet.
    pub deployment_name: String,
    /// `KIP_MAX_UNAVAILABLE`: the DaemonSet's rolling-update bound (a count or a percentage).
    pub max_unavailable: IntOrString,
    /// `KIP_KEEP_DAEMONSET_ON_EXIT`: leave the DaemonSet in place when kip stops.
    pub keep_daemonset_on_exit: bool,
    /// `CACHING_MODE`.
    pub caching_mode: CachingMode,
}

// TEMPORARY interface stubs, replaced by the real parser.
#[derive(Debug, Clone)]
pub struct ConfigErrors(pub Vec<String>);
impl ConfigErrors {
    pub fn len(&self) -> usize {
        self.0.len()
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}
impl std::fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0.join("\n"))
    }
}
impl Config {
    pub fn from_vars<'a>(_vars: impl IntoIterator<Item = (&'a str, &'a str)>) -> Result<Config, ConfigErrors> {
        Err(ConfigErrors(vec!["not implemented".into()]))
    }
}
