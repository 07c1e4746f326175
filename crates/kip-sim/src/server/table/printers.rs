//! The columns the API server prints for the built-in types kip's users look at, and the cells
//! of one object. Priority-1 columns are the ones `kubectl -o wide` adds.

use serde_json::{Value, json};

use super::age::age_of;
use super::cells::{event_cells, node_cells, pod_cells};

/// One column: name, type (`string`, `integer`, `date`...), priority.
pub struct Column {
    pub name: &'static str,
    pub kind: &'static str,
    pub priority: u8,
}

const fn col(name: &'static str, kind: &'static str, priority: u8) -> Column {
    Column { name, kind, priority }
}

/// The built-in printers. `None` for types printed with the default columns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Printer {
    Pod,
    DaemonSet,
    Deployment,
    ReplicaSet,
    Node,
    ConfigMap,
    Secret,
    Namespace,
    ServiceAccount,
    Event,
    Lease,
    ControllerRevision,
    RoleBinding,
    /// Name and creation time, for types without a printer of their own.
    Default,
}

impl Printer {
    pub fn for_type(group: &str, plural: &str) -> Printer {
        match (group, plural) {
            ("", "pods") => Printer::Pod,
            ("apps", "daemonsets") => Printer::DaemonSet,
            ("apps", "deployments") => Printer::Deployment,
            ("apps", "replicasets") => Printer::ReplicaSet,
            ("apps", "controllerrevisions") => Printer::ControllerRevision,
            ("", "nodes") => Printer::Node,
            ("", "configmaps") => Printer::ConfigMap,
            ("", "secrets") => Printer::Secret,
            ("", "namespaces") => Printer::Namespace,
            ("", "serviceaccounts") => Printer::ServiceAccount,
            ("", "events") | ("events.k8s.io", "events") => Printer::Event,
            ("coordination.k8s.io", "leases") => Printer::Lease,
            ("rbac.authorization.k8s.io", "rolebindings" | "clusterrolebindings") => Printer::RoleBinding,
            _ => Printer::Default,
        }
    }

    pub fn columns(self) -> Vec<Column> {
        let name = col("Name", "string", 0);
        let age = col("Age", "string", 0);
        let workload_wide =
            || [col("Containers", "string", 1), col("Images", "string", 1), col("Selector", "string", 1)];
        match self {
            Printer::Pod => vec![
                name,
                col("Ready", "string", 0),
                col("Status", "string", 0),
                col("Restarts", "string", 0),
                age,
                col("IP", "string", 1),
                col("Node", "string", 1),
                col("Nominated Node", "string", 1),
                col("Readiness Gates", "string", 1),
            ],
            Printer::DaemonSet => {
                let mut c = vec![
                    name,
                    col("Desired", "integer", 0),
                    col("Current", "integer", 0),
                    col("Ready", "integer", 0),
                    col("Up-to-date", "integer", 0),
                    col("Available", "integer", 0),
                    col("Node Selector", "string", 0),
                    age,
                ];
                c.extend(workload_wide());
                c
            }
            Printer::Deployment => {
                let mut c = vec![
                    name,
                    col("Ready", "string", 0),
                    col("Up-to-date", "integer", 0),
                    col("Available", "integer", 0),
                    age,
                ];
                c.extend(workload_wide());
                c
            }
            Printer::ReplicaSet => {
                let mut c = vec![
                    name,
                    col("Desired", "integer", 0),
                    col("Current", "integer", 0),
                    col("Ready", "integer", 0),
                    age,
                ];
                c.extend(workload_wide());
                c
            }
            Printer::Node => vec![
                name,
                col("Status", "string", 0),
                col("Roles", "string", 0),
                age,
                col("Version", "string", 0),
                col("Internal-IP", "string", 1),
                col("External-IP", "string", 1),
                col("OS-Image", "string", 1),
                col("Kernel-Version", "string", 1),
                col("Container-Runtime", "string", 1),
            ],
            Printer::ConfigMap => vec![name, col("Data", "integer", 0), age],
            Printer::Secret => vec![name, col("Type", "string", 0), col("Data", "integer", 0), age],
            Printer::Namespace => vec![name, col("Status", "string", 0), age],
            Printer::ServiceAccount => vec![name, col("Secrets", "integer", 0), age],
            Printer::Event => vec![
                col("Last Seen", "string", 0),
                col("Type", "string", 0),
                col("Reason", "string", 0),
                col("Object", "string", 0),
                col("Subobject", "string", 1),
                col("Source", "string", 1),
                col("Message", "string", 0),
                col("First Seen", "string", 1),
                col("Count", "string", 1),
                col("Name", "string", 1),
            ],
            Printer::Lease => vec![name, col("Holder", "string", 0), age],
            Printer::ControllerRevision => {
                vec![name, col("Controller", "string", 0), col("Revision", "integer", 0), age]
            }
            Printer::RoleBinding => vec![
                name,
                col("Role", "string", 0),
                age,
                col("Users", "string", 1),
                col("Groups", "string", 1),
                col("ServiceAccounts", "string", 1),
            ],
            Printer::Default => vec![name, col("Created At", "date", 0)],
        }
    }

    pub fn cells(self, obj: &Value, now: jiff::Timestamp) -> Vec<Value> {
        let name = json!(text(obj, "/metadata/name"));
        let age = json!(age_of(obj.pointer("/metadata/creationTimestamp"), now));
        let int = |p: &str| json!(obj.pointer(p).and_then(Value::as_i64).unwrap_or(0));
        let template = obj.pointer("/spec/template/spec");
        let workload_wide = || {
            vec![
                json!(join_field(template, "/containers", "name")),
                json!(join_field(template, "/containers", "image")),
                json!(selector_string(obj.pointer("/spec/selector"))),
            ]
        };
        match self {
            Printer::Pod => pod_cells(obj, name, age, now),
            Printer::DaemonSet => {
                let node_selector = obj.pointer("/spec/template/spec/nodeSelector");
                let mut c = vec![
                    name,
                    int("/status/desiredNumberScheduled"),
                    int("/status/currentNumberScheduled"),
                    int("/status/numberReady"),
                    int("/status/updatedNumberScheduled"),
                    int("/status/numberAvailable"),
                    json!(map_string(node_selector)),
                    age,
                ];
                c.extend(workload_wide());
                c
            }
            Printer::Deployment => {
                let desired = obj.pointer("/spec/replicas").and_then(Value::as_i64).unwrap_or(0);
                let ready = obj.pointer("/status/readyReplicas").and_then(Value::as_i64).unwrap_or(0);
                let mut c = vec![
                    name,
                    json!(format!("{ready}/{desired}")),
                    int("/status/updatedReplicas"),
                    int("/status/availableReplicas"),
                    age,
                ];
                c.extend(workload_wide());
                c
            }
            Printer::ReplicaSet => {
                let mut c =
                    vec![name, int("/spec/replicas"), int("/status/replicas"), int("/status/readyReplicas"), age];
                c.extend(workload_wide());
                c
            }
            Printer::Node => node_cells(obj, name, age),
            Printer::ConfigMap => vec![name, json!(entries(obj, "/data") + entries(obj, "/binaryData")), age],
            Printer::Secret => vec![name, json!(text(obj, "/type")), json!(entries(obj, "/data")), age],
            Printer::Namespace => vec![name, json!(text(obj, "/status/phase")), age],
            Printer::ServiceAccount => {
                let secrets = obj.pointer("/secrets").and_then(Value::as_array).map_or(0, Vec::len);
                vec![name, json!(secrets), age]
            }
            Printer::Event => event_cells(obj, name, now),
            Printer::Lease => vec![name, json!(or_none(text(obj, "/spec/holderIdentity"))), age],
            Printer::ControllerRevision => {
                let owner = obj
                    .pointer("/metadata/ownerReferences")
                    .and_then(Value::as_array)
                    .and_then(|refs| refs.iter().find(|r| r.get("controller") == Some(&json!(true))))
                    .map(|r| {
                        let kind = r.get("kind").and_then(Value::as_str).unwrap_or("").to_lowercase();
                        let group = r.get("apiVersion").and_then(Value::as_str).unwrap_or("");
                        let group = group.rsplit_once('/').map_or("", |(g, _)| g);
                        let kind = if group.is_empty() { kind } else { format!("{kind}.{group}") };
                        format!("{kind}/{}", r.get("name").and_then(Value::as_str).unwrap_or(""))
                    })
                    .unwrap_or_else(|| "<none>".into());
                vec![name, json!(owner), int("/revision"), age]
            }
            Printer::RoleBinding => {
                let role = format!("{}/{}", text(obj, "/roleRef/kind"), text(obj, "/roleRef/name"));
                let subjects = |kind: &str| {
                    let names: Vec<String> = obj
                        .pointer("/subjects")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                        .filter(|s| s.get("kind").and_then(Value::as_str) == Some(kind))
                        .map(|s| {
                            let n = s.get("name").and_then(Value::as_str).unwrap_or("");
                            match s.get("namespace").and_then(Value::as_str) {
                                Some(ns) if kind == "ServiceAccount" => format!("{ns}/{n}"),
                                _ => n.to_string(),
                            }
                        })
                        .collect();
                    json!(names.join(", "))
                };
                vec![name, json!(role), age, subjects("User"), subjects("Group"), subjects("ServiceAccount")]
            }
            Printer::Default => vec![name, obj.pointer("/metadata/creationTimestamp").cloned().unwrap_or(Value::Null)],
        }
    }
}

pub(super) fn text<'a>(obj: &'a Value, pointer: &str) -> &'a str {
    obj.pointer(pointer).and_then(Value::as_str).unwrap_or("")
}

pub(super) fn or_none(s: &str) -> String {
    if s.is_empty() { "<none>".into() } else { s.to_string() }
}

fn entries(obj: &Value, pointer: &str) -> usize {
    obj.pointer(pointer).and_then(Value::as_object).map_or(0, |m| m.len())
}

fn join_field(spec: Option<&Value>, list: &str, field: &str) -> String {
    let values: Vec<&str> = spec
        .and_then(|s| s.pointer(list))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|c| c.get(field).and_then(Value::as_str))
        .collect();
    values.join(",")
}

/// `k=v,k2=v2` sorted by key, or `<none>`.
fn map_string(map: Option<&Value>) -> String {
    let mut pairs: Vec<String> = map
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
        .collect();
    pairs.sort();
    if pairs.is_empty() { "<none>".into() } else { pairs.join(",") }
}

/// A LabelSelector object written in selector syntax.
fn selector_string(selector: Option<&Value>) -> String {
    let Some(selector) = selector else { return "<none>".into() };
    let mut parts: Vec<String> = Vec::new();
    if let Some(labels) = selector.get("matchLabels").and_then(Value::as_object) {
        let mut pairs: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or(""))).collect();
        pairs.sort();
        parts.extend(pairs);
    }
    for expr in selector.get("matchExpressions").and_then(Value::as_array).into_iter().flatten() {
        let key = expr.get("key").and_then(Value::as_str).unwrap_or("");
        let values: Vec<&str> =
            expr.get("values").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).collect();
        parts.push(match expr.get("operator").and_then(Value::as_str).unwrap_or("") {
            "In" => format!("{key} in ({})", values.join(",")),
            "NotIn" => format!("{key} notin ({})", values.join(",")),
            "DoesNotExist" => format!("!{key}"),
            _ => key.to_string(),
        });
    }
    if parts.is_empty() { "<none>".into() } else { parts.join(",") }
}
