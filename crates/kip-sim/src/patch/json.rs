//! JSON patch (RFC 6902) and JSON merge patch (RFC 7386), with the API server's answers to a
//! bad body: 400 for a body that does not parse, 413 for more than 10,000 operations, and 422
//! (with the API server's generic message) for an operation that cannot be applied: an unknown
//! op, a path that does not exist, a failing `test`.

use serde_json::Value;

use crate::error::ApiError;

/// The most operations one JSON patch may carry.
const MAX_OPERATIONS: usize = 10_000;

fn unprocessable() -> ApiError {
    ApiError::new(422, "Invalid", "the server rejected our request due to an error in our request")
}

pub fn json_patch(current: &Value, body: &[u8]) -> Result<Value, ApiError> {
    let raw: Value = serde_json::from_slice(body).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let Value::Array(operations) = &raw else {
        return Err(ApiError::bad_request("a JSON patch must be an array of operations"));
    };
    if operations.len() > MAX_OPERATIONS {
        return Err(ApiError::new(
            413,
            "RequestEntityTooLarge",
            format!(
                "Request entity too large: The allowed maximum operations in a JSON patch is {MAX_OPERATIONS}, got {}",
                operations.len()
            ),
        ));
    }
    let operations: json_patch::Patch = serde_json::from_value(raw).map_err(|_| unprocessable())?;
    let mut doc = current.clone();
    json_patch::patch(&mut doc, &operations.0).map_err(|_| unprocessable())?;
    Ok(doc)
}

pub fn merge_patch(current: &Value, body: &[u8]) -> Result<Value, ApiError> {
    let patch: Value = serde_json::from_slice(body).map_err(|_| ApiError::bad_request("Invalid JSON Patch"))?;
    if !patch.is_object() {
        return Err(ApiError::bad_request("Invalid JSON Patch"));
    }
    let mut doc = current.clone();
    json_patch::merge(&mut doc, &patch);
    Ok(doc)
}
