//! The images of a node: which ones its pods hold, which ones image garbage collection removes
//! (the periodic collection down to the low threshold, and the eviction manager's reclaim of every
//! unused image under disk pressure), and the `status.images` list the node reports.
//!
//! The rules follow the kubelet (see `docs/caching-modes.md` for the sources): an image is in use
//! while a container the runtime still has references it, whatever that container's state, or
//! mounts it as an image volume.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use serde_json::{Value, json};

use super::pod_state::PodState;
use super::runtime::ImageInfo;

/// The images that garbage collection must keep because pods on the node hold them.
///
/// An image is in use while a container of a pod on the node references it, whether the
/// container runs or has exited, is an init container or not: the kubelet asks the runtime for
/// every container, exited ones included (`GetPods(all=true)` in `detectImages`), and for a pod
/// that has not terminated its container garbage collection keeps the newest exited instance of
/// every container name, also when it reclaims disk. So an image used only by a completed init
/// container stays while its pod runs. Images mounted as image volumes count the same way, for
/// as long as a container of the pod mounting them exists. A pod whose containers the runtime
/// no longer has ([`PodState::containers_removed`]) holds nothing. An image a container is
/// about to start from counts from the moment its pull completes.
pub fn images_in_use<'a>(pods: impl IntoIterator<Item = &'a PodState>) -> HashSet<String> {
    pods.into_iter().flat_map(|pod| pod.image_ids().map(String::from)).collect()
}

/// The kubelet's disk usage in percent, as image garbage collection computes it: from the free
/// space, rounded so that any fraction counts as used.
fn usage_percent(used: u64, capacity: u64) -> u64 {
    let available = capacity.saturating_sub(used);
    100u64.saturating_sub(available.saturating_mul(100) / capacity.max(1))
}

/// Whether periodic image garbage collection has work: usage at or above the high threshold
/// (`GarbageCollect` in the kubelet's `image_gc_manager.go`).
pub fn above_high_threshold(used: u64, capacity: u64, high_percent: u64) -> bool {
    capacity > 0 && usage_percent(used, capacity) >= high_percent
}

/// Whether the eviction manager sees disk pressure on the image filesystem: less free space than
/// its hard threshold (`imagefs.available<15%` by default).
pub fn under_disk_pressure(used: u64, capacity: u64, min_available_percent: u64) -> bool {
    capacity > 0 && capacity.saturating_sub(used).saturating_mul(100) < min_available_percent.saturating_mul(capacity)
}

/// When each image was first seen and last used on a node (simulated time).
#[derive(Debug, Default)]
pub struct ImageUsage {
    first_seen: HashMap<String, jiff::Timestamp>,
    last_used: HashMap<String, jiff::Timestamp>,
}

impl ImageUsage {
    pub fn seen(&mut self, id: &str, now: jiff::Timestamp) {
        self.first_seen.entry(id.to_string()).or_insert(now);
    }

    pub fn used(&mut self, id: &str, now: jiff::Timestamp) {
        self.seen(id, now);
        self.last_used.insert(id.to_string(), now);
    }

    pub fn forget(&mut self, id: &str) {
        self.first_seen.remove(id);
        self.last_used.remove(id);
    }
}

/// Image garbage collection thresholds, as the kubelet's flags name them.
#[derive(Clone, Debug)]
pub struct GcPolicy {
    /// Collect when image disk usage exceeds this percentage (`imageGCHighThresholdPercent`).
    pub high_percent: u64,
    /// Collect down to this percentage (`imageGCLowThresholdPercent`).
    pub low_percent: u64,
    /// Never collect an image seen more recently than this (`imageMinimumGCAge`).
    pub minimum_age: Duration,
}

/// The images to remove, in order: when usage is at or above the high threshold, unused images
/// old enough, least recently used first, until usage is at or below the low threshold.
pub fn images_to_remove(
    images: &[ImageInfo],
    in_use: &HashSet<String>,
    usage: &ImageUsage,
    capacity: u64,
    policy: &GcPolicy,
    now: jiff::Timestamp,
) -> Vec<String> {
    let used: u64 = images.iter().map(|i| i.size_bytes).sum();
    if !above_high_threshold(used, capacity, policy.high_percent) {
        return Vec::new();
    }
    let target = policy.low_percent.saturating_mul(capacity) / 100;
    let mut remaining = used;
    let mut remove = Vec::new();
    for image in candidates(images, in_use, usage, policy, now) {
        if remaining <= target {
            break;
        }
        remaining -= image.size_bytes;
        remove.push(image.id.clone());
    }
    remove
}

/// Every unused image old enough, least recently used first: what the eviction manager has
/// removed when it reclaims disk under pressure (`DeleteUnusedImages`), whatever the thresholds.
pub fn unused_images(
    images: &[ImageInfo],
    in_use: &HashSet<String>,
    usage: &ImageUsage,
    policy: &GcPolicy,
    now: jiff::Timestamp,
) -> Vec<String> {
    candidates(images, in_use, usage, policy, now).into_iter().map(|i| i.id.clone()).collect()
}

/// Unused images past the minimum age, least recently used first.
fn candidates<'a>(
    images: &'a [ImageInfo],
    in_use: &HashSet<String>,
    usage: &ImageUsage,
    policy: &GcPolicy,
    now: jiff::Timestamp,
) -> Vec<&'a ImageInfo> {
    let old_enough = |id: &str| {
        usage
            .first_seen
            .get(id)
            .is_none_or(|seen| Duration::try_from(now.duration_since(*seen)).is_ok_and(|age| age >= policy.minimum_age))
    };
    let mut candidates: Vec<&ImageInfo> =
        images.iter().filter(|i| !in_use.contains(&i.id) && old_enough(&i.id)).collect();
    let last_used = |i: &ImageInfo| usage.last_used.get(&i.id).or_else(|| usage.first_seen.get(&i.id)).copied();
    candidates.sort_by_key(|i| (last_used(i), i.id.clone()));
    candidates
}

/// `status.images`: the largest images first, at most `max` (the kubelet's
/// `nodeStatusMaxImages`), each with its digest reference and tags.
pub fn node_status_images(images: &[ImageInfo], max: usize) -> Value {
    let mut sorted: Vec<&ImageInfo> = images.iter().collect();
    sorted.sort_by(|a, b| b.size_bytes.cmp(&a.size_bytes).then_with(|| a.id.cmp(&b.id)));
    Value::Array(sorted.into_iter().take(max).map(|i| json!({"names": i.names(), "sizeBytes": i.size_bytes})).collect())
}

#[cfg(test)]
#[path = "images_tests.rs"]
mod tests;
