//! The caching DaemonSet: one pod per selected node, one sleeping container per cached image
//! (so the kubelet pulls the image and keeps it while in use), and an init container that
//! copies kip's static `sleep` into a shared volume so that images need no shell or `sleep`.
//! Other caching modes rearrange those containers ([`super::modes`]).

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{DaemonSet, DaemonSetSpec, DaemonSetUpdateStrategy, RollingUpdateDaemonSet};
use k8s_openapi::api::core::v1::{
    Capabilities, Container, EmptyDirVolumeSource, LocalObjectReference, PodSecurityContext, PodSpec, PodTemplateSpec,
    ResourceRequirements, SeccompProfile, SecurityContext, Toleration, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta, OwnerReference};

use super::{
    DIGESTS_ANNOTATION, INIT_CONTAINER_NAME, MANAGED_BY_LABEL, REFRESH_ANNOTATION, RenderContext, SELECTOR_LABELS,
};
use crate::config::Config;

const VOLUME: &str = "kip";
const MOUNT_PATH: &str = "/kip";
/// kip's image is `FROM scratch` with both binaries static.
const SLEEP_SOURCE: &str = "/usr/local/bin/kip-sleep";
pub(super) const SLEEP_PATH: &str = "/kip/sleep";
/// Far longer than any refresh interval: the container must outlive its pod's purpose, and a
/// refresh replaces the pod anyway.
pub(super) const SLEEP_FOR: &str = "720h";
const VOLUME_SIZE: &str = "50Mi";
/// The non-root id of distroless and scratch images, used where the platform assigns none.
const NON_ROOT_ID: i64 = 65532;

fn labels(extra: &[(&str, &str)]) -> BTreeMap<String, String> {
    SELECTOR_LABELS.iter().chain(extra).map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn non_empty<T>(items: Vec<T>) -> Option<Vec<T>> {
    (!items.is_empty()).then_some(items)
}

fn non_empty_map(map: &BTreeMap<String, String>) -> Option<BTreeMap<String, String>> {
    (!map.is_empty()).then(|| map.clone())
}

/// The DaemonSet kip wants in the cluster for `config`.
pub fn desired_daemonset(config: &Config, ctx: &RenderContext) -> DaemonSet {
    let owner = ctx.owner_uid.as_ref().map(|uid| OwnerReference {
        api_version: "apps/v1".to_string(),
        kind: "Deployment".to_string(),
        name: config.deployment_name.clone(),
        uid: uid.clone(),
        // Without `controller`/`blockOwnerDeletion`: setting those needs permission on the
        // Deployment's finalizers, and garbage collection works without them.
        ..OwnerReference::default()
    });
    let template_annotations =
        ctx.refresh_token.as_ref().map(|token| BTreeMap::from([(REFRESH_ANNOTATION.to_string(), token.clone())]));
    let mut annotations = config.daemonset_annotations.clone();
    if !ctx.digests.is_empty() {
        // A map of strings always serializes.
        let digests = serde_json::to_string(&ctx.digests).unwrap_or_default();
        annotations.insert(DIGESTS_ANNOTATION.to_string(), digests);
    }
    DaemonSet {
        metadata: ObjectMeta {
            name: Some(config.daemonset_name.clone()),
            namespace: Some(config.namespace.clone()),
            labels: Some(labels(&[MANAGED_BY_LABEL])),
            annotations: non_empty_map(&annotations),
            owner_references: owner.map(|owner| vec![owner]),
            ..ObjectMeta::default()
        },
        spec: Some(DaemonSetSpec {
            selector: LabelSelector { match_labels: Some(labels(&[])), ..LabelSelector::default() },
            update_strategy: Some(DaemonSetUpdateStrategy {
                type_: Some("RollingUpdate".to_string()),
                rolling_update: Some(RollingUpdateDaemonSet {
                    max_unavailable: Some(config.max_unavailable.clone()),
                    ..RollingUpdateDaemonSet::default()
                }),
            }),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(labels(&[])),
                    annotations: template_annotations,
                    ..ObjectMeta::default()
                }),
                spec: Some(pod_spec(config, ctx)),
            },
            ..DaemonSetSpec::default()
        }),
        status: None,
    }
}

/// How the init container puts a static sleep into the shared volume. kip's image copies
/// itself with `kip-sleep --copy-to`; the Go puller's images (still named by `KIP_IMAGE` in
/// configurations carried over from it) have a shell and a static `/bin/sleep` instead, and
/// get the Go puller's command.
pub fn copy_sleep_command(kip_image: &str) -> Vec<String> {
    if is_go_puller_layout(kip_image) {
        vec!["/bin/sh".into(), "-c".into(), format!("cp /bin/sleep {SLEEP_PATH}")]
    } else {
        vec![SLEEP_SOURCE.to_string(), "--copy-to".to_string(), SLEEP_PATH.to_string()]
    }
}

/// The static sleep inside `kip_image` itself, for a container that runs it in place.
pub fn sleep_in_image(kip_image: &str) -> &'static str {
    if is_go_puller_layout(kip_image) { "/bin/sleep" } else { SLEEP_SOURCE }
}

/// The Go puller's images keep a static `sleep` at `/bin/sleep` beside a shell.
fn is_go_puller_layout(kip_image: &str) -> bool {
    let repository = kip_image.split(['@']).next().unwrap_or(kip_image);
    let last = repository.rsplit('/').next().unwrap_or(repository);
    let last = last.split(':').next().unwrap_or(last);
    last == "kubernetes-image-puller" || last.starts_with("imagepuller")
}

fn pod_spec(config: &Config, ctx: &RenderContext) -> PodSpec {
    let resources = resources(config);
    let init = Container {
        name: INIT_CONTAINER_NAME.to_string(),
        image: Some(config.kip_image.clone()),
        command: Some(copy_sleep_command(&config.kip_image)),
        ..container_base(&resources)
    };
    let containers = config
        .images
        .iter()
        .map(|cached| {
            let digest = ctx.digests.get(&cached.name).filter(|_| config.pin_digests);
            let base = container_base(&resources);
            Container {
                name: cached.name.clone(),
                image: Some(match digest {
                    Some(digest) => pinned_image(&cached.image, digest),
                    None => cached.image.clone(),
                }),
                command: Some(vec![SLEEP_PATH.to_string()]),
                args: Some(vec![SLEEP_FOR.to_string()]),
                // Content named by digest never changes: the node's copy is the one wanted.
                image_pull_policy: if digest.is_some() {
                    Some("IfNotPresent".to_string())
                } else {
                    base.image_pull_policy
                },
                ..base
            }
        })
        .collect();
    let pod = super::modes::arrange(config, sleep_volume(), init, containers);
    let fixed_id = (!ctx.openshift).then_some(NON_ROOT_ID);
    PodSpec {
        termination_grace_period_seconds: Some(1),
        node_selector: non_empty_map(&config.node_selector),
        affinity: config.affinity.clone(),
        tolerations: non_empty(tolerations(config)),
        image_pull_secrets: non_empty(
            config.image_pull_secrets.iter().map(|name| LocalObjectReference { name: name.clone() }).collect(),
        ),
        security_context: Some(PodSecurityContext {
            seccomp_profile: Some(SeccompProfile { type_: "RuntimeDefault".to_string(), localhost_profile: None }),
            run_as_user: fixed_id,
            run_as_group: fixed_id,
            fs_group: fixed_id,
            ..PodSecurityContext::default()
        }),
        volumes: non_empty(pod.volumes),
        init_containers: non_empty(pod.init_containers),
        containers: pod.containers,
        ..PodSpec::default()
    }
}

/// `image` named by `digest`: `quay.io/x/app:next@sha256:...` (the tag stays, for people; the
/// runtime pulls by digest). A reference that already pins a digest is kept as written.
pub fn pinned_image(image: &str, digest: &str) -> String {
    if image.contains('@') { image.to_string() } else { format!("{image}@{digest}") }
}

/// The configured tolerations, plus one for the startup taint: kip's pods must run on the
/// nodes that taint keeps other workloads off, or those nodes would never become warm.
fn tolerations(config: &Config) -> Vec<Toleration> {
    let mut tolerations = config.tolerations.clone();
    if let Some(key) = &config.startup_taint {
        let covered = tolerations.iter().any(|t| {
            t.operator.as_deref() == Some("Exists")
                && t.effect.as_deref().unwrap_or_default().is_empty()
                && t.key.as_deref().is_none_or(|k| k.is_empty() || k == key)
        });
        if !covered {
            tolerations.push(Toleration {
                key: Some(key.clone()),
                operator: Some("Exists".to_string()),
                ..Toleration::default()
            });
        }
    }
    tolerations
}

fn resources(config: &Config) -> ResourceRequirements {
    requirements(
        (&config.caching_cpu_request, &config.caching_memory_request),
        (&config.caching_cpu_limit, &config.caching_memory_limit),
    )
}

/// Requests and limits, each as (CPU, memory).
pub(super) fn requirements(requests: (&Quantity, &Quantity), limits: (&Quantity, &Quantity)) -> ResourceRequirements {
    let pair = |(cpu, memory): (&Quantity, &Quantity)| {
        BTreeMap::from([("cpu".to_string(), cpu.clone()), ("memory".to_string(), memory.clone())])
    };
    ResourceRequirements {
        requests: Some(pair(requests)),
        limits: Some(pair(limits)),
        ..ResourceRequirements::default()
    }
}

/// What every container shares: the volume, the pull policy (`Always`, so a refresh re-pulls
/// mutable tags), the resources and the restricted security context.
pub(super) fn container_base(resources: &ResourceRequirements) -> Container {
    Container {
        image_pull_policy: Some("Always".to_string()),
        resources: Some(resources.clone()),
        volume_mounts: Some(vec![VolumeMount {
            name: VOLUME.to_string(),
            mount_path: MOUNT_PATH.to_string(),
            ..VolumeMount::default()
        }]),
        security_context: Some(SecurityContext {
            run_as_non_root: Some(true),
            allow_privilege_escalation: Some(false),
            read_only_root_filesystem: Some(true),
            capabilities: Some(Capabilities { drop: Some(vec!["ALL".to_string()]), add: None }),
            ..SecurityContext::default()
        }),
        ..Container::default()
    }
}

/// The volume the init container copies `sleep` into.
fn sleep_volume() -> Volume {
    Volume {
        name: VOLUME.to_string(),
        empty_dir: Some(EmptyDirVolumeSource {
            size_limit: Some(Quantity(VOLUME_SIZE.to_string())),
            ..EmptyDirVolumeSource::default()
        }),
        ..Volume::default()
    }
}
