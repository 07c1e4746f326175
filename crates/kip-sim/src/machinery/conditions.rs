//! `status.conditions` as the API machinery writes them: a list keyed by `type`, whose
//! `lastTransitionTime` moves only when the condition's `status` changes (so rewriting the same
//! condition is a no-op write, and controllers converge).

use serde_json::{Map, Value, json};

use crate::store::now;

/// The object's `status`, made an object if it is missing or not one.
pub(crate) fn status_mut(obj: &mut Value) -> Option<&mut Map<String, Value>> {
    let o = obj.as_object_mut()?;
    let status = o.entry("status").or_insert_with(|| json!({}));
    if !status.is_object() {
        *status = json!({});
    }
    status.as_object_mut()
}

/// Sets `status.phase`.
pub(crate) fn set_phase(obj: &mut Value, phase: &str) {
    if let Some(status) = status_mut(obj) {
        status.insert("phase".into(), json!(phase));
    }
}

/// Adds or replaces the condition of this `type`, keeping its transition time when its status
/// stays the same.
pub(crate) fn set_condition(obj: &mut Value, kind: &str, status: &str, reason: &str, message: &str) {
    let Some(status_map) = status_mut(obj) else { return };
    let list = status_map.entry("conditions").or_insert_with(|| json!([]));
    if !list.is_array() {
        *list = json!([]);
    }
    let Some(list) = list.as_array_mut() else { return };
    let existing = list.iter_mut().find(|c| c.get("type").and_then(Value::as_str) == Some(kind));
    let transition = match &existing {
        Some(c) if c.get("status").and_then(Value::as_str) == Some(status) => {
            c.get("lastTransitionTime").cloned().unwrap_or_else(|| json!(now()))
        }
        _ => json!(now()),
    };
    let condition = json!({
        "type": kind,
        "status": status,
        "lastTransitionTime": transition,
        "reason": reason,
        "message": message,
    });
    match existing {
        Some(c) => *c = condition,
        None => list.push(condition),
    }
}

/// The `status` of the condition of this `type`, if present.
pub(crate) fn condition_status<'a>(obj: &'a Value, kind: &str) -> Option<&'a str> {
    obj.pointer("/status/conditions")?
        .as_array()?
        .iter()
        .find(|c| c.get("type").and_then(Value::as_str) == Some(kind))?
        .get("status")?
        .as_str()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_status_keeps_the_transition_time() {
        let mut obj = json!({"status": {"conditions": [
            {"type": "Ready", "status": "True", "lastTransitionTime": "2020-01-01T00:00:00Z", "reason": "A", "message": "a"}
        ]}});
        set_condition(&mut obj, "Ready", "True", "B", "b");
        let c = &obj["status"]["conditions"][0];
        assert_eq!((c["lastTransitionTime"].as_str(), c["reason"].as_str()), (Some("2020-01-01T00:00:00Z"), Some("B")));
        set_condition(&mut obj, "Ready", "False", "C", "c");
        assert_ne!(obj["status"]["conditions"][0]["lastTransitionTime"], "2020-01-01T00:00:00Z");
        assert_eq!(obj["status"]["conditions"].as_array().map(Vec::len), Some(1));
    }

    #[test]
    fn new_conditions_are_appended_in_order() {
        let mut obj = json!({"status": "not an object"});
        set_condition(&mut obj, "A", "True", "r", "m");
        set_condition(&mut obj, "B", "False", "r", "m");
        assert_eq!(condition_status(&obj, "A"), Some("True"));
        assert_eq!(obj["status"]["conditions"][1]["type"], "B");
    }
}
