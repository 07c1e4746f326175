//! The caching pod must pass the Pod Security Standard "restricted" profile (which includes
//! "baseline"), so kip runs in namespaces that enforce it. Each control of the profile is
//! checked on the rendered pod, and each check is shown to catch a pod that breaks it.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    Capabilities, ContainerPort, HostPathVolumeSource, SELinuxOptions, SeccompProfile, Sysctl, Volume,
    WindowsSecurityContextOptions,
};

use super::*;

/// Sysctls the baseline profile allows.
const SAFE_SYSCTLS: [&str; 10] = [
    "kernel.shm_rmid_forced",
    "net.ipv4.ip_local_port_range",
    "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.tcp_syncookies",
    "net.ipv4.ping_group_range",
    "net.ipv4.ip_local_reserved_ports",
    "net.ipv4.tcp_keepalive_time",
    "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
];
const SELINUX_TYPES: [&str; 5] = ["", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"];

/// The controls of the restricted profile that `spec` (with its template annotations) breaks.
fn violations(spec: &PodSpec, annotations: &BTreeMap<String, String>) -> Vec<&'static str> {
    let mut broken = Vec::new();
    let mut check = |ok: bool, control: &'static str| {
        if !ok && !broken.contains(&control) {
            broken.push(control);
        }
    };
    let pod = spec.security_context.clone().unwrap_or_default();
    let containers: Vec<&Container> = all_containers(spec).collect();
    let context = |c: &Container| c.security_context.clone().unwrap_or_default();
    let host_process =
        |w: &Option<WindowsSecurityContextOptions>| w.as_ref().and_then(|w| w.host_process) == Some(true);

    // Baseline.
    check(!host_process(&pod.windows_options), "HostProcess");
    check(containers.iter().all(|c| !host_process(&context(c).windows_options)), "HostProcess");
    check(
        spec.host_network != Some(true) && spec.host_pid != Some(true) && spec.host_ipc != Some(true),
        "Host Namespaces",
    );
    check(containers.iter().all(|c| context(c).privileged != Some(true)), "Privileged Containers");
    check(spec.volumes.iter().flatten().all(|v| v.host_path.is_none()), "HostPath Volumes");
    let host_ports = containers.iter().flat_map(|c| c.ports.iter().flatten());
    check(host_ports.clone().all(|p| p.host_port.unwrap_or(0) == 0), "Host Ports");
    let apparmor_ok = |p: &Option<k8s_openapi::api::core::v1::AppArmorProfile>| {
        p.as_ref().is_none_or(|p| matches!(p.type_.as_str(), "RuntimeDefault" | "Localhost"))
    };
    check(
        apparmor_ok(&pod.app_armor_profile) && containers.iter().all(|c| apparmor_ok(&context(c).app_armor_profile)),
        "AppArmor",
    );
    check(
        annotations
            .iter()
            .filter(|(k, _)| k.starts_with("container.apparmor.security.beta.kubernetes.io/"))
            .all(|(_, v)| v == "runtime/default" || v.starts_with("localhost/")),
        "AppArmor",
    );
    let selinux_ok = |o: &Option<SELinuxOptions>| {
        o.as_ref().is_none_or(|o| {
            SELINUX_TYPES.contains(&o.type_.as_deref().unwrap_or("")) && o.user.is_none() && o.role.is_none()
        })
    };
    check(
        selinux_ok(&pod.se_linux_options) && containers.iter().all(|c| selinux_ok(&context(c).se_linux_options)),
        "SELinux",
    );
    check(
        containers.iter().all(|c| context(c).proc_mount.as_deref().unwrap_or("Default") == "Default"),
        "/proc Mount Type",
    );
    check(pod.sysctls.iter().flatten().all(|s| SAFE_SYSCTLS.contains(&s.name.as_str())), "Sysctls");

    // Restricted.
    const VOLUME_TYPES_OK: fn(&Volume) -> bool = |v| {
        v.config_map.is_some()
            || v.csi.is_some()
            || v.downward_api.is_some()
            || v.empty_dir.is_some()
            || v.ephemeral.is_some()
            || v.persistent_volume_claim.is_some()
            || v.projected.is_some()
            || v.secret.is_some()
            // Allowed since Kubernetes 1.33 (PR 130394); older API servers refuse image volumes
            // in restricted namespaces.
            || v.image.is_some()
    };
    check(spec.volumes.iter().flatten().all(VOLUME_TYPES_OK), "Volume Types");
    check(containers.iter().all(|c| context(c).allow_privilege_escalation == Some(false)), "Privilege Escalation");
    let non_root_everywhere = containers.iter().all(|c| context(c).run_as_non_root == Some(true));
    check(
        (pod.run_as_non_root == Some(true) || non_root_everywhere)
            && containers.iter().all(|c| context(c).run_as_non_root != Some(false)),
        "Running as Non-root",
    );
    check(
        pod.run_as_user != Some(0) && containers.iter().all(|c| context(c).run_as_user != Some(0)),
        "Running as Non-root user",
    );
    let seccomp = |p: &Option<SeccompProfile>| p.as_ref().map(|p| p.type_.clone());
    let allowed = |t: &Option<String>| matches!(t.as_deref(), Some("RuntimeDefault" | "Localhost"));
    let pod_seccomp = seccomp(&pod.seccomp_profile);
    check(
        pod_seccomp.as_deref() != Some("Unconfined")
            && containers.iter().all(|c| {
                let own = seccomp(&context(c).seccomp_profile);
                own.as_deref() != Some("Unconfined") && (allowed(&own) || (own.is_none() && allowed(&pod_seccomp)))
            }),
        "Seccomp",
    );
    check(
        containers.iter().all(|c| {
            let capabilities = context(c).capabilities.unwrap_or_default();
            capabilities.drop.iter().flatten().any(|d| d == "ALL")
                && capabilities.add.iter().flatten().all(|a| a == "NET_BIND_SERVICE")
        }),
        "Capabilities",
    );
    broken
}

fn template_annotations(daemonset: &DaemonSet) -> BTreeMap<String, String> {
    daemonset
        .spec
        .as_ref()
        .and_then(|s| s.template.metadata.as_ref())
        .and_then(|m| m.annotations.clone())
        .unwrap_or_default()
}

#[test]
fn the_caching_pod_passes_the_restricted_profile() {
    let full = config(&[
        ("TOLERATIONS", r#"[{"operator": "Exists"}]"#),
        ("NODE_SELECTOR", r#"{"kubernetes.io/os": "linux"}"#),
        ("IMAGE_PULL_SECRETS", "pull"),
    ]);
    let contexts = [
        (config(&[]), plain()),
        (config(&[]), RenderContext { openshift: true, ..plain() }),
        (full, RenderContext { refresh_token: Some("1".into()), ..plain() }),
        (config(&[("CACHING_MODE", "init")]), plain()),
        (config(&[("CACHING_MODE", "init")]), RenderContext { openshift: true, ..plain() }),
        (config(&[("CACHING_MODE", "image-volume")]), plain()),
        (config(&[("CACHING_MODE", "image-volume")]), RenderContext { openshift: true, ..plain() }),
    ];
    for (config, ctx) in contexts {
        let daemonset = desired_daemonset(&config, &ctx);
        let broken = violations(pod_spec(&daemonset), &template_annotations(&daemonset));
        assert!(broken.is_empty(), "{ctx:?} breaks {broken:?}");
    }
}

#[test]
fn each_check_catches_a_pod_that_breaks_it() {
    type Mutation = fn(&mut PodSpec, &mut BTreeMap<String, String>);
    fn first(spec: &mut PodSpec) -> &mut SecurityContext {
        spec.containers[0].security_context.get_or_insert_with(Default::default)
    }
    fn init(spec: &mut PodSpec) -> &mut SecurityContext {
        let inits = spec.init_containers.get_or_insert_with(Vec::new);
        inits[0].security_context.get_or_insert_with(Default::default)
    }
    fn pod(spec: &mut PodSpec) -> &mut PodSecurityContext {
        spec.security_context.get_or_insert_with(Default::default)
    }
    use k8s_openapi::api::core::v1::{PodSecurityContext, SecurityContext};
    let cases: Vec<(&str, Mutation)> = vec![
        ("HostProcess", |s, _| {
            first(s).windows_options =
                Some(WindowsSecurityContextOptions { host_process: Some(true), ..Default::default() })
        }),
        ("Host Namespaces", |s, _| s.host_network = Some(true)),
        ("Host Namespaces", |s, _| s.host_pid = Some(true)),
        ("Privileged Containers", |s, _| init(s).privileged = Some(true)),
        ("HostPath Volumes", |s, _| {
            s.volumes.get_or_insert_with(Vec::new).push(Volume {
                name: "host".into(),
                host_path: Some(HostPathVolumeSource { path: "/".into(), type_: None }),
                ..Default::default()
            })
        }),
        ("Host Ports", |s, _| {
            s.containers[0].ports =
                Some(vec![ContainerPort { container_port: 80, host_port: Some(80), ..Default::default() }])
        }),
        ("AppArmor", |_, a| {
            a.insert("container.apparmor.security.beta.kubernetes.io/theia".into(), "unconfined".into());
        }),
        ("SELinux", |s, _| {
            pod(s).se_linux_options = Some(SELinuxOptions { type_: Some("spc_t".into()), ..Default::default() })
        }),
        ("/proc Mount Type", |s, _| first(s).proc_mount = Some("Unmasked".into())),
        ("Sysctls", |s, _| pod(s).sysctls = Some(vec![Sysctl { name: "kernel.msgmax".into(), value: "1".into() }])),
        ("Volume Types", |s, _| {
            s.volumes.get_or_insert_with(Vec::new).push(Volume { name: "nfs".into(), ..Default::default() })
        }),
        ("Privilege Escalation", |s, _| init(s).allow_privilege_escalation = None),
        ("Running as Non-root", |s, _| first(s).run_as_non_root = Some(false)),
        ("Running as Non-root", |s, _| init(s).run_as_non_root = None),
        ("Running as Non-root user", |s, _| pod(s).run_as_user = Some(0)),
        ("Seccomp", |s, _| pod(s).seccomp_profile = None),
        ("Seccomp", |s, _| {
            first(s).seccomp_profile = Some(SeccompProfile { type_: "Unconfined".into(), localhost_profile: None })
        }),
        ("Capabilities", |s, _| first(s).capabilities = Some(Capabilities { add: None, drop: None })),
        ("Capabilities", |s, _| {
            init(s).capabilities =
                Some(Capabilities { add: Some(vec!["SYS_ADMIN".into()]), drop: Some(vec!["ALL".into()]) })
        }),
    ];
    for (control, mutate) in cases {
        let daemonset = desired_daemonset(&config(&[]), &plain());
        let mut spec = pod_spec(&daemonset).clone();
        let mut annotations = template_annotations(&daemonset);
        mutate(&mut spec, &mut annotations);
        let broken = violations(&spec, &annotations);
        assert!(broken.contains(&control), "the {control} check misses a broken pod: {broken:?}");
    }
}
