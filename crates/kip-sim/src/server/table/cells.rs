//! The cells of the types whose columns need more than a field lookup: pods (status and
//! restarts from container states), nodes (readiness and roles) and events.

use serde_json::{Value, json};

use super::age::{age_of, human_duration};
use super::printers::{or_none, text};

pub(super) fn pod_cells(pod: &Value, name: Value, age: Value, now: jiff::Timestamp) -> Vec<Value> {
    let statuses = |p: &str| pod.pointer(p).and_then(Value::as_array).cloned().unwrap_or_default();
    let containers = statuses("/status/containerStatuses");
    let inits = statuses("/status/initContainerStatuses");
    let total = pod.pointer("/spec/containers").and_then(Value::as_array).map_or(0, Vec::len);
    let init_total = pod.pointer("/spec/initContainers").and_then(Value::as_array).map_or(0, Vec::len);
    let ready = containers.iter().filter(|c| c.get("ready") == Some(&json!(true))).count();
    let mut reason = match text(pod, "/status/reason") {
        "" => text(pod, "/status/phase").to_string(),
        r => r.to_string(),
    };
    let mut initializing = false;
    for (i, c) in inits.iter().enumerate() {
        let terminated = c.pointer("/state/terminated");
        if terminated.is_some_and(|t| t.get("exitCode").and_then(Value::as_i64) == Some(0)) {
            continue;
        }
        initializing = true;
        reason = match (terminated, c.pointer("/state/waiting/reason").and_then(Value::as_str)) {
            (Some(t), _) => format!("Init:{}", exit_reason(t)),
            (None, Some(w)) if w != "PodInitializing" => format!("Init:{w}"),
            _ => format!("Init:{i}/{init_total}"),
        };
        break;
    }
    if !initializing {
        let mut running = false;
        for c in containers.iter().rev() {
            if let Some(w) = c.pointer("/state/waiting/reason").and_then(Value::as_str) {
                reason = w.to_string();
            } else if let Some(t) = c.pointer("/state/terminated") {
                reason = exit_reason(t);
            } else if c.pointer("/state/running").is_some() && c.get("ready") == Some(&json!(true)) {
                running = true;
            }
        }
        if reason == "Completed" && running {
            reason = "Running".into();
        }
    }
    if pod.pointer("/metadata/deletionTimestamp").is_some_and(|v| !v.is_null()) {
        reason = if text(pod, "/status/reason") == "NodeLost" { "Unknown".into() } else { "Terminating".into() };
    }
    let restarts: i64 =
        containers.iter().chain(inits.iter()).filter_map(|c| c.get("restartCount").and_then(Value::as_i64)).sum();
    let last_restart = containers
        .iter()
        .filter_map(|c| c.pointer("/lastState/terminated/finishedAt").and_then(Value::as_str))
        .filter_map(|t| t.parse::<jiff::Timestamp>().ok())
        .max();
    let restarts = match last_restart {
        Some(t) if restarts > 0 => format!("{restarts} ({} ago)", human_duration(now.duration_since(t).as_secs())),
        _ => restarts.to_string(),
    };
    let gates = pod.pointer("/spec/readinessGates").and_then(Value::as_array).map_or(0, Vec::len);
    let gates = if gates == 0 {
        "<none>".to_string()
    } else {
        let true_conditions = pod
            .pointer("/status/conditions")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter(|c| c.get("status") == Some(&json!("True")))
            .count()
            .min(gates);
        format!("{true_conditions}/{gates}")
    };
    vec![
        name,
        json!(format!("{ready}/{total}")),
        json!(reason),
        json!(restarts),
        age,
        json!(or_none(text(pod, "/status/podIP"))),
        json!(or_none(text(pod, "/spec/nodeName"))),
        json!(or_none(text(pod, "/status/nominatedNodeName"))),
        json!(gates),
    ]
}

fn exit_reason(terminated: &Value) -> String {
    match terminated.get("reason").and_then(Value::as_str) {
        Some(r) if !r.is_empty() => r.to_string(),
        _ => match terminated.get("signal").and_then(Value::as_i64) {
            Some(s) if s != 0 => format!("Signal:{s}"),
            _ => format!("ExitCode:{}", terminated.get("exitCode").and_then(Value::as_i64).unwrap_or(0)),
        },
    }
}

pub(super) fn node_cells(node: &Value, name: Value, age: Value) -> Vec<Value> {
    let conditions = node.pointer("/status/conditions").and_then(Value::as_array).cloned().unwrap_or_default();
    let mut status = match conditions.iter().find(|c| c.get("type") == Some(&json!("Ready"))) {
        Some(c) if c.get("status") == Some(&json!("True")) => "Ready".to_string(),
        Some(c) if c.get("status") == Some(&json!("False")) => "NotReady".to_string(),
        _ => "Unknown".to_string(),
    };
    if node.pointer("/spec/unschedulable") == Some(&json!(true)) {
        status.push_str(",SchedulingDisabled");
    }
    let mut roles: Vec<String> = node
        .pointer("/metadata/labels")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| {
            if let Some(role) = k.strip_prefix("node-role.kubernetes.io/") {
                (!role.is_empty()).then(|| role.to_string())
            } else if k == "kubernetes.io/role" {
                v.as_str().filter(|r| !r.is_empty()).map(String::from)
            } else {
                None
            }
        })
        .collect();
    roles.sort();
    roles.dedup();
    let address = |kind: &str| {
        node.pointer("/status/addresses")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .find(|a| a.get("type") == Some(&json!(kind)))
            .and_then(|a| a.get("address").and_then(Value::as_str))
            .unwrap_or("<none>")
            .to_string()
    };
    let info = |field: &str| or_none(text(node, &format!("/status/nodeInfo/{field}")));
    vec![
        name,
        json!(status),
        json!(if roles.is_empty() { "<none>".to_string() } else { roles.join(",") }),
        age,
        json!(text(node, "/status/nodeInfo/kubeletVersion")),
        json!(address("InternalIP")),
        json!(address("ExternalIP")),
        json!(info("osImage")),
        json!(info("kernelVersion")),
        json!(info("containerRuntimeVersion")),
    ]
}

pub(super) fn event_cells(event: &Value, name: Value, now: jiff::Timestamp) -> Vec<Value> {
    let first = |pointers: &[&str]| pointers.iter().find_map(|p| event.pointer(p).filter(|v| !v.is_null())).cloned();
    let last_seen = first(&["/series/lastObservedTime", "/lastTimestamp", "/deprecatedLastTimestamp", "/eventTime"]);
    let first_seen = first(&["/firstTimestamp", "/deprecatedFirstTimestamp", "/eventTime"]);
    let target = first(&["/involvedObject", "/regarding"]).unwrap_or(Value::Null);
    let object = format!(
        "{}/{}",
        target.get("kind").and_then(Value::as_str).unwrap_or("").to_lowercase(),
        target.get("name").and_then(Value::as_str).unwrap_or("")
    );
    let source =
        first(&["/source/component", "/reportingController", "/reportingComponent", "/deprecatedSource/component"])
            .and_then(|v| v.as_str().map(String::from))
            .unwrap_or_default();
    let message = first(&["/message", "/note"]).and_then(|v| v.as_str().map(String::from)).unwrap_or_default();
    let count = first(&["/series/count", "/count", "/deprecatedCount"]).and_then(|v| v.as_i64()).unwrap_or(1);
    vec![
        json!(age_of(last_seen.as_ref(), now)),
        json!(text(event, "/type")),
        json!(text(event, "/reason")),
        json!(object),
        json!(target.get("fieldPath").and_then(Value::as_str).unwrap_or("")),
        json!(source),
        json!(message),
        json!(age_of(first_seen.as_ref(), now)),
        json!(count.to_string()),
        name,
    ]
}
