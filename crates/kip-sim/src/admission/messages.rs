//! Field errors worded as the API server words them: the cause kinds [`Cause`] lacks, values
//! printed the way Go prints them in `Invalid value: ...` (maps, label selectors), and resource
//! quantities in their canonical form (`.2` is shown as `200m`, `1024Mi` as `1Gi`).

use serde_json::{Map, Value};

use crate::error::Cause;

pub fn required(field: impl Into<String>, detail: &str) -> Cause {
    let message = if detail.is_empty() { "Required value".to_string() } else { format!("Required value: {detail}") };
    Cause { reason: "FieldValueRequired", field: field.into(), message }
}

pub fn not_found(field: impl Into<String>, value: &str) -> Cause {
    Cause { reason: "FieldValueNotFound", field: field.into(), message: format!("Not found: {value:?}") }
}

/// `value` is already printed (a quoted string, a number).
pub fn not_supported(field: impl Into<String>, value: &str, supported: &[&str]) -> Cause {
    let quoted: Vec<String> = supported.iter().map(|s| format!("{s:?}")).collect();
    Cause {
        reason: "FieldValueNotSupported",
        field: field.into(),
        message: format!("Unsupported value: {value}: supported values: {}", quoted.join(", ")),
    }
}

/// An invalid value that is not a plain string: `printed` is already in Go's notation.
pub fn invalid_printed(field: impl Into<String>, printed: &str, detail: &str) -> Cause {
    Cause { reason: "FieldValueInvalid", field: field.into(), message: format!("Invalid value: {printed}: {detail}") }
}

pub fn type_invalid(field: impl Into<String>, printed: &str, detail: &str) -> Cause {
    Cause {
        reason: "FieldValueTypeInvalid",
        field: field.into(),
        message: format!("Invalid value: {printed}: {detail}"),
    }
}

pub fn too_long(field: impl Into<String>, limit: usize) -> Cause {
    Cause {
        reason: "FieldValueTooLong",
        field: field.into(),
        message: format!("Too long: may not be more than {limit} bytes"),
    }
}

/// A JSON value as an `Invalid value` shows it: strings quoted, numbers and booleans bare,
/// anything else as JSON.
pub fn printed(value: &Value) -> String {
    match value {
        Value::String(s) => format!("{s:?}"),
        Value::Null => "null".into(),
        other => other.to_string(),
    }
}

/// A string map as Go's `%#v` prints a `map[string]string`.
pub fn go_string_map(map: Option<&Map<String, Value>>) -> String {
    match map {
        None => "map[string]string(nil)".into(),
        Some(map) => {
            let entries: Vec<String> =
                map.iter().map(|(k, v)| format!("{k:?}:{:?}", v.as_str().unwrap_or_default())).collect();
            format!("map[string]string{{{}}}", entries.join(", "))
        }
    }
}

fn go_string_list(list: Option<&Value>) -> String {
    match list.and_then(Value::as_array) {
        None => "[]string(nil)".into(),
        Some(items) => {
            let items: Vec<String> = items.iter().map(|v| format!("{:?}", v.as_str().unwrap_or_default())).collect();
            format!("[]string{{{}}}", items.join(", "))
        }
    }
}

/// A label selector as Go's `%#v` prints a `v1.LabelSelector`.
pub fn go_label_selector(selector: &Value) -> String {
    let expressions = match selector.get("matchExpressions").and_then(Value::as_array) {
        None => "[]v1.LabelSelectorRequirement(nil)".to_string(),
        Some(list) => {
            let items: Vec<String> = list
                .iter()
                .map(|r| {
                    format!(
                        "v1.LabelSelectorRequirement{{Key:{:?}, Operator:{:?}, Values:{}}}",
                        r.get("key").and_then(Value::as_str).unwrap_or_default(),
                        r.get("operator").and_then(Value::as_str).unwrap_or_default(),
                        go_string_list(r.get("values"))
                    )
                })
                .collect();
            format!("[]v1.LabelSelectorRequirement{{{}}}", items.join(", "))
        }
    };
    format!(
        "v1.LabelSelector{{MatchLabels:{}, MatchExpressions:{expressions}}}",
        go_string_map(selector.get("matchLabels").and_then(Value::as_object))
    )
}

const DECIMAL_SUFFIXES: [(i32, &str); 10] =
    [(-9, "n"), (-6, "u"), (-3, "m"), (0, ""), (3, "k"), (6, "M"), (9, "G"), (12, "T"), (15, "P"), (18, "E")];
const BINARY_SUFFIXES: [&str; 7] = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"];

/// A quantity in the canonical form the API server prints: binary suffixes kept for whole
/// values of at least 1024, otherwise the largest decimal suffix that keeps the value exact.
pub fn canonical_quantity(text: &str, quantity: kip_rules::Quantity) -> String {
    let nanos = quantity.nanos();
    if nanos == 0 {
        return "0".into();
    }
    let sign = if nanos < 0 { "-" } else { "" };
    let magnitude = nanos.unsigned_abs();
    let suffix = text.trim().trim_start_matches(|c: char| c == '+' || c == '-' || c.is_ascii_digit() || c == '.');
    let binary = suffix.ends_with('i');
    let exponent_form = suffix.starts_with(['e', 'E']);
    const NANOS: u128 = 1_000_000_000;
    if binary && magnitude.is_multiple_of(NANOS) && magnitude / NANOS >= 1024 {
        let mut amount = magnitude / NANOS;
        let mut power = 0;
        while amount.is_multiple_of(1024) && power + 1 < BINARY_SUFFIXES.len() {
            amount /= 1024;
            power += 1;
        }
        return format!("{sign}{amount}{}", BINARY_SUFFIXES[power]);
    }
    let mut amount = magnitude;
    let mut exponent = -9;
    while amount.is_multiple_of(1000) && exponent < 18 {
        amount /= 1000;
        exponent += 3;
    }
    if exponent_form {
        let shown = if exponent == 0 { String::new() } else { format!("e{exponent}") };
        return format!("{sign}{amount}{shown}");
    }
    let unit = DECIMAL_SUFFIXES.iter().find(|(e, _)| *e == exponent).map(|(_, s)| *s).unwrap_or_default();
    format!("{sign}{amount}{unit}")
}
