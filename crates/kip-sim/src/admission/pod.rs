//! Pod specs, in pods and in workload templates: containers (names, duplicates across init and
//! regular containers, images, pull policies, ports, resources, volume mounts), volumes,
//! restart and DNS policies. `path` is where the spec sits (`spec`, `spec.template.spec`).

use std::collections::HashSet;

use serde_json::{Map, Value};

use super::messages::{canonical_quantity, invalid_printed, not_found, not_supported, printed, required};
use crate::error::Cause;

const RESTART_POLICIES: [&str; 3] = ["Always", "OnFailure", "Never"];
const DNS_POLICIES: [&str; 4] = ["ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"];
const PULL_POLICIES: [&str; 3] = ["Always", "IfNotPresent", "Never"];
const PROTOCOLS: [&str; 3] = ["TCP", "UDP", "SCTP"];

fn list<'a>(spec: &'a Map<String, Value>, key: &str) -> &'a [Value] {
    spec.get(key).and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default()
}

fn text<'a>(obj: &'a Value, key: &str) -> &'a str {
    obj.get(key).and_then(Value::as_str).unwrap_or("")
}

pub fn validate_pod_spec(spec: &Value, path: &str) -> Vec<Cause> {
    let mut causes = Vec::new();
    let Some(spec) = spec.as_object() else {
        causes.push(required(path, ""));
        return causes;
    };
    let volumes = validate_volumes(list(spec, "volumes"), &format!("{path}.volumes"), &mut causes);
    let containers = list(spec, "containers");
    if containers.is_empty() {
        causes.push(required(format!("{path}.containers"), ""));
    }
    let mut names = HashSet::new();
    for (i, c) in containers.iter().enumerate() {
        validate_container(c, &format!("{path}.containers[{i}]"), &volumes, &mut names, &mut causes);
    }
    // Init containers are checked against the regular containers' names, and each other's.
    for (i, c) in list(spec, "initContainers").iter().enumerate() {
        validate_container(c, &format!("{path}.initContainers[{i}]"), &volumes, &mut names, &mut causes);
    }
    for (key, supported) in [("restartPolicy", &RESTART_POLICIES[..]), ("dnsPolicy", &DNS_POLICIES[..])] {
        if let Some(value) = spec.get(key).and_then(Value::as_str)
            && !supported.contains(&value)
        {
            causes.push(not_supported(format!("{path}.{key}"), &format!("{value:?}"), supported));
        }
    }
    causes
}

/// Checks the volumes and returns their names.
fn validate_volumes(volumes: &[Value], path: &str, causes: &mut Vec<Cause>) -> HashSet<String> {
    let mut names = HashSet::new();
    for (i, volume) in volumes.iter().enumerate() {
        let name = text(volume, "name");
        let field = format!("{path}[{i}].name");
        if name.is_empty() {
            causes.push(required(field, ""));
            continue;
        }
        for problem in kip_rules::dns1123_label(name) {
            causes.push(Cause::invalid(&field, name, problem));
        }
        if !names.insert(name.to_string()) {
            causes.push(Cause::duplicate(field, name));
        }
    }
    names
}

fn validate_container(
    c: &Value,
    path: &str,
    volumes: &HashSet<String>,
    names: &mut HashSet<String>,
    causes: &mut Vec<Cause>,
) {
    let name = text(c, "name");
    if name.is_empty() {
        causes.push(required(format!("{path}.name"), ""));
    } else {
        for problem in kip_rules::dns1123_label(name) {
            causes.push(Cause::invalid(format!("{path}.name"), name, problem));
        }
        if !names.insert(name.to_string()) {
            causes.push(Cause::duplicate(format!("{path}.name"), name));
        }
    }
    let image = text(c, "image");
    if image.is_empty() {
        causes.push(required(format!("{path}.image"), ""));
    } else if image.trim() != image {
        causes.push(Cause::invalid(format!("{path}.image"), image, "must not have leading or trailing whitespace"));
    }
    if let Some(policy) = c.get("imagePullPolicy").and_then(Value::as_str)
        && !PULL_POLICIES.contains(&policy)
    {
        causes.push(not_supported(format!("{path}.imagePullPolicy"), &format!("{policy:?}"), &PULL_POLICIES));
    }
    validate_ports(c, path, causes);
    if let Some(resources) = c.get("resources") {
        validate_resources(resources, &format!("{path}.resources"), causes);
    }
    for (j, mount) in c.get("volumeMounts").and_then(Value::as_array).into_iter().flatten().enumerate() {
        let mount_path = format!("{path}.volumeMounts[{j}]");
        let volume = text(mount, "name");
        if volume.is_empty() {
            causes.push(required(format!("{mount_path}.name"), ""));
        } else if !volumes.contains(volume) {
            causes.push(not_found(format!("{mount_path}.name"), volume));
        }
        if text(mount, "mountPath").is_empty() {
            causes.push(required(format!("{mount_path}.mountPath"), ""));
        }
    }
}

fn validate_ports(c: &Value, path: &str, causes: &mut Vec<Cause>) {
    for (j, port) in c.get("ports").and_then(Value::as_array).into_iter().flatten().enumerate() {
        let port_path = format!("{path}.ports[{j}]");
        // Zero stands for unset, as in Go: a container port is required, a host port optional.
        for (key, needed) in [("containerPort", true), ("hostPort", false)] {
            let value = port.get(key).cloned().unwrap_or(Value::Null);
            if value.is_null() || value.as_i64() == Some(0) {
                if needed {
                    causes.push(required(format!("{port_path}.{key}"), ""));
                }
            } else if !value.as_i64().is_some_and(|n| (1..=65535).contains(&n)) {
                causes.push(invalid_printed(
                    format!("{port_path}.{key}"),
                    &printed(&value),
                    "must be between 1 and 65535, inclusive",
                ));
            }
        }
        if let Some(protocol) = port.get("protocol").and_then(Value::as_str)
            && !PROTOCOLS.contains(&protocol)
        {
            causes.push(not_supported(format!("{port_path}.protocol"), &format!("{protocol:?}"), &PROTOCOLS));
        }
    }
}

/// Native resources (no domain, or a kubernetes.io one) other than huge pages may be requested
/// below their limit; extended resources must request exactly their limit.
fn overcommit_allowed(resource: &str) -> bool {
    let native = match resource.split_once('/') {
        None => true,
        Some((domain, _)) => domain == "kubernetes.io" || domain.ends_with(".kubernetes.io"),
    };
    native && !resource.starts_with("hugepages-")
}

/// The API server's words for a quantity it cannot parse.
fn quantity_problem(error: &kip_rules::QuantityError) -> String {
    const FORMAT: &str = "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";
    match error {
        kip_rules::QuantityError::UnknownSuffix(suffix)
            if suffix.chars().all(|c| "eEinumkKMGTP+-0123456789".contains(c)) =>
        {
            "unable to parse quantity's suffix".into()
        }
        kip_rules::QuantityError::TooLarge => error.to_string(),
        _ => FORMAT.into(),
    }
}

fn validate_resources(resources: &Value, path: &str, causes: &mut Vec<Cause>) {
    let mut parsed = |kind: &str| -> Vec<(String, String, kip_rules::Quantity)> {
        let mut out = Vec::new();
        for (resource, value) in resources.get(kind).and_then(Value::as_object).into_iter().flatten() {
            let field = format!("{path}.{kind}[{resource}]");
            let text = match value {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                other => other.to_string(),
            };
            match kip_rules::Quantity::parse(&text) {
                Ok(q) if q.nanos() < 0 => {
                    causes.push(Cause::invalid(&field, &text, "must be greater than or equal to 0"));
                }
                Ok(q) => out.push((resource.clone(), text, q)),
                Err(e) => causes.push(Cause::invalid(&field, &text, quantity_problem(&e))),
            }
        }
        out
    };
    let limits = parsed("limits");
    let requests = parsed("requests");
    for (resource, text, request) in &requests {
        let Some((_, limit_text, limit)) = limits.iter().find(|(r, _, _)| r == resource) else { continue };
        let shown = canonical_quantity(text, *request);
        let limit_shown = canonical_quantity(limit_text, *limit);
        if request != limit && !overcommit_allowed(resource) {
            causes.push(Cause::invalid(
                format!("{path}.requests"),
                &shown,
                format!("must be equal to {resource} limit of {limit_shown}"),
            ));
        } else if request > limit {
            causes.push(Cause::invalid(
                format!("{path}.requests"),
                &shown,
                format!("must be less than or equal to {resource} limit of {limit_shown}"),
            ));
        }
    }
}
