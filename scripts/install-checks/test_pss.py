"""Each rule of the restricted Pod Security Standard check rejects what it should."""

from __future__ import annotations

import copy

import pytest

from pss import baseline_violations, restricted_violations


def compliant_deployment():
    return {
        "kind": "Deployment",
        "spec": {"template": {"metadata": {}, "spec": {
            "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
            "volumes": [{"name": "tmp", "emptyDir": {}}],
            "initContainers": [{"name": "init", "securityContext": {
                "allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}}],
            "containers": [{"name": "main", "ports": [{"containerPort": 8080}], "securityContext": {
                "allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]}}}],
        }}},
    }


def pod(obj):
    return obj["spec"]["template"]["spec"]


def test_a_compliant_pod_passes():
    assert restricted_violations(compliant_deployment()) == []


def test_container_level_settings_satisfy_the_rules_too():
    obj = compliant_deployment()
    pod(obj)["securityContext"] = {}
    for container in pod(obj)["initContainers"] + pod(obj)["containers"]:
        container["securityContext"].update(runAsNonRoot=True, seccompProfile={"type": "Localhost", "localhostProfile": "p"})
    assert restricted_violations(obj) == []


def set_path(obj, path, value):
    node = obj
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value


SPEC = ("spec", "template", "spec")
POD_SC = SPEC + ("securityContext",)
MAIN = SPEC + ("containers", 0)
MAIN_SC = MAIN + ("securityContext",)
INIT_SC = SPEC + ("initContainers", 0, "securityContext")


@pytest.mark.parametrize(
    "path, value, message",
    [
        (SPEC + ("hostNetwork",), True, "hostNetwork must not be true"),
        (SPEC + ("hostPID",), True, "hostPID must not be true"),
        (SPEC + ("hostIPC",), True, "hostIPC must not be true"),
        (POD_SC + ("windowsOptions",), {"hostProcess": True}, "hostProcess must not be true"),
        (SPEC + ("volumes",), [{"name": "h", "hostPath": {"path": "/"}}], "hostPath volumes are forbidden"),
        (SPEC + ("volumes",), [{"name": "n", "nfs": {"server": "s", "path": "/"}}], "type nfs is not allowed"),
        (POD_SC + ("sysctls",), [{"name": "kernel.msgmax", "value": "1"}], "sysctl kernel.msgmax"),
        (POD_SC + ("seLinuxOptions",), {"type": "spc_t"}, "seLinuxOptions.type 'spc_t'"),
        (POD_SC + ("seLinuxOptions",), {"user": "root"}, "seLinuxOptions.user must not be set"),
        (POD_SC + ("appArmorProfile",), {"type": "Unconfined"}, "appArmorProfile.type Unconfined"),
        (("spec", "template", "metadata", "annotations"),
         {"container.apparmor.security.beta.kubernetes.io/main": "unconfined"}, "AppArmor profile 'unconfined'"),
        (POD_SC + ("runAsNonRoot",), False, "securityContext.runAsNonRoot must not be false"),
        (POD_SC + ("runAsUser",), 0, "securityContext.runAsUser must not be 0"),
        (POD_SC + ("seccompProfile",), {"type": "Unconfined"}, "must be RuntimeDefault or Localhost, not Unconfined"),
        (MAIN_SC + ("privileged",), True, "containers[main]: privileged must not be true"),
        (MAIN_SC + ("windowsOptions",), {"hostProcess": True}, "containers[main]: windowsOptions.hostProcess"),
        (MAIN + ("ports",), [{"containerPort": 80, "hostPort": 80}], "hostPort 80 is not allowed"),
        (MAIN_SC + ("procMount",), "Unmasked", "procMount must be Default"),
        (MAIN_SC + ("allowPrivilegeEscalation",), True, "allowPrivilegeEscalation must be false"),
        (INIT_SC + ("allowPrivilegeEscalation",), None, "initContainers[init]: securityContext.allowPrivilegeEscalation"),
        (MAIN_SC + ("runAsNonRoot",), False, "containers[main]: runAsNonRoot must be true"),
        (MAIN_SC + ("runAsUser",), 0, "containers[main]: securityContext.runAsUser must not be 0"),
        (MAIN_SC + ("seccompProfile",), {"type": "Unconfined"}, "containers[main]: seccompProfile.type must be"),
        (MAIN_SC + ("capabilities",), {"drop": ["NET_RAW"]}, "containers[main]: capabilities must drop ALL"),
        (MAIN_SC + ("capabilities",), {"drop": ["ALL"], "add": ["CHOWN"]}, "capability CHOWN may not be added (allowed: NET_BIND_SERVICE)"),
        (MAIN_SC + ("capabilities",), {"drop": ["ALL"], "add": ["SYS_ADMIN"]}, "capability SYS_ADMIN may not be added"),
    ],
)
def test_each_rule_rejects_its_violation(path, value, message):
    obj = compliant_deployment()
    set_path(obj, path, value)
    problems = restricted_violations(obj)
    assert any(message in problem for problem in problems), problems


def test_non_root_and_seccomp_must_hold_for_every_container_when_the_pod_does_not_set_them():
    obj = compliant_deployment()
    pod(obj)["securityContext"] = {}
    pod(obj)["containers"][0]["securityContext"].update(runAsNonRoot=True, seccompProfile={"type": "RuntimeDefault"})
    problems = restricted_violations(obj)
    assert problems == [
        "initContainers[init]: runAsNonRoot must be true (on the pod or on every container)",
        "initContainers[init]: seccompProfile.type must be set to RuntimeDefault or Localhost (on the pod or the container)",
    ]


@pytest.mark.parametrize("kind", ["DaemonSet", "StatefulSet", "Job"])
def test_every_workload_kind_is_checked(kind):
    obj = compliant_deployment()
    obj["kind"] = kind
    pod(obj)["hostNetwork"] = True
    assert restricted_violations(obj) == ["hostNetwork must not be true"]


def test_cronjobs_and_bare_pods_are_checked():
    cron = {"kind": "CronJob", "spec": {"jobTemplate": {"spec": copy.deepcopy(compliant_deployment()["spec"])}}}
    cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]["hostPID"] = True
    assert restricted_violations(cron) == ["hostPID must not be true"]
    bare = {"kind": "Pod", "metadata": {}, "spec": copy.deepcopy(pod(compliant_deployment()))}
    bare["spec"]["hostIPC"] = True
    assert restricted_violations(bare) == ["hostIPC must not be true"]


def test_objects_without_pods_are_not_checked():
    assert restricted_violations({"kind": "ConfigMap", "data": {"hostNetwork": "true"}}) == []


@pytest.mark.parametrize(
    "path, value, baseline_allows",
    [
        (MAIN_SC + ("allowPrivilegeEscalation",), True, True),
        (MAIN_SC + ("runAsNonRoot",), False, True),
        (MAIN_SC + ("runAsUser",), 0, True),
        (MAIN_SC + ("capabilities",), {"add": ["CHOWN"]}, True),
        (SPEC + ("volumes",), [{"name": "n", "nfs": {"server": "s", "path": "/"}}], True),
        (POD_SC, {}, True),
        (MAIN_SC + ("capabilities",), {"add": ["SYS_ADMIN"]}, False),
        (SPEC + ("hostNetwork",), True, False),
        (MAIN_SC + ("privileged",), True, False),
        (SPEC + ("volumes",), [{"name": "h", "hostPath": {"path": "/"}}], False),
        (POD_SC + ("seccompProfile",), {"type": "Unconfined"}, False),
    ],
)
def test_baseline_allows_what_only_restricted_forbids(path, value, baseline_allows):
    obj = compliant_deployment()
    set_path(obj, path, value)
    assert restricted_violations(obj) != []
    assert (baseline_violations(obj) == []) == baseline_allows, baseline_violations(obj)
