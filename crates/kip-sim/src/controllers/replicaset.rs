//! The ReplicaSet controller: keeps `spec.replicas` active pods (neither finished nor being
//! deleted), placing new ones on a fitting node right away, deleting the least useful ones
//! first when there are too many, and reporting replicas, ready and available counts.

use std::sync::Arc;

use serde_json::{Value, json};

use super::cache::{PodView, remember};
use super::{Manager, REPLICASETS, SyncError, WorkKey, controller_ref, nodes};
use crate::error::ApiError;
use crate::store::{DeleteOptions, ObjectKey, Part, is_terminating, meta_str};

pub(super) fn sync(m: &mut Manager, key: &ObjectKey) -> Result<(), SyncError> {
    let Some(rs) = m.caches.replicasets.get(key).cloned() else { return Ok(()) };
    let uid = meta_str(&rs, "uid").unwrap_or("").to_string();
    let replicas = rs.pointer("/spec/replicas").and_then(Value::as_i64).unwrap_or(1).max(0);
    let active: Vec<PodView> = m.caches.pods.owned_by(&uid).filter(|p| p.is_active()).cloned().collect();
    let diff = active.len() as i64 - replicas;
    let burst = m.config.burst_replicas.max(1);
    if !is_terminating(&rs) {
        if diff < 0 {
            let wanted = (-diff) as usize;
            if wanted > burst {
                m.queue.add(WorkKey::ReplicaSet(key.clone()));
            }
            for _ in 0..wanted.min(burst) {
                let pod = new_pod(&rs, key);
                let node = nodes::choose_node(m, pod.get("spec").unwrap_or(&Value::Null));
                let mut pod = pod;
                if let Some(node) = node {
                    pod["spec"]["nodeName"] = json!(node);
                }
                m.create_pod(pod)?;
            }
        } else if diff > 0 {
            let mut victims = active.clone();
            victims.sort_by_key(deletion_rank);
            for pod in victims.iter().take((diff as usize).min(burst)) {
                m.delete_pod(&pod.key, &DeleteOptions::default())?;
            }
        }
    }
    update_status(m, key, &rs, &uid)
}

/// Pods least worth keeping sort first: unbound, then pending, then not ready, then the newest.
fn deletion_rank(pod: &PodView) -> (bool, u8, bool, std::cmp::Reverse<String>) {
    let phase = match pod.phase.as_str() {
        "Pending" => 0,
        "Unknown" => 1,
        _ => 2,
    };
    (pod.bound, phase, pod.ready, std::cmp::Reverse(pod.created.clone()))
}

fn new_pod(rs: &Value, key: &ObjectKey) -> Value {
    let template = rs.pointer("/spec/template").unwrap_or(&Value::Null);
    let mut metadata = json!({
        "generateName": format!("{}-", key.name),
        "namespace": key.namespace,
        "ownerReferences": [controller_ref(rs, "apps/v1", "ReplicaSet")],
    });
    for field in ["labels", "annotations"] {
        if let Some(v) = template.pointer(&format!("/metadata/{field}")) {
            metadata[field] = v.clone();
        }
    }
    let spec = template.get("spec").cloned().unwrap_or_else(|| json!({}));
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec})
}

fn update_status(m: &mut Manager, key: &ObjectKey, rs: &Arc<Value>, uid: &str) -> Result<(), SyncError> {
    let min_ready = rs.pointer("/spec/minReadySeconds").and_then(Value::as_i64).unwrap_or(0);
    let generation = rs.pointer("/metadata/generation").and_then(Value::as_i64).unwrap_or(0);
    let now = m.clock.now();
    let active: Vec<&PodView> = m.caches.pods.owned_by(uid).filter(|p| p.is_active()).collect();
    let count = active.len() as i64;
    let ready = active.iter().filter(|p| p.ready).count() as i64;
    let available = active.iter().filter(|p| p.is_available(min_ready, now)).count() as i64;
    let mut status = json!({"replicas": count, "observedGeneration": generation});
    for (name, value) in [("fullyLabeledReplicas", count), ("readyReplicas", ready), ("availableReplicas", available)] {
        if value > 0 {
            status[name] = json!(value);
        }
    }
    if let Some(conditions) = rs.pointer("/status/conditions") {
        status["conditions"] = conditions.clone();
    }
    if rs.get("status") != Some(&status) {
        let uid = uid.to_string();
        let written = m.store.modify(&REPLICASETS, key, Part::Status, |obj| {
            if meta_str(obj, "uid") != Some(uid.as_str()) {
                return Err(ApiError::new(409, "Conflict", "the ReplicaSet was replaced"));
            }
            obj["status"] = status;
            Ok(())
        })?;
        remember(&mut m.caches.replicasets, &written);
    }
    if min_ready > 0 && ready != available {
        m.requeue_after(WorkKey::ReplicaSet(key.clone()), std::time::Duration::from_secs(min_ready.unsigned_abs()));
    }
    Ok(())
}
