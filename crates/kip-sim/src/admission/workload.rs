//! DaemonSets, Deployments and ReplicaSets: the selector (required, well formed, not empty,
//! matching the template's labels, immutable), the template (labels, annotations, pod spec,
//! `restartPolicy: Always`), replicas and the Deployment strategy.

use serde_json::{Map, Value};

use super::messages::{go_label_selector, go_string_map, invalid_printed, not_supported, printed, required};
use super::meta::{validate_annotations, validate_labels};
use super::pod::validate_pod_spec;
use crate::error::Cause;

const OPERATORS: [&str; 4] = ["In", "NotIn", "Exists", "DoesNotExist"];

pub fn validate_workload(kind: &str, obj: &Value, old: Option<&Value>) -> Vec<Cause> {
    let mut causes = Vec::new();
    let empty = Value::Object(Map::new());
    let spec = obj.get("spec").unwrap_or(&empty);
    let template_labels = spec.pointer("/template/metadata/labels").and_then(Value::as_object);
    match spec.get("selector").filter(|s| !s.is_null()) {
        None => causes.push(required("spec.selector", "")),
        Some(selector) => {
            let problems = validate_selector(selector, "spec.selector");
            let is_empty = selector.get("matchLabels").and_then(Value::as_object).is_none_or(Map::is_empty)
                && selector.get("matchExpressions").and_then(Value::as_array).is_none_or(Vec::is_empty);
            let well_formed = problems.is_empty();
            causes.extend(problems);
            if is_empty {
                let what = if kind == "DaemonSet" { "daemonset" } else { "deployment" };
                causes.push(invalid_printed(
                    "spec.selector",
                    &go_label_selector(selector),
                    &format!("empty selector is invalid for {what}"),
                ));
            } else if well_formed && !selector_matches(selector, template_labels) {
                causes.push(invalid_printed(
                    "spec.template.metadata.labels",
                    &go_string_map(template_labels),
                    "`selector` does not match template `labels`",
                ));
            }
        }
    }
    if let (Some(old), Some(selector)) = (old, spec.get("selector"))
        && let Some(old_selector) = old.pointer("/spec/selector")
        && old_selector != selector
    {
        causes.push(invalid_printed("spec.selector", &go_label_selector(selector), "field is immutable"));
    }
    if let Some(replicas) = spec.get("replicas").filter(|_| kind != "DaemonSet")
        && replicas.as_i64().is_some_and(|r| r < 0)
    {
        causes.push(invalid_printed("spec.replicas", &printed(replicas), "must be greater than or equal to 0"));
    }
    if kind == "Deployment"
        && spec.pointer("/strategy/type").and_then(Value::as_str) == Some("Recreate")
        && spec.pointer("/strategy/rollingUpdate").is_some_and(|r| !r.is_null())
    {
        causes.push(Cause::forbidden(
            "spec.strategy.rollingUpdate",
            "may not be specified when strategy `type` is 'Recreate'",
        ));
    }
    causes.extend(validate_labels(template_labels, "spec.template.metadata.labels"));
    causes.extend(validate_annotations(
        spec.pointer("/template/metadata/annotations").and_then(Value::as_object),
        "spec.template.metadata.annotations",
    ));
    match spec.pointer("/template/spec") {
        None => causes.push(required("spec.template.spec.containers", "")),
        Some(pod_spec) => {
            causes.extend(validate_pod_spec(pod_spec, "spec.template.spec"));
            let policy = pod_spec.get("restartPolicy").and_then(Value::as_str).unwrap_or("");
            if policy != "Always" {
                causes.push(not_supported("spec.template.spec.restartPolicy", &format!("{policy:?}"), &["Always"]));
            }
        }
    }
    causes
}

/// Label selector syntax: label keys and values, operators and the values they need.
fn validate_selector(selector: &Value, path: &str) -> Vec<Cause> {
    let mut causes =
        validate_labels(selector.get("matchLabels").and_then(Value::as_object), &format!("{path}.matchLabels"));
    for (i, requirement) in selector.get("matchExpressions").and_then(Value::as_array).into_iter().flatten().enumerate()
    {
        let at = format!("{path}.matchExpressions[{i}]");
        let operator = requirement.get("operator").and_then(Value::as_str).unwrap_or("");
        let values = requirement.get("values").and_then(Value::as_array).map_or(0, Vec::len);
        match operator {
            "In" | "NotIn" if values == 0 => {
                causes.push(required(format!("{at}.values"), "must be specified when `operator` is 'In' or 'NotIn'"));
            }
            "Exists" | "DoesNotExist" if values > 0 => causes.push(Cause::forbidden(
                format!("{at}.values"),
                "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
            )),
            op if !OPERATORS.contains(&op) => {
                causes.push(Cause::invalid(format!("{at}.operator"), op, "not a valid selector operator"));
            }
            _ => {}
        }
        let key = requirement.get("key").and_then(Value::as_str).unwrap_or("");
        for problem in kip_rules::qualified_name(key) {
            causes.push(Cause::invalid(format!("{at}.key"), key, problem));
        }
    }
    causes
}

/// Whether a (well-formed) label selector selects these labels.
pub fn selector_matches(selector: &Value, labels: Option<&Map<String, Value>>) -> bool {
    let label = |key: &str| labels.and_then(|l| l.get(key)).and_then(Value::as_str);
    let by_labels = selector
        .get("matchLabels")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .all(|(k, v)| label(k).is_some_and(|l| Some(l) == v.as_str()));
    let by_expressions = selector.get("matchExpressions").and_then(Value::as_array).into_iter().flatten().all(|r| {
        let key = r.get("key").and_then(Value::as_str).unwrap_or("");
        let values: Vec<&str> =
            r.get("values").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).collect();
        match r.get("operator").and_then(Value::as_str).unwrap_or("") {
            "In" => label(key).is_some_and(|l| values.contains(&l)),
            "NotIn" => label(key).is_none_or(|l| !values.contains(&l)),
            "Exists" => label(key).is_some(),
            "DoesNotExist" => label(key).is_none(),
            _ => false,
        }
    });
    by_labels && by_expressions
}
