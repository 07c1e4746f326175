//! Freeing a node's image disk, as two parts of the kubelet do it, after every pull and
//! periodically:
//!
//! - image garbage collection: at or above the high threshold, unused images least recently used
//!   first, down to the low threshold;
//! - the eviction manager: with less free space than its `imagefs.available` threshold the node
//!   reports DiskPressure, and it reclaims disk by removing the containers of terminated pods
//!   (`DeleteAllUnusedContainers`), then every unused image (`DeleteUnusedImages`). The exited
//!   containers of pods that still run are kept, and with them the images they hold.
//!
//! Not modelled: evicting pods when reclaiming is not enough, and the eviction manager's
//! transition period (the condition clears at once when the pressure does).

use std::sync::Arc;
use std::sync::atomic::Ordering;

use serde_json::{Value, json};

use super::node::NodeAgent;
use super::{Kubelets, images};

impl Kubelets {
    /// Removes unused images from a node whose image disk is too full, and keeps its
    /// DiskPressure condition up to date.
    pub(crate) async fn collect_garbage(&self, agent: &Arc<NodeAgent>) {
        let capacity = agent.image_disk_bytes;
        let min_available = self.config.eviction_imagefs_available_percent;
        // The usual case, below both thresholds, needs no look at images or pods.
        let used = agent.runtime.image_fs_usage().await;
        let pressure = images::under_disk_pressure(used, capacity, min_available);
        self.set_disk_pressure(agent, pressure);
        if !pressure && !images::above_high_threshold(used, capacity, self.config.image_gc_high_percent) {
            return;
        }
        if pressure {
            remove_containers_of_terminated_pods(agent);
        }
        let images = agent.runtime.list_images().await;
        let in_use = {
            let pods = agent.pods.read();
            let states: Vec<_> = pods.values().map(|p| p.state.lock()).collect();
            images::images_in_use(states.iter().map(|s| &**s))
        };
        let now = self.clock.now();
        let remove = {
            let mut usage = agent.image_usage.lock();
            for image in &images {
                if in_use.contains(&image.id) {
                    usage.used(&image.id, now);
                } else {
                    usage.seen(&image.id, now);
                }
            }
            let policy = images::GcPolicy {
                high_percent: self.config.image_gc_high_percent,
                low_percent: self.config.image_gc_low_percent,
                minimum_age: self.config.image_minimum_gc_age,
            };
            if pressure {
                images::unused_images(&images, &in_use, &usage, &policy, now)
            } else {
                images::images_to_remove(&images, &in_use, &usage, capacity, &policy, now)
            }
        };
        for id in &remove {
            if agent.runtime.remove_image(id).await.is_ok() {
                agent.image_usage.lock().forget(id);
            }
        }
        if !remove.is_empty() {
            self.status.node_changed(agent);
            let used = agent.runtime.image_fs_usage().await;
            self.set_disk_pressure(agent, images::under_disk_pressure(used, capacity, min_available));
        }
    }

    fn set_disk_pressure(&self, agent: &Arc<NodeAgent>, pressure: bool) {
        if agent.disk_pressure.swap(pressure, Ordering::AcqRel) != pressure {
            self.status.node_changed(agent);
        }
    }
}

/// What `DeleteAllUnusedContainers` does to the pods of a node: the containers of pods that
/// have terminated go, so the images only they held are no longer in use. Pods that still run
/// keep theirs, exited init containers included.
fn remove_containers_of_terminated_pods(agent: &NodeAgent) {
    for pod in agent.pods.read().values() {
        let mut state = pod.state.lock();
        if state.is_terminal() {
            state.containers_removed = true;
        }
    }
}

/// Brings the node's `DiskPressure` condition in line with `pressure`; false when it already
/// was. The transition time moves only when the status does.
pub(super) fn set_disk_pressure_condition(node: &mut Value, pressure: bool, now: &str) -> bool {
    let (status, reason, message) = if pressure {
        ("True", "KubeletHasDiskPressure", "kubelet has disk pressure")
    } else {
        ("False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure")
    };
    let Some(conditions) = node.pointer_mut("/status/conditions").and_then(Value::as_array_mut) else {
        return false;
    };
    let wanted = |since: &Value| {
        json!({"type": "DiskPressure", "status": status, "reason": reason, "message": message,
               "lastHeartbeatTime": now, "lastTransitionTime": since})
    };
    match conditions.iter_mut().find(|c| c["type"] == "DiskPressure") {
        Some(condition) if condition["status"] == status => false,
        Some(condition) => {
            *condition = wanted(&json!(now));
            true
        }
        None => {
            conditions.push(wanted(&json!(now)));
            true
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_disk_pressure_condition_changes_only_with_its_status() {
        let mut node = json!({"status": {"conditions": [
            {"type": "DiskPressure", "status": "False", "reason": "KubeletHasNoDiskPressure",
             "lastTransitionTime": "2024-01-01T00:00:00Z"},
            {"type": "Ready", "status": "True"}
        ]}});
        assert!(!set_disk_pressure_condition(&mut node, false, "2024-01-01T01:00:00Z"));
        assert!(set_disk_pressure_condition(&mut node, true, "2024-01-01T02:00:00Z"));
        let condition = &node["status"]["conditions"][0];
        assert_eq!(
            (&condition["status"], &condition["reason"], &condition["lastTransitionTime"]),
            (&json!("True"), &json!("KubeletHasDiskPressure"), &json!("2024-01-01T02:00:00Z"))
        );
        assert!(!set_disk_pressure_condition(&mut node, true, "2024-01-01T03:00:00Z"));
        assert_eq!(node["status"]["conditions"][0]["lastTransitionTime"], "2024-01-01T02:00:00Z");
        assert_eq!(node["status"]["conditions"][1]["type"], "Ready", "other conditions untouched");
    }
}
