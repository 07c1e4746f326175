//! Refreshing only on change: which digest is in force for each cached image, and when the
//! caching pods must roll. Pure functions over what the live DaemonSet records and what the
//! registry said last; the resolving itself is in [`super::resolver`].
//!
//! The rules:
//! 1. The digest in force for an image is the one last resolved for it; when the registry did
//!    not answer for it (yet), the one the live DaemonSet records for the same image. So a
//!    registry outage, or a restart of kip, changes nothing.
//! 2. The pods roll when a digest in force differs from the recorded digest of the same image:
//!    the pod-template token becomes a hash of the digests in force. Nothing else changes the
//!    token, so unchanged digests cause no restart at all.
//! 3. A digest learned for the first time (a new install, an image added, or one whose registry
//!    failed until now) is recorded without a roll: there is nothing to compare it with, and
//!    the pods pulled the tag when they started.
//! 4. Partial failure: images that resolved are compared and may roll the pods; the others keep
//!    their recorded digest (rule 1), so a failing registry never causes a roll by itself.
//! 5. An image whose reference changed in the configuration rolls through the template anyway;
//!    its old digest is dropped, never applied to the new reference.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::apps::v1::DaemonSet;
use sha2::{Digest as _, Sha256};

use crate::config::CachedImage;
use crate::render::{DIGESTS_ANNOTATION, REFRESH_ANNOTATION, pinned_image};

/// A digest and the image reference (as configured) it was resolved for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KnownDigest {
    pub image: String,
    pub digest: String,
}

/// What the live DaemonSet records: its digests annotation, with each entry's image taken from
/// the container of that name, and its refresh token.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Recorded {
    pub digests: BTreeMap<String, String>,
    /// Container name to image, as in the live pod template (pinned or not).
    pub images: BTreeMap<String, String>,
    pub token: Option<String>,
}

impl Recorded {
    pub fn of(daemonset: Option<&DaemonSet>) -> Recorded {
        let Some(daemonset) = daemonset else { return Recorded::default() };
        let digests = daemonset
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(DIGESTS_ANNOTATION))
            .and_then(|text| serde_json::from_str::<BTreeMap<String, String>>(text).ok())
            .unwrap_or_default();
        let template = daemonset.spec.as_ref().map(|spec| &spec.template);
        let images = template
            .and_then(|t| t.spec.as_ref())
            .map(|pod| {
                // The cached images, whichever caching mode shaped the pod.
                crate::render::cached_images(pod)
                    .iter()
                    .map(|c| (c.name.clone(), c.image.clone().unwrap_or_default()))
                    .collect()
            })
            .unwrap_or_default();
        let token = template
            .and_then(|t| t.metadata.as_ref())
            .and_then(|m| m.annotations.as_ref())
            .and_then(|a| a.get(REFRESH_ANNOTATION))
            .cloned();
        Recorded { digests, images, token }
    }

    /// The recorded digest of container `name`, if it was recorded for `image` (the live
    /// container runs `image`, or `image` pinned to that very digest).
    pub fn digest_for(&self, name: &str, image: &str) -> Option<&str> {
        let digest = self.digests.get(name)?;
        let live = self.images.get(name)?;
        (live == image || *live == pinned_image(image, digest)).then_some(digest.as_str())
    }
}

/// The digest in force for each configured image (rule 1), by container name.
pub fn in_force(
    images: &[CachedImage],
    resolved: &BTreeMap<String, KnownDigest>,
    recorded: &Recorded,
) -> BTreeMap<String, String> {
    images
        .iter()
        .filter_map(|cached| {
            let fresh =
                resolved.get(&cached.name).filter(|known| known.image == cached.image).map(|k| k.digest.as_str());
            let digest = fresh.or_else(|| recorded.digest_for(&cached.name, &cached.image))?;
            Some((cached.name.clone(), digest.to_string()))
        })
        .collect()
}

/// One image whose content changed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DigestChange {
    pub name: String,
    pub from: String,
    pub to: String,
}

/// The pod-template token to apply and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenPlan {
    pub token: String,
    /// The images whose digest changed (rule 2): non-empty means the pods roll.
    pub changes: Vec<DigestChange>,
}

/// Plans the token for the `on-change` policy (rules 2 and 3).
pub fn plan(images: &[CachedImage], recorded: &Recorded, in_force: &BTreeMap<String, String>) -> TokenPlan {
    let changes: Vec<DigestChange> = images
        .iter()
        .filter_map(|cached| {
            let from = recorded.digest_for(&cached.name, &cached.image)?;
            let to = in_force.get(&cached.name)?;
            (from != to).then(|| DigestChange { name: cached.name.clone(), from: from.to_string(), to: to.clone() })
        })
        .collect();
    let token = match &recorded.token {
        Some(token) if changes.is_empty() => token.clone(),
        _ => digest_token(in_force),
    };
    TokenPlan { token, changes }
}

/// A short hash of the digests: equal digests give equal tokens, whatever the order.
pub fn digest_token(digests: &BTreeMap<String, String>) -> String {
    let mut hasher = Sha256::new();
    for (name, digest) in digests {
        hasher.update(name.as_bytes());
        hasher.update(b"=");
        hasher.update(digest.as_bytes());
        hasher.update(b"\n");
    }
    let hash = hex::encode(hasher.finalize());
    format!("digests-{}", &hash[..16])
}

/// Whether every configured image is known to the registry lookups or the live record: with
/// pinning, kip waits for that before applying, so that a new image is not first applied by
/// tag and then rolled again to its digest.
pub fn all_attempted(images: &[CachedImage], attempted: &BTreeSet<(String, String)>, recorded: &Recorded) -> bool {
    images.iter().all(|cached| {
        attempted.contains(&(cached.name.clone(), cached.image.clone()))
            || recorded.digest_for(&cached.name, &cached.image).is_some()
    })
}

#[cfg(test)]
#[path = "digests_tests.rs"]
mod tests;
