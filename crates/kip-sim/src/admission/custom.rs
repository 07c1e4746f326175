//! Custom resources against their CRD's `openAPIV3Schema`: pruning and defaulting (on every
//! write, before validation), and validation of types, required properties and enums.
//!
//! Pruning drops properties the schema does not declare, unless the object schema sets
//! `x-kubernetes-preserve-unknown-fields: true` or has `additionalProperties`; `null` values of
//! properties that are not `nullable` are dropped; absent properties with a `default` get it.
//! At the root, `apiVersion`, `kind` and `metadata` are always kept. Other schema keywords
//! (patterns, lengths, bounds, CEL rules) are not checked.

use serde_json::{Map, Value};

use super::messages::{printed, required, type_invalid};
use crate::error::Cause;

const ROOT_FIELDS: [&str; 3] = ["apiVersion", "kind", "metadata"];

fn flag(schema: &Value, key: &str) -> bool {
    schema.get(key).and_then(Value::as_bool) == Some(true)
}

/// The schema of property `name` of an object schema, if it declares one.
fn property_schema<'a>(schema: &'a Value, name: &str) -> Option<&'a Value> {
    schema
        .get("properties")
        .and_then(|p| p.get(name))
        .or_else(|| schema.get("additionalProperties").filter(|a| a.is_object()))
}

pub fn prune_and_default(schema: &Value, obj: &mut Value) {
    let Some(object) = obj.as_object_mut() else { return };
    object_step(schema, object, true);
}

fn object_step(schema: &Value, object: &mut Map<String, Value>, root: bool) {
    let keep_unknown =
        flag(schema, "x-kubernetes-preserve-unknown-fields") || schema.get("additionalProperties").is_some();
    let declared = |name: &str| schema.get("properties").and_then(|p| p.get(name)).is_some();
    object.retain(|name, value| {
        if root && ROOT_FIELDS.contains(&name.as_str()) {
            return true;
        }
        if value.is_null() {
            return property_schema(schema, name).is_some_and(|s| flag(s, "nullable"));
        }
        keep_unknown || declared(name)
    });
    if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
        for (name, property) in properties {
            if root && ROOT_FIELDS.contains(&name.as_str()) {
                continue;
            }
            if let Some(default) = property.get("default")
                && !object.contains_key(name)
            {
                object.insert(name.clone(), default.clone());
            }
        }
    }
    for (name, value) in object.iter_mut() {
        if root && ROOT_FIELDS.contains(&name.as_str()) {
            continue;
        }
        if let Some(child) = property_schema(schema, name) {
            value_step(child, value);
        }
    }
}

fn value_step(schema: &Value, value: &mut Value) {
    match value {
        Value::Object(object) => object_step(schema, object, false),
        Value::Array(items) => {
            if let Some(item_schema) = schema.get("items") {
                for item in items.iter_mut() {
                    value_step(item_schema, item);
                }
            }
        }
        _ => {}
    }
}

pub fn validate_custom(schema: &Value, obj: &Value) -> Vec<Cause> {
    let mut causes = Vec::new();
    let Some(object) = obj.as_object() else { return causes };
    for name in schema.get("required").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str) {
        if !ROOT_FIELDS.contains(&name) && object.get(name).is_none_or(Value::is_null) {
            causes.push(required(name, ""));
        }
    }
    for (name, value) in object {
        if ROOT_FIELDS.contains(&name.as_str()) {
            continue;
        }
        if let Some(property) = property_schema(schema, name) {
            check(property, value, name, &mut causes);
        }
    }
    causes
}

/// The type name the schema language gives a JSON value.
fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() || n.as_f64().is_some_and(|f| f.fract() == 0.0) => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn type_matches(schema: &Value, value: &Value) -> Result<(), String> {
    let actual = type_name(value);
    if flag(schema, "x-kubernetes-int-or-string") {
        return if matches!(actual, "integer" | "string") { Ok(()) } else { Err("integer-or-string".into()) };
    }
    let Some(wanted) = schema.get("type").and_then(Value::as_str) else { return Ok(()) };
    let fits = wanted == actual || (wanted == "number" && actual == "integer");
    if fits { Ok(()) } else { Err(wanted.to_string()) }
}

fn check(schema: &Value, value: &Value, path: &str, causes: &mut Vec<Cause>) {
    if value.is_null() {
        if !flag(schema, "nullable") && schema.get("type").is_some() {
            let wanted = schema.get("type").and_then(Value::as_str).unwrap_or("");
            causes.push(type_invalid(path, "null", &format!("{path} in body must be of type {wanted}: \"null\"")));
        }
        return;
    }
    if let Err(wanted) = type_matches(schema, value) {
        causes.push(type_invalid(
            path,
            &printed(value),
            &format!("{path} in body must be of type {wanted}: {:?}", type_name(value)),
        ));
        return;
    }
    if let Some(allowed) = schema.get("enum").and_then(Value::as_array)
        && !allowed.contains(value)
    {
        let allowed: Vec<String> = allowed.iter().map(printed).collect();
        let allowed: Vec<&str> = allowed.iter().map(String::as_str).collect();
        causes.push(enum_cause(path, &printed(value), &allowed));
    }
    match value {
        Value::Object(object) => {
            for name in schema.get("required").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str)
            {
                if object.get(name).is_none_or(Value::is_null) {
                    causes.push(required(format!("{path}.{name}"), ""));
                }
            }
            for (name, child) in object {
                if let Some(property) = property_schema(schema, name) {
                    check(property, child, &format!("{path}.{name}"), causes);
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = schema.get("items") {
                for (i, item) in items.iter().enumerate() {
                    check(item_schema, item, &format!("{path}[{i}]"), causes);
                }
            }
        }
        _ => {}
    }
}

/// `Unsupported value` with the allowed values already printed (strings quoted).
fn enum_cause(path: &str, value: &str, allowed: &[&str]) -> Cause {
    Cause {
        reason: "FieldValueNotSupported",
        field: path.into(),
        message: format!("Unsupported value: {value}: supported values: {}", allowed.join(", ")),
    }
}

/// A CRD's name must be `<plural>.<group>`.
pub fn validate_crd_name(obj: &Value) -> Vec<Cause> {
    let name = obj.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("");
    let plural = obj.pointer("/spec/names/plural").and_then(Value::as_str).unwrap_or("");
    let group = obj.pointer("/spec/group").and_then(Value::as_str).unwrap_or("");
    if name.is_empty() || name == format!("{plural}.{group}") {
        return Vec::new();
    }
    vec![Cause::invalid("metadata.name", name, "must be spec.names.plural+\".\"+spec.group")]
}
