//! Strategic merge patch (`application/strategic-merge-patch+json`) for the built-in types.
//!
//! Maps merge key by key and `null` deletes a key. Lists follow the type's patch strategy (see
//! [`super::schema`]): merged by key, merged as a set of primitives, or replaced. Directives:
//! `$patch: replace | delete | merge` on a map or as a list element, `$retainKeys`,
//! `$deleteFromPrimitiveList/<field>` and `$setElementOrder/<field>`.
//!
//! Errors carry the status codes the API server gives: a body that is not a JSON object or a
//! malformed directive is 400; content outside `$retainKeys` is 422; an element without its
//! merge key or an unknown `$patch` value is 500 (the API server passes those through as
//! internal errors).

use serde_json::{Map, Value};

use super::schema::{Cursor, PatchList};
use crate::error::ApiError;

const DIRECTIVE: &str = "$patch";
const RETAIN_KEYS: &str = "$retainKeys";
const DELETE_FROM_PRIMITIVE_LIST: &str = "$deleteFromPrimitiveList/";
const SET_ELEMENT_ORDER: &str = "$setElementOrder/";

/// Applies a strategic merge patch body to the stored object.
pub fn strategic_patch(current: &Value, body: &[u8], cursor: &Cursor) -> Result<Value, ApiError> {
    let patch: Value = serde_json::from_slice(body).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let Value::Object(patch) = patch else {
        return Err(ApiError::bad_request(format!(
            "the strategic merge patch must be a JSON object, got {}",
            kind_of(&patch)
        )));
    };
    let original = current.as_object().cloned().unwrap_or_default();
    Ok(Value::Object(merge_map(original, &patch, cursor)?))
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn unknown_directive(value: &Value) -> ApiError {
    ApiError::internal(format!(
        "unknown patch type: {value} in map; accepted values of {DIRECTIVE} are \"replace\", \"merge\" and \"delete\""
    ))
}

/// Merges a patch map into an original map.
fn merge_map(
    mut original: Map<String, Value>,
    patch: &Map<String, Value>,
    cursor: &Cursor,
) -> Result<Map<String, Value>, ApiError> {
    match patch.get(DIRECTIVE) {
        None => {}
        Some(Value::String(d)) if d == "merge" => {}
        Some(Value::String(d)) if d == "replace" => {
            let mut rest = patch.clone();
            rest.remove(DIRECTIVE);
            return merge_map(Map::new(), &rest, cursor);
        }
        Some(Value::String(d)) if d == "delete" => return Ok(Map::new()),
        Some(other) => return Err(unknown_directive(other)),
    }
    let retain = retained_keys(patch)?;
    for (key, values) in patch {
        let Some(field) = key.strip_prefix(DELETE_FROM_PRIMITIVE_LIST) else { continue };
        let Value::Array(values) = values else {
            return Err(ApiError::bad_request("invalid patch format of primitive list"));
        };
        if let Some(Value::Array(list)) = original.get_mut(field) {
            list.retain(|v| !values.contains(v));
        }
    }
    for (key, value) in patch {
        if key.starts_with('$') {
            continue;
        }
        if value.is_null() {
            original.remove(key);
            continue;
        }
        let merged = merge_value(original.remove(key), value, &cursor.field(key))?;
        original.insert(key.clone(), merged);
    }
    for (key, order) in patch {
        let Some(field) = key.strip_prefix(SET_ELEMENT_ORDER) else { continue };
        let Value::Array(order) = order else {
            return Err(ApiError::bad_request("invalid patch format of setElementOrder list"));
        };
        if let Some(Value::Array(list)) = original.get_mut(field) {
            let items = std::mem::take(list);
            *list = reorder(items, order, cursor.field(field).patch_list());
        }
    }
    if let Some(retain) = retain {
        original.retain(|k, _| retain.contains(k));
    }
    Ok(original)
}

/// The `$retainKeys` list, checked against the patch's own keys.
fn retained_keys(patch: &Map<String, Value>) -> Result<Option<Vec<String>>, ApiError> {
    let Some(list) = patch.get(RETAIN_KEYS) else { return Ok(None) };
    let keys: Option<Vec<String>> =
        list.as_array().and_then(|items| items.iter().map(|k| k.as_str().map(String::from)).collect());
    let Some(keys) = keys else {
        return Err(ApiError::bad_request("invalid patch format of retainKeys"));
    };
    if patch.keys().any(|k| !k.starts_with('$') && !keys.contains(k)) {
        return Err(ApiError::new(422, "Invalid", "patch content doesn't match retainKeys list"));
    }
    Ok(Some(keys))
}

fn merge_value(original: Option<Value>, patch: &Value, cursor: &Cursor) -> Result<Value, ApiError> {
    match patch {
        Value::Object(p) => {
            let base = match original {
                Some(Value::Object(o)) => o,
                _ => Map::new(),
            };
            Ok(Value::Object(merge_map(base, p, cursor)?))
        }
        Value::Array(p) => {
            let base = match original {
                Some(Value::Array(o)) => o,
                _ => Vec::new(),
            };
            Ok(Value::Array(merge_list(base, p, cursor)?))
        }
        scalar => Ok(scalar.clone()),
    }
}

fn merge_list(original: Vec<Value>, patch: &[Value], cursor: &Cursor) -> Result<Vec<Value>, ApiError> {
    match cursor.patch_list() {
        PatchList::Replace => Ok(patch.to_vec()),
        PatchList::MergePrimitives => {
            let mut out = original;
            for value in patch {
                if !out.contains(value) {
                    out.push(value.clone());
                }
            }
            Ok(out)
        }
        PatchList::MergeByKey(key) => merge_keyed_list(original, patch, key, &cursor.item()),
    }
}

fn directive_of(value: &Value) -> Option<&Value> {
    value.as_object().and_then(|o| o.get(DIRECTIVE))
}

fn merge_keyed_list(
    original: Vec<Value>,
    patch: &[Value],
    key: &str,
    item_cursor: &Cursor,
) -> Result<Vec<Value>, ApiError> {
    let replace = patch.iter().any(|p| directive_of(p).and_then(Value::as_str) == Some("replace"));
    let (mut out, elements): (Vec<Value>, Vec<&Value>) = if replace {
        (Vec::new(), patch.iter().filter(|p| directive_of(p).is_none()).collect())
    } else {
        (original, patch.iter().collect())
    };
    for element in elements {
        let Value::Object(element) = element else {
            return Err(ApiError::internal(format!(
                "list elements merged by {key:?} must be maps, got {}",
                kind_of(element)
            )));
        };
        let Some(wanted) = element.get(key) else {
            return Err(ApiError::internal(format!(
                "map: {} does not contain declared merge key: {key}",
                Value::Object(element.clone())
            )));
        };
        match element.get(DIRECTIVE) {
            Some(Value::String(d)) if d == "delete" => out.retain(|e| e.get(key) != Some(wanted)),
            Some(Value::String(d)) if d != "merge" => return Err(unknown_directive(&Value::String(d.clone()))),
            Some(other) if !other.is_string() => return Err(unknown_directive(other)),
            _ => match out.iter().position(|e| e.get(key) == Some(wanted)) {
                Some(i) => {
                    let base = out[i].as_object().cloned().unwrap_or_default();
                    out[i] = Value::Object(merge_map(base, element, item_cursor)?);
                }
                None => out.push(Value::Object(merge_map(Map::new(), element, item_cursor)?)),
            },
        }
    }
    Ok(out)
}

/// Orders a merged list as `$setElementOrder` asks: the listed elements in the listed order;
/// elements only the server knows stay after the listed element they followed before.
fn reorder(items: Vec<Value>, order: &[Value], rule: PatchList) -> Vec<Value> {
    let identity = |v: &Value| -> Value {
        match rule {
            PatchList::MergeByKey(key) => v.get(key).cloned().unwrap_or(Value::Null),
            _ => v.clone(),
        }
    };
    let wanted: Vec<Value> = order.iter().map(identity).collect();
    let rank = |v: &Value| wanted.iter().position(|w| *w == identity(v));
    let mut listed: Vec<(usize, Value)> = Vec::new();
    // Server-only elements, grouped under the listed element (by rank) they followed.
    let mut followers: Vec<(Option<usize>, Value)> = Vec::new();
    let mut last_rank = None;
    for item in items {
        match rank(&item) {
            Some(r) => {
                last_rank = Some(r);
                listed.push((r, item));
            }
            None => followers.push((last_rank, item)),
        }
    }
    listed.sort_by_key(|(r, _)| *r);
    let mut out: Vec<Value> = followers.iter().filter(|(after, _)| after.is_none()).map(|(_, v)| v.clone()).collect();
    for (r, item) in listed {
        out.push(item);
        out.extend(followers.iter().filter(|(after, _)| *after == Some(r)).map(|(_, v)| v.clone()));
    }
    out
}
