//! What the kubelet reads of a pod spec, parsed once when the pod arrives: its containers
//! (image, pull policy, command line, readiness delay, the volumes they mount), its image
//! volumes, restart policy, grace period and QoS class.

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
    /// `:latest` or no tag, `IfNotPresent` otherwise (containers and image volumes alike).
    fn of(written: Option<&str>, image: &str) -> Self {
        match written {
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
    /// The names of the volumes it mounts.
    pub mounts: Vec<String>,
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
            pull_policy: PullPolicy::of(container.get("imagePullPolicy").and_then(Value::as_str), &image),
            image,
            command: strings("command"),
            args: strings("args"),
            readiness_delay: container.get("readinessProbe").map(|probe| {
                Duration::from_secs(probe.get("initialDelaySeconds").and_then(Value::as_u64).unwrap_or(0))
            }),
            mounts: container
                .get("volumeMounts")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(|m| m.get("name").and_then(Value::as_str).map(String::from)).collect())
                .unwrap_or_default(),
        }
    }
}

/// A volume whose content is an image (`volumes[].image`): the kubelet pulls it like a
/// container image, once per pod, and the runtime mounts it read-only into the containers that
/// mount the volume.
#[derive(Clone, Debug, PartialEq)]
pub struct ImageVolumeSpec {
    pub name: String,
    pub reference: String,
    pub pull_policy: PullPolicy,
}

impl ImageVolumeSpec {
    fn parse(volume: &Value) -> Option<Self> {
        let source = volume.get("image")?;
        let reference = source.get("reference").and_then(Value::as_str).unwrap_or("").to_string();
        Some(ImageVolumeSpec {
            name: volume.get("name").and_then(Value::as_str).unwrap_or("").to_string(),
            pull_policy: PullPolicy::of(source.get("pullPolicy").and_then(Value::as_str), &reference),
            reference,
        })
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct PodSpecModel {
    pub init: Vec<ContainerSpec>,
    pub containers: Vec<ContainerSpec>,
    pub image_volumes: Vec<ImageVolumeSpec>,
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
            image_volumes: spec
                .get("volumes")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(ImageVolumeSpec::parse).collect())
                .unwrap_or_default(),
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
        assert!(model.image_volumes.is_empty());
    }

    #[test]
    fn image_volumes_and_mounts_parse_with_the_pull_policy_default() {
        let pod = json!({"spec": {
            "containers": [{"name": "keeper", "image": "kip:1", "volumeMounts": [
                {"name": "a", "mountPath": "/cache/a", "readOnly": true}, {"name": "scratch", "mountPath": "/tmp"}]}],
            "volumes": [
                {"name": "a", "image": {"reference": "registry.example.com/a:1", "pullPolicy": "Always"}},
                {"name": "b", "image": {"reference": "registry.example.com/b"}},
                {"name": "c", "image": {"reference": "registry.example.com/c:2"}},
                {"name": "scratch", "emptyDir": {}}
            ]
        }});
        let model = PodSpecModel::parse(&pod);
        assert_eq!(model.containers[0].mounts, ["a", "scratch"]);
        let volumes: Vec<(&str, &str, PullPolicy)> =
            model.image_volumes.iter().map(|v| (v.name.as_str(), v.reference.as_str(), v.pull_policy)).collect();
        assert_eq!(
            volumes,
            [
                ("a", "registry.example.com/a:1", PullPolicy::Always),
                ("b", "registry.example.com/b", PullPolicy::Always),
                ("c", "registry.example.com/c:2", PullPolicy::IfNotPresent),
            ]
        );
    }
}
