//! DaemonSet revisions: one ControllerRevision per template the DaemonSet has had, named
//! `<daemonset>-<hash>`, holding the template as a replace patch, numbered in order of use; old
//! ones pruned to `revisionHistoryLimit` (default 10) unless pods still run them.

use std::collections::HashSet;
use std::sync::Arc;

use serde_json::{Value, json};

use super::super::cache::remember;
use super::super::revision::template_hash;
use super::super::{Manager, REVISIONS, SyncError, controller_ref};
use super::{DaemonSetView, REVISION_HASH_LABEL};
use crate::store::{DeleteOptions, ObjectKey, Part, meta_str};

fn revision_number(revision: &Value) -> i64 {
    revision.get("revision").and_then(Value::as_i64).unwrap_or(0)
}

/// Whether a revision holds the DaemonSet's current template.
fn matches(ds: &DaemonSetView, revision: &Value) -> bool {
    let Some(stored) = revision.pointer("/data/spec/template").and_then(Value::as_object) else { return false };
    let Some(template) = ds.template().as_object() else { return false };
    stored.len() == template.len() + 1
        && stored.get("$patch").and_then(Value::as_str) == Some("replace")
        && template.iter().all(|(k, v)| stored.get(k) == Some(v))
}

fn owned_revisions(m: &Manager, ds: &DaemonSetView) -> Vec<Arc<Value>> {
    m.caches.revisions.owned_by(&ds.uid).cloned().collect()
}

/// The hash of the current revision, creating or renumbering it as needed. `None` when a hash
/// collision was found and the collision count raised: the caller retries.
pub(super) fn current_hash(m: &mut Manager, ds: &DaemonSetView) -> Result<Option<String>, SyncError> {
    let memo_hash = m.daemonsets.by_key.get(&ds.key).and_then(|memo| memo.hash.clone());
    let revisions = owned_revisions(m, ds);
    if let Some(hash) = memo_hash
        && revisions.iter().any(|r| r.pointer(&format!("/metadata/labels/{REVISION_HASH_LABEL}")) == Some(&json!(hash)))
    {
        return Ok(Some(hash));
    }
    let (current, old): (Vec<_>, Vec<_>) = revisions.into_iter().partition(|r| matches(ds, r));
    let next_number = old.iter().map(|r| revision_number(r)).max().unwrap_or(0) + 1;
    let current = match current.iter().max_by_key(|r| revision_number(r)) {
        None => match snapshot(m, ds, next_number)? {
            Some(created) => created,
            None => return Ok(None),
        },
        Some(keep) => {
            let keep = keep.clone();
            for duplicate in current.iter().filter(|r| !Arc::ptr_eq(r, &keep)) {
                delete_revision(m, duplicate)?;
            }
            if revision_number(&keep) < next_number {
                let written = m.store.modify(&REVISIONS, &ObjectKey::of(&keep), Part::Main, |r| {
                    r["revision"] = json!(next_number);
                    Ok(())
                })?;
                remember(&mut m.caches.revisions, &written);
            }
            keep
        }
    };
    let hash = current
        .pointer(&format!("/metadata/labels/{REVISION_HASH_LABEL}"))
        .and_then(Value::as_str)
        .map(String::from)
        .unwrap_or_else(|| meta_str(&current, "name").unwrap_or("").to_string());
    if let Some(memo) = m.daemonsets.by_key.get_mut(&ds.key) {
        memo.hash = Some(hash.clone());
    }
    Ok(Some(hash))
}

/// Creates the revision for the current template. `None` when another template already holds
/// the name: the collision count goes up and the caller retries.
fn snapshot(m: &mut Manager, ds: &DaemonSetView, number: i64) -> Result<Option<Arc<Value>>, SyncError> {
    let hash = template_hash(ds.template(), ds.collision_count);
    let name = format!("{}-{hash}", ds.key.name);
    let mut labels = ds.template().pointer("/metadata/labels").cloned().unwrap_or_else(|| json!({}));
    labels[REVISION_HASH_LABEL] = json!(hash);
    let mut data = ds.template().clone();
    data["$patch"] = json!("replace");
    let mut metadata = json!({
        "name": name,
        "namespace": ds.key.namespace,
        "labels": labels,
        "ownerReferences": [controller_ref(&ds.obj, "apps/v1", "DaemonSet")],
    });
    if let Some(annotations) = ds.obj.pointer("/metadata/annotations") {
        metadata["annotations"] = annotations.clone();
    }
    let revision = json!({
        "apiVersion": "apps/v1",
        "kind": "ControllerRevision",
        "metadata": metadata,
        "data": {"spec": {"template": data}},
        "revision": number,
    });
    match m.store.create(&REVISIONS, revision) {
        Ok(created) => {
            remember(&mut m.caches.revisions, &created);
            Ok(Some(created))
        }
        Err(err) if err.code == 409 => {
            let key = ObjectKey::new(&ds.key.namespace, &name);
            if let Some(existing) = m.store.get(&REVISIONS, &key)
                && matches(ds, &existing)
            {
                remember(&mut m.caches.revisions, &existing);
                return Ok(Some(existing));
            }
            let collisions = ds.collision_count.unwrap_or(0) + 1;
            let uid = ds.uid.clone();
            m.store.modify(&super::super::DAEMONSETS, &ds.key, Part::Status, |obj| {
                if meta_str(obj, "uid") != Some(uid.as_str()) {
                    return Err(crate::error::ApiError::new(409, "Conflict", "the DaemonSet was replaced"));
                }
                obj["status"]["collisionCount"] = json!(collisions);
                Ok(())
            })?;
            Ok(None)
        }
        Err(err) => Err(err.into()),
    }
}

fn delete_revision(m: &mut Manager, revision: &Value) -> Result<(), SyncError> {
    let key = ObjectKey::of(revision);
    match m.store.delete(&REVISIONS, &key, &DeleteOptions::default()) {
        Ok(_) => {
            m.caches.revisions.remove(&key, u64::MAX);
            Ok(())
        }
        Err(err) if err.code == 404 => Ok(()),
        Err(err) => Err(err.into()),
    }
}

/// Deletes the oldest revisions beyond `revisionHistoryLimit` that no pod runs.
pub(super) fn cleanup(m: &mut Manager, ds: &DaemonSetView) -> Result<(), SyncError> {
    let limit = ds.obj.pointer("/spec/revisionHistoryLimit").and_then(Value::as_i64).unwrap_or(10).max(0);
    let mut old: Vec<Arc<Value>> = owned_revisions(m, ds).into_iter().filter(|r| !matches(ds, r)).collect();
    let mut excess = old.len() as i64 - limit;
    if excess <= 0 {
        return Ok(());
    }
    // Pods that finished and are being deleted count here: their revision is still in use.
    let live: HashSet<String> =
        m.caches.pods.owned_by(&ds.uid).filter_map(|p| p.labels.get(REVISION_HASH_LABEL).cloned()).collect();
    old.sort_by_key(|r| revision_number(r));
    for revision in old {
        if excess <= 0 {
            break;
        }
        let hash = revision.pointer(&format!("/metadata/labels/{REVISION_HASH_LABEL}")).and_then(Value::as_str);
        if hash.is_some_and(|h| live.contains(h)) {
            continue;
        }
        delete_revision(m, &revision)?;
        excess -= 1;
    }
    Ok(())
}
