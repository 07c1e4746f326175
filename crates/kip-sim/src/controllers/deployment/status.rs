//! Deployment status: counts summed over its ReplicaSets, and the `Available` and
//! `Progressing` conditions (progress, completion, or `ProgressDeadlineExceeded`).

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};

use super::super::{Manager, SyncError, WorkKey};
use super::{DeploymentView, spec_replicas, status_field, write_status};
use crate::cluster::clock::parse_timestamp;
use crate::store::meta_str;

fn condition<'a>(status: &'a Value, kind: &str) -> Option<&'a Value> {
    status.get("conditions")?.as_array()?.iter().find(|c| c["type"] == kind)
}

/// Sets a condition as Kubernetes does: unchanged when status and reason are the same, the
/// transition time kept when only the reason changes, and the condition moved to the end.
fn set_condition(status: &mut Value, mut new: Value) {
    let kind = new["type"].as_str().unwrap_or("").to_string();
    if let Some(current) = condition(status, &kind) {
        if current["status"] == new["status"] && current["reason"] == new["reason"] {
            return;
        }
        if current["status"] == new["status"] {
            new["lastTransitionTime"] = current["lastTransitionTime"].clone();
        }
    }
    let mut conditions: Vec<Value> = status["conditions"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|c| c["type"] != kind)
        .collect();
    conditions.push(new);
    status["conditions"] = Value::Array(conditions);
}

fn new_condition(kind: &str, status: &str, reason: &str, message: &str, now: &str) -> Value {
    json!({"type": kind, "status": status, "reason": reason, "message": message,
           "lastUpdateTime": now, "lastTransitionTime": now})
}

/// Records a `Progressing` condition right away (a new ReplicaSet was created).
pub(super) fn progressing(m: &mut Manager, d: &DeploymentView, reason: &str, message: &str) -> Result<(), SyncError> {
    if d.progress_deadline.is_none() {
        return Ok(());
    }
    let c = new_condition("Progressing", "True", reason, message, &m.clock.timestamp());
    write_status(m, d, |status| set_condition(status, c))
}

/// Computes the Deployment's status and writes it when it changed.
pub(super) fn sync(
    m: &mut Manager,
    d: &DeploymentView,
    new_rs: Option<&Value>,
    old: &[Arc<Value>],
) -> Result<(), SyncError> {
    let current = m.caches.deployments.get(&d.key).cloned().unwrap_or_else(|| d.obj.clone());
    let old_status = current.get("status").cloned().unwrap_or_else(|| json!({}));
    let all: Vec<&Value> = old.iter().map(|rs| &**rs).chain(new_rs).collect();
    let sum = |field: &str| all.iter().map(|rs| status_field(rs, field)).sum::<i64>();
    let total_spec: i64 = all.iter().map(|rs| spec_replicas(rs)).sum();
    let replicas = sum("replicas");
    let updated = new_rs.map(|rs| status_field(rs, "replicas")).unwrap_or(0);
    let ready = sum("readyReplicas");
    let available = sum("availableReplicas");
    let unavailable = (total_spec - available).max(0);
    let now = m.clock.timestamp();

    let mut status = old_status.clone();
    status["observedGeneration"] = json!(d.generation);
    for (name, value) in [
        ("replicas", replicas),
        ("updatedReplicas", updated),
        ("readyReplicas", ready),
        ("availableReplicas", available),
        ("unavailableReplicas", unavailable),
    ] {
        if value == 0 {
            if let Some(o) = status.as_object_mut() {
                o.remove(name);
            }
        } else {
            status[name] = json!(value);
        }
    }
    let available_condition = if available >= d.replicas - d.max_unavailable {
        new_condition("Available", "True", "MinimumReplicasAvailable", "Deployment has minimum availability.", &now)
    } else {
        new_condition(
            "Available",
            "False",
            "MinimumReplicasUnavailable",
            "Deployment does not have minimum availability.",
            &now,
        )
    };
    set_condition(&mut status, available_condition);

    let rs_name = new_rs.and_then(|rs| meta_str(rs, "name")).map(String::from);
    let subject = match &rs_name {
        Some(name) => format!("ReplicaSet \"{name}\""),
        None => format!("Deployment \"{}\"", d.key.name),
    };
    match d.progress_deadline {
        None => {
            if let Some(conditions) = status.get_mut("conditions").and_then(Value::as_array_mut) {
                conditions.retain(|c| c["type"] != "Progressing");
            }
        }
        Some(deadline) => {
            let current_progress = condition(&old_status, "Progressing").cloned();
            let already_complete = replicas == updated
                && current_progress.as_ref().is_some_and(|c| c["reason"] == "NewReplicaSetAvailable");
            let complete = updated == d.replicas && replicas == d.replicas && available == d.replicas;
            let old_replicas =
                |s: &Value| s["replicas"].as_i64().unwrap_or(0) - s["updatedReplicas"].as_i64().unwrap_or(0);
            let moved = updated > old_status["updatedReplicas"].as_i64().unwrap_or(0)
                || old_replicas(&status) < old_replicas(&old_status)
                || ready > old_status["readyReplicas"].as_i64().unwrap_or(0)
                || available > old_status["availableReplicas"].as_i64().unwrap_or(0);
            if already_complete {
            } else if complete {
                let msg = format!("{subject} has successfully progressed.");
                set_condition(&mut status, new_condition("Progressing", "True", "NewReplicaSetAvailable", &msg, &now));
            } else if moved {
                let mut c = new_condition(
                    "Progressing",
                    "True",
                    "ReplicaSetUpdated",
                    &format!("{subject} is progressing."),
                    &now,
                );
                if let Some(current) = current_progress.as_ref().filter(|c| c["status"] == "True") {
                    c["lastTransitionTime"] = current["lastTransitionTime"].clone();
                }
                if let Some(conditions) = status.get_mut("conditions").and_then(Value::as_array_mut) {
                    conditions.retain(|c| c["type"] != "Progressing");
                }
                set_condition(&mut status, c);
            } else if let Some(progress) = condition(&status, "Progressing").cloned()
                && progress["reason"] != "NewReplicaSetAvailable"
            {
                let last = progress["lastUpdateTime"].as_str().and_then(parse_timestamp);
                let deadline_at = last.and_then(|t| t.checked_add(jiff::SignedDuration::from_secs(deadline)).ok());
                let timed_out = progress["reason"] == "ProgressDeadlineExceeded"
                    || deadline_at.is_some_and(|at| at < m.clock.now());
                if timed_out {
                    let msg = format!("{subject} has timed out progressing.");
                    set_condition(
                        &mut status,
                        new_condition("Progressing", "False", "ProgressDeadlineExceeded", &msg, &now),
                    );
                } else if let Some(at) = deadline_at {
                    // Look again when the deadline passes without progress.
                    let wait = Duration::try_from(at.duration_since(m.clock.now())).unwrap_or(Duration::ZERO);
                    m.requeue_after(WorkKey::Deployment(d.key.clone()), wait + Duration::from_secs(1));
                }
            }
        }
    }
    if status != old_status {
        write_status(m, d, |s| *s = status)?;
    }
    Ok(())
}
