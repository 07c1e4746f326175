//! The garbage collector: deletes objects whose owners are all gone, and finishes the orphan
//! and foreground deletions of owners, following the rules of Kubernetes' collector.
//!
//! An owner reference is resolved by its coordinates (kind, name, and the dependent's namespace
//! for a namespaced kind) and counts as absent when no object is there or the one there has
//! another uid; so a namespaced dependent can only be owned from its own namespace or by a
//! cluster-scoped object. A reference that cannot be resolved (unknown kind, or a namespaced
//! owner named by a cluster-scoped object) leaves the dependent alone, as Kubernetes does.
//!
//! For one object (`attempt`):
//! - terminating with `orphan`: remove the owner's reference from every dependent, then the
//!   finalizer; with `foregroundDeletion`: remove the finalizer once no dependent blocks it;
//! - otherwise, with at least one live owner (*solid*): drop only the references to absent
//!   owners and to owners being deleted in the foreground;
//! - with no solid owner: delete it, in the foreground if an owner waits for it and it has
//!   dependents of its own (so deletion cascades down a chain before the top goes), else with
//!   the policy its own finalizers ask for, else in the background.

use serde_json::Value;
use tracing::{debug, warn};

use crate::error::ApiError;
use crate::store::{
    DeleteOptions, EventType, FINALIZER_FOREGROUND, FINALIZER_ORPHAN, ObjectKey, Part, Propagation, Store, WatchEvent,
    finalizers, is_terminating, meta_str, remove_finalizer,
};

use super::graph::{Graph, ObjectRef, OwnerRef};
use super::queue::{Work, WorkQueue};

/// Where an owner reference points, if it can be resolved at all.
pub(super) fn locate_owner(store: &Store, dependent: &ObjectRef, owner: &OwnerRef) -> Option<ObjectRef> {
    let (resource, namespaced) = {
        let registry = store.registry();
        let rt = registry.all().find(|t| t.group == owner.group() && t.kind == owner.kind)?;
        (rt.group_resource(), rt.namespaced)
    };
    let namespace = match (namespaced, dependent.key.namespace.as_str()) {
        (false, _) => "",
        // A cluster-scoped object cannot be owned by a namespaced one.
        (true, "") => return None,
        (true, ns) => ns,
    };
    Some(ObjectRef::new(resource, ObjectKey::new(namespace, &owner.name)))
}

enum OwnerState {
    /// Exists and is not waiting for its dependents.
    Solid,
    /// Gone, or replaced by another object of the same name.
    Absent,
    /// Being deleted in the foreground: waits for its dependents to go.
    Waiting,
    Unresolvable,
}

fn owner_state(store: &Store, dependent: &ObjectRef, owner: &OwnerRef) -> OwnerState {
    let Some(at) = locate_owner(store, dependent, owner) else { return OwnerState::Unresolvable };
    match store.get(&at.resource, &at.key) {
        Some(live) if meta_str(&live, "uid") == Some(owner.uid.as_str()) => {
            if is_terminating(&live) && finalizers(&live).contains(&FINALIZER_FOREGROUND) {
                OwnerState::Waiting
            } else {
                OwnerState::Solid
            }
        }
        _ => OwnerState::Absent,
    }
}

/// Decides about one object and acts (see the module documentation).
pub(super) fn attempt(store: &Store, graph: &Graph, target: &ObjectRef) {
    let Some(obj) = store.get(&target.resource, &target.key) else { return };
    let Some(uid) = meta_str(&obj, "uid").map(str::to_string) else { return };
    if is_terminating(&obj) {
        let held_by = finalizers(&obj);
        if held_by.contains(&FINALIZER_ORPHAN) && orphan_dependents(store, graph, &uid) {
            remove_own_finalizer(store, target, &uid, FINALIZER_ORPHAN);
        }
        if held_by.contains(&FINALIZER_FOREGROUND) && !graph.has_blocking_dependents(&uid) {
            remove_own_finalizer(store, target, &uid, FINALIZER_FOREGROUND);
        }
        return;
    }
    let owners = OwnerRef::all_of(&obj);
    if owners.is_empty() {
        return;
    }
    let mut solid = false;
    let mut waiting = false;
    let mut to_drop = Vec::new();
    for owner in &owners {
        match owner_state(store, target, owner) {
            OwnerState::Unresolvable => {
                debug!(object = ?target, owner = %owner.name, kind = %owner.kind, "owner reference cannot be resolved; left alone");
                return;
            }
            OwnerState::Solid => solid = true,
            OwnerState::Absent => to_drop.push(owner.uid.clone()),
            OwnerState::Waiting => {
                waiting = true;
                to_drop.push(owner.uid.clone());
            }
        }
    }
    if solid {
        // Kept alive by a live owner; references to the others would only hold them up.
        if !to_drop.is_empty() {
            let result = store.modify(&target.resource, &target.key, Part::Main, |o| {
                same_uid(o, &uid, target)?;
                drop_owner_references(o, &to_drop);
                Ok(())
            });
            report(result.map(|_| ()), target, "drop references to absent owners");
        }
        return;
    }
    let held_by = finalizers(&obj);
    let propagation = if waiting && graph.has_dependents(&uid) {
        Propagation::Foreground
    } else if held_by.contains(&FINALIZER_ORPHAN) {
        Propagation::Orphan
    } else if held_by.contains(&FINALIZER_FOREGROUND) {
        Propagation::Foreground
    } else {
        Propagation::Background
    };
    debug!(object = ?target, ?propagation, "all owners gone: deleting");
    let options =
        DeleteOptions { propagation: Some(propagation), precondition_uid: Some(uid), ..DeleteOptions::default() };
    report(store.delete(&target.resource, &target.key, &options).map(|_| ()), target, "delete");
}

/// Removes the owner's references from all its dependents; true when every dependent is done.
fn orphan_dependents(store: &Store, graph: &Graph, owner_uid: &str) -> bool {
    let mut all_done = true;
    for dependent in graph.dependents_of(owner_uid) {
        let result = store.modify(&dependent.resource, &dependent.key, Part::Main, |o| {
            drop_owner_references(o, &[owner_uid.to_string()]);
            Ok(())
        });
        all_done &= report(result.map(|_| ()), &dependent, "orphan");
    }
    all_done
}

fn remove_own_finalizer(store: &Store, target: &ObjectRef, uid: &str, finalizer: &str) {
    let result = store.modify(&target.resource, &target.key, Part::Main, |o| {
        same_uid(o, uid, target)?;
        remove_finalizer(o, finalizer);
        Ok(())
    });
    report(result.map(|_| ()), target, "remove finalizer");
}

/// Guards a read-modify-write against an object recreated under the same name meanwhile.
fn same_uid(obj: &Value, uid: &str, target: &ObjectRef) -> Result<(), ApiError> {
    if meta_str(obj, "uid") == Some(uid) {
        Ok(())
    } else {
        Err(ApiError::conflict(&target.resource.group, &target.resource.resource, &target.key.name, "uid changed"))
    }
}

fn drop_owner_references(obj: &mut Value, uids: &[String]) {
    let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) else { return };
    let Some(refs) = meta.get_mut("ownerReferences").and_then(Value::as_array_mut) else { return };
    refs.retain(|r| !r.get("uid").and_then(Value::as_str).is_some_and(|u| uids.iter().any(|x| x == u)));
    if refs.is_empty() {
        meta.remove("ownerReferences");
    }
}

/// Logs a failed write. Gone or changed objects are expected (someone else got there first) and
/// count as done; anything else is reported and counts as not done.
fn report(result: Result<(), ApiError>, target: &ObjectRef, action: &str) -> bool {
    match result {
        Ok(()) => true,
        Err(e) if e.code == 404 || e.code == 409 => true,
        Err(e) => {
            warn!(object = ?target, action, error = %e, "garbage collector write failed");
            false
        }
    }
}

/// What an object's deletion asks of the collector.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Pending {
    orphan: bool,
    foreground: bool,
}

fn pending(obj: &Value) -> Pending {
    if !is_terminating(obj) {
        return Pending::default();
    }
    let held_by = finalizers(obj);
    Pending { orphan: held_by.contains(&FINALIZER_ORPHAN), foreground: held_by.contains(&FINALIZER_FOREGROUND) }
}

/// Updates the graph from one event and queues what it calls for.
pub(super) fn observe(store: &Store, graph: &mut Graph, queue: &mut WorkQueue, event: &WatchEvent) {
    let target = ObjectRef::new(event.resource.clone(), ObjectKey::of(&event.object));
    let uid = meta_str(&event.object, "uid").unwrap_or("");
    match event.event_type {
        EventType::Added | EventType::Modified => {
            let owners = OwnerRef::all_of(&event.object);
            if owners.as_slice() != graph.owners_of(&target) {
                let has_owners = !owners.is_empty();
                let released = graph.set_owners(&target, owners);
                if has_owners {
                    queue.push(Work::Object(target.clone()));
                }
                wake_owners(store, queue, &target, &released);
            }
            let now = pending(&event.object);
            let before = event.previous.as_deref().map(pending).unwrap_or_default();
            if now != before && (now.orphan || now.foreground) {
                queue.push(Work::Object(target.clone()));
                if now.foreground && !before.foreground {
                    for dependent in graph.dependents_of(uid) {
                        queue.push(Work::Object(dependent));
                    }
                }
            }
        }
        EventType::Deleted => {
            let former: Vec<OwnerRef> = graph.remove(&target).into_iter().filter(|o| o.blocking).collect();
            wake_owners(store, queue, &target, &former);
            for dependent in graph.dependents_of(uid) {
                queue.push(Work::Object(dependent));
            }
        }
    }
}

/// Queues the owners a dependent no longer holds up: a foreground deletion may now finish.
fn wake_owners(store: &Store, queue: &mut WorkQueue, dependent: &ObjectRef, owners: &[OwnerRef]) {
    for owner in owners {
        if let Some(at) = locate_owner(store, dependent, owner) {
            queue.push(Work::Object(at));
        }
    }
}

/// Adds one listed object to the graph (on a full resync) and queues what it may need.
pub(super) fn resync_object(graph: &mut Graph, queue: &mut WorkQueue, target: &ObjectRef, obj: &Value) {
    let owners = OwnerRef::all_of(obj);
    let has_owners = !owners.is_empty();
    graph.set_owners(target, owners);
    let deletion = pending(obj);
    if has_owners || deletion.orphan || deletion.foreground {
        queue.push(Work::Object(target.clone()));
    }
}
