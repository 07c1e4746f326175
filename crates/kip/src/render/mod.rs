//! Rendering: pure functions from a [`Config`](crate::config::Config) and a few facts about the
//! cluster ([`RenderContext`]) to the Kubernetes objects kip applies. No I/O, so every shape is
//! checked by golden tests.

mod daemonset;

use std::collections::BTreeMap;

#[cfg(test)]
mod tests;

pub use daemonset::{desired_daemonset, pinned_image};

/// Labels that select the caching pods. Kept exactly as the Go puller set them: a DaemonSet's
/// selector cannot change, and these let kip adopt a DaemonSet the Go version created.
pub const SELECTOR_LABELS: [(&str, &str); 2] = [("app.kubernetes.io/name", "image-puller"), ("test", "daemonset-test")];

/// Marks the DaemonSet as kip's (on the DaemonSet only, not in the selector).
pub const MANAGED_BY_LABEL: (&str, &str) = ("app.kubernetes.io/managed-by", "kip");

/// The init container that copies `sleep`; no cached image may take its name.
pub const INIT_CONTAINER_NAME: &str = "copy-sleep";

/// Pod template annotation whose change rolls every caching pod (a refresh without a gap).
pub const REFRESH_ANNOTATION: &str = "kip.dev/refresh";

/// DaemonSet annotation recording the digest each cached image resolved to: a JSON object from
/// container name to `sha256:...`.
pub const DIGESTS_ANNOTATION: &str = "kip.dev/digests";

/// Facts about the cluster and the moment that the configuration alone does not give.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RenderContext {
    /// OpenShift assigns user and group ids itself (and refuses fixed ones under its default
    /// security constraints), so none are set there.
    pub openshift: bool,
    /// The uid of the Deployment `DEPLOYMENT_NAME`, owner of the DaemonSet; without it the
    /// DaemonSet gets no owner reference.
    pub owner_uid: Option<String>,
    /// When set, written to the pod template as [`REFRESH_ANNOTATION`].
    pub refresh_token: Option<String>,
    /// The digests the cached images resolved to, by container name: recorded as
    /// [`DIGESTS_ANNOTATION`], and with `KIP_PIN_DIGESTS` written into the images.
    pub digests: BTreeMap<String, String>,
}

/// YAML for people (`kip render`, golden files). Serializing the Kubernetes types cannot fail
/// in practice; if it ever does, the text says so as a YAML comment rather than panicking.
pub fn to_yaml(value: &impl serde::Serialize) -> String {
    serde_saphyr::to_string(value).unwrap_or_else(|error| format!("# cannot render as YAML: {error}\n"))
}

// The caching modes' pod shapes, and the names and resources of the container they add.
mod modes;
pub use modes::{
    IMAGE_MOUNT_ROOT, KEEPER_CONTAINER_NAME, KEEPER_CPU_LIMIT, KEEPER_CPU_REQUEST, KEEPER_MEMORY_LIMIT,
    KEEPER_MEMORY_REQUEST, cached_images,
};
