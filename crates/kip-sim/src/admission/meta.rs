//! Object metadata: names (and `generateName` prefixes), namespaces, label keys and values,
//! annotation keys and their total size.

use serde_json::{Map, Value};

use super::messages::too_long;
use crate::error::Cause;
use crate::resources::ResourceType;

/// The most bytes all annotations of one object may hold together (keys and values).
const ANNOTATIONS_MAX_BYTES: usize = 256 * 1024;

/// The rule an object name must follow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NameRule {
    Dns1123Subdomain,
    Dns1123Label,
    /// RBAC objects: anything usable as a URL path segment.
    PathSegment,
}

pub fn name_rule(rt: &ResourceType) -> NameRule {
    match (rt.group.as_str(), rt.kind.as_str()) {
        ("", "Namespace") => NameRule::Dns1123Label,
        ("rbac.authorization.k8s.io", _) => NameRule::PathSegment,
        _ => NameRule::Dns1123Subdomain,
    }
}

fn path_segment(name: &str) -> Vec<String> {
    let mut problems = Vec::new();
    if name == "." || name == ".." {
        problems.push(format!("may not be '{name}'"));
    }
    for forbidden in ["/", "%"] {
        if name.contains(forbidden) {
            problems.push(format!("may not contain '{forbidden}'"));
        }
    }
    problems
}

fn name_problems(rule: NameRule, name: &str) -> Vec<String> {
    match rule {
        NameRule::Dns1123Subdomain => kip_rules::dns1123_subdomain(name),
        NameRule::Dns1123Label => kip_rules::dns1123_label(name),
        NameRule::PathSegment => path_segment(name),
    }
}

/// The object's `metadata`.
pub fn validate_metadata(rt: &ResourceType, obj: &Value) -> Vec<Cause> {
    let mut causes = Vec::new();
    let Some(meta) = obj.get("metadata").and_then(Value::as_object) else { return causes };
    let text = |key: &str| meta.get(key).and_then(Value::as_str).unwrap_or("");
    let rule = name_rule(rt);
    let name = text("name");
    if !name.is_empty() {
        for problem in name_problems(rule, name) {
            causes.push(Cause::invalid("metadata.name", name, problem));
        }
    }
    let prefix = text("generateName");
    if !prefix.is_empty() {
        // A prefix may end in '-': the generated suffix follows it.
        let masked = match prefix.strip_suffix('-') {
            Some(head) if !head.is_empty() => format!("{head}a"),
            _ => prefix.to_string(),
        };
        for problem in name_problems(rule, &masked) {
            causes.push(Cause::invalid("metadata.generateName", prefix, problem));
        }
    }
    let namespace = text("namespace");
    if rt.namespaced && !namespace.is_empty() {
        for problem in kip_rules::dns1123_label(namespace) {
            causes.push(Cause::invalid("metadata.namespace", namespace, problem));
        }
    }
    causes.extend(validate_labels(meta.get("labels").and_then(Value::as_object), "metadata.labels"));
    causes.extend(validate_annotations(meta.get("annotations").and_then(Value::as_object), "metadata.annotations"));
    causes
}

/// Label keys are qualified names, values label values; causes point at the whole map.
pub fn validate_labels(labels: Option<&Map<String, Value>>, field: &str) -> Vec<Cause> {
    let mut causes = Vec::new();
    for (key, value) in labels.into_iter().flatten() {
        for problem in kip_rules::qualified_name(key) {
            causes.push(Cause::invalid(field, key, problem));
        }
        let value = value.as_str().unwrap_or("");
        for problem in kip_rules::label_value(value) {
            causes.push(Cause::invalid(field, value, problem));
        }
    }
    causes
}

/// Annotation keys are qualified names (checked in lower case); all of them together may hold
/// at most 256 KiB.
pub fn validate_annotations(annotations: Option<&Map<String, Value>>, field: &str) -> Vec<Cause> {
    let mut causes = Vec::new();
    let mut total = 0;
    for (key, value) in annotations.into_iter().flatten() {
        for problem in kip_rules::qualified_name(&key.to_lowercase()) {
            causes.push(Cause::invalid(field, key, problem));
        }
        total += key.len() + value.as_str().map_or(0, str::len);
    }
    if total > ANNOTATIONS_MAX_BYTES {
        causes.push(too_long(field, ANNOTATIONS_MAX_BYTES));
    }
    causes
}
