//! What the kubelet reads of a pod spec, parsed once when the pod arrives: its containers
//! (image, pull policy, command line, readiness delay), restart policy, grace period and QoS
//! class.

use std::time::Duration;

use serde_json::Value;

use crate::cluster::catalog::ImageRef;
use crate::controllers::quantity::parse_quantity;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PullPolicy {
    Always,
    IfNotPresent,
    Never,
}

impl PullPolicy {
    /// The policy as written, or the API server's default for the image: `Always` for
    /// `:latest` or no tag, `IfNotPresent` otherwise.
    fn of(container: &Value, image: &str) -> Self {
        match container.get("imagePullPolicy").and_then(Value::as_str) {
            Some("Always") => PullPolicy::Always,
            Some("Never") => PullPolicy::Never,
            Some("IfNotPresent") => PullPolicy::IfNotPresent,
            _ => {
                let reference = ImageRef::parse(image);
                if reference.digest.is_none() && reference.tag.as_deref() == Some("latest") {
                    PullPolicy::Always
                } else {
                    PullPolicy::IfNotPresent
                }
            }
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RestartPolicy {
    Always,
    OnFailure,
    Never,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ContainerSpec {
    pub name: String,
    pub image: String,
    pub pull_policy: PullPolicy,
    pub command: Vec<String>,
    pub args: Vec<String>,
    /// The readiness probe's initial delay; `None` without a probe (ready once running).
    pub readiness_delay: Option<Duration>,
}

impl ContainerSpec {
    fn parse(container: &Value) -> Self {
        let strings = |field: &str| -> Vec<String> {
            container
                .get(field)
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(|s| s.as_str().map(String::from)).collect())
                .unwrap_or_default()
        };
        let image = container.get("image").and_then(Value::as_str).unwrap_or("").to_string();
        ContainerSpec {
            name: container.get("name").and_then(Value::as_str).unwrap_or("").to_string(),
            pull_policy: PullPolicy::of(container, &image),
            image,
            command: strings("command"),
            args: strings("args"),
            readiness_delay: container.get("readinessProbe").map(|probe| {
                Duration::from_secs(probe.get("initialDelaySeconds").and_then(Value::as_u64).unwrap_or(0))
            }),
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct PodSpecModel {
    pub init: Vec<ContainerSpec>,
    pub containers: Vec<ContainerSpec>,
    pub restart_policy: RestartPolicy,
    pub grace_seconds: i64,
    pub host_network: bool,
    pub qos: &'static str,
}

impl PodSpecModel {
    pub fn parse(pod: &Value) -> Self {
        let spec = pod.get("spec").unwrap_or(&Value::Null);
        let list = |field: &str| -> Vec<ContainerSpec> {
            spec.get(field)
                .and_then(Value::as_array)
                .map(|a| a.iter().map(ContainerSpec::parse).collect())
                .unwrap_or_default()
        };
        PodSpecModel {
            init: list("initContainers"),
            containers: list("containers"),
            restart_policy: match spec.get("restartPolicy").and_then(Value::as_str) {
                Some("Never") => RestartPolicy::Never,
                Some("OnFailure") => RestartPolicy::OnFailure,
                _ => RestartPolicy::Always,
            },
            grace_seconds: spec.get("terminationGracePeriodSeconds").and_then(Value::as_i64).unwrap_or(30).max(0),
            host_network: spec.get("hostNetwork").and_then(Value::as_bool).unwrap_or(false),
            qos: qos_class(spec),
        }
    }
}

/// The pod's QoS class: Guaranteed when every container limits CPU and memory with requests
/// equal to limits, BestEffort when none requests or limits anything, Burstable otherwise.
pub fn qos_class(spec: &Value) -> &'static str {
    let containers: Vec<&Value> = ["initContainers", "containers"]
        .iter()
        .flat_map(|f| spec.get(*f).and_then(Value::as_array).into_iter().flatten())
        .collect();
    let amount = |c: &Value, kind: &str, resource: &str| {
        c.pointer(&format!("/resources/{kind}/{resource}")).and_then(Value::as_str).and_then(parse_quantity)
    };
    let mut any = false;
    let mut guaranteed = true;
    for c in &containers {
        for resource in ["cpu", "memory"] {
            let (request, limit) = (amount(c, "requests", resource), amount(c, "limits", resource));
            any |= request.is_some_and(|r| r > 0.0) || limit.is_some_and(|l| l > 0.0);
            let equal = match (request, limit) {
                (_, None) => false,
                (None, Some(_)) => true,
                (Some(r), Some(l)) => (r - l).abs() < 1e-9,
            };
            guaranteed &= equal;
        }
    }
    match (any, guaranteed) {
        (false, _) => "BestEffort",
        (true, true) => "Guaranteed",
        (true, false) => "Burstable",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn pull_policy_defaults_by_tag() {
        let cases = [
            (json!({"image": "nginx"}), PullPolicy::Always),
            (json!({"image": "nginx:latest"}), PullPolicy::Always),
            (json!({"image": "nginx:1.27"}), PullPolicy::IfNotPresent),
            (json!({"image": "nginx@sha256:abc"}), PullPolicy::IfNotPresent),
            (json!({"image": "nginx:1.27", "imagePullPolicy": "Always"}), PullPolicy::Always),
            (json!({"image": "nginx", "imagePullPolicy": "Never"}), PullPolicy::Never),
        ];
        for (container, expected) in cases {
            assert_eq!(ContainerSpec::parse(&container).pull_policy, expected, "{container}");
        }
    }

    #[test]
    fn qos_classes_follow_requests_and_limits() {
        let cases = [
            (json!({"containers": [{"name": "a"}]}), "BestEffort"),
            (json!({"containers": [{"resources": {"limits": {"cpu": "1", "memory": "1Gi"}}}]}), "Guaranteed"),
            (
                json!({"containers": [{"resources": {"requests": {"cpu": "1000m", "memory": "1Gi"}, "limits": {"cpu": "1", "memory": "1Gi"}}}]}),
                "Guaranteed",
            ),
            (
                json!({"containers": [{"resources": {"requests": {"cpu": ".05", "memory": "10Mi"}, "limits": {"cpu": ".2", "memory": "20Mi"}}}]}),
                "Burstable",
            ),
            (
                json!({"containers": [{"resources": {"limits": {"cpu": "1", "memory": "1Gi"}}}, {"name": "b"}]}),
                "Burstable",
            ),
        ];
        for (spec, expected) in cases {
            assert_eq!(qos_class(&spec), expected, "{spec}");
        }
    }

    #[test]
    fn pod_specs_parse_with_kubernetes_defaults() {
        let pod = json!({"spec": {
            "initContainers": [{"name": "copy", "image": "kip:next", "command": ["/bin/sh", "-c", "cp a b"]}],
            "containers": [{"name": "c", "image": "x:1", "args": ["720h"], "readinessProbe": {"initialDelaySeconds": 5}}],
            "terminationGracePeriodSeconds": 1
        }});
        let model = PodSpecModel::parse(&pod);
        assert_eq!(model.restart_policy, RestartPolicy::Always);
        assert_eq!(model.grace_seconds, 1);
        assert_eq!(model.init[0].command.len(), 3);
        assert_eq!(model.containers[0].readiness_delay, Some(Duration::from_secs(5)));
        assert_eq!(model.containers[0].args, vec!["720h".to_string()]);
    }
}
