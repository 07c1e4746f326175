//! Where the DaemonSet's pods run and how they are labelled: `NODE_SELECTOR`,
//! `DAEMONSET_ANNOTATIONS`, `AFFINITY`, `TOLERATIONS`. Beyond JSON syntax and shape (see
//! [`super::json`]), each value is held to the rules the API server applies to a pod spec, so a
//! bad value is reported here, with all the others, instead of failing the DaemonSet write.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Affinity, Toleration};
use serde_json::Value;

use super::affinity::check_affinity;
use super::json::{parse_value, typed, typed_at, unknown_fields};
use super::problem::{Location, Problem};
use super::vars::{AFFINITY, DAEMONSET_ANNOTATIONS, NODE_SELECTOR, TOLERATIONS};

/// The API server's limit on the total size of an object's annotations.
const ANNOTATIONS_MAX_BYTES: usize = 256 * 1024;

/// Parses a JSON object of strings; `null` counts as empty, as in the Go puller.
fn string_map(variable: &str, raw: &str, problems: &mut Vec<Problem>) -> BTreeMap<String, String> {
    match parse_value(variable, raw, problems) {
        None | Some(Value::Null) => BTreeMap::new(),
        Some(value) => typed(variable, &value, problems).unwrap_or_default(),
    }
}

pub(crate) fn node_selector(raw: &str, problems: &mut Vec<Problem>) -> BTreeMap<String, String> {
    let selector = string_map(NODE_SELECTOR, raw, problems);
    for (key, value) in &selector {
        let at = || Location::Key(key.clone());
        for rule in kip_rules::qualified_name(key) {
            problems.push(
                Problem::new(NODE_SELECTOR, format!("is not a valid label key: {rule}"))
                    .at(at())
                    .accepted("a label key such as kubernetes.io/os or node-role.kubernetes.io/worker"),
            );
        }
        for rule in kip_rules::label_value(value) {
            problems.push(
                Problem::new(NODE_SELECTOR, format!("the value {value:?} is not a valid label value: {rule}")).at(at()),
            );
        }
    }
    selector
}

pub(crate) fn annotations(raw: &str, problems: &mut Vec<Problem>) -> BTreeMap<String, String> {
    let annotations = string_map(DAEMONSET_ANNOTATIONS, raw, problems);
    for key in annotations.keys() {
        for rule in kip_rules::qualified_name(key) {
            problems.push(
                Problem::new(DAEMONSET_ANNOTATIONS, format!("is not a valid annotation key: {rule}"))
                    .at(Location::Key(key.clone()))
                    .accepted("a key such as example.com/owner or description"),
            );
        }
    }
    let size: usize = annotations.iter().map(|(key, value)| key.len() + value.len()).sum();
    if size > ANNOTATIONS_MAX_BYTES {
        problems.push(
            Problem::new(DAEMONSET_ANNOTATIONS, format!("the annotations total {size} bytes"))
                .accepted(format!("at most {ANNOTATIONS_MAX_BYTES} bytes of keys and values")),
        );
    }
    annotations
}

/// `{}` and `null` mean no affinity.
pub(crate) fn affinity(raw: &str, problems: &mut Vec<Problem>) -> Option<Affinity> {
    let value = parse_value(AFFINITY, raw, problems)?;
    if value.is_null() || value.as_object().is_some_and(|fields| fields.is_empty()) {
        return None;
    }
    unknown_fields::<Affinity>(AFFINITY, &value, problems);
    let affinity: Affinity = typed(AFFINITY, &value, problems)?;
    check_affinity(&affinity, problems);
    Some(affinity)
}

pub(crate) fn tolerations(raw: &str, problems: &mut Vec<Problem>) -> Vec<Toleration> {
    let Some(value) = parse_value(TOLERATIONS, raw, problems) else {
        return Vec::new();
    };
    if value.is_null() {
        return Vec::new();
    }
    unknown_fields::<Vec<Toleration>>(TOLERATIONS, &value, problems);
    // One toleration at a time, so that a mistake in one does not hide those in the others.
    let Some(items) = typed::<Vec<Value>>(TOLERATIONS, &value, problems) else {
        return Vec::new();
    };
    let mut tolerations = Vec::new();
    for (index, item) in items.iter().enumerate() {
        let Some(toleration) = typed_at::<Toleration>(TOLERATIONS, item, &format!("$[{index}]"), problems) else {
            continue;
        };
        for (message, accepted) in toleration_problems(&toleration) {
            let problem = Problem::new(TOLERATIONS, message).entry(index + 1, &item.to_string());
            problems.push(match accepted {
                Some(accepted) => problem.accepted(accepted),
                None => problem,
            });
        }
        tolerations.push(toleration);
    }
    tolerations
}

/// The API server's toleration rules: `(message, accepted)` for each one broken.
fn toleration_problems(toleration: &Toleration) -> Vec<(String, Option<&'static str>)> {
    let mut out = Vec::new();
    let key = toleration.key.as_deref().unwrap_or("");
    let operator = toleration.operator.as_deref().unwrap_or("");
    let value = toleration.value.as_deref().unwrap_or("");
    let effect = toleration.effect.as_deref().unwrap_or("");
    if !key.is_empty() {
        for rule in kip_rules::qualified_name(key) {
            out.push((format!("the key {key:?} is not a valid taint key: {rule}"), None));
        }
    } else if operator != "Exists" {
        out.push((
            "an empty key needs operator Exists (together they tolerate every taint)".to_string(),
            Some("a key, or operator Exists with no key"),
        ));
    }
    match operator {
        "" | "Equal" => {
            for rule in kip_rules::label_value(value) {
                out.push((format!("the value {value:?} is not a valid taint value: {rule}"), None));
            }
        }
        "Exists" if !value.is_empty() => out.push((
            format!("operator Exists matches any value, so value {value:?} must be left out"),
            Some("operator Equal with a value, or operator Exists without one"),
        )),
        "Exists" => {}
        other => out.push((format!("operator {other:?} is not supported"), Some("Exists, Equal (the default)"))),
    }
    if !matches!(effect, "" | "NoSchedule" | "PreferNoSchedule" | "NoExecute") {
        out.push((
            format!("effect {effect:?} is not supported"),
            Some("NoSchedule, PreferNoSchedule, NoExecute, or none for every effect"),
        ));
    }
    if toleration.toleration_seconds.is_some() && effect != "NoExecute" {
        out.push((
            "tolerationSeconds applies only to effect NoExecute".to_string(),
            Some("effect NoExecute with tolerationSeconds, or no tolerationSeconds"),
        ));
    }
    out
}
