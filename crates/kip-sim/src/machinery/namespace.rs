//! Namespace lifecycle, as Kubernetes' namespace and service-account controllers run it.
//!
//! An active namespace carries `spec.finalizers: [kubernetes]`, the label
//! `kubernetes.io/metadata.name`, `status.phase: Active` and a `default` ServiceAccount. A
//! deleted one turns `Terminating` (the store refuses new content from then on); the controller
//! deletes every namespaced object in it, of every type including custom ones, reports what is
//! left in the namespace's conditions, and once nothing is left removes `kubernetes` from
//! `spec.finalizers`, which lets the namespace go.
//!
//! Objects are counted per namespace from the store's events, so waiting for a namespace with
//! thousands of terminating pods to empty costs nothing per pod.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde_json::{Value, json};
use tracing::warn;

use crate::resources::GroupResource;
use crate::store::{DeleteOptions, Deleted, EventType, ObjectKey, Part, Propagation, Store, WatchEvent};
use crate::store::{finalizers, is_terminating, meta_str, set_meta};

use super::conditions::{set_condition, set_phase};
use super::queue::{Work, WorkQueue};
use super::strategy::{FINALIZER_NAMESPACE, is_namespaces, namespace_spec_finalizers};

const NAME_LABEL: &str = "kubernetes.io/metadata.name";

fn namespaces() -> GroupResource {
    GroupResource::core("namespaces")
}

#[derive(Debug, Default)]
pub(super) struct Namespaces {
    /// How many objects each namespace holds, all types together.
    content: HashMap<String, usize>,
    /// Terminating namespaces whose content was already asked to go.
    swept: HashSet<String>,
}

impl Namespaces {
    pub fn clear(&mut self) {
        self.content.clear();
        self.swept.clear();
    }

    /// Counts one object found by a full list.
    pub fn count_listed(&mut self, key: &ObjectKey) {
        if !key.namespace.is_empty() {
            *self.content.entry(key.namespace.clone()).or_default() += 1;
        }
    }

    /// Every namespace that holds objects (whether or not the namespace itself exists).
    pub fn with_content(&self) -> Vec<String> {
        self.content.keys().cloned().collect()
    }

    fn content_of(&self, namespace: &str) -> usize {
        self.content.get(namespace).copied().unwrap_or(0)
    }

    pub fn observe(&mut self, queue: &mut WorkQueue, event: &WatchEvent) {
        let key = ObjectKey::of(&event.object);
        if is_namespaces(&event.resource) {
            queue.push(Work::Namespace(key.name));
            return;
        }
        if key.namespace.is_empty() {
            return;
        }
        match event.event_type {
            EventType::Added => *self.content.entry(key.namespace).or_default() += 1,
            EventType::Modified => {}
            EventType::Deleted => {
                let left = self.content.get_mut(&key.namespace).map(|n| {
                    *n = n.saturating_sub(1);
                    *n
                });
                if left == Some(0) {
                    self.content.remove(&key.namespace);
                    queue.push(Work::Namespace(key.namespace));
                } else if event.resource == GroupResource::core("serviceaccounts") && key.name == "default" {
                    queue.push(Work::Namespace(key.namespace));
                }
            }
        }
    }

    pub fn reconcile(&mut self, store: &Store, name: &str) {
        let Some(ns) = store.get(&namespaces(), &ObjectKey::cluster(name)) else {
            self.swept.remove(name);
            // Deleted before it carried its finalizer: its content still goes.
            if self.content_of(name) > 0 {
                delete_content(store, name);
            }
            return;
        };
        if !is_terminating(&ns) {
            activate(store, name, &ns);
            ensure_default_service_account(store, name);
            return;
        }
        if !self.swept.contains(name) {
            let left = delete_content(store, name);
            report_remaining(store, name, &left);
            self.swept.insert(name.to_string());
        }
        if self.content_of(name) == 0 && namespace_spec_finalizers(&ns).contains(&FINALIZER_NAMESPACE) {
            let uid = meta_str(&ns, "uid").unwrap_or("").to_string();
            let result = store.modify(&namespaces(), &ObjectKey::cluster(name), Part::Main, |o| {
                if meta_str(o, "uid") == Some(uid.as_str()) {
                    remove_spec_finalizer(o, FINALIZER_NAMESPACE);
                }
                Ok(())
            });
            if let Err(e) = result {
                warn!(namespace = name, error = %e, "could not finalize namespace");
            }
        }
    }
}

/// What the API server sets on every namespace it creates.
fn activate(store: &Store, name: &str, ns: &Value) {
    let has_finalizer = namespace_spec_finalizers(ns).contains(&FINALIZER_NAMESPACE);
    let has_label =
        ns.pointer("/metadata/labels").and_then(|l| l.get(NAME_LABEL)).and_then(Value::as_str) == Some(name);
    let key = ObjectKey::cluster(name);
    if !has_finalizer || !has_label {
        let result = store.modify(&namespaces(), &key, Part::Main, |o| {
            if is_terminating(o) {
                return Ok(());
            }
            if !namespace_spec_finalizers(o).contains(&FINALIZER_NAMESPACE) {
                let mut list: Vec<Value> = namespace_spec_finalizers(o).into_iter().map(|f| json!(f)).collect();
                list.push(json!(FINALIZER_NAMESPACE));
                set_spec_finalizers(o, list);
            }
            let mut labels = o.pointer("/metadata/labels").and_then(Value::as_object).cloned().unwrap_or_default();
            labels.insert(NAME_LABEL.into(), json!(name));
            set_meta(o, "labels", Value::Object(labels));
            Ok(())
        });
        if let Err(e) = result {
            warn!(namespace = name, error = %e, "could not initialize namespace");
        }
    }
    if ns.pointer("/status/phase").and_then(Value::as_str).is_none() {
        let result = store.modify(&namespaces(), &key, Part::Status, |o| {
            if !is_terminating(o) {
                set_phase(o, "Active");
            }
            Ok(())
        });
        if let Err(e) = result {
            warn!(namespace = name, error = %e, "could not set namespace phase");
        }
    }
}

fn ensure_default_service_account(store: &Store, namespace: &str) {
    let sa = GroupResource::core("serviceaccounts");
    if store.get(&sa, &ObjectKey::new(namespace, "default")).is_some() {
        return;
    }
    let account = json!({
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {"name": "default", "namespace": namespace},
    });
    match store.create(&sa, account) {
        // Someone made it first, or the namespace went meanwhile.
        Err(e) if e.code != 409 && e.code != 403 && e.code != 404 => {
            warn!(namespace, error = %e, "could not create the default service account");
        }
        _ => {}
    }
}

fn set_spec_finalizers(ns: &mut Value, list: Vec<Value>) {
    if let Some(o) = ns.as_object_mut() {
        let spec = o.entry("spec").or_insert_with(|| json!({}));
        if !spec.is_object() {
            *spec = json!({});
        }
        if let Some(spec) = spec.as_object_mut() {
            spec.insert("finalizers".into(), Value::Array(list));
        }
    }
}

fn remove_spec_finalizer(ns: &mut Value, finalizer: &str) {
    let list: Vec<Value> =
        namespace_spec_finalizers(ns).into_iter().filter(|f| *f != finalizer).map(|f| json!(f)).collect();
    set_spec_finalizers(ns, list);
}

/// What a namespace still holds after its content was asked to go.
#[derive(Debug, Default)]
struct Remaining {
    /// `pods.` / `daemonsets.apps` -> how many.
    by_type: BTreeMap<String, usize>,
    by_finalizer: BTreeMap<String, usize>,
    failures: Vec<String>,
}

/// Deletes (in the background) every object in a namespace, of every namespaced type.
fn delete_content(store: &Store, namespace: &str) -> Remaining {
    let types: Vec<GroupResource> =
        store.registry().all().filter(|t| t.namespaced).map(|t| t.group_resource()).collect();
    let mut left = Remaining::default();
    for gr in types {
        for obj in store.list(&gr, Some(namespace)).0 {
            let remains = if is_terminating(&obj) {
                Some(obj)
            } else {
                let options = DeleteOptions {
                    propagation: Some(Propagation::Background),
                    precondition_uid: meta_str(&obj, "uid").map(String::from),
                    ..DeleteOptions::default()
                };
                match store.delete(&gr, &ObjectKey::of(&obj), &options) {
                    Ok(Deleted::Gone(_)) => None,
                    Ok(Deleted::Terminating(now)) => Some(now),
                    Err(e) if e.code == 404 || e.code == 409 => None,
                    Err(e) => {
                        left.failures.push(e.message);
                        Some(obj)
                    }
                }
            };
            if let Some(obj) = remains {
                *left.by_type.entry(format!("{}.{}", gr.resource, gr.group)).or_default() += 1;
                for f in finalizers(&obj) {
                    *left.by_finalizer.entry(f.to_string()).or_default() += 1;
                }
            }
        }
    }
    left
}

/// The conditions Kubernetes' namespace controller reports on a terminating namespace.
fn report_remaining(store: &Store, name: &str, left: &Remaining) {
    let result = store.modify(&namespaces(), &ObjectKey::cluster(name), Part::Status, |ns| {
        set_phase(ns, "Terminating");
        let ok = "False";
        set_condition(
            ns,
            "NamespaceDeletionDiscoveryFailure",
            ok,
            "ResourcesDiscovered",
            "All resources successfully discovered",
        );
        set_condition(
            ns,
            "NamespaceDeletionGroupVersionParsingFailure",
            ok,
            "ParsedGroupVersions",
            "All legacy kube types successfully parsed",
        );
        if left.failures.is_empty() {
            set_condition(
                ns,
                "NamespaceDeletionContentFailure",
                ok,
                "ContentDeleted",
                "All content successfully deleted, may be waiting on finalization",
            );
        } else {
            let message = format!(
                "Failed to delete all resource types, {} remaining: {}",
                left.failures.len(),
                left.failures.join(", ")
            );
            set_condition(ns, "NamespaceDeletionContentFailure", "True", "ContentDeletionFailed", &message);
        }
        if left.by_type.is_empty() {
            set_condition(ns, "NamespaceContentRemaining", ok, "ContentRemoved", "All content successfully removed");
        } else {
            let what: Vec<String> =
                left.by_type.iter().map(|(t, n)| format!("{t} has {n} resource instances")).collect();
            let message = format!("Some resources are remaining: {}", what.join(", "));
            set_condition(ns, "NamespaceContentRemaining", "True", "SomeResourcesRemain", &message);
        }
        if left.by_finalizer.is_empty() {
            set_condition(
                ns,
                "NamespaceFinalizersRemaining",
                ok,
                "ContentHasNoFinalizers",
                "All content-preserving finalizers finished",
            );
        } else {
            let what: Vec<String> =
                left.by_finalizer.iter().map(|(f, n)| format!("{f} in {n} resource instances")).collect();
            let message = format!("Some content in the namespace has finalizers remaining: {}", what.join(", "));
            set_condition(ns, "NamespaceFinalizersRemaining", "True", "SomeFinalizersRemain", &message);
        }
        Ok(())
    });
    if let Err(e) = result {
        warn!(namespace = name, error = %e, "could not report namespace deletion status");
    }
}
