//! Node duties of the control plane: the state taints (what Kubernetes' node lifecycle
//! controller keeps in step with conditions and cordons), NoExecute eviction of pods that do
//! not tolerate a node's taints, deleting the pods of nodes that are gone (pod GC), and placing
//! pods nobody bound (a minimal scheduler: fitting nodes, the emptiest first).

use std::collections::HashMap;
use std::time::Duration;

use k8s_openapi::api::core::v1::Toleration;
use serde_json::{Value, json};

use super::cache::{NodeView, PodView, Resources, apply_written};
use super::eligibility::{Placement, pod_fits, tolerates};
use super::{Manager, NODES, PODS, SyncError, WorkKey};
use crate::cluster::node::reconciled_taints;
use crate::store::{DeleteOptions, ObjectKey, Part};

pub(super) fn sync_node(m: &mut Manager, name: &str) -> Result<(), SyncError> {
    let key = ObjectKey::cluster(name);
    if m.caches.nodes.get(&key).is_none() {
        return collect_pods_of_deleted_node(m, name);
    }
    if m.caches.nodes.get(&key).is_some_and(|n| n.taints_stale) {
        let now = m.clock.timestamp();
        let written = m.store.modify(&NODES, &key, Part::Main, |node| {
            if let Some(taints) = reconciled_taints(node, &now) {
                node["spec"]["taints"] = Value::Array(taints);
            }
            Ok(())
        })?;
        apply_written(&mut m.caches.nodes, &written, NodeView::from_object);
    }
    evict_intolerant_pods(m, name)
}

/// Pod GC: pods bound to a node that no longer exists are deleted at once.
fn collect_pods_of_deleted_node(m: &mut Manager, name: &str) -> Result<(), SyncError> {
    let orphans: Vec<ObjectKey> = m
        .caches
        .pods
        .values()
        .filter(|p| p.bound && p.node_name.as_deref() == Some(name))
        .map(|p| p.key.clone())
        .collect();
    let now = DeleteOptions { grace_period_seconds: Some(0), ..Default::default() };
    for key in orphans {
        m.delete_pod(&key, &now)?;
    }
    Ok(())
}

/// Deletes pods on the node that do not tolerate one of its NoExecute taints, once their
/// `tolerationSeconds` (counted from the taint's `timeAdded`) have run out.
fn evict_intolerant_pods(m: &mut Manager, name: &str) -> Result<(), SyncError> {
    let Some(node) = m.caches.nodes.get(&ObjectKey::cluster(name)) else { return Ok(()) };
    let taints: Vec<_> = node.facts.taints.iter().filter(|t| t.effect == "NoExecute").cloned().collect();
    if taints.is_empty() {
        return Ok(());
    }
    let now = m.clock.now();
    let on_node: Vec<ObjectKey> = m
        .caches
        .pods
        .values()
        .filter(|p| p.bound && p.is_active() && p.node_name.as_deref() == Some(name))
        .map(|p| p.key.clone())
        .collect();
    let mut evict = Vec::new();
    let mut recheck: Option<Duration> = None;
    for key in on_node {
        let Some(pod) = m.store.get(&PODS, &key) else { continue };
        let tolerations: Vec<Toleration> =
            pod.pointer("/spec/tolerations").and_then(|t| serde::Deserialize::deserialize(t).ok()).unwrap_or_default();
        let mut deadline: Option<jiff::Timestamp> = None;
        for taint in &taints {
            let Some(toleration) = tolerations.iter().find(|t| tolerates(t, taint)) else {
                deadline = Some(now);
                break;
            };
            if let Some(seconds) = toleration.toleration_seconds {
                let added = taint.time_added.as_ref().map(|t| t.0).unwrap_or(now);
                let until = added.checked_add(jiff::SignedDuration::from_secs(seconds.max(0))).unwrap_or(now);
                deadline = Some(deadline.map_or(until, |d| d.min(until)));
            }
        }
        match deadline {
            Some(d) if d <= now => evict.push(key),
            Some(d) => {
                let wait = Duration::try_from(d.duration_since(now)).unwrap_or(Duration::ZERO);
                recheck = Some(recheck.map_or(wait, |r| r.min(wait)));
            }
            None => {}
        }
    }
    for key in evict {
        m.delete_pod(&key, &DeleteOptions::default())?;
    }
    if let Some(wait) = recheck {
        m.requeue_after(WorkKey::Node(name.to_string()), wait + Duration::from_secs(1));
    }
    Ok(())
}

/// What the pods bound to each node request, and how many there are.
fn usage(m: &Manager) -> HashMap<&str, (i64, Resources)> {
    let mut usage: HashMap<&str, (i64, Resources)> = HashMap::new();
    for pod in m.caches.pods.values().filter(|p| p.bound && !p.is_terminal()) {
        if let Some(node) = pod.node_name.as_deref() {
            let entry = usage.entry(node).or_default();
            entry.0 += 1;
            entry.1.cpu_millis += pod.requests.cpu_millis;
            entry.1.memory_bytes += pod.requests.memory_bytes;
        }
    }
    usage
}

/// A node for a new pod with this spec: one it fits (placement, taints, room for its requests),
/// the one with the fewest pods first; `None` when no node fits.
pub(super) fn choose_node(m: &Manager, spec: &Value) -> Option<String> {
    let placement = Placement::from_pod_spec(spec);
    let requests = Resources::of_pod_spec(spec);
    let usage = usage(m);
    m.caches
        .nodes
        .values()
        .filter(|node| pod_fits(&placement, &node.facts))
        .filter_map(|node| {
            let (count, used) = usage.get(node.facts.name.as_str()).copied().unwrap_or_default();
            let fits = count < node.max_pods
                && used.cpu_millis.saturating_add(requests.cpu_millis) <= node.allocatable.cpu_millis
                && used.memory_bytes.saturating_add(requests.memory_bytes) <= node.allocatable.memory_bytes;
            fits.then_some((count, &node.facts.name))
        })
        .min()
        .map(|(_, name)| name.clone())
}

/// Binds the pods nobody bound (daemon pods excepted: their controller binds them) where they
/// fit; the others are marked unschedulable, as the scheduler reports it.
pub(super) fn schedule_pending(m: &mut Manager) -> Result<(), SyncError> {
    let pending: Vec<PodView> = m
        .caches
        .pods
        .values()
        .filter(|p| !p.bound && p.is_active() && p.owner.as_ref().is_none_or(|o| o.kind != "DaemonSet"))
        .cloned()
        .collect();
    for pod in pending {
        let Some(obj) = m.store.get(&PODS, &pod.key) else { continue };
        let uid = pod.uid.clone();
        match choose_node(m, obj.get("spec").unwrap_or(&Value::Null)) {
            Some(node) => {
                let bound = m.store.modify(&PODS, &pod.key, Part::Main, |p| {
                    if p.pointer("/metadata/uid").and_then(Value::as_str) != Some(uid.as_str()) {
                        return Err(crate::error::ApiError::new(409, "Conflict", "the pod was replaced"));
                    }
                    p["spec"]["nodeName"] = json!(node);
                    Ok(())
                })?;
                apply_written(&mut m.caches.pods, &bound, PodView::from_object);
            }
            None => {
                let message = format!("0/{} nodes are available: no node fits the pod.", m.caches.nodes.len());
                let now = m.clock.timestamp();
                let marked = m.store.modify(&PODS, &pod.key, Part::Status, |p| {
                    let condition = json!({"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                                           "message": message, "lastProbeTime": null, "lastTransitionTime": now});
                    let conditions = p["status"]["conditions"].as_array().cloned().unwrap_or_default();
                    if conditions.iter().any(|c| c["type"] == "PodScheduled" && c["message"] == condition["message"]) {
                        return Ok(());
                    }
                    let mut rest: Vec<Value> = conditions.into_iter().filter(|c| c["type"] != "PodScheduled").collect();
                    rest.push(condition);
                    p["status"]["conditions"] = Value::Array(rest);
                    Ok(())
                })?;
                apply_written(&mut m.caches.pods, &marked, PodView::from_object);
            }
        }
    }
    Ok(())
}
