"""The installations the checks render: each install method with its defaults and with the
settings users pass (the seed document's `oc process -p` values, a Go chart user's values,
structured values, kip's additions), each with the ConfigMap data it must produce.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

import render
from contract import CONFIG_MAP_DEFAULTS


@dataclass
class Installation:
    name: str
    # (label, YAML text) of every rendered document, as a user would pipe it to kubectl.
    documents: list[tuple[str, str]]
    # ConfigMap data the installation must hold.
    expected_data: dict[str, str]
    # Verbs on nodes its node-access option grants (None: the option is off).
    node_verbs: set[str] | None = None
    # Whether it knows the pull secrets' names, and so lets kip read them.
    reads_pull_secrets: bool = False
    objects: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.objects = [obj for _, text in self.documents for obj in render.objects(text)]


# `oc process` values of the seed document, verbatim: in single quotes, the shell keeps each
# backslash and line break, so IMAGES holds them.
SEED_IMAGES = "\\\n    ".join(
    [
        "plugin-java8-rhel8=registry.redhat.io/codeready-workspaces/plugin-java8-rhel8:2.3;",
        "theia-rhel8=registry.redhat.io/codeready-workspaces/theia-rhel8:2.3;",
        "stacks-golang-rhel8=registry.redhat.io/codeready-workspaces/stacks-golang-rhel8:2.3;",
        "plugin-java11-rhel8=registry.redhat.io/codeready-workspaces/plugin-java11-rhel8:2.3;",
        "theia-endpoint-rhel8=registry.redhat.io/codeready-workspaces/theia-rhel8:2.3;",
        "pluginbroker-metadata-rhel8=registry.redhat.io/codeready-workspaces/pluginbroker-metadata-rhel8:2.3;",
        "pluginbroker-artifacts-rhel8=registry.redhat.io/codeready-workspaces/pluginbroker-artifacts-rhel8:2.3;",
    ]
)

OPENSHIFT_CUSTOM = {
    "serviceaccount.yaml": {"SERVICEACCOUNT_NAME": "image-puller-sa"},
    "configmap.yaml": {
        "IMAGES": "java=eclipse/che-java:11;node=node:20;",
        "DAEMONSET_NAME": "image-cache",
        "DAEMONSET_ANNOTATIONS": '{"team":"dev"}',
        "CACHING_INTERVAL_HOURS": "6",
        "NAMESPACE": "k8s-image-puller",
        "CACHING_MEMORY_REQUEST": "16Mi",
        "CACHING_MEMORY_LIMIT": "32Mi",
        "CACHING_CPU_REQUEST": "0.1",
        "CACHING_CPU_LIMIT": "0.5",
        "NODE_SELECTOR": '{"node-role.kubernetes.io/worker":""}',
        "IMAGE_PULL_SECRETS": "pull-a;pull-b",
        "AFFINITY": '{"nodeAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":'
        '{"nodeSelectorTerms":[{"matchExpressions":[{"key":"zone","operator":"In","values":["a"]}]}]}}}',
        "TOLERATIONS": '[{"operator":"Exists"}]',
        "KIP_IMAGE": "registry.example.com/kip:0.1.0",
        "KIP_MAX_UNAVAILABLE": "2",
        "KIP_KEEP_DAEMONSET_ON_EXIT": "true",
        "CACHING_MODE": "containers",
        "KIP_REFRESH_POLICY": "always",
        "KIP_PIN_DIGESTS": "true",
        "KIP_INSECURE_REGISTRIES": "registry.local:5000",
        "KIP_WARM_NODE_LABEL": "kip.dev/cached",
        "KIP_STARTUP_TAINT": "kip.dev/not-warm",
    },
    "node-access.yaml": {"SERVICEACCOUNT_NAME": "image-puller-sa", "NODE_VERBS": '["list","watch","patch"]'},
    "app.yaml": {
        "DEPLOYMENT_NAME": "image-cache-puller",
        "SERVICEACCOUNT_NAME": "image-puller-sa",
        "IMAGE": "registry.example.com/kip",
        "IMAGE_TAG": "0.1.0",
        "PRIORITY_CLASS_NAME": "system-cluster-critical",
        "DEPLOYMENT_CPU_REQUEST": "100m",
        "DEPLOYMENT_MEMORY_REQUEST": "128Mi",
        "DEPLOYMENT_CPU_LIMIT": "500m",
        "DEPLOYMENT_MEMORY_LIMIT": "512Mi",
        "KIP_LOG_FORMAT": "json",
    },
}

OPENSHIFT_SEED = {
    "configmap.yaml": {"IMAGES": SEED_IMAGES},
    "app.yaml": {"IMAGE": "registry.redhat.io/codeready-workspaces/imagepuller-rhel8", "IMAGE_TAG": "2.3"},
}

# Helm value sets, each with (namespace, values, expected ConfigMap data).
HELM_SETS: dict[str, tuple[str, dict[str, Any], dict[str, str]]] = {
    "defaults": ("k8s-image-puller", {}, CONFIG_MAP_DEFAULTS),
    # As a user of the Go chart writes them: JSON settings as strings, priorityClassName {}.
    "go-chart-values": (
        "image-cache",
        {
            "deploymentName": "image-cache",
            "image": {"repository": "registry.example.com/kip", "tag": 2.3},
            "serviceAccount": {"name": "cache-sa"},
            "priorityClassName": {},
            "configMap": {
                "name": "image-cache-config",
                "images": "a=registry.example.com/a:1;\nb=registry.example.com/b:2;\n",
                "cachingIntervalHours": "6",
                "cachingMemoryLimit": "30Mi",
                "nodeSelector": '{"node-role.kubernetes.io/worker":""}',
                "imagePullSecrets": "pull-a;pull-b",
                "tolerations": '[{"operator":"Exists"}]',
            },
        },
        {
            "IMAGES": "a=registry.example.com/a:1;\nb=registry.example.com/b:2;\n",
            "DAEMONSET_NAME": "image-cache",
            "NAMESPACE": "image-cache",
            "CACHING_INTERVAL_HOURS": "6",
            "CACHING_MEMORY_LIMIT": "30Mi",
            "NODE_SELECTOR": '{"node-role.kubernetes.io/worker":""}',
            "IMAGE_PULL_SECRETS": "pull-a;pull-b",
            "TOLERATIONS": '[{"operator":"Exists"}]',
            "KIP_IMAGE": "registry.example.com/kip:2.3",
        },
    ),
    # The JSON settings as YAML maps and lists, and the puller pod's own scheduling.
    "structured-values": (
        "k8s-image-puller",
        {
            "deploymentAnnotations": {"example.com/owner": "platform"},
            "priorityClassName": "system-cluster-critical",
            "configMap": {
                "daemonsetAnnotations": {"example.com/cache": "yes"},
                "nodeSelector": {"node-role.kubernetes.io/worker": ""},
                "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [{"matchExpressions": [
                        {"key": "zone", "operator": "In", "values": ["a", "b"]}]}]}}},
                "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "cache", "effect": "NoSchedule"}],
                "imagePullSecrets": ["pull-a", {"name": "pull-b"}],
            },
            "resources": {"requests": {"cpu": "20m", "memory": "32Mi"}, "limits": {"cpu": "1", "memory": "128Mi"}},
            "tolerations": [{"operator": "Exists", "effect": "NoSchedule"}],
            "nodeSelector": {"kubernetes.io/os": "linux"},
        },
        {
            "DAEMONSET_ANNOTATIONS": '{"example.com/cache":"yes"}',
            "NODE_SELECTOR": '{"node-role.kubernetes.io/worker":""}',
            "AFFINITY": json.dumps({"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [{"matchExpressions": [
                    {"key": "zone", "operator": "In", "values": ["a", "b"]}]}]}}}),
            "TOLERATIONS": '[{"effect":"NoSchedule","key":"dedicated","operator":"Equal","value":"cache"}]',
            "IMAGE_PULL_SECRETS": "pull-a;pull-b",
        },
    ),
    # kip's own values.
    "kip-additions": (
        "k8s-image-puller",
        {
            "image": {"pullPolicy": "Always"},
            "updateStrategy": {"type": "RollingUpdate"},
            "logFormat": "json",
            "podAnnotations": {"example.com/scrape": "true"},
            "configMap": {
                "daemonsetName": "image-cache",
                "kipImage": "registry.example.com/kip:0.1.0",
                "maxUnavailable": 3,
                "keepDaemonsetOnExit": True,
                "cachingMode": "containers",
                "refreshPolicy": "always",
                "pinDigests": True,
                "insecureRegistries": "registry.local:5000",
                "warmNodeLabel": "kip.dev/cached",
                "startupTaint": "kip.dev/not-warm",
            },
            "nodeAccess": {"warmSignal": True},
        },
        {
            "DAEMONSET_NAME": "image-cache",
            "KIP_IMAGE": "registry.example.com/kip:0.1.0",
            "KIP_MAX_UNAVAILABLE": "3",
            "KIP_KEEP_DAEMONSET_ON_EXIT": "true",
            "CACHING_MODE": "containers",
            "KIP_REFRESH_POLICY": "always",
            "KIP_PIN_DIGESTS": "true",
            "KIP_INSECURE_REGISTRIES": "registry.local:5000",
            "KIP_WARM_NODE_LABEL": "kip.dev/cached",
            "KIP_STARTUP_TAINT": "kip.dev/not-warm",
        },
    ),
    # The cache status alone: nodes read, never written.
    "cache-status": ("k8s-image-puller", {"nodeAccess": {"cacheStatus": True}}, {}),
}


def helm_node_verbs(values: dict[str, Any]) -> set[str] | None:
    access = values.get("nodeAccess") or {}
    if access.get("warmSignal"):
        return {"list", "watch", "patch"}
    return {"list", "watch"} if access.get("cacheStatus") else None


def helm_reads_pull_secrets(values: dict[str, Any]) -> bool:
    return bool((values.get("configMap") or {}).get("imagePullSecrets"))


def openshift(
    name: str, params: dict[str, dict[str, str]], expected: dict[str, str], node_verbs: set[str] | None = None
) -> Installation:
    templates = ["serviceaccount.yaml", "configmap.yaml", "app.yaml"]
    if node_verbs is not None:
        templates.append("node-access.yaml")
    documents = [
        (f"oc process -f deploy/openshift/{template}", render.openshift_yaml(template, params.get(template)))
        for template in templates
    ]
    return Installation(name, documents, expected, node_verbs=node_verbs)


def helm(set_name: str) -> Installation:
    namespace, values, expected = HELM_SETS[set_name]
    return Installation(
        f"helm chart ({set_name})",
        [(f"helm template ({set_name})", render.helm_yaml(values, namespace))],
        expected,
        node_verbs=helm_node_verbs(values),
        reads_pull_secrets=helm_reads_pull_secrets(values),
    )


def kustomize_with_component(workdir: Path, component: str, verbs: set[str]) -> Installation:
    """An overlay of the base with one of the node-access components."""
    overlay = workdir / f"overlay-{component}"
    overlay.mkdir()
    base = Path("..") / "kubernetes"
    shutil.copytree(render.KUSTOMIZE_BASE, workdir / "kubernetes", dirs_exist_ok=True)
    kustomization = {
        "resources": [str(base)],
        "components": [str(base / "components" / component)],
    }
    (overlay / "kustomization.yaml").write_text(yaml.safe_dump(kustomization, sort_keys=False))
    return Installation(
        f"kustomize overlay with components/{component}",
        [(f"kubectl kustomize (overlay with {component})", render.kustomize_yaml(overlay))],
        {},
        node_verbs=verbs,
    )


def kustomize_edited(workdir: Path) -> Installation:
    """A copy of the base with another namespace and image, as `kustomize edit` would make it."""
    copy = workdir / "kubernetes"
    shutil.copytree(render.KUSTOMIZE_BASE, copy)
    kustomization = yaml.safe_load((copy / "kustomization.yaml").read_text())
    kustomization["namespace"] = "image-cache"
    kustomization["images"] = [{"name": "ghcr.io/kip-dev/kip", "newName": "registry.example.com/team/kip", "newTag": "9.9.9"}]
    (copy / "kustomization.yaml").write_text(yaml.safe_dump(kustomization, sort_keys=False))
    return Installation(
        "kustomize (namespace and image edited)",
        [("kubectl kustomize (edited copy)", render.kustomize_yaml(copy))],
        {"NAMESPACE": "image-cache", "KIP_IMAGE": "registry.example.com/team/kip:9.9.9"},
    )


def all_installations() -> list[Installation]:
    seed_expected = {"IMAGES": SEED_IMAGES}
    custom_expected = dict(OPENSHIFT_CUSTOM["configmap.yaml"])
    installations = [
        openshift("openshift templates (defaults)", {}, CONFIG_MAP_DEFAULTS),
        openshift("openshift templates (the seed's parameters)", OPENSHIFT_SEED, seed_expected),
        openshift(
            "openshift templates (every parameter set, node-access.yaml)",
            OPENSHIFT_CUSTOM,
            custom_expected,
            node_verbs={"list", "watch", "patch"},
        ),
        *(helm(name) for name in HELM_SETS),
        Installation("kustomize base", [("kubectl kustomize deploy/kubernetes", render.kustomize_yaml())], CONFIG_MAP_DEFAULTS),
    ]
    with tempfile.TemporaryDirectory() as workdir:
        installations.append(kustomize_edited(Path(workdir)))
    for component, verbs in (("cache-status", {"list", "watch"}), ("warm-signal", {"list", "watch", "patch"})):
        with tempfile.TemporaryDirectory() as workdir:
            installations.append(kustomize_with_component(Path(workdir), component, verbs))
    return installations
