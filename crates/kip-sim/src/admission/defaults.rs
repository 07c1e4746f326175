//! Defaults the API server fills into built-in types (its `SetDefaults_*` functions, and the
//! admission plugins that every cluster runs for pods), so that stored objects look as in a
//! cluster and re-applying the same desired object changes nothing.
//!
//! Pods additionally get what admission adds on create: `serviceAccountName: default`,
//! `priority` with `preemptionPolicy: PreemptLowerPriority`, and the `not-ready`/`unreachable`
//! tolerations of 300 seconds. The service account token volume is not added.

use serde_json::{Map, Value, json};

use crate::resources::ResourceType;

/// Sets `key` when it is absent or null.
fn or_insert(map: &mut Map<String, Value>, key: &str, value: Value) {
    if map.get(key).is_none_or(Value::is_null) {
        map.insert(key.into(), value);
    }
}

/// Sets a string field when it is absent, null or empty (Go does not tell those apart).
fn or_insert_str(map: &mut Map<String, Value>, key: &str, value: &str) {
    if map.get(key).is_none_or(|v| v.is_null() || v.as_str() == Some("")) {
        map.insert(key.into(), json!(value));
    }
}

fn object_at<'a>(value: &'a mut Value, pointer: &str) -> Option<&'a mut Map<String, Value>> {
    value.pointer_mut(pointer).and_then(Value::as_object_mut)
}

fn each_object<'a>(map: &'a mut Map<String, Value>, key: &str) -> impl Iterator<Item = &'a mut Map<String, Value>> {
    map.get_mut(key).and_then(Value::as_array_mut).into_iter().flatten().filter_map(Value::as_object_mut)
}

pub fn default_builtin(rt: &ResourceType, obj: &mut Value) {
    match (rt.group.as_str(), rt.kind.as_str()) {
        ("", "Pod") => {
            if let Some(spec) = object_at(obj, "/spec") {
                pod_spec(spec);
                pod_only(spec);
            }
        }
        ("apps", "DaemonSet" | "Deployment" | "ReplicaSet") => {
            if let Some(spec) = object_at(obj, "/spec/template/spec") {
                pod_spec(spec);
            }
            if let Some(spec) = object_at(obj, "/spec") {
                workload(&rt.kind, spec);
            }
        }
        ("", "Namespace") => namespace(obj),
        ("", "Secret") => {
            if let Some(secret) = obj.as_object_mut() {
                or_insert_str(secret, "type", "Opaque");
            }
        }
        ("", "Node") => {
            let capacity = obj.pointer("/status/capacity").cloned();
            if let (Some(status), Some(capacity)) = (object_at(obj, "/status"), capacity) {
                or_insert(status, "allocatable", capacity);
            }
        }
        ("rbac.authorization.k8s.io", "RoleBinding" | "ClusterRoleBinding") => role_binding(obj),
        ("apiextensions.k8s.io", "CustomResourceDefinition") => {
            if let Some(spec) = object_at(obj, "/spec") {
                or_insert(spec, "conversion", json!({"strategy": "None"}));
            }
        }
        _ => {}
    }
}

fn workload(kind: &str, spec: &mut Map<String, Value>) {
    match kind {
        "DaemonSet" => {
            let strategy = spec.entry("updateStrategy").or_insert_with(|| json!({}));
            if let Some(strategy) = strategy.as_object_mut() {
                or_insert_str(strategy, "type", "RollingUpdate");
                if strategy.get("type").and_then(Value::as_str) == Some("RollingUpdate") {
                    let rolling = strategy.entry("rollingUpdate").or_insert_with(|| json!({}));
                    if let Some(rolling) = rolling.as_object_mut() {
                        or_insert(rolling, "maxUnavailable", json!(1));
                        or_insert(rolling, "maxSurge", json!(0));
                    }
                }
            }
            or_insert(spec, "revisionHistoryLimit", json!(10));
        }
        "Deployment" => {
            or_insert(spec, "replicas", json!(1));
            let strategy = spec.entry("strategy").or_insert_with(|| json!({}));
            if let Some(strategy) = strategy.as_object_mut() {
                or_insert_str(strategy, "type", "RollingUpdate");
                if strategy.get("type").and_then(Value::as_str) == Some("RollingUpdate") {
                    let rolling = strategy.entry("rollingUpdate").or_insert_with(|| json!({}));
                    if let Some(rolling) = rolling.as_object_mut() {
                        or_insert(rolling, "maxUnavailable", json!("25%"));
                        or_insert(rolling, "maxSurge", json!("25%"));
                    }
                }
            }
            or_insert(spec, "revisionHistoryLimit", json!(10));
            or_insert(spec, "progressDeadlineSeconds", json!(600));
        }
        _ => or_insert(spec, "replicas", json!(1)),
    }
}

/// Defaults of every pod spec, in pods and in workload templates.
fn pod_spec(spec: &mut Map<String, Value>) {
    or_insert_str(spec, "dnsPolicy", "ClusterFirst");
    or_insert_str(spec, "restartPolicy", "Always");
    or_insert(spec, "securityContext", json!({}));
    or_insert(spec, "terminationGracePeriodSeconds", json!(30));
    or_insert_str(spec, "schedulerName", "default-scheduler");
    // The deprecated `serviceAccount` mirrors `serviceAccountName`, whichever was given.
    let name = ["serviceAccountName", "serviceAccount"]
        .iter()
        .find_map(|k| spec.get(*k).and_then(Value::as_str).filter(|s| !s.is_empty()).map(String::from));
    if let Some(name) = name {
        or_insert_str(spec, "serviceAccountName", &name);
        or_insert_str(spec, "serviceAccount", &name);
    }
    for list in ["containers", "initContainers", "ephemeralContainers"] {
        each_object(spec, list).for_each(container);
    }
    for volume in each_object(spec, "volumes") {
        volume_source(volume);
    }
}

/// What only pods get: their own defaults and those of the admission plugins.
fn pod_only(spec: &mut Map<String, Value>) {
    or_insert(spec, "enableServiceLinks", json!(true));
    // Requests default to the limits, for pods only (not templates).
    for list in ["containers", "initContainers"] {
        for c in each_object(spec, list) {
            let Some(limits) = c.get("resources").and_then(|r| r.get("limits")).and_then(Value::as_object).cloned()
            else {
                continue;
            };
            let resources = c.entry("resources").or_insert_with(|| json!({}));
            let requests = resources.as_object_mut().map(|r| r.entry("requests").or_insert_with(|| json!({})));
            if let Some(requests) = requests.and_then(Value::as_object_mut) {
                for (name, quantity) in limits {
                    requests.entry(name).or_insert(quantity);
                }
            }
        }
    }
    if spec.get("hostNetwork").and_then(Value::as_bool) == Some(true) {
        for list in ["containers", "initContainers"] {
            for c in each_object(spec, list) {
                for port in each_object(c, "ports") {
                    if port.get("hostPort").and_then(Value::as_i64).unwrap_or(0) == 0
                        && let Some(container_port) = port.get("containerPort").cloned()
                    {
                        port.insert("hostPort".into(), container_port);
                    }
                }
            }
        }
    }
    or_insert_str(spec, "serviceAccountName", "default");
    or_insert_str(spec, "serviceAccount", "default");
    let class = spec.get("priorityClassName").and_then(Value::as_str).unwrap_or("");
    let priority = match class {
        "" => Some(0),
        "system-cluster-critical" => Some(2_000_000_000),
        "system-node-critical" => Some(2_000_001_000),
        _ => None,
    };
    if let Some(priority) = priority {
        or_insert(spec, "priority", json!(priority));
        or_insert_str(spec, "preemptionPolicy", "PreemptLowerPriority");
    }
    default_toleration_seconds(spec);
}

/// The DefaultTolerationSeconds plugin: tolerate a not-ready or unreachable node for 300
/// seconds, unless the pod already tolerates that taint.
fn default_toleration_seconds(spec: &mut Map<String, Value>) {
    for key in ["node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"] {
        let tolerated = spec.get("tolerations").and_then(Value::as_array).is_some_and(|list| {
            list.iter().any(|t| {
                let effect = t.get("effect").and_then(Value::as_str).unwrap_or("");
                let t_key = t.get("key").and_then(Value::as_str).unwrap_or("");
                (effect.is_empty() || effect == "NoExecute") && (t_key == key || t_key.is_empty())
            })
        });
        if !tolerated {
            let list = spec.entry("tolerations").or_insert_with(|| json!([]));
            if let Some(list) = list.as_array_mut() {
                list.push(json!({"key": key, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}));
            }
        }
    }
}

fn container(c: &mut Map<String, Value>) {
    let image = c.get("image").and_then(Value::as_str).unwrap_or("");
    let policy = if image_tag(image).as_deref() == Some("latest") { "Always" } else { "IfNotPresent" };
    or_insert_str(c, "imagePullPolicy", policy);
    or_insert_str(c, "terminationMessagePath", "/dev/termination-log");
    or_insert_str(c, "terminationMessagePolicy", "File");
    for port in each_object(c, "ports") {
        or_insert_str(port, "protocol", "TCP");
    }
    for probe in ["livenessProbe", "readinessProbe", "startupProbe"] {
        if let Some(probe) = c.get_mut(probe).and_then(Value::as_object_mut) {
            or_insert(probe, "timeoutSeconds", json!(1));
            or_insert(probe, "periodSeconds", json!(10));
            or_insert(probe, "successThreshold", json!(1));
            or_insert(probe, "failureThreshold", json!(3));
            http_get(probe);
        }
    }
    if let Some(lifecycle) = c.get_mut("lifecycle").and_then(Value::as_object_mut) {
        for hook in lifecycle.values_mut().filter_map(Value::as_object_mut) {
            http_get(hook);
        }
    }
    for env in each_object(c, "env") {
        if let Some(field_ref) =
            env.get_mut("valueFrom").and_then(|v| v.get_mut("fieldRef")).and_then(Value::as_object_mut)
        {
            or_insert_str(field_ref, "apiVersion", "v1");
        }
    }
}

fn http_get(handler: &mut Map<String, Value>) {
    if let Some(get) = handler.get_mut("httpGet").and_then(Value::as_object_mut) {
        or_insert_str(get, "path", "/");
        or_insert_str(get, "scheme", "HTTP");
    }
}

/// The tag of an image reference: `latest` when there is neither tag nor digest.
pub fn image_tag(image: &str) -> Option<String> {
    let (name, digest) = match image.split_once('@') {
        Some((name, digest)) => (name, Some(digest)),
        None => (image, None),
    };
    let last = name.rsplit('/').next().unwrap_or(name);
    match last.split_once(':') {
        Some((_, tag)) => Some(tag.to_string()),
        None if digest.is_none() => Some("latest".into()),
        None => None,
    }
}

const VOLUME_SOURCES_WITH_MODE: [&str; 4] = ["configMap", "secret", "projected", "downwardAPI"];

fn volume_source(volume: &mut Map<String, Value>) {
    if volume.keys().all(|k| k == "name") {
        volume.insert("emptyDir".into(), json!({}));
    }
    for source in VOLUME_SOURCES_WITH_MODE {
        if let Some(source) = volume.get_mut(source).and_then(Value::as_object_mut) {
            // 0644
            or_insert(source, "defaultMode", json!(420));
        }
    }
    if let Some(host_path) = volume.get_mut("hostPath").and_then(Value::as_object_mut) {
        or_insert(host_path, "type", json!(""));
    }
}

fn namespace(obj: &mut Value) {
    let name = obj.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("").to_string();
    let Some(ns) = obj.as_object_mut() else { return };
    if !name.is_empty()
        && let Some(meta) = ns.get_mut("metadata").and_then(Value::as_object_mut)
    {
        let labels = meta.entry("labels").or_insert_with(|| json!({}));
        if let Some(labels) = labels.as_object_mut() {
            labels.insert("kubernetes.io/metadata.name".into(), json!(name));
        }
    }
    let spec = ns.entry("spec").or_insert_with(|| json!({}));
    if let Some(spec) = spec.as_object_mut() {
        or_insert(spec, "finalizers", json!(["kubernetes"]));
    }
    let status = ns.entry("status").or_insert_with(|| json!({}));
    if let Some(status) = status.as_object_mut() {
        or_insert_str(status, "phase", "Active");
    }
}

fn role_binding(obj: &mut Value) {
    if let Some(role_ref) = object_at(obj, "/roleRef") {
        or_insert_str(role_ref, "apiGroup", "rbac.authorization.k8s.io");
    }
    let Some(binding) = obj.as_object_mut() else { return };
    for subject in each_object(binding, "subjects") {
        if matches!(subject.get("kind").and_then(Value::as_str), Some("User" | "Group")) {
            or_insert_str(subject, "apiGroup", "rbac.authorization.k8s.io");
        }
    }
}
