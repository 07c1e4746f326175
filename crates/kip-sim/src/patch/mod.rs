//! PATCH in its four forms (JSON patch, merge patch, strategic merge patch, server-side apply)
//! and the managedFields bookkeeping that server-side apply relies on.
//!
//! Everything here is a pure function over `serde_json::Value`: the HTTP layer runs [`patch`]
//! inside a store write (or passes its result to a create when apply targets a missing
//! object), and calls [`record_update`] for every non-apply write so that apply conflicts see
//! the fields other writers set.

mod apply;
mod fieldset;
mod json;
mod managed;
mod schema;
mod strategic;
mod walk;

#[cfg(test)]
mod tests;

use serde_json::Value;

use crate::error::{ApiError, Cause};
use crate::resources::ResourceType;
use crate::store::ObjectKey;

/// The patch forms, by request Content-Type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PatchType {
    /// `application/json-patch+json` (RFC 6902)
    Json,
    /// `application/merge-patch+json` (RFC 7386)
    Merge,
    /// `application/strategic-merge-patch+json`
    StrategicMerge,
    /// `application/apply-patch+yaml` (server-side apply; the body may be YAML or JSON)
    Apply,
}

impl PatchType {
    pub fn from_content_type(content_type: &str) -> Option<Self> {
        match content_type.split(';').next().unwrap_or("").trim() {
            "application/json-patch+json" => Some(PatchType::Json),
            "application/merge-patch+json" => Some(PatchType::Merge),
            "application/strategic-merge-patch+json" => Some(PatchType::StrategicMerge),
            "application/apply-patch+yaml" | "application/apply-patch+json" => Some(PatchType::Apply),
            _ => None,
        }
    }
}

/// Query parameters of a PATCH that matter to the result.
#[derive(Clone, Debug, Default)]
pub struct PatchOptions {
    /// `fieldManager`; required for apply.
    pub field_manager: Option<String>,
    /// `force`; apply only.
    pub force: bool,
    /// `Some("status")` for PATCH on the status subresource.
    pub subresource: Option<String>,
    /// Namespace and name from the URL: apply names the object it creates after them, and
    /// refuses a configuration that names another object.
    pub target: Option<ObjectKey>,
}

/// Applies a patch to the stored object and returns the proposed new object. `current` is
/// `None` when the object does not exist: only apply may then create it (the caller passes the
/// name and namespace from the URL in `options.target` and stores the result with a create).
/// A re-apply that changes nothing returns `current` unchanged.
pub fn patch(
    rt: &ResourceType,
    current: Option<&Value>,
    patch_type: PatchType,
    body: &[u8],
    options: &PatchOptions,
) -> Result<Value, ApiError> {
    if patch_type == PatchType::StrategicMerge && rt.custom {
        return Err(ApiError::new(
            415,
            "UnsupportedMediaType",
            "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml",
        ));
    }
    if options.force && patch_type != PatchType::Apply {
        let cause = Cause {
            reason: "FieldValueForbidden",
            field: "force".into(),
            message: "Forbidden: may not be specified for non-apply patch".into(),
        };
        return Err(ApiError::invalid("meta.k8s.io", "PatchOptions", "", vec![cause]));
    }
    if patch_type == PatchType::Apply {
        return apply::apply(rt, current, body, options);
    }
    let Some(current) = current else {
        let name = options.target.as_ref().map(|t| t.name.as_str()).unwrap_or("");
        return Err(ApiError::not_found(&rt.group, &rt.plural, name));
    };
    match patch_type {
        PatchType::Json => json::json_patch(current, body),
        PatchType::Merge => json::merge_patch(current, body),
        _ => strategic::strategic_patch(current, body, &schema::Cursor::root(rt)),
    }
}

/// Records, in `metadata.managedFields`, the fields a non-apply write (create, update or a
/// non-apply patch) by `manager` set, as the API server does (operation `Update`): fields the
/// write added or changed become the manager's and leave every other manager, removed fields
/// leave everyone, and managers left with nothing are dropped. `old` is `None` on create. A
/// request that sends `managedFields: []` clears the record.
pub fn record_update(
    rt: &ResourceType,
    old: Option<&Value>,
    new: &mut Value,
    manager: &str,
    subresource: Option<&str>,
) {
    managed::record_update(rt, old, new, manager, subresource.unwrap_or(""));
}
