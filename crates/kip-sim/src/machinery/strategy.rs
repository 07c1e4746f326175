//! Deletion rules that the API server's storage applies to two kinds, called by the store on
//! every DELETE and every write of a terminating object.
//!
//! A namespace is held not only by `metadata.finalizers` but also by `spec.finalizers`
//! (`kubernetes`, removed by the namespace controller once the namespace is empty), and turns
//! `Terminating` as soon as its deletion starts. A CustomResourceDefinition gets the
//! `customresourcecleanup.apiextensions.k8s.io` finalizer on its first DELETE, so that its
//! custom objects are deleted before the kind stops being served.

use serde_json::Value;

use crate::resources::GroupResource;
use crate::store::{add_finalizer, finalizers, is_terminating};

use super::conditions::{set_condition, set_phase};

/// Held by every CRD whose deletion has started, until its custom objects are gone.
pub const FINALIZER_CRD_CLEANUP: &str = "customresourcecleanup.apiextensions.k8s.io";
/// The namespace controller's entry in a namespace's `spec.finalizers`.
pub const FINALIZER_NAMESPACE: &str = "kubernetes";

pub(crate) fn is_namespaces(gr: &GroupResource) -> bool {
    gr.group.is_empty() && &*gr.resource == "namespaces"
}

pub(crate) fn is_crds(gr: &GroupResource) -> bool {
    &*gr.group == "apiextensions.k8s.io" && &*gr.resource == "customresourcedefinitions"
}

/// Changes a DELETE makes beyond the generic ones. `next` is the object about to be stored (or
/// removed); it is terminating already if an earlier DELETE started the deletion.
pub fn prepare_for_delete(gr: &GroupResource, next: &mut Value) {
    if is_namespaces(gr) {
        set_phase(next, "Terminating");
    } else if is_crds(gr) && !is_terminating(next) {
        add_finalizer(next, FINALIZER_CRD_CLEANUP);
        set_condition(
            next,
            "Terminating",
            "True",
            "InstanceDeletionPending",
            "CustomResourceDefinition marked for deletion; CustomResource deletion will begin soon",
        );
    }
}

/// Whether something still holds this object's deletion (so it stays, terminating).
pub fn holds_deletion(gr: &GroupResource, obj: &Value) -> bool {
    !finalizers(obj).is_empty() || (is_namespaces(gr) && !namespace_spec_finalizers(obj).is_empty())
}

pub(crate) fn namespace_spec_finalizers(ns: &Value) -> Vec<&str> {
    ns.pointer("/spec/finalizers")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn namespace_spec_finalizers_hold_deletion() {
        let ns = GroupResource::core("namespaces");
        let held = json!({"metadata": {"name": "a"}, "spec": {"finalizers": ["kubernetes"]}});
        let free = json!({"metadata": {"name": "a"}, "spec": {"finalizers": []}});
        assert!(holds_deletion(&ns, &held));
        assert!(!holds_deletion(&ns, &free));
        // Only namespaces read spec.finalizers.
        assert!(!holds_deletion(&GroupResource::core("configmaps"), &held));
    }

    #[test]
    fn first_crd_delete_adds_the_cleanup_finalizer_and_terminating_condition() {
        let gr = GroupResource::new("apiextensions.k8s.io", "customresourcedefinitions");
        let mut crd = json!({"metadata": {"name": "xs.example.com"}});
        prepare_for_delete(&gr, &mut crd);
        assert_eq!(finalizers(&crd), vec![FINALIZER_CRD_CLEANUP]);
        assert_eq!(crd["status"]["conditions"][0]["type"], "Terminating");
        assert_eq!(crd["status"]["conditions"][0]["reason"], "InstanceDeletionPending");
    }

    #[test]
    fn deleting_a_namespace_makes_it_terminating() {
        let mut ns = json!({"metadata": {"name": "a"}, "status": {"phase": "Active"}});
        prepare_for_delete(&GroupResource::core("namespaces"), &mut ns);
        assert_eq!(ns["status"]["phase"], "Terminating");
    }
}
