//! PATCH in its four forms (JSON patch, merge patch, strategic merge patch, server-side apply)
//! and the managedFields bookkeeping that server-side apply relies on.

use serde_json::Value;

use crate::error::ApiError;
use crate::resources::ResourceType;

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
}

/// Applies a patch to the stored object and returns the proposed new object. `current` is
/// `None` when the object does not exist (only apply may then create it; the caller passes the
/// name and namespace from the URL in `target`).
pub fn patch(
    _rt: &ResourceType,
    _current: Option<&Value>,
    _patch_type: PatchType,
    _body: &[u8],
    _options: &PatchOptions,
) -> Result<Value, ApiError> {
    Err(ApiError::new(415, "UnsupportedMediaType", "patch is not implemented yet"))
}

/// Records, in `metadata.managedFields`, the fields a non-apply write (create, update or a
/// non-apply patch) by `manager` set, as the API server does (operation `Update`).
pub fn record_update(
    _rt: &ResourceType,
    _old: Option<&Value>,
    _new: &mut Value,
    _manager: &str,
    _subresource: Option<&str>,
) {
}
