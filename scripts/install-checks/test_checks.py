"""The install checks catch what they are meant to catch: each is shown failing on a broken
copy of a correct installation."""

from __future__ import annotations

import copy

import pytest
from kubernetes_validate import utils as kv

import check_artifacts
import contract
import render


@pytest.fixture(scope="module")
def helm_objects():
    return render.objects(render.helm_yaml({}))


@pytest.fixture(scope="module")
def openshift_objects():
    return [obj for t in ("serviceaccount.yaml", "configmap.yaml", "app.yaml") for obj in render.openshift_objects(t)]


def find(objects, kind):
    return next(obj for obj in objects if obj["kind"] == kind)


def container(objects):
    return find(objects, "Deployment")["spec"]["template"]["spec"]["containers"][0]


def test_correct_installations_pass(helm_objects, openshift_objects):
    for objects in (helm_objects, openshift_objects):
        assert contract.check_objects(objects) == []
        assert contract.check_config_map(objects, contract.CONFIG_MAP_DEFAULTS) == []
        assert contract.check_deployment(objects) == []
        assert contract.check_rbac(objects) == []


def broken(objects, change):
    objects = copy.deepcopy(objects)
    change(objects)
    return objects


def add_rule(objects, rule):
    find(objects, "Role")["rules"].append(rule)


def pin_leases(objects, names):
    for rule in find(objects, "Role")["rules"]:
        if rule["resources"] == ["leases"] and "get" in rule["verbs"]:
            rule["resourceNames"] = names


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda o: add_rule(o, {"apiGroups": [""], "resources": ["pods"], "verbs": ["delete"]}), "more than kip needs: delete core/pods"),
        (lambda o: add_rule(o, {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}),
         "get secrets is granted for every secret"),
        (lambda o: add_rule(o, {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"], "resourceNames": ["x"]}),
         "get secrets is pinned to ['x'], the pull secrets are []"),
        (lambda o: add_rule(o, {"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}), "wildcard in rule"),
        (lambda o: find(o, "Role")["rules"].pop(0), "kip needs: create apps/daemonsets"),
        (lambda o: pin_leases(o, ["kip-other"]), "pinned to ['kip-other'], but kip uses 'kip-kubernetes-image-puller'"),
        (lambda o: add_rule(o, {"apiGroups": ["apps"], "resources": ["daemonsets"], "verbs": ["create"],
                                "resourceNames": ["x"]}), "create daemonsets is pinned to names, which never matches"),
        (lambda o: find(o, "RoleBinding")["subjects"][0].update(name="someone"), "must bind ServiceAccount"),
    ],
)
def test_rbac_problems_are_caught(helm_objects, change, message):
    problems = contract.check_rbac(broken(helm_objects, change))
    assert any(message in p for p in problems), problems


def test_pull_secrets_are_read_by_name_where_known():
    objects = render.objects(render.helm_yaml({"configMap": {"imagePullSecrets": "pull-a; pull-b"}}))
    assert contract.check_rbac(objects, reads_pull_secrets=True) == []
    unread = broken(objects, lambda o: find(o, "Role")["rules"].pop())
    assert "kip needs: get core/secrets" in contract.check_rbac(unread, reads_pull_secrets=True)


@pytest.fixture(scope="module")
def warm_signal_objects():
    return render.objects(render.helm_yaml({"nodeAccess": {"warmSignal": True}}))


def test_node_access_is_an_option(helm_objects, warm_signal_objects):
    assert contract.check_node_access(helm_objects, None) == []
    assert contract.check_node_access(warm_signal_objects, {"list", "watch", "patch"}) == []
    problems = contract.check_node_access(warm_signal_objects, None)
    assert any("cluster-scoped RBAC is not allowed" in p for p in problems), problems


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda o: find(o, "ClusterRole")["rules"][0]["verbs"].append("delete"), "the ClusterRole grants"),
        (lambda o: find(o, "ClusterRole")["rules"][0].update(resourceNames=["node-1"]), "pins node names"),
        (lambda o: find(o, "ClusterRoleBinding")["subjects"][0].update(namespace="default"), "must bind ServiceAccount"),
        (lambda o: find(o, "ClusterRoleBinding")["roleRef"].update(name="admin"), "must refer to ClusterRole"),
    ],
)
def test_node_access_problems_are_caught(warm_signal_objects, change, message):
    problems = contract.check_node_access(broken(warm_signal_objects, change), {"list", "watch", "patch"})
    assert any(message in p for p in problems), problems


def test_unpinned_config_map_is_caught(openshift_objects):
    def unpin(objects):
        for rule in find(objects, "Role")["rules"]:
            rule.pop("resourceNames", None)

    assert "the ConfigMap's fixed name is known: pin configmaps to it" in contract.check_rbac(broken(openshift_objects, unpin))


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda o: container(o)["env"].pop(0), "DEPLOYMENT_NAME must be the Deployment's own name"),
        (lambda o: container(o)["env"][1].update(value="other"), "KIP_CONFIG_MAP must name the ConfigMap"),
        (lambda o: container(o)["envFrom"].clear(), "envFrom must be the ConfigMap"),
        (lambda o: container(o)["readinessProbe"]["httpGet"].update(path="/healthz"), "readinessProbe must GET /readyz"),
        (lambda o: container(o)["ports"][0].update(containerPort=9090), "container port http must be 8080"),
        (lambda o: find(o, "Deployment")["spec"].update(replicas=2), "replicas is 2, expected 1"),
        (lambda o: find(o, "Deployment")["spec"]["template"]["spec"].update(serviceAccountName="x"), "serviceAccountName 'x'"),
    ],
)
def test_deployment_problems_are_caught(openshift_objects, change, message):
    problems = contract.check_deployment(broken(openshift_objects, change))
    assert any(message in p for p in problems), problems


def test_config_map_problems_are_caught(openshift_objects):
    objects = broken(openshift_objects, lambda o: find(o, "ConfigMap")["data"].pop("TOLERATIONS"))
    assert contract.check_config_map(objects, {}) == ["ConfigMap lacks keys: TOLERATIONS"]
    assert contract.check_config_map(openshift_objects, {"DAEMONSET_NAME": "other"}) == [
        "ConfigMap DAEMONSET_NAME is 'kubernetes-image-puller', expected 'other'"
    ]
    # JSON settings compare as JSON.
    assert contract.check_config_map(openshift_objects, {"NODE_SELECTOR": "{ }"}) == []


def test_renamed_objects_are_caught(openshift_objects):
    objects = broken(openshift_objects, lambda o: find(o, "Role")["metadata"].update(name="kip"))
    assert contract.check_objects(objects) == ["Role is named 'kip', the Go puller's is 'create-daemonset'"]


def test_strict_schema_validation_rejects_unknown_fields(openshift_objects):
    # The Go templates put `type: Opaque` on the ConfigMap, a field ConfigMaps do not have.
    objects = broken(openshift_objects, lambda o: find(o, "ConfigMap").update(type="Opaque"))
    problems = check_artifacts.schema_problems([find(objects, "ConfigMap")], ["1.28", "1.37"])
    assert len(problems) == 2 and all("'type' was unexpected" in p for p in problems), problems


def test_schema_validation_covers_1_28_to_the_newest_bundled_version():
    versions = check_artifacts.kubernetes_versions()
    assert versions[0] == "1.28"
    assert versions[-1] == kv.major_minor(kv.latest_version())


def test_yamllint_catches_duplicate_keys_and_long_source_lines():
    assert check_artifacts.yamllint_problems("a: 1\na: 2\n", strict=False) == [
        'line 2: duplication of key "a" in mapping (key-duplicates)'
    ]
    long_line = "key: " + " ".join(["word"] * 40) + "\n"
    assert check_artifacts.yamllint_problems(long_line, strict=False) == []
    assert check_artifacts.yamllint_problems(long_line, strict=True)[0].startswith("line 1: line too long")


def test_the_pod_environment_is_the_config_map_overridden_by_env(helm_objects):
    import pod_env

    config_map = find(helm_objects, "ConfigMap")
    env = pod_env.pod_environment(
        find(helm_objects, "Deployment"), "k8s-image-puller", "kip-0", lambda name: {**config_map, "checked": name}
    )
    assert {k: env[k] for k in contract.CONFIG_MAP_DEFAULTS} == config_map["data"]
    assert env["DEPLOYMENT_NAME"] == "kubernetes-image-puller"
    assert env["KIP_CONFIG_MAP"] == "k8s-image-puller"
    assert env["POD_NAME"] == "kip-0"
    # `env` wins over `envFrom`, as in a pod.
    config_map = {"data": {"POD_NAME": "from the ConfigMap", "IMAGES": "a=b"}}
    env = pod_env.pod_environment(find(helm_objects, "Deployment"), "ns", "kip-1", lambda name: config_map)
    assert (env["POD_NAME"], env["IMAGES"]) == ("kip-1", "a=b")


# The shape kip renders on plain Kubernetes (restricted Pod Security: every container non-root).
SPEC_DAEMONSET = """\
apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: kubernetes-image-puller
spec:
  selector:
    matchLabels: {test: daemonset-test, app.kubernetes.io/name: image-puller}
  template:
    metadata:
      labels: {test: daemonset-test, app.kubernetes.io/name: image-puller}
    spec:
      terminationGracePeriodSeconds: 1
      securityContext:
        {fsGroup: 65532, runAsUser: 65532, runAsGroup: 65532, runAsNonRoot: true, seccompProfile: {type: RuntimeDefault}}
      volumes: [{name: kip, emptyDir: {sizeLimit: 50Mi}}]
      initContainers:
        - name: copy-sleep
          image: ghcr.io/kip-dev/kip:0.1.0
          command: [/usr/local/bin/kip-sleep, --copy-to, /kip/sleep]
          volumeMounts: [{name: kip, mountPath: /kip}]
          securityContext:
            runAsNonRoot: true
            runAsUser: 65532
            allowPrivilegeEscalation: false
            readOnlyRootFilesystem: true
            capabilities: {drop: [ALL]}
      containers:
        - name: java
          image: eclipse/che-java:11
          command: [/kip/sleep]
          args: [720h]
          volumeMounts: [{name: kip, mountPath: /kip}]
          securityContext:
            {runAsNonRoot: true, allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: {drop: [ALL]}}
"""


@pytest.mark.parametrize(
    "daemonset, expected",
    [
        (SPEC_DAEMONSET, []),
        (SPEC_DAEMONSET.replace("emptyDir: {sizeLimit: 50Mi}", "hostPath: {path: /var}"),
         ["DaemonSet/kubernetes-image-puller: volume kip: hostPath volumes are forbidden"]),
        ("", ["kip render printed [], expected one DaemonSet"]),
    ],
)
def test_the_daemonset_kip_renders_is_checked(openshift_objects, tmp_path, monkeypatch, daemonset, expected):
    (tmp_path / "daemonset.yaml").write_text(daemonset)
    fake = tmp_path / "kip"
    fake.write_text(f'#!/bin/sh\n[ "$1" = render ] && cat {tmp_path}/daemonset.yaml\n[ -n "$IMAGES" ]\n')
    fake.chmod(0o755)
    monkeypatch.setenv("KIP_BIN", str(fake))
    assert check_artifacts.rendered_daemonset_problems(openshift_objects, ["1.28", "1.37"]) == expected
