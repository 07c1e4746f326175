//! The Deployment controller, after Kubernetes': a ReplicaSet per pod template (named
//! `<deployment>-<pod-template-hash>`, the hash also in its selector and pod labels), rolled out
//! with `Recreate` (old pods gone before new ones start) or `RollingUpdate` (within `maxSurge`
//! and `maxUnavailable`), old ReplicaSets scaled to zero and pruned to `revisionHistoryLimit`,
//! and the status and conditions `kubectl rollout status` reads. Proportional scaling of a
//! Deployment resized mid-rollout is simplified to resizing the new ReplicaSet.

mod rolling;
mod status;

use std::sync::Arc;

use serde_json::{Value, json};

use super::cache::remember;
use super::revision::template_hash;
use super::rollout::deployment_fenceposts;
use super::{DEPLOYMENTS, Manager, REPLICASETS, SyncError, controller_ref};
use crate::error::ApiError;
use crate::store::{DeleteOptions, ObjectKey, Part, is_terminating, meta_str};

pub(crate) const TEMPLATE_HASH_LABEL: &str = "pod-template-hash";
const REVISION_ANNOTATION: &str = "deployment.kubernetes.io/revision";
const DESIRED_REPLICAS_ANNOTATION: &str = "deployment.kubernetes.io/desired-replicas";
const MAX_REPLICAS_ANNOTATION: &str = "deployment.kubernetes.io/max-replicas";

/// The fields of a Deployment the controller reads.
pub(super) struct DeploymentView {
    pub obj: Arc<Value>,
    pub key: ObjectKey,
    pub uid: String,
    pub generation: i64,
    pub replicas: i64,
    pub recreate: bool,
    pub max_surge: i64,
    pub max_unavailable: i64,
    pub progress_deadline: Option<i64>,
}

impl DeploymentView {
    fn new(key: &ObjectKey, obj: Arc<Value>) -> Result<Self, SyncError> {
        let replicas = obj.pointer("/spec/replicas").and_then(Value::as_i64).unwrap_or(1).max(0);
        let strategy = obj.pointer("/spec/strategy").unwrap_or(&Value::Null);
        let recreate = strategy.get("type").and_then(Value::as_str) == Some("Recreate");
        let (max_surge, max_unavailable) = if recreate {
            (0, 0)
        } else {
            let default = json!("25%");
            let param = |name: &str| strategy.pointer(&format!("/rollingUpdate/{name}")).or(Some(&default)).cloned();
            let (surge, unavailable) =
                deployment_fenceposts(param("maxSurge").as_ref(), param("maxUnavailable").as_ref(), replicas)
                    .map_err(|e| SyncError::Invalid(format!("Deployment {}/{}: {e}", key.namespace, key.name)))?;
            (surge, unavailable.min(replicas))
        };
        Ok(DeploymentView {
            key: key.clone(),
            uid: meta_str(&obj, "uid").unwrap_or("").to_string(),
            generation: obj.pointer("/metadata/generation").and_then(Value::as_i64).unwrap_or(0),
            replicas,
            recreate,
            max_surge,
            max_unavailable,
            progress_deadline: match obj.pointer("/spec/progressDeadlineSeconds") {
                None => Some(600),
                Some(v) => v.as_i64().filter(|s| *s > 0 && *s < i64::from(i32::MAX)),
            },
            obj,
        })
    }

    fn template(&self) -> &Value {
        self.obj.pointer("/spec/template").unwrap_or(&Value::Null)
    }

    fn collision_count(&self) -> Option<i64> {
        self.obj.pointer("/status/collisionCount").and_then(Value::as_i64)
    }
}

pub(super) fn spec_replicas(rs: &Value) -> i64 {
    rs.pointer("/spec/replicas").and_then(Value::as_i64).unwrap_or(1)
}

pub(super) fn status_field(rs: &Value, name: &str) -> i64 {
    rs.pointer(&format!("/status/{name}")).and_then(Value::as_i64).unwrap_or(0)
}

fn revision_of(rs: &Value) -> i64 {
    rs.pointer(&format!("/metadata/annotations/{}", REVISION_ANNOTATION.replace('/', "~1")))
        .and_then(Value::as_str)
        .and_then(|r| r.parse().ok())
        .unwrap_or(0)
}

/// Whether a ReplicaSet runs the Deployment's template (its own hash label aside).
fn runs_template(template: &Value, rs: &Value) -> bool {
    let Some(rs_template) = rs.pointer("/spec/template") else { return false };
    let mut rs_template = rs_template.clone();
    if let Some(labels) = rs_template.pointer_mut("/metadata/labels").and_then(Value::as_object_mut) {
        labels.remove(TEMPLATE_HASH_LABEL);
        if labels.is_empty() {
            let empty_ok =
                template.pointer("/metadata/labels").is_none_or(|l| l.as_object().is_some_and(|o| o.is_empty()));
            if empty_ok && let Some(meta) = rs_template.get_mut("metadata").and_then(Value::as_object_mut) {
                meta.remove("labels");
            }
        }
    }
    rs_template == *template
}

pub(super) fn sync(m: &mut Manager, key: &ObjectKey) -> Result<(), SyncError> {
    let Some(obj) = m.caches.deployments.get(key).cloned() else { return Ok(()) };
    let d = DeploymentView::new(key, obj)?;
    let mut owned: Vec<Arc<Value>> = m.caches.replicasets.owned_by(&d.uid).cloned().collect();
    owned.sort_by(|a, b| {
        (meta_str(a, "creationTimestamp"), meta_str(a, "name"))
            .cmp(&(meta_str(b, "creationTimestamp"), meta_str(b, "name")))
    });
    let (mut new_rs, old): (Option<Arc<Value>>, Vec<Arc<Value>>) = {
        let (new, old): (Vec<_>, Vec<_>) = owned.into_iter().partition(|rs| runs_template(d.template(), rs));
        let mut new = new.into_iter();
        let first = new.next();
        (first, old.into_iter().chain(new).collect())
    };
    let paused = d.obj.pointer("/spec/paused").and_then(Value::as_bool) == Some(true);
    if is_terminating(&d.obj) || paused {
        return status::sync(m, &d, new_rs.as_deref(), &old);
    }
    if d.recreate {
        let scaled_down = rolling::scale_old_to_zero(m, &old)?;
        let old_running = old.iter().any(|rs| status_field(rs, "replicas") > 0) || old_pods_running(m, &old);
        if scaled_down || old_running {
            return status::sync(m, &d, new_rs.as_deref(), &old);
        }
        if new_rs.is_none() {
            new_rs = create_new_rs(m, &d, &old)?;
        }
        if let Some(rs) = &new_rs {
            new_rs = Some(scale(m, &d, rs, d.replicas)?);
        }
    } else {
        if new_rs.is_none() {
            new_rs = create_new_rs(m, &d, &old)?;
        }
        if let Some(rs) = new_rs.clone() {
            let (scaled_up, rs) = rolling::reconcile_new(m, &d, &rs, &old)?;
            new_rs = Some(rs.clone());
            if !scaled_up {
                rolling::reconcile_old(m, &d, &rs, &old)?;
            }
        }
    }
    if let Some(rs) = &new_rs {
        sync_revision_annotation(m, &d, rs)?;
    }
    let old: Vec<Arc<Value>> =
        old.iter().filter_map(|rs| m.caches.replicasets.get(&ObjectKey::of(rs)).cloned()).collect();
    let new_rs = new_rs.and_then(|rs| m.caches.replicasets.get(&ObjectKey::of(&rs)).cloned());
    cleanup(m, &d, &old)?;
    status::sync(m, &d, new_rs.as_deref(), &old)
}

/// Pods of old ReplicaSets that may still be running (not finished), whether or not they are
/// being deleted: `Recreate` waits for all of them.
fn old_pods_running(m: &Manager, old: &[Arc<Value>]) -> bool {
    old.iter().any(|rs| {
        let uid = meta_str(rs, "uid").unwrap_or("");
        m.caches.pods.owned_by(uid).any(|p| !p.is_terminal())
    })
}

/// Creates the ReplicaSet for the Deployment's current template. `None` after a hash collision
/// (the collision count goes up and the next sync retries).
fn create_new_rs(m: &mut Manager, d: &DeploymentView, old: &[Arc<Value>]) -> Result<Option<Arc<Value>>, SyncError> {
    let hash = template_hash(d.template(), d.collision_count());
    let name = format!("{}-{hash}", d.key.name);
    let mut template = d.template().clone();
    if !template.get("metadata").is_some_and(Value::is_object) {
        template["metadata"] = json!({});
    }
    if !template["metadata"].get("labels").is_some_and(Value::is_object) {
        template["metadata"]["labels"] = json!({});
    }
    template["metadata"]["labels"][TEMPLATE_HASH_LABEL] = json!(hash);
    let mut selector = d.obj.pointer("/spec/selector").cloned().unwrap_or_else(|| json!({}));
    if !selector.get("matchLabels").is_some_and(Value::is_object) {
        selector["matchLabels"] = json!({});
    }
    selector["matchLabels"][TEMPLATE_HASH_LABEL] = json!(hash);
    let revision = old.iter().map(|rs| revision_of(rs)).max().unwrap_or(0) + 1;
    let all_replicas: i64 = old.iter().map(|rs| spec_replicas(rs)).sum();
    let replicas = if d.recreate { d.replicas } else { rolling::new_rs_replicas(d, all_replicas, 0) };
    let mut annotations = rs_annotations(d);
    annotations[REVISION_ANNOTATION] = json!(revision.to_string());
    let rs = json!({
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {
            "name": name,
            "namespace": d.key.namespace,
            "labels": template["metadata"]["labels"].clone(),
            "annotations": annotations,
            "ownerReferences": [controller_ref(&d.obj, "apps/v1", "Deployment")],
        },
        "spec": {
            "replicas": replicas,
            "minReadySeconds": d.obj.pointer("/spec/minReadySeconds").cloned().unwrap_or(json!(0)),
            "selector": selector,
            "template": template,
        },
    });
    match m.store.create(&REPLICASETS, rs) {
        Ok(created) => {
            remember(&mut m.caches.replicasets, &created);
            status::progressing(m, d, "NewReplicaSetCreated", &format!("Created new replica set \"{name}\""))?;
            Ok(Some(created))
        }
        Err(err) if err.code == 409 => {
            let existing = m.store.get(&REPLICASETS, &ObjectKey::new(&d.key.namespace, &name));
            if let Some(rs) = existing.filter(|rs| runs_template(d.template(), rs)) {
                remember(&mut m.caches.replicasets, &rs);
                return Ok(Some(rs));
            }
            let collisions = d.collision_count().unwrap_or(0) + 1;
            write_status(m, d, |status| status["collisionCount"] = json!(collisions))?;
            Ok(None)
        }
        Err(err) => Err(err.into()),
    }
}

/// The annotations a ReplicaSet carries for its Deployment's replica counts.
fn rs_annotations(d: &DeploymentView) -> Value {
    json!({
        DESIRED_REPLICAS_ANNOTATION: d.replicas.to_string(),
        MAX_REPLICAS_ANNOTATION: (d.replicas + d.max_surge).to_string(),
    })
}

/// Sets a ReplicaSet's replicas (and the replica annotations). Returns its new state.
pub(super) fn scale(
    m: &mut Manager,
    d: &DeploymentView,
    rs: &Arc<Value>,
    replicas: i64,
) -> Result<Arc<Value>, SyncError> {
    let annotations = rs_annotations(d);
    let current_annotations = rs.pointer("/metadata/annotations");
    let annotations_current = annotations
        .as_object()
        .is_some_and(|a| a.iter().all(|(k, v)| current_annotations.and_then(|c| c.get(k)) == Some(v)));
    if spec_replicas(rs) == replicas && annotations_current {
        return Ok(rs.clone());
    }
    let written = m.store.modify(&REPLICASETS, &ObjectKey::of(rs), Part::Main, |obj| {
        obj["spec"]["replicas"] = json!(replicas);
        if !obj["metadata"].get("annotations").is_some_and(Value::is_object) {
            obj["metadata"]["annotations"] = json!({});
        }
        if let Some(a) = annotations.as_object() {
            for (k, v) in a {
                obj["metadata"]["annotations"][k] = v.clone();
            }
        }
        Ok(())
    })?;
    remember(&mut m.caches.replicasets, &written);
    Ok(written)
}

/// Scales an old ReplicaSet without touching its annotations.
pub(super) fn scale_old(m: &mut Manager, rs: &Arc<Value>, replicas: i64) -> Result<(), SyncError> {
    if spec_replicas(rs) == replicas {
        return Ok(());
    }
    let written = m.store.modify(&REPLICASETS, &ObjectKey::of(rs), Part::Main, |obj| {
        obj["spec"]["replicas"] = json!(replicas);
        Ok(())
    })?;
    remember(&mut m.caches.replicasets, &written);
    Ok(())
}

/// The Deployment's revision annotation follows its new ReplicaSet's.
fn sync_revision_annotation(m: &mut Manager, d: &DeploymentView, rs: &Value) -> Result<(), SyncError> {
    let revision = revision_of(rs).to_string();
    let pointer = format!("/metadata/annotations/{}", REVISION_ANNOTATION.replace('/', "~1"));
    if d.obj.pointer(&pointer).and_then(Value::as_str) == Some(revision.as_str()) {
        return Ok(());
    }
    let uid = d.uid.clone();
    let written = m.store.modify(&DEPLOYMENTS, &d.key, Part::Main, |obj| {
        if meta_str(obj, "uid") != Some(uid.as_str()) {
            return Err(ApiError::new(409, "Conflict", "the Deployment was replaced"));
        }
        if !obj["metadata"].get("annotations").is_some_and(Value::is_object) {
            obj["metadata"]["annotations"] = json!({});
        }
        obj["metadata"]["annotations"][REVISION_ANNOTATION] = json!(revision);
        Ok(())
    })?;
    remember(&mut m.caches.deployments, &written);
    Ok(())
}

/// Deletes the oldest scaled-down ReplicaSets beyond `revisionHistoryLimit` (default 10).
fn cleanup(m: &mut Manager, d: &DeploymentView, old: &[Arc<Value>]) -> Result<(), SyncError> {
    let limit = d.obj.pointer("/spec/revisionHistoryLimit").and_then(Value::as_i64).unwrap_or(10).max(0);
    let mut idle: Vec<&Arc<Value>> = old
        .iter()
        .filter(|rs| spec_replicas(rs) == 0 && status_field(rs, "replicas") == 0 && !is_terminating(rs))
        .collect();
    let excess = idle.len() as i64 - limit;
    if excess <= 0 {
        return Ok(());
    }
    idle.sort_by_key(|rs| revision_of(rs));
    for rs in idle.into_iter().take(excess as usize) {
        let key = ObjectKey::of(rs);
        match m.store.delete(&REPLICASETS, &key, &DeleteOptions::default()) {
            Ok(_) => {
                m.caches.replicasets.remove(&key, u64::MAX);
            }
            Err(err) if err.code == 404 => {}
            Err(err) => return Err(err.into()),
        }
    }
    Ok(())
}

/// Changes the Deployment's status with `change` (a status write, skipped when nothing changes).
pub(super) fn write_status(
    m: &mut Manager,
    d: &DeploymentView,
    change: impl FnOnce(&mut Value),
) -> Result<(), SyncError> {
    let uid = d.uid.clone();
    let written = m.store.modify(&DEPLOYMENTS, &d.key, Part::Status, |obj| {
        if meta_str(obj, "uid") != Some(uid.as_str()) {
            return Err(ApiError::new(409, "Conflict", "the Deployment was replaced"));
        }
        if !obj.get("status").is_some_and(Value::is_object) {
            obj["status"] = json!({});
        }
        change(&mut obj["status"]);
        Ok(())
    })?;
    remember(&mut m.caches.deployments, &written);
    Ok(())
}
