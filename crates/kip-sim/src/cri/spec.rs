//! What to run, in kubelet terms: a pod sandbox and its containers as plain values, and their
//! translation into CRI messages. The translation is pure, so the rules a kubelet applies
//! (host network, security context, resource arithmetic) are tested without a runtime.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::pods::ContainerPhase;
use super::proto::{self, NamespaceMode, ProfileType};

/// A pod sandbox: the pod's identity and its pod-level settings. Sandboxes always share the
/// node's network namespace: there is no CNI plugin where kip-sim runs containers.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SandboxSpec {
    pub name: String,
    pub namespace: String,
    pub uid: String,
    pub attempt: u32,
    /// Host directory under which the runtime writes each container's output
    /// (`<name>/<attempt>.log`); created if missing. `None`: no logs.
    pub log_directory: Option<PathBuf>,
    pub labels: BTreeMap<String, String>,
    /// cgroupfs path under which the runtime puts the pod's cgroups; empty: the runtime's default.
    pub cgroup_parent: String,
    pub seccomp: SeccompProfile,
}

/// Which seccomp filter a process runs under.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SeccompProfile {
    /// The runtime's default filter: what `seccompProfile: RuntimeDefault` asks for.
    #[default]
    RuntimeDefault,
    Unconfined,
}

/// A host directory mounted into a container: how a kubelet provides an `emptyDir`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostMount {
    pub host_path: PathBuf,
    pub container_path: String,
    pub read_only: bool,
}

/// CPU and memory bounds of a container, in Kubernetes units.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Resources {
    /// `requests.cpu` in millicores: sets the CPU shares.
    pub cpu_request_millis: Option<i64>,
    /// `limits.cpu` in millicores: sets the CFS quota.
    pub cpu_limit_millis: Option<i64>,
    /// `limits.memory` in bytes.
    pub memory_limit_bytes: Option<i64>,
}

/// One container of a pod, with the container-level fields a kubelet passes to the runtime.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ContainerSpec {
    pub name: String,
    pub attempt: u32,
    /// A reference or an image id; the image must already be pulled.
    pub image: String,
    /// Replaces the image's entrypoint when not empty (Kubernetes `command`).
    pub command: Vec<String>,
    /// Replaces the image's cmd when not empty (Kubernetes `args`).
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    pub mounts: Vec<HostMount>,
    pub run_as_user: Option<i64>,
    pub run_as_group: Option<i64>,
    /// Extra groups of the process; a pod's `fsGroup` goes here.
    pub supplemental_groups: Vec<i64>,
    pub read_only_root_fs: bool,
    /// `capabilities.add`, as written (`NET_ADMIN`; the runtime adds the `CAP_` prefix).
    pub add_capabilities: Vec<String>,
    /// `capabilities.drop`, as written (`ALL` drops every capability).
    pub drop_capabilities: Vec<String>,
    pub privileged: bool,
    /// `allowPrivilegeEscalation: false`.
    pub no_new_privileges: bool,
    pub seccomp: SeccompProfile,
    pub resources: Resources,
    pub labels: BTreeMap<String, String>,
}

/// The CFS period a kubelet uses, in microseconds.
const CPU_PERIOD_MICROS: i64 = 100_000;
/// The kernel's smallest accepted `cpu.shares`.
const MIN_CPU_SHARES: i64 = 2;

fn seccomp(profile: SeccompProfile) -> Option<proto::SecurityProfile> {
    let profile_type = match profile {
        SeccompProfile::RuntimeDefault => ProfileType::RuntimeDefault,
        SeccompProfile::Unconfined => ProfileType::Unconfined,
    };
    Some(proto::SecurityProfile { profile_type: profile_type as i32, localhost_ref: String::new() })
}

/// Host network; a PID namespace per container (the Kubernetes default); IPC shared in the pod.
fn host_network_namespaces() -> Option<proto::NamespaceOption> {
    Some(proto::NamespaceOption {
        network: NamespaceMode::Node as i32,
        pid: NamespaceMode::Container as i32,
        ipc: NamespaceMode::Pod as i32,
        target_id: String::new(),
    })
}

pub(crate) fn sandbox_config(spec: &SandboxSpec) -> proto::PodSandboxConfig {
    proto::PodSandboxConfig {
        metadata: Some(proto::PodSandboxMetadata {
            name: spec.name.clone(),
            uid: spec.uid.clone(),
            namespace: spec.namespace.clone(),
            attempt: spec.attempt,
        }),
        // With the node's network namespace the sandbox has the node's hostname.
        hostname: String::new(),
        log_directory: spec.log_directory.as_ref().map(|dir| dir.display().to_string()).unwrap_or_default(),
        labels: spec.labels.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        annotations: Default::default(),
        linux: Some(proto::LinuxPodSandboxConfig {
            cgroup_parent: spec.cgroup_parent.clone(),
            security_context: Some(proto::LinuxSandboxSecurityContext {
                namespace_options: host_network_namespaces(),
                seccomp: seccomp(spec.seccomp),
                ..Default::default()
            }),
        }),
    }
}

/// The CPU and memory settings a kubelet derives from requests and limits.
fn linux_resources(resources: &Resources) -> proto::LinuxContainerResources {
    let mut linux = proto::LinuxContainerResources::default();
    if let Some(millis) = resources.cpu_request_millis {
        linux.cpu_shares = (millis.saturating_mul(1024) / 1000).max(MIN_CPU_SHARES);
    }
    if let Some(millis) = resources.cpu_limit_millis {
        linux.cpu_period = CPU_PERIOD_MICROS;
        // The kernel refuses a quota under 1ms.
        linux.cpu_quota = (millis.saturating_mul(CPU_PERIOD_MICROS) / 1000).max(1000);
    }
    if let Some(bytes) = resources.memory_limit_bytes {
        linux.memory_limit_in_bytes = bytes;
    }
    linux
}

pub(crate) fn container_config(sandbox: &SandboxSpec, spec: &ContainerSpec) -> proto::ContainerConfig {
    let security = proto::LinuxContainerSecurityContext {
        capabilities: (!spec.add_capabilities.is_empty() || !spec.drop_capabilities.is_empty()).then(|| {
            proto::Capability {
                add_capabilities: spec.add_capabilities.clone(),
                drop_capabilities: spec.drop_capabilities.clone(),
            }
        }),
        privileged: spec.privileged,
        namespace_options: host_network_namespaces(),
        run_as_user: spec.run_as_user.map(|value| proto::Int64Value { value }),
        readonly_rootfs: spec.read_only_root_fs,
        supplemental_groups: spec.supplemental_groups.clone(),
        no_new_privs: spec.no_new_privileges,
        run_as_group: spec.run_as_group.map(|value| proto::Int64Value { value }),
        seccomp: seccomp(spec.seccomp),
    };
    proto::ContainerConfig {
        metadata: Some(proto::ContainerMetadata { name: spec.name.clone(), attempt: spec.attempt }),
        image: Some(proto::ImageSpec { image: spec.image.clone(), ..Default::default() }),
        command: spec.command.clone(),
        args: spec.args.clone(),
        working_dir: String::new(),
        envs: spec.env.iter().map(|(key, value)| proto::KeyValue { key: key.clone(), value: value.clone() }).collect(),
        mounts: spec
            .mounts
            .iter()
            .map(|mount| proto::Mount {
                container_path: mount.container_path.clone(),
                host_path: mount.host_path.display().to_string(),
                readonly: mount.read_only,
            })
            .collect(),
        labels: spec.labels.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        annotations: Default::default(),
        log_path: match sandbox.log_directory {
            Some(_) => format!("{}/{}.log", spec.name, spec.attempt),
            None => String::new(),
        },
        linux: Some(proto::LinuxContainerConfig {
            resources: Some(linux_resources(&spec.resources)),
            security_context: Some(security),
        }),
    }
}

pub(crate) fn phase_to_wire(phase: ContainerPhase) -> i32 {
    let state = match phase {
        ContainerPhase::Created => proto::ContainerState::ContainerCreated,
        ContainerPhase::Running => proto::ContainerState::ContainerRunning,
        ContainerPhase::Exited => proto::ContainerState::ContainerExited,
        ContainerPhase::Unknown => proto::ContainerState::ContainerUnknown,
    };
    state as i32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sandboxes_use_the_node_network_and_a_pid_namespace_per_container() {
        let config = sandbox_config(&SandboxSpec { name: "p".into(), ..Default::default() });
        let context = config.linux.unwrap().security_context.unwrap();
        let namespaces = context.namespace_options.unwrap();
        assert_eq!(namespaces.network, NamespaceMode::Node as i32);
        assert_eq!(namespaces.pid, NamespaceMode::Container as i32);
        assert_eq!(namespaces.ipc, NamespaceMode::Pod as i32);
        assert_eq!(config.hostname, "");
    }

    #[test]
    fn seccomp_is_always_explicit_since_an_absent_profile_means_unconfined() {
        for (profile, wire) in [
            (SeccompProfile::RuntimeDefault, ProfileType::RuntimeDefault),
            (SeccompProfile::Unconfined, ProfileType::Unconfined),
        ] {
            let spec = ContainerSpec { seccomp: profile, ..Default::default() };
            let config = container_config(&SandboxSpec::default(), &spec);
            let context = config.linux.unwrap().security_context.unwrap();
            assert_eq!(context.seccomp.unwrap().profile_type, wire as i32, "{profile:?}");
        }
    }

    #[test]
    fn the_kip_security_context_maps_field_by_field() {
        let spec = ContainerSpec {
            name: "copy-sleep".into(),
            image: "r/kip:1".into(),
            command: vec!["/usr/local/bin/kip-sleep".into()],
            args: vec!["--copy-to".into(), "/kip/sleep".into()],
            env: vec![("A".into(), "1".into())],
            mounts: vec![HostMount { host_path: "/h/kip".into(), container_path: "/kip".into(), read_only: false }],
            run_as_user: Some(65532),
            run_as_group: Some(65532),
            supplemental_groups: vec![65532],
            read_only_root_fs: true,
            drop_capabilities: vec!["ALL".into()],
            no_new_privileges: true,
            ..Default::default()
        };
        let sandbox = SandboxSpec { log_directory: Some("/logs".into()), ..Default::default() };
        let config = container_config(&sandbox, &spec);
        assert_eq!(config.command, ["/usr/local/bin/kip-sleep"]);
        assert_eq!(config.args, ["--copy-to", "/kip/sleep"]);
        assert_eq!(config.envs, [proto::KeyValue { key: "A".into(), value: "1".into() }]);
        assert_eq!(config.mounts[0].host_path, "/h/kip");
        assert_eq!(config.mounts[0].container_path, "/kip");
        assert!(!config.mounts[0].readonly);
        assert_eq!(config.log_path, "copy-sleep/0.log");
        let context = config.linux.unwrap().security_context.unwrap();
        assert_eq!(context.run_as_user, Some(proto::Int64Value { value: 65532 }));
        assert_eq!(context.run_as_group, Some(proto::Int64Value { value: 65532 }));
        assert_eq!(context.supplemental_groups, [65532]);
        assert!(context.readonly_rootfs && context.no_new_privs && !context.privileged);
        let capabilities = context.capabilities.unwrap();
        assert!(capabilities.add_capabilities.is_empty());
        assert_eq!(capabilities.drop_capabilities, ["ALL"]);
        assert_eq!(context.namespace_options.unwrap().network, NamespaceMode::Node as i32);
    }

    #[test]
    fn unset_security_fields_stay_unset() {
        let config = container_config(&SandboxSpec::default(), &ContainerSpec::default());
        let context = config.linux.unwrap().security_context.unwrap();
        assert_eq!(context.run_as_user, None);
        assert_eq!(context.capabilities, None);
        assert!(!context.readonly_rootfs && !context.no_new_privs);
        assert_eq!(config.log_path, "", "no log without a sandbox log directory");
    }

    #[test]
    fn cpu_and_memory_follow_the_kubelet_arithmetic() {
        let cases = [
            // (request m, limit m, memory) -> (shares, period, quota, memory)
            (Resources::default(), (0, 0, 0, 0)),
            (
                Resources {
                    cpu_request_millis: Some(50),
                    cpu_limit_millis: Some(200),
                    memory_limit_bytes: Some(20 << 20),
                },
                (51, 100_000, 20_000, 20 << 20),
            ),
            (Resources { cpu_request_millis: Some(1), ..Default::default() }, (2, 0, 0, 0)),
            (Resources { cpu_limit_millis: Some(1), ..Default::default() }, (0, 100_000, 1000, 0)),
            (Resources { cpu_request_millis: Some(2000), ..Default::default() }, (2048, 0, 0, 0)),
        ];
        for (resources, (shares, period, quota, memory)) in cases {
            let linux = linux_resources(&resources);
            assert_eq!(
                (linux.cpu_shares, linux.cpu_period, linux.cpu_quota, linux.memory_limit_in_bytes),
                (shares, period, quota, memory),
                "{resources:?}"
            );
        }
    }
}
