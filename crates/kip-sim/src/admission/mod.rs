//! Defaulting and validation, as the API server applies them to the types kip uses.

use serde_json::Value;

use crate::error::Cause;
use crate::resources::ResourceType;

/// Fills the defaults the API server would (before validation and storage).
pub fn default(_rt: &ResourceType, _obj: &mut Value) {}

/// The reasons the API server would reject this object (empty when valid). `old` is the stored
/// object on update.
pub fn validate(_rt: &ResourceType, _obj: &Value, _old: Option<&Value>) -> Vec<Cause> {
    Vec::new()
}
