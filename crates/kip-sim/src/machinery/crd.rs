//! CustomResourceDefinitions, as the API server's naming, establishing and finalizing
//! controllers handle them.
//!
//! A created or changed CRD has its names checked against the other CRDs of its group and the
//! built-in types (`status.acceptedNames`, condition `NamesAccepted`); once accepted it is
//! `Established` and its storage version is served, under the accepted names. A deleted CRD
//! (which the store gave the `customresourcecleanup.apiextensions.k8s.io` finalizer) has its
//! objects deleted, one by one so their own finalizers are honoured; when none is left the
//! finalizer goes, then the CRD, and the kind stops being served.

use std::collections::{HashMap, HashSet};

use serde_json::{Value, json};
use tracing::warn;

use crate::error::ApiError;
use crate::resources::{GroupResource, custom_type_from_crd};
use crate::store::{DeleteOptions, EventType, ObjectKey, Part, Propagation, Store, WatchEvent};
use crate::store::{finalizers, is_terminating, meta_str, remove_finalizer};

use super::conditions::{condition_status, set_condition, status_mut};
use super::crd_validation::{default_crd, validate_crd};
use super::queue::{Work, WorkQueue};
use super::strategy::{FINALIZER_CRD_CLEANUP, is_crds};

fn crds() -> GroupResource {
    GroupResource::new("apiextensions.k8s.io", "customresourcedefinitions")
}

/// The names a CRD asks for (`spec.names`) or was given (`status.acceptedNames`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Names {
    plural: String,
    singular: String,
    kind: String,
    list_kind: String,
    short_names: Vec<String>,
    categories: Vec<String>,
}

impl Names {
    fn read(names: Option<&Value>) -> Names {
        let text = |field: &str| names.and_then(|n| n.get(field)).and_then(Value::as_str).unwrap_or("").to_string();
        let list = |field: &str| -> Vec<String> {
            names
                .and_then(|n| n.get(field))
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(|s| s.as_str().map(String::from)).collect())
                .unwrap_or_default()
        };
        Names {
            plural: text("plural"),
            singular: text("singular"),
            kind: text("kind"),
            list_kind: text("listKind"),
            short_names: list("shortNames"),
            categories: list("categories"),
        }
    }

    fn to_json(&self) -> Value {
        let mut out = json!({"plural": self.plural, "kind": self.kind});
        let optional = [("singular", json!(self.singular)), ("listKind", json!(self.list_kind))];
        for (field, value) in optional {
            if value.as_str().is_some_and(|s| !s.is_empty()) {
                out[field] = value;
            }
        }
        if !self.short_names.is_empty() {
            out["shortNames"] = json!(self.short_names);
        }
        if !self.categories.is_empty() {
            out["categories"] = json!(self.categories);
        }
        out
    }
}

/// The outcome of the naming check: the names to serve, and why some were refused.
struct Naming {
    accepted: Names,
    refused: Option<(&'static str, String)>,
}

#[derive(Debug, Default)]
pub(super) struct Crds {
    /// CRD name -> the type it serves.
    served: HashMap<String, GroupResource>,
    /// Types whose CRD is being deleted -> that CRD, so each deleted object wakes the cleanup.
    cleaning: HashMap<GroupResource, String>,
    /// Terminating CRDs whose objects were already asked to go.
    swept: HashSet<String>,
}

impl Crds {
    /// Forgets progress that a full resync redoes.
    pub fn clear_progress(&mut self) {
        self.swept.clear();
    }

    pub fn observe(&self, queue: &mut WorkQueue, event: &WatchEvent) {
        if is_crds(&event.resource) {
            queue.push(Work::Crd(ObjectKey::of(&event.object).name));
        } else if event.event_type == EventType::Deleted
            && let Some(crd) = self.cleaning.get(&event.resource)
        {
            queue.push(Work::Crd(crd.clone()));
        }
    }

    pub fn reconcile(&mut self, store: &Store, queue: &mut WorkQueue, name: &str) {
        let Some(crd) = store.get(&crds(), &ObjectKey::cluster(name)) else {
            self.swept.remove(name);
            if let Some(gr) = self.served.remove(name) {
                self.cleaning.remove(&gr);
                store.drop_type(&gr);
                store.registry_mut().remove_custom(&gr);
            }
            // Names this CRD held are free now: the others of its group may take them.
            if let Some((_, group)) = name.split_once('.') {
                for other in store.list(&crds(), None).0 {
                    if other.pointer("/spec/group").and_then(Value::as_str) == Some(group) {
                        queue.push(Work::Crd(ObjectKey::of(&other).name));
                    }
                }
            }
            return;
        };
        if is_terminating(&crd) {
            self.clean_up(store, name, &crd);
        } else {
            self.establish(store, name, &crd);
        }
    }

    fn establish(&mut self, store: &Store, name: &str, stored: &Value) {
        let mut crd = stored.clone();
        default_crd(&mut crd);
        let causes = validate_crd(&crd);
        let naming = if causes.is_empty() {
            check_names(store, name, &crd)
        } else {
            let what: Vec<String> = causes.iter().map(|c| format!("{}: {}", c.field, c.message)).collect();
            Naming {
                accepted: Names::read(crd.pointer("/status/acceptedNames")),
                refused: Some(("InvalidDefinition", what.join(", "))),
            }
        };
        let storage_version = crd
            .pointer("/spec/versions")
            .and_then(Value::as_array)
            .and_then(|vs| vs.iter().find(|v| v.get("storage").and_then(Value::as_bool) == Some(true)))
            .and_then(|v| v.get("name"))
            .and_then(Value::as_str)
            .map(str::to_string);
        let uid = meta_str(stored, "uid").unwrap_or("").to_string();
        let written = store.modify(&crds(), &ObjectKey::cluster(name), Part::Status, |o| {
            same_uid(o, &uid, name)?;
            write_naming_status(o, &naming, storage_version.as_deref());
            Ok(())
        });
        let crd_now = match written {
            Ok(now) => now,
            Err(e) => return log_failure(e, name, "update status"),
        };
        if condition_status(&crd_now, "Established") == Some("True") && !naming.accepted.plural.is_empty() {
            self.serve(store, name, &crd, &naming.accepted);
        }
    }

    /// Serves the CRD's storage version under its accepted names.
    fn serve(&mut self, store: &Store, name: &str, crd: &Value, accepted: &Names) {
        let mut as_accepted = crd.clone();
        if let Some(spec) = as_accepted.get_mut("spec").and_then(Value::as_object_mut) {
            spec.insert("names".into(), accepted.to_json());
        }
        let Some(rt) = custom_type_from_crd(&as_accepted) else { return };
        let gr = rt.group_resource();
        let mut registry = store.registry_mut();
        if registry.get(&gr).is_some_and(|t| !t.custom) {
            return;
        }
        registry.add_custom(rt);
        drop(registry);
        self.served.insert(name.to_string(), gr);
    }

    fn clean_up(&mut self, store: &Store, name: &str, crd: &Value) {
        if !finalizers(crd).contains(&FINALIZER_CRD_CLEANUP) {
            return;
        }
        let uid = meta_str(crd, "uid").unwrap_or("").to_string();
        let key = ObjectKey::cluster(name);
        let set_terminating = |status: &str, reason: &str, message: &str| {
            store.modify(&crds(), &key, Part::Status, |o| {
                same_uid(o, &uid, name)?;
                set_condition(o, "Terminating", status, reason, message);
                Ok(())
            })
        };
        if let Err(e) = set_terminating("True", "InstanceDeletionInProgress", "CustomResource deletion is in progress")
        {
            return log_failure(e, name, "update status");
        }
        let served = self.served_type(store, name, crd);
        let done = match served {
            Some(gr) => {
                self.cleaning.insert(gr.clone(), name.to_string());
                if self.swept.insert(name.to_string()) {
                    delete_all(store, &gr);
                }
                if store.counts().get(&gr.to_string()).copied().unwrap_or(0) > 0 {
                    // The rest are held by their finalizers; each deletion wakes us again.
                    return;
                }
                set_terminating("False", "InstanceDeletionCompleted", "removed all instances")
            }
            None => set_terminating("False", "NeverEstablished", "resource was never established"),
        };
        if let Err(e) = done {
            return log_failure(e, name, "update status");
        }
        let released = store.modify(&crds(), &key, Part::Main, |o| {
            same_uid(o, &uid, name)?;
            remove_finalizer(o, FINALIZER_CRD_CLEANUP);
            Ok(())
        });
        if let Err(e) = released {
            log_failure(e, name, "remove finalizer");
        }
    }

    /// The type an established CRD serves, if it does.
    fn served_type(&mut self, store: &Store, name: &str, crd: &Value) -> Option<GroupResource> {
        if condition_status(crd, "Established") != Some("True") {
            return None;
        }
        let group = crd.pointer("/spec/group").and_then(Value::as_str)?;
        let plural = crd.pointer("/status/acceptedNames/plural").and_then(Value::as_str)?;
        let gr = GroupResource::new(group, plural);
        if !store.registry().get(&gr).is_some_and(|t| t.custom) {
            return None;
        }
        self.served.insert(name.to_string(), gr.clone());
        Some(gr)
    }
}

/// Names the other CRDs of the group and the built-in types of that group hold already.
fn claimed_names(store: &Store, name: &str, group: &str) -> (HashSet<String>, HashSet<String>) {
    let mut resources = HashSet::new();
    let mut kinds = HashSet::new();
    for other in store.list(&crds(), None).0 {
        if meta_str(&other, "name") == Some(name) || other.pointer("/spec/group").and_then(Value::as_str) != Some(group)
        {
            continue;
        }
        let held = Names::read(other.pointer("/status/acceptedNames"));
        resources.extend([held.plural, held.singular]);
        resources.extend(held.short_names);
        kinds.extend([held.kind, held.list_kind]);
    }
    for builtin in store.registry().all().filter(|t| t.group == group && !t.custom) {
        resources.extend([builtin.plural.clone(), builtin.singular.clone()]);
        resources.extend(builtin.short_names.iter().cloned());
        kinds.extend([builtin.kind.clone(), builtin.list_kind()]);
    }
    resources.remove("");
    kinds.remove("");
    (resources, kinds)
}

/// Takes each requested name that is already this CRD's or free; keeps the previous one for
/// names another holds, and says which.
fn check_names(store: &Store, name: &str, crd: &Value) -> Naming {
    let requested = Names::read(crd.pointer("/spec/names"));
    let before = Names::read(crd.pointer("/status/acceptedNames"));
    let group = crd.pointer("/spec/group").and_then(Value::as_str).unwrap_or("");
    let (resources, kinds) = claimed_names(store, name, group);
    let mut accepted = before.clone();
    let mut refused = None;
    let mut take = |wanted: &str, held: &str, used: &HashSet<String>, reason: &'static str, slot: &mut String| {
        if wanted == held || !used.contains(wanted) {
            *slot = wanted.to_string();
        } else {
            refused = Some((reason, format!("{wanted:?} is already in use")));
        }
    };
    take(&requested.plural, &before.plural, &resources, "PluralConflict", &mut accepted.plural);
    take(&requested.singular, &before.singular, &resources, "SingularConflict", &mut accepted.singular);
    take(&requested.kind, &before.kind, &kinds, "KindConflict", &mut accepted.kind);
    take(&requested.list_kind, &before.list_kind, &kinds, "ListKindConflict", &mut accepted.list_kind);
    let taken: Vec<String> = requested
        .short_names
        .iter()
        .filter(|s| !before.short_names.contains(s) && resources.contains(*s))
        .map(|s| format!("{s:?} is already in use"))
        .collect();
    if taken.is_empty() {
        accepted.short_names = requested.short_names.clone();
    } else {
        refused = Some(("ShortNamesConflict", taken.join(", ")));
    }
    accepted.categories = requested.categories;
    Naming { accepted, refused }
}

fn write_naming_status(crd: &mut Value, naming: &Naming, storage_version: Option<&str>) {
    if let Some(status) = status_mut(crd) {
        status.insert("acceptedNames".into(), naming.accepted.to_json());
        let mut stored: Vec<Value> =
            status.get("storedVersions").and_then(Value::as_array).cloned().unwrap_or_default();
        if let Some(v) = storage_version
            && !stored.iter().any(|s| s.as_str() == Some(v))
        {
            stored.push(json!(v));
        }
        status.insert("storedVersions".into(), Value::Array(stored));
    }
    match &naming.refused {
        None => {
            set_condition(crd, "NamesAccepted", "True", "NoConflicts", "no conflicts found");
            // Established is one-way: later name trouble does not stop serving the kind.
            if condition_status(crd, "Established") != Some("True") {
                set_condition(
                    crd,
                    "Established",
                    "True",
                    "InitialNamesAccepted",
                    "the initial names have been accepted",
                );
            }
        }
        Some((reason, message)) => {
            set_condition(crd, "NamesAccepted", "False", reason, message);
            if condition_status(crd, "Established").is_none() {
                set_condition(crd, "Established", "False", "NotAccepted", "not all names are accepted");
            }
        }
    }
}

/// Deletes every object of a custom type (in the background, honouring their finalizers).
fn delete_all(store: &Store, gr: &GroupResource) {
    for obj in store.list(gr, None).0 {
        if is_terminating(&obj) {
            continue;
        }
        let options = DeleteOptions {
            propagation: Some(Propagation::Background),
            precondition_uid: meta_str(&obj, "uid").map(String::from),
            ..DeleteOptions::default()
        };
        if let Err(e) = store.delete(gr, &ObjectKey::of(&obj), &options)
            && e.code != 404
            && e.code != 409
        {
            warn!(resource = %gr, name = meta_str(&obj, "name"), error = %e, "could not delete custom object");
        }
    }
}

fn same_uid(obj: &Value, uid: &str, name: &str) -> Result<(), ApiError> {
    if meta_str(obj, "uid") == Some(uid) {
        Ok(())
    } else {
        Err(ApiError::conflict("apiextensions.k8s.io", "customresourcedefinitions", name, "uid changed"))
    }
}

fn log_failure(e: ApiError, name: &str, action: &str) {
    // Gone or replaced: the events of the new state bring us back.
    if e.code != 404 && e.code != 409 {
        warn!(crd = name, action, error = %e, "CustomResourceDefinition controller write failed");
    }
}
