//! The puller Deployment: one replica of `kip run` (`Recreate`, so two pullers never overlap),
//! configured from the ConfigMap through `envFrom` as the Go operator's was, under the
//! restricted Pod Security profile, with a pod-template annotation holding a digest of the
//! ConfigMap data so that a change of configuration rolls it.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec, DeploymentStrategy};
use k8s_openapi::api::core::v1::{
    Capabilities, ConfigMapEnvSource, Container, ContainerPort, EnvFromSource, EnvVar, EnvVarSource, HTTPGetAction,
    ObjectFieldSelector, PodSecurityContext, PodSpec, PodTemplateSpec, Probe, ResourceRequirements, SeccompProfile,
    SecurityContext,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::{APP_LABEL, MANAGED_BY_LABEL, child_meta, data_hash};
use crate::config::vars::{DEPLOYMENT_NAME, KIP_IMAGE};
use crate::operator::defaults::{self, CONTAINER_NAME, SERVICE_ACCOUNT_NAME};
use crate::operator::resource::KubernetesImagePuller;

/// Pod-template annotation with the digest of the ConfigMap data.
pub const CONFIG_HASH_ANNOTATION: &str = "kip.dev/config-hash";
const HTTP_PORT: i32 = 8080;

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn env(name: &str, value: &str) -> EnvVar {
    EnvVar { name: name.to_string(), value: Some(value.to_string()), ..EnvVar::default() }
}

fn probe(path: &str, period_seconds: i32) -> Probe {
    Probe {
        http_get: Some(HTTPGetAction {
            path: Some(path.to_string()),
            port: IntOrString::String("http".to_string()),
            ..HTTPGetAction::default()
        }),
        period_seconds: Some(period_seconds),
        timeout_seconds: Some(2),
        failure_threshold: Some(3),
        ..Probe::default()
    }
}

fn quantities(cpu: &str, memory: &str) -> BTreeMap<String, Quantity> {
    BTreeMap::from([
        ("cpu".to_string(), Quantity(cpu.to_string())),
        ("memory".to_string(), Quantity(memory.to_string())),
    ])
}

/// The Deployment running `kip run` for `kip`, configured by the ConfigMap holding `data`.
pub fn desired_deployment(kip: &KubernetesImagePuller, data: &BTreeMap<String, String>) -> Deployment {
    let name = defaults::deployment_name(&kip.spec);
    let config_map = defaults::config_map_name(&kip.spec);
    let image = data.get(KIP_IMAGE).cloned().unwrap_or_default();
    let container = Container {
        name: CONTAINER_NAME.to_string(),
        image: Some(image),
        args: Some(vec!["run".to_string()]),
        env: Some(vec![
            env(DEPLOYMENT_NAME, name),
            // Watched live, so most changes apply even before the roll the annotation causes.
            env("KIP_CONFIG_MAP", config_map),
            EnvVar {
                name: "POD_NAME".to_string(),
                value_from: Some(EnvVarSource {
                    field_ref: Some(ObjectFieldSelector {
                        field_path: "metadata.name".to_string(),
                        ..ObjectFieldSelector::default()
                    }),
                    ..EnvVarSource::default()
                }),
                ..EnvVar::default()
            },
            // The DaemonSet is owned by this Deployment, so garbage collection removes it with
            // the resource; deleting it on every roll would only empty the nodes' caches.
            env("KIP_KEEP_DAEMONSET_ON_EXIT", "true"),
        ]),
        env_from: Some(vec![EnvFromSource {
            config_map_ref: Some(ConfigMapEnvSource { name: config_map.to_string(), ..ConfigMapEnvSource::default() }),
            ..EnvFromSource::default()
        }]),
        ports: Some(vec![ContainerPort {
            name: Some("http".to_string()),
            container_port: HTTP_PORT,
            protocol: Some("TCP".to_string()),
            ..ContainerPort::default()
        }]),
        liveness_probe: Some(probe("/healthz", 10)),
        readiness_probe: Some(probe("/readyz", 5)),
        resources: Some(ResourceRequirements {
            requests: Some(quantities("50m", "64Mi")),
            limits: Some(quantities("200m", "256Mi")),
            ..ResourceRequirements::default()
        }),
        security_context: Some(SecurityContext {
            allow_privilege_escalation: Some(false),
            read_only_root_filesystem: Some(true),
            run_as_non_root: Some(true),
            capabilities: Some(Capabilities { drop: Some(vec!["ALL".to_string()]), add: None }),
            ..SecurityContext::default()
        }),
        ..Container::default()
    };
    Deployment {
        metadata: child_meta(kip, name, &[APP_LABEL, MANAGED_BY_LABEL]),
        spec: Some(DeploymentSpec {
            replicas: Some(1),
            revision_history_limit: Some(2),
            selector: LabelSelector { match_labels: Some(labels(&[APP_LABEL])), ..LabelSelector::default() },
            strategy: Some(DeploymentStrategy { type_: Some("Recreate".to_string()), rolling_update: None }),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(labels(&[APP_LABEL])),
                    annotations: Some(labels(&[(CONFIG_HASH_ANNOTATION, &data_hash(data))])),
                    ..ObjectMeta::default()
                }),
                spec: Some(PodSpec {
                    service_account_name: Some(SERVICE_ACCOUNT_NAME.to_string()),
                    // The restricted Pod Security profile; the image runs as user 65532.
                    security_context: Some(PodSecurityContext {
                        run_as_non_root: Some(true),
                        seccomp_profile: Some(SeccompProfile {
                            type_: "RuntimeDefault".to_string(),
                            localhost_profile: None,
                        }),
                        ..PodSecurityContext::default()
                    }),
                    containers: vec![container],
                    ..PodSpec::default()
                }),
            },
            ..DeploymentSpec::default()
        }),
        status: None,
    }
}
