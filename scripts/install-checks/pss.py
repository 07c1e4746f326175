"""The Pod Security Standards, checked on rendered manifests: the rules the API server's
PodSecurity admission applies at `enforce: baseline` and `enforce: restricted` (which includes
baseline), for the latest policy version.

`restricted_violations(obj)` and `baseline_violations(obj)` return one message per violation
for any object that holds a pod template (Deployment, DaemonSet, StatefulSet, ReplicaSet, Job,
CronJob, Pod), and nothing for other kinds.
"""

from __future__ import annotations

from typing import Any, Iterator

# Capabilities "baseline" allows to add; "restricted" allows only NET_BIND_SERVICE.
BASELINE_CAPABILITIES = {
    "AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD",
    "NET_BIND_SERVICE", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT",
}
RESTRICTED_CAPABILITIES = {"NET_BIND_SERVICE"}
SAFE_SYSCTLS = {
    "kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.tcp_syncookies", "net.ipv4.ping_group_range", "net.ipv4.ip_local_reserved_ports",
    "net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout", "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
}
SELINUX_TYPES = {"", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"}
RESTRICTED_VOLUME_SOURCES = {
    "configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim",
    "projected", "secret",
}
SECCOMP_ALLOWED = {"RuntimeDefault", "Localhost"}


def pod_spec(obj: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """The pod metadata and spec an object creates, or None for objects without pods."""
    kind = obj.get("kind")
    spec = obj.get("spec") or {}
    if kind == "Pod":
        return obj.get("metadata") or {}, spec
    if kind == "CronJob":
        spec = ((spec.get("jobTemplate") or {}).get("spec")) or {}
        kind = "Job"
    if kind in {"Deployment", "DaemonSet", "StatefulSet", "ReplicaSet", "Job", "ReplicationController"}:
        template = spec.get("template") or {}
        return template.get("metadata") or {}, template.get("spec") or {}
    return None


def _containers(spec: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for field in ("initContainers", "containers", "ephemeralContainers"):
        for container in spec.get(field) or []:
            yield f"{field}[{container.get('name', '?')}]", container


def restricted_violations(obj: dict[str, Any]) -> list[str]:
    return violations(obj, restricted=True)


def baseline_violations(obj: dict[str, Any]) -> list[str]:
    return violations(obj, restricted=False)


def violations(obj: dict[str, Any], restricted: bool) -> list[str]:
    found = pod_spec(obj)
    if found is None:
        return []
    metadata, spec = found
    pod_sc = spec.get("securityContext") or {}
    problems: list[str] = []

    # Baseline: host namespaces, privileged, host paths and ports, profiles, sysctls.
    for field in ("hostNetwork", "hostPID", "hostIPC"):
        if spec.get(field):
            problems.append(f"{field} must not be true")
    if (pod_sc.get("windowsOptions") or {}).get("hostProcess"):
        problems.append("securityContext.windowsOptions.hostProcess must not be true")
    for volume in spec.get("volumes") or []:
        sources = set(volume) - {"name"}
        if "hostPath" in sources:
            problems.append(f"volume {volume.get('name')}: hostPath volumes are forbidden")
        elif restricted and not sources <= RESTRICTED_VOLUME_SOURCES:
            problems.append(
                f"volume {volume.get('name')}: type {', '.join(sorted(sources))} is not allowed "
                f"(allowed: {', '.join(sorted(RESTRICTED_VOLUME_SOURCES))})"
            )
    for sysctl in pod_sc.get("sysctls") or []:
        if sysctl.get("name") not in SAFE_SYSCTLS:
            problems.append(f"sysctl {sysctl.get('name')} is not in the safe set")
    problems += _selinux("securityContext", pod_sc)
    problems += _apparmor("securityContext", pod_sc)
    for key, value in (metadata.get("annotations") or {}).items():
        if key.startswith("container.apparmor.security.beta.kubernetes.io/") and not (
            value == "runtime/default" or value.startswith("localhost/")
        ):
            problems.append(f"annotation {key}: AppArmor profile {value!r} is not allowed")
    pod_seccomp = (pod_sc.get("seccompProfile") or {}).get("type")
    if pod_seccomp is not None and pod_seccomp not in SECCOMP_ALLOWED:
        problems.append(f"securityContext.seccompProfile.type must be RuntimeDefault or Localhost, not {pod_seccomp}")

    # Restricted: non-root on the pod.
    pod_non_root = pod_sc.get("runAsNonRoot") is True
    if restricted:
        if pod_sc.get("runAsNonRoot") is False:
            problems.append("securityContext.runAsNonRoot must not be false")
        if pod_sc.get("runAsUser") == 0:
            problems.append("securityContext.runAsUser must not be 0")

    for where, container in _containers(spec):
        sc = container.get("securityContext") or {}
        if sc.get("privileged"):
            problems.append(f"{where}: privileged must not be true")
        if (sc.get("windowsOptions") or {}).get("hostProcess"):
            problems.append(f"{where}: windowsOptions.hostProcess must not be true")
        for port in container.get("ports") or []:
            if port.get("hostPort"):
                problems.append(f"{where}: hostPort {port['hostPort']} is not allowed")
        if sc.get("procMount") not in (None, "Default"):
            problems.append(f"{where}: procMount must be Default")
        problems += _selinux(f"{where}.securityContext", sc)
        problems += _apparmor(f"{where}.securityContext", sc)
        seccomp = (sc.get("seccompProfile") or {}).get("type")
        if seccomp is not None and seccomp not in SECCOMP_ALLOWED:
            problems.append(f"{where}: seccompProfile.type must be RuntimeDefault or Localhost, not {seccomp}")
        capabilities = sc.get("capabilities") or {}
        allowed = RESTRICTED_CAPABILITIES if restricted else BASELINE_CAPABILITIES
        for added in capabilities.get("add") or []:
            if added not in allowed:
                problems.append(f"{where}: capability {added} may not be added (allowed: {', '.join(sorted(allowed))})")
        if not restricted:
            continue
        if sc.get("allowPrivilegeEscalation") is not False:
            problems.append(f"{where}: securityContext.allowPrivilegeEscalation must be false")
        if sc.get("runAsNonRoot") is False or (not pod_non_root and sc.get("runAsNonRoot") is not True):
            problems.append(f"{where}: runAsNonRoot must be true (on the pod or on every container)")
        if sc.get("runAsUser") == 0:
            problems.append(f"{where}: securityContext.runAsUser must not be 0")
        if seccomp is None and pod_seccomp is None:
            problems.append(f"{where}: seccompProfile.type must be set to RuntimeDefault or Localhost (on the pod or the container)")
        if "ALL" not in (capabilities.get("drop") or []):
            problems.append(f"{where}: capabilities must drop ALL")
    return problems


def _selinux(where: str, sc: dict[str, Any]) -> list[str]:
    options = sc.get("seLinuxOptions") or {}
    problems = []
    if options.get("type", "") not in SELINUX_TYPES:
        problems.append(f"{where}.seLinuxOptions.type {options['type']!r} is not allowed")
    for field in ("user", "role"):
        if options.get(field):
            problems.append(f"{where}.seLinuxOptions.{field} must not be set")
    return problems


def _apparmor(where: str, sc: dict[str, Any]) -> list[str]:
    profile = (sc.get("appArmorProfile") or {}).get("type")
    if profile is not None and profile not in {"RuntimeDefault", "Localhost"}:
        return [f"{where}.appArmorProfile.type {profile} is not allowed"]
    return []
