//! One `KubernetesImagePuller` per namespace. The admission policy in `deploy/operator` refuses
//! a second one where the cluster supports it; whatever gets through (older clusters, two
//! creations racing past the policy's cache) is settled here: the oldest resource is in force,
//! the others are marked Degraded and their would-be objects are never touched.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

/// The name of the resource in force among `resources` (all from one namespace): the oldest
/// that is not being deleted, the name breaking ties of the one-second timestamps.
pub fn primary<'a>(resources: impl IntoIterator<Item = &'a ObjectMeta>) -> Option<&'a str> {
    resources
        .into_iter()
        .filter(|meta| meta.deletion_timestamp.is_none())
        .filter_map(|meta| Some((meta.creation_timestamp.as_ref().map(|t| t.0), meta.name.as_deref()?)))
        // An object not yet stamped (never the case once stored) sorts last.
        .min_by_key(|(created, name)| (created.is_none(), *created, *name))
        .map(|(_, name)| name)
}
