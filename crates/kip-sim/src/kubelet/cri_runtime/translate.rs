//! From a Kubernetes pod to CRI requests, by the kubelet's rules: sandbox labels and seccomp,
//! and for each container its mounts (emptyDir and hostPath volumes), environment, resources
//! and security context, with container settings overriding the pod's and the `runAsNonRoot`
//! check against the image's user. Pure: tested without a runtime.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use k8s_openapi::api::core::v1::{Container, PodSecurityContext};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

use crate::controllers::quantity::{cpu_millis, whole};
use crate::cri::{self, ContainerSpec, HostMount, Resources, SandboxSpec, SeccompProfile};
use crate::kubelet::runtime::{ContainerConfig, PodSandboxConfig};

/// The labels a kubelet puts on sandboxes and containers, by which it finds them again.
pub const POD_NAME_LABEL: &str = "io.kubernetes.pod.name";
pub const POD_NAMESPACE_LABEL: &str = "io.kubernetes.pod.namespace";
pub const POD_UID_LABEL: &str = "io.kubernetes.pod.uid";
pub const CONTAINER_NAME_LABEL: &str = "io.kubernetes.container.name";

/// Where an emptyDir volume of the pod lives on the host.
pub fn empty_dir_path(pod_dir: &Path, volume: &str) -> PathBuf {
    pod_dir.join("volumes/kubernetes.io~empty-dir").join(volume)
}

fn pod_labels(pod: &PodSandboxConfig) -> BTreeMap<String, String> {
    BTreeMap::from([
        (POD_NAME_LABEL.to_string(), pod.name.clone()),
        (POD_NAMESPACE_LABEL.to_string(), pod.namespace.clone()),
        (POD_UID_LABEL.to_string(), pod.uid.clone()),
    ])
}

/// A seccomp profile by its Kubernetes type; none means unconfined, the kubelet's default.
fn seccomp(profile: Option<&k8s_openapi::api::core::v1::SeccompProfile>, what: &str) -> Result<SeccompProfile, String> {
    match profile.map(|p| p.type_.as_str()) {
        None | Some("Unconfined") => Ok(SeccompProfile::Unconfined),
        Some("RuntimeDefault") => Ok(SeccompProfile::RuntimeDefault),
        Some(other) => Err(format!(
            "{what}: seccomp profile type {other:?} is not supported by the kip-sim CRI runtime (RuntimeDefault and Unconfined are)"
        )),
    }
}

/// The pod's sandbox: its identity, its labels and the kubelet's, its seccomp profile.
pub fn sandbox_spec(pod: &PodSandboxConfig, log_directory: PathBuf) -> Result<SandboxSpec, String> {
    let context = pod.spec.security_context.as_ref();
    let mut labels = pod.labels.clone();
    labels.extend(pod_labels(pod));
    Ok(SandboxSpec {
        name: pod.name.clone(),
        namespace: pod.namespace.clone(),
        uid: pod.uid.clone(),
        attempt: 0,
        log_directory: Some(log_directory),
        labels,
        cgroup_parent: String::new(),
        seccomp: seccomp(
            context.and_then(|c| c.seccomp_profile.as_ref()),
            &format!("pod {}/{}", pod.namespace, pod.name),
        )?,
    })
}

/// The container of the pod that `config` starts.
fn find_container<'a>(pod: &'a PodSandboxConfig, config: &ContainerConfig) -> Option<&'a Container> {
    let list = if config.init { pod.spec.init_containers.as_ref() } else { Some(&pod.spec.containers) };
    list?.iter().find(|c| c.name == config.name)
}

/// A container to create in the pod's sandbox, or why it must not be created (the kubelet's
/// `CreateContainerConfigError`). `image` is the runtime's record of the container's image.
pub fn container_spec(
    pod: &PodSandboxConfig,
    config: &ContainerConfig,
    pod_dir: &Path,
    image: &cri::ImageInfo,
) -> Result<ContainerSpec, String> {
    let what = format!("container {} of pod {}/{}", config.name, pod.namespace, pod.name);
    let container = find_container(pod, config).ok_or_else(|| format!("{what}: not in the pod spec"))?;
    let pod_context = pod.spec.security_context.clone().unwrap_or_default();
    let context = container.security_context.clone().unwrap_or_default();
    let run_as_user = context.run_as_user.or(pod_context.run_as_user);
    if context.run_as_non_root.or(pod_context.run_as_non_root) == Some(true) {
        verify_non_root(&what, run_as_user, image)?;
    }
    let capabilities = context.capabilities.clone().unwrap_or_default();
    let mut labels = pod_labels(pod);
    labels.insert(CONTAINER_NAME_LABEL.to_string(), config.name.clone());
    Ok(ContainerSpec {
        name: config.name.clone(),
        attempt: config.attempt,
        image: config.image_id.clone(),
        command: config.command.clone(),
        args: config.args.clone(),
        env: container
            .env
            .iter()
            .flatten()
            // Values from fields, ConfigMaps or Secrets are not resolved here.
            .filter(|var| var.value_from.is_none())
            .map(|var| (var.name.clone(), var.value.clone().unwrap_or_default()))
            .collect(),
        mounts: mounts(pod, container, pod_dir, &what)?,
        run_as_user,
        run_as_group: context.run_as_group.or(pod_context.run_as_group),
        supplemental_groups: supplemental_groups(&pod_context),
        read_only_root_fs: context.read_only_root_filesystem.unwrap_or(false),
        add_capabilities: capabilities.add.unwrap_or_default(),
        drop_capabilities: capabilities.drop.unwrap_or_default(),
        privileged: context.privileged.unwrap_or(false),
        no_new_privileges: context.allow_privilege_escalation == Some(false),
        seccomp: seccomp(context.seccomp_profile.as_ref().or(pod_context.seccomp_profile.as_ref()), &what)?,
        resources: resources(container),
        labels,
    })
}

/// Under `runAsNonRoot`, the container must run as a non-zero uid: its own or the pod's, or
/// else the image's, which must then be numeric (no user in the image means root).
fn verify_non_root(what: &str, run_as_user: Option<i64>, image: &cri::ImageInfo) -> Result<(), String> {
    match (run_as_user, image.uid, image.username.as_str()) {
        (Some(0), _, _) => Err(format!("{what}: runAsNonRoot is set but runAsUser is 0 (root)")),
        (Some(_), _, _) => Ok(()),
        (None, Some(uid), _) if uid != 0 => Ok(()),
        (None, None, name) if !name.is_empty() => Err(format!(
            "{what}: runAsNonRoot is set and the image runs as the user {name:?}, which is not a number, so it \
             cannot be checked; set runAsUser"
        )),
        (None, _, _) => {
            Err(format!("{what}: runAsNonRoot is set and the image would run as root; set runAsUser to a non-zero uid"))
        }
    }
}

/// The pod's supplemental groups, and its `fsGroup`, which the kubelet adds to them.
fn supplemental_groups(pod: &PodSecurityContext) -> Vec<i64> {
    let mut groups = pod.supplemental_groups.clone().unwrap_or_default();
    if let Some(group) = pod.fs_group
        && !groups.contains(&group)
    {
        groups.push(group);
    }
    groups
}

fn mounts(pod: &PodSandboxConfig, container: &Container, pod_dir: &Path, what: &str) -> Result<Vec<HostMount>, String> {
    let volumes = pod.spec.volumes.as_deref().unwrap_or_default();
    let mut mounts = Vec::new();
    for mount in container.volume_mounts.iter().flatten() {
        let name = &mount.name;
        let volume = volumes
            .iter()
            .find(|v| &v.name == name)
            .ok_or_else(|| format!("{what}: mounts the volume {name:?}, which the pod does not have"))?;
        if mount.sub_path.as_deref().is_some_and(|p| !p.is_empty())
            || mount.sub_path_expr.as_deref().is_some_and(|p| !p.is_empty())
        {
            return Err(format!(
                "{what}: subPath mounts (volume {name:?}) are not supported by the kip-sim CRI runtime"
            ));
        }
        let host_path = if volume.empty_dir.is_some() {
            empty_dir_path(pod_dir, name)
        } else if let Some(host) = &volume.host_path {
            PathBuf::from(&host.path)
        } else {
            return Err(format!(
                "{what}: the volume {name:?} is of a kind the kip-sim CRI runtime does not provide (emptyDir and hostPath are)"
            ));
        };
        mounts.push(HostMount {
            host_path,
            container_path: mount.mount_path.clone(),
            read_only: mount.read_only.unwrap_or(false),
        });
    }
    Ok(mounts)
}

/// CPU in millicores (rounded up, as the API server does) and memory in bytes; a missing
/// request defaults to the limit, as the API server defaults it.
fn resources(container: &Container) -> Resources {
    let Some(requirements) = &container.resources else { return Resources::default() };
    let get = |map: &Option<BTreeMap<String, Quantity>>, name: &str| map.as_ref()?.get(name).map(|q| q.0.clone());
    let cpu_limit = get(&requirements.limits, "cpu").as_deref().and_then(cpu_millis);
    Resources {
        cpu_request_millis: get(&requirements.requests, "cpu").as_deref().and_then(cpu_millis).or(cpu_limit),
        cpu_limit_millis: cpu_limit,
        memory_limit_bytes: get(&requirements.limits, "memory").as_deref().and_then(whole),
    }
}

#[cfg(test)]
#[path = "translate_tests.rs"]
mod tests;
